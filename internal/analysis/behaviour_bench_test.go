package analysis

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/store"
)

// BenchmarkBehaviourDistinctUsers: the users and activity queries over
// rollups of WSMON_BENCH_USERS distinct users (default 1,000,000), each
// with three messages in eight rooms over 30 days, counted and flushed
// by the analyzer's own path (add, flush). It reports the build's rate
// and each query's p50 and p95 in ms (ns/op is meaningless here).
// WSMON_BENCH_DIR keeps the database between runs.
//
//	go test -run '^$' -bench BehaviourDistinctUsers -benchtime 1x -timeout 60m ./internal/analysis/
func BenchmarkBehaviourDistinctUsers(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("WSMON_BENCH_USERS")); err == nil && v > 0 {
		n = v
	}
	dir := os.Getenv("WSMON_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Path: filepath.Join(dir, fmt.Sprintf("users%d.db", n)), Location: time.UTC})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	a, err := New(ctx, Options{Store: st, Behaviour: true, Location: time.UTC})
	if err != nil {
		b.Fatal(err)
	}
	end := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	start := end.AddDate(0, 0, -30)
	msgs := int64(3 * n)
	if from := a.behAt; from < msgs {
		t0 := time.Now()
		step := end.Sub(start).Milliseconds() / msgs
		for id := a.behAt + 1; id <= msgs; id++ {
			// Each user speaks three times, a third of the span apart.
			u := (id - 1) % int64(n)
			m := item{ID: id, At: start.UnixMilli() + id*step, Target: "demo", Room: fmt.Sprint("room", id%8),
				User: fmt.Sprintf("user_%07d", (u*7919)%int64(n)), Type: message.TypeChat}
			a.beh.add(&m)
			a.behAt = id
			if a.beh.rows >= behaviourPending {
				a.flushBehaviour(ctx)
			}
		}
		a.flushBehaviour(ctx)
		b.ReportMetric(float64(msgs-from)/time.Since(t0).Seconds(), "build-msg/s")
	}
	q := a.behq
	names, err := st.BehaviourUsers(ctx, store.BehaviourUsersQuery{Sort: store.SortMessages, Desc: true, Limit: 1})
	if err != nil || len(names) == 0 {
		b.Fatalf("no users: %v", err)
	}
	// A cursor 200,000 users into the list by last seen.
	uq := UsersQuery{Sort: store.SortLastSeen, Desc: true, Limit: 200}
	for range 1000 {
		res, err := q.users(ctx, uq)
		if err != nil {
			b.Fatal(err)
		}
		uq.Cursor = res.NextCursor
	}
	deep := uq.Cursor
	calls := []struct {
		name string
		fn   func() error
	}{
		{"users-first", func() error {
			_, err := q.users(ctx, UsersQuery{Sort: store.SortMessages, Desc: true, Limit: 50})
			return err
		}},
		{"users-deep", func() error {
			_, err := q.users(ctx, UsersQuery{Sort: store.SortLastSeen, Desc: true, Limit: 50, Cursor: deep})
			return err
		}},
		{"users-first-seen", func() error {
			_, err := q.users(ctx, UsersQuery{Sort: store.SortFirstSeen, Limit: 50})
			return err
		}},
		{"users-name", func() error { _, err := q.users(ctx, UsersQuery{Sort: store.SortName, Limit: 50}); return err }},
		{"users-q-common", func() error {
			_, err := q.users(ctx, UsersQuery{Contains: "99", Sort: store.SortMessages, Desc: true, Limit: 50})
			return err
		}},
		{"users-q-none", func() error {
			_, err := q.users(ctx, UsersQuery{Contains: "nobody", Sort: store.SortMessages, Desc: true, Limit: 50})
			return err
		}},
		{"user-page", func() error { _, err := q.user(ctx, names[0].User, q.dayOf(start), q.dayOf(end)); return err }},
		{"activity-30d", func() error {
			_, err := q.activity(ctx, ActivityQuery{From: start, To: end, Step: StepDay}, end)
			return err
		}},
		{"activity-1h-minute", func() error {
			_, err := q.activity(ctx, ActivityQuery{From: end.Add(-time.Hour), To: end, Step: StepMinute}, end)
			return err
		}},
		{"activity-room-30d", func() error {
			_, err := q.activity(ctx, ActivityQuery{Room: "room3", From: start, To: end, Step: StepDay}, end)
			return err
		}},
	}
	for range b.N {
		for _, c := range calls {
			var ds []time.Duration
			for range 20 {
				t := time.Now()
				if err := c.fn(); err != nil {
					b.Fatalf("%s: %v", c.name, err)
				}
				ds = append(ds, time.Since(t))
			}
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, c.name+"-p50-ms")
			b.ReportMetric(float64(ds[len(ds)*95/100].Microseconds())/1000, c.name+"-p95-ms")
		}
	}
}
