package message

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/jsontok"
	"github.com/wsmon/wsmon/internal/protocol"
	"github.com/wsmon/wsmon/internal/protocol/raw"
)

// fuzzSeeds are shared by the fuzz tests as seed corpus, next to the inputs
// kept under testdata/fuzz.
func fuzzSeeds() []string {
	return []string{
		demoFrame, "", "hello", "  ", `{}`, `[]`, `{"type":"message","data":{"user":{"name":"a"},"text":"hi \ud83d\udc4d"}}`,
		`["chat",{"from":"x","msg":"y","ts":"2025-11-26T12:26:40+08:00"}]`, `{"user":"a","text":"trunc`, "{\"a\":\"\xff\"}",
		"a\x00b", `{"text":"a\u0000b"}`, deep(70), `[{"a":1},{"b":2}]`, "{\"a\":1}\n{\"b\":2}\n", `{"ts":1764160000.5,"id":12}`,
		`{"content":{"x":[1,2]},"_id":{"$oid":"1"}}`, `{"a":{"b":[{"c":"d"}]}}`, "\x82\xa4user",
	}
}

// checkMessage checks the invariants every normalised message satisfies.
func checkMessage(t *testing.T, m *Message) {
	t.Helper()
	for name, s := range map[string]string{"User": m.User, "Room": m.Room, "Content": m.Content, "ExtID": m.ExtID} {
		if !utf8.ValidString(s) {
			t.Fatalf("%s %q is not valid UTF-8", name, s)
		}
		if strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("%s %q contains NUL", name, s)
		}
	}
	switch m.Type {
	case TypeChat, TypeSystem, TypeJoin, TypeLeave, TypeOther:
	default:
		t.Fatalf("Type %q outside the closed set", m.Type)
	}
	switch m.Reason {
	case "", ReasonInvalidUTF8, ReasonBadJSON, ReasonTooDeep, ReasonNUL, ReasonBinary:
	default:
		t.Fatalf("unexpected Reason %q", m.Reason)
	}
}

// nesting returns the container nesting depth of a valid JSON text.
func nesting(d []byte) int {
	depth, max := 0, 0
	for i := 0; i < len(d); i++ {
		switch d[i] {
		case '"':
			i = jsontok.ValueEnd(d, i) - 1
		case '{', '[':
			depth++
			max = maxInt(max, depth)
		case '}', ']':
			depth--
		}
	}
	return max
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func FuzzNormalize(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s), false)
	}
	f.Add([]byte("\x82\xa4user"), true)
	f.Add([]byte(`{"user":"b"}`), true)
	detect := NewNormalizer(FieldMap{}, 0)
	mapped := NewNormalizer(FieldMap{User: "data.0.u", Content: "c", Time: "t.x", ID: "1"}, 8)
	f.Fuzz(func(t *testing.T, data []byte, binary bool) {
		orig := bytes.Clone(data)
		ev := protocol.Event{Payload: data, Raw: data, Binary: binary}
		var m Message
		detect.Normalize(ev, &m)
		checkMessage(t, &m)
		var m2 Message
		mapped.Normalize(ev, &m2)
		checkMessage(t, &m2)
		detect.DedupKey(&m)
		if !bytes.Equal(data, orig) {
			t.Fatal("Normalize modified its input")
		}
		if binary && m.Reason == ReasonBinary {
			if m.Content != "" || m.Type != TypeOther {
				t.Fatalf("binary frame gave %+v", m)
			}
			return
		}

		clean := utf8.Valid(data) && bytes.IndexByte(data, 0) < 0
		root := jsontok.SkipSpace(data, 0)
		isDoc := root < len(data) && (data[root] == '{' || data[root] == '[')
		valid := json.Valid(data)
		switch {
		case !isDoc && clean:
			if m.Content != string(data) || m.Reason != "" || m.User != "" {
				t.Fatalf("plain text gave %+v", m)
			}
		case isDoc && valid:
			if m.Reason == ReasonBadJSON {
				t.Fatal("valid JSON reported as bad_json")
			}
			if tooDeep := nesting(data) > DefaultMaxDepth; clean && tooDeep != (m.Reason == ReasonTooDeep) {
				t.Fatalf("nesting %d gave Reason %q", nesting(data), m.Reason)
			}
		case isDoc && !valid && clean:
			if m.Reason != ReasonBadJSON && m.Reason != ReasonTooDeep {
				t.Fatalf("invalid JSON gave Reason %q", m.Reason)
			}
			if m.Content != string(data) {
				t.Fatalf("invalid JSON Content %q, want the text", m.Content)
			}
		}
		if !clean && m.Reason == "" {
			t.Fatal("invalid UTF-8 or NUL without a Reason")
		}
	})
}

// FuzzRawDecode fuzzes the raw adapter's frame splitting (it lives here, with
// the rest of the pipeline, so its corpus sits with the other fuzz corpora)
// and normalises every event it yields.
func FuzzRawDecode(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s), false)
	}
	f.Add([]byte("[{\"a\":1}\n,\n{\"b\":2}]\n"), false)
	f.Add([]byte("{\"a\":1}\r\n\r\n[2]\n"), false)
	f.Add([]byte("{\"a\":\n1}\n{\"b\":2}"), false)
	f.Add([]byte(`[{"a":1},{"b":2}]`), true)
	raw := raw.Default()
	n := NewNormalizer(FieldMap{}, 0)
	f.Fuzz(func(t *testing.T, data []byte, binary bool) {
		evs := raw.Decode(protocol.Frame{Binary: binary, Data: data})
		if len(evs) == 0 {
			t.Fatal("no events: the frame was dropped")
		}
		// One event holds the whole frame unless the frame was split (a batch
		// of one is split too).
		split := len(evs) > 1 || !bytes.Equal(evs[0].Raw, data)
		if split && binary {
			t.Fatal("binary frame split")
		}
		prev := 0 // events are ordered, disjoint sub-slices of the frame
		for i, ev := range evs {
			if !bytes.Equal(ev.Payload, ev.Raw) || ev.Binary != binary {
				t.Fatalf("event %d = %+v", i, ev)
			}
			if split {
				off := cap(data) - cap(ev.Raw)
				if len(ev.Raw) == 0 || off < prev || off+len(ev.Raw) > len(data) || &data[off] != &ev.Raw[0] {
					t.Fatalf("event %d Raw %q is not a sub-slice after offset %d", i, ev.Raw, prev)
				}
				prev = off + len(ev.Raw)
				if !json.Valid(ev.Raw) {
					t.Fatalf("event %d Raw %q is not valid JSON", i, ev.Raw)
				}
			}
			var m Message
			n.Normalize(ev, &m)
			checkMessage(t, &m)
		}

		// A valid array of objects (nested within the adapter's limit) is a batch.
		trimmed := bytes.Trim(data, " \t\r\n")
		if binary || !json.Valid(trimmed) || len(trimmed) == 0 || trimmed[0] != '[' || nesting(trimmed) > 256 {
			return
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(trimmed, &elems); err != nil {
			t.Fatal(err)
		}
		batch := len(elems) > 0
		for _, e := range elems {
			batch = batch && e[0] == '{'
		}
		if !batch {
			if len(evs) != 1 {
				t.Fatalf("valid non-batch array split into %d events", len(evs))
			}
			return
		}
		if len(evs) != len(elems) {
			t.Fatalf("batch of %d split into %d events", len(elems), len(evs))
		}
		for i, e := range elems {
			if !bytes.Equal(evs[i].Raw, e) {
				t.Fatalf("event %d Raw %q, want %q", i, evs[i].Raw, e)
			}
		}
	})
}
