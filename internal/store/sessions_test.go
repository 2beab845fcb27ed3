package store

import (
	"context"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

// TestCloseOrphanSessions: sessions a crash left open (no end record) are
// closed at their newest message, or at their start when they have none,
// with the orphan error; a session closed normally, and sessions above the
// bound (the running process's), are left alone.
func TestCloseOrphanSessions(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testOptions(t, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.UnixMilli(1_764_000_000_000)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	msg := func(id, session int64, sec int) message.Message {
		return message.Message{ID: id, Target: "t", SessionID: session, ReceivedAt: at(sec), Content: "x", Type: message.TypeChat}
	}
	b := &Batch{
		Starts: []SessionStart{
			{ID: 1, Target: "t", URL: "ws://a", At: at(0)},  // closed normally
			{ID: 3, Target: "t", URL: "ws://a", At: at(10)}, // orphan with messages
			{ID: 5, Target: "u", URL: "ws://b", At: at(12)}, // orphan without messages
			{ID: 9, Target: "t", URL: "ws://a", At: at(40)}, // the running process's
		},
		Messages:   []message.Message{msg(1, 1, 1), msg(2, 3, 11), msg(3, 3, 20), msg(4, 3, 25), msg(5, 9, 41)},
		Ends:       []SessionEnd{{ID: 1, At: at(5), Error: "closed"}},
		AppliedSeq: 9,
	}
	if err := s.ApplyBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	closed, err := s.CloseOrphanSessions(ctx, 0, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(closed) != 2 {
		t.Fatalf("closed %+v, want sessions 3 and 5", closed)
	}
	ss, err := s.Sessions(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]struct {
		end time.Time
		err string
	}{1: {at(5), "closed"}, 3: {at(25), OrphanSessionError}, 5: {at(12), OrphanSessionError}, 9: {}}
	for _, se := range ss {
		w := want[se.ID]
		if !se.DisconnectedAt.Equal(w.end) || se.Error != w.err {
			t.Errorf("session %d: disconnected %v error %q; want %v %q", se.ID, se.DisconnectedAt, se.Error, w.end, w.err)
		}
	}
	// Idempotent: nothing is left to close.
	if closed, err := s.CloseOrphanSessions(ctx, 0, 8); err != nil || len(closed) != 0 {
		t.Errorf("second call closed %+v, %v", closed, err)
	}
}
