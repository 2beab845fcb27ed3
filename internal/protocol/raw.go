package protocol

import (
	"bytes"
	"context"
	"fmt"
	"time"
)

// Raw is the adapter for servers that speak plain JSON or text over the
// WebSocket with no protocol of their own: every frame is chat data. It may
// send configured messages after connecting (a login or a subscription) and
// otherwise only listens. Raw is immutable and safe for concurrent use.
type Raw struct {
	sendOnConnect [][]byte
}

// NewRaw returns a raw adapter that sends each of sendOnConnect, in order, as
// a text frame after every (re)connect. The strings are copied.
func NewRaw(sendOnConnect []string) *Raw {
	r := &Raw{}
	for _, s := range sendOnConnect {
		r.sendOnConnect = append(r.sendOnConnect, []byte(s))
	}
	return r
}

// Name returns "raw".
func (*Raw) Name() string { return "raw" }

// Subprotocols returns nil: the raw protocol needs no subprotocol.
func (*Raw) Subprotocols() []string { return nil }

// Handshake writes the send_on_connect messages in order and does not wait
// for any reply. The first write error aborts it, naming the message.
func (r *Raw) Handshake(ctx context.Context, c Conn) error {
	for i, msg := range r.sendOnConnect {
		if err := c.WriteText(ctx, msg); err != nil {
			return fmt.Errorf("raw: send_on_connect message %d: %w", i+1, err)
		}
	}
	return nil
}

// Intercept returns (nil, false): the raw protocol has no chatter, every
// frame is recorded.
func (*Raw) Intercept(Frame) (reply []byte, control bool) { return nil, false }

// Heartbeat returns 0: no application heartbeat (WebSocket pings are the
// capture runner's business).
func (*Raw) Heartbeat() (time.Duration, []byte) { return 0, nil }

// Decode splits a frame into events. Payload and Raw of every event are the
// same bytes, sub-slices of f.Data (never copies), and Room and Name are
// empty. It never returns zero events: a frame that yields nothing else
// (empty, blank, not JSON, not cleanly splittable) is one event holding the
// whole frame, so nothing is silently dropped.
//
// Only text frames are split; a binary frame is always one event. A text
// frame is split when it is, once surrounding whitespace is ignored:
//   - a JSON array whose elements are all objects (at least one): a batch,
//     one event per element, Raw = the element's bytes;
//   - else, two or more non-blank lines that are each a complete JSON object
//     or array (NDJSON): one event per line, Raw = the line without its
//     surrounding whitespace (so without "\r"). A pretty-printed document is
//     one valid JSON value and is therefore never split by lines.
//
// A frame with more than maxRawSplitDepth levels of nesting is not split.
func (*Raw) Decode(f Frame) []Event {
	if !f.Binary {
		if evs := splitJSON(f.Data); evs != nil {
			return evs
		}
	}
	return []Event{{Payload: f.Data, Raw: f.Data, Binary: f.Binary}}
}

// splitJSON returns the events of a batch or NDJSON frame, or nil when the
// frame is one event.
func splitJSON(d []byte) []Event {
	t := rawTrim(d)
	if len(t) == 0 {
		return nil
	}
	switch t[0] {
	case '[':
		if rawValid(t) {
			return splitArray(t)
		}
	case '{':
		// The common case: one object on one line. Neither a batch nor NDJSON,
		// decided without validating anything.
		if bytes.IndexByte(t, '\n') < 0 {
			return nil
		}
		if rawValid(t) {
			return nil
		}
	default:
		return nil
	}
	return splitLines(t)
}

// splitArray returns one event per element of the valid array t when all are
// objects, else nil.
func splitArray(t []byte) []Event {
	n := 0
	for i := rawSkipSpace(t, 1); i < len(t) && t[i] != ']'; n++ {
		if t[i] != '{' {
			return nil
		}
		i = rawSkipSpace(t, rawValueEnd(t, i))
		if i < len(t) && t[i] == ',' {
			i = rawSkipSpace(t, i+1)
		}
	}
	if n == 0 {
		return nil
	}
	evs := make([]Event, 0, n)
	for i := rawSkipSpace(t, 1); i < len(t) && t[i] != ']'; {
		e := rawValueEnd(t, i)
		evs = append(evs, Event{Payload: t[i:e], Raw: t[i:e]})
		i = rawSkipSpace(t, e)
		if i < len(t) && t[i] == ',' {
			i = rawSkipSpace(t, i+1)
		}
	}
	return evs
}

// splitLines returns one event per non-blank line of t when there are at
// least two and each is a valid JSON object or array, else nil.
func splitLines(t []byte) []Event {
	n := 0
	for rest := t; len(rest) > 0; {
		line, tail, _ := bytes.Cut(rest, []byte{'\n'})
		rest = tail
		line = rawTrim(line)
		if len(line) == 0 {
			continue
		}
		if (line[0] != '{' && line[0] != '[') || !rawValid(line) {
			return nil
		}
		n++
	}
	if n < 2 {
		return nil
	}
	evs := make([]Event, 0, n)
	for rest := t; len(rest) > 0; {
		line, tail, _ := bytes.Cut(rest, []byte{'\n'})
		rest = tail
		if line = rawTrim(line); len(line) > 0 {
			evs = append(evs, Event{Payload: line, Raw: line})
		}
	}
	return evs
}
