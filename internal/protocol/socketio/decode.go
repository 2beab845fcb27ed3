package socketio

import (
	"github.com/wsmon/wsmon/internal/jsontok"

	"bytes"
	"encoding/json"
	"errors"

	"github.com/wsmon/wsmon/internal/protocol"
)

// Reasons Decode gives to records it could not read normally (the record is
// still stored, with its raw bytes).
const (
	ReasonBadJSON   = "bad_json"      // the event's arguments are not valid JSON
	ReasonTooDeep   = "json_too_deep" // the arguments nest deeper than maxDepth
	ReasonBadPacket = "bad_packet"    // not a Socket.IO event (a bare Engine.IO message, a stray binary frame, a broken record)
)

// Decode turns a record into one event (never zero: a record it cannot
// read is one event holding it, with a Reason).
//
// The event's Name is the Socket.IO event name and its Room the namespace
// (empty for the main namespace "/", so that the payload's own room is
// used). User is never set from the envelope: Socket.IO has none. ID is
// the connection state recovery offset when the server sends one (see
// flagOffset), else empty; an ack id is a request id, never a message id.
//
// The payload comes from the event's arguments (after the name), each
// JSON-decoded exactly once:
//   - with options.args, unless the only argument is an object, a JSON
//     object built from the named positions, {"user":<arg 1>,"content":<arg
//     2>}, each value the argument's JSON as sent ("-" skips a position;
//     missing arguments are left out);
//   - else, one argument: an object or array is the payload as it is; a
//     string is the payload as plain text (Text), decoded once, so a
//     string that looks like JSON stays text; a number or boolean is its
//     text; null or no argument is an empty payload;
//   - else, several arguments whose first is an object: that object (the
//     others are often metadata; they stay in Raw);
//   - else, several arguments: their texts (strings decoded, anything else
//     as compact JSON) joined by one space, as plain text.
//
// Binary attachments replace their placeholders before that: an attachment
// that is UTF-8 text becomes a JSON string of it, any other one
// {"_binary":true,"size":N,"base64":"..."}. Raw is the event's text frame
// as received (for a container record, the packet inside it).
func (a *Adapter) Decode(rec protocol.Frame) []protocol.Event {
	d := rec.Data
	if len(d) > 0 && d[0] == '4' {
		return []protocol.Event{a.decodePacket(d, nil, 0)}
	}
	c, err := parseContainer(d)
	if err != nil {
		return []protocol.Event{{Payload: d, Raw: d, Binary: rec.Binary, Reason: ReasonBadPacket}}
	}
	if len(c.packet) == 0 {
		// A stray binary frame: its one attachment is the payload.
		ev := protocol.Event{Raw: d, Binary: true, Reason: ReasonBadPacket}
		if len(c.atts) == 1 {
			ev.Payload = c.atts[0]
		}
		return []protocol.Event{ev}
	}
	if c.packet[0] != '4' {
		return []protocol.Event{{Payload: c.packet, Raw: c.packet, Binary: true, Reason: ReasonBadPacket}}
	}
	return []protocol.Event{a.decodePacket(c.packet, c.atts, c.flags)}
}

// decodePacket decodes the Engine.IO message p holding a Socket.IO event.
func (a *Adapter) decodePacket(p []byte, atts [][]byte, flags byte) protocol.Event {
	ev := protocol.Event{Raw: p, Binary: len(atts) > 0}
	h, err := parseHeader(p[1:])
	if err != nil || h.typ != pEvent && h.typ != pBinaryEvent {
		ev.Payload, ev.Reason = p[1:], ReasonBadPacket
		return ev
	}
	if h.ns != "/" {
		ev.Room = h.ns
	}
	payload := h.payload
	if len(atts) > 0 {
		if payload, _, err = replacePlaceholders(bytes.TrimSpace(payload), atts); err != nil {
			ev.Payload, ev.Reason = h.payload, reasonOf(err)
			return ev
		}
	}
	elems, err := splitArray(payload)
	if err != nil {
		ev.Payload, ev.Reason = h.payload, reasonOf(err)
		return ev
	}
	if len(elems) == 0 {
		ev.Payload, ev.Reason = h.payload, ReasonBadPacket
		return ev
	}
	args := make([][]byte, len(elems))
	for i, e := range elems {
		args[i] = payload[e[0]:e[1]]
	}
	switch name := args[0]; name[0] {
	case '"':
		ev.Name, _ = unquote(name)
	default:
		if jsontok.NumberEnd(name, 0) != len(name) {
			ev.Payload, ev.Reason = h.payload, ReasonBadPacket
			return ev
		}
		ev.Name = string(name)
	}
	args = args[1:]
	// The server appends the offset to events without an ack id only.
	if flags&flagOffset != 0 && h.ack < 0 && len(args) > 0 && args[len(args)-1][0] == '"' {
		ev.ID, _ = unquote(args[len(args)-1])
		args = args[:len(args)-1]
	}
	ev.Payload, ev.Text = a.mapArgs(args)
	return ev
}

func reasonOf(err error) string {
	if errors.Is(err, errTooDeep) {
		return ReasonTooDeep
	}
	return ReasonBadJSON
}

// mapArgs builds the payload from the event's arguments (valid JSON
// values); see Decode.
func (a *Adapter) mapArgs(args [][]byte) (payload []byte, text bool) {
	if a.args != nil && !(len(args) == 1 && args[0][0] == '{') {
		b := []byte{'{'}
		for i, n := range a.args {
			if n == "-" || i >= len(args) {
				continue
			}
			if len(b) > 1 {
				b = append(b, ',')
			}
			b = jsontok.AppendString(b, n)
			b = append(b, ':')
			b = append(b, args[i]...)
		}
		return append(b, '}'), false
	}
	switch {
	case len(args) == 0:
		return []byte{}, true
	case len(args) == 1:
		return argText(args[0])
	case args[0][0] == '{':
		return args[0], false
	}
	var b []byte
	for i, arg := range args {
		if i > 0 {
			b = append(b, ' ')
		}
		t, _ := argText(arg)
		if arg[0] == '{' || arg[0] == '[' {
			t = compact(arg)
		}
		b = append(b, t...)
	}
	return b, true
}

// argText is one argument as a payload: an object or array as it is
// (JSON), a string decoded once (text), null as empty text, a number or
// boolean as written (text).
func argText(arg []byte) ([]byte, bool) {
	switch arg[0] {
	case '{', '[':
		return arg, false
	case '"':
		s, _ := unquote(arg)
		return []byte(s), true
	case 'n':
		return []byte{}, true
	}
	return arg, true
}

// compact returns the JSON value v without insignificant space.
func compact(v []byte) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return v
	}
	return b.Bytes()
}
