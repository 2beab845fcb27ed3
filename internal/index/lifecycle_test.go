package index_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/bench"
	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/store/storetest"
)

// openStore opens a fresh database.
func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), storetest.Options(t, filepath.Join(t.TempDir(), "chat_monitor.db"), time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// writer commits messages to a store as the ingest pipeline does (ids in
// order, one transaction per batch) and hands each batch to committers.
type writer struct {
	t    *testing.T
	st   *store.Store
	rng  *rand.Rand
	next int64
	seq  uint64
	at   time.Time
}

func newWriter(t *testing.T, st *store.Store, seed uint64) *writer {
	return &writer{t: t, st: st, rng: rand.New(rand.NewPCG(seed, 3)), next: 1, at: time.Now().Add(-48 * time.Hour)}
}

// batch commits n messages, received step apart, and returns them.
func (w *writer) batch(n int, step time.Duration) []message.Message {
	w.t.Helper()
	vocab := bench.Vocabulary()
	msgs := make([]message.Message, n)
	for i := range msgs {
		var b strings.Builder
		for k := 0; k < 2+w.rng.IntN(8); k++ {
			if k > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(vocab[w.rng.IntN(len(vocab))])
		}
		if w.rng.IntN(10) == 0 {
			fmt.Fprintf(&b, " #%d", w.rng.IntN(1000))
		}
		w.at = w.at.Add(step)
		msgs[i] = message.Message{ID: w.next, Target: bench.Target, ReceivedAt: w.at, User: fmt.Sprintf("u%d", w.rng.IntN(40)),
			Room: "lobby", Type: message.TypeChat, Content: b.String(), Raw: []byte(b.String())}
		w.next++
	}
	w.seq++
	if err := w.st.ApplyBatch(context.Background(), &store.Batch{Messages: msgs, AppliedSeq: w.seq}); err != nil {
		w.t.Fatal(err)
	}
	return msgs
}

// TestOverflowCatchUpIsBounded: batches committed while the indexer is
// behind overflow its queue, and the indexer reads them back from the
// database a chunk at a time, writing a segment whenever the memory
// segment is full: the messages it holds in memory stay within
// FlushMessages plus one chunk however large the backlog, and search and
// statistics stay exact through every mix of queued and overflowed
// batches.
func TestOverflowCatchUpIsBounded(t *testing.T) {
	st := openStore(t)
	opts := index.Options{FlushMessages: 1000, MaxQueued: 500, ReadRows: 300, Buckets: 64}
	ix, err := index.New(context.Background(), st, opts)
	if err != nil {
		t.Fatal(err)
	}
	w := newWriter(t, st, 1)
	rng := rand.New(rand.NewPCG(5, 6))
	for round := 0; round < 15; round++ {
		// A backlog of up to 4,000 messages in batches of every size
		// (the larger ones overflow the queue), then a query.
		for n := rng.IntN(4000); n > 0; {
			k := min(n, 1+rng.IntN(700))
			if err := ix.Committed(w.batch(k, 3*time.Second)); err != nil {
				t.Fatal(err)
			}
			n -= k
		}
		if round%5 == 4 {
			checkQueries(t, ix, allRows(t, st), uint64(round), 50)
		} else if _, err := ix.Search(context.Background(), "ok", store.MessageQuery{Limit: 10}); err != nil {
			t.Fatal(err)
		}
	}
	s := ix.Status()
	bound := opts.FlushMessages + max(opts.ReadRows, opts.MaxQueued)
	if s.PeakMemMessages > bound || s.Consumed != w.next-1 || s.Indexed < s.Consumed-int64(bound) || s.Segments < 2 {
		t.Fatalf("after %d messages: %+v; want every message folded in and written but the last segment's, at most %d in memory at once", w.next-1, s, bound)
	}
	checkStatsOf(t, ix, st, time.Now())
}

// checkStatsOf compares the rollups' statistics with a full recomputation.
func checkStatsOf(t *testing.T, ix *index.Indexer, st *store.Store, now time.Time) {
	t.Helper()
	for _, target := range []string{"", bench.Target} {
		q := store.StatsQuery{Now: now, Target: target}
		got, err := ix.Stats(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		want, err := st.StatsScan(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("stats for %q differ from a recomputation:\n got  %+v\n want %+v", target, got, want)
		}
	}
}

// blockingPrune is a store whose retention delete waits until released.
type blockingPrune struct {
	*store.Store
	entered chan struct{} // closed when ApplyPrune is called
	release chan struct{} // ApplyPrune proceeds once this is closed
}

func (b *blockingPrune) ApplyPrune(ctx context.Context, before int64, deltas []store.PruneDelta, drop []int64) (int64, error) {
	close(b.entered)
	<-b.release
	return b.Store.ApplyPrune(ctx, before, deltas, drop)
}

// TestSearchDuringPrune: while retention deletes in the database, searches,
// listings and statistics are answered (from the state before the prune),
// and afterwards they are exact for what is left. The order is checked
// with channels: each query must finish while the delete is held.
func TestSearchDuringPrune(t *testing.T) {
	st := openStore(t)
	bp := &blockingPrune{Store: st, entered: make(chan struct{}), release: make(chan struct{})}
	ctx := context.Background()
	ix, err := index.New(ctx, bp, index.Options{FlushMessages: 1000, Buckets: 64})
	if err != nil {
		t.Fatal(err)
	}
	w := newWriter(t, st, 2)
	for range 6 {
		if err := ix.Committed(w.batch(1000, 20*time.Second)); err != nil { // 6,000 over ~33 h
			t.Fatal(err)
		}
	}
	before := allRows(t, st)
	type pruned struct {
		n   int64
		err error
	}
	pruneDone := make(chan pruned, 1)
	go func() {
		n, err := ix.Prune(ctx, time.Now().Add(-36*time.Hour))
		pruneDone <- pruned{n, err}
	}()
	<-bp.entered
	queries := []func() error{
		func() error { _, err := ix.Search(ctx, "ok", store.MessageQuery{Limit: 20}); return err },
		func() error { _, err := ix.Search(ctx, "the", store.MessageQuery{Limit: 20, User: "u3"}); return err },
		func() error { _, err := ix.Messages(ctx, store.MessageQuery{Limit: 20, User: "u7"}); return err },
		func() error { _, err := ix.Stats(ctx, store.StatsQuery{}); return err },
		func() error { _, err := ix.User(ctx, "u1", ""); return err },
	}
	for i, q := range queries {
		done := make(chan error, 1)
		go func() { done <- q() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("query %d during the prune: %v", i, err)
			}
		case p := <-pruneDone:
			t.Fatalf("the prune finished (%+v) before it was released", p)
		case <-time.After(time.Minute): // a deadline, not a measurement: blocked for good
			t.Fatalf("query %d waits for the prune's delete", i)
		}
	}
	checkQueries(t, ix, before, 11, 100) // still the state before the prune
	close(bp.release)
	p := <-pruneDone
	if p.err != nil || p.n == 0 || p.n >= int64(len(before)) {
		t.Fatalf("prune deleted %d of %d messages: %v", p.n, len(before), p.err)
	}
	checkQueries(t, ix, allRows(t, st), 12, 300)
	checkStatsOf(t, ix, st, time.Now())
}

// TestFollowerWaitsForTheMonitor: a follower (a web process apart from
// the monitor) holds at most twice the writer's memory segment: past that
// it waits for the monitor to write its index, then goes on from there;
// with no monitor writing it reads on after FollowWait. Results are exact
// either way.
func TestFollowerWaitsForTheMonitor(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	opts := index.Options{FlushMessages: 1000, ReadRows: 300, Buckets: 64}
	ix, err := index.New(ctx, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	fopts := opts
	fopts.Follow, fopts.FollowWait, fopts.Logger = true, time.Hour, slog.New(slog.DiscardHandler)
	fx, err := index.New(ctx, st, fopts)
	if err != nil {
		t.Fatal(err)
	}
	w := newWriter(t, st, 3)
	for range 5 { // 5,000 messages the monitor has queued, not indexed yet
		if err := ix.Committed(w.batch(1000, time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := fx.Search(ctx, "ok", store.MessageQuery{Limit: 10})
		done <- err
	}()
	bound := 2*opts.FlushMessages + opts.ReadRows
	deadline := time.Now().Add(time.Minute)
	for fx.Status().MemMessages < 2*opts.FlushMessages { // it reads up to its bound, then waits
		if time.Now().After(deadline) {
			t.Fatalf("follower: %+v", fx.Status())
		}
		time.Sleep(time.Millisecond)
	}
	if err := ix.Flush(ctx); err != nil { // the monitor writes its index
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := fx.Status(); s.PeakMemMessages > bound || s.Consumed != w.next-1 {
		t.Fatalf("follower: %+v; want everything folded in with at most %d in memory", s, bound)
	}
	rows := allRows(t, st)
	checkQueries(t, fx, rows, 21, 100)

	// No monitor writing: after FollowWait the follower reads on.
	for range 3 {
		w.batch(1000, time.Second)
	}
	fopts.FollowWait = time.Nanosecond
	fx2, err := index.New(ctx, st, fopts)
	if err != nil {
		t.Fatal(err)
	}
	checkQueries(t, fx2, allRows(t, st), 22, 100)
	checkStatsOf(t, fx2, st, time.Now())
}
