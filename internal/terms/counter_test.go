package terms

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func chatLines(t testing.TB) []string {
	b, err := os.ReadFile("testdata/chat.txt")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// stream feeds a counter a deterministic chat stream: msgs messages a day
// over days days, in rooms, drawn from the corpus lines; inject, if not
// empty, is added to share of the messages of day injectDay.
type stream struct {
	days, msgs int
	rooms      []string
	inject     string
	injectDay  Day
	injectRoom string
	share      float64
	// drift draws each day's lines from a different half of the corpus,
	// so that terms rise and fall.
	drift bool
}

func (s stream) run(t testing.TB, c *Counter, tk *Tokenizer, check func(d Day, room, text string, ts *Terms)) {
	lines := chatLines(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var ts Terms
	for d := Day(20000); d < Day(20000+s.days); d++ {
		for range s.msgs {
			text := lines[rng.IntN(len(lines))]
			if s.drift {
				text = lines[(rng.IntN(len(lines)/2)+int(d)*97)%len(lines)]
			}
			room := s.rooms[rng.IntN(len(s.rooms))]
			if s.inject != "" && d == s.injectDay && rng.Float64() < s.share {
				text += " " + s.inject
				room = s.injectRoom
			}
			ts.Reset()
			tk.Append(&ts, text)
			c.Add(d, room, &ts)
			if check != nil {
				check(d, room, text, &ts)
			}
		}
	}
}

func TestTrendingFindsInjectedTerm(t *testing.T) {
	tk, err := New(Options{Phrases: true})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCounter(CounterOptions{})
	s := stream{days: 10, msgs: 3000, rooms: []string{"lobby", "support", "游戏大厅"},
		inject: "闪退", injectDay: 20007, injectRoom: "support", share: 0.02}
	s.run(t, c, tk, nil)
	for d := Day(20000); d < 20010; d++ {
		for _, room := range []string{"", "support", "lobby"} {
			top := c.Trending(d, room, 5)
			has := false
			for _, tr := range top {
				has = has || tr.Term == "闪退"
			}
			switch {
			case d == s.injectDay && room != "lobby":
				if len(top) == 0 || top[0].Term != "闪退" {
					t.Errorf("day %d room %q: top %v, want 闪退 first", d, room, terms(top))
				}
			case d < s.injectDay && has:
				t.Errorf("day %d room %q: 闪退 ranked before it was said: %v", d, room, terms(top))
			}
		}
	}
	top := c.Trending(s.injectDay, "support", 1)[0]
	// Expected is not 0 but the bound the past days' cut summaries allow
	// for a term they do not hold (a few messages).
	if top.Expected > 5 || top.Count < 20 || len(top.Series) != 8 {
		t.Errorf("闪退: %+v", top)
	}
	// The day after, 闪退 is not said and not ranked.
	for _, tr := range c.Trending(s.injectDay+1, "", 20) {
		if tr.Term == "闪退" {
			t.Errorf("闪退 ranked the day after: %+v", tr)
		}
	}
}

func terms(ts []Trend) []string {
	var out []string
	for _, t := range ts {
		out = append(out, fmt.Sprintf("%s(%d/%.1f=%.2f)", t.Term, t.Count, t.Expected, t.Score))
	}
	return out
}

// TestCountsExactOrBounded compares the counter with a recount: exact
// where no summary overflowed, within the bounds otherwise.
func TestCountsExactOrBounded(t *testing.T) {
	tk, err := New(Options{Phrases: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, opt := range []CounterOptions{
		{All: 1 << 20, Room: 1 << 20, PastAll: 1 << 20, PastRoom: 1 << 20}, // nothing overflows: exact
		{All: 64, Room: 16, PastAll: 32, PastRoom: 8},                      // everything overflows
	} {
		c := NewCounter(opt)
		type key struct {
			d          Day
			room, term string
		}
		truth := map[key]uint64{}
		msgs := map[key]uint64{}
		s := stream{days: 5, msgs: 2000, rooms: []string{"a", "b"}}
		s.run(t, c, tk, func(d Day, room, _ string, ts *Terms) {
			seen := map[string]bool{}
			for i := range ts.Len() {
				seen[string(ts.At(i))] = true
			}
			for w := range seen {
				truth[key{d, "", w}]++
				truth[key{d, room, w}]++
			}
			msgs[key{d, "", ""}]++
			msgs[key{d, room, ""}]++
		})
		exact := opt.All == 1<<20
		c.mu.Lock()
		for d, dc := range c.days {
			for room, s := range map[string]*summary{"": dc.all, "a": dc.rooms["a"], "b": dc.rooms["b"]} {
				if err := s.check(); err != nil {
					t.Fatalf("day %d room %q: %v", d, room, err)
				}
				if s.msgs != msgs[key{d, room, ""}] {
					t.Errorf("day %d room %q: %d messages, want %d", d, room, s.msgs, msgs[key{d, room, ""}])
				}
				if exact && s.overflow {
					t.Errorf("day %d room %q overflowed with room for every term", d, room)
				}
				if !exact && !s.overflow {
					t.Errorf("day %d room %q did not overflow: cap %d, %d terms, %d messages, options %+v", d, room, s.cap, len(s.ents), s.msgs, opt)
				}
				for k, n := range truth {
					if k.d != d || k.room != room {
						continue
					}
					lo, hi := s.bounds(k.term)
					if exact && (lo != n || hi != n) {
						t.Fatalf("day %d room %q %q: [%d, %d], exact %d", d, room, k.term, lo, hi, n)
					}
					if lo > n || hi < n {
						t.Fatalf("day %d room %q %q: [%d, %d] does not hold the true %d", d, room, k.term, lo, hi, n)
					}
					if hi-lo > s.adds/uint64(s.cap) || s.floor() > s.adds/uint64(s.cap) {
						t.Fatalf("day %d room %q %q: error %d, floor %d above adds/cap %d", d, room, k.term, hi-lo, s.floor(), s.adds/uint64(s.cap))
					}
				}
			}
		}
		c.mu.Unlock()
	}
}

// TestBoundedMemory floods a counter with a million distinct junk tokens
// (and their phrases) in a thousand rooms a day: what it holds stays
// within its options.
func TestBoundedMemory(t *testing.T) {
	tk, err := New(Options{Phrases: true})
	if err != nil {
		t.Fatal(err)
	}
	opt := CounterOptions{Days: 4}.withDefaults()
	c := NewCounter(opt)
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	var ts Terms
	rng := rand.New(rand.NewPCG(3, 4))
	var b []byte
	rooms := make([]string, 1000)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("room%d", i)
	}
	// The tokens go to the counter as the tokenizer would give them
	// (checked on the first message), without tokenizing a million
	// strings under the race detector.
	const n = 250_000 // messages of 4 tokens and their 3 phrases
	for i := range n {
		ts.Reset()
		var words [4]string
		for j := range words {
			b = strconv.AppendUint(append(b[:0], 'x'), rng.Uint64()%(1<<40), 36)
			words[j] = string(append(b, 'q'))
			ts.buf = append(ts.buf, words[j]...)
			ts.end = append(ts.end, int32(len(ts.buf)))
			if j > 0 {
				ts.buf = append(append(append(ts.buf, words[j-1]...), ' '), words[j]...)
				ts.end = append(ts.end, int32(len(ts.buf)))
			}
		}
		if i == 0 {
			got := tk.Tokenize(strings.Join(words[:], " "))
			if len(got) != ts.Len() || got[1] != string(ts.At(1)) || got[2] != string(ts.At(2)) {
				t.Fatalf("tokenizer gives %q", got)
			}
		}
		c.Add(Day(20000+i/(n/6)), rooms[i%len(rooms)], &ts)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	st := c.Stats()
	// Days 20002-20005 kept; 20004-20005 at full capacity, the rest cut.
	limit := 2*(opt.All+opt.Rooms*opt.Room) + 2*(opt.PastAll+opt.Rooms*opt.PastRoom)
	if st.Days != 4 || st.Entries > limit || st.Summaries > 4*(1+opt.Rooms) {
		t.Errorf("stats %+v, entry limit %d", st, limit)
	}
	if st.Untracked == 0 {
		t.Errorf("no untracked room messages: %+v", st)
	}
	heap := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
	t.Logf("%+v; heap +%.1f MiB", st, float64(heap)/(1<<20))
	if heap > 40<<20 {
		t.Errorf("heap grew by %d bytes", heap)
	}
	if got := c.Trending(20005, "", 10); len(got) != 0 {
		t.Errorf("junk seen once each trends: %v", terms(got))
	}
}

func TestLateAndOldDays(t *testing.T) {
	c := NewCounter(CounterOptions{Days: 3})
	var ts Terms
	ts.buf = append(ts.buf, "word"...)
	ts.end = append(ts.end, 4)
	c.Add(100, "r", &ts)
	c.Add(99, "r", &ts) // late but kept
	c.Add(103, "r", &ts)
	c.Add(100, "r", &ts) // forgotten
	st := c.Stats()
	if st.Days != 1 || st.Newest != 103 || st.Late != 1 {
		t.Errorf("%+v", st)
	}
	// Days beyond MaxDay are not counted; nothing to rank for them, for
	// days not kept, rooms not counted or k <= 0.
	c.Add(MaxDay+1, "r", &ts)
	c.Add(-MaxDay-1, "r", &ts)
	if st := c.Stats(); st.Newest != 103 || st.Late != 3 {
		t.Errorf("far days: %+v", st)
	}
	for _, q := range []struct {
		d    Day
		room string
		k    int
	}{{MaxDay + 1, "", 5}, {50, "", 5}, {103, "nope", 5}, {103, "", 0}, {103, "r", -1}} {
		if got := c.Trending(q.d, q.room, q.k); got != nil {
			t.Errorf("Trending(%d, %q, %d) = %v", q.d, q.room, q.k, got)
		}
	}
	if o := (CounterOptions{Days: 1 << 30}).withDefaults(); o.Days != MaxDays {
		t.Errorf("Days %d", o.Days)
	}
	// A day cut down to past capacities before it gets messages.
	c.Add(101, "r", &ts)
	if dc := c.days[101]; !dc.past || dc.all.cap != c.opt.PastAll || dc.rooms["r"].cap != c.opt.PastRoom {
		t.Errorf("day 101: past %v caps %d %d", dc.past, dc.all.cap, dc.rooms["r"].cap)
	}
}

func TestDayOf(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skip(err)
	}
	at := time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC) // 07:30 on 2 March in Shanghai
	if d := DayOf(at, sh); d.Time().Format("2006-01-02") != "2026-03-02" {
		t.Errorf("DayOf: %s", d.Time())
	}
	if d := DayOf(at, time.UTC); d.Time().Format("2006-01-02") != "2026-03-01" {
		t.Errorf("DayOf UTC: %s", d.Time())
	}
}

func TestStateRoundTrip(t *testing.T) {
	tk, err := New(Options{Phrases: true})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCounter(CounterOptions{All: 512, Room: 64, PastAll: 128, PastRoom: 32})
	s := stream{days: 6, msgs: 1500, rooms: []string{"lobby", "support", "游戏大厅"},
		inject: "闪退", injectDay: 20004, injectRoom: "lobby", share: 0.05}
	s.run(t, c, tk, nil)
	b, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	c2 := NewCounter(c.opt)
	if err := c2.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	b2, _ := c2.MarshalBinary()
	if !bytes.Equal(b, b2) {
		t.Fatal("state changed through a round trip")
	}
	if c.Stats() != c2.Stats() {
		t.Errorf("stats %+v, after round trip %+v", c.Stats(), c2.Stats())
	}
	for d := Day(20000); d < 20006; d++ {
		for _, room := range []string{"", "lobby", "support"} {
			if a, b := fmt.Sprint(c.Trending(d, room, 20)), fmt.Sprint(c2.Trending(d, room, 20)); a != b {
				t.Errorf("day %d %q: trending differs after round trip", d, room)
			}
		}
	}
	// Counting goes on the same from the loaded state.
	s2 := stream{days: 1, msgs: 500, rooms: []string{"lobby"}}
	s2.run(t, c, tk, nil)
	s2.run(t, c2, tk, nil)
	b, _ = c.MarshalBinary()
	b2, _ = c2.MarshalBinary()
	if !bytes.Equal(b, b2) {
		t.Error("states differ after counting on")
	}

	// Loaded into smaller options, it is cut to them and still valid.
	small := NewCounter(CounterOptions{Days: 3, Rooms: 1, All: 50, Room: 10, PastAll: 20, PastRoom: 5})
	if err := small.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	st := small.Stats()
	if st.Days != 3 || st.Summaries != 6 || st.Entries > 2*(50+10)+20+5 {
		t.Errorf("small: %+v", st)
	}

	// Damage is refused and leaves the counter as it was.
	before, _ := c2.MarshalBinary()
	for _, bad := range [][]byte{nil, []byte("WSTM"), b[:len(b)-1], append([]byte("XSTM"), b[4:]...), flip(b, len(b)/2)} {
		if err := c2.UnmarshalBinary(bad); err == nil {
			t.Errorf("damaged state of %d bytes accepted", len(bad))
		}
	}
	if after, _ := c2.MarshalBinary(); !bytes.Equal(before, after) {
		t.Error("a refused state changed the counter")
	}
	empty := NewCounter(CounterOptions{})
	eb, _ := empty.MarshalBinary()
	if err := NewCounter(CounterOptions{}).UnmarshalBinary(eb); err != nil {
		t.Errorf("empty state: %v", err)
	}
}

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x40
	return b
}

// TestScoreNeverOverstated runs one stream through an exact counter and a
// tiny one: every term the tiny one ranks, the exact one ranks too, with
// a score at least as high.
func TestScoreNeverOverstated(t *testing.T) {
	tk, err := New(Options{Phrases: true})
	if err != nil {
		t.Fatal(err)
	}
	huge := 1 << 20
	exact := NewCounter(CounterOptions{Days: 6, All: huge, Room: huge, PastAll: huge, PastRoom: huge})
	// Small enough that every summary overflows, large enough that the
	// injected term's error bound (terms counted / capacity) is below its
	// count.
	approx := NewCounter(CounterOptions{Days: 6, All: 400, Room: 200, PastAll: 200, PastRoom: 100})
	s := stream{days: 6, msgs: 1500, rooms: []string{"a", "b"}, inject: "闪退", injectDay: 20004, injectRoom: "a", share: 0.03, drift: true}
	s.run(t, exact, tk, func(d Day, room, _ string, ts *Terms) { approx.Add(d, room, ts) })
	checked := 0
	for d := Day(20000); d < 20006; d++ {
		for _, room := range []string{"", "a", "b"} {
			want := map[string]Trend{}
			for _, tr := range exact.Trending(d, room, huge) {
				want[tr.Term] = tr
			}
			for _, tr := range approx.Trending(d, room, huge) {
				w, ok := want[tr.Term]
				if !ok || tr.Score > w.Score+1e-9 || tr.Count > w.Count {
					t.Fatalf("day %d room %q %q: approximate %+v, exact %+v (ranked %v)", d, room, tr.Term, tr, w, ok)
				}
				checked++
			}
		}
	}
	for _, dc := range approx.days {
		if !dc.all.overflow || !dc.rooms["a"].overflow {
			t.Fatal("a summary of the small counter did not overflow")
		}
	}
	if checked < 50 {
		t.Errorf("only %d ranked terms compared", checked)
	}
	if top := approx.Trending(20004, "a", 1); len(top) != 1 || top[0].Term != "闪退" {
		t.Errorf("tiny counter's top on the day: %v", terms(top))
	}
}
