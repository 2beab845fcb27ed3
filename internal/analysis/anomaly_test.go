package analysis

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/anomaly"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/store"
)

// testDetector: a short warm-up, so that a day of messages has anomalies.
var testDetector = anomaly.Options{WarmUp: 30}

// stream writes a day of messages from start to st (ids from first), in
// batches of size: two targets, rooms r1, r2 and none, about 3 a minute,
// a few joins and leaves; a burst of 300 chat messages in room r1 of "a"
// at 12:00 and a flood of 40 new users in r2 at 18:00.
func stream(t *testing.T, st *store.Store, first int64, start time.Time, minutes, size int, seed uint64) [][]message.Message {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	var all []message.Message
	id := first
	add := func(at time.Time, target, room, user string, typ message.Type) {
		all = append(all, message.Message{ID: id, Target: target, SessionID: 1, ReceivedAt: at, User: user,
			Room: room, Type: typ, Content: "hello " + user, Raw: []byte("x")})
		id++
	}
	for m := range minutes {
		at := start.Add(time.Duration(m) * time.Minute)
		for i := range 1 + rng.IntN(5) {
			target := []string{"a", "b"}[rng.IntN(2)]
			typ := message.TypeChat
			switch rng.IntN(20) {
			case 0:
				typ = message.TypeJoin
			case 1:
				typ = message.TypeLeave
			}
			add(at.Add(time.Duration(i)*7*time.Second), target, []string{"r1", "r2", ""}[rng.IntN(3)], fmt.Sprint("u", rng.IntN(30)), typ)
		}
		switch at.Hour()*60 + at.Minute() {
		case 12 * 60:
			for i := range 300 {
				add(at.Add(time.Duration(i)*100*time.Millisecond), "a", "r1", fmt.Sprint("u", i%30), message.TypeChat)
			}
		case 18 * 60:
			for i := range 40 {
				add(at.Add(time.Duration(i)*time.Second), "a", "r2", fmt.Sprintf("new%d-%d", seed, i), message.TypeChat)
			}
		}
	}
	var out [][]message.Message
	for i := 0; i < len(all); i += size {
		b := all[i:min(len(all), i+size)]
		if err := st.ApplyBatch(context.Background(), &store.Batch{Messages: b, AppliedSeq: uint64(b[len(b)-1].ID)}); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// reference feeds every stored message to a detector of its own, with
// "new to the target" from a complete set of the users seen: what the
// analyzer must end with.
func reference(t *testing.T, st *store.Store) *anomaly.Detector {
	t.Helper()
	o := testDetector
	o.Location = time.UTC
	d, err := anomaly.New(o)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := st.IndexRowsAfter(context.Background(), 0, 1<<30, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[2]string]bool{}
	for _, r := range rows {
		k := [2]string{r.Target, r.User}
		d.ObserveMessage(r.Target, r.Room, r.User, anomaly.TypeIndex(message.Type(r.Type)), r.ReceivedAt, r.User != "" && !seen[k])
		seen[k] = true
	}
	return d
}

// sameDetector fails unless a's detector is in the state ref is in.
func sameDetector(t *testing.T, a *Analyzer, ref *anomaly.Detector) {
	t.Helper()
	got, _ := a.anom.det.MarshalBinary()
	want, _ := ref.MarshalBinary()
	if !bytes.Equal(got, want) {
		t.Fatalf("the analyzer's detector (%+v) differs from the reference (%+v)", a.anom.det.Stats(), ref.Stats())
	}
	res, err := a.Anomalies(context.Background(), AnomalyQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Anomalies, ref.List(anomaly.Query{})) {
		t.Fatalf("anomalies %+v\nwant %+v", res.Anomalies, ref.List(anomaly.Query{}))
	}
}

// TestAnomalyDropsThenCatchesUp: with the hand-off dropping batches, the
// analyzer's detector ends exactly as one fed every stored message once
// (same bytes, same anomalies, new users as a complete set says); the
// stream's burst and flood are found; a restart and a damaged state
// count nothing twice; a separate process's reader lists the same.
func TestAnomalyDropsThenCatchesUp(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "a.db"))
	ctx := context.Background()
	opt := Options{Store: st, Anomalies: true, Anomaly: testDetector, Sentiment: true, Queue: 1, Location: time.UTC,
		AdvanceEvery: time.Hour} // no clock: the reference has none
	a, err := New(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	bs := stream(t, st, 1, day, 1440, 500, 1)
	for _, b := range bs[:len(bs)/2] {
		a.Committed(b) // not running: all but the first are dropped
	}
	if s := a.Stats(); s.Dropped == 0 {
		t.Fatalf("nothing dropped: %+v", s)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	for _, b := range bs[len(bs)/2:] {
		a.Committed(b)
	}
	last := bs[len(bs)-1][len(bs[len(bs)-1])-1].ID
	waitAsOf(t, a, last)
	ref := reference(t, st)
	sameDetector(t, a, ref)
	if a.Stats().Observed != uint64(last) {
		t.Fatalf("observed %d messages, want %d", a.Stats().Observed, last)
	}
	kinds := map[anomaly.Kind]bool{}
	for _, x := range ref.List(anomaly.Query{Target: "a"}) {
		kinds[x.Kind] = true
	}
	if !kinds[anomaly.KindSpike] || !kinds[anomaly.KindNewUsers] {
		t.Fatalf("the burst and the flood were not found: %+v", ref.List(anomaly.Query{}))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// Restart: the saved state, the messages after it only.
	bs2 := stream(t, st, last+1, day.Add(24*time.Hour), 240, 100, 2)
	last = bs2[len(bs2)-1][len(bs2[len(bs2)-1])-1].ID
	a2, err := New(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel = context.WithCancel(ctx)
	go func() { done <- a2.Run(rctx) }()
	waitAsOf(t, a2, last)
	ref = reference(t, st)
	sameDetector(t, a2, ref)
	cancel()
	<-done

	// A separate process's reader lists the saved anomalies.
	r := NewReader(st, nil)
	rl, err := r.Anomalies(ctx, AnomalyQuery{})
	if err != nil || rl.AsOfID != last || !reflect.DeepEqual(rl.Anomalies, ref.List(anomaly.Query{})) {
		t.Fatalf("reader as of %d (%v): %+v", rl.AsOfID, err, rl.Anomalies)
	}
	// Its filters are the detector's, and closed-only is theirs' complement.
	open, _ := r.Anomalies(ctx, AnomalyQuery{Query: anomaly.Query{OpenOnly: true}})
	closed, _ := r.Anomalies(ctx, AnomalyQuery{ClosedOnly: true})
	if len(open.Anomalies)+len(closed.Anomalies) != len(rl.Anomalies) || len(closed.Anomalies) == 0 {
		t.Fatalf("%d open + %d closed != %d", len(open.Anomalies), len(closed.Anomalies), len(rl.Anomalies))
	}
	two, _ := r.Anomalies(ctx, AnomalyQuery{Query: anomaly.Query{Limit: 2}, ClosedOnly: true})
	if !reflect.DeepEqual(two.Anomalies, closed.Anomalies[:2]) {
		t.Fatalf("closed, limit 2: %+v", two.Anomalies)
	}

	// A damaged state is rebuilt from the messages; the others are kept.
	if err := st.PutAnalysisState(ctx, NameAnomaly, last, []byte("WSMONAS\x01broken")); err != nil {
		t.Fatal(err)
	}
	a3, err := New(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	if a3.anomAt != 0 || a3.sentAt != last {
		t.Fatalf("after damage: anomaly as of %d, sentiment %d", a3.anomAt, a3.sentAt)
	}
	rctx, cancel = context.WithCancel(ctx)
	go func() { done <- a3.Run(rctx) }()
	waitAsOf(t, a3, last)
	sameDetector(t, a3, ref)
	cancel()
	<-done
	check(t, a3, st) // sentiment counted once through all of it
}

// TestAnomalyClock: time passing without messages closes minutes, so a
// chat that falls silent is reported (to OnAnomaly, in the list and, once
// saved, to a separate process's reader), while anomalies found again in
// old messages are not told to OnAnomaly; the time the analyzer was not
// running is skipped, not taken for a silence.
func TestAnomalyClock(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "a.db"))
	ctx := context.Background()
	// The detector's minutes last 100 ms: virtual = t0 + (t - t0) × 600.
	const scale = 600
	t0 := time.Now()
	virtual := func(t time.Time) time.Time { return t0.Add(t.Sub(t0) * scale) }
	real := func(v time.Time) time.Time { return t0.Add(v.Sub(t0) / scale) }
	// Two virtual days of history ending 10 virtual minutes before t0, 5
	// messages a minute, with a burst at 12 hours: old news.
	start := t0.Add(-48*time.Hour - 10*time.Minute)
	var msgs []message.Message
	for m := range 48 * 60 {
		v := start.Add(time.Duration(m) * time.Minute)
		n := 5
		if m == 12*60 {
			n = 400
		}
		for i := range n {
			msgs = append(msgs, message.Message{ID: int64(len(msgs) + 1), Target: "a", Room: "r", User: fmt.Sprint("u", i%9),
				Type: message.TypeChat, Content: "hi", ReceivedAt: real(v.Add(time.Duration(i) * time.Minute / time.Duration(n))), Raw: []byte("x")})
		}
	}
	if err := st.ApplyBatch(ctx, &store.Batch{Messages: msgs, AppliedSeq: 1}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var told []anomaly.Event
	a, err := New(ctx, Options{Store: st, Anomalies: true, Anomaly: testDetector, Location: time.UTC,
		AnomalyTime: virtual, AdvanceEvery: 20 * time.Millisecond, AdvanceGrace: time.Millisecond, SnapshotEvery: 50 * time.Millisecond,
		OnAnomaly: func(e anomaly.Event) { mu.Lock(); told = append(told, e); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	defer func() { cancel(); <-done }()
	r := NewReader(st, nil)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if time.Now().After(deadline) {
			res, _ := a.Anomalies(ctx, AnomalyQuery{})
			t.Fatalf("no silence reported; anomalies %+v, told %+v", res.Anomalies, told)
		}
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		found := slices.ContainsFunc(told, func(e anomaly.Event) bool { return e.Type == anomaly.Opened && e.Anomaly.Kind == anomaly.KindSilence })
		mu.Unlock()
		if !found {
			continue
		}
		rl, err := r.Anomalies(ctx, AnomalyQuery{Query: anomaly.Query{Kinds: []anomaly.Kind{anomaly.KindSilence}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(rl.Anomalies) > 0 {
			break // saved without any new message, and reloaded
		}
	}
	res, _ := a.Anomalies(ctx, AnomalyQuery{})
	mu.Lock()
	defer mu.Unlock()
	// Old messages' anomalies start before the first minute watched
	// (the one holding t0: a silence found by the clock may start there).
	for _, e := range told {
		if e.Anomaly.Start.Before(virtual(t0).Truncate(time.Minute)) {
			t.Errorf("told of an anomaly of old messages: %+v", e.Anomaly)
		}
	}
	var silence, spike *anomaly.Anomaly
	for i := range res.Anomalies {
		switch x := &res.Anomalies[i]; x.Kind {
		case anomaly.KindSilence:
			silence = x
		case anomaly.KindSpike:
			if x.Start.Before(t0) {
				spike = x
			}
		}
	}
	if spike == nil {
		t.Errorf("the old burst is not listed: %+v", res.Anomalies)
	}
	// The silence starts where the watch began (the ten minutes before
	// the start are skipped), not at the last old message.
	if silence == nil || silence.Start.Before(virtual(t0).Truncate(time.Minute)) {
		t.Errorf("silence %+v starts before the analyzer started (%v)", silence, virtual(t0))
	}
}

// TestSeenUsers: users are new once per target; the memory keeps at
// least SeenUsers pairs, and forgets the older generation at once.
func TestSeenUsers(t *testing.T) {
	s := newSeenUsers()
	for _, c := range []struct {
		target, user string
		new          bool
	}{{"a", "x", true}, {"a", "x", false}, {"b", "x", true}, {"a", "y", true}, {"b", "x", false}, {"a\x00", "x", true}} {
		if got := s.isNew(c.target, c.user); got != c.new {
			t.Errorf("%q/%q: new %v, want %v", c.target, c.user, got, c.new)
		}
	}
	s = newSeenUsers()
	for i := range SeenUsers {
		s.isNew("t", fmt.Sprint(i))
	}
	s.isNew("t", "fresh") // starts the second generation
	for i := 0; i < SeenUsers; i += 997 {
		if s.isNew("t", fmt.Sprint(i)) {
			t.Fatalf("user %d forgotten after one generation", i)
		}
	}
	for i := range 2 * SeenUsers {
		s.isNew("u", fmt.Sprint(i))
	}
	if !s.isNew("t", "fresh") {
		t.Error("a user unseen for two generations is still remembered")
	}
}

// TestAnomalyStateEncoding: a state round-trips; damaged ones are refused.
func TestAnomalyStateEncoding(t *testing.T) {
	d, _ := anomaly.New(anomaly.Options{})
	d.ObserveMessage("a", "r", "u", 0, time.Unix(1e9, 0), true)
	s := &anomalyState{det: d, seen: newSeenUsers(), saves: 7}
	s.seen.isNew("a", "u")
	b, err := s.marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := unmarshalAnomaly(anomaly.Options{}, b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := got.marshal()
	if got.saves != 7 || !bytes.Equal(b, b2) || got.seen.isNew("a", "u") {
		t.Fatalf("round trip: saves %d, equal %v", got.saves, bytes.Equal(b, b2))
	}
	for i := range len(b) {
		bad := bytes.Clone(b)
		bad[i] ^= 0x40
		if _, err := unmarshalAnomaly(anomaly.Options{}, bad); err == nil {
			t.Fatalf("byte %d flipped: accepted", i)
		}
	}
	if _, err := unmarshalAnomaly(anomaly.Options{}, b[:len(b)-5]); err == nil {
		t.Fatal("truncated: accepted")
	}
}
