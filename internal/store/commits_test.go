package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/store/pgtest"
)

// TestCommitsNotifiesOtherProcesses: on PostgreSQL every batch committed
// through one store wakes a Commits listener of another (LISTEN/NOTIFY);
// on SQLite Commits is nil (a web process polls).
func TestCommitsNotifiesOtherProcesses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := testOptions(t, time.UTC)
	w, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	wake := r.Commits(ctx)
	if !pgtest.Enabled() {
		if wake != nil {
			t.Fatal("Commits on SQLite: want nil")
		}
		return
	}
	id := int64(0)
	commit := func() {
		id++
		b := &Batch{AppliedSeq: uint64(id), Messages: []message.Message{{ID: id, Target: "t", SessionID: 1, ReceivedAt: time.Now(), User: "u", Type: message.TypeChat, Content: "hi", Raw: []byte("hi")}}}
		if err := w.ApplyBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// The listener connects in the background and wakes once when it
	// listens; then commit until a wake-up says it hears them.
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatal("the listener did not start listening within 10 s")
	}
	deadline := time.Now().Add(10 * time.Second)
	for heard := false; !heard; {
		commit()
		select {
		case <-wake:
			heard = true
		case <-time.After(100 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("no notification within 10 s of commits")
			}
		}
	}
	var lat []time.Duration
	for range 200 {
		t0 := time.Now()
		commit()
		select {
		case <-wake:
			lat = append(lat, time.Since(t0))
		case <-time.After(5 * time.Second):
			t.Fatalf("commit %d: no notification within 5 s", id)
		}
	}
	slices.Sort(lat)
	t.Logf("commit (one-message batch) to the other store's wake-up: p50 %v, p99 %v, max %v over %d batches",
		lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1], len(lat))
}
