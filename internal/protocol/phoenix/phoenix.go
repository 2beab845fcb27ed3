// Package phoenix is the adapter for Phoenix channels (Elixir's Phoenix
// framework) over the WebSocket transport, with the V2 serializer
// (messages [join_ref, ref, topic, event, payload], vsn=2.0.0, plus its
// binary frames) or the V1 serializer (objects {topic, event, payload,
// ref}, vsn=1.0.0).
//
// Open joins every subscribe topic (phx_join) and the session is ready
// when each join is answered ok; a join answered with status error is a
// refusal. The client heartbeats on topic "phoenix" every 30 s and drops a
// connection whose previous heartbeat was not answered, as the reference
// JavaScript client does; the server closes a socket that sent nothing for
// 60 s. A topic the server ends (phx_error: the channel crashed,
// phx_close: the channel stopped) is joined again at once.
package phoenix

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
)

// Name is the protocol's registry name.
const Name = "phoenix"

// Rejoin limits: more than rejoinBurst rejoins of one topic within
// rejoinWindow end the connection instead, so that the runner's backoff
// paces a server that keeps closing the channel.
const (
	rejoinBurst  = 3
	rejoinWindow = 10 * time.Second
)

// Spec is the Phoenix registry entry: the default socket path identifies
// it; the server does not speak first.
func Spec() protocol.Spec {
	return protocol.Spec{Name: Name, New: New, Paths: []string{"/socket/websocket"}}
}

// Adapter is the Phoenix adapter. It is immutable and safe for concurrent
// use.
type Adapter struct {
	v1         bool
	vsn        string
	topics     []string
	joinBody   json.RawMessage // the phx_join payload
	token      string
	tokenParam string
	heartbeat  time.Duration
	presence   bool
	replyEvent string // reply_event: the event automatic replies push
	replyJSON  bool   // reply_format "json": a reply is the push's payload object
}

// New builds a Phoenix adapter from cfg. Options: vsn,
// heartbeat_interval, presence, token_param, join_payload, and for
// automatic replies reply_event (default "new_msg") and reply_format
// ("text": the payload {"body": text}; "json": the reply is the payload).
func New(cfg protocol.Config) (protocol.Adapter, error) {
	if len(cfg.Subscribe) == 0 {
		return nil, fmt.Errorf("subscribe: phoenix needs at least one channel topic to join, e.g. \"room:lobby\"")
	}
	if cfg.Auth.Username != "" || cfg.Auth.Password != "" {
		return nil, fmt.Errorf("auth: phoenix uses only auth.token (a connect parameter and the join payload's token)")
	}
	a := &Adapter{token: cfg.Auth.Token}
	for i, t := range cfg.Subscribe {
		if strings.TrimSpace(t) == "" {
			return nil, fmt.Errorf("subscribe: entry %d is empty", i+1)
		}
		if t == "phoenix" {
			return nil, fmt.Errorf("subscribe: entry %d: topic \"phoenix\" is the socket's own (heartbeats)", i+1)
		}
		if slices.Contains(a.topics, t) {
			return nil, fmt.Errorf("subscribe: topic %q is listed twice", t)
		}
		a.topics = append(a.topics, t)
	}
	r := cfg.Options.Read()
	a.vsn = r.OneOf("vsn", "2.0.0", "2.0.0", "1.0.0")
	a.v1 = a.vsn == "1.0.0"
	a.heartbeat = r.Seconds("heartbeat_interval", 30*time.Second, 1, 3600)
	a.presence = r.Bool("presence", false)
	a.tokenParam = r.String("token_param", "token")
	join := r.Object("join_payload")
	a.replyEvent = r.String("reply_event", "new_msg")
	a.replyJSON = r.OneOf("reply_format", "text", "text", "json") == "json"
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := checkReplyEvent(a.replyEvent); err != nil {
		return nil, err
	}
	if join == nil {
		join = map[string]any{}
		if a.token != "" {
			join["token"] = a.token
		}
	}
	var err error
	if a.joinBody, err = json.Marshal(join); err != nil {
		return nil, fmt.Errorf("options.join_payload: %v", err)
	}
	return a, nil
}

// Name returns "phoenix".
func (*Adapter) Name() string { return Name }

// Prepare adds vsn, and auth.token as the token_param connect parameter
// (Phoenix reads connect parameters from the query). A URL whose path
// ends in the socket's mount point ("/socket") gets the transport's
// "/websocket" appended, as the JavaScript client does.
func (a *Adapter) Prepare(_ context.Context, d *protocol.Dial) error {
	u := *d.URL
	if strings.HasSuffix(u.Path, "/socket") {
		u.Path += "/websocket"
		u.RawPath = ""
	}
	q := u.Query()
	q.Set("vsn", a.vsn)
	if a.token != "" && a.tokenParam != "" && !q.Has(a.tokenParam) {
		q.Set(a.tokenParam, a.token)
	}
	u.RawQuery = q.Encode()
	d.URL = &u
	return nil
}

// encode renders one client message in the session's serializer.
func (a *Adapter) encode(joinRef, ref, topic, event string, payload json.RawMessage) []byte {
	var jr any
	if joinRef != "" {
		jr = joinRef
	}
	var b []byte
	if a.v1 {
		b, _ = json.Marshal(struct {
			Topic   string          `json:"topic"`
			Event   string          `json:"event"`
			Payload json.RawMessage `json:"payload"`
			Ref     string          `json:"ref"`
			JoinRef any             `json:"join_ref"`
		}{topic, event, payload, ref, jr})
	} else {
		b, _ = json.Marshal([]any{jr, ref, topic, event, payload})
	}
	return b
}

// Open joins every topic.
func (a *Adapter) Open(ctx context.Context, c protocol.Conn) (protocol.Session, error) {
	s := &session{a: a, joins: map[string]*join{}}
	for _, t := range a.topics {
		msg := s.joinMsg(t, time.Time{})
		if err := c.Write(ctx, protocol.Frame{Data: msg}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// join is one topic's state in a session.
type join struct {
	ref     string      // the current phx_join's ref, which is the join_ref of its messages
	joined  bool        // answered ok
	rejoins []time.Time // recent rejoins, for the burst limit
}

// session is one connection's state. Feed (reader) and Tick (writer)
// share the ref counter and the pending heartbeat: mu guards all of it.
type session struct {
	a         *Adapter
	mu        sync.Mutex
	ref       int
	joins     map[string]*join
	ready     bool
	hbPending string // ref of the heartbeat not answered yet
}

func (*session) Protocol() string { return Name }

func (s *session) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready
}

func (s *session) Heartbeat() time.Duration { return s.a.heartbeat }

// nextRef returns a new ref; s.mu is held.
func (s *session) nextRef() string {
	s.ref++
	return strconv.Itoa(s.ref)
}

// joinMsg returns a phx_join for topic with a new ref; s.mu is held (or
// the session is not shared yet).
func (s *session) joinMsg(topic string, now time.Time) []byte {
	j := s.joins[topic]
	if j == nil {
		j = &join{}
		s.joins[topic] = j
	}
	j.ref, j.joined = s.nextRef(), false
	if !now.IsZero() {
		j.rejoins = append(j.rejoins, now)
	}
	return s.a.encode(j.ref, j.ref, topic, "phx_join", s.a.joinBody)
}

// Tick sends a heartbeat, or ends the connection when the previous one
// was never answered.
func (s *session) Tick(_ time.Time, out *protocol.Output) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hbPending != "" {
		return fmt.Errorf("phoenix: heartbeat %s not answered within %s", s.hbPending, s.a.heartbeat)
	}
	s.hbPending = s.nextRef()
	out.Reply(false, s.a.encode("", s.hbPending, "phoenix", "heartbeat", json.RawMessage("{}")))
	return nil
}

// msg is one server message, from either serializer.
type msg struct {
	joinRef, ref string // "" when null
	topic, event string
	payload      json.RawMessage // JSON payload; nil for a binary one
	data         []byte          // binary payload
	binary       bool
}

// parse reads one frame as a Phoenix message.
func (a *Adapter) parse(f protocol.Frame) (msg, bool) {
	if f.Binary {
		return parseBinary(f.Data)
	}
	var m msg
	if a.v1 {
		var o struct {
			Topic   *string         `json:"topic"`
			Event   *string         `json:"event"`
			Payload json.RawMessage `json:"payload"`
			Ref     *string         `json:"ref"`
			JoinRef *string         `json:"join_ref"`
		}
		if json.Unmarshal(f.Data, &o) != nil || o.Topic == nil || o.Event == nil {
			return m, false
		}
		m.topic, m.event, m.payload = *o.Topic, *o.Event, o.Payload
		if o.Ref != nil {
			m.ref = *o.Ref
		}
		if o.JoinRef != nil {
			m.joinRef = *o.JoinRef
		}
		return m, true
	}
	var arr []json.RawMessage
	if json.Unmarshal(f.Data, &arr) != nil || len(arr) != 5 {
		return m, false
	}
	var jr, ref *string
	if json.Unmarshal(arr[0], &jr) != nil || json.Unmarshal(arr[1], &ref) != nil ||
		json.Unmarshal(arr[2], &m.topic) != nil || json.Unmarshal(arr[3], &m.event) != nil {
		return m, false
	}
	if jr != nil {
		m.joinRef = *jr
	}
	if ref != nil {
		m.ref = *ref
	}
	m.payload = arr[4]
	return m, true
}

// parseBinary reads a V2 binary frame: kind 0 push [0, join_ref size,
// topic size, event size, ...], kind 1 reply [1, join_ref, ref, topic,
// status sizes, ...] (event phx_reply) or kind 2 broadcast [2, topic size,
// event size, ...], each followed by the strings and the payload.
func parseBinary(b []byte) (msg, bool) {
	m := msg{binary: true}
	if len(b) < 1 {
		return m, false
	}
	var sizes []int
	switch b[0] {
	case 0:
		sizes = []int{4, 1, 2, 3} // header length, then join_ref, topic, event
	case 1:
		sizes = []int{5, 1, 2, 3, 4} // join_ref, ref, topic, status
	case 2:
		sizes = []int{3, 1, 2} // topic, event
	default:
		return m, false
	}
	off := sizes[0]
	if len(b) < off {
		return m, false
	}
	var strs []string
	for _, i := range sizes[1:] {
		n := int(b[i])
		if len(b) < off+n {
			return m, false
		}
		strs = append(strs, string(b[off:off+n]))
		off += n
	}
	m.data = b[off:]
	switch b[0] {
	case 0:
		m.joinRef, m.topic, m.event = strs[0], strs[1], strs[2]
	case 1:
		m.joinRef, m.ref, m.topic, m.event = strs[0], strs[1], strs[2], "phx_reply"
		// The status travels as the event; the response is the binary.
		st, _ := json.Marshal(strs[3])
		m.payload = json.RawMessage(`{"status":` + string(st) + `}`)
	case 2:
		m.topic, m.event = strs[0], strs[1]
	}
	return m, true
}

// reply is a phx_reply payload.
type reply struct {
	Status   string          `json:"status"`
	Response json.RawMessage `json:"response"`
}

// Feed handles one server message.
func (s *session) Feed(f protocol.Frame, out *protocol.Output) error {
	m, ok := s.a.parse(f)
	if !ok {
		out.Record(f.Binary, f.Data) // not Phoenix: stored as it is, marked by Decode
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.joins[m.topic]
	switch m.event {
	case "phx_reply":
		var r reply
		json.Unmarshal(m.payload, &r)
		switch {
		case m.topic == "phoenix":
			if m.ref == s.hbPending {
				s.hbPending = ""
			}
		case j != nil && m.ref == j.ref && !j.joined:
			if r.Status != "ok" {
				return protocol.Refuse(Name, "join %q refused: %s", m.topic, replyReason(r))
			}
			j.joined = true
			s.ready = s.allJoined()
		}
		out.Ctrl(f.Binary, f.Data)
	case "phx_error", "phx_close":
		// The server ended the channel (crashed, or stopped): join it again,
		// unless the message belongs to an earlier join.
		if j != nil && (m.joinRef == "" || m.joinRef == j.ref) {
			now := time.Now()
			j.rejoins = slices.DeleteFunc(j.rejoins, func(t time.Time) bool { return now.Sub(t) > rejoinWindow })
			if len(j.rejoins) >= rejoinBurst {
				return fmt.Errorf("phoenix: the server ended channel %q %d times within %s (%s); reconnecting", m.topic, len(j.rejoins)+1, rejoinWindow, m.event)
			}
			out.Reply(false, s.joinMsg(m.topic, now))
		}
		out.Ctrl(f.Binary, f.Data)
	case "presence_state", "presence_diff":
		if s.a.presence {
			out.Record(f.Binary, f.Data)
		} else {
			out.Ctrl(f.Binary, f.Data)
		}
	default:
		out.Record(f.Binary, f.Data)
	}
	return nil
}

// allJoined reports whether every topic's join was answered ok; s.mu is
// held.
func (s *session) allJoined() bool {
	for _, j := range s.joins {
		if !j.joined {
			return false
		}
	}
	return true
}

// replyReason renders an error reply: its response's reason, else the
// response, else the status.
func replyReason(r reply) string {
	var o struct {
		Reason any `json:"reason"`
	}
	if json.Unmarshal(r.Response, &o) == nil && o.Reason != nil {
		if s, ok := o.Reason.(string); ok {
			return s
		}
		b, _ := json.Marshal(o.Reason)
		return string(b)
	}
	if t := bytes.TrimSpace(r.Response); len(t) > 0 && string(t) != "{}" && string(t) != "null" {
		if len(t) > 300 {
			t = t[:300]
		}
		return strings.ToValidUTF8(string(t), "?")
	}
	return "status " + strconv.Quote(r.Status)
}

// Decode turns a record into events: Room is the topic, Name the event,
// Payload the payload (an object as it is; a JSON string as its text; a
// binary payload as its bytes, Binary). User and ID stay empty: refs are
// command ids.
//
// With options.presence, presence_state and presence_diff records become
// one join event per joined key and one leave event per left key (sorted
// by key): User is the key, Payload its {"metas": [...]} entry. A
// presence record with no keys gives no events (the pipeline then stores
// it as it is).
//
// A record that is not a Phoenix message is one event holding it, with
// reason bad_json.
func (a *Adapter) Decode(rec protocol.Frame) []protocol.Event {
	m, ok := a.parse(rec)
	if !ok {
		return []protocol.Event{{Payload: rec.Data, Raw: rec.Data, Binary: rec.Binary, Reason: "bad_json"}}
	}
	ev := protocol.Event{Room: m.topic, Name: m.event, Raw: rec.Data, Binary: rec.Binary}
	if m.binary {
		ev.Payload = m.data
		return []protocol.Event{ev}
	}
	if a.presence && (m.event == "presence_state" || m.event == "presence_diff") {
		if evs, ok := presenceEvents(m); ok {
			for i := range evs {
				evs[i].Raw = rec.Data
			}
			return evs
		}
	}
	p := bytes.TrimSpace(m.payload)
	var s string
	if len(p) > 0 && p[0] == '"' && json.Unmarshal(p, &s) == nil {
		ev.Payload, ev.Text = []byte(s), true
	} else {
		ev.Payload = p
	}
	return []protocol.Event{ev}
}

// presenceEvents reads presence_state {key: entry} or presence_diff
// {"joins": {key: entry}, "leaves": {key: entry}}.
func presenceEvents(m msg) ([]protocol.Event, bool) {
	type set struct {
		name    string
		entries map[string]json.RawMessage
	}
	var sets []set
	if m.event == "presence_state" {
		var st map[string]json.RawMessage
		if json.Unmarshal(m.payload, &st) != nil {
			return nil, false
		}
		sets = []set{{"join", st}}
	} else {
		var d struct {
			Joins  map[string]json.RawMessage `json:"joins"`
			Leaves map[string]json.RawMessage `json:"leaves"`
		}
		if json.Unmarshal(m.payload, &d) != nil {
			return nil, false
		}
		sets = []set{{"join", d.Joins}, {"leave", d.Leaves}}
	}
	var evs []protocol.Event
	for _, set := range sets {
		for _, k := range slices.Sorted(maps.Keys(set.entries)) {
			evs = append(evs, protocol.Event{Room: m.topic, Name: set.name, User: k, Payload: bytes.TrimSpace(set.entries[k])})
		}
	}
	return evs, true
}
