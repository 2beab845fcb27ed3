package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/journal"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/protocol"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/store/storetest"
)

// flaky fails its first n batch writes, then writes through.
type flaky struct {
	*store.Store
	n, calls atomic.Int32
}

func (f *flaky) ApplyBatch(ctx context.Context, b *store.Batch) error {
	if f.calls.Add(1) <= f.n.Load() {
		return errors.New("database is locked")
	}
	return f.Store.ApplyBatch(ctx, b)
}

// collect is a Committer that keeps what was committed.
type collect struct {
	mu   sync.Mutex
	msgs []message.Message
}

func (c *collect) Committed(ms []message.Message) error {
	c.mu.Lock()
	c.msgs = append(c.msgs, ms...)
	c.mu.Unlock()
	return nil
}

func (c *collect) len() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.msgs) }

type env struct {
	t     *testing.T
	dir   string
	st    *store.Store
	j     *journal.Journal
	p     *Pipeline
	rec   Recorder
	out   *collect
	done  chan error
	stop  context.CancelFunc
	write Store
}

// start opens the store and journal in dir and runs a pipeline writing
// through wrap(store) (nil: the store).
func start(t *testing.T, dir string, wrap func(*store.Store) Store) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.Options(t, filepath.Join(dir, "db.sqlite"), nil))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, st: st, out: &collect{}, done: make(chan error, 1)}
	e.write = st
	if wrap != nil {
		e.write = wrap(st)
	}
	applied, err := st.AppliedSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e.j, err = journal.Open(filepath.Join(dir, "journal"), applied+1, journal.Options{}); err != nil {
		t.Fatal(err)
	}
	e.rec = Recorder{J: e.j}
	e.p, err = New(ctx, Options{Journal: e.j, Store: e.write, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, Committers: []Committer{e.out}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	e.stop = cancel
	go func() { e.done <- e.p.Run(runCtx) }()
	return e
}

// close stops cleanly: journal closed, then the pipeline drains it.
func (e *env) close() error {
	e.j.Close()
	e.stop()
	err := <-e.done
	e.st.Close()
	return err
}

func (e *env) frames(session int64, from, to int) {
	for i := from; i < to; i++ {
		data := fmt.Appendf(nil, `{"id":"m%d","user":"u","content":"message %d"}`, i, i)
		if err := e.rec.Frame("t", session, time.Unix(1_700_000_000, int64(i)), protocol.Frame{Data: data}, ""); err != nil {
			e.t.Fatal(err)
		}
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestFailedWritesAreRetried: a database that refuses the first writes
// delays the batch; it is retried until written, counted, and the error
// shown until a write succeeds; nothing is lost or doubled.
func TestFailedWritesAreRetried(t *testing.T) {
	e := start(t, t.TempDir(), func(st *store.Store) Store { f := &flaky{Store: st}; f.n.Store(5); return f })
	sess, err := e.rec.SessionStart("t", "ws://x", "raw", time.Unix(1_700_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	e.frames(sess, 0, 100)
	waitFor(t, "100 messages committed", func() bool { return e.out.len() == 100 })
	st := e.p.Stats()
	if st.FailedWrites != 5 || st.Messages != 100 || st.LastError != "" || st.Backlog != 0 {
		t.Fatalf("stats %+v", st)
	}
	if err := e.close(); err != nil {
		t.Fatal(err)
	}
}

// TestShutdownWithUnwritableDatabase: a stop while the database refuses
// every write returns an error saying the records stay in the journal;
// the next run (database writable again) applies each exactly once.
func TestShutdownWithUnwritableDatabase(t *testing.T) {
	dir := t.TempDir()
	e := start(t, dir, func(st *store.Store) Store { f := &flaky{Store: st}; f.n.Store(1 << 30); return f })
	sess, _ := e.rec.SessionStart("t", "ws://x", "raw", time.Unix(1_700_000_000, 0))
	e.frames(sess, 0, 50)
	waitFor(t, "a failed write", func() bool { return e.p.Stats().FailedWrites > 0 })
	if st := e.p.Stats(); !strings.Contains(st.LastError, "database is locked") {
		t.Fatalf("stats %+v", st)
	}
	e.stop() // ctx first: the writer gives up
	e.j.Close()
	err := <-e.done
	e.st.Close()
	if err == nil || !strings.Contains(err.Error(), "kept in the journal") {
		t.Fatalf("Run = %v", err)
	}

	e2 := start(t, dir, nil)
	waitFor(t, "the 50 replayed", func() bool { return e2.out.len() == 50 })
	if err := e2.close(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range e2.out.msgs {
		if seen[m.ExtID] {
			t.Fatalf("message %s twice", m.ExtID)
		}
		seen[m.ExtID] = true
	}
}

// TestGapRecordBecomesSystemMessage: the journal's record of frames it
// dropped (disk full) is stored as a system message with reason dropped
// in its session, at the time of the first dropped frame.
func TestGapRecordBecomesSystemMessage(t *testing.T) {
	e := start(t, t.TempDir(), nil)
	sess, _ := e.rec.SessionStart("t", "ws://x", "raw", time.Unix(1_700_000_000, 0))
	from := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	g, _ := json.Marshal(journal.Gap{From: from, To: from.Add(3 * time.Second), Frames: 42, Bytes: 4200, Error: "no space left on device"})
	if _, err := e.j.Append(journal.Record{Kind: journal.KindGap, At: from, Target: "t", Session: sess, Data: g}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the gap message", func() bool { return e.out.len() == 1 })
	m := e.out.msgs[0]
	if m.Type != message.TypeSystem || m.Reason != message.ReasonDropped || m.SessionID != sess || !m.ReceivedAt.Equal(from) ||
		!strings.Contains(m.Content, "dropped 42 frames (4200 bytes)") || !strings.Contains(m.Content, "no space left on device") {
		t.Fatalf("gap message %+v", m)
	}
	if st := e.p.Stats(); st.Abnormal != 1 {
		t.Fatalf("stats %+v", st)
	}
	if err := e.close(); err != nil {
		t.Fatal(err)
	}
}

// TestDuplicatesCounted: a replayed frame is dropped and counted; the
// stats say how many.
func TestDuplicatesCounted(t *testing.T) {
	e := start(t, t.TempDir(), nil)
	sess, _ := e.rec.SessionStart("t", "ws://x", "raw", time.Unix(1_700_000_000, 0))
	e.frames(sess, 0, 10)
	e.frames(sess, 0, 10) // the server replays them (same ids, times, content)
	e.frames(sess, 10, 12)
	waitFor(t, "12 messages", func() bool { return e.p.Stats().Frames == 22 })
	if err := e.close(); err != nil {
		t.Fatal(err)
	}
	if st := e.p.Stats(); st.Messages != 12 || st.Duplicates != 10 {
		t.Fatalf("stats %+v", st)
	}
}
