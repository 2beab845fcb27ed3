package index_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/wsmon/wsmon/internal/bench"
	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/search"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/store/storetest"
)

type row struct {
	id                                       int64
	at                                       int64 // received_at, Unix ms
	content, folded, user, typ, room, target string
}

func allRows(t *testing.T, st *store.Store) []row {
	t.Helper()
	ms, err := st.Messages(context.Background(), store.MessageQuery{Limit: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]row, len(ms))
	for i, m := range ms {
		out[i] = row{m.ID, m.ReceivedAt.UnixMilli(), m.Content, search.Fold(m.Content), m.User, string(m.Type), m.Room, m.Target}
	}
	return out // newest first
}

// naive is the definition: every message whose folded content contains the
// folded query, newest first, with the filters; the page starts below the
// before cursor, the total counts every page (docs/api.md: the same on
// every page).
func naive(rows []row, text string, q store.MessageQuery) (page []int64, total int64) {
	f := search.Fold(text)
	for _, r := range rows {
		if (q.User != "" && r.user != q.User) || (q.Type != "" && r.typ != q.Type) || (q.Room != "" && r.room != q.Room) ||
			(q.Target != "" && r.target != q.Target) || (!q.From.IsZero() && r.at < q.From.UnixMilli()) || (!q.To.IsZero() && r.at >= q.To.UnixMilli()) {
			continue
		}
		if !strings.Contains(r.folded, f) {
			continue
		}
		total++
		if q.Before > 0 && r.id >= q.Before {
			continue
		}
		if len(page) < q.Limit {
			page = append(page, r.id)
		}
	}
	return page, total
}

// adversarial are stored messages made of repeated grams (runs of one
// digit, letter, CJK character, punctuation or space, order and phone
// numbers) and a long one, each received at a random time of the last two
// days, so received times do not rise with ids.
var adversarial = []string{"#777777", "order #7777 shipped", "666666", "666 666", "哈哈哈哈", "哈哈哈哈哈哈哈哈哈哈", "哈哈 哈哈",
	"aaaa", "AAAAAAAAA!", "！！！", "???", "call 13800138000 now", "13800138000", "1380013800", "2024-12-01 #4242",
	"#99999", "12345 54321", "   three spaces", "好好好", "好的好的", "x" + strings.Repeat("ab", 40) + "y",
	strings.Repeat("please help fix the bug ", 12)}

var hostile = []string{`"`, `'`, `%`, `_`, `*`, `-x`, `a:b`, `NEAR(a b)`, `a AND b`, `'; DROP TABLE messages; --`,
	`👍`, `\`, `<img src=x onerror=alert(1)>`, `紧急`, `重要`, `订单`, `HeLLo`, `ÄÖÜ`, `ß`, `İ`, `.`, ` `, `#1`, `  `}

func openEnv(t *testing.T, dir string) *bench.Env {
	t.Helper()
	return openEnvFlush(t, dir, 1000)
}

func openEnvFlush(t *testing.T, dir string, flush int) *bench.Env {
	t.Helper()
	e, err := bench.Open(context.Background(), dir, storetest.Options(t, filepath.Join(dir, "chat_monitor.db"), time.UTC), nil, index.Options{FlushMessages: flush, Buckets: 64})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func ingest(t *testing.T, e *bench.Env, c *bench.Corpus, n int, extra []string) int64 {
	t.Helper()
	before := e.Pipeline.Stats().Messages
	at := time.Now().Add(-48 * time.Hour)
	step := min(7*time.Second, 40*time.Hour/time.Duration(n)) // never in the future
	for i := 0; i < n; i++ {
		at = at.Add(step)
		if err := e.Add(c.Next(), at); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(uint64(n), 9))
	for i, s := range extra {
		frame := fmt.Sprintf(`{"id":"x-%d-%d","type":"chat","user":"hostile","room":"lobby","content":%q}`, n, i, s)
		if err := e.Add([]byte(frame), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range adversarial {
		frame := fmt.Sprintf(`{"id":"a-%d-%d","type":"chat","user":"adversary","room":"support","content":%q}`, n, i, s)
		if err := e.Add([]byte(frame), time.Now().Add(-time.Duration(rng.Int64N(int64(48*time.Hour))))); err != nil {
			t.Fatal(err)
		}
	}
	want := before + int64(n+len(extra)+len(adversarial))
	if err := e.WaitCommitted(want, time.Minute); err != nil {
		t.Fatal(err)
	}
	return want
}

// randomQuery draws a query: a substring of a stored message (1 to 10
// runes, case changed at random), a vocabulary word, a hostile string, a
// run of one rune (2 to 12 of a digit, letter, CJK character, punctuation,
// space), a number, a long substring (up to 256 runes) of a message, or a
// long text no message holds (two messages run together, or common words).
func randomQuery(rng *rand.Rand, rows []row) string {
	content := func() []rune { return []rune(rows[rng.IntN(len(rows))].content) }
	switch rng.IntN(16) {
	case 0, 1:
		return hostile[rng.IntN(len(hostile))]
	case 2:
		v := bench.Vocabulary()
		return v[rng.IntN(len(v))]
	case 3:
		return fmt.Sprintf("zz%dqq", rng.IntN(1000)) // no match
	case 4:
		return strings.Repeat(string([]rune("7a6哈！ .A0好")[rng.IntN(10)]), 2+rng.IntN(11))
	case 5:
		return []string{"#", "", "1380", "#7", "20"}[rng.IntN(5)] + fmt.Sprint(rng.IntN(100000))
	case 6:
		return adversarial[rng.IntN(len(adversarial))]
	case 7: // long, present
		rs := content()
		if len(rs) == 0 {
			return "a"
		}
		n := 1 + rng.IntN(min(256, len(rs)))
		i := rng.IntN(len(rs) - n + 1)
		return string(rs[i : i+n])
	case 8: // long, absent: two messages run together, or common words
		if rng.IntN(2) == 0 {
			return string(content()) + " " + string(content())
		}
		v := bench.Vocabulary()
		var b strings.Builder
		for b.Len() < 40+rng.IntN(400) {
			b.WriteString(v[rng.IntN(20)])
			if rng.IntN(2) == 0 {
				b.WriteByte(' ')
			}
		}
		return string([]rune(b.String())[:min(256, len([]rune(b.String())))])
	}
	rs := content()
	if len(rs) == 0 {
		return "a"
	}
	n := 1 + rng.IntN(min(10, len(rs)))
	i := rng.IntN(len(rs) - n + 1)
	q := rs[i : i+n]
	if rng.IntN(3) == 0 {
		for k := range q {
			q[k] = unicode.ToUpper(q[k])
		}
	}
	return string(q)
}

func checkQueries(t *testing.T, ix *index.Indexer, rows []row, seed uint64, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	users := map[string]bool{}
	var userList []string
	for _, r := range rows {
		if r.user != "" && !users[r.user] {
			users[r.user] = true
			userList = append(userList, r.user)
		}
	}
	// A time window: from and to drawn from the stored times (or open).
	minAt, maxAt := rows[0].at, rows[0].at
	for _, r := range rows {
		minAt, maxAt = min(minAt, r.at), max(maxAt, r.at)
	}
	window := func(q *store.MessageQuery) {
		a, b := minAt+rng.Int64N(maxAt-minAt+2), minAt+rng.Int64N(maxAt-minAt+2)
		a, b = min(a, b), max(a, b)
		if rng.IntN(4) != 0 {
			q.From = time.UnixMilli(a)
		}
		if rng.IntN(4) != 0 {
			q.To = time.UnixMilli(b)
		}
	}
	ctx := context.Background()
	for i := 0; i < n; i++ {
		text := randomQuery(rng, rows)
		q := store.MessageQuery{Limit: 1 + rng.IntN(60)}
		switch rng.IntN(14) {
		case 0, 1:
			q.User = userList[rng.IntN(len(userList))]
		case 2:
			q.Type = []string{"chat", "join", "leave", "system"}[rng.IntN(4)]
		case 3:
			q.Room = "lobby"
		case 4:
			q.Before = rows[rng.IntN(len(rows))].id
		case 5:
			q.Target = []string{bench.Target, "nope"}[rng.IntN(2)]
		case 6, 7:
			window(&q)
		case 8:
			q.User = userList[len(userList)-1-rng.IntN(min(20, len(userList)))] // rare ones
			window(&q)
		case 9:
			q.Room, q.Target = "support", bench.Target
			window(&q)
		}
		wantPage, wantTotal := naive(rows, text, q)
		res, err := ix.Search(ctx, text, q)
		if err != nil {
			t.Fatalf("query %q %+v: %v", text, q, err)
		}
		got := make([]int64, len(res.Messages))
		for k, m := range res.Messages {
			got[k] = m.ID
		}
		if len(wantPage) == 0 {
			wantPage = []int64{}
		}
		if !reflect.DeepEqual(got, wantPage) {
			t.Fatalf("query %q %+v:\n got  %v\n want %v", text, q, got, wantPage)
		}
		if !res.Estimate && res.Total != wantTotal {
			t.Fatalf("query %q %+v: total %d, want %d (exact)", text, q, res.Total, wantTotal)
		}
		if res.Estimate && wantTotal < int64(len(wantPage)) {
			t.Fatalf("query %q: estimate %d below the page", text, res.Total)
		}
	}
}

func checkStats(t *testing.T, e *bench.Env, now time.Time) {
	t.Helper()
	ctx := context.Background()
	for _, target := range []string{"", bench.Target, "nope"} {
		q := store.StatsQuery{Now: now, Target: target}
		got, err := e.Index.Stats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want, err := e.Store.StatsScan(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("stats for target %q from rollups differ from a full recomputation:\n got  %+v\n want %+v", target, got, want)
		}
	}
}

// TestSearchEquivalence: thousands of random queries (1 to 10 runes from
// the corpus, plus hostile strings) give exactly the results of a naive
// case-insensitive substring scan, across database segments, the memory
// segment, filters and paging, and again after a restart.
func TestSearchEquivalence(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	c := bench.NewCorpus(7, 300, time.Now().Add(-48*time.Hour).UnixMilli())
	ingest(t, e, c, 15_000, hostile)
	rows := allRows(t, e.Store)
	checkQueries(t, e.Index, rows, 1, 1500)
	checkStats(t, e, time.Now())
	// 15 flushes of 1,000: ten were merged into one.
	if s := e.Index.Status(); s.Segments < 2 || s.Segments > 10 {
		t.Fatalf("expected several segments, some merged, got %+v", s)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openEnv(t, dir)
	defer e.Close()
	checkQueries(t, e.Index, rows, 2, 500)
	checkStats(t, e, time.Now())
	// More messages after the restart: memory and database parts mix.
	ingest(t, e, c, 2_000, nil)
	rows = allRows(t, e.Store)
	checkQueries(t, e.Index, rows, 3, 500)
	checkStats(t, e, time.Now())
}

// TestRollupsAndSearchUnderRetention: after a retention delete, statistics
// still equal a full recomputation and search still equals a naive scan,
// also after a restart and after more ingest.
func TestRollupsAndSearchUnderRetention(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	c := bench.NewCorpus(11, 200, time.Now().Add(-48*time.Hour).UnixMilli())
	ingest(t, e, c, 12_000, nil) // received over the last ~23 h
	rows := allRows(t, e.Store)
	cut := time.Now().Add(-36 * time.Hour) // ingest starts at now-48h, 7 s apart
	n, err := e.Index.Prune(context.Background(), cut)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || n >= int64(len(rows)) {
		t.Fatalf("pruned %d of %d messages", n, len(rows))
	}
	left := allRows(t, e.Store)
	if int64(len(left)) != int64(len(rows))-n {
		t.Fatalf("%d rows left after deleting %d of %d", len(left), n, len(rows))
	}
	checkStats(t, e, time.Now())
	checkQueries(t, e.Index, left, 5, 400)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openEnv(t, dir)
	defer e.Close()
	checkStats(t, e, time.Now())
	checkQueries(t, e.Index, left, 6, 300)
	ingest(t, e, c, 1_000, nil)
	checkStats(t, e, time.Now())
	checkQueries(t, e.Index, allRows(t, e.Store), 7, 300)
}

// TestSearchEquivalenceLongLists: segments big enough that frequent grams'
// lists are stored apart from their buckets (and merged from there).
func TestSearchEquivalenceLongLists(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	e := openEnvFlush(t, t.TempDir(), 6000)
	defer e.Close()
	c := bench.NewCorpus(13, 500, time.Now().Add(-48*time.Hour).UnixMilli())
	want := ingest(t, e, c, 66_500, hostile)
	deadline := time.Now().Add(time.Minute)
	for e.Index.Status().Consumed < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := e.Index.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkQueries(t, e.Index, allRows(t, e.Store), 9, 300)
	t.Logf("index: %+v", e.Index.Status())
	checkStats(t, e, time.Now())
}

// TestSegmentsOfAnOlderFormat: segments written before trigrams, run grams
// and time blocks (no segment info) are answered through their bigrams,
// their candidates verified, and merge only with their like; results stay
// those of the scan.
func TestSegmentsOfAnOlderFormat(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir)
	c := bench.NewCorpus(17, 300, time.Now().Add(-48*time.Hour).UnixMilli())
	ingest(t, e, c, 8_000, hostile)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// Strip the info of all segments but the newest, as an older wsmon
	// wrote them.
	db := storetest.OpenDB(t, storetest.Options(t, filepath.Join(dir, "chat_monitor.db"), time.UTC))
	res, err := db.Exec(`DELETE FROM index_lists WHERE gram = 1 AND seg < (SELECT MAX(seg) FROM index_segments)`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatal("no segment info stripped")
	}
	db.Close()
	e = openEnv(t, dir)
	defer e.Close()
	checkQueries(t, e.Index, allRows(t, e.Store), 31, 600)
	checkStats(t, e, time.Now())
	ingest(t, e, c, 6_000, nil) // new segments beside the old, merges
	checkQueries(t, e.Index, allRows(t, e.Store), 32, 600)
}
