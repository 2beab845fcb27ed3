// Package actioncable is the adapter for Rails ActionCable servers (and
// AnyCable, which speaks the same protocol), subprotocol
// actioncable-v1-json.
//
// The server speaks first: {"type":"welcome"}. The session then sends one
// subscribe command per subscribe entry and is ready when the server has
// confirmed each; a rejected subscription is a refusal, as is a
// disconnect message that forbids reconnecting. Data messages
// {"identifier":..,"message":..} are the records. The server pings every
// 3 s and expects nothing back; a session that has heard no ping for
// options.stale_after (9 s: three pings) reconnects, like the Rails
// client's connection monitor.
package actioncable

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
)

// Name is the protocol's registry name.
const Name = "actioncable"

// Subprotocols: the protocol, and the marker a server accepts when it
// supports none of the client's protocols (the Rails client offers it
// too, to tell that case from a server that ignores subprotocols).
const (
	SubprotocolJSON        = "actioncable-v1-json"
	SubprotocolUnsupported = "actioncable-unsupported"
)

// Spec is the ActionCable registry entry: the subprotocol, the /cable
// path and the server's welcome identify it.
func Spec() protocol.Spec {
	return protocol.Spec{
		Name:         Name,
		New:          New,
		Subprotocols: []string{SubprotocolJSON},
		Paths:        []string{"/cable"},
		Sniff:        sniff,
	}
}

// sniff recognises the server's welcome message.
func sniff(f protocol.Frame) bool {
	var m struct {
		Type string `json:"type"`
	}
	return !f.Binary && bytes.HasPrefix(bytes.TrimSpace(f.Data), []byte("{")) && json.Unmarshal(f.Data, &m) == nil && m.Type == "welcome"
}

// Adapter is the ActionCable adapter. It is immutable and safe for
// concurrent use.
type Adapter struct {
	identifiers []string // the subscribe identifiers, compact JSON
	commands    [][]byte // their subscribe commands
	token       string
	tokenParam  string
	staleAfter  time.Duration
	replyAction string // reply_action: the channel action automatic replies perform
	whisper     bool   // reply_command "whisper": replies are AnyCable whispers
	replyJSON   bool   // reply_format "json": a reply is the data object
}

// New builds an ActionCable adapter from cfg. Options: token_param,
// stale_after, and for automatic replies reply_command ("message": perform
// an action, the default; "whisper": AnyCable's whisper), reply_action
// (default "speak") and reply_format ("text": the data {"message": text};
// "json": the reply is the data object).
func New(cfg protocol.Config) (protocol.Adapter, error) {
	if len(cfg.Subscribe) == 0 {
		return nil, fmt.Errorf(`subscribe: actioncable needs at least one channel: a name ("ChatChannel") or an identifier object ("{\"channel\":\"ChatChannel\",\"room\":\"lobby\"}")`)
	}
	if cfg.Auth.Username != "" || cfg.Auth.Password != "" {
		return nil, fmt.Errorf("auth: actioncable uses only auth.token (a query parameter); send cookies with headers")
	}
	a := &Adapter{token: cfg.Auth.Token}
	for i, e := range cfg.Subscribe {
		id, err := identifier(e)
		if err != nil {
			return nil, fmt.Errorf("subscribe: entry %d %q: %v", i+1, e, err)
		}
		if slices.Contains(a.identifiers, id) {
			return nil, fmt.Errorf("subscribe: entry %d: identifier %s is listed twice", i+1, id)
		}
		a.identifiers = append(a.identifiers, id)
		cmd, _ := json.Marshal(map[string]string{"command": "subscribe", "identifier": id})
		a.commands = append(a.commands, cmd)
	}
	r := cfg.Options.Read()
	a.tokenParam = r.String("token_param", "token")
	a.staleAfter = r.Seconds("stale_after", 9*time.Second, 0, 3600)
	a.replyAction = r.String("reply_action", "speak")
	a.whisper = r.OneOf("reply_command", "message", "message", "whisper") == "whisper"
	a.replyJSON = r.OneOf("reply_format", "text", "text", "json") == "json"
	if err := r.Err(); err != nil {
		return nil, err
	}
	if strings.TrimSpace(a.replyAction) == "" {
		return nil, fmt.Errorf("options.reply_action: must name a channel action")
	}
	if a.token != "" && a.tokenParam == "" {
		return nil, fmt.Errorf("options.token_param: auth.token needs a query parameter name")
	}
	return a, nil
}

// identifier turns a subscribe entry into a channel identifier: a JSON
// object with a "channel" string, compacted (key order kept: servers echo
// the identifier as sent), or a bare channel name.
func identifier(entry string) (string, error) {
	t := strings.TrimSpace(entry)
	if t == "" {
		return "", fmt.Errorf("empty")
	}
	if t[0] != '{' {
		b, _ := json.Marshal(map[string]string{"channel": t})
		return string(b), nil
	}
	var params map[string]any
	if err := json.Unmarshal([]byte(t), &params); err != nil {
		return "", fmt.Errorf("not a JSON object: %v", err)
	}
	if ch, ok := params["channel"].(string); !ok || ch == "" {
		return "", fmt.Errorf(`the identifier needs a "channel" string`)
	}
	var b bytes.Buffer
	json.Compact(&b, []byte(t))
	return b.String(), nil
}

// Name returns "actioncable".
func (*Adapter) Name() string { return Name }

// Prepare offers the subprotocols and adds auth.token as the token_param
// query parameter (unless the URL has it already).
func (a *Adapter) Prepare(_ context.Context, d *protocol.Dial) error {
	for _, p := range []string{SubprotocolJSON, SubprotocolUnsupported} {
		if !slices.Contains(d.Subprotocols, p) {
			d.Subprotocols = append(d.Subprotocols, p)
		}
	}
	if a.token != "" {
		u := *d.URL
		q := u.Query()
		if !q.Has(a.tokenParam) {
			q.Set(a.tokenParam, a.token)
			u.RawQuery = q.Encode()
		}
		d.URL = &u
	}
	return nil
}

// Open refuses a server that accepted only the "unsupported" marker; the
// server speaks first, so nothing is sent yet.
func (a *Adapter) Open(_ context.Context, c protocol.Conn) (protocol.Session, error) {
	if c.Subprotocol() == SubprotocolUnsupported {
		return nil, protocol.Refuse(Name, "the server does not support %s", SubprotocolJSON)
	}
	s := &session{a: a, confirmed: make([]bool, len(a.identifiers))}
	s.lastPing.Store(time.Now().UnixNano())
	return s, nil
}

// session is one connection's state. Feed and Ready (reader goroutine)
// share everything but lastPing, which Tick (writer goroutine) reads.
type session struct {
	a         *Adapter
	welcomed  bool
	confirmed []bool
	ready     bool
	lastPing  atomic.Int64 // unix ns of the last ping (or of the open)
	interval  atomic.Int64 // ns between the last two pings
}

func (*session) Protocol() string { return Name }
func (s *session) Ready() bool    { return s.ready }

// Heartbeat is how often Tick checks that the server still pings; 0 when
// options.stale_after is 0.
func (s *session) Heartbeat() time.Duration {
	if s.a.staleAfter == 0 {
		return 0
	}
	return max(s.a.staleAfter/3, 100*time.Millisecond)
}

// Tick sends nothing (the server expects nothing); it ends a connection
// that has heard no ping for stale_after, or three of the server's own
// ping intervals if those are longer.
func (s *session) Tick(now time.Time, _ *protocol.Output) error {
	limit := max(s.a.staleAfter, 3*time.Duration(s.interval.Load()))
	if quiet := now.Sub(time.Unix(0, s.lastPing.Load())); quiet > limit {
		return fmt.Errorf("actioncable: no ping from the server for %s; reconnecting", quiet.Round(time.Millisecond))
	}
	return nil
}

// envelope is any server message.
type envelope struct {
	Type       string          `json:"type"`
	Identifier string          `json:"identifier"`
	Message    json.RawMessage `json:"message"`
	Reason     string          `json:"reason"`
	Reconnect  *bool           `json:"reconnect"`
}

// Feed handles one server message.
func (s *session) Feed(f protocol.Frame, out *protocol.Output) error {
	var m envelope
	if json.Unmarshal(f.Data, &m) != nil {
		out.Record(f.Binary, f.Data) // not ActionCable: stored as it is, marked by Decode
		return nil
	}
	switch m.Type {
	case "welcome":
		if !s.welcomed {
			s.welcomed = true
			for _, c := range s.a.commands {
				out.Reply(false, c)
			}
		}
		out.Ctrl(f.Binary, f.Data)
	case "ping":
		now := time.Now().UnixNano()
		if prev := s.lastPing.Swap(now); s.welcomed {
			s.interval.Store(now - prev)
		}
		out.Ctrl(f.Binary, f.Data)
	case "confirm_subscription":
		if i := slices.Index(s.a.identifiers, m.Identifier); i >= 0 {
			s.confirmed[i] = true
			s.ready = !slices.Contains(s.confirmed, false)
		}
		out.Ctrl(f.Binary, f.Data)
	case "reject_subscription":
		return protocol.Refuse(Name, "subscription %s rejected", m.Identifier)
	case "disconnect":
		reason := m.Reason
		if reason == "" {
			reason = "no reason given"
		}
		if m.Reconnect != nil && !*m.Reconnect {
			return protocol.Refuse(Name, "the server disconnected wsmon: %s", reason)
		}
		return fmt.Errorf("actioncable: the server disconnected wsmon (%s); reconnecting", reason)
	default:
		out.Record(f.Binary, f.Data) // data, or an unknown type: kept, never dropped
	}
	return nil
}

// Decode turns a data record into one event:
//   - Room: the identifier's "room" parameter; else its only parameter
//     besides "channel" (AnyCable's stream_name, a chat_id ...); else the
//     channel name. The message's own room field wins over it.
//   - Payload: the message: an object (or array) as it is, a string as its
//     text (Text), any other value as written.
//   - Name, User and ID stay empty: the envelope has none.
//
// A record without a message (an unknown type) is one event holding the
// whole record; one that is not JSON is one event with reason bad_json.
func (a *Adapter) Decode(rec protocol.Frame) []protocol.Event {
	ev := protocol.Event{Payload: rec.Data, Raw: rec.Data, Binary: rec.Binary}
	var m envelope
	if json.Unmarshal(rec.Data, &m) != nil || !bytes.HasPrefix(bytes.TrimSpace(rec.Data), []byte("{")) {
		ev.Reason = "bad_json"
		return []protocol.Event{ev}
	}
	ev.Room = roomOf(m.Identifier)
	msg := bytes.TrimSpace(m.Message)
	if len(msg) == 0 || m.Type != "" {
		return []protocol.Event{ev}
	}
	var text string
	if msg[0] == '"' && json.Unmarshal(msg, &text) == nil {
		ev.Payload, ev.Text = []byte(text), true
	} else {
		ev.Payload = msg
	}
	return []protocol.Event{ev}
}

// roomOf reads the room from an identifier (see Decode).
func roomOf(identifier string) string {
	var params map[string]json.RawMessage
	if json.Unmarshal([]byte(identifier), &params) != nil {
		return ""
	}
	if r := scalar(params["room"]); r != "" {
		return r
	}
	var only string
	n := 0
	for k, v := range params {
		if k != "channel" {
			n++
			only = scalar(v)
		}
	}
	if n == 1 && only != "" {
		return only
	}
	return scalar(params["channel"])
}

// scalar renders a JSON string or number as text, "" for anything else.
func scalar(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return ""
	}
	var s string
	if v[0] == '"' {
		if json.Unmarshal(v, &s) == nil {
			return s
		}
		return ""
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String()
	}
	return ""
}
