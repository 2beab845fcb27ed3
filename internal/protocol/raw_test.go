package protocol

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRawDecode(t *testing.T) {
	tests := []struct {
		name   string
		frame  string
		binary bool
		want   []string // Raw of each event
	}{
		{"object", `{"user":"a","text":"hi"}`, false, []string{`{"user":"a","text":"hi"}`}},
		{"object with trailing newline", "{\"a\":1}\n", false, []string{"{\"a\":1}\n"}},
		{"plain text", "hello world", false, []string{"hello world"}},
		{"empty", "", false, []string{""}},
		{"blank", " \n\t ", false, []string{" \n\t "}},
		{"ndjson", "{\"a\":1}\n{\"b\":2}\n", false, []string{`{"a":1}`, `{"b":2}`}},
		{"ndjson crlf and blank lines", "{\"a\":1}\r\n\r\n  {\"b\":2}  \r\n[1]\r\n", false, []string{`{"a":1}`, `{"b":2}`, `[1]`}},
		{"ndjson with a bad line", "{\"a\":1}\n{\"b\":\n", false, []string{"{\"a\":1}\n{\"b\":\n"}},
		{"ndjson with a text line", "{\"a\":1}\nhello\n", false, []string{"{\"a\":1}\nhello\n"}},
		{"ndjson with a scalar line", "{\"a\":1}\n42\n", false, []string{"{\"a\":1}\n42\n"}},
		{"pretty printed object", "{\n  \"a\": 1,\n  \"b\": {\"c\": 2}\n}\n", false, []string{"{\n  \"a\": 1,\n  \"b\": {\"c\": 2}\n}\n"}},
		{"text then json", "hello\n{\"a\":1}\n{\"b\":2}", false, []string{"hello\n{\"a\":1}\n{\"b\":2}"}},
		{"batch", `[{"a":1},{"b":[1,2]} , {"c":"]"}]`, false, []string{`{"a":1}`, `{"b":[1,2]}`, `{"c":"]"}`}},
		{"batch pretty", "[\n {\"a\":1},\n {\"b\":2}\n]", false, []string{`{"a":1}`, `{"b":2}`}},
		{"batch of one", ` [{"a":1}] `, false, []string{`{"a":1}`}},
		{"empty array", `[]`, false, []string{`[]`}},
		{"array of scalars", `["chat",{"a":1}]`, false, []string{`["chat",{"a":1}]`}},
		{"array of arrays", `[[1],[2]]`, false, []string{`[[1],[2]]`}},
		{"truncated batch", `[{"a":1},{"b":`, false, []string{`[{"a":1},{"b":`}},
		{"ndjson of arrays", "[1]\n[2]", false, []string{"[1]", "[2]"}},
		{"batch lines are not split further", "[{\"a\":1},{\"b\":2}]\n{\"c\":3}", false, []string{`[{"a":1},{"b":2}]`, `{"c":3}`}},
		{"binary is never split", "{\"a\":1}\n{\"b\":2}", true, []string{"{\"a\":1}\n{\"b\":2}"}},
		{"binary batch", `[{"a":1},{"b":2}]`, true, []string{`[{"a":1},{"b":2}]`}},
		{"chinese and emoji", "{\"u\":\"小明\"}\n{\"t\":\"👍\"}", false, []string{`{"u":"小明"}`, `{"t":"👍"}`}},
		{"too deep to split", "[" + strings.Repeat("[", 300) + strings.Repeat("]", 300) + "]", false, []string{"[" + strings.Repeat("[", 300) + strings.Repeat("]", 300) + "]"}},
		{"unicode space is not json space", "\u00a0{\"a\":1}\n{\"b\":2}", false, []string{"\u00a0{\"a\":1}\n{\"b\":2}"}},
	}
	r := NewRaw(nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := []byte(tt.frame)
			evs := r.Decode(Frame{Binary: tt.binary, Data: frame})
			if len(evs) != len(tt.want) {
				t.Fatalf("got %d events %q, want %d %q", len(evs), raws(evs), len(tt.want), tt.want)
			}
			for i, ev := range evs {
				if string(ev.Raw) != tt.want[i] {
					t.Errorf("event %d Raw = %q, want %q", i, ev.Raw, tt.want[i])
				}
				if string(ev.Payload) != string(ev.Raw) {
					t.Errorf("event %d Payload %q != Raw %q", i, ev.Payload, ev.Raw)
				}
				if ev.Binary != tt.binary || ev.Room != "" || ev.Name != "" {
					t.Errorf("event %d = %+v", i, ev)
				}
				if len(ev.Raw) > 0 && !within(ev.Raw, frame) {
					t.Errorf("event %d Raw is a copy, want a sub-slice of the frame", i)
				}
			}
		})
	}
}

func raws(evs []Event) []string {
	var s []string
	for _, ev := range evs {
		s = append(s, string(ev.Raw))
	}
	return s
}

// within reports whether sub is a sub-slice of b (shares its memory).
func within(sub, b []byte) bool {
	i := cap(b) - cap(sub)
	return len(sub) > 0 && i >= 0 && i < len(b) && &b[i] == &sub[0]
}

func TestRawValid(t *testing.T) {
	tests := []string{
		``, ` `, `{}`, `[]`, `{"a":1}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{"a" 1}`, `{a:1}`, `"\u12"`, `"\u1234"`,
		`"\x"`, "\"\t\"", `01`, `-0`, `-`, `1.`, `1.5e`, `1.5e+3`, `1E5`, `tru`, `true`, `nul`, `null `,
		`{"a":[1,{"b":null}]}`, `[[]]`, `[[],]`, `{"a":{}}`, `{"a":{},"b":[]}`, `[}`, `{]`, `"a`, `{"a":"b"}x`,
		strings.Repeat("[", maxRawSplitDepth) + strings.Repeat("]", maxRawSplitDepth),
	}
	for _, in := range tests {
		if got, want := rawValid([]byte(in)), json.Valid([]byte(in)); got != want {
			t.Errorf("rawValid(%q) = %v, want %v", in, got, want)
		}
	}
	deep := strings.Repeat("[", maxRawSplitDepth+1) + strings.Repeat("]", maxRawSplitDepth+1)
	if rawValid([]byte(deep)) {
		t.Errorf("rawValid accepted %d levels", maxRawSplitDepth+1)
	}
}

// fakeConn records writes and fails the write numbered failAt (1-based).
type fakeConn struct {
	writes []string
	failAt int
}

func (c *fakeConn) WriteText(_ context.Context, data []byte) error {
	if len(c.writes)+1 == c.failAt {
		return errors.New("broken pipe")
	}
	c.writes = append(c.writes, string(data))
	return nil
}

func (c *fakeConn) ReadFrame(context.Context) (Frame, error) {
	return Frame{}, errors.New("unexpected read")
}

func TestRawHandshake(t *testing.T) {
	msgs := []string{`{"cmd":"login","token":"x"}`, `{"cmd":"join","room":"lobby"}`, ""}
	r := NewRaw(msgs)
	msgs[0] = "mutated" // NewRaw copies

	c := &fakeConn{}
	if err := r.Handshake(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	want := []string{`{"cmd":"login","token":"x"}`, `{"cmd":"join","room":"lobby"}`, ""}
	if strings.Join(c.writes, "|") != strings.Join(want, "|") || len(c.writes) != len(want) {
		t.Errorf("writes = %q, want %q", c.writes, want)
	}

	c = &fakeConn{failAt: 2}
	err := r.Handshake(context.Background(), c)
	if err == nil || !strings.Contains(err.Error(), "message 2") || !strings.Contains(err.Error(), "broken pipe") {
		t.Errorf("Handshake error = %v, want one naming message 2", err)
	}
	if len(c.writes) != 1 {
		t.Errorf("wrote %d messages after a failure, want 1", len(c.writes))
	}

	if err := NewRaw(nil).Handshake(context.Background(), &fakeConn{failAt: 1}); err != nil {
		t.Errorf("Handshake with nothing to send = %v", err)
	}
}

func TestRawAdapter(t *testing.T) {
	var a Adapter = NewRaw(nil)
	if a.Name() != "raw" || a.Subprotocols() != nil {
		t.Errorf("Name %q Subprotocols %v", a.Name(), a.Subprotocols())
	}
	if reply, control := a.Intercept(Frame{Data: []byte(`{"type":"ping"}`)}); reply != nil || control {
		t.Errorf("Intercept = %q, %v", reply, control)
	}
	if iv, p := a.Heartbeat(); iv != time.Duration(0) || p != nil {
		t.Errorf("Heartbeat = %v, %q", iv, p)
	}
}

func BenchmarkRawDecode(b *testing.B) {
	frames := []struct{ name, frame string }{
		{"object", `{"id":"m-123","seq":123,"type":"chat","user":"小明","room":"lobby","content":"今天的订单 #4521 已经发货了 hello 👍","timestamp":1764160000123}`},
		{"batch", `[{"id":1,"user":"a","text":"hi"},{"id":2,"user":"b","text":"yo"},{"id":3,"user":"c","text":"hey"}]`},
		{"ndjson", "{\"id\":1,\"user\":\"a\",\"text\":\"hi\"}\n{\"id\":2,\"user\":\"b\",\"text\":\"yo\"}\n"},
	}
	r := NewRaw(nil)
	for _, f := range frames {
		b.Run(f.name, func(b *testing.B) {
			fr := Frame{Data: []byte(f.frame)}
			b.ReportAllocs()
			for b.Loop() {
				r.Decode(fr)
			}
		})
	}
}
