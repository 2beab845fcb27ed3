package nats

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/protocol"
)

// Compose publishes text with PUB to options.reply_subject; else to room
// when it is a subject one of the subscriptions matches; else to the first
// subscription's subject when it has no wildcards (protocol.Composer).
// nats-server delivers a PUB to every matching subscription, wsmon's own
// included (CONNECT leaves echo on), as a MSG with the same subject and
// payload: the echo is that MSG's event. Compose reads only the adapter.
func (s *session) Compose(text, room string, out *protocol.Output) (protocol.Event, error) {
	subject, err := s.a.replySubjectFor(room)
	if err != nil {
		return protocol.Event{}, err
	}
	op := make([]byte, 0, len(subject)+len(text)+24)
	op = append(op, "PUB "...)
	op = append(op, subject...)
	op = append(op, ' ')
	op = strconv.AppendInt(op, int64(len(text)), 10)
	op = append(op, "\r\n"...)
	op = append(op, text...)
	op = append(op, "\r\n"...)
	out.Reply(true, op)
	payload := []byte(text)
	return protocol.Event{Room: subject, Payload: payload, Raw: payload, Binary: !utf8.Valid(payload), Text: s.a.text}, nil
}

// replySubjectFor is where a reply to a message in room goes (see Compose).
func (a *Adapter) replySubjectFor(room string) (string, error) {
	if a.replySubject != "" {
		return a.replySubject, nil
	}
	if room != "" && checkPublishSubject(room) == nil &&
		slices.ContainsFunc(a.subs, func(s subscription) bool { return matchSubject(s.subject, room) }) {
		return room, nil
	}
	if first := a.subs[0].subject; checkPublishSubject(first) == nil {
		return first, nil
	}
	return "", fmt.Errorf("nats: no subject to publish the reply to: the room %q is no subject wsmon subscribed to and the first subscription %q has wildcards; set options.reply_subject", room, a.subs[0].subject)
}

// checkPublishSubject checks a subject to publish to: a valid subject
// without whitespace and without the wildcard tokens "*" and ">".
func checkPublishSubject(s string) error {
	if s == "" {
		return fmt.Errorf("empty")
	}
	if strings.ContainsAny(s, " \t") {
		return fmt.Errorf("subject %q holds a space", s)
	}
	if err := checkSubject(s); err != nil {
		return err
	}
	for _, t := range strings.Split(s, ".") {
		if t == "*" || t == ">" {
			return fmt.Errorf("subject %q has wildcards; replies need a literal subject", s)
		}
	}
	return nil
}

// matchSubject reports whether subscription subject f matches the literal
// subject s, as nats-server matches them: "*" one token, ">" one or more
// tokens at the end.
func matchSubject(f, s string) bool {
	ft, st := strings.Split(f, "."), strings.Split(s, ".")
	for i, t := range ft {
		switch {
		case t == ">":
			return len(st) > i
		case i >= len(st):
			return false
		case t != "*" && t != st[i]:
			return false
		}
	}
	return len(ft) == len(st)
}
