package socketio

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Socket.IO packet types (the digit after the Engine.IO message type '4').
const (
	pConnect      = '0'
	pDisconnect   = '1'
	pEvent        = '2'
	pAck          = '3'
	pConnectError = '4'
	pBinaryEvent  = '5'
	pBinaryAck    = '6'
)

// maxAttachments bounds the binary attachments one packet may announce
// (the reference parser allows 10 by default; we are more lenient).
const maxAttachments = 256

// header is a parsed Socket.IO packet: type, attachment count, namespace,
// ack id and the JSON payload that follows them.
type header struct {
	typ         byte
	attachments int
	ns          string
	ack         int64 // -1: none
	payload     []byte
}

var errNotSocketIO = errors.New("not a Socket.IO packet")

// parseHeader parses a Socket.IO packet (an Engine.IO message's data, the
// '4' already removed) as the reference parser does:
// <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>].
func parseHeader(p []byte) (header, error) {
	h := header{ack: -1, ns: "/"}
	if len(p) == 0 || p[0] < pConnect || p[0] > pBinaryAck {
		return h, errNotSocketIO
	}
	h.typ = p[0]
	i := 1
	if h.typ == pBinaryEvent || h.typ == pBinaryAck {
		j := i
		for j < len(p) && p[j] >= '0' && p[j] <= '9' {
			j++
		}
		if j == i || j >= len(p) || p[j] != '-' || j-i > 4 {
			return h, fmt.Errorf("%w: bad attachment count", errNotSocketIO)
		}
		n := 0
		for _, c := range p[i:j] {
			n = n*10 + int(c-'0')
		}
		if n > maxAttachments {
			return h, fmt.Errorf("%w: %d attachments (at most %d)", errNotSocketIO, n, maxAttachments)
		}
		h.attachments = n
		i = j + 1
	}
	if i < len(p) && p[i] == '/' {
		j := i
		for j < len(p) && p[j] != ',' {
			j++
		}
		h.ns = string(p[i:j])
		i = j
		if i < len(p) {
			i++ // the comma
		}
	}
	if j := i; j < len(p) && p[j] >= '0' && p[j] <= '9' {
		for j < len(p) && p[j] >= '0' && p[j] <= '9' {
			j++
		}
		if j-i > 15 {
			return h, fmt.Errorf("%w: ack id too long", errNotSocketIO)
		}
		var id int64
		for _, c := range p[i:j] {
			id = id*10 + int64(c-'0')
		}
		h.ack = id
		i = j
	}
	h.payload = p[i:]
	return h, nil
}

// appendAck appends the Engine.IO message holding an empty Socket.IO ACK
// for id in namespace ns: 43<id>[] or 43/ns,<id>[].
func appendAck(b []byte, ns string, id int64) []byte {
	b = append(b, '4', pAck)
	if ns != "/" {
		b = append(b, ns...)
		b = append(b, ',')
	}
	b = fmt.Appendf(b, "%d[]", id)
	return b
}

// appendConnect appends the Engine.IO message holding a Socket.IO CONNECT
// for ns with the optional JSON payload: 40, 40/ns, or 40/ns,{...}.
func appendConnect(b []byte, ns string, payload []byte) []byte {
	b = append(b, '4', pConnect)
	if ns != "/" {
		b = append(b, ns...)
		b = append(b, ',')
	}
	return append(b, payload...)
}

// Records.
//
// A record is what Feed hands on for one chat-carrying Socket.IO packet and
// what Decode reads back. Most are the text frame exactly as received
// (`42["chat message",{...}]`, `42/chat,7["x","hi"]`), marked as text. A
// packet that needs more than its own text becomes a container, marked as
// binary:
//
//	magic   4 bytes  "\x00SIO"
//	version 1 byte   1
//	flags   1 byte   flagOffset: the last event argument is a connection
//	                 state recovery offset (the namespace's connect reply had
//	                 a pid), to be taken off the arguments and used as the id
//	packet  uvarint length, then the text frame as received
//	count   uvarint number of attachments
//	each    uvarint length, then the attachment's bytes (without the
//	        Engine.IO 3 type byte)
//
// A binary frame that arrives outside a binary packet is a container with
// an empty packet and that frame as its one attachment. Text frames always
// start with a digit, so the leading NUL tells the two kinds apart.
const (
	recordMagic   = "\x00SIO"
	recordVersion = 1
	flagOffset    = 1 << 0
)

// container is a decoded container record.
type container struct {
	flags  byte
	packet []byte
	atts   [][]byte
}

// appendContainer appends the container record for c.
func appendContainer(b []byte, c container) []byte {
	b = append(b, recordMagic...)
	b = append(b, recordVersion, c.flags)
	b = binary.AppendUvarint(b, uint64(len(c.packet)))
	b = append(b, c.packet...)
	b = binary.AppendUvarint(b, uint64(len(c.atts)))
	for _, a := range c.atts {
		b = binary.AppendUvarint(b, uint64(len(a)))
		b = append(b, a...)
	}
	return b
}

var errBadRecord = errors.New("malformed container record")

// parseContainer decodes a container record; its slices alias rec.
func parseContainer(rec []byte) (container, error) {
	var c container
	if len(rec) < len(recordMagic)+2 || string(rec[:len(recordMagic)]) != recordMagic || rec[len(recordMagic)] != recordVersion {
		return c, errBadRecord
	}
	c.flags = rec[len(recordMagic)+1]
	rest := rec[len(recordMagic)+2:]
	chunk := func() ([]byte, bool) {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return nil, false
		}
		b := rest[k : k+int(n)]
		rest = rest[k+int(n):]
		return b, true
	}
	var ok bool
	if c.packet, ok = chunk(); !ok {
		return c, errBadRecord
	}
	n, k := binary.Uvarint(rest)
	if k <= 0 || n > maxAttachments+1 {
		return c, errBadRecord
	}
	rest = rest[k:]
	for range n {
		a, ok := chunk()
		if !ok {
			return c, errBadRecord
		}
		c.atts = append(c.atts, a)
	}
	if len(rest) != 0 {
		return c, errBadRecord
	}
	return c, nil
}
