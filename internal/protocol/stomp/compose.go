package stomp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/protocol"
)

// replyReceiptPrefix starts the receipt ids of automatic replies: an
// ERROR naming one is the broker refusing that reply, which ends the
// connection (as STOMP does after every ERROR) but never stops the
// target.
const replyReceiptPrefix = "reply-"

// Compose sends text as the body of a SEND frame to options.reply_destination;
// else to room when it is one of the subscribed destinations; else to the
// first subscribed destination (protocol.Composer). The frame carries
// content-type application/json when the text is a JSON object or array,
// text/plain otherwise (both ;charset=utf-8), content-length, and a
// receipt "reply-N". A broker passes a SEND on to the destination's
// subscribers as a MESSAGE with the same body and content-type, so the
// echo is that MESSAGE's event. Compose reads the negotiated version,
// fixed once the session is ready.
func (s *session) Compose(text, room string, out *protocol.Output) (protocol.Event, error) {
	dest := s.a.replyDestination
	switch {
	case dest != "":
	case room != "" && slices.Contains(s.a.destinations, room):
		dest = room
	default:
		dest = s.a.destinations[0]
	}
	body := []byte(text)
	ct := "text/plain;charset=utf-8"
	if t := bytes.TrimSpace(body); len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t) {
		ct = "application/json;charset=utf-8"
	}
	n := s.replies.Add(1)
	s.reply(out, encode(s.version, "SEND", [][2]string{
		{"destination", dest},
		{"content-type", ct},
		{"content-length", strconv.Itoa(len(body))},
		{"receipt", replyReceiptPrefix + strconv.FormatInt(n, 10)},
	}, body))
	return protocol.Event{
		Room:    dest,
		Payload: body,
		Raw:     body,
		Binary:  !utf8.Valid(body),
		Text:    s.a.text || isPlainText(ct),
	}, nil
}

// checkDestination validates a destination from the options.
func checkDestination(d string) error {
	switch {
	case strings.TrimSpace(d) == "":
		return fmt.Errorf("must not be empty")
	case strings.ContainsAny(d, "\x00\r\n"):
		return fmt.Errorf("must not hold a NUL or line break")
	}
	return nil
}
