package mqtt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
)

// maxUnanswered is how many PINGREQs may go unanswered before Tick ends
// the connection: two, 1.5 keep-alive intervals of silence.
const maxUnanswered = 2

// session is the state of one MQTT connection.
type session struct {
	a  *Adapter
	v5 bool

	// Reader-goroutine state.
	connected bool
	subacked  []bool            // by filter index
	aliases   map[uint16]string // MQTT 5 topic aliases the broker set
	qos2      map[uint16]bool   // QoS 2 packet ids received, PUBREL not yet
	buf       []byte            // bytes of an incomplete packet (from off on)
	off       int               // bytes of buf consumed in the previous Feed
	need      int               // buf must reach this length before the packet is whole; 0: unknown

	every      atomic.Int64 // ping interval, set when connected
	unanswered atomic.Int32 // PINGREQs sent since the last PINGRESP
}

func newSession(a *Adapter) *session {
	return &session{a: a, v5: a.version == 5, subacked: make([]bool, len(a.filters))}
}

func (*session) Protocol() string { return Name }

// Ready reports whether CONNACK arrived (the subscriptions are sent in the
// same Feed).
func (s *session) Ready() bool { return s.connected }

// Heartbeat is three quarters of the keep-alive (the broker's Server Keep
// Alive when it set one); 0 when keep-alive is off.
func (s *session) Heartbeat() time.Duration { return time.Duration(s.every.Load()) }

// Tick sends PINGREQ, and ends the connection when the broker has left
// maxUnanswered of them without PINGRESP.
func (s *session) Tick(_ time.Time, out *protocol.Output) error {
	if n := s.unanswered.Load(); n >= maxUnanswered {
		return fmt.Errorf("mqtt: no PINGRESP to %d PINGREQs", n)
	}
	s.unanswered.Add(1)
	out.Reply(true, []byte{typePingreq << 4, 0})
	return nil
}

// Feed appends a frame to the MQTT byte stream and handles every packet
// completed. Packets are parsed straight from the frame when nothing is
// pending; the rest of an incomplete packet is kept in s.buf, which is
// compacted at the start of the next call, never during one (this call's
// records may alias it).
func (s *session) Feed(f protocol.Frame, out *protocol.Output) error {
	if !f.Binary {
		return fmt.Errorf("mqtt: text frame from the broker (MQTT over WebSocket is binary frames only)")
	}
	if s.off > 0 {
		s.buf = s.buf[:copy(s.buf, s.buf[s.off:])]
		s.off = 0
	}
	b := f.Data
	pending := len(s.buf) > 0
	if pending {
		s.buf = append(s.buf, f.Data...)
		if len(s.buf) < s.need {
			return nil
		}
		b = s.buf
	}
	pos := 0
	for pos < len(b) {
		total, hdr, err := splitPacket(b[pos:])
		if errors.Is(err, errIncomplete) {
			s.need = total
			break
		}
		if err != nil {
			return err
		}
		s.need = 0
		if err := s.handle(b[pos:pos+total], hdr, out); err != nil {
			return err
		}
		pos += total
	}
	if pending {
		s.off = pos
		if pos == len(b) {
			s.buf, s.off = s.buf[:0], 0
		}
	} else {
		s.buf = append(s.buf[:0], b[pos:]...)
	}
	return nil
}

// handle acts on one whole packet; hdr is the offset of its variable
// header.
func (s *session) handle(pk []byte, hdr int, out *protocol.Output) error {
	typ, flags := pk[0]>>4, pk[0]&0x0f
	if typ != typePublish && flags != reservedFlags(typ) {
		return fmt.Errorf("mqtt: %s packet with reserved flags 0x%x", typeNames[typ], flags)
	}
	if !s.connected && typ != typeConnack {
		return fmt.Errorf("mqtt: %s packet before CONNACK", typeNames[typ])
	}
	r := reader{b: pk, i: hdr}
	switch typ {
	case typeConnack:
		out.Ctrl(true, pk)
		return s.onConnack(&r, out)
	case typePublish:
		return s.onPublish(pk, out)
	case typePubrel:
		pid := r.uint16()
		if r.err != nil {
			return r.err
		}
		out.Ctrl(true, pk)
		delete(s.qos2, pid)
		out.Reply(true, ackPacket(typePubcomp, pid))
		return nil
	case typeSuback:
		out.Ctrl(true, pk)
		return s.onSuback(&r)
	case typePingresp:
		out.Ctrl(true, pk)
		s.unanswered.Store(0)
		return nil
	case typePuback, typePubrec, typePubcomp, typeUnsuback:
		// Answers to packets wsmon never sends; harmless.
		out.Ctrl(true, pk)
		return nil
	case typeDisconnect:
		out.Ctrl(true, pk)
		return s.onDisconnect(&r)
	case typeAuth:
		out.Ctrl(true, pk)
		return protocol.Refuse(Name, "broker asked for MQTT 5 enhanced authentication (AUTH), which wsmon does not support")
	}
	return fmt.Errorf("mqtt: unexpected %s packet from the broker", typeNames[typ])
}

// reservedFlags are the fixed-header flags every packet but PUBLISH must
// carry: 2 for PUBREL (and the client's SUBSCRIBE, UNSUBSCRIBE), else 0.
func reservedFlags(typ byte) byte {
	switch typ {
	case typePubrel, typeSubscribe, typeUnsubscribe:
		return 2
	}
	return 0
}

// onConnack checks the broker's answer to CONNECT and subscribes.
func (s *session) onConnack(r *reader, out *protocol.Output) error {
	if s.connected {
		return fmt.Errorf("mqtt: second CONNACK")
	}
	r.byte() // acknowledge flags: session present
	code := r.byte()
	var props []prop
	if s.v5 && r.left() > 0 {
		props = r.props()
	}
	if r.err != nil {
		return fmt.Errorf("mqtt: CONNACK: %w", r.err)
	}
	if code != 0 {
		if !s.v5 {
			if code == 3 { // server unavailable: try again later
				return fmt.Errorf("mqtt: broker refused the connection for now: %s", connackName(code))
			}
			return protocol.Refuse(Name, "CONNACK %s", connackName(code))
		}
		reason := "CONNACK " + reasonName(code) + detail(props)
		switch code {
		case 0x88, 0x89, 0x97, 0x9c, 0x9f: // unavailable, busy, quota, use another server, rate
			return fmt.Errorf("mqtt: broker refused the connection for now: %s", reason)
		}
		return protocol.Refuse(Name, "%s", reason)
	}
	ka := s.a.keepAlive
	if p, ok := find(props, propServerKeepAlive); ok {
		ka = uint16(p.n)
	}
	s.every.Store(int64(keepAliveEvery(ka)))
	s.connected = true
	for i := range s.a.filters {
		out.Reply(true, s.a.subscribePacket(i))
	}
	return nil
}

// detail is an MQTT 5 packet's reason string and server reference, for an
// error message.
func detail(props []prop) string {
	var d string
	if p, ok := find(props, propReasonString); ok && len(p.s) > 0 {
		d += fmt.Sprintf(": %q", p.s)
	}
	if p, ok := find(props, propServerReference); ok && len(p.s) > 0 {
		d += fmt.Sprintf(" (server reference %q)", p.s)
	}
	return d
}

// onSuback refuses for good when the broker rejected a subscription.
func (s *session) onSuback(r *reader) error {
	pid := int(r.uint16())
	var props []prop
	if s.v5 {
		props = r.props()
	}
	code := r.byte()
	if r.err != nil {
		return fmt.Errorf("mqtt: SUBACK: %w", r.err)
	}
	i := pid - 1
	if i < 0 || i >= len(s.a.filters) {
		return fmt.Errorf("mqtt: SUBACK for packet identifier %d, which wsmon never sent", pid)
	}
	if code >= 0x80 {
		why := "failure (0x80)"
		if s.v5 {
			why = reasonName(code) + detail(props)
		}
		return protocol.Refuse(Name, "subscription to %q refused: %s", s.a.filters[i], why)
	}
	s.subacked[i] = true
	return nil
}

// onDisconnect ends the session on the broker's DISCONNECT (MQTT 5): for
// good when its reason says retrying cannot help, else to reconnect.
func (s *session) onDisconnect(r *reader) error {
	if !s.v5 {
		return fmt.Errorf("mqtt: broker sent DISCONNECT")
	}
	var code byte
	var props []prop
	if r.left() > 0 {
		code = r.byte()
		if r.left() > 0 {
			props = r.props()
		}
	}
	reason := "DISCONNECT " + reasonName(code) + detail(props)
	switch code {
	case 0x86, 0x87, 0x8a, 0x8c, 0x8e, 0x8f, 0x98, 0x9d, 0x9e, 0xa1, 0xa2:
		// credentials, ban, another client with our id, admin action,
		// server moved, subscription features the broker lacks
		return protocol.Refuse(Name, "%s", reason)
	}
	return fmt.Errorf("mqtt: broker sent %s", reason)
}

// onPublish records a PUBLISH and acknowledges it as its QoS wants.
func (s *session) onPublish(pk []byte, out *protocol.Output) error {
	p, err := parsePublish(pk, s.v5)
	if err != nil {
		return err
	}
	rec := pk
	if a, ok := find(p.props, propTopicAlias); ok {
		if rec, err = s.resolveAlias(pk, &p, uint16(a.n)); err != nil {
			return err
		}
	} else if len(p.topic) == 0 {
		return fmt.Errorf("mqtt: PUBLISH without a topic")
	}
	record := func() { out.Record(true, rec) }
	if s.a.skipRetained && pk[0]&0x01 != 0 {
		// The RETAIN flag is only set on a message replayed from the
		// broker's store for a new subscription; live ones have it 0.
		record = func() { out.Ctrl(true, pk) }
	}
	switch p.qos {
	case 0:
		record()
	case 1:
		record()
		out.Reply(true, ackPacket(typePuback, p.pid))
	case 2:
		// Recorded once: a resent PUBLISH (before our PUBREC reached the
		// broker) is only acknowledged again.
		if !s.qos2[p.pid] {
			record()
			if s.qos2 == nil {
				s.qos2 = map[uint16]bool{}
			}
			s.qos2[p.pid] = true
		} else {
			out.Ctrl(true, pk)
		}
		out.Reply(true, ackPacket(typePubrec, p.pid))
	}
	return nil
}

// resolveAlias applies an MQTT 5 topic alias: a PUBLISH with a topic sets
// it, one without takes its topic from it. A PUBLISH that came without its
// topic is recorded rebuilt with the topic in place (the alias property
// kept), so Decode never needs the session's aliases.
func (s *session) resolveAlias(pk []byte, p *publish, alias uint16) ([]byte, error) {
	if alias == 0 || alias > topicAliasMax {
		return nil, fmt.Errorf("mqtt: PUBLISH with topic alias %d outside 1..%d", alias, topicAliasMax)
	}
	if len(p.topic) > 0 {
		if s.aliases == nil {
			s.aliases = map[uint16]string{}
		}
		s.aliases[alias] = string(p.topic)
		return pk, nil
	}
	topic, ok := s.aliases[alias]
	if !ok {
		return nil, fmt.Errorf("mqtt: PUBLISH with unknown topic alias %d", alias)
	}
	_, hdr, _ := splitPacket(pk)
	body := make([]byte, 0, len(pk)-hdr+len(topic))
	body = appendString(body, topic)
	body = append(body, pk[hdr+2:]...) // after the empty topic: packet id, properties, payload
	p.topic = []byte(topic)
	return packet(pk[0], body), nil
}

// ackPacket is a PUBACK, PUBREC or PUBCOMP for pid (reason code 0, which
// MQTT 5 lets a two-byte packet mean).
func ackPacket(typ byte, pid uint16) []byte {
	return packet(typ<<4, binary.BigEndian.AppendUint16(nil, pid))
}

// subscribed reports whether every subscription was acknowledged (for
// tests).
func (s *session) subscribed() bool { return !slices.Contains(s.subacked, false) }
