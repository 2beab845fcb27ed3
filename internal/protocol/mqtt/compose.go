package mqtt

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/protocol"
)

// Compose publishes text as a QoS 0 PUBLISH (not retained, no MQTT 5
// properties) to options.reply_topic; else to room when it is a topic
// name one of the subscriptions matches; else to the first subscription
// when it is a topic name (no wildcards). The broker forwards a PUBLISH to
// subscribers as it is, so the echo is the packet decoded as a record
// (protocol.Composer). The session reads only the adapter here.
func (s *session) Compose(text, room string, out *protocol.Output) (protocol.Event, error) {
	topic, err := s.a.replyTopic(room)
	if err != nil {
		return protocol.Event{}, err
	}
	pk := s.a.publishPacket(topic, []byte(text))
	out.Reply(true, pk)
	return s.a.Decode(protocol.Frame{Binary: true, Data: pk})[0], nil
}

// replyTopic is where a reply to a message in room goes (see Compose).
func (a *Adapter) replyTopic(room string) (string, error) {
	if a.replyTopicName != "" {
		return a.replyTopicName, nil
	}
	if room != "" && checkTopic(room) == nil {
		for _, f := range a.filters {
			if matchTopic(f, room) {
				return room, nil
			}
		}
	}
	if checkTopic(a.filters[0]) == nil {
		return a.filters[0], nil
	}
	if room == "" {
		return "", fmt.Errorf("mqtt: no topic to publish the reply to: the first subscription %q has wildcards; set options.reply_topic", a.filters[0])
	}
	return "", fmt.Errorf("mqtt: no topic to publish the reply to: the room %q is no topic wsmon subscribed to and the first subscription %q has wildcards; set options.reply_topic", room, a.filters[0])
}

// publishPacket is a QoS 0 PUBLISH of payload to topic.
func (a *Adapter) publishPacket(topic string, payload []byte) []byte {
	b := make([]byte, 0, 2+len(topic)+1+len(payload))
	b = appendString(b, topic)
	if a.version == 5 {
		b = append(b, 0) // no properties
	}
	b = append(b, payload...)
	return packet(typePublish<<4, b)
}

// checkTopic validates a topic name (where a PUBLISH goes): not empty,
// UTF-8 without NUL, at most 65535 bytes, no wildcards.
func checkTopic(t string) error {
	switch {
	case t == "":
		return fmt.Errorf("empty")
	case len(t) > 65535:
		return fmt.Errorf("longer than 65535 bytes")
	case !utf8.ValidString(t) || strings.ContainsRune(t, 0):
		return fmt.Errorf("must be UTF-8 text without NUL")
	case strings.ContainsAny(t, "+#"):
		return fmt.Errorf("a topic name has no wildcards ('+', '#')")
	}
	return nil
}

// matchTopic reports whether topic filter f matches topic name t, as a
// broker matches them: '+' one level, '#' the rest (the parent level
// included); a wildcard first level never matches a topic starting with
// '$'. A shared subscription ($share/group/filter) matches as its filter.
func matchTopic(f, t string) bool {
	if rest, ok := strings.CutPrefix(f, "$share/"); ok {
		if _, filter, ok := strings.Cut(rest, "/"); ok {
			f = filter
		}
	}
	if strings.HasPrefix(t, "$") && (strings.HasPrefix(f, "+") || strings.HasPrefix(f, "#")) {
		return false
	}
	fl, tl := strings.Split(f, "/"), strings.Split(t, "/")
	for i, l := range fl {
		switch {
		case l == "#":
			return true
		case i >= len(tl):
			return false
		case l != "+" && l != tl[i]:
			return false
		}
	}
	return len(fl) == len(tl)
}
