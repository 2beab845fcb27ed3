// Package nats is the adapter for the NATS client protocol over WebSocket
// (nats-server's websocket listener, the transport nats.ws uses).
//
// The server speaks first: INFO. The session answers with CONNECT
// (credentials from auth), one SUB per configured subject and a PING; the
// server's PONG to that PING confirms the handshake and every
// subscription. Server PINGs are answered with PONG at once. MSG and HMSG
// operations are the records, each one whole operation (control line,
// headers, payload and the closing CRLF); INFO, PING, PONG, +OK and -ERR
// are control. The WebSocket carries a byte stream: operations are
// reassembled across frames and split when a frame holds several.
package nats

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/protocol"
)

// Name is the protocol's registry name.
const Name = "nats"

// ReasonBadFrame is the Event.Reason of a record that is not a whole MSG
// or HMSG operation (it cannot come from a session; only from a damaged
// journal).
const ReasonBadFrame = "bad_frame"

// MsgIDHeader is the header whose value becomes the message's own id (the
// JetStream de-duplication id publishers set).
const MsgIDHeader = "Nats-Msg-Id"

// Spec is the NATS protocol's registry entry. nats-server has no fixed
// WebSocket path and no subprotocol; under protocol auto it is recognised
// by its first frame, INFO {...}.
func Spec() protocol.Spec {
	return protocol.Spec{Name: Name, New: New, Sniff: sniff}
}

// sniff reports whether the server's first frame is a NATS INFO.
func sniff(f protocol.Frame) bool {
	d := f.Data
	if len(d) < 6 || !strings.EqualFold(string(d[:4]), "INFO") {
		return false
	}
	i := 4
	for i < len(d) && (d[i] == ' ' || d[i] == '\t') {
		i++
	}
	return i > 4 && i < len(d) && d[i] == '{'
}

// subscription is one subscribe entry: a subject, with an optional queue
// group.
type subscription struct {
	subject string
	queue   string
}

// Adapter is the NATS adapter of one target. It is immutable and safe for
// concurrent use.
type Adapter struct {
	subs       []subscription
	user, pass string
	token      string
	name       string
	headers    bool   // ask for headers (HMSG) when the server supports them
	text       bool   // payload_format "text": payloads are never parsed as JSON
	userHeader string // header naming the sender, "" for none

	replySubject string // reply_subject: where automatic replies are published; "" for the room's
}

// New builds a NATS adapter from cfg.
//
// subscribe lists subjects (at least one), wildcards allowed ("chat.*",
// "chat.>"); an entry "subject queue" subscribes in queue group queue
// (then wsmon gets only its share of the messages). auth.username and
// auth.password are sent as user and pass, or auth.token as auth_token.
// Options: name (client name, default "wsmon"), headers (ask for message
// headers, default true), payload_format ("auto" or "text", default
// "auto"), user_header (a message header naming the sender) and
// reply_subject (the subject automatic replies are published to, no
// wildcards; default the answered message's subject, see Compose).
func New(cfg protocol.Config) (protocol.Adapter, error) {
	a := &Adapter{}
	if len(cfg.Subscribe) == 0 {
		return nil, fmt.Errorf("subscribe: nats needs at least one subject to subscribe to (e.g. chat.> or \"chat.room1 workers\" for a queue group)")
	}
	for i, e := range cfg.Subscribe {
		s, err := parseSubscription(e)
		if err != nil {
			return nil, fmt.Errorf("subscribe: entry %d (%q): %v", i, e, err)
		}
		if slices.ContainsFunc(a.subs, func(o subscription) bool { return o == s }) {
			return nil, fmt.Errorf("subscribe: %q is listed twice", e)
		}
		a.subs = append(a.subs, s)
	}

	au := cfg.Auth
	switch {
	case au.Token != "" && (au.Username != "" || au.Password != ""):
		return nil, fmt.Errorf("auth: nats takes either a token or a username and password, not both")
	case au.Password != "" && au.Username == "":
		return nil, fmt.Errorf("auth: password without username")
	case au.Username != "" && au.Password == "":
		return nil, fmt.Errorf("auth: username without password")
	}
	a.user, a.pass, a.token = au.Username, au.Password, au.Token

	r := cfg.Options.Read()
	a.name = r.String("name", "wsmon")
	a.headers = r.Bool("headers", true)
	a.text = r.OneOf("payload_format", "auto", "auto", "text") == "text"
	a.userHeader = r.String("user_header", "")
	a.replySubject = r.String("reply_subject", "")
	if err := r.Err(); err != nil {
		return nil, err
	}
	if cfg.Options["reply_subject"] != nil {
		if err := checkPublishSubject(a.replySubject); err != nil {
			return nil, fmt.Errorf("options.reply_subject: %v", err)
		}
	}
	if strings.ContainsAny(a.userHeader, " \t\r\n:") {
		return nil, fmt.Errorf("options.user_header: must be a header name (no spaces, colons or line breaks), got %q", a.userHeader)
	}
	return a, nil
}

// parseSubscription reads a subscribe entry "subject" or "subject queue".
func parseSubscription(e string) (subscription, error) {
	f := strings.Fields(e)
	switch len(f) {
	case 0:
		return subscription{}, fmt.Errorf("empty")
	case 1, 2:
	default:
		return subscription{}, fmt.Errorf("want \"subject\" or \"subject queue\"")
	}
	s := subscription{subject: f[0]}
	if len(f) == 2 {
		s.queue = f[1]
	}
	if err := checkSubject(s.subject); err != nil {
		return subscription{}, err
	}
	if strings.IndexFunc(s.queue, isCtl) >= 0 {
		return subscription{}, fmt.Errorf("queue group %q holds a control character", s.queue)
	}
	return s, nil
}

func isCtl(r rune) bool { return r < 0x20 || r == 0x7f }

// checkSubject checks a subscription subject as nats-server does: tokens
// separated by dots, none empty, and the ">" wildcard only as the last
// token ("*" and ">" are wildcards only as whole tokens; inside a longer
// token they are literal).
func checkSubject(s string) error {
	if strings.IndexFunc(s, isCtl) >= 0 {
		return fmt.Errorf("subject holds a control character")
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		switch {
		case t == "":
			return fmt.Errorf("subject %q has an empty token (leading, trailing or double dot)", s)
		case t == ">" && i != len(toks)-1:
			return fmt.Errorf("subject %q: \">\" must be the last token", s)
		}
	}
	return nil
}

// Name returns "nats".
func (*Adapter) Name() string { return Name }

// Prepare changes nothing: nats-server takes the WebSocket on any path and
// uses no subprotocol.
func (*Adapter) Prepare(context.Context, *protocol.Dial) error { return nil }

// Open sends nothing (the server speaks first; CONNECT answers its INFO)
// and returns the session.
func (a *Adapter) Open(context.Context, protocol.Conn) (protocol.Session, error) {
	return &session{a: a}, nil
}

// connectOp is the CONNECT operation, shaped by the server's INFO: headers
// are asked for only when the server supports them.
func (a *Adapter) connectOp(serverHeaders bool) []byte {
	type connect struct {
		Verbose      bool   `json:"verbose"`
		Pedantic     bool   `json:"pedantic"`
		Name         string `json:"name,omitempty"`
		Lang         string `json:"lang"`
		Version      string `json:"version"`
		Protocol     int    `json:"protocol"`
		Headers      bool   `json:"headers"`
		NoResponders bool   `json:"no_responders"`
		User         string `json:"user,omitempty"`
		Pass         string `json:"pass,omitempty"`
		AuthToken    string `json:"auth_token,omitempty"`
	}
	b, _ := json.Marshal(connect{
		Name:      a.name,
		Lang:      "go",
		Version:   "wsmon",
		Protocol:  1,
		Headers:   a.headers && serverHeaders,
		User:      a.user,
		Pass:      a.pass,
		AuthToken: a.token,
	})
	op := make([]byte, 0, len(b)+64)
	op = append(op, "CONNECT "...)
	op = append(op, b...)
	op = append(op, "\r\n"...)
	for i, s := range a.subs {
		op = append(op, "SUB "...)
		op = append(op, s.subject...)
		if s.queue != "" {
			op = append(op, ' ')
			op = append(op, s.queue...)
		}
		op = append(op, ' ')
		op = strconv.AppendInt(op, int64(i+1), 10)
		op = append(op, "\r\n"...)
	}
	return append(op, "PING\r\n"...)
}

// Decode turns a MSG or HMSG record into its event: Room is the subject,
// ID the Nats-Msg-Id header (HMSG), User the user_header option's header,
// Payload the payload bytes exactly as published. A payload that is not
// UTF-8 is marked Binary; with payload_format "text" the payload is plain
// text, never parsed as JSON. Raw is the whole operation.
//
// A record that is not one whole MSG or HMSG gives one event holding it all
// with Reason "bad_frame".
func (a *Adapter) Decode(rec protocol.Frame) []protocol.Event {
	m, err := parseMsg(rec.Data)
	if err != nil {
		return []protocol.Event{{Payload: rec.Data, Raw: rec.Data, Binary: !utf8.Valid(rec.Data), Reason: ReasonBadFrame}}
	}
	ev := protocol.Event{
		Room:    m.subject,
		Payload: m.payload,
		Raw:     rec.Data,
		Binary:  !utf8.Valid(m.payload),
		Text:    a.text,
	}
	if m.headers != nil {
		ev.ID = headerValue(m.headers, MsgIDHeader)
		if a.userHeader != "" {
			ev.User = headerValue(m.headers, a.userHeader)
		}
	}
	return []protocol.Event{ev}
}

// msg is a parsed MSG or HMSG operation. Its slices alias the operation.
type msg struct {
	subject string
	reply   string
	headers []byte // the header block of an HMSG ("NATS/1.0...\r\n\r\n"), nil for MSG
	payload []byte
}

// parseMsg parses one whole MSG or HMSG operation, closing CRLF included.
func parseMsg(d []byte) (msg, error) {
	nl := bytes.IndexByte(d, '\n')
	if nl < 0 {
		return msg{}, fmt.Errorf("no control line")
	}
	op, args := splitOp(d[:nl])
	h, err := parseMsgArgs(op, args)
	if err != nil {
		return msg{}, err
	}
	body := d[nl+1:]
	if len(body) != h.total+2 || body[h.total] != '\r' || body[h.total+1] != '\n' {
		return msg{}, fmt.Errorf("payload is not %d bytes followed by CRLF", h.total)
	}
	m := msg{subject: h.subject, reply: h.reply, payload: body[h.hdr:h.total]}
	if h.hasHdr {
		m.headers = body[:h.hdr]
	}
	return m, nil
}

// msgHead is the control line of a MSG or HMSG.
type msgHead struct {
	subject, reply string
	hasHdr         bool
	hdr, total     int // header bytes (0 for MSG) and header+payload bytes
}

// maxSize bounds a declared message size: the largest max_payload
// nats-server accepts is 64 MiB.
const maxSize = 64 << 20

// parseMsgArgs reads the arguments of a MSG ("subject sid [reply] size")
// or HMSG ("subject sid [reply] hdr_size total_size") control line.
func parseMsgArgs(op string, args []byte) (msgHead, error) {
	f := strings.Fields(string(args))
	var h msgHead
	switch {
	case strings.EqualFold(op, "MSG"):
		if len(f) != 3 && len(f) != 4 {
			return h, fmt.Errorf("MSG wants 3 or 4 arguments, got %d", len(f))
		}
	case strings.EqualFold(op, "HMSG"):
		if len(f) != 4 && len(f) != 5 {
			return h, fmt.Errorf("HMSG wants 4 or 5 arguments, got %d", len(f))
		}
		h.hasHdr = true
	default:
		return h, fmt.Errorf("not a MSG or HMSG: %q", op)
	}
	h.subject = f[0]
	n := len(f)
	total, err := size(f[n-1])
	if err != nil {
		return h, err
	}
	h.total = total
	rest := f[2 : n-1]
	if h.hasHdr {
		if h.hdr, err = size(f[n-2]); err != nil {
			return h, err
		}
		if h.hdr > h.total {
			return h, fmt.Errorf("header size %d exceeds total size %d", h.hdr, h.total)
		}
		rest = f[2 : n-2]
	}
	if len(rest) == 1 {
		h.reply = rest[0]
	}
	return h, nil
}

// size parses a byte count of a control line.
func size(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || s[0] == '+' {
		return 0, fmt.Errorf("bad size %q", s)
	}
	if n > maxSize {
		return 0, fmt.Errorf("size %d exceeds %d", n, maxSize)
	}
	return n, nil
}

// splitOp splits a control line (without its '\n') into the operation name
// and its arguments, dropping a trailing '\r'.
func splitOp(line []byte) (op string, args []byte) {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	i := bytes.IndexAny(line, " \t")
	if i < 0 {
		return string(line), nil
	}
	return string(line[:i]), bytes.TrimLeft(line[i:], " \t")
}

// headerValue returns the first value of header key (ASCII case ignored) in
// a NATS header block, trimmed, or "".
func headerValue(block []byte, key string) string {
	lines := bytes.Split(block, []byte("\r\n"))
	for _, l := range lines[min(1, len(lines)):] { // the first line is NATS/1.0 [status]
		k, v, ok := bytes.Cut(l, []byte{':'})
		if ok && strings.EqualFold(string(bytes.TrimSpace(k)), key) {
			return string(bytes.TrimSpace(v))
		}
	}
	return ""
}

// status returns the status code and description of a header block's first
// line ("NATS/1.0 100 Idle Heartbeat"), 0 when there is none.
func status(block []byte) (int, string) {
	line, _, _ := bytes.Cut(block, []byte("\r\n"))
	f := strings.Fields(string(line))
	if len(f) < 2 || !strings.HasPrefix(f[0], "NATS/") {
		return 0, ""
	}
	code, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, ""
	}
	return code, strings.Join(f[2:], " ")
}
