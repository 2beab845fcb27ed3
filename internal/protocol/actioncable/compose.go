package actioncable

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/wsmon/wsmon/internal/jsontok"
	"github.com/wsmon/wsmon/internal/protocol"
)

// Compose sends a reply on the subscription whose room (see Decode) is the
// answered message's room, else on the first subscription
// (protocol.Composer). Its data document is {"message": text}, or with
// options.reply_format "json" the JSON object the text is.
//
// With options.reply_command "message" (the default) it performs the
// channel action options.reply_action (default "speak"): {"command":
// "message", "identifier": .., "data": "<the document with \"action\"
// added, as a JSON string>"}, as the Rails client's perform does; what
// the channel broadcasts is the application's (the Rails guide's channel
// broadcasts the data it received), so the echo is that document. With
// "whisper" (AnyCable's whispering on pub/sub streams) it sends
// {"command": "whisper", "identifier": .., "data": <the document>}, which
// the server relays to the stream's other subscribers, never back to
// wsmon. Compose reads only the adapter.
func (s *session) Compose(text, room string, out *protocol.Output) (protocol.Event, error) {
	id := s.a.identifiers[0]
	if room != "" {
		for _, c := range s.a.identifiers {
			if roomOf(c) == room {
				id = c
				break
			}
		}
	}
	var doc []byte
	if s.a.replyJSON {
		v, err := protocol.ReplyValue(text, true)
		if err != nil {
			return protocol.Event{}, err
		}
		var fields map[string]json.RawMessage
		if v[0] != '{' || json.Unmarshal(v, &fields) != nil {
			return protocol.Event{}, fmt.Errorf("actioncable: the reply must be a JSON object, the data sent (options.reply_format is json): %.60q", text)
		}
		if _, ok := fields["action"]; ok && !s.a.whisper {
			return protocol.Event{}, fmt.Errorf("actioncable: the reply must not set \"action\" (options.reply_action names it)")
		}
		doc = v
	} else {
		doc = append(jsontok.AppendString([]byte(`{"message":`), text), '}')
	}
	cmd := []byte(`{"command":`)
	if s.a.whisper {
		cmd = append(cmd, `"whisper","identifier":`...)
		cmd = jsontok.AppendString(cmd, id)
		cmd = append(cmd, `,"data":`...)
		cmd = append(cmd, doc...)
	} else {
		d := jsontok.AppendString([]byte(`{"action":`), s.a.replyAction)
		if inner := bytes.TrimSpace(doc[1 : len(doc)-1]); len(inner) > 0 {
			d = append(d, ',')
			d = append(d, inner...)
		}
		doc = append(d, '}')
		cmd = append(cmd, `"message","identifier":`...)
		cmd = jsontok.AppendString(cmd, id)
		cmd = append(cmd, `,"data":`...)
		cmd = jsontok.AppendString(cmd, doc)
	}
	out.Reply(false, append(cmd, '}'))
	return protocol.Event{Room: roomOf(id), Payload: doc, Raw: doc}, nil
}
