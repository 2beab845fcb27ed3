package socketio

import (
	"fmt"
	"slices"

	"github.com/wsmon/wsmon/internal/jsontok"
	"github.com/wsmon/wsmon/internal/protocol"
)

// reservedEvents are the event names a Socket.IO client may not emit.
var reservedEvents = []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}

// Compose emits options.reply_event (default "message") in a subscribed
// namespace: room when it is one, the main namespace for a message with
// no room when "/" is subscribed, else the first (protocol.Composer). The
// event's one argument is the text as a string; with options.reply_format
// "json" the text is a JSON array, the event's arguments. A server that
// relays the event (io.emit(event, ...args)) sends the same packet back,
// so the echo is the emitted packet decoded as a record. Compose reads
// only the adapter.
func (s *session) Compose(text, room string, out *protocol.Output) (protocol.Event, error) {
	ns := s.a.namespaces[0]
	switch {
	case room != "" && slices.Contains(s.a.namespaces, room):
		ns = room
	case room == "" && slices.Contains(s.a.namespaces, "/"):
		ns = "/"
	}
	var args []byte
	if s.a.replyJSON {
		v, err := protocol.ReplyValue(text, true)
		if err != nil {
			return protocol.Event{}, err
		}
		elems, err := splitArray(v)
		if err != nil {
			return protocol.Event{}, fmt.Errorf("socketio: the reply must be a JSON array of the event's arguments (options.reply_format is json): %.60q", text)
		}
		if len(elems) > 0 {
			args = append([]byte{','}, v[elems[0][0]:elems[len(elems)-1][1]]...)
		}
	} else {
		args = append([]byte{','}, jsontok.AppendString(nil, text)...)
	}
	p := []byte{'4', pEvent}
	if ns != "/" {
		p = append(p, ns...)
		p = append(p, ',')
	}
	p = append(p, '[')
	p = jsontok.AppendString(p, s.a.replyEvent)
	p = append(p, args...)
	p = append(p, ']')
	out.Reply(false, p)
	return s.a.decodePacket(p, nil, 0), nil
}

// checkReplyEvent validates options.reply_event.
func checkReplyEvent(e string) error {
	switch {
	case e == "":
		return fmt.Errorf("options.reply_event: must not be empty")
	case slices.Contains(reservedEvents, e):
		return fmt.Errorf("options.reply_event: %q is reserved by Socket.IO (a client cannot emit it)", e)
	}
	return nil
}
