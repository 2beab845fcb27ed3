// Package socketio is the adapter for Socket.IO servers: Socket.IO 3 and 4
// (Engine.IO 4, Socket.IO protocol 5) and Socket.IO 2 (Engine.IO 3,
// Socket.IO protocol 4), over the WebSocket transport only.
//
// Per connection it waits for the Engine.IO open packet, connects to every
// namespace in subscribe (CONNECT with the auth payload), answers the
// server's pings (Engine.IO 4) or pings the server itself (Engine.IO 3),
// acknowledges events that ask for it, reassembles binary events with their
// attachments, and hands on every EVENT of a subscribed namespace as one
// record. With a server that has connection state recovery on, a
// reconnect resumes the namespace's session so that missed events are
// replayed. Decode turns a record into one chat event named after the
// Socket.IO event. docs/protocols.md has the user's description.
package socketio

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/wsmon/wsmon/internal/protocol"
)

// Name is the protocol's registry name.
const Name = "socketio"

// DefaultPath is the Socket.IO server's default request path.
const DefaultPath = "/socket.io/"

// Spec is the Socket.IO registry entry. Socket.IO negotiates no
// subprotocol; it is recognised by its path and its Engine.IO open packet.
func Spec() protocol.Spec {
	return protocol.Spec{
		Name:  Name,
		New:   New,
		Paths: []string{DefaultPath},
		Sniff: Sniff,
	}
}

// Sniff reports whether first is an Engine.IO open packet:
// 0{"sid":"...","pingInterval":...,...}.
func Sniff(first protocol.Frame) bool {
	d := first.Data
	if first.Binary || len(d) < 3 || d[0] != '0' || d[1] != '{' {
		return false
	}
	var o struct {
		SID          *string  `json:"sid"`
		PingInterval *float64 `json:"pingInterval"`
	}
	return json.Unmarshal(d[1:], &o) == nil && o.SID != nil && o.PingInterval != nil
}

// Adapter is the Socket.IO adapter for one target. It is immutable and safe
// for concurrent use.
type Adapter struct {
	eio        int            // 4 or 3
	namespaces []string       // to connect to, in order
	payload    map[string]any // CONNECT payload (auth, connect_payload); nil: none
	query      url.Values     // added to the URL (EIO and transport are set apart)
	events     []string       // event names to store; nil: all
	args       []string       // names of the event arguments by position; nil: default mapping
	ack        bool           // answer events that ask for an ack
	replyEvent string         // reply_event: the event automatic replies emit
	replyJSON  bool           // reply_format "json": a reply is the event's argument list

	// resume is the one mutable part: where each namespace's stream stood
	// when the last session ended, so that the next CONNECT can ask the
	// server to replay what was missed (connection state recovery). nil
	// when options.recover is false or with Engine.IO 3.
	resume *positions
}

// positions are the connection state recovery positions of a target's
// namespaces: the server's private session id (pid) and the offset of the
// last event received. Sessions of the same target follow one another, but
// the map is guarded anyway since Open and Feed run on different
// goroutines.
type positions struct {
	mu sync.Mutex
	ns map[string]position
}

type position struct{ pid, offset string }

// get returns ns's position; ok when there is one to resume from.
func (p *positions) get(ns string) (position, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pos, ok := p.ns[ns]
	return pos, ok && pos.pid != "" && pos.offset != ""
}

// connected notes the pid the server gave ns; a new pid (a fresh server
// session) makes the old offset meaningless.
func (p *positions) connected(ns, pid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pos := p.ns[ns]; pos.pid != pid {
		p.ns[ns] = position{pid: pid}
	}
}

// received notes the offset of the last event of ns.
func (p *positions) received(ns, offset string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pos, ok := p.ns[ns]; ok {
		pos.offset = offset
		p.ns[ns] = pos
	}
}

// connectPayload is the CONNECT payload for ns: the configured one, plus
// the recovery position to resume from, if any (resumed).
func (a *Adapter) connectPayload(ns string) (payload []byte, resumed bool) {
	p := a.payload
	if a.resume != nil {
		if pos, ok := a.resume.get(ns); ok {
			p = maps.Clone(p)
			if p == nil {
				p = map[string]any{}
			}
			p["pid"], p["offset"] = pos.pid, pos.offset
			resumed = true
		}
	}
	if p == nil {
		return nil, false
	}
	b, err := json.Marshal(p)
	if err != nil { // checked in New; cannot happen
		return nil, false
	}
	return b, resumed
}

// New builds a Socket.IO adapter from cfg.
//
// subscribe lists namespaces ("/", "/chat"); default ["/"]. auth.token,
// auth.username and auth.password go into the CONNECT payload
// ({"token":...}) with Engine.IO 4, into the URL query with Engine.IO 3
// (Socket.IO 2 has no CONNECT payload). Options: eio (4 or 3; default 4,
// or the URL's EIO when it has one), events, args, ack (default true),
// connect_payload (a JSON object, or a string holding one), query (extra
// URL query, "a=1&b=2"), recover (default true: resume the server's
// connection state recovery after a reconnect), reply_event (the event
// automatic replies emit, default "message") and reply_format ("text",
// default: the reply is the event's one string argument; "json": the reply
// is a JSON array of its arguments).
func New(cfg protocol.Config) (protocol.Adapter, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	a := &Adapter{}

	opts := maps.Clone(cfg.Options)
	rawPayload, hasPayload := opts["connect_payload"]
	delete(opts, "connect_payload")
	r := opts.Read()
	urlEIO := u.Query().Get("EIO")
	defEIO := 4
	if urlEIO == "3" {
		defEIO = 3
	}
	a.eio = r.Int("eio", defEIO, 3, 4)
	a.events = r.Strings("events")
	a.args = r.Strings("args")
	a.ack = r.Bool("ack", true)
	resume := r.Bool("recover", true)
	query := r.String("query", "")
	a.replyEvent = r.String("reply_event", "message")
	a.replyJSON = r.OneOf("reply_format", "text", "text", "json") == "json"
	// connect_payload is read here, but Err must know it, so mark it read.
	r.String("connect_payload", "")
	if err := r.Err(); err != nil {
		return nil, err
	}
	if urlEIO != "" && urlEIO != strconv.Itoa(a.eio) {
		return nil, fmt.Errorf("options.eio: %d, but the URL asks for EIO=%s", a.eio, urlEIO)
	}
	if cfg.Options["events"] != nil && len(a.events) == 0 {
		return nil, fmt.Errorf("options.events: must name at least one event (leave it out to store every event)")
	}
	for i, e := range a.events {
		if e == "" {
			return nil, fmt.Errorf("options.events: element %d is empty", i)
		}
	}
	if err := checkArgs(a.args); err != nil {
		return nil, err
	}
	if err := checkReplyEvent(a.replyEvent); err != nil {
		return nil, err
	}
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return nil, fmt.Errorf("options.query: %v", err)
		}
		for _, k := range []string{"EIO", "transport", "sid"} {
			if q.Has(k) {
				return nil, fmt.Errorf("options.query: %s is set by wsmon (use options.eio for the version)", k)
			}
		}
		a.query = q
	}

	a.namespaces = cfg.Subscribe
	if len(a.namespaces) == 0 {
		a.namespaces = []string{"/"}
	}
	for i, ns := range a.namespaces {
		if err := checkNamespace(ns); err != nil {
			return nil, fmt.Errorf("subscribe: entry %d %q: %v", i, ns, err)
		}
		if slices.Index(a.namespaces, ns) != i {
			return nil, fmt.Errorf("subscribe: namespace %q is listed twice", ns)
		}
	}

	payload := map[string]any{}
	if hasPayload && rawPayload != nil {
		switch v := rawPayload.(type) {
		case map[string]any:
			payload = v
		case string:
			if err := json.Unmarshal([]byte(v), &payload); err != nil || payload == nil {
				return nil, fmt.Errorf("options.connect_payload: must be a JSON object, got %q", v)
			}
		default:
			return nil, fmt.Errorf("options.connect_payload: must be a JSON object, got %v", v)
		}
		if a.eio == 3 {
			return nil, fmt.Errorf("options.connect_payload: Socket.IO 2 (eio 3) has no CONNECT payload; use options.query")
		}
	}
	creds := []struct{ key, val string }{
		{"token", cfg.Auth.Token}, {"username", cfg.Auth.Username}, {"password", cfg.Auth.Password},
	}
	for _, c := range creds {
		if c.val == "" {
			continue
		}
		if a.eio == 3 {
			if a.query.Has(c.key) {
				return nil, fmt.Errorf("auth: auth.%s and options.query both set %s", c.key, c.key)
			}
			if a.query == nil {
				a.query = url.Values{}
			}
			a.query.Set(c.key, c.val)
			continue
		}
		if _, dup := payload[c.key]; dup {
			return nil, fmt.Errorf("auth: auth.%s and options.connect_payload both set %q", c.key, c.key)
		}
		payload[c.key] = c.val
	}
	if len(payload) > 0 || hasPayload && rawPayload != nil {
		for _, k := range []string{"pid", "offset"} {
			if _, ok := payload[k]; ok && resume {
				return nil, fmt.Errorf("options.connect_payload: %q is wsmon's with options.recover (connection state recovery)", k)
			}
		}
		if _, err := json.Marshal(payload); err != nil {
			return nil, fmt.Errorf("options.connect_payload: %v", err)
		}
		a.payload = payload
	}
	if resume && a.eio == 4 {
		a.resume = &positions{ns: map[string]position{}}
	}
	return a, nil
}

// checkNamespace accepts "/" and "/name..." without the characters that
// end a namespace on the wire (',') or start a v2 query ('?'), and without
// space or control characters.
func checkNamespace(ns string) error {
	if !strings.HasPrefix(ns, "/") {
		return fmt.Errorf("a namespace starts with / (the main one is \"/\")")
	}
	for _, c := range ns {
		if c == ',' || c == '?' || c <= ' ' || c == 0x7f {
			return fmt.Errorf("a namespace may not contain %q", c)
		}
	}
	return nil
}

// checkArgs validates options.args: names of the event's arguments, "-" to
// skip a position, no name twice.
func checkArgs(args []string) error {
	for i, n := range args {
		if n == "" {
			return fmt.Errorf("options.args: element %d is empty (use \"-\" to skip an argument)", i)
		}
		if n != "-" && slices.Index(args, n) != i {
			return fmt.Errorf("options.args: %q is named twice", n)
		}
	}
	if len(args) > 0 && !slices.ContainsFunc(args, func(n string) bool { return n != "-" }) {
		return fmt.Errorf("options.args: names no argument")
	}
	return nil
}

// Name returns "socketio".
func (*Adapter) Name() string { return Name }

// Prepare sets the Socket.IO path when the URL has none ("" or "/") and the
// query EIO=<eio>&transport=websocket, plus options.query and, with
// Engine.IO 3, the credentials.
func (a *Adapter) Prepare(_ context.Context, d *protocol.Dial) error {
	u := *d.URL
	if u.Path == "" || u.Path == "/" {
		u.Path, u.RawPath = DefaultPath, ""
	}
	q := u.Query()
	for k, vs := range a.query {
		q[k] = slices.Clone(vs)
	}
	q.Set("EIO", strconv.Itoa(a.eio))
	q.Set("transport", "websocket")
	q.Del("sid")
	u.RawQuery = q.Encode()
	d.URL = &u
	return nil
}

// Open sends nothing: the server speaks first (the Engine.IO open packet),
// and the namespace CONNECTs are sent in answer to it.
func (a *Adapter) Open(context.Context, protocol.Conn) (protocol.Session, error) {
	return newSession(a), nil
}
