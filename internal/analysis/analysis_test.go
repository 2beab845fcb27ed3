package analysis

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/sentiment"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/store/storetest"
	"github.com/wsmon/wsmon/internal/terms"
)

var lines = []string{
	"退款失败 太差了", "great service, thanks", "订单 支付 成功 很好", "this is terrible, refund failed",
	"hello", "今天 天气 不错", "not good at all", "退款失败 怎么办", "客服 在吗", "love it",
}

// batches writes n messages in batches of size to st (ids from first),
// on day 0 and 1 of the zone, alternating rooms, one in five a join.
func batches(t *testing.T, st *store.Store, first int64, n, size int) [][]message.Message {
	t.Helper()
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var out [][]message.Message
	for i := 0; i < n; i += size {
		var b []message.Message
		for j := i; j < min(n, i+size); j++ {
			id := first + int64(j)
			typ := message.TypeChat
			if j%5 == 4 {
				typ = message.TypeJoin
			}
			b = append(b, message.Message{ID: id, Target: []string{"a", "b"}[j%2], SessionID: 1,
				ReceivedAt: base.Add(time.Duration(j) * 20 * time.Minute), User: fmt.Sprint("u", j%7),
				Room: []string{"r1", "r2", ""}[j%3], Type: typ, Content: lines[j%len(lines)], Raw: []byte("x")})
		}
		if err := st.ApplyBatch(context.Background(), &store.Batch{Messages: b, AppliedSeq: uint64(b[len(b)-1].ID)}); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// recompute is the sentiment per day of target and room from every
// stored message.
func recompute(t *testing.T, st *store.Store, target, room string) map[string]Agg {
	t.Helper()
	rows, _, err := st.IndexRowsAfter(context.Background(), 0, 1<<20, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Agg{}
	for _, r := range rows {
		if r.Type != string(message.TypeChat) || r.Content == "" || (target != "" && r.Target != target) || (room != "" && r.Room != room) {
			continue
		}
		d := terms.DayOf(r.ReceivedAt, time.UTC).Time().Format("2006-01-02")
		a := out[d]
		s, l := sentiment.Score(r.Content)
		a.add(s, l)
		out[d] = a
	}
	return out
}

func check(t *testing.T, a *Analyzer, st *store.Store) {
	t.Helper()
	for _, target := range []string{"", "a"} {
		for _, room := range []string{"", "r1"} {
			want := recompute(t, st, target, room)
			res, err := a.Sentiment(context.Background(), target, room, -terms.MaxDay, terms.MaxDay)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]Agg{}
			for _, d := range res.Days {
				got[d.Date] = d.Agg
			}
			if len(got) != len(want) {
				t.Fatalf("%q/%q: days %v, want %v", target, room, got, want)
			}
			for d, w := range want {
				g := got[d]
				if g.N != w.N || g.Pos != w.Pos || g.Neu != w.Neu || g.Neg != w.Neg || math.Abs(g.Sum-w.Sum) > 1e-9 {
					t.Errorf("%q/%q %s: %+v, want %+v", target, room, d, g, w)
				}
			}
		}
	}
}

func open(t testing.TB, path string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), storetest.Options(t, path, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestDropsThenCatchesUp: a full hand-off drops batches (Committed
// returns at once), counts them, and the analyzer reads them back from
// the store, so the figures equal a recomputation; a restart counts
// nothing twice; a damaged state is rebuilt.
func TestDropsThenCatchesUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	st := open(t, path)
	ctx := context.Background()
	a, err := New(ctx, Options{Store: st, Terms: true, Sentiment: true, Queue: 1, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	// Not running: the second batch finds the hand-off full.
	bs := batches(t, st, 1, 300, 50)
	for _, b := range bs {
		done := make(chan struct{})
		go func() { a.Committed(b); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Committed blocked on a full hand-off")
		}
	}
	if s := a.Stats(); s.Batches != 6 || s.Dropped != 5 {
		t.Fatalf("stats %+v, want 6 batches, 5 dropped", s)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	waitAsOf(t, a, 300)
	// More while it runs.
	for _, b := range batches(t, st, 301, 100, 10) {
		a.Committed(b)
	}
	waitAsOf(t, a, 400)
	check(t, a, st)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	before, _ := a.Sentiment(ctx, "", "", -terms.MaxDay, terms.MaxDay)
	day := terms.DayOf(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), time.UTC)
	tBefore, _ := a.Terms(ctx, day+1, "", 20)

	// Restart: the saved states, the messages after them only.
	batches(t, st, 401, 20, 20)
	a2, err := New(ctx, Options{Store: st, Terms: true, Sentiment: true, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel = context.WithCancel(ctx)
	go func() { done <- a2.Run(rctx) }()
	waitAsOf(t, a2, 420)
	check(t, a2, st)
	cancel()
	<-done

	// Nothing new: a third start gives the same figures.
	a3, _ := New(ctx, Options{Store: st, Terms: true, Sentiment: true, Location: time.UTC})
	got, _ := a3.Sentiment(ctx, "", "", -terms.MaxDay, terms.MaxDay)
	a2res, _ := a2.Sentiment(ctx, "", "", -terms.MaxDay, terms.MaxDay)
	if !reflect.DeepEqual(got, a2res) || reflect.DeepEqual(got, before) {
		t.Fatalf("reloaded %+v\nwant %+v", got, a2res)
	}
	if tr, _ := a3.Terms(ctx, day+1, "", 20); tr.AsOfID != 420 || len(tBefore.Terms) == 0 {
		t.Fatalf("terms as of %d, before %d terms", tr.AsOfID, len(tBefore.Terms))
	}

	// A damaged state is rebuilt from the messages.
	if err := st.PutAnalysisState(ctx, NameSentiment, 420, []byte("{broken")); err != nil {
		t.Fatal(err)
	}
	a4, err := New(ctx, Options{Store: st, Terms: true, Sentiment: true, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel = context.WithCancel(ctx)
	go func() { done <- a4.Run(rctx) }()
	waitAsOf(t, a4, 420)
	check(t, a4, st)
	cancel()
	<-done

	// A separate process's reader sees the saved state.
	r := NewReader(st, nil)
	rs, err := r.Sentiment(ctx, "", "", -terms.MaxDay, terms.MaxDay)
	if err != nil || rs.AsOfID != 420 || !reflect.DeepEqual(rs.Days, got.Days) {
		t.Fatalf("reader %+v %v", rs, err)
	}
}

func waitAsOf(t *testing.T, a *Analyzer, id int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for a.Stats().AsOfID < id {
		if time.Now().After(deadline) {
			t.Fatalf("as of %d, want %d (%+v)", a.Stats().AsOfID, id, a.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestMostNegative(t *testing.T) {
	s := newSentimentState()
	for i := range 50 {
		s.add(int64(i+1), "t", []string{"x", "y"}[i%2], 10, -float64(i%25)/25, sentiment.Negative, false)
	}
	d := s.query("t", "", 10, 10)
	if len(d) != 1 || len(d[0].MostNegative) != MostNegative {
		t.Fatalf("%+v", d)
	}
	for i := 1; i < len(d[0].MostNegative); i++ {
		p, c := d[0].MostNegative[i-1], d[0].MostNegative[i]
		if p.Score > c.Score || (p.Score == c.Score && p.ID > c.ID) {
			t.Fatalf("order %+v", d[0].MostNegative)
		}
	}
	if d[0].MostNegative[0].Score != -24.0/25 {
		t.Fatalf("lowest %+v", d[0].MostNegative[0])
	}
	for _, x := range s.query("t", "y", 10, 10)[0].MostNegative {
		if x.Room != "y" {
			t.Fatalf("room y lists %+v", x)
		}
	}
}
