// Package raw is the adapter for servers that speak plain JSON or text over
// the WebSocket with no protocol of their own: every frame is chat data,
// except frames the operator names as control (a server's "ping"). Options:
// format (auto, json, text), framing (frame, lines), heartbeat_message and
// heartbeat_interval (an application ping the server expects), and
// control_frames (exact texts that are heartbeats, never messages).
package raw

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/wsmon/wsmon/internal/jsontok"
	"github.com/wsmon/wsmon/internal/protocol"
)

// Spec is the raw protocol's registry entry. Raw is what auto falls back
// to, so it claims nothing.
func Spec() protocol.Spec { return protocol.Spec{Name: "raw", New: New} }

// Adapter is the raw adapter. It is immutable and safe for concurrent use.
type Adapter struct {
	text     bool // format "text": never parse JSON
	jsonOnly bool // format "json"
	lines    bool // framing "lines"
	hbMsg    []byte
	hbEvery  time.Duration
	control  [][]byte
}

// maxSplitDepth bounds the nesting Decode looks into; deeper frames are
// not split (normalisation then reports them as too deep).
const maxSplitDepth = 256

// Default is the raw adapter with every setting at its default: JSON or
// text, one message per frame (batches and NDJSON split), no heartbeat.
func Default() *Adapter { return &Adapter{} }

// New builds a raw adapter from cfg. Raw takes no subscribe entries.
func New(cfg protocol.Config) (protocol.Adapter, error) {
	if len(cfg.Subscribe) > 0 {
		return nil, fmt.Errorf("subscribe: the raw protocol has no subscriptions (use send_on_connect for a subscribe message)")
	}
	a := &Adapter{}
	switch cfg.Format {
	case "", "auto":
	case "json":
		a.jsonOnly = true
	case "text":
		a.text = true
	default:
		return nil, fmt.Errorf("format: must be auto, json or text, got %q", cfg.Format)
	}
	switch cfg.Framing {
	case "", "frame":
	case "lines":
		a.lines = true
	default:
		return nil, fmt.Errorf("framing: must be frame or lines, got %q", cfg.Framing)
	}
	r := cfg.Options.Read()
	a.hbMsg = []byte(r.String("heartbeat_message", ""))
	a.hbEvery = r.Seconds("heartbeat_interval", 0, 0.1, 86400)
	for _, c := range r.Strings("control_frames") {
		a.control = append(a.control, []byte(c))
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if (len(a.hbMsg) > 0) != (a.hbEvery > 0) {
		return nil, fmt.Errorf("options.heartbeat_interval: heartbeat_message and heartbeat_interval go together")
	}
	return a, nil
}

// Name returns "raw".
func (*Adapter) Name() string { return "raw" }

// Prepare changes nothing.
func (*Adapter) Prepare(context.Context, *protocol.Dial) error { return nil }

// Open sends nothing (send_on_connect is the runner's) and returns a
// session that is ready at once.
func (a *Adapter) Open(context.Context, protocol.Conn) (protocol.Session, error) {
	return session{a}, nil
}

type session struct{ a *Adapter }

func (session) Protocol() string { return "raw" }
func (session) Ready() bool      { return true }

// Feed records every frame except the configured control frames.
func (s session) Feed(f protocol.Frame, out *protocol.Output) error {
	if len(s.a.control) > 0 && slices.ContainsFunc(s.a.control, func(c []byte) bool { return bytes.Equal(c, f.Data) }) {
		out.Ctrl(f.Binary, f.Data)
		return nil
	}
	out.Record(f.Binary, f.Data)
	return nil
}

func (s session) Heartbeat() time.Duration { return s.a.hbEvery }

// Compose sends text as one text frame, as it is: for a raw server the
// reply template is the whole frame (protocol.Composer). A raw server
// broadcasts frames as they are, so the echo is the frame decoded as any
// other (its first event when the frame is a batch).
func (s session) Compose(text, _ string, out *protocol.Output) (protocol.Event, error) {
	b := []byte(text)
	out.Replies = append(out.Replies, protocol.Frame{Data: b})
	return s.a.Decode(protocol.Frame{Data: b})[0], nil
}

func (s session) Tick(_ time.Time, out *protocol.Output) error {
	out.Reply(false, s.a.hbMsg)
	return nil
}

// Decode splits a record into events.
//
// With framing "lines" a text record is first cut at '\n' (a trailing '\r'
// dropped), one event per non-blank line.
//
// With format "text" every event is plain text (Event.Text): a line that
// looks like JSON is kept as the text it is.
//
// Otherwise (format auto or json) the rules below apply to each line (or
// to the whole frame). Payload and Raw of every event are the same bytes,
// sub-slices of the record (never copies), and Room and Name are empty. A
// record never gives zero events: one that yields nothing else (empty,
// blank, not JSON, not cleanly splittable) is one event holding it all, so
// nothing is silently dropped.
func (a *Adapter) Decode(f protocol.Frame) []protocol.Event {
	if a.lines && !f.Binary {
		var evs []protocol.Event
		for rest := f.Data; len(rest) > 0; {
			line, tail, _ := bytes.Cut(rest, []byte{'\n'})
			rest = tail
			line = bytes.TrimSuffix(line, []byte{'\r'})
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			evs = append(evs, a.decodeOne(protocol.Frame{Data: line})...)
		}
		if len(evs) == 0 {
			return []protocol.Event{{Payload: f.Data, Raw: f.Data, Text: a.text}}
		}
		return evs
	}
	return a.decodeOne(f)
}

func (a *Adapter) decodeOne(f protocol.Frame) []protocol.Event {
	if a.text {
		return []protocol.Event{{Payload: f.Data, Raw: f.Data, Binary: f.Binary, Text: true}}
	}
	evs := decodeJSON(f)
	if a.jsonOnly && !f.Binary {
		if t := jsontok.Trim(f.Data); len(t) == 0 || (t[0] != '{' && t[0] != '[') {
			evs[0].Reason = "bad_json"
		}
	}
	return evs
}

// decodeJSON splits a frame of JSON or text into events.
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
// A frame with more than maxSplitDepth levels of nesting is not split.
func decodeJSON(f protocol.Frame) []protocol.Event {
	if !f.Binary {
		if evs := splitJSON(f.Data); evs != nil {
			return evs
		}
	}
	return []protocol.Event{{Payload: f.Data, Raw: f.Data, Binary: f.Binary}}
}

// splitJSON returns the events of a batch or NDJSON frame, or nil when the
// frame is one event.
func splitJSON(d []byte) []protocol.Event {
	t := jsontok.Trim(d)
	if len(t) == 0 {
		return nil
	}
	switch t[0] {
	case '[':
		if jsontok.Valid(t, maxSplitDepth) {
			return splitArray(t)
		}
	case '{':
		// The common case: one object on one line. Neither a batch nor NDJSON,
		// decided without validating anything.
		if bytes.IndexByte(t, '\n') < 0 {
			return nil
		}
		if jsontok.Valid(t, maxSplitDepth) {
			return nil
		}
	default:
		return nil
	}
	return splitLines(t)
}

// splitArray returns one event per element of the valid array t when all are
// objects, else nil.
func splitArray(t []byte) []protocol.Event {
	n := 0
	for i := jsontok.SkipSpace(t, 1); i < len(t) && t[i] != ']'; n++ {
		if t[i] != '{' {
			return nil
		}
		i = jsontok.SkipSpace(t, jsontok.ValueEnd(t, i))
		if i < len(t) && t[i] == ',' {
			i = jsontok.SkipSpace(t, i+1)
		}
	}
	if n == 0 {
		return nil
	}
	evs := make([]protocol.Event, 0, n)
	for i := jsontok.SkipSpace(t, 1); i < len(t) && t[i] != ']'; {
		e := jsontok.ValueEnd(t, i)
		evs = append(evs, protocol.Event{Payload: t[i:e], Raw: t[i:e]})
		i = jsontok.SkipSpace(t, e)
		if i < len(t) && t[i] == ',' {
			i = jsontok.SkipSpace(t, i+1)
		}
	}
	return evs
}

// splitLines returns one event per non-blank line of t when there are at
// least two and each is a valid JSON object or array, else nil.
func splitLines(t []byte) []protocol.Event {
	n := 0
	for rest := t; len(rest) > 0; {
		line, tail, _ := bytes.Cut(rest, []byte{'\n'})
		rest = tail
		line = jsontok.Trim(line)
		if len(line) == 0 {
			continue
		}
		if (line[0] != '{' && line[0] != '[') || !jsontok.Valid(line, maxSplitDepth) {
			return nil
		}
		n++
	}
	if n < 2 {
		return nil
	}
	evs := make([]protocol.Event, 0, n)
	for rest := t; len(rest) > 0; {
		line, tail, _ := bytes.Cut(rest, []byte{'\n'})
		rest = tail
		if line = jsontok.Trim(line); len(line) > 0 {
			evs = append(evs, protocol.Event{Payload: line, Raw: line})
		}
	}
	return evs
}
