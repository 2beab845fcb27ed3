package nats

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
)

// maxLine bounds a control line still waiting for its '\n' (INFO lines of
// big clusters list many URLs; nothing legitimate comes near this).
const maxLine = 1 << 20

// keepBuf is the most buffer capacity an idle session keeps.
const keepBuf = 64 << 10

// defaultMaxPayload is nats-server's default max_payload, used until INFO
// says otherwise.
const defaultMaxPayload = 1 << 20

var pong = []byte("PONG\r\n")

// session is one NATS connection. Only Feed touches it (Tick does nothing),
// so it needs no lock.
type session struct {
	a *Adapter

	// buf holds the bytes of an operation not yet complete, from buf[off:].
	// Records of the previous Feed may alias buf[:off]; they are dropped at
	// the start of the next Feed, when the runner is done with them.
	buf []byte
	off int

	gotInfo    bool // the first INFO arrived and CONNECT, SUBs, PING were sent
	ready      bool // the PONG to that PING arrived
	maxPayload int  // from INFO
}

func (*session) Protocol() string                       { return Name }
func (s *session) Ready() bool                          { return s.ready }
func (*session) Heartbeat() time.Duration               { return 0 }
func (*session) Tick(time.Time, *protocol.Output) error { return nil }

// Feed consumes one WebSocket frame of the server's byte stream.
func (s *session) Feed(f protocol.Frame, out *protocol.Output) error {
	if s.off > 0 {
		s.buf = s.buf[:copy(s.buf, s.buf[s.off:])]
		s.off = 0
	}
	if len(s.buf) == 0 && cap(s.buf) > keepBuf {
		s.buf = nil // do not hold on to the memory of one big message
	}
	p, buffered := f.Data, len(s.buf) > 0
	if buffered {
		s.buf = append(s.buf, f.Data...)
		p = s.buf
	}
	n, err := s.parse(p, f.Binary, out)
	if err != nil {
		return err
	}
	if buffered {
		s.off = n
	} else {
		s.buf = append(s.buf[:0], p[n:]...)
	}
	return nil
}

// parse handles the complete operations at the start of p and returns how
// many bytes they took; the rest is an incomplete operation.
func (s *session) parse(p []byte, binary bool, out *protocol.Output) (int, error) {
	i := 0
	for i < len(p) {
		nl := bytes.IndexByte(p[i:], '\n')
		if nl < 0 {
			if len(p)-i > maxLine {
				return i, fmt.Errorf("nats: control line longer than %d bytes", maxLine)
			}
			return i, nil
		}
		lineEnd := i + nl + 1
		op, args := splitOp(p[i : lineEnd-1])
		switch strings.ToUpper(op) {
		case "MSG", "HMSG":
			h, err := parseMsgArgs(op, args)
			if err != nil {
				return i, fmt.Errorf("nats: bad %s: %v", op, err)
			}
			if limit := max(s.maxPayload, defaultMaxPayload); h.total > limit {
				return i, fmt.Errorf("nats: %s of %d bytes exceeds the server's max_payload %d", op, h.total, limit)
			}
			end := lineEnd + h.total + 2
			if end > len(p) {
				return i, nil // wait for the rest of the payload
			}
			if p[end-2] != '\r' || p[end-1] != '\n' {
				return i, fmt.Errorf("nats: %s payload of %d bytes not followed by CRLF", op, h.total)
			}
			s.message(p[i:end], p[lineEnd:lineEnd+h.hdr], h, binary, out)
			i = end
			continue
		case "PING":
			out.Reply(true, pong)
			out.Ctrl(binary, p[i:lineEnd])
		case "PONG":
			out.Ctrl(binary, p[i:lineEnd])
			if s.gotInfo {
				s.ready = true
			}
		case "+OK":
			out.Ctrl(binary, p[i:lineEnd])
		case "-ERR":
			out.Ctrl(binary, p[i:lineEnd])
			if err := serverError(string(args)); err != nil {
				return lineEnd, err
			}
		case "INFO":
			out.Ctrl(binary, p[i:lineEnd])
			if err := s.info(args, out); err != nil {
				return lineEnd, err
			}
		default:
			return i, fmt.Errorf("nats: unknown operation %q", truncate(op, 32))
		}
		i = lineEnd
	}
	return i, nil
}

// message hands on a whole MSG or HMSG, except JetStream's status messages
// without payload (idle heartbeats, flow control), which are control; a
// flow control request is answered so that the stream keeps flowing.
func (s *session) message(op, hdrs []byte, h msgHead, binary bool, out *protocol.Output) {
	if h.hasHdr && h.total == h.hdr {
		if code, desc := status(hdrs); code != 0 {
			out.Ctrl(binary, op)
			if code == 100 && h.reply != "" && strings.Contains(strings.ToLower(desc), "flow") {
				out.Reply(true, []byte("PUB "+h.reply+" 0\r\n\r\n"))
			}
			return
		}
	}
	out.Record(binary, op)
}

// serverInfo is what wsmon reads of INFO.
type serverInfo struct {
	MaxPayload int64 `json:"max_payload"`
	Headers    bool  `json:"headers"`
}

// info handles INFO: the first one starts the handshake (CONNECT, SUBs and
// PING in one frame); later ones (cluster changes, lame duck mode) only
// update what they say. In lame duck mode the server stops accepting
// connections and will soon close this one; the session keeps capturing
// until it does, and the runner's reconnect then finds a server again.
func (s *session) info(args []byte, out *protocol.Output) error {
	var in serverInfo
	if err := json.Unmarshal(args, &in); err != nil {
		return fmt.Errorf("nats: bad INFO: %v", err)
	}
	if in.MaxPayload > 0 {
		s.maxPayload = int(min(in.MaxPayload, maxSize))
	}
	if !s.gotInfo {
		s.gotInfo = true
		out.Reply(true, s.a.connectOp(in.Headers))
	}
	return nil
}

// serverError turns a -ERR into the session's end: a *protocol.Refusal for
// what retrying cannot fix (credentials, permissions, an invalid
// subscription), a plain error (the runner reconnects) for the rest
// (stale connection, slow consumer, connection limits, parser errors).
// A publish permission violation does not end the connection (wsmon only
// publishes flow control replies) and gives nil.
func serverError(args string) error {
	msg := strings.Trim(strings.TrimSpace(args), "'")
	l := strings.ToLower(msg)
	switch {
	case strings.HasPrefix(l, "permissions violation for subscription"):
		return protocol.Refuse(Name, "%s", msg)
	case strings.HasPrefix(l, "permissions violation"):
		return nil
	case strings.Contains(l, "authorization violation"):
		return protocol.Refuse(Name, "%s (check auth.username and auth.password, or auth.token)", msg)
	case strings.Contains(l, "authentication expired"), strings.Contains(l, "authentication revoked"),
		strings.Contains(l, "tls required"), strings.Contains(l, "invalid subject"),
		strings.Contains(l, "invalid queue"), strings.Contains(l, "maximum subscriptions exceeded"),
		strings.Contains(l, "account required"), strings.Contains(l, "no responders requires headers"):
		return protocol.Refuse(Name, "%s", msg)
	}
	return fmt.Errorf("nats: server error: %s", truncate(msg, 200))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// CloseError says what a WebSocket close code from the server means.
// nats-server closes with 1008 (policy violation) for refusals and for
// conditions that pass, and names the condition in the reason; this is
// for the capture runner to ask. Credential and account failures are a
// *Refusal; a slow consumer, connection limits and an authentication
// timeout are a plain error (reconnect); anything else is nil, the
// runner's own rules apply.
func (*Adapter) CloseError(code int, reason string) error {
	if code != 1008 {
		return nil
	}
	l := strings.ToLower(reason)
	switch {
	case strings.Contains(l, "authentication failure"), strings.Contains(l, "authentication expired"),
		strings.Contains(l, "revoked"), strings.Contains(l, "missing account"),
		strings.Contains(l, "maximum subscriptions exceeded"):
		return protocol.Refuse(Name, "server closed with %d: %s", code, reason)
	case strings.Contains(l, "slow consumer"), strings.Contains(l, "connections exceeded"),
		strings.Contains(l, "authentication timeout"), strings.Contains(l, "control line exceeded"):
		return fmt.Errorf("nats: server closed with %d: %s", code, reason)
	}
	return nil
}
