package live

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/message"
)

func msgs(from, to int, room string) []message.Message {
	var out []message.Message
	for i := from; i < to; i++ {
		out = append(out, message.Message{ID: int64(i), Target: "t", Room: room, User: "u", Content: fmt.Sprint("m", i), Raw: []byte("raw")})
	}
	return out
}

// TestSlowSubscriberMissesCounted: a subscriber that does not read never
// blocks Publish; what does not fit its queue is counted as missed, and
// delivered + missed is everything that matched.
func TestSlowSubscriberMissesCounted(t *testing.T) {
	h := NewHub(100, nil)
	s := h.Subscribe(Filter{}, 2)
	defer s.Close()
	for i := range 10 {
		h.Publish(msgs(i*5, i*5+5, "")) // never read meanwhile
	}
	got := 0
	for len(s.C()) > 0 {
		d := <-s.C()
		got += d.Len()
		s.Done(d)
	}
	if missed := s.TakeMissed(); got != 10 || int(missed)+got != 50 {
		t.Fatalf("delivered %d, missed %d, want 10 + 40", got, missed)
	}
	if s.TakeMissed() != 0 {
		t.Fatal("TakeMissed does not reset")
	}
}

// TestFilterAndBytesBound: a filtered subscriber gets only its room; one
// holding SubBytes unreleased misses further deliveries until Done.
func TestFilterAndBytesBound(t *testing.T) {
	h := NewHub(10, nil)
	s := h.Subscribe(Filter{Room: "a"}, 100)
	defer s.Close()
	h.Publish(append(msgs(0, 3, "a"), msgs(3, 6, "b")...))
	d := <-s.C()
	if d.Len() != 3 || d.B.Msgs[d.At(0)].Room != "a" {
		t.Fatalf("delivery of %d", d.Len())
	}
	s.Done(d)
	// A batch larger than SubBytes still reaches an empty subscriber; while
	// it is held, the next delivery is missed; once released, deliveries
	// flow again.
	big := message.Message{ID: 10, Target: "t", Room: "a", Content: strings.Repeat("x", MaxContent)}
	var many []message.Message
	for range SubBytes/Size(&big) + 2 {
		many = append(many, big)
	}
	h.Publish(many)
	h.Publish(msgs(20, 21, "a"))
	if n := s.TakeMissed(); n != 1 {
		t.Fatalf("missed %d, want 1 (budget full)", n)
	}
	bd := <-s.C()
	if bd.Len() != len(many) {
		t.Fatalf("big delivery of %d", bd.Len())
	}
	s.Done(bd)
	h.Publish(msgs(30, 31, "a"))
	if d := <-s.C(); d.Len() != 1 || s.TakeMissed() != 0 {
		t.Fatalf("after Done: %d delivered", d.Len())
	}
}

// TestRecentRingBounds: the ring keeps the newest messages within its
// count and RecentBytes; huge contents are cut at MaxContent on a rune
// boundary with an ellipsis and lose their raw frame.
func TestRecentRingBounds(t *testing.T) {
	h := NewHub(5, nil)
	h.Publish(msgs(0, 8, ""))
	r := h.Recent(100, Filter{})
	if len(r) != 5 || r[0].ID != 3 || r[4].ID != 7 {
		t.Fatalf("recent %d, first %d", len(r), r[0].ID)
	}
	huge := msgs(100, 101, "")
	huge[0].Content = strings.Repeat("紧", MaxContent) // 3 bytes a rune
	h.Publish(huge)
	m := h.Recent(1, Filter{})[0]
	if len(m.Content) > MaxContent+len(Ellipsis) || !strings.HasSuffix(m.Content, Ellipsis) || !utf8.ValidString(m.Content) || m.Raw != nil {
		t.Fatalf("cut content: %d bytes, raw %d", len(m.Content), len(m.Raw))
	}
	if huge[0].Content != strings.Repeat("紧", MaxContent) {
		t.Fatal("the caller's message was modified")
	}
	// Bytes: contents over MaxContent are cut to it, and the ring holds at
	// most RecentBytes whatever the count.
	h2 := NewHub(100000, nil)
	var big []message.Message
	long := strings.Repeat("y", 20<<10)
	for i := range 2000 {
		big = append(big, message.Message{ID: int64(i), Content: long})
	}
	h2.Publish(big)
	if n := len(h2.Recent(1<<30, Filter{})); n*(MaxContent+256) > RecentBytes+MaxContent+512 {
		t.Fatalf("ring holds %d messages of ~16 KiB, over %d bytes", n, RecentBytes)
	}
}
