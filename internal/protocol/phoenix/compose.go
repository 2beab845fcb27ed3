package phoenix

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/wsmon/wsmon/internal/jsontok"
	"github.com/wsmon/wsmon/internal/protocol"
)

// Compose pushes options.reply_event (default "new_msg") on the
// answered message's topic when it is a joined one, else on the first
// topic, with the payload {"body": text}, or with options.reply_format
// "json" the JSON object the text is (protocol.Composer). The push carries
// the topic's current join_ref and a new ref, in the session's serializer.
// A channel relaying it (broadcast!(socket, "new_msg", %{body: body}), as
// Phoenix's own example does) sends the same topic, event and payload to
// every member: the echo is the push decoded as a record. Compose takes
// the session's lock (refs and joins are shared with Feed and Tick).
func (s *session) Compose(text, room string, out *protocol.Output) (protocol.Event, error) {
	topic := s.a.topics[0]
	if room != "" && slices.Contains(s.a.topics, room) {
		topic = room
	}
	var payload json.RawMessage
	if s.a.replyJSON {
		v, err := protocol.ReplyValue(text, true)
		if err != nil {
			return protocol.Event{}, err
		}
		if v[0] != '{' {
			return protocol.Event{}, fmt.Errorf("phoenix: the reply must be a JSON object, the push's payload (options.reply_format is json): %.60q", text)
		}
		payload = v
	} else {
		payload = append(jsontok.AppendString([]byte(`{"body":`), text), '}')
	}
	s.mu.Lock()
	j := s.joins[topic]
	if j == nil || !j.joined {
		s.mu.Unlock()
		return protocol.Event{}, fmt.Errorf("phoenix: channel %q is not joined (rejoining)", topic)
	}
	msg := s.a.encode(j.ref, s.nextRef(), topic, s.a.replyEvent, payload)
	s.mu.Unlock()
	out.Reply(false, msg)
	return s.a.Decode(protocol.Frame{Data: msg})[0], nil
}

// checkReplyEvent validates options.reply_event: Phoenix's own events
// (phx_*) and the empty name are not the client's to push.
func checkReplyEvent(e string) error {
	switch {
	case strings.TrimSpace(e) == "":
		return fmt.Errorf("options.reply_event: must not be empty")
	case strings.HasPrefix(e, "phx_"):
		return fmt.Errorf("options.reply_event: %q is one of Phoenix's own events", e)
	}
	return nil
}
