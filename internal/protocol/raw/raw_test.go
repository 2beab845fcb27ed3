package raw

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
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
	r := mustNew(t, protocol.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := []byte(tt.frame)
			evs := r.Decode(protocol.Frame{Binary: tt.binary, Data: frame})
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

func raws(evs []protocol.Event) []string {
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

func mustNew(t testing.TB, cfg protocol.Config) *Adapter {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a.(*Adapter)
}

// TestFormatAndFraming: format text keeps JSON-looking text as text;
// framing lines gives one event per line.
func TestFormatAndFraming(t *testing.T) {
	tests := []struct {
		name    string
		cfg     protocol.Config
		frame   string
		want    []string
		text    bool
		reasons []string
	}{
		{"text keeps json", protocol.Config{Format: "text"}, `{"type":"fake","user":"x"}`, []string{`{"type":"fake","user":"x"}`}, true, nil},
		{"text is not split", protocol.Config{Format: "text"}, "{\"a\":1}\n{\"b\":2}", []string{"{\"a\":1}\n{\"b\":2}"}, true, nil},
		{"lines", protocol.Config{Format: "text", Framing: "lines"}, "hello\r\n\n{\"type\":\"fake\"}\nbye", []string{"hello", `{"type":"fake"}`, "bye"}, true, nil},
		{"lines auto", protocol.Config{Framing: "lines"}, "{\"a\":1}\nplain", []string{`{"a":1}`, "plain"}, false, nil},
		{"lines blank", protocol.Config{Framing: "lines"}, "\n\n", []string{"\n\n"}, false, nil},
		{"json flags text", protocol.Config{Format: "json"}, "hello", []string{"hello"}, false, []string{"bad_json"}},
		{"json keeps json", protocol.Config{Format: "json"}, `{"a":1}`, []string{`{"a":1}`}, false, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := mustNew(t, tt.cfg).Decode(protocol.Frame{Data: []byte(tt.frame)})
			if len(evs) != len(tt.want) {
				t.Fatalf("got %q, want %q", raws(evs), tt.want)
			}
			for i, ev := range evs {
				if string(ev.Payload) != tt.want[i] || ev.Text != tt.text {
					t.Errorf("event %d = %q text %v, want %q text %v", i, ev.Payload, ev.Text, tt.want[i], tt.text)
				}
				if tt.reasons != nil && ev.Reason != tt.reasons[i] {
					t.Errorf("event %d reason %q, want %q", i, ev.Reason, tt.reasons[i])
				}
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		cfg  protocol.Config
		want string
	}{
		{protocol.Config{Format: "xml"}, "format"},
		{protocol.Config{Framing: "chunks"}, "framing"},
		{protocol.Config{Subscribe: []string{"x"}}, "subscribe"},
		{protocol.Config{Options: protocol.Options{"heartbeat_message": "ping"}}, "heartbeat_interval"},
		{protocol.Config{Options: protocol.Options{"qos": 1.0}}, "options.qos: unknown option"},
		{protocol.Config{Options: protocol.Options{"heartbeat_interval": "x"}}, "options.heartbeat_interval"},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want an error with %q", tt.cfg, err, tt.want)
		}
	}
}

// TestSession: every frame is a record except the configured control
// frames; the heartbeat is the configured message.
func TestSession(t *testing.T) {
	a := mustNew(t, protocol.Config{Options: protocol.Options{
		"heartbeat_message": `{"type":"ping"}`, "heartbeat_interval": 15.0, "control_frames": []any{"pong", "{}"}}})
	s, err := a.Open(context.Background(), nil)
	if err != nil || !s.Ready() || s.Protocol() != "raw" {
		t.Fatalf("Open = %v, %v", s, err)
	}
	var out protocol.Output
	for _, f := range []string{"hello", "pong", "{}", `{"a":1}`} {
		if err := s.Feed(protocol.Frame{Data: []byte(f)}, &out); err != nil {
			t.Fatal(err)
		}
	}
	if len(out.Records) != 2 || len(out.Control) != 2 || string(out.Records[1].Data) != `{"a":1}` {
		t.Errorf("records %d control %d", len(out.Records), len(out.Control))
	}
	if s.Heartbeat() != 15*time.Second {
		t.Errorf("Heartbeat = %v", s.Heartbeat())
	}
	out.Reset()
	s.Tick(time.Now(), &out)
	if len(out.Replies) != 1 || string(out.Replies[0].Data) != `{"type":"ping"}` || out.Replies[0].Binary {
		t.Errorf("Tick = %+v", out.Replies)
	}
}

func BenchmarkRawDecode(b *testing.B) {
	frames := []struct{ name, frame string }{
		{"object", `{"id":"m-123","seq":123,"type":"chat","user":"小明","room":"lobby","content":"今天的订单 #4521 已经发货了 hello 👍","timestamp":1764160000123}`},
		{"batch", `[{"id":1,"user":"a","text":"hi"},{"id":2,"user":"b","text":"yo"},{"id":3,"user":"c","text":"hey"}]`},
		{"ndjson", "{\"id\":1,\"user\":\"a\",\"text\":\"hi\"}\n{\"id\":2,\"user\":\"b\",\"text\":\"yo\"}\n"},
	}
	r := mustNew(b, protocol.Config{})
	for _, f := range frames {
		b.Run(f.name, func(b *testing.B) {
			fr := protocol.Frame{Data: []byte(f.frame)}
			b.ReportAllocs()
			for b.Loop() {
				r.Decode(fr)
			}
		})
	}
}
