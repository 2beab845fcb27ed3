package signalr

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/wsmon/wsmon/internal/jsontok"
	"github.com/wsmon/wsmon/internal/protocol"
)

// Compose invokes the hub method options.reply_method (default
// "SendMessage") with the text as its one string argument, or with
// options.reply_format "json" with the JSON array the text is as its
// arguments (protocol.Composer). The invocation is non-blocking (no
// invocationId), so the hub sends no completion. Hub messages name no
// group: room is not used. What the hub broadcasts is the application's
// choice; the echo is the invocation's arguments read as a received
// invocation's are (the ASP.NET sample's SendMessage(user, message) sends
// ReceiveMessage(user, message) to all). Compose reads only the adapter.
func (s *session) Compose(text, _ string, out *protocol.Output) (protocol.Event, error) {
	var args []byte
	if s.a.replyJSON {
		v, err := protocol.ReplyValue(text, true)
		if err != nil {
			return protocol.Event{}, err
		}
		var l []json.RawMessage
		if json.Unmarshal(v, &l) != nil {
			return protocol.Event{}, fmt.Errorf("signalr: the reply must be a JSON array of the method's arguments (options.reply_format is json): %.60q", text)
		}
		args = v
	} else {
		args = append(append([]byte{'['}, jsontok.AppendString(nil, text)...), ']')
	}
	b := []byte(`{"type":1,"target":`)
	b = jsontok.AppendString(b, s.a.replyMethod)
	b = append(b, `,"arguments":`...)
	b = append(b, args...)
	b = append(b, '}', RS)
	out.Reply(false, b)
	ev := s.a.Decode(protocol.Frame{Data: bytes.TrimSuffix(b, []byte{RS})})[0]
	ev.Name = ""
	return ev, nil
}
