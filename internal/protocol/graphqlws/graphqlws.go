// Package graphqlws is the adapter for GraphQL subscriptions over a
// WebSocket, in both wire protocols: graphql-transport-ws (the graphql-ws
// library, spec enisdenjo/graphql-ws PROTOCOL.md) and the legacy graphql-ws
// of subscriptions-transport-ws (apollographql PROTOCOL.md). The server's
// accepted subprotocol picks the variant.
//
// A session sends connection_init; on connection_ack it starts one
// subscription per subscribe entry (ids "1", "2", ... by entry index, so a
// record's id maps back to its entry without session state). Results
// (next, legacy data) are the records; everything else is control or ends
// the session: error, connection_error and a result with errors but no data
// are refusals naming the subscription; a server complete ends the
// connection so that the runner reconnects and subscribes again.
package graphqlws

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
)

// Name is the protocol's registry name.
const Name = "graphql-ws"

// The two subprotocols. Legacy is offered first: legacy servers built on ws
// without a handleProtocols hook accept the client's first offer, while
// graphql-ws servers pick graphql-transport-ws wherever it is in the list.
const (
	SubprotocolTransport = "graphql-transport-ws"
	SubprotocolLegacy    = "graphql-ws"
)

// Spec is the graphql-ws registry entry. The server does not speak first
// and, offered no subprotocol, closes the socket (4406, or 1002 for legacy
// servers): auto recognises GraphQL by the /graphql path (Apollo, Yoga,
// Hasura's /v1/graphql, gqlgen) and then offers both subprotocols.
func Spec() protocol.Spec {
	return protocol.Spec{
		Name:         Name,
		New:          New,
		Subprotocols: []string{SubprotocolLegacy, SubprotocolTransport},
		Paths:        []string{"/graphql"},
	}
}

// Adapter is the graphql-ws adapter. It is immutable and safe for
// concurrent use.
type Adapter struct {
	variant string   // "" (from the accepted subprotocol), SubprotocolTransport or SubprotocolLegacy
	init    []byte   // the connection_init message
	subs    []subOp  // by entry index; id = index+1
	start   [][]byte // per variant: the subscribe (transport) or start (legacy) messages
	legacy  [][]byte

	replyMutation string // reply_mutation: the mutation automatic replies run; "" for none
	replyRoom     bool   // it declares $room
}

type subOp struct {
	room string // operation name, else the id
}

// New builds a graphql-ws adapter from cfg. Options: variant,
// init_payload, and reply_mutation (a GraphQL mutation taking $text, and
// $room if it declares it, that automatic replies run; without it the
// target cannot reply).
func New(cfg protocol.Config) (protocol.Adapter, error) {
	if len(cfg.Subscribe) == 0 {
		return nil, fmt.Errorf("subscribe: graphql-ws needs at least one GraphQL subscription document, e.g. \"subscription { message { user text } }\"")
	}
	if cfg.Auth.Username != "" || cfg.Auth.Password != "" {
		return nil, fmt.Errorf("auth: graphql-ws uses only auth.token (sent in connection_init as Authorization: Bearer <token>); put other credentials in options.init_payload")
	}
	r := cfg.Options.Read()
	variant := r.OneOf("variant", "auto", "auto", SubprotocolTransport, SubprotocolLegacy)
	payload := r.Object("init_payload")
	mutation := r.String("reply_mutation", "")
	if err := r.Err(); err != nil {
		return nil, err
	}
	a := &Adapter{}
	if cfg.Options["reply_mutation"] != nil {
		if err := checkMutation(mutation); err != nil {
			return nil, fmt.Errorf("options.reply_mutation: %v", err)
		}
		a.replyMutation, a.replyRoom = mutation, strings.Contains(mutation, "$room")
	}
	if variant != "auto" {
		a.variant = variant
	}
	if cfg.Auth.Token != "" {
		if payload == nil {
			payload = map[string]any{}
		}
		if _, set := payload["Authorization"]; !set {
			payload["Authorization"] = "Bearer " + cfg.Auth.Token
		}
	}
	init := map[string]any{"type": "connection_init"}
	if payload != nil {
		init["payload"] = payload
	}
	var err error
	if a.init, err = json.Marshal(init); err != nil {
		return nil, fmt.Errorf("options.init_payload: %v", err)
	}

	for i, entry := range cfg.Subscribe {
		op, body, err := parseEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("subscribe: entry %d: %v", i+1, err)
		}
		id := strconv.Itoa(i + 1)
		if op == "" {
			op = id
		}
		a.subs = append(a.subs, subOp{room: op})
		a.start = append(a.start, operationMessage(id, "subscribe", body))
		a.legacy = append(a.legacy, operationMessage(id, "start", body))
	}
	return a, nil
}

func operationMessage(id, typ string, payload json.RawMessage) []byte {
	b, _ := json.Marshal(struct {
		ID      string          `json:"id"`
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}{id, typ, payload})
	return b
}

// request is a subscribe payload given as JSON.
type request struct {
	Query         string          `json:"query"`
	OperationName *string         `json:"operationName,omitempty"`
	Variables     json.RawMessage `json:"variables,omitempty"`
	Extensions    json.RawMessage `json:"extensions,omitempty"`
}

// parseEntry reads a subscribe entry: a GraphQL document, or a JSON object
// {"query":..,"variables":..,"operationName":..,"extensions":..}. It returns
// the operation name ("" when anonymous) and the subscribe payload.
func parseEntry(entry string) (string, json.RawMessage, error) {
	t := strings.TrimSpace(entry)
	if t == "" {
		return "", nil, fmt.Errorf("empty")
	}
	var req request
	if t[0] == '{' && json.Valid([]byte(t)) {
		if err := json.Unmarshal([]byte(t), &req); err != nil {
			return "", nil, fmt.Errorf("not a request object: %v", err)
		}
		if strings.TrimSpace(req.Query) == "" {
			return "", nil, fmt.Errorf(`a JSON entry needs a "query" string`)
		}
		if v := bytes.TrimSpace(req.Variables); len(v) > 0 && v[0] != '{' && !bytes.Equal(v, []byte("null")) {
			return "", nil, fmt.Errorf(`"variables" must be an object`)
		}
	} else {
		req.Query = entry
	}
	doc := scanDocument(req.Query)
	if doc.err != "" {
		return "", nil, fmt.Errorf("%s", doc.err)
	}
	name := ""
	switch {
	case req.OperationName != nil && *req.OperationName != "":
		name = *req.OperationName
		if !slices.Contains(doc.subscriptions, name) {
			return "", nil, fmt.Errorf("operationName %q is not a subscription of the document", name)
		}
	case len(doc.subscriptions) == 0:
		return "", nil, fmt.Errorf("not a GraphQL subscription (the document has no subscription operation)")
	case doc.operations > 1:
		return "", nil, fmt.Errorf(`the document has %d operations: give {"query":..,"operationName":..}`, doc.operations)
	default:
		name = doc.subscriptions[0]
	}
	body, err := json.Marshal(req)
	if err != nil {
		return "", nil, err
	}
	return name, body, nil
}

// document is what scanDocument found in a GraphQL document.
type document struct {
	operations    int      // operation definitions, the anonymous shorthand included
	subscriptions []string // subscription operations' names ("" when anonymous)
	mutations     int      // mutation operations
	err           string
}

// scanDocument finds the operation definitions of a GraphQL document: the
// keywords query, mutation and subscription (and the anonymous "{ ... }"
// shorthand) at the top level, outside comments, strings and parentheses.
// It is not a parser: the server validates the document.
func scanDocument(q string) document {
	var d document
	braces, parens := 0, 0
	header := ""      // the top-level keyword whose definition is being read
	wantName := false // right after "subscription"
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '#':
			for i < len(q) && q[i] != '\n' && q[i] != '\r' {
				i++
			}
			continue
		case c == '"':
			end := skipString(q, i)
			if end < 0 {
				d.err = "unterminated string"
				return d
			}
			i = end
			wantName = false
			continue
		case c == '{':
			if braces == 0 && parens == 0 {
				if header == "" {
					d.operations++ // "{ ... }": an anonymous query
				}
				header = ""
			}
			braces++
		case c == '}':
			braces--
		case c == '(':
			parens++
		case c == ')':
			parens--
		case c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			j := i + 1
			for j < len(q) && (q[j] == '_' || q[j] >= 'A' && q[j] <= 'Z' || q[j] >= 'a' && q[j] <= 'z' || q[j] >= '0' && q[j] <= '9') {
				j++
			}
			word := q[i:j]
			if braces == 0 && parens == 0 {
				switch {
				case wantName:
					d.subscriptions[len(d.subscriptions)-1] = word
				case header == "" && (word == "query" || word == "mutation" || word == "subscription"):
					d.operations++
					header = word
					if word == "mutation" {
						d.mutations++
					}
					if word == "subscription" {
						d.subscriptions = append(d.subscriptions, "")
						wantName = true
						i = j
						continue
					}
				case header == "" && word != "":
					header = word // fragment, schema, type, directive ...: not an operation
				}
			}
			wantName = false
			i = j
			continue
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ',' {
			wantName = false
		}
		if braces < 0 || parens < 0 {
			d.err = "unbalanced brackets"
			return d
		}
		i++
	}
	if braces != 0 || parens != 0 {
		d.err = "unbalanced brackets"
	}
	return d
}

// skipString returns the index after the string or block string starting
// at q[i] == '"', or -1 when it does not end.
func skipString(q string, i int) int {
	if strings.HasPrefix(q[i:], `"""`) {
		for j := i + 3; j+3 <= len(q); j++ {
			if strings.HasPrefix(q[j:], `\"""`) {
				j += 3
				continue
			}
			if strings.HasPrefix(q[j:], `"""`) {
				return j + 3
			}
		}
		return -1
	}
	for j := i + 1; j < len(q); j++ {
		switch q[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		case '\n', '\r':
			return -1
		}
	}
	return -1
}

// Name returns "graphql-ws".
func (*Adapter) Name() string { return Name }

// Prepare offers the subprotocols: both, or the forced variant's.
func (a *Adapter) Prepare(_ context.Context, d *protocol.Dial) error {
	offer := []string{SubprotocolLegacy, SubprotocolTransport}
	if a.variant != "" {
		offer = []string{a.variant}
	}
	for _, p := range offer {
		if !slices.Contains(d.Subprotocols, p) {
			d.Subprotocols = append(d.Subprotocols, p)
		}
	}
	return nil
}

// Open picks the variant (forced, else the accepted subprotocol, else
// graphql-transport-ws) and sends connection_init.
func (a *Adapter) Open(ctx context.Context, c protocol.Conn) (protocol.Session, error) {
	legacy := a.variant == SubprotocolLegacy || a.variant == "" && c.Subprotocol() == SubprotocolLegacy
	if err := c.Write(ctx, protocol.Frame{Data: a.init}); err != nil {
		return nil, err
	}
	return &session{a: a, legacy: legacy}, nil
}

// session is one connection's state. Only Feed and Ready touch it, both on
// the reader goroutine (Compose reads legacy, set at Open, and counts its
// replies atomically); Tick does nothing.
type session struct {
	a      *Adapter
	legacy bool
	acked  bool

	replies atomic.Int64 // automatic replies sent (their operation ids)
}

func (*session) Protocol() string         { return Name }
func (s *session) Ready() bool            { return s.acked }
func (*session) Heartbeat() time.Duration { return 0 }

// Tick is never called: the server pings (graphql-transport-ws ping, or
// WebSocket pings) and the client only answers.
func (*session) Tick(time.Time, *protocol.Output) error { return nil }

var pong = []byte(`{"type":"pong"}`)

// envelope is any graphql-ws message.
type envelope struct {
	Type    string          `json:"type"`
	ID      json.RawMessage `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// result is an ExecutionResult (the payload of next and data).
type result struct {
	Data   json.RawMessage `json:"data"`
	Errors json.RawMessage `json:"errors"`
}

// Feed handles one server message.
func (s *session) Feed(f protocol.Frame, out *protocol.Output) error {
	var m envelope
	if err := json.Unmarshal(f.Data, &m); err != nil || m.Type == "" {
		out.Record(f.Binary, f.Data) // not graphql-ws: stored as it is, marked by Decode
		return nil
	}
	if isReplyID(idOf(m.ID)) {
		// The result, error or completion of an automatic reply's
		// mutation: control, never chat, never a refusal.
		out.Ctrl(f.Binary, f.Data)
		return nil
	}
	switch m.Type {
	case "connection_ack":
		if !s.acked {
			s.acked = true
			msgs := s.a.start
			if s.legacy {
				msgs = s.a.legacy
			}
			for _, b := range msgs {
				out.Reply(false, b)
			}
		}
		out.Ctrl(f.Binary, f.Data)
	case "ping":
		out.Reply(false, pong)
		out.Ctrl(f.Binary, f.Data)
	case "pong", "ka":
		out.Ctrl(f.Binary, f.Data)
	case "next", "data":
		var res result
		if json.Unmarshal(m.Payload, &res) == nil && res.Data == nil && len(res.Errors) > 0 {
			// No data at all, only errors: the operation failed before it
			// ran (legacy servers report validation errors this way).
			return protocol.Refuse(Name, "%s failed: %s", s.a.opLabel(idOf(m.ID)), errorText(res.Errors))
		}
		out.Record(f.Binary, f.Data)
	case "error":
		return protocol.Refuse(Name, "%s refused: %s", s.a.opLabel(idOf(m.ID)), errorText(m.Payload))
	case "connection_error":
		if !s.acked {
			return protocol.Refuse(Name, "connection_init rejected: %s", errorText(m.Payload))
		}
		out.Ctrl(f.Binary, f.Data) // a legacy server's complaint about a message, not fatal
	case "complete":
		if s.a.index(idOf(m.ID)) >= 0 {
			return fmt.Errorf("graphql-ws: the server completed %s; reconnecting to subscribe again", s.a.opLabel(idOf(m.ID)))
		}
		out.Ctrl(f.Binary, f.Data)
	default:
		out.Record(f.Binary, f.Data) // unknown type: kept, never dropped
	}
	return nil
}

// idOf returns an operation id as text: a JSON string unquoted, anything
// else as written.
func idOf(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(raw))
}

// index returns the subscribe entry index of operation id, or -1.
func (a *Adapter) index(id string) int {
	n, err := strconv.Atoi(id)
	if err != nil || n < 1 || n > len(a.subs) || strconv.Itoa(n) != id {
		return -1
	}
	return n - 1
}

// opLabel names an operation for a refusal: `subscription 1 (OnMessage)`.
func (a *Adapter) opLabel(id string) string {
	i := a.index(id)
	if i < 0 {
		return fmt.Sprintf("operation %q", id)
	}
	if a.subs[i].room != id {
		return fmt.Sprintf("subscription %s (%s)", id, a.subs[i].room)
	}
	return "subscription " + id
}

// errorText renders a GraphQL error payload (one error object, a list of
// them, or anything else) as its messages.
func errorText(raw json.RawMessage) string {
	type gqlErr struct {
		Message string `json:"message"`
	}
	var list []gqlErr
	var one gqlErr
	var msgs []string
	switch {
	case json.Unmarshal(raw, &list) == nil:
		for _, e := range list {
			if e.Message != "" {
				msgs = append(msgs, e.Message)
			}
		}
	case json.Unmarshal(raw, &one) == nil && one.Message != "":
		msgs = append(msgs, one.Message)
	}
	text := strings.Join(msgs, "; ")
	if text == "" {
		text = string(bytes.TrimSpace(raw))
	}
	if text == "" {
		text = "no reason given"
	}
	if len(text) > 300 {
		text = strings.ToValidUTF8(text[:300], "") + "…"
	}
	return text
}

// Decode turns a result record into one event:
//   - Room: the subscription's operation name, else its id ("1", "2", ...,
//     the subscribe entry's position);
//   - Payload: the result's data; when data has exactly one root field
//     whose value is an object (subscription { message { user text } }),
//     that object, so its user and content fields are found; when that
//     value is a string, the string's text (Text: true); a result without
//     data (errors only), the whole result;
//   - Name, User and ID stay empty: the envelope's id is the operation's,
//     never the message's.
//
// A record that is not a graphql-ws message is one event holding it, with
// reason bad_json; a message of another type is one event with the whole
// message as payload.
func (a *Adapter) Decode(rec protocol.Frame) []protocol.Event {
	ev := protocol.Event{Payload: rec.Data, Raw: rec.Data, Binary: rec.Binary}
	var m envelope
	if err := json.Unmarshal(rec.Data, &m); err != nil || m.Type == "" {
		ev.Reason = "bad_json"
		return []protocol.Event{ev}
	}
	if id := idOf(m.ID); id != "" {
		ev.Room = id
		if i := a.index(id); i >= 0 {
			ev.Room = a.subs[i].room
		}
	}
	if m.Type != "next" && m.Type != "data" {
		return []protocol.Event{ev}
	}
	var res result
	if json.Unmarshal(m.Payload, &res) != nil {
		ev.Reason = "bad_json"
		return []protocol.Event{ev}
	}
	data := bytes.TrimSpace(res.Data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		ev.Payload = m.Payload
		return []protocol.Event{ev}
	}
	ev.Payload = data
	if data[0] != '{' {
		return []protocol.Event{ev}
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil || len(fields) != 1 {
		return []protocol.Event{ev}
	}
	for _, v := range fields {
		v = bytes.TrimSpace(v)
		switch {
		case len(v) > 0 && v[0] == '{':
			ev.Payload = v
		case len(v) > 0 && v[0] == '"':
			var s string
			if json.Unmarshal(v, &s) == nil {
				ev.Payload, ev.Text = []byte(s), true
			}
		}
	}
	return []protocol.Event{ev}
}

// CloseError gives graphql-ws close codes their meaning (both variants use
// the same codes): 4400 (invalid message) and 4406 (subprotocol not
// acceptable) would recur on every retry, so they stop the target like
// 4401 and 4403; 4408 (init timeout), 4409 (subscriber already exists) and
// 4429 (too many init requests, not rate limiting) reconnect with the
// normal backoff. Other codes follow the runner's rules.
func (*Adapter) CloseError(code int, reason string) error {
	switch code {
	case 4400, 4401, 4403, 4406:
		return protocol.Refuse(Name, "server closed with %d: %s", code, reason)
	case 4408, 4409, 4429:
		return fmt.Errorf("graphql-ws: server closed with %d: %s", code, reason)
	}
	return nil
}
