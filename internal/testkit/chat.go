package testkit

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// ChatSet is the fixed set every protocol test has its server broadcast:
// Chinese text, emoji with ZWJ sequences, HTML-like text, text that looks
// like JSON, text that looks like a protocol frame of each kind we speak,
// and a 10 KB message. Each must be stored once, byte for byte.
func ChatSet() []string {
	return []string{
		"你好，世界！今天的订单已经发货了",
		"family 👩‍👩‍👧‍👦 flag 🏳️‍🌈 skin 👍🏽",
		`<script>alert("x")</script> &amp; <b>bold</b>`,
		`{"type":"fake","user":"mallory","content":"not a real envelope"}`,
		"42[\"chat message\",\"spoof\"]\nMESSAGE\ndestination:/topic/x\n\nbody\x00 MSG a 1 3\r\nabc\r\n {}\x1e",
		tenKB(),
	}
}

// tenKB is a 10,240-byte message of mixed Japanese and ASCII text.
func tenKB() string {
	const size = 10 * 1024
	var b strings.Builder
	for b.Len() < size {
		for _, r := range "長いメッセージ long message 0123456789 " {
			if b.Len()+utf8.RuneLen(r) > size {
				for b.Len() < size {
					b.WriteByte('.')
				}
				return b.String()
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// StoredText is what wsmon keeps as the content of a sent text: the
// normaliser removes NUL characters (the raw frame keeps them).
func StoredText(text string) string { return strings.ReplaceAll(text, "\x00", "") }

// StoredReason is the reason a stored text gets: "nul_bytes" when the
// normaliser removed NULs from it, else "".
func StoredReason(text string) string {
	if strings.Contains(text, "\x00") {
		return "nul_bytes"
	}
	return ""
}

// Want is one message a test expects to be stored.
type Want struct {
	Content string
	User    string
	Room    string
}

// CheckSet fails the test unless got holds exactly the wanted messages,
// each once (content byte for byte, with its user and room), and nothing
// else. Order is not checked.
func CheckSet(t testing.TB, got []Stored, want []Want) {
	t.Helper()
	left := append([]Want(nil), want...)
	var extra []Stored
	for _, g := range got {
		found := -1
		for i, w := range left {
			if w.Content == g.Content && w.User == g.User && w.Room == g.Room {
				found = i
				break
			}
		}
		if found < 0 {
			extra = append(extra, g)
			continue
		}
		left = append(left[:found], left[found+1:]...)
	}
	for _, e := range extra {
		t.Errorf("unexpected stored message: user %q room %q type %q reason %q content %q raw %q", e.User, e.Room, e.Type, e.Reason, short(e.Content), short(string(e.Raw)))
	}
	for _, w := range left {
		t.Errorf("missing message: user %q room %q content %q", w.User, w.Room, short(w.Content))
	}
	if len(extra) > 0 || len(left) > 0 {
		t.FailNow()
	}
}

func short(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
