package message

import (
	"encoding/json"
	"testing"

	"github.com/wsmon/wsmon/internal/protocol"
)

// demoFrame is a typical frame of the built-in demo server.
const demoFrame = `{"id":"m-123","seq":123,"type":"chat","user":"小明","room":"lobby","content":"今天的订单 #4521 已经发货了 hello 👍","timestamp":1764160000123}`

func BenchmarkNormalize(b *testing.B) {
	frames := []struct {
		name  string
		frame string
	}{
		{"demo", demoFrame},
		{"wrapped", `{"type":"message","data":{"user":{"id":7,"name":"alice"},"text":"hi \"there\" \u4f60\u597d","ts":"2025-11-26T12:00:00.123Z"},"channel":"general"}`},
		{"plain", `hello everyone, this is a plain text line`},
	}
	for _, f := range frames {
		b.Run(f.name, func(b *testing.B) {
			n := NewNormalizer(FieldMap{}, 0)
			ev := protocol.Event{Payload: []byte(f.frame), Raw: []byte(f.frame)}
			var m Message
			b.SetBytes(int64(len(f.frame)))
			b.ReportAllocs()
			for b.Loop() {
				m.Reason = ""
				n.Normalize(ev, &m)
			}
		})
	}
	b.Run("mapped", func(b *testing.B) {
		n := NewNormalizer(FieldMap{User: "user", Content: "content", Time: "timestamp"}, 0)
		ev := protocol.Event{Payload: []byte(demoFrame), Raw: []byte(demoFrame)}
		var m Message
		b.ReportAllocs()
		for b.Loop() {
			m.Reason = ""
			n.Normalize(ev, &m)
		}
	})
}

// BenchmarkEncodingJSON is the baseline the scanner replaces: decoding the
// demo frame into map[string]any.
func BenchmarkEncodingJSON(b *testing.B) {
	data := []byte(demoFrame)
	b.ReportAllocs()
	for b.Loop() {
		var v map[string]any
		if err := json.Unmarshal(data, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDedupKey(b *testing.B) {
	n := NewNormalizer(FieldMap{}, 0)
	var m Message
	n.Normalize(protocol.Event{Payload: []byte(demoFrame)}, &m)
	m.ExtID = ""
	b.ReportAllocs()
	for b.Loop() {
		n.DedupKey(&m)
	}
}
