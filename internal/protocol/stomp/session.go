package stomp

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
)

// deadAfter is how many negotiated server heart-beat intervals of silence
// (plus deadSlack) make Tick end the connection as dead.
const (
	deadAfter = 3
	deadSlack = 5 * time.Second
)

// session is the state of one STOMP connection.
type session struct {
	a *Adapter

	// Reader-goroutine state.
	opened    bool   // SockJS: the open frame arrived (always true without SockJS)
	connected bool   // CONNECTED arrived
	version   string // negotiated version, once connected
	buf       []byte // bytes of an incomplete frame (from off on)
	off       int    // bytes of buf consumed in the previous Feed
	need      int    // buf must reach this length before a parse can succeed; 0: unknown
	waitNUL   bool   // the pending frame cannot end before a NUL arrives

	lastRecv atomic.Int64 // time of the last frame from the server, unix ns
	replies  atomic.Int64 // automatic replies sent (their receipt numbers)

	mu     sync.Mutex // guards the heart-beat intervals shared with Tick
	sendHB time.Duration
	recvHB time.Duration
}

func newSession(a *Adapter) *session {
	s := &session{a: a, opened: !a.sockjs}
	s.lastRecv.Store(time.Now().UnixNano())
	return s
}

func (*session) Protocol() string { return Name }

// Ready reports whether CONNECTED arrived (the subscriptions are sent in
// the same Feed).
func (s *session) Ready() bool { return s.connected }

// Heartbeat is the negotiated client heart-beat interval (0: none).
func (s *session) Heartbeat() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sendHB
}

// Tick sends a heart-beat (an EOL) and ends the connection when the server,
// which promised heart-beats, has been silent for deadAfter of its
// intervals plus deadSlack.
func (s *session) Tick(now time.Time, out *protocol.Output) error {
	s.mu.Lock()
	recv := s.recvHB
	s.mu.Unlock()
	if recv > 0 {
		if silent := now.Sub(time.Unix(0, s.lastRecv.Load())); silent > deadAfter*recv+deadSlack {
			return fmt.Errorf("stomp: no data from the server for %s (its heart-beat is every %s)", silent.Round(time.Millisecond), recv)
		}
	}
	s.reply(out, []byte{'\n'})
	return nil
}

// reply queues one STOMP frame (or heart-beat) for the server, wrapped for
// SockJS when the session uses it.
func (s *session) reply(out *protocol.Output, b []byte) {
	if s.a.sockjs {
		b = wrapSockJS(b)
	}
	out.Reply(false, b)
}

// Feed handles one WebSocket frame: a SockJS frame to unwrap, or a piece of
// the STOMP byte stream.
func (s *session) Feed(f protocol.Frame, out *protocol.Output) error {
	s.lastRecv.Store(time.Now().UnixNano())
	if !s.a.sockjs {
		return s.stream(f.Data, f.Binary, out)
	}
	kind, msgs, err := parseSockJS(f.Data)
	if err != nil {
		return err
	}
	switch kind {
	case sockjsOpen:
		if s.opened {
			return fmt.Errorf("stomp: second SockJS open frame")
		}
		s.opened = true
		out.Ctrl(f.Binary, f.Data)
		s.reply(out, s.a.connectFrame())
		return nil
	case sockjsHeartbeat:
		out.Ctrl(f.Binary, f.Data)
		return nil
	case sockjsClose:
		out.Ctrl(f.Binary, f.Data)
		return fmt.Errorf("stomp: SockJS session closed by the server: %s", msgs[0])
	}
	if !s.opened {
		return fmt.Errorf("stomp: SockJS message before the open frame")
	}
	// The messages are one piece of the STOMP stream, handed on in one
	// call: stream compacts its buffer only between calls, as records of
	// the call may alias it.
	n := len(out.Records) + len(out.Control)
	if err := s.stream([]byte(strings.Join(msgs, "")), false, out); err != nil {
		return err
	}
	if len(out.Records)+len(out.Control) == n {
		out.Ctrl(f.Binary, f.Data) // only part of a frame, or nothing
	}
	return nil
}

// stream appends data to the STOMP byte stream and handles every frame
// completed. Frames are parsed straight from data when nothing is pending;
// the rest of an incomplete frame is kept in s.buf. s.buf is compacted at
// the start of the next call, never during one, because the records and
// control frames of this call may alias it: call it once per Feed.
func (s *session) stream(data []byte, binary bool, out *protocol.Output) error {
	if s.off > 0 {
		s.buf = s.buf[:copy(s.buf, s.buf[s.off:])]
		s.off = 0
	}
	b := data
	pending := len(s.buf) > 0
	if pending {
		if len(s.buf)+len(data) > maxFrame+2 {
			return fmt.Errorf("stomp: frame longer than %d bytes", maxFrame)
		}
		s.buf = append(s.buf, data...)
		if s.need > 0 && len(s.buf) < s.need || s.need == 0 && s.waitNUL && bytes.IndexByte(data, 0) < 0 {
			return nil
		}
		b = s.buf
	}
	pos, frames := 0, 0
	for pos < len(b) {
		count, n := skipEOLs(b[pos:])
		if count > 0 && frames == 0 {
			out.Ctrl(binary, b[pos:pos+n]) // heart-beats; EOLs after a frame are its trailer
		}
		pos += n
		if pos == len(b) {
			break
		}
		if b[pos] == '\r' && pos == len(b)-1 { // half an EOL
			s.need, s.waitNUL = 0, false
			break
		}
		f, n, need, err := parseFrame(b[pos:])
		if errors.Is(err, errIncomplete) {
			s.need, s.waitNUL = need, need == 0
			break
		}
		if err != nil {
			return err
		}
		s.need, s.waitNUL = 0, false
		if err := s.handle(&f, b[pos:pos+n], binary, out); err != nil {
			return err
		}
		pos += n
		frames++
	}
	rest := len(b) - pos
	if rest > maxFrame {
		return fmt.Errorf("stomp: frame longer than %d bytes", maxFrame)
	}
	if pending {
		s.off = pos
		if pos == len(b) {
			s.buf, s.off = s.buf[:0], 0
		}
	} else {
		s.buf = append(s.buf[:0], b[pos:]...)
	}
	if len(s.buf) == 0 {
		s.need, s.waitNUL = 0, false
	}
	return nil
}

// handle acts on one whole frame from the server; raw is its bytes.
func (s *session) handle(f *frame, raw []byte, binary bool, out *protocol.Output) error {
	switch string(f.command) {
	case "CONNECTED":
		out.Ctrl(binary, raw)
		return s.onConnected(f, out)
	case "MESSAGE":
		if !s.connected {
			return fmt.Errorf("stomp: MESSAGE before CONNECTED")
		}
		out.Record(binary, raw)
		if s.a.ack != ackAuto {
			s.ackMessage(f, out)
		}
		return nil
	case "ERROR":
		out.Ctrl(binary, raw)
		reason := errorText(f, s.version)
		msg, _ := f.get("message", s.version)
		if s.a.hostDefault && strings.Contains(strings.ToLower(reason), "virtual host") {
			reason += fmt.Sprintf(" (wsmon sent host:%s, the URL's host; set options.host to the broker's virtual host, \"/\" for RabbitMQ's default)", s.a.host)
		}
		if rid, ok := f.get("receipt-id", s.version); ok {
			if i, found := s.a.receiptIndex(rid); found {
				return protocol.Refuse(Name, "subscription to %q refused: %s", s.a.destinations[i], reason)
			}
			if strings.HasPrefix(rid, replyReceiptPrefix) {
				// The broker refused an automatic reply (a destination
				// wsmon may not write to): STOMP ends the connection after
				// an ERROR, but the subscriptions are fine.
				return fmt.Errorf("stomp: server refused an automatic reply (%s): %s", rid, reason)
			}
		}
		if !s.connected || isRefusal(msg) {
			return protocol.Refuse(Name, "%s", reason)
		}
		return fmt.Errorf("stomp: server sent ERROR: %s", reason)
	default: // RECEIPT, and anything a server adds
		out.Ctrl(binary, raw)
		return nil
	}
}

// onConnected negotiates the version and heart-beats and subscribes to
// every destination, SUBSCRIBE number i with id and receipt "sub-i": the
// RECEIPT says the broker took it, and an ERROR naming the receipt is that
// subscription's refusal.
func (s *session) onConnected(f *frame, out *protocol.Output) error {
	if s.connected {
		return fmt.Errorf("stomp: second CONNECTED frame")
	}
	v, ok := f.get("version", "")
	if !ok {
		v = "1.0" // a 1.0 server does not say
	}
	switch v {
	case "1.0", "1.1", "1.2":
	default:
		return fmt.Errorf("stomp: server chose version %q, not one of 1.0, 1.1, 1.2", clip([]byte(v)))
	}
	sx, sy := 0, 0
	if hb, ok := f.get("heart-beat", ""); ok {
		var err error
		if sx, sy, err = parseHeartBeat(hb); err != nil {
			return fmt.Errorf("stomp: CONNECTED heart-beat header: %v", err)
		}
	}
	s.connected, s.version = true, v
	s.mu.Lock()
	s.sendHB = negotiate(s.a.hbSend, sy)
	s.recvHB = negotiate(s.a.hbRecv, sx)
	s.mu.Unlock()
	for i, d := range s.a.destinations {
		id := "sub-" + strconv.Itoa(i)
		s.reply(out, encode(v, "SUBSCRIBE", [][2]string{
			{"id", id},
			{"destination", d},
			{"ack", s.a.ack},
			{"receipt", id},
		}, nil))
	}
	return nil
}

// negotiate is one direction of STOMP heart-beating: none when either side
// says 0, else the larger of the two intervals.
func negotiate(ours, theirs int) time.Duration {
	if ours == 0 || theirs == 0 {
		return 0
	}
	return time.Duration(max(ours, theirs)) * time.Millisecond
}

// ackMessage acknowledges a MESSAGE as the negotiated version wants: by its
// ack header in 1.2, by message-id and subscription in 1.1, by message-id
// in 1.0.
func (s *session) ackMessage(f *frame, out *protocol.Output) {
	v := s.version
	id, _ := f.get("message-id", v)
	var h [][2]string
	switch v {
	case "1.2":
		if ack, ok := f.get("ack", v); ok {
			id = ack
		}
		h = [][2]string{{"id", id}}
	case "1.1":
		sub, _ := f.get("subscription", v)
		h = [][2]string{{"message-id", id}, {"subscription", sub}}
	default:
		h = [][2]string{{"message-id", id}}
	}
	s.reply(out, encode(v, "ACK", h, nil))
}
