package web

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/query"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/store/storetest"
)

// The API answers from the query path (query.Source: the search index
// and its rollups); these tests hold it to the full-scan references of
// package storetest on the fixture, query by query, so a difference
// between what the index answers and what the definitions say shows here
// and not only through the API's expectations.

// loadScan reads the fixture for the references.
func loadScan(t *testing.T, f *fixture) *storetest.Scan {
	t.Helper()
	s, err := storetest.Load(context.Background(), f.st)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func msgIDs(ms []message.Message) []int64 {
	out := make([]int64, len(ms))
	for i := range ms {
		out[i] = ms[i].ID
	}
	return out
}

// searchTexts are the search texts compared: every rune of the specials'
// contents and the two-rune substrings at every second rune (grams the
// index keeps for them), substrings of three and five runes at every
// third rune and the whole contents (bigram chains verified against the
// content), these upper-cased too, texts only the filler holds,
// texts nothing holds, and texts with a NUL (ingest drops NULs, so no
// content has one and such a text matches nothing).
func searchTexts() []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, sp := range specials {
		rs := []rune(sp.content)
		for i := range rs {
			for _, n := range []int{1, 2, 3, 5} {
				if i+n > len(rs) || (n == 2 && i%2 != 0) || (n > 2 && i%3 != 0) {
					continue
				}
				add(string(rs[i : i+n]))
				if n > 2 {
					add(strings.ToUpper(string(rs[i : i+n])))
				}
			}
		}
		add(sp.content)
		add(strings.ToUpper(sp.content))
	}
	for _, s := range []string{"filler message #0", "FILLER MESSAGE #79", "#4", "ancient", "zzz-no-such-text", "紧急情况不在",
		"hello world!", "\x00", "a\x00b", "hello\x00", "\x00hello", "紧\x00急", "ancient history\x00"} {
		add(s)
	}
	return out
}

// searchFilters are the filter sets each search text is compared under.
func searchFilters(f *fixture) []store.MessageQuery {
	return []store.MessageQuery{
		{Limit: 500},
		{Limit: 3},
		{Limit: 500, User: "alice"},
		{Limit: 500, Target: "beta", Room: "lobby", Type: "chat"},
		{Limit: 2, Target: "alpha", From: f.now.Add(-30 * 24 * time.Hour), To: f.now.Add(-time.Hour)},
	}
}

// checkSearches compares src's searches with the scan's, total included.
func checkSearches(t *testing.T, src *query.Source, scan *storetest.Scan, texts []string, filters []store.MessageQuery) {
	t.Helper()
	for _, text := range texts {
		for _, q := range filters {
			got, err := src.Search(context.Background(), text, q)
			if err != nil {
				t.Fatalf("Search(%q, %+v): %v", text, q, err)
			}
			want := scan.Search(text, q)
			if !slices.Equal(msgIDs(got.Messages), msgIDs(want.Messages)) {
				t.Errorf("Search(%q, %+v) = %v, the scan says %v", text, q, msgIDs(got.Messages), msgIDs(want.Messages))
			}
			if got.Estimate || got.Total != want.Total {
				t.Errorf("Search(%q, %+v): total %d (estimate %v), the scan says %d exact", text, q, got.Total, got.Estimate, want.Total)
			}
		}
	}
}

func TestQueryPathSearchEqualsScan(t *testing.T) {
	f := newFixture(t)
	texts := searchTexts()
	checkSearches(t, query.New(f.st, f.ix), loadScan(t, f), texts, searchFilters(f))
	t.Logf("%d texts × %d filter sets", len(texts), len(searchFilters(f)))
}

// TestQueryPathSearchPages walks searches page by page with the before
// cursor: the pages are the scan's pages.
func TestQueryPathSearchPages(t *testing.T) {
	f := newFixture(t)
	checkPages(t, query.New(f.st, f.ix), loadScan(t, f))
}

func checkPages(t *testing.T, src *query.Source, scan *storetest.Scan) {
	t.Helper()
	ctx := context.Background()
	for _, text := range []string{"e", "filler", "紧", "l", "ALICE", " "} {
		for _, q := range []store.MessageQuery{{Limit: 4}, {Limit: 7, Room: "lobby"}, {Limit: 1, Target: "beta"}} {
			for before := int64(0); ; {
				q.Before = before
				got, err := src.Search(ctx, text, q)
				if err != nil {
					t.Fatal(err)
				}
				want := scan.Search(text, q)
				if !slices.Equal(msgIDs(got.Messages), msgIDs(want.Messages)) {
					t.Fatalf("Search(%q, %+v) = %v, the scan says %v", text, q, msgIDs(got.Messages), msgIDs(want.Messages))
				}
				if len(got.Messages) < q.Limit {
					break
				}
				before = got.Messages[len(got.Messages)-1].ID
			}
		}
	}
}

func TestQueryPathMessagesEqualsScan(t *testing.T) {
	f := newFixture(t)
	checkMessages(t, f, query.New(f.st, f.ix), loadScan(t, f))
}

func checkMessages(t *testing.T, f *fixture, src *query.Source, scan *storetest.Scan) {
	t.Helper()
	ctx := context.Background()
	users := map[string]bool{}
	for _, m := range f.msgs {
		users[m.User] = true
	}
	var qs []store.MessageQuery
	for u := range users {
		qs = append(qs, store.MessageQuery{Limit: 500, User: u}, store.MessageQuery{Limit: 2, User: u, Target: "alpha"})
	}
	for _, room := range []string{"lobby", "dev", "none"} {
		for _, typ := range []string{"", "chat", "join", "system"} {
			qs = append(qs, store.MessageQuery{Limit: 500, Room: room, Type: typ}, store.MessageQuery{Limit: 3, Room: room, Type: typ, Before: 60})
		}
	}
	qs = append(qs, store.MessageQuery{Limit: 500}, store.MessageQuery{Limit: 10, Before: 50},
		store.MessageQuery{Limit: 500, From: f.now.Add(-3 * 24 * time.Hour)}, store.MessageQuery{Limit: 500, Target: "beta", To: f.now.Add(-3 * 24 * time.Hour)})
	for _, q := range qs {
		got, err := src.Messages(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if want := scan.Messages(q); !slices.Equal(msgIDs(got), msgIDs(want)) {
			t.Errorf("Messages(%+v) = %v, the scan says %v", q, msgIDs(got), msgIDs(want))
		}
	}
}

func TestQueryPathUserEqualsScan(t *testing.T) {
	f := newFixture(t)
	checkUsers(t, f, query.New(f.st, f.ix), loadScan(t, f))
}

func checkUsers(t *testing.T, f *fixture, src *query.Source, scan *storetest.Scan) {
	t.Helper()
	ctx := context.Background()
	names := []string{"nobody", "ALICE", "u0"}
	seen := map[string]bool{}
	for _, m := range f.msgs {
		if !seen[m.User] {
			seen[m.User] = true
			names = append(names, m.User)
		}
	}
	for _, name := range names {
		for _, target := range []string{"", "alpha", "beta", "gamma"} {
			got, gerr := src.User(ctx, name, target)
			want, werr := scan.User(name, target)
			if !errors.Is(gerr, werr) && (gerr == nil || werr == nil || gerr.Error() != werr.Error()) {
				t.Errorf("User(%q, %q): error %v, the scan says %v", name, target, gerr, werr)
				continue
			}
			if !reflect.DeepEqual(msgIDs(got.Recent), msgIDs(want.Recent)) {
				t.Errorf("User(%q, %q): recent %v, the scan says %v", name, target, msgIDs(got.Recent), msgIDs(want.Recent))
			}
			got.Recent, want.Recent = nil, nil
			if !got.FirstSeen.Equal(want.FirstSeen) || !got.LastSeen.Equal(want.LastSeen) {
				t.Errorf("User(%q, %q): seen %v..%v, the scan says %v..%v", name, target, got.FirstSeen, got.LastSeen, want.FirstSeen, want.LastSeen)
			}
			got.FirstSeen, got.LastSeen, want.FirstSeen, want.LastSeen = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("User(%q, %q) = %+v, the scan says %+v", name, target, got, want)
			}
		}
	}
}

func TestQueryPathStatsEqualsScan(t *testing.T) {
	f := newFixture(t)
	checkStats(t, f, query.New(f.st, f.ix))
}

func checkStats(t *testing.T, f *fixture, src *query.Source) {
	t.Helper()
	ctx := context.Background()
	// Now at the newest message, a day later, and in the past. With
	// messages received after Now (in production: only after the clock
	// was set back) two numbers differ by definition: the index counts
	// Today within Now's local day and ActiveUsers by each user's last
	// message, the scan counts Today from midnight on and ActiveUsers by
	// any message in the 24 hours before Now.
	later := func(now time.Time) bool { return f.msgs[len(f.msgs)-1].At.After(now) }
	for _, target := range []string{"", "alpha", "beta", "gamma"} {
		for _, now := range []time.Time{f.now, f.now.Add(24 * time.Hour), f.now.Add(-36 * time.Hour)} {
			q := store.StatsQuery{Target: target, Now: now}
			got, err := src.Stats(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			want, err := f.st.StatsScan(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if later(now) {
				got.Today, want.Today, got.ActiveUsers, want.ActiveUsers = 0, 0, 0, 0
			}
			gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
			for i := range gv.NumField() {
				if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
					t.Errorf("Stats(target %q, now %v): %s = %v, the scan says %v", target, now.Sub(f.now), gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
				}
			}
		}
	}
}

// TestQueryPathRestartedAndFollowing: the two other ways production builds
// the index answer the same. A monitor restarted on the fixture's database
// (index.New, as app.Run does on the next start) loads the flushed segment
// and rollups and reads the messages it never flushed back from the
// database; a separate wsmon web process follows the database (Follow:
// true, as app.Run does in mode web).
func TestQueryPathRestartedAndFollowing(t *testing.T) {
	f := newFixture(t)
	scan := loadScan(t, f)
	var texts []string
	for i, s := range searchTexts() {
		if i%10 == 0 {
			texts = append(texts, s)
		}
	}
	for _, c := range []struct {
		name string
		opts index.Options
	}{
		{"restarted", index.Options{Logger: discardLogger()}},
		{"following", index.Options{Follow: true, Logger: discardLogger()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ix, err := index.New(context.Background(), f.st, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			src := query.New(f.st, ix)
			checkSearches(t, src, scan, texts, searchFilters(f))
			checkPages(t, src, scan)
			checkMessages(t, f, src, scan)
			checkUsers(t, f, src, scan)
			checkStats(t, f, src)
		})
	}
}
