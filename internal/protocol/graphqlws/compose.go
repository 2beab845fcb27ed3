package graphqlws

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/wsmon/wsmon/internal/protocol"
)

// replyIDPrefix starts the operation ids of automatic replies ("reply-1",
// ...): the subscriptions' ids are numbers, so the two never meet.
const replyIDPrefix = "reply-"

func isReplyID(id string) bool { return strings.HasPrefix(id, replyIDPrefix) }

// Compose runs options.reply_mutation with the variables {"text": text}
// (and "room": room when the mutation declares $room), as a subscribe
// (graphql-transport-ws) or start (legacy) message with a new reply id
// (protocol.Composer); its result, errors and completion are control.
// GraphQL cannot send a message without the server's own mutation, so a
// target without reply_mutation cannot reply. What the subscriptions
// deliver for it is the schema's choice: the echo is the text itself.
// Compose reads only the adapter, the variant fixed at Open, and an
// atomic counter.
func (s *session) Compose(text, room string, out *protocol.Output) (protocol.Event, error) {
	if s.a.replyMutation == "" {
		return protocol.Event{}, fmt.Errorf("graphql-ws %w without options.reply_mutation (a mutation taking $text)", protocol.ErrCannotSend)
	}
	vars := map[string]string{"text": text}
	if s.a.replyRoom {
		vars["room"] = room
	}
	payload, err := json.Marshal(struct {
		Query     string            `json:"query"`
		Variables map[string]string `json:"variables"`
	}{s.a.replyMutation, vars})
	if err != nil {
		return protocol.Event{}, err
	}
	typ := "subscribe"
	if s.legacy {
		typ = "start"
	}
	id := replyIDPrefix + strconv.FormatInt(s.replies.Add(1), 10)
	out.Reply(false, operationMessage(id, typ, payload))
	return protocol.Event{Payload: []byte(text), Raw: []byte(text), Text: true}, nil
}

// checkMutation validates options.reply_mutation: one operation, a
// mutation, that uses $text.
func checkMutation(q string) error {
	doc := scanDocument(q)
	switch {
	case strings.TrimSpace(q) == "":
		return fmt.Errorf("must be a GraphQL mutation taking $text")
	case doc.err != "":
		return fmt.Errorf("%s", doc.err)
	case doc.operations != 1 || doc.mutations != 1:
		return fmt.Errorf("must be one mutation operation, e.g. \"mutation($text: String!) { send(text: $text) { id } }\"")
	case !strings.Contains(q, "$text"):
		return fmt.Errorf("must take the reply as $text")
	}
	return nil
}
