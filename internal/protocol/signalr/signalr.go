// Package signalr is the adapter for ASP.NET Core SignalR hubs with the
// JSON hub protocol over the WebSockets transport (specs: aspnetcore
// src/SignalR/docs/specs TransportProtocols.md and HubProtocol.md).
//
// Before every connection Prepare negotiates (POST <hub>/negotiate
// ?negotiateVersion=1, following url/accessToken redirects as Azure SignalR
// Service sends them) and puts the connection token in the id query. Open
// sends the handshake request; Feed waits for the handshake response, then
// invokes the subscribe methods (JoinGroup ...). Messages are JSON records
// ended by 0x1E, several per frame or split across frames: Feed reassembles
// them and hands on invocations and stream items as records. The client
// pings every 15 s: the server drops a client silent for 30 s.
package signalr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
)

// Name is the protocol's registry name.
const Name = "signalr"

// RS ends every message of the JSON hub protocol.
const RS = 0x1e

// MaxRecord bounds a message still waiting for its separator.
const MaxRecord = 16 << 20

// maxRedirects is how many negotiate redirects are followed, as the
// reference JavaScript client does.
const maxRedirects = 100

// Message types of the hub protocol.
const (
	typeInvocation       = 1
	typeStreamItem       = 2
	typeCompletion       = 3
	typeStreamInvocation = 4
	typeCancelInvocation = 5
	typePing             = 6
	typeClose            = 7
	typeAck              = 8
	typeSequence         = 9
)

// Spec is the SignalR registry entry. Hub paths are the application's own
// and the server does not speak first: auto cannot recognise SignalR, a
// target sets protocol "signalr".
func Spec() protocol.Spec { return protocol.Spec{Name: Name, New: New} }

// Adapter is the SignalR adapter. It is immutable and safe for concurrent
// use.
type Adapter struct {
	token         string
	tokenQuery    bool
	skipNegotiate bool
	ping          time.Duration
	targets       []string            // lower-cased; nil: every target is chat
	argNames      map[string][]string // lower-cased target -> names of its positional arguments
	invoke        []invocation        // the subscribe entries, invocation ids "1", "2", ...
	replyMethod   string              // reply_method: the hub method automatic replies invoke
	replyJSON     bool                // reply_format "json": a reply is the method's argument list
}

type invocation struct {
	entry string // as configured, for messages
	msg   []byte // the Invocation message, RS included
}

// New builds a SignalR adapter from cfg. Options: token_query,
// skip_negotiate, ping_interval, targets, argument_names, and for
// automatic replies reply_method (default "SendMessage") and reply_format
// ("text": the reply is the method's one string argument; "json": a JSON
// array of its arguments).
func New(cfg protocol.Config) (protocol.Adapter, error) {
	if cfg.Auth.Username != "" || cfg.Auth.Password != "" {
		return nil, fmt.Errorf("auth: signalr uses only auth.token (a bearer token for negotiate and the socket)")
	}
	r := cfg.Options.Read()
	a := &Adapter{
		token:         cfg.Auth.Token,
		tokenQuery:    r.Bool("token_query", true),
		skipNegotiate: r.Bool("skip_negotiate", false),
		ping:          r.Seconds("ping_interval", 15*time.Second, 1, 3600),
	}
	for _, t := range r.Strings("targets") {
		if t == "" {
			return nil, fmt.Errorf("options.targets: empty target name")
		}
		a.targets = append(a.targets, strings.ToLower(t))
	}
	m := r.Object("argument_names")
	a.replyMethod = r.String("reply_method", "SendMessage")
	a.replyJSON = r.OneOf("reply_format", "text", "text", "json") == "json"
	if err := r.Err(); err != nil {
		return nil, err
	}
	if strings.TrimSpace(a.replyMethod) == "" {
		return nil, fmt.Errorf("options.reply_method: must name a hub method")
	}
	if m != nil {
		a.argNames = map[string][]string{}
		for target, v := range m {
			l, ok := v.([]any)
			if !ok || len(l) == 0 {
				return nil, fmt.Errorf("options.argument_names: %s: must be a non-empty list of names", target)
			}
			var names []string
			for _, e := range l {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("options.argument_names: %s: must be a list of strings, got element %v", target, e)
				}
				names = append(names, s)
			}
			a.argNames[strings.ToLower(target)] = names
		}
	}
	for i, e := range cfg.Subscribe {
		msg, err := invocationFor(strconv.Itoa(i+1), e)
		if err != nil {
			return nil, fmt.Errorf("subscribe: entry %d %q: %v", i+1, e, err)
		}
		a.invoke = append(a.invoke, invocation{entry: e, msg: msg})
	}
	return a, nil
}

// invocationFor builds the Invocation message for a subscribe entry:
// "Method" (no arguments), "Method:text" (one string argument, the text as
// it is) or "Method:[json, ...]" (the arguments as a JSON array).
func invocationFor(id, entry string) ([]byte, error) {
	target, arg, hasArg := strings.Cut(entry, ":")
	target = strings.TrimSpace(target)
	if target == "" {
		return nil, fmt.Errorf(`want "Method", "Method:argument" or "Method:[json arguments]"`)
	}
	args := json.RawMessage("[]")
	if hasArg {
		if t := strings.TrimSpace(arg); strings.HasPrefix(t, "[") {
			var l []json.RawMessage
			if err := json.Unmarshal([]byte(t), &l); err != nil {
				return nil, fmt.Errorf("arguments are not a JSON array: %v", err)
			}
			args = json.RawMessage(t)
		} else {
			args, _ = json.Marshal([]string{arg})
		}
	}
	b, err := json.Marshal(struct {
		Type         int             `json:"type"`
		InvocationID string          `json:"invocationId"`
		Target       string          `json:"target"`
		Arguments    json.RawMessage `json:"arguments"`
	}{typeInvocation, id, target, args})
	if err != nil {
		return nil, err
	}
	return append(b, RS), nil
}

// Name returns "signalr".
func (*Adapter) Name() string { return Name }

// negotiation is a negotiate response (any version, or a redirect, or an
// error).
type negotiation struct {
	ConnectionToken     string `json:"connectionToken"`
	ConnectionID        string `json:"connectionId"`
	NegotiateVersion    int    `json:"negotiateVersion"`
	URL                 string `json:"url"`
	AccessToken         string `json:"accessToken"`
	Error               string `json:"error"`
	AvailableTransports []struct {
		Transport string `json:"transport"`
	} `json:"availableTransports"`
}

// Prepare negotiates and points d at the connection: the id query, and the
// bearer token as the Authorization header (and the access_token query, as
// browsers send it, unless options.token_query is false). A negotiate
// answered 401, 403 or 404, or with an error, is a refusal.
func (a *Adapter) Prepare(ctx context.Context, d *protocol.Dial) error {
	if d.Header == nil {
		d.Header = http.Header{}
	}
	base := *d.URL
	token := a.token
	if !a.skipNegotiate {
		client := d.HTTP
		if client == nil {
			client = http.DefaultClient
		}
		for redirects := 0; ; redirects++ {
			if redirects > maxRedirects {
				return protocol.Refuse(Name, "negotiate: more than %d redirects", maxRedirects)
			}
			n, err := negotiate(ctx, client, &base, d.Header, token)
			if err != nil {
				return err
			}
			if n.URL != "" {
				u, err := url.Parse(n.URL)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") {
					return protocol.Refuse(Name, "negotiate: redirect to a bad url %q", n.URL)
				}
				base = *u
				if n.AccessToken != "" {
					token = n.AccessToken
				}
				continue
			}
			if len(n.AvailableTransports) > 0 && !slices.ContainsFunc(n.AvailableTransports, func(t struct {
				Transport string `json:"transport"`
			}) bool {
				return t.Transport == "WebSockets"
			}) {
				return protocol.Refuse(Name, "negotiate: the server does not offer the WebSockets transport")
			}
			id := n.ConnectionID
			if n.NegotiateVersion >= 1 {
				id = n.ConnectionToken
			}
			if id == "" {
				return fmt.Errorf("signalr: negotiate answered no connection id")
			}
			q := base.Query()
			q.Set("id", id)
			base.RawQuery = q.Encode()
			break
		}
	}
	base.Scheme = wsScheme(base.Scheme)
	if token != "" {
		d.Header.Set("Authorization", "Bearer "+token)
		if a.tokenQuery {
			q := base.Query()
			q.Set("access_token", token)
			base.RawQuery = q.Encode()
		}
	}
	d.URL = &base
	return nil
}

func wsScheme(s string) string {
	switch s {
	case "http":
		return "ws"
	case "https":
		return "wss"
	}
	return s
}

func httpScheme(s string) string {
	switch s {
	case "ws":
		return "http"
	case "wss":
		return "https"
	}
	return s
}

// negotiate POSTs <hub>/negotiate?negotiateVersion=1 (the hub's own query
// kept) and reads the answer.
func negotiate(ctx context.Context, client *http.Client, hub *url.URL, header http.Header, token string) (*negotiation, error) {
	u := *hub
	u.Scheme = httpScheme(u.Scheme)
	u.Path = strings.TrimSuffix(u.Path, "/") + "/negotiate"
	u.RawPath = ""
	q := u.Query()
	q.Del("id")
	if q.Get("negotiateVersion") == "" {
		q.Set("negotiateVersion", "1")
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("signalr: negotiate: %w", err)
	}
	for k, v := range header {
		req.Header[k] = slices.Clone(v)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("signalr: negotiate: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("signalr: negotiate: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, protocol.Refuse(Name, "negotiate %s: %s (check auth.token)", u.Redacted(), resp.Status)
	case resp.StatusCode == http.StatusNotFound:
		return nil, protocol.Refuse(Name, "negotiate %s: %s (no hub at this path?)", u.Redacted(), resp.Status)
	case resp.StatusCode/100 != 2:
		return nil, fmt.Errorf("signalr: negotiate %s: %s", u.Redacted(), resp.Status)
	}
	var n negotiation
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, fmt.Errorf("signalr: negotiate %s: answer is not JSON: %v", u.Redacted(), err)
	}
	if n.Error != "" {
		return nil, protocol.Refuse(Name, "negotiate: %s", n.Error)
	}
	return &n, nil
}

var handshake = []byte("{\"protocol\":\"json\",\"version\":1}\x1e")

// Open sends the handshake request.
func (a *Adapter) Open(ctx context.Context, c protocol.Conn) (protocol.Session, error) {
	if err := c.Write(ctx, protocol.Frame{Data: handshake}); err != nil {
		return nil, err
	}
	return &session{a: a}, nil
}

// session is one connection's state. Feed and Ready run on the reader
// goroutine and share buf and the flags; Tick only writes a constant.
type session struct {
	a         *Adapter
	buf       []byte // the unfinished message of previous frames
	handshook bool
}

func (*session) Protocol() string           { return Name }
func (s *session) Ready() bool              { return s.handshook }
func (s *session) Heartbeat() time.Duration { return s.a.ping }

var ping = []byte("{\"type\":6}\x1e")

// Tick sends a ping, which keeps the server's client timeout (30 s by
// default) from dropping an idle connection.
func (s *session) Tick(_ time.Time, out *protocol.Output) error {
	out.Reply(false, ping)
	return nil
}

// hubMessage is the part of any hub message Feed looks at.
type hubMessage struct {
	Type           *int    `json:"type"`
	InvocationID   string  `json:"invocationId"`
	Target         string  `json:"target"`
	Error          *string `json:"error"`
	AllowReconnect bool    `json:"allowReconnect"`
}

// Feed splits the frame into messages at RS, keeping an unfinished tail
// for the next frame.
func (s *session) Feed(f protocol.Frame, out *protocol.Output) error {
	data := f.Data
	if len(s.buf) > 0 {
		s.buf = append(s.buf, data...)
		data = s.buf
	}
	for {
		i := bytes.IndexByte(data, RS)
		if i < 0 {
			break
		}
		if err := s.message(f.Binary, data[:i], out); err != nil {
			return err
		}
		data = data[i+1:]
	}
	if len(data) > MaxRecord {
		return fmt.Errorf("signalr: a message exceeds %d bytes without its record separator", MaxRecord)
	}
	// Keep the tail for the next frame. Records handed out above alias the
	// frame or s.buf and are read after Feed returns, so s.buf is not
	// overwritten now: a tail taken from it moves to a new buffer.
	switch {
	case len(data) == 0:
		s.buf = s.buf[:0]
	case len(s.buf) > 0:
		s.buf = bytes.Clone(data)
	default:
		s.buf = append(s.buf, data...)
	}
	return nil
}

// message handles one whole message (without its RS).
func (s *session) message(binary bool, rec []byte, out *protocol.Output) error {
	if len(bytes.TrimSpace(rec)) == 0 {
		out.Ctrl(binary, rec)
		return nil
	}
	var m hubMessage
	err := json.Unmarshal(rec, &m)
	if !s.handshook {
		// The handshake response: {} or {"error": ...}.
		if err != nil {
			return fmt.Errorf("signalr: bad handshake response %q", clip(rec))
		}
		if m.Error != nil {
			return protocol.Refuse(Name, "handshake: %s", *m.Error)
		}
		s.handshook = true
		out.Ctrl(binary, rec)
		for _, inv := range s.a.invoke {
			out.Reply(false, inv.msg)
		}
		return nil
	}
	if err != nil || m.Type == nil {
		out.Record(binary, rec) // not a hub message: stored as it is, marked by Decode
		return nil
	}
	switch *m.Type {
	case typeInvocation:
		if s.a.targets == nil || slices.Contains(s.a.targets, strings.ToLower(m.Target)) {
			out.Record(binary, rec)
		} else {
			out.Ctrl(binary, rec)
		}
	case typeStreamItem:
		out.Record(binary, rec)
	case typeCompletion:
		if i := s.a.ours(m.InvocationID); i >= 0 && m.Error != nil {
			return protocol.Refuse(Name, "subscribe %q failed: %s", s.a.invoke[i].entry, *m.Error)
		}
		out.Ctrl(binary, rec)
	case typeClose:
		reason := "no error given"
		if m.Error != nil && *m.Error != "" {
			reason = *m.Error
		}
		if m.AllowReconnect {
			return fmt.Errorf("signalr: server closed the connection (%s); reconnect allowed", reason)
		}
		return protocol.Refuse(Name, "server closed the connection without allowing a reconnect: %s", reason)
	case typePing, typeStreamInvocation, typeCancelInvocation, typeAck, typeSequence:
		out.Ctrl(binary, rec)
	default:
		out.Record(binary, rec) // unknown type: kept, never dropped
	}
	return nil
}

// ours returns the subscribe entry index of an invocation id, or -1.
func (a *Adapter) ours(id string) int {
	n, err := strconv.Atoi(id)
	if err != nil || n < 1 || n > len(a.invoke) || strconv.Itoa(n) != id {
		return -1
	}
	return n - 1
}

func clip(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return strings.ToValidUTF8(string(b), "?")
}

// record is the part of a recorded message Decode reads.
type record struct {
	Type      *int              `json:"type"`
	Target    string            `json:"target"`
	Arguments []json.RawMessage `json:"arguments"`
	Item      json.RawMessage   `json:"item"`
}

// Decode turns a record into one event.
//
// An invocation's Name is its target. Its arguments become the payload:
//   - with options.argument_names for the target: a JSON object of the
//     arguments under those names, by position (missing ones left out,
//     extra ones dropped; the raw record keeps everything);
//   - else two strings (the ASP.NET chat sample's ReceiveMessage(user,
//     message)): User is the first, the payload the second's text;
//   - else one argument: an object or array as it is, a string as its text,
//     any other value as written;
//   - else (none, or several): the arguments array.
//
// A stream item's payload is its item, read like a single argument. Text
// payloads are marked Text: they are never parsed again. Room, ID stay
// empty: hub messages name no group, and invocation ids are call ids. A
// record that is not a hub message is one event holding it, with reason
// bad_json.
func (a *Adapter) Decode(rec protocol.Frame) []protocol.Event {
	ev := protocol.Event{Payload: rec.Data, Raw: rec.Data, Binary: rec.Binary}
	var r record
	if err := json.Unmarshal(rec.Data, &r); err != nil || r.Type == nil {
		ev.Reason = "bad_json"
		return []protocol.Event{ev}
	}
	switch *r.Type {
	case typeInvocation:
		ev.Name = r.Target
		args := r.Arguments
		if names, ok := a.argNames[strings.ToLower(r.Target)]; ok {
			ev.Payload = named(names, args)
			break
		}
		var user, text string
		switch {
		case len(args) == 2 && json.Unmarshal(args[0], &user) == nil && json.Unmarshal(args[1], &text) == nil:
			ev.User, ev.Payload, ev.Text = user, []byte(text), true
		case len(args) == 1:
			ev.Payload, ev.Text = value(args[0])
		default:
			ev.Payload, _ = json.Marshal(args)
			if args == nil {
				ev.Payload = []byte("[]")
			}
		}
	case typeStreamItem:
		ev.Payload, ev.Text = value(r.Item)
	}
	return []protocol.Event{ev}
}

// value reads one JSON value as a payload: a string as its text (true),
// anything else as written.
func value(v json.RawMessage) ([]byte, bool) {
	v = bytes.TrimSpace(v)
	var s string
	if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
		return []byte(s), true
	}
	return v, false
}

// named builds {"name0": arg0, ...} from positional arguments.
func named(names []string, args []json.RawMessage) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, v := range args {
		if i >= len(names) {
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(names[i])
		b.Write(k)
		b.WriteByte(':')
		b.Write(bytes.TrimSpace(v))
	}
	b.WriteByte('}')
	return b.Bytes()
}
