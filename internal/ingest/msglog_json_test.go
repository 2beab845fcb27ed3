package ingest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/message"
)

// TestMessageJSON: a message-log line is one JSON object that decodes back
// to the message's fields, whatever the text holds (quotes, control
// characters, line separators, HTML, invalid UTF-8 as U+FFFD).
func TestMessageJSON(t *testing.T) {
	hostile := "a \"q\" \\ \n\r\t\b\f \x01 \u2028\u2029 <b>&amp;</b> 中文 👍 \xff"
	at := time.Date(2025, 11, 26, 12, 0, 0, 123e6, time.UTC)
	for _, m := range []message.Message{
		{ID: 1, Target: "t<1>", ReceivedAt: at, User: hostile, Room: "r", Type: message.TypeChat, Content: hostile, Raw: []byte(hostile)},
		{ID: 4, Target: "t", ReceivedAt: at, User: "u", Type: message.TypeChat, Content: hostile[:len(hostile)-2], Raw: []byte(hostile[:len(hostile)-2])},
		{ID: 2, Target: "t", ReceivedAt: at, SentAt: at, User: "u", Type: message.TypeChat, Content: "hi", Raw: []byte(`{"user":"u","text":"hi"}`)},
		{ID: 3, Target: "t", ReceivedAt: at, Type: message.TypeOther, Reason: "binary", Binary: true, Raw: []byte{0, 1, 2}},
	} {
		line := appendMessageJSON(nil, &m)
		if strings.ContainsAny(string(line), "\n\r") {
			t.Fatalf("line %q is more than one line", line)
		}
		var got struct {
			ID        int64
			Target    string
			User      string
			Content   string
			Raw       json.RawMessage
			RawBase64 []byte `json:"raw_base64"`
		}
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("line %s: %v", line, err)
		}
		valid := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
		if got.ID != m.ID || got.Target != m.Target || got.User != valid(m.User) || got.Content != valid(m.Content) {
			t.Errorf("line %s decodes to %+v", line, got)
		}
		switch {
		case m.Binary || !utf8.Valid(m.Raw):
			if string(got.RawBase64) != string(m.Raw) {
				t.Errorf("raw_base64 %q, want %q", got.RawBase64, m.Raw)
			}
		case m.Raw[0] == '{':
			if string(got.Raw) != string(m.Raw) {
				t.Errorf("raw %s, want it embedded as is", got.Raw)
			}
		default:
			var raw string
			if err := json.Unmarshal(got.Raw, &raw); err != nil || raw != valid(string(m.Raw)) {
				t.Errorf("raw %s (%v), want the text", got.Raw, err)
			}
		}
	}
}

// BenchmarkMessageJSON encodes a typical demo message as its message-log
// line (this runs for every stored message).
func BenchmarkMessageJSON(b *testing.B) {
	raw := `{"id":"m-123","seq":123,"type":"chat","user":"小明","room":"lobby","content":"今天的订单 #4521 已经发货了 hello 👍","timestamp":1764160000123}`
	m := message.Message{ID: 123, Target: "demo", ReceivedAt: time.Unix(1764160000, 123e6), SentAt: time.Unix(1764160000, 123e6),
		User: "小明", Room: "lobby", Type: message.TypeChat, Content: "今天的订单 #4521 已经发货了 hello 👍 \"quoted\" <b>", Raw: []byte(raw)}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = appendMessageJSON(buf[:0], &m)
	}
}
