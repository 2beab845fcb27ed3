// Package stomp is the adapter for STOMP 1.0, 1.1 and 1.2 over WebSocket
// (RabbitMQ web-stomp, Spring's STOMP broker, ActiveMQ), directly or
// through a SockJS endpoint's websocket transport.
//
// After the upgrade the session sends CONNECT (login and passcode from
// auth, the heart-beats it wants); on CONNECTED it negotiates heart-beats
// and subscribes to every configured destination. MESSAGE frames are the
// records; CONNECTED, RECEIPT, ERROR and heart-beats are control. Frames
// are reassembled from the byte stream, so several frames in one WebSocket
// frame and one frame split over several both work.
package stomp

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/protocol"
)

// Name is the protocol's registry name.
const Name = "stomp"

// ReasonBadFrame is the Event.Reason of a record that is not a MESSAGE
// frame (it cannot come from a session; only from a damaged journal).
const ReasonBadFrame = "bad_frame"

// Subprotocols are the WebSocket subprotocols of STOMP, newest first.
var subprotocols = []string{"v12.stomp", "v11.stomp", "v10.stomp"}

// Spec is the STOMP protocol's registry entry. A URL path containing
// /stomp, or a server accepting one of the v1x.stomp subprotocols, picks
// it under protocol auto; the server says nothing first.
func Spec() protocol.Spec {
	return protocol.Spec{
		Name:         Name,
		New:          New,
		Subprotocols: slices.Clone(subprotocols),
		Paths:        []string{"/stomp"},
	}
}

// Ack modes of SUBSCRIBE.
const (
	ackAuto           = "auto"
	ackClient         = "client"
	ackClientIndivual = "client-individual"
)

// Adapter is the STOMP adapter of one target. It is immutable and safe for
// concurrent use.
type Adapter struct {
	destinations []string
	host         string
	hostDefault  bool // host is the URL's, not options.host
	login        string
	passcode     string
	hasLogin     bool
	hbSend       int // heart-beat cx we offer, ms
	hbRecv       int // heart-beat cy we want, ms
	ack          string
	userHeader   string
	text         bool // payload_format "text": bodies are never parsed as JSON
	sockjs       bool

	replyDestination string // reply_destination: where automatic replies are sent; "" for the room's
}

// New builds a STOMP adapter from cfg: subscribe lists the destinations
// (at least one); auth.username and auth.password are sent as login and
// passcode; options are host (default the URL's host name), heart_beat
// ("cx,cy" in ms, default "10000,10000"), ack (auto, client or
// client-individual), user_header (a MESSAGE header naming the sender),
// payload_format ("auto" or "text", default "auto"), sockjs (default:
// true when the URL path ends in /<server>/<session>/websocket) and
// reply_destination (where automatic replies are sent; default the
// answered message's destination, see Compose).
func New(cfg protocol.Config) (protocol.Adapter, error) {
	u, err := cfg.ParseURL()
	if err != nil {
		return nil, err
	}
	a := &Adapter{}
	if len(cfg.Subscribe) == 0 {
		return nil, fmt.Errorf("subscribe: stomp needs at least one destination to subscribe to (e.g. /topic/chat)")
	}
	for i, d := range cfg.Subscribe {
		switch {
		case strings.TrimSpace(d) == "":
			return nil, fmt.Errorf("subscribe: entry %d is empty", i)
		case strings.ContainsAny(d, "\x00\r\n"):
			return nil, fmt.Errorf("subscribe: destination %q holds a NUL or line break", d)
		case slices.Contains(cfg.Subscribe[:i], d):
			return nil, fmt.Errorf("subscribe: destination %q is listed twice", d)
		}
	}
	a.destinations = slices.Clone(cfg.Subscribe)

	switch {
	case cfg.Auth.Token != "":
		return nil, fmt.Errorf("auth: stomp has no token login; a broker that takes a token as passcode wants it in auth.password")
	case cfg.Auth.Password != "" && cfg.Auth.Username == "":
		return nil, fmt.Errorf("auth: password without username (stomp sends them as login and passcode)")
	case strings.ContainsAny(cfg.Auth.Username+cfg.Auth.Password, "\x00\r\n"):
		return nil, fmt.Errorf("auth: username and password must not hold NUL or line breaks (STOMP CONNECT headers are not escaped)")
	case strings.Contains(cfg.Auth.Username, ":"):
		return nil, fmt.Errorf("auth: username must not hold a colon (STOMP CONNECT headers are not escaped)")
	}
	a.login, a.passcode, a.hasLogin = cfg.Auth.Username, cfg.Auth.Password, cfg.Auth.Username != ""

	r := cfg.Options.Read()
	_, ownHost := cfg.Options["host"]
	a.host, a.hostDefault = r.String("host", u.Hostname()), !ownHost
	hb := r.String("heart_beat", "10000,10000")
	a.ack = r.OneOf("ack", ackAuto, ackAuto, ackClient, ackClientIndivual)
	a.userHeader = r.String("user_header", "")
	a.text = r.OneOf("payload_format", "auto", "auto", "text") == "text"
	_, auto := sockjsSuffix(u.Path)
	a.sockjs = r.Bool("sockjs", auto)
	a.replyDestination = r.String("reply_destination", "")
	if err := r.Err(); err != nil {
		return nil, err
	}
	if cfg.Options["reply_destination"] != nil {
		if err := checkDestination(a.replyDestination); err != nil {
			return nil, fmt.Errorf("options.reply_destination: %v", err)
		}
	}
	if strings.ContainsAny(a.userHeader, "\x00\r\n:") {
		return nil, fmt.Errorf("options.user_header: must be a header name (no colons or line breaks), got %q", a.userHeader)
	}
	if strings.ContainsAny(a.host, "\x00\r\n") {
		return nil, fmt.Errorf("options.host: must not hold NUL or line breaks")
	}
	if a.hbSend, a.hbRecv, err = parseHeartBeat(hb); err != nil {
		return nil, fmt.Errorf("options.heart_beat: %v", err)
	}
	return a, nil
}

// parseHeartBeat reads a heart-beat header value "cx,cy" (milliseconds).
func parseHeartBeat(s string) (x, y int, err error) {
	a, b, ok := strings.Cut(s, ",")
	if ok {
		x, err = strconv.Atoi(strings.TrimSpace(a))
		if err == nil {
			y, err = strconv.Atoi(strings.TrimSpace(b))
		}
	}
	if !ok || err != nil || x < 0 || y < 0 || x > 1<<30 || y > 1<<30 {
		return 0, 0, fmt.Errorf("must be two non-negative numbers of milliseconds \"cx,cy\", got %q", s)
	}
	return x, y, nil
}

// Name returns "stomp".
func (*Adapter) Name() string { return Name }

// Prepare offers the STOMP subprotocols, or for SockJS points the URL at a
// fresh session of the endpoint's websocket transport (SockJS uses no
// subprotocol).
func (a *Adapter) Prepare(_ context.Context, d *protocol.Dial) error {
	if a.sockjs {
		d.URL = sockjsURL(d.URL)
		return nil
	}
	for _, p := range subprotocols {
		if !slices.Contains(d.Subprotocols, p) {
			d.Subprotocols = append(d.Subprotocols, p)
		}
	}
	return nil
}

// Open sends CONNECT (for SockJS it waits for the server's open frame
// first, as SockJS requires) and returns the session.
func (a *Adapter) Open(ctx context.Context, c protocol.Conn) (protocol.Session, error) {
	s := newSession(a)
	if !a.sockjs {
		if err := c.Write(ctx, protocol.Frame{Data: a.connectFrame()}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// connectFrame is the CONNECT frame. Its headers are never escaped (STOMP
// 1.2 says so for CONNECT; New refused values that would need it).
func (a *Adapter) connectFrame() []byte {
	h := [][2]string{
		{"accept-version", "1.0,1.1,1.2"},
		{"host", a.host},
	}
	if a.hasLogin {
		h = append(h, [2]string{"login", a.login}, [2]string{"passcode", a.passcode})
	}
	h = append(h, [2]string{"heart-beat", strconv.Itoa(a.hbSend) + "," + strconv.Itoa(a.hbRecv)})
	return encode("", "CONNECT", h, nil)
}

// Decode turns a MESSAGE frame record into its event: Room is the
// destination header as sent ("/topic/chat"), ID the message-id header,
// User the user_header option's header (if set and present), Payload the
// body (content-length bytes when given). With payload_format "text", or a
// text/plain content-type, the payload is plain text (never parsed as
// JSON); otherwise the normaliser reads JSON when the body looks like it. A body that is not UTF-8 is
// marked Binary. Raw is the whole frame.
//
// Header values are unescaped as STOMP 1.1/1.2 escape them; an undefined
// escape is kept as written, so the rare 1.0 header holding a backslash
// reads as sent unless it looks like an escape.
//
// A record that is not a MESSAGE frame gives one event holding it all with
// Reason "bad_frame".
func (a *Adapter) Decode(rec protocol.Frame) []protocol.Event {
	_, skip := skipEOLs(rec.Data)
	f, _, _, err := parseFrame(rec.Data[skip:])
	if err != nil || string(f.command) != "MESSAGE" {
		return []protocol.Event{{Payload: rec.Data, Raw: rec.Data, Binary: rec.Binary || !utf8.Valid(rec.Data), Reason: ReasonBadFrame}}
	}
	ev := protocol.Event{Payload: f.body, Raw: rec.Data, Binary: !utf8.Valid(f.body), Text: a.text}
	ev.Room, _ = f.get("destination", "")
	ev.ID, _ = f.get("message-id", "")
	if a.userHeader != "" {
		ev.User, _ = f.get(a.userHeader, "")
	}
	if ct, ok := f.get("content-type", ""); ok && isPlainText(ct) {
		ev.Text = true
	}
	return []protocol.Event{ev}
}

// receiptIndex returns the index of the destination whose SUBSCRIBE asked
// for receipt id ("sub-<index>").
func (a *Adapter) receiptIndex(id string) (int, bool) {
	n, ok := strings.CutPrefix(id, "sub-")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 || i >= len(a.destinations) || strconv.Itoa(i) != n {
		return 0, false
	}
	return i, true
}

// isPlainText reports whether a content-type is text/plain (with any
// parameters).
func isPlainText(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/plain")
}

// refusalWords mark an ERROR frame's message as a refusal that retrying
// cannot fix: bad credentials, a vhost or destination the user may not
// use, a subscription the broker rejects.
var refusalWords = []string{
	"access refused", "access denied", "not authorized", "not authorised",
	"unauthorized", "unauthorised", "authentication", "login", "passcode",
	"password", "credentials", "permission", "forbidden", "denied",
	"destination", "subscri", "not found", "virtual host", "vhost",
}

// isRefusal reports whether an ERROR frame's message header names a
// refusal (case and '_' for ' ' ignored: RabbitMQ passes AMQP's
// ACCESS_REFUSED and NOT_FOUND on).
func isRefusal(msg string) bool {
	m := strings.ReplaceAll(strings.ToLower(msg), "_", " ")
	return slices.ContainsFunc(refusalWords, func(w string) bool { return strings.Contains(m, w) })
}

// errorText is the reason shown for an ERROR frame: its message header and
// the first line of its body.
func errorText(f *frame, version string) string {
	msg, _ := f.get("message", version)
	body := bytes.TrimSpace(f.body)
	if i := bytes.IndexAny(body, "\r\n"); i >= 0 {
		body = body[:i]
	}
	if len(body) > 200 {
		body = body[:200]
	}
	switch {
	case msg == "" && len(body) == 0:
		return "ERROR frame"
	case len(body) == 0 || string(body) == msg:
		return msg
	case msg == "":
		return string(body)
	}
	return msg + ": " + string(body)
}
