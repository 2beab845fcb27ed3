package ingest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/journal"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/protocol"
	"github.com/wsmon/wsmon/internal/protocol/registry"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/store/storetest"
)

// failAfter writes the first n batches, then fails every write (the
// database went away and the process is about to die).
type failAfter struct {
	*store.Store
	n, calls atomic.Int32
}

func (f *failAfter) ApplyBatch(ctx context.Context, b *store.Batch) error {
	if f.calls.Add(1) > f.n.Load() {
		return errors.New("disk I/O error")
	}
	return f.Store.ApplyBatch(ctx, b)
}

// TestReplayDecodesWithTheSessionsProtocol: a target on protocol auto whose
// session picked NATS. The batch holding the session's start record is
// applied, the process dies, and the next run replays the session's later
// records from the journal: they are decoded as NATS (subject as room,
// payload as content), exactly as the live path decoded the first one,
// because the session's protocol comes from the store.
func TestReplayDecodesWithTheSessionsProtocol(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.Options(t, filepath.Join(dir, "db.sqlite"), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	adapter, _, err := registry.New("auto", protocol.Config{URL: "ws://127.0.0.1:1/", Subscribe: []string{"chat.>"}})
	if err != nil {
		t.Fatal(err)
	}
	dec := map[string]Decoder{"t": {Adapter: adapter, Normalizer: message.NewNormalizer(message.FieldMap{}, 0)}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	jdir := filepath.Join(dir, "journal")
	msg := func(subject, payload string) []byte {
		return []byte("MSG " + subject + " 1 " + strconv.Itoa(len(payload)) + "\r\n" + payload + "\r\n")
	}

	// Run 1: the session starts, two records arrive; only the first batch
	// (start + first message) reaches the database.
	j, err := journal.Open(jdir, 1, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := Recorder{J: j}
	at := time.Now()
	sid, err := rec.SessionStart("t", "ws://127.0.0.1:1/", "nats", at)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range [][]byte{msg("chat.a", `{"user":"ann","text":"one"}`), msg("chat.b", "two, as text")} {
		if err := rec.Frame("t", sid, at, protocol.Frame{Binary: true, Data: m}, ""); err != nil {
			t.Fatal(err)
		}
	}
	fs := &failAfter{Store: st}
	fs.n.Store(1)
	p1, err := New(ctx, Options{Journal: j, Store: fs, Decoders: dec, BatchSize: 1, Logger: log, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p1.Run(runCtx) }()
	deadline := time.Now().Add(10 * time.Second)
	for fs.calls.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	j.Close()
	if err := <-done; err == nil {
		t.Fatal("run 1 ended cleanly; it should have stopped with unwritten records")
	}

	// Run 2: a new process (no memory of the session) replays the rest.
	applied, err := st.AppliedSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	j2, err := journal.Open(jdir, applied+1, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := New(ctx, Options{Journal: j2, Store: st, Decoders: dec, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	done2 := make(chan error, 1)
	go func() { done2 <- p2.Run(ctx) }()
	j2.Close()
	if err := <-done2; err != nil {
		t.Fatal(err)
	}

	got, err := st.MessagesAfter(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ room, user, content string }{{"chat.a", "ann", "one"}, {"chat.b", "", "two, as text"}}
	if len(got) != len(want) {
		t.Fatalf("stored %d messages, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Room != w.room || got[i].User != w.user || got[i].Content != w.content {
			t.Errorf("message %d = room %q user %q content %q, want %+v", i, got[i].Room, got[i].User, got[i].Content, w)
		}
	}
}
