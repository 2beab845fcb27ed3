package demo

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestAppendMessage: a message built from arbitrary strings (a client's
// chat) is one valid JSON object in the demo's field order that decodes
// back to them (invalid UTF-8 as U+FFFD), with no HTML escaping.
func TestAppendMessage(t *testing.T) {
	tests := []string{
		"",
		"plain ascii",
		`quote " and backslash \`,
		"controls \n\r\t\b\f \x00 \x01 \x1f \x7f",
		"中文 重要 紧急 😀 ❤️",
		"<script>alert('x')</script> & more",
		"line sep \u2028 para sep \u2029",
		"invalid \xff utf8 \xe4\xb8 truncated",
	}
	g := newGenerator(3, 10)
	for i, s := range tests {
		raw := g.appendMessage([]byte("x"), int64(i), typeChat, s, "room "+s, s, 1700000000000)[1:]
		if !bytes.HasPrefix(raw, []byte(`{"id":"`+g.idPrefix)) || bytes.Contains(raw, []byte(`\u003c`)) {
			t.Errorf("appendMessage(%q) = %s", s, raw)
		}
		var m wireMsg
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("appendMessage(%q) = %s: %v", s, raw, err)
		}
		want := string([]rune(s)) // each invalid byte becomes U+FFFD
		if m.Seq != int64(i) || m.Type != typeChat || m.User != want || m.Room != "room "+want || m.Content != want || m.Timestamp != 1700000000000 {
			t.Errorf("appendMessage(%q) decodes to %+v", s, m)
		}
	}
}

func TestGeneratedMessages(t *testing.T) {
	g := newGenerator(11, 100)
	types := map[string]int{}
	var corpus strings.Builder
	longest := 0
	users := map[string]bool{}
	for seq := int64(1); seq <= 5000; seq++ {
		raw := g.appendEvent(nil, seq, 1700000000000)
		if !utf8.Valid(raw) {
			t.Fatalf("invalid UTF-8: %q", raw)
		}
		var m wireMsg
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("seq %d: %v in %s", seq, err, raw)
		}
		if m.Seq != seq || m.ID != g.idPrefix+itoa64(seq) || m.Timestamp != 1700000000000 ||
			m.User == "" || m.Room == "" || m.Content == "" {
			t.Fatalf("bad message %s", raw)
		}
		for _, ph := range []string{"{user}", "{order}", "{n}", "{emoji}", "{room}", "{time}", "{price}"} {
			if strings.Contains(m.Content, ph) {
				t.Fatalf("unfilled placeholder in %q", m.Content)
			}
		}
		types[m.Type]++
		users[m.User] = true
		corpus.WriteString(m.Content)
		longest = max(longest, len(m.Content))
	}
	for _, typ := range []string{typeChat, typeSystem, typeJoin, typeLeave} {
		if types[typ] == 0 {
			t.Errorf("no %s messages: %v", typ, types)
		}
	}
	for _, word := range []string{"重要", "紧急", "hello", "欢迎来到聊天室", "#", "ORD-", "¥"} {
		if !strings.Contains(corpus.String(), word) {
			t.Errorf("content never contains %q", word)
		}
	}
	if longest < 300 {
		t.Errorf("longest content is %d bytes; want occasional long messages", longest)
	}
	if len(users) < 50 {
		t.Errorf("only %d distinct users of 100", len(users))
	}
	if !users["小明"] || !users["alice"] || !users["Tom & Jerry"] || !users["小明_2"] {
		t.Errorf("expected Chinese, English and suffixed names among %d users", len(users))
	}
}

func TestGeneratorDeterminism(t *testing.T) {
	tests := []struct {
		name       string
		a, b       int64
		wantSameID bool
	}{
		{"same seed", 99, 99, true},
		{"different seed", 99, 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ga, gb := newGenerator(tt.a, 20), newGenerator(tt.b, 20)
			var outA, outB []byte
			for seq := int64(1); seq <= 500; seq++ {
				outA = ga.appendEvent(outA, seq, 1)
				outB = gb.appendEvent(outB, seq, 1)
				outA = ga.appendChat(outA, seq, 1)
				outB = gb.appendChat(outB, seq, 1)
			}
			if same := bytes.Equal(outA, outB); same != tt.wantSameID {
				t.Errorf("identical output = %v, want %v", same, tt.wantSameID)
			}
		})
	}
}

func itoa64(v int64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func BenchmarkAppendChat(b *testing.B) {
	g := newGenerator(1, 20)
	var buf []byte
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = g.appendChat(buf[:0], int64(i), 1700000000000)
	}
}
