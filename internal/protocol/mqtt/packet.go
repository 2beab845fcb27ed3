package mqtt

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Packet types (the high nibble of a packet's first byte).
const (
	typeConnect     = 1
	typeConnack     = 2
	typePublish     = 3
	typePuback      = 4
	typePubrec      = 5
	typePubrel      = 6
	typePubcomp     = 7
	typeSubscribe   = 8
	typeSuback      = 9
	typeUnsubscribe = 10
	typeUnsuback    = 11
	typePingreq     = 12
	typePingresp    = 13
	typeDisconnect  = 14
	typeAuth        = 15
)

var typeNames = [16]string{"reserved", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

// maxPacket is the largest packet a session reassembles (16 MiB, the
// capture runner's default read limit). MQTT 5 sessions tell the broker in
// CONNECT (Maximum Packet Size), so it drops larger messages instead of
// sending them; from a 3.1.1 broker a larger packet ends the connection.
const maxPacket = 16 << 20

// errIncomplete is splitPacket's answer for the start of a packet.
var errIncomplete = errors.New("incomplete packet")

// splitPacket returns the length of the packet at the start of b (fixed
// header included) and the offset of its variable header. It returns
// errIncomplete when b holds only part of it, and an error for a
// remaining length that is malformed (a fifth length byte) or larger than
// maxPacket.
func splitPacket(b []byte) (total, hdr int, err error) {
	if len(b) < 2 {
		return 0, 0, errIncomplete
	}
	rl, n, err := uvarint(b[1:])
	if err != nil {
		return 0, 0, err
	}
	total = 1 + n + rl
	if total > maxPacket {
		return 0, 0, fmt.Errorf("mqtt: %s packet of %d bytes is over the %d-byte limit", typeNames[b[0]>>4], total, maxPacket)
	}
	if len(b) < total {
		return total, 1 + n, errIncomplete
	}
	return total, 1 + n, nil
}

// uvarint decodes an MQTT Variable Byte Integer (1 to 4 bytes).
func uvarint(b []byte) (v, n int, err error) {
	for shift := 0; n < 4; shift += 7 {
		if n >= len(b) {
			return 0, 0, errIncomplete
		}
		c := b[n]
		n++
		v |= int(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, n, nil
		}
	}
	return 0, 0, errors.New("mqtt: malformed variable byte integer (more than 4 bytes)")
}

func appendUvarint(b []byte, v int) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// packet builds a packet from its first byte and the rest (variable header
// and payload).
func packet(first byte, rest []byte) []byte {
	b := make([]byte, 0, len(rest)+5)
	b = append(b, first)
	b = appendUvarint(b, len(rest))
	return append(b, rest...)
}

// reader reads the fields of a packet body, remembering the first error.
type reader struct {
	b   []byte
	i   int
	err error
}

var errShort = errors.New("mqtt: packet shorter than its fields")

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) byte() byte {
	if r.err != nil || r.i >= len(r.b) {
		r.fail(errShort)
		return 0
	}
	r.i++
	return r.b[r.i-1]
}

func (r *reader) uint16() uint16 {
	if r.err != nil || r.i+2 > len(r.b) {
		r.fail(errShort)
		return 0
	}
	r.i += 2
	return binary.BigEndian.Uint16(r.b[r.i-2:])
}

func (r *reader) uint32() uint32 {
	if r.err != nil || r.i+4 > len(r.b) {
		r.fail(errShort)
		return 0
	}
	r.i += 4
	return binary.BigEndian.Uint32(r.b[r.i-4:])
}

func (r *reader) varint() int {
	if r.err != nil {
		return 0
	}
	v, n, err := uvarint(r.b[r.i:])
	if err != nil {
		if errors.Is(err, errIncomplete) {
			err = errShort
		}
		r.fail(err)
		return 0
	}
	r.i += n
	return v
}

// bytes reads a length-prefixed string or binary field.
func (r *reader) bytes() []byte {
	n := int(r.uint16())
	if r.err != nil || r.i+n > len(r.b) {
		r.fail(errShort)
		return nil
	}
	r.i += n
	return r.b[r.i-n : r.i]
}

func (r *reader) rest() []byte {
	if r.err != nil {
		return nil
	}
	return r.b[r.i:]
}

func (r *reader) left() int { return len(r.b) - r.i }

// MQTT 5 property identifiers wsmon reads or writes.
const (
	propPayloadFormat   = 0x01
	propContentType     = 0x03
	propSessionExpiry   = 0x11
	propServerKeepAlive = 0x13
	propReasonString    = 0x1f
	propServerReference = 0x1c
	propTopicAliasMax   = 0x22
	propTopicAlias      = 0x23
	propUserProperty    = 0x26
	propMaxPacketSize   = 0x27
)

// propKind is how a property's value is encoded.
type propKind uint8

const (
	kByte propKind = iota + 1
	kUint16
	kUint32
	kVarint
	kString
	kPair
)

// propKinds is the MQTT 5 property table (section 2.2.2.2); binary data
// is encoded like a string.
var propKinds = map[byte]propKind{
	0x01: kByte, 0x02: kUint32, 0x03: kString, 0x08: kString, 0x09: kString,
	0x0b: kVarint, 0x11: kUint32, 0x12: kString, 0x13: kUint16, 0x15: kString,
	0x16: kString, 0x17: kByte, 0x18: kUint32, 0x19: kByte, 0x1a: kString,
	0x1c: kString, 0x1f: kString, 0x21: kUint16, 0x22: kUint16, 0x23: kUint16,
	0x24: kByte, 0x25: kByte, 0x26: kPair, 0x27: kUint32, 0x28: kByte,
	0x29: kByte, 0x2a: kByte,
}

// prop is one decoded property: n for numbers, s (and key for a user
// property) for strings and binary data.
type prop struct {
	id     byte
	n      uint32
	key, s []byte
}

// props reads an MQTT 5 property list (its length, then the properties).
func (r *reader) props() []prop {
	n := r.varint()
	if r.err != nil {
		return nil
	}
	if n > r.left() {
		r.fail(errShort)
		return nil
	}
	sub := reader{b: r.b[r.i : r.i+n]}
	r.i += n
	var out []prop
	for sub.err == nil && sub.left() > 0 {
		p := prop{id: sub.byte()}
		switch propKinds[p.id] {
		case kByte:
			p.n = uint32(sub.byte())
		case kUint16:
			p.n = uint32(sub.uint16())
		case kUint32:
			p.n = sub.uint32()
		case kVarint:
			p.n = uint32(sub.varint())
		case kString:
			p.s = sub.bytes()
		case kPair:
			p.key, p.s = sub.bytes(), sub.bytes()
		default:
			sub.fail(fmt.Errorf("mqtt: unknown property 0x%02x", p.id))
		}
		out = append(out, p)
	}
	if sub.err != nil {
		r.fail(sub.err)
		return nil
	}
	return out
}

// find returns the first property with id.
func find(ps []prop, id byte) (prop, bool) {
	for _, p := range ps {
		if p.id == id {
			return p, true
		}
	}
	return prop{}, false
}

// reasonNames are the MQTT 5 reason codes (section 2.4) and, for codes
// below 0x80 that also mean something else, the name that fits a failure.
var reasonNames = map[byte]string{
	0x00: "success", 0x04: "disconnect with will message",
	0x80: "unspecified error", 0x81: "malformed packet", 0x82: "protocol error",
	0x83: "implementation specific error", 0x84: "unsupported protocol version",
	0x85: "client identifier not valid", 0x86: "bad user name or password",
	0x87: "not authorized", 0x88: "server unavailable", 0x89: "server busy",
	0x8a: "banned", 0x8b: "server shutting down", 0x8c: "bad authentication method",
	0x8d: "keep alive timeout", 0x8e: "session taken over", 0x8f: "topic filter invalid",
	0x90: "topic name invalid", 0x91: "packet identifier in use",
	0x92: "packet identifier not found", 0x93: "receive maximum exceeded",
	0x94: "topic alias invalid", 0x95: "packet too large", 0x96: "message rate too high",
	0x97: "quota exceeded", 0x98: "administrative action", 0x99: "payload format invalid",
	0x9a: "retain not supported", 0x9b: "QoS not supported", 0x9c: "use another server",
	0x9d: "server moved", 0x9e: "shared subscriptions not supported",
	0x9f: "connection rate exceeded", 0xa0: "maximum connect time",
	0xa1: "subscription identifiers not supported", 0xa2: "wildcard subscriptions not supported",
}

// reasonName names an MQTT 5 reason code.
func reasonName(c byte) string {
	if n, ok := reasonNames[c]; ok {
		return fmt.Sprintf("%s (0x%02X)", n, c)
	}
	return fmt.Sprintf("reason code 0x%02X", c)
}

// connackNames are the MQTT 3.1 and 3.1.1 CONNACK return codes.
var connackNames = [...]string{
	1: "unacceptable protocol version", 2: "identifier rejected", 3: "server unavailable",
	4: "bad user name or password", 5: "not authorized",
}

func connackName(c byte) string {
	if int(c) < len(connackNames) && connackNames[c] != "" {
		return fmt.Sprintf("%s (%d)", connackNames[c], c)
	}
	return fmt.Sprintf("return code %d", c)
}
