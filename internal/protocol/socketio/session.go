package socketio

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
)

// nsState is what a session knows about one namespace it asked for.
type nsState struct {
	connected bool
	recovery  bool // the connect reply had a pid: events carry an offset
}

// session is one Engine.IO connection. Feed runs on the reader goroutine;
// Tick only reads fields set before the session became ready (eio,
// interval), so the two share no mutable state.
type session struct {
	a        *Adapter
	opened   bool
	interval time.Duration // Engine.IO 3: how often the client pings
	ns       map[string]*nsState
	waiting  int // namespaces not yet connected

	// A binary packet waiting for its attachments.
	bin     []byte // its text frame (a copy)
	binNS   string
	binWant int
	binAtts [][]byte
	binKeep bool // a record (else control)
	binAck  int64
}

func newSession(a *Adapter) *session {
	s := &session{a: a, ns: map[string]*nsState{}, binAck: -1}
	for _, n := range a.namespaces {
		s.ns[n] = &nsState{}
	}
	return s
}

func (s *session) Protocol() string { return Name }

// Ready reports whether the open packet arrived and every namespace
// answered its CONNECT.
func (s *session) Ready() bool { return s.opened && s.waiting == 0 }

// Heartbeat is the server's pingInterval with Engine.IO 3, where the client
// pings; 0 with Engine.IO 4, where the server pings and Feed answers.
func (s *session) Heartbeat() time.Duration {
	if s.a.eio == 3 {
		return s.interval
	}
	return 0
}

var pingFrame = []byte("2")

// Tick sends the Engine.IO 3 ping.
func (s *session) Tick(_ time.Time, out *protocol.Output) error {
	if s.a.eio == 3 {
		out.Reply(false, pingFrame)
	}
	return nil
}

// Feed handles one frame from the server.
func (s *session) Feed(f protocol.Frame, out *protocol.Output) error {
	if s.binWant > 0 {
		return s.attachment(f, out)
	}
	if f.Binary {
		// No binary packet announced it: keep it, marked, rather than drop it.
		att := f.Data
		if s.a.eio == 3 && len(att) > 0 && att[0] == 4 {
			att = att[1:]
		}
		out.Record(true, appendContainer(nil, container{atts: [][]byte{att}}))
		return nil
	}
	d := f.Data
	if len(d) == 0 {
		out.Ctrl(false, d)
		return nil
	}
	switch d[0] {
	case '0': // open
		return s.open(d, out)
	case '1': // close
		return errors.New("socketio: the server closed the Engine.IO session")
	case '2': // ping: answer with the same data (3, 3probe)
		out.Ctrl(false, d)
		pong := make([]byte, len(d))
		copy(pong, d)
		pong[0] = '3'
		out.Reply(false, pong)
	case '4': // message
		return s.message(d, out)
	default: // 3 pong, 5 upgrade, 6 noop, and anything unknown
		out.Ctrl(false, d)
	}
	return nil
}

// open handles the Engine.IO open packet and connects the namespaces.
func (s *session) open(d []byte, out *protocol.Output) error {
	out.Ctrl(false, d)
	if s.opened {
		return nil
	}
	var o struct {
		SID          string  `json:"sid"`
		PingInterval float64 `json:"pingInterval"`
		PingTimeout  float64 `json:"pingTimeout"`
	}
	if err := json.Unmarshal(d[1:], &o); err != nil {
		return fmt.Errorf("socketio: bad Engine.IO open packet: %v", err)
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 25000
	}
	s.interval = time.Duration(o.PingInterval * float64(time.Millisecond))
	s.opened = true
	for _, n := range s.a.namespaces {
		if s.a.eio == 3 && n == "/" {
			// Socket.IO 2 connects the main namespace by itself; a second
			// CONNECT would open a second socket and double every event.
			continue
		}
		s.waiting++
		payload, resumed := s.a.connectPayload(n)
		// A server resuming a session replays the missed events, with
		// their offsets, before its CONNECT reply.
		s.ns[n].recovery = resumed
		out.Reply(false, appendConnect(nil, n, payload))
	}
	if s.a.eio == 3 && slices.Contains(s.a.namespaces, "/") {
		s.waiting++ // the server's own 40
	}
	return nil
}

// message handles an Engine.IO message: one Socket.IO packet.
func (s *session) message(d []byte, out *protocol.Output) error {
	h, err := parseHeader(d[1:])
	if err != nil {
		// Not Socket.IO (a bare Engine.IO server?): keep it; Decode marks it.
		out.Record(false, d)
		return nil
	}
	st := s.ns[h.ns]
	switch h.typ {
	case pConnect:
		out.Ctrl(false, d)
		return s.connected(h, st)
	case pConnectError:
		out.Ctrl(false, d)
		if st == nil {
			if s.a.eio == 4 && h.ns == "/" && len(h.payload) > 0 && h.payload[0] == '"' {
				// Only Socket.IO 2 speaks of a namespace it was not asked
				// for, and only it gives the reason as a bare string.
				return protocol.Refuse(Name, "the server speaks Socket.IO 2 (Engine.IO 3: it refused the main namespace unasked: %s); set options.eio to 3", errorMessage(h.payload))
			}
			return nil
		}
		return protocol.Refuse(Name, "namespace %s refused: %s", h.ns, errorMessage(h.payload))
	case pDisconnect:
		out.Ctrl(false, d)
		if st != nil && st.connected {
			return fmt.Errorf("socketio: the server disconnected namespace %s", h.ns)
		}
	case pEvent, pBinaryEvent:
		// Events may precede the CONNECT reply: a server resuming a
		// session replays what was missed first (the reference client
		// buffers them until connected).
		keep := st != nil
		if keep && s.a.events != nil {
			if name, ok := firstString(h.payload); ok && !slices.Contains(s.a.events, name) {
				keep = false
			}
		}
		s.offset(h, st)
		if h.typ == pBinaryEvent && h.attachments > 0 {
			s.startBinary(d, h, keep)
			return nil
		}
		s.ackEvent(h.ns, h.ack, out)
		switch {
		case !keep:
			out.Ctrl(false, d)
		case st.recovery:
			out.Record(true, appendContainer(nil, container{flags: flagOffset, packet: d}))
		default:
			out.Record(false, d)
		}
	case pAck, pBinaryAck:
		if h.typ == pBinaryAck && h.attachments > 0 {
			s.startBinary(d, h, false)
			s.binAck = -1 // an ack is not to be acknowledged
			return nil
		}
		out.Ctrl(false, d)
	}
	return nil
}

// connected handles a CONNECT from the server. With Engine.IO 4 every
// CONNECT has a sid (Socket.IO protocol 5); one without is a Socket.IO 2
// server, which would never answer the way wsmon speaks to it.
func (s *session) connected(h header, st *nsState) error {
	var p struct {
		SID *string `json:"sid"`
		PID *string `json:"pid"`
	}
	hasSID := len(h.payload) > 0 && json.Unmarshal(h.payload, &p) == nil && p.SID != nil
	if s.a.eio == 4 && !hasSID {
		return protocol.Refuse(Name, "the server speaks Socket.IO 2 (Engine.IO 3: its CONNECT for %s has no sid); set options.eio to 3", h.ns)
	}
	if st == nil || st.connected {
		return nil
	}
	st.connected = true
	st.recovery = st.recovery || p.PID != nil
	if st.recovery && s.a.resume != nil {
		s.a.resume.connected(h.ns, *p.PID)
	}
	s.waiting--
	return nil
}

// offset notes, for connection state recovery, the offset an event of a
// recovering namespace carries: its last argument, when it has no ack id
// (the server adds none then) and that argument is a string.
func (s *session) offset(h header, st *nsState) {
	if st == nil || !st.recovery || h.ack >= 0 || s.a.resume == nil {
		return
	}
	elems, err := splitArray(h.payload)
	if err != nil || len(elems) < 2 {
		return
	}
	last := h.payload[elems[len(elems)-1][0]:elems[len(elems)-1][1]]
	if last[0] != '"' {
		return
	}
	if off, ok := unquote(last); ok {
		s.a.resume.received(h.ns, off)
	}
}

// ackEvent answers an event that asked for an acknowledgement with an
// empty ACK, when options.ack allows.
func (s *session) ackEvent(ns string, id int64, out *protocol.Output) {
	if id >= 0 && s.a.ack {
		out.Reply(false, appendAck(nil, ns, id))
	}
}

func (s *session) startBinary(d []byte, h header, keep bool) {
	s.bin = append(s.bin[:0], d...)
	s.binNS, s.binWant, s.binKeep, s.binAck = h.ns, h.attachments, keep, h.ack
	s.binAtts = s.binAtts[:0]
}

// attachment takes one binary attachment of the pending packet.
func (s *session) attachment(f protocol.Frame, out *protocol.Output) error {
	if !f.Binary {
		return fmt.Errorf("socketio: text frame while %d binary attachment(s) were due", s.binWant)
	}
	att := f.Data
	if s.a.eio == 3 {
		if len(att) == 0 || att[0] != 4 {
			return errors.New("socketio: Engine.IO 3 binary attachment without the message type byte")
		}
		att = att[1:]
	}
	s.binAtts = append(s.binAtts, att)
	s.binWant--
	if s.binWant > 0 {
		// The frame's bytes are only ours during this call: copy.
		s.binAtts[len(s.binAtts)-1] = append([]byte(nil), att...)
		return nil
	}
	c := container{packet: s.bin, atts: s.binAtts}
	if st := s.ns[s.binNS]; st != nil && st.recovery {
		c.flags = flagOffset
	}
	rec := appendContainer(nil, c)
	if s.binKeep {
		out.Record(true, rec)
	} else {
		out.Ctrl(true, rec)
	}
	s.ackEvent(s.binNS, s.binAck, out)
	s.binAtts = s.binAtts[:0]
	s.binAck = -1
	return nil
}

// errorMessage is the reason in a CONNECT_ERROR payload: {"message":...}
// (Socket.IO 3/4), a JSON string (Socket.IO 2), or the payload as it is.
func errorMessage(p []byte) string {
	var o struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(p, &o) == nil && o.Message != "" {
		return o.Message
	}
	var str string
	if json.Unmarshal(p, &str) == nil && str != "" {
		return str
	}
	if len(p) == 0 {
		return "no reason given"
	}
	if len(p) > 200 {
		p = p[:200]
	}
	return string(p)
}
