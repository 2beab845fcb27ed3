// Package centrifugo is the adapter for Centrifugo's bidirectional JSON
// client protocol (protocol v2: Centrifugo v4, v5 and v6, and servers built
// on the Centrifuge library), over /connection/websocket.
//
// Open sends the connect command (the connection token from auth.token).
// On the connect reply the session subscribes to every configured channel,
// asking for recovery; after a reconnect it resubscribes from the last
// stream position it saw, so publications sent while wsmon was away are
// replayed by the server. Publications, join and leave pushes and async
// messages are the records; command replies, pings ({}), and the other
// pushes are control. One WebSocket frame may hold several replies, one
// per line.
package centrifugo

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
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/protocol"
)

// Name is the protocol's registry name.
const Name = "centrifugo"

// ReasonBadFrame is the Event.Reason of a record that is not a reply wsmon
// hands on (it cannot come from a session; only from a damaged journal).
const ReasonBadFrame = "bad_frame"

// Spec is Centrifugo's registry entry. Its WebSocket endpoint path,
// /connection/websocket, picks it under protocol auto; the server says
// nothing before the client's connect command.
func Spec() protocol.Spec {
	return protocol.Spec{
		Name:  Name,
		New:   New,
		Paths: []string{"/connection/websocket"},
	}
}

// Adapter is the Centrifugo adapter of one target. Its settings are
// immutable; the one mutable part is the last stream position seen per
// channel (guarded by mu), kept here rather than in a session so that the
// next connection can recover from it. Decode never reads it.
type Adapter struct {
	channels  []string
	token     string
	name      string
	data      json.RawMessage // connect data, nil for none
	joinLeave bool
	recover   bool

	replyChannel string // reply_channel: where automatic replies are published; "" for the room's
	replyJSON    bool   // reply_format "json": a reply is the publication's data

	mu  sync.Mutex
	pos map[string]position
}

// position is a channel's stream position: the offset of the last
// publication seen in the stream epoch.
type position struct {
	offset uint64
	epoch  string
}

// New builds a Centrifugo adapter from cfg.
//
// subscribe lists channels ("chat", "chat:room1"); it may be empty when the
// server subscribes the connection itself (channels in the token, user
// personal channels). auth.token is the connection JWT; username and
// password have no meaning here. Options: name (client name, default
// "wsmon"), connect_data (any JSON value sent as the connect command's
// data), join_leave (ask for join and leave pushes, default true),
// recover (subscribe recoverably and recover missed publications after a
// reconnect, default true), and for automatic replies reply_channel (the
// channel they are published to; default the answered message's, see
// Compose) and reply_format ("text": the data is the text as a JSON
// string; "json": the reply is the data).
func New(cfg protocol.Config) (protocol.Adapter, error) {
	if _, err := cfg.ParseURL(); err != nil {
		return nil, err
	}
	a := &Adapter{pos: map[string]position{}}
	for i, c := range cfg.Subscribe {
		switch {
		case c == "":
			return nil, fmt.Errorf("subscribe: entry %d is empty", i)
		case strings.TrimSpace(c) != c:
			return nil, fmt.Errorf("subscribe: channel %q has leading or trailing spaces", c)
		case !utf8.ValidString(c) || strings.IndexFunc(c, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
			return nil, fmt.Errorf("subscribe: channel %q holds a control character or invalid UTF-8", c)
		case slices.Contains(cfg.Subscribe[:i], c):
			return nil, fmt.Errorf("subscribe: channel %q is listed twice", c)
		}
	}
	a.channels = slices.Clone(cfg.Subscribe)
	if cfg.Auth.Username != "" || cfg.Auth.Password != "" {
		return nil, fmt.Errorf("auth: centrifugo takes a connection token (auth.token), not a username and password")
	}
	a.token = cfg.Auth.Token

	// connect_data is any JSON value, which the option reader does not
	// read; it is taken out before the others are.
	opts := maps.Clone(cfg.Options)
	if v, ok := opts["connect_data"]; ok {
		delete(opts, "connect_data")
		if v != nil {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("options.connect_data: %v", err)
			}
			a.data = b
		}
	}
	r := opts.Read()
	a.name = r.String("name", "wsmon")
	a.joinLeave = r.Bool("join_leave", true)
	a.recover = r.Bool("recover", true)
	a.replyChannel = r.String("reply_channel", "")
	a.replyJSON = r.OneOf("reply_format", "text", "text", "json") == "json"
	if err := r.Err(); err != nil {
		return nil, err
	}
	if cfg.Options["reply_channel"] != nil {
		if err := checkChannel(a.replyChannel); err != nil {
			return nil, fmt.Errorf("options.reply_channel: %v", err)
		}
	}
	return a, nil
}

// Name returns "centrifugo".
func (*Adapter) Name() string { return Name }

// Prepare asks for client protocol v2 in the URL (cf_protocol_version=v2):
// Centrifugo v4 set to serve v1 by default needs it; v5 and later speak
// only v2 and ignore it.
func (*Adapter) Prepare(_ context.Context, d *protocol.Dial) error {
	q := d.URL.Query()
	if q.Get("cf_protocol_version") == "" {
		u := *d.URL
		q.Set("cf_protocol_version", "v2")
		u.RawQuery = q.Encode()
		d.URL = &u
	}
	return nil
}

// Open sends the connect command and returns the session; subscriptions
// follow the connect reply.
func (a *Adapter) Open(ctx context.Context, c protocol.Conn) (protocol.Session, error) {
	s := newSession(a)
	if err := c.Write(ctx, protocol.Frame{Data: a.connectCommand()}); err != nil {
		return nil, err
	}
	return s, nil
}

// connectID is the id of the connect command; subscribe commands follow.
const connectID = 1

func (a *Adapter) connectCommand() []byte {
	type connect struct {
		Token string          `json:"token,omitempty"`
		Data  json.RawMessage `json:"data,omitempty"`
		Name  string          `json:"name,omitempty"`
	}
	b, _ := json.Marshal(struct {
		ID      uint32  `json:"id"`
		Connect connect `json:"connect"`
	}{connectID, connect{Token: a.token, Data: a.data, Name: a.name}})
	return b
}

// subscribeCommand is the subscribe command for channel, recovering from
// the last position seen when there is one.
func (a *Adapter) subscribeCommand(id uint32, channel string) []byte {
	type subscribe struct {
		Channel     string `json:"channel"`
		Recover     bool   `json:"recover,omitempty"`
		Epoch       string `json:"epoch,omitempty"`
		Offset      uint64 `json:"offset,omitempty"`
		Recoverable bool   `json:"recoverable,omitempty"`
		JoinLeave   bool   `json:"join_leave,omitempty"`
	}
	sub := subscribe{Channel: channel, Recoverable: a.recover, JoinLeave: a.joinLeave}
	if a.recover {
		if p, ok := a.position(channel); ok {
			sub.Recover, sub.Epoch, sub.Offset = true, p.epoch, p.offset
		}
	}
	b, _ := json.Marshal(struct {
		ID        uint32    `json:"id"`
		Subscribe subscribe `json:"subscribe"`
	}{id, sub})
	return b
}

func (a *Adapter) position(channel string) (position, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.pos[channel]
	return p, ok && p.epoch != ""
}

// setPosition records channel's stream position from a subscribe reply.
func (a *Adapter) setPosition(channel string, p position) {
	a.mu.Lock()
	a.pos[channel] = p
	a.mu.Unlock()
}

// advance records a publication's offset in channel and returns the
// channel's epoch ("" when unknown).
func (a *Adapter) advance(channel string, offset uint64) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.pos[channel]
	if !ok {
		return ""
	}
	if offset > p.offset {
		p.offset = offset
		a.pos[channel] = p
	}
	return p.epoch
}

// Record layout. A record is one reply line exactly as the server sent it,
// optionally preceded by a context line the session adds when the reply
// alone does not say everything Decode needs:
//
//	#{"channel":"chat","epoch":"xyzw"}\n{"push":{"channel":"chat","pub":{...}}}
//
// "channel" names the channel of a subscribe reply (replies carry only the
// command id) and "epoch" the stream epoch of a publication (pushes carry
// only the offset). Server replies are JSON objects, so a leading '#' is
// never ambiguous.
type recordContext struct {
	Channel string `json:"channel,omitempty"`
	Epoch   string `json:"epoch,omitempty"`
}

func withContext(ctx recordContext, line []byte) []byte {
	c, _ := json.Marshal(ctx)
	rec := make([]byte, 0, 2+len(c)+len(line))
	rec = append(rec, '#')
	rec = append(rec, c...)
	rec = append(rec, '\n')
	return append(rec, line...)
}

// splitContext returns a record's context and its reply line.
func splitContext(rec []byte) (recordContext, []byte, bool) {
	var ctx recordContext
	if len(rec) == 0 || rec[0] != '#' {
		return ctx, rec, true
	}
	c, line, ok := bytes.Cut(rec[1:], []byte{'\n'})
	if !ok || json.Unmarshal(c, &ctx) != nil {
		return ctx, rec, false
	}
	return ctx, line, true
}

// The JSON shapes wsmon reads. Unknown fields are ignored.
type (
	reply struct {
		ID        uint32           `json:"id"`
		Error     *replyError      `json:"error"`
		Push      *push            `json:"push"`
		Connect   *json.RawMessage `json:"connect"`
		Subscribe *subscribeResult `json:"subscribe"`
	}
	replyError struct {
		Code      uint32 `json:"code"`
		Message   string `json:"message"`
		Temporary bool   `json:"temporary"`
	}
	push struct {
		Channel     string           `json:"channel"`
		Pub         *publication     `json:"pub"`
		Join        *presence        `json:"join"`
		Leave       *presence        `json:"leave"`
		Message     *asyncMessage    `json:"message"`
		Unsubscribe *unsubscribe     `json:"unsubscribe"`
		Subscribe   *subscribeResult `json:"subscribe"`
		Disconnect  *disconnect      `json:"disconnect"`
	}
	publication struct {
		Data    json.RawMessage `json:"data"`
		Info    *clientInfo     `json:"info"`
		Offset  uint64          `json:"offset"`
		Epoch   string          `json:"epoch"`
		Channel string          `json:"channel"` // set for wildcard subscriptions
	}
	clientInfo struct {
		User     string          `json:"user"`
		ConnInfo json.RawMessage `json:"conn_info"`
	}
	presence struct {
		Info json.RawMessage `json:"info"`
	}
	asyncMessage struct {
		Data json.RawMessage `json:"data"`
	}
	unsubscribe struct {
		Code   uint32 `json:"code"`
		Reason string `json:"reason"`
	}
	disconnect struct {
		Code   uint32 `json:"code"`
		Reason string `json:"reason"`
	}
	subscribeResult struct {
		Epoch        string            `json:"epoch"`
		Offset       uint64            `json:"offset"`
		Recovered    bool              `json:"recovered"`
		Publications []json.RawMessage `json:"publications"`
	}
	connectResult struct {
		Client string `json:"client"`
		Pong   bool   `json:"pong"`
	}
)

// Decode turns a record into events:
//   - a publication push: Room is the channel, User the publisher's
//     info.user (else a name in its conn_info), ID channel:epoch:offset
//     when the stream has offsets and its epoch is known (so a replayed
//     publication is recognised), Payload the publication's data: a JSON
//     string becomes its text (Text), anything else stays JSON;
//   - a join or leave push: Name "join" or "leave", Room the channel, User
//     the client's user, Payload its client info;
//   - an async message push: Payload its data, as for publications;
//   - a subscribe reply with recovered publications: one event per
//     publication, as for pushes, Raw the publication.
//
// Raw is the reply line (for recovered publications, the publication
// itself). Any other record gives one event holding it all with Reason
// "bad_frame".
func (a *Adapter) Decode(rec protocol.Frame) []protocol.Event {
	ctx, line, ok := splitContext(rec.Data)
	var r reply
	if ok && json.Unmarshal(line, &r) == nil {
		switch {
		case r.Push != nil && r.Push.Pub != nil:
			return []protocol.Event{pubEvent(r.Push.Channel, ctx.Epoch, r.Push.Pub, line)}
		case r.Push != nil && (r.Push.Join != nil || r.Push.Leave != nil):
			name, p := "join", r.Push.Join
			if p == nil {
				name, p = "leave", r.Push.Leave
			}
			ev := protocol.Event{Room: r.Push.Channel, Name: name, Payload: p.Info, Raw: line}
			var info clientInfo
			if json.Unmarshal(p.Info, &info) == nil {
				ev.User = info.user()
			}
			return []protocol.Event{ev}
		case r.Push != nil && r.Push.Message != nil:
			ev := protocol.Event{Raw: line}
			ev.Payload, ev.Text = payload(r.Push.Message.Data)
			return []protocol.Event{ev}
		case r.ID != 0 && r.Subscribe != nil && len(r.Subscribe.Publications) > 0 && ctx.Channel != "":
			evs := make([]protocol.Event, 0, len(r.Subscribe.Publications))
			for _, raw := range r.Subscribe.Publications {
				var p publication
				if json.Unmarshal(raw, &p) != nil {
					evs = append(evs, protocol.Event{Room: ctx.Channel, Payload: raw, Raw: raw, Reason: ReasonBadFrame})
					continue
				}
				evs = append(evs, pubEvent(ctx.Channel, r.Subscribe.Epoch, &p, raw))
			}
			return evs
		}
	}
	return []protocol.Event{{Payload: rec.Data, Raw: rec.Data, Binary: !utf8.Valid(rec.Data), Reason: ReasonBadFrame}}
}

// pubEvent is the event of publication p in channel, whose stream epoch is
// epoch when known.
func pubEvent(channel, epoch string, p *publication, raw []byte) protocol.Event {
	if p.Channel != "" {
		channel = p.Channel
	}
	if p.Epoch != "" {
		epoch = p.Epoch
	}
	ev := protocol.Event{Room: channel, Raw: raw}
	ev.Payload, ev.Text = payload(p.Data)
	if p.Info != nil {
		ev.User = p.Info.user()
	}
	if p.Offset > 0 && epoch != "" {
		ev.ID = channel + ":" + epoch + ":" + strconv.FormatUint(p.Offset, 10)
	}
	return ev
}

// payload returns the chat document of a data field: a JSON string
// decoded once (plain text), any other JSON value as it is.
func payload(data json.RawMessage) ([]byte, bool) {
	d := bytes.TrimSpace(data)
	if len(d) > 0 && d[0] == '"' {
		var s string
		if json.Unmarshal(d, &s) == nil {
			return []byte(s), true
		}
	}
	if bytes.Equal(d, []byte("null")) {
		return nil, false
	}
	return data, false
}

// user returns the client's user id, else a name from its connection info
// (conn_info.name, .username or .user), else "".
func (c *clientInfo) user() string {
	if c.User != "" {
		return c.User
	}
	var ci map[string]json.RawMessage
	if json.Unmarshal(c.ConnInfo, &ci) != nil {
		return ""
	}
	for _, k := range []string{"name", "username", "user"} {
		var s string
		if json.Unmarshal(ci[k], &s) == nil && s != "" {
			return s
		}
	}
	return ""
}

// CloseError says what a WebSocket close code from the server means. Over
// WebSocket, Centrifugo sends its disconnects as close frames (a bad
// token is close 3500 "invalid token", a missing one 3501 "bad request"),
// which only the capture runner sees; this is for it to ask. Codes
// 3500-3999 and 4500-4999 ask clients not to reconnect: a *Refusal. Codes
// 3000-3499 and 4000-4499 ask them to reconnect: a plain error. Others:
// nil, the runner's own rules apply.
func (*Adapter) CloseError(code int, reason string) error {
	switch {
	case code < 0:
		return nil
	case terminal(uint32(code)):
		return protocol.Refuse(Name, "server closed with %d (%s): Centrifugo asks clients not to reconnect", code, reason)
	case code >= 3000 && code < 5000:
		return fmt.Errorf("centrifugo: server closed with %d (%s)", code, reason)
	}
	return nil
}
