package anomaly

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // America/New_York for the DST case, whatever the machine has

	"github.com/wsmon/wsmon/internal/message"
)

// day0 is a Monday 00:00 UTC.
var day0 = Minute(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))

// feed observes one whole minute at a time for key k from minute from to
// to (exclusive), Poisson counts at rate(m) of chat messages from 50 users,
// then advances to to.
func feed(d *Detector, rng *rand.Rand, k Key, from, to int64, rate func(m int64) float64) {
	for m := from; m < to; m++ {
		n := poisson(rng, rate(m))
		if n > 0 {
			c := Counts{Messages: uint32(n)}
			c.Types[0] = uint32(n)
			for range n {
				c.Users = append(c.Users, UserCount{User: string(rune('a' + rng.IntN(50))), Count: 1})
			}
			d.Observe(k, m, c)
		}
		d.Advance(m + 1)
	}
}

// daytime is 3 messages a minute from 09:00 to 21:00 UTC, none at night.
func daytime(m int64) float64 {
	if h := mod(m, 1440) / 60; h >= 9 && h < 21 {
		return 3
	}
	return 0
}

func newDetector(t *testing.T, o Options) *Detector {
	t.Helper()
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSlotOf(t *testing.T) {
	cases := []struct {
		loc  string
		at   string // local time
		slot int
	}{
		{"UTC", "2026-03-02 00:30", 24},  // Monday
		{"UTC", "2026-03-01 23:59", 23},  // Sunday
		{"UTC", "2026-03-07 23:00", 167}, // Saturday
		{"Asia/Shanghai", "2026-03-02 08:10", 24 + 8},
		{"America/New_York", "2026-03-08 03:30", 3}, // the Sunday DST begins: 02:00 does not exist
		{"America/New_York", "2026-03-08 01:30", 1},
		{"America/New_York", "2026-03-09 09:00", 24 + 9},
	}
	for _, c := range cases {
		loc, err := time.LoadLocation(c.loc)
		if err != nil {
			t.Fatal(err)
		}
		d := newDetector(t, Options{Location: loc})
		at, err := time.ParseInLocation("2006-01-02 15:04", c.at, loc)
		if err != nil {
			t.Fatal(err)
		}
		if got := slotOf(d.localHour(Minute(at))); got != c.slot {
			t.Errorf("%s %s: slot %d, want %d", c.loc, c.at, got, c.slot)
		}
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{{Weeks: 9}, {Weeks: -1}, {SpikeWindow: 17}, {TypeWindow: -2}, {MaxKeys: -1}, {SpikeZ: -1}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// TestQuietNights: a chat silent every night for three weeks reports
// nothing; a silence in the day is found from its first silent minute to
// the minute the chat speaks again.
func TestQuietNights(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	d := newDetector(t, Options{})
	k := Key{Target: "t"}
	end := day0 + 21*1440
	feed(d, rng, k, day0, end, daytime)
	if got := d.List(Query{}); len(got) != 0 {
		t.Fatalf("quiet nights reported: %v", got)
	}
	s0, s1 := end+10*60, end+12*60 // 10:00-12:00 on the fourth Monday
	feed(d, rng, k, end, end+1440, func(m int64) float64 {
		if m >= s0 && m < s1 {
			return 0
		}
		return daytime(m)
	})
	got := d.List(Query{})
	if len(got) != 1 || got[0].Kind != KindSilence || got[0].Open {
		t.Fatalf("want one closed silence, got %v", got)
	}
	a := got[0]
	// The run starts after the last message before s0 (a minute or so
	// earlier at 3 a minute) and ends at the first message after s1.
	if st := Minute(a.Start); st > s0 || st < s0-3 {
		t.Errorf("start %v, silence began %v", a.Start, minuteTime(s0))
	}
	if e := Minute(a.End); e < s1 || e > s1+3 {
		t.Errorf("end %v, silence ended %v", a.End, minuteTime(s1))
	}
	if a.Score < 8 || a.Params["baseline"] != "week" || !strings.Contains(a.Explanation, `Silence in target "t": no message for`) {
		t.Errorf("silence %+v", a)
	}
}

// TestSpike: a burst is found with its start, ends after it, and the
// events arrive in order on the feeding goroutine, which may call List.
func TestSpike(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var events []Event
	var d *Detector
	d = newDetector(t, Options{OnEvent: func(e Event) {
		events = append(events, e)
		if e.Type == Opened && len(d.List(Query{OpenOnly: true})) == 0 {
			t.Error("opened anomaly not listed as open")
		}
	}})
	k := Key{Target: "t", Room: "r"}
	end := day0 + 14*1440
	feed(d, rng, k, day0, end, daytime)
	b0, b1 := end+14*60, end+14*60+10
	feed(d, rng, k, end, end+1440, func(m int64) float64 {
		if m >= b0 && m < b1 {
			return 30
		}
		return daytime(m)
	})
	got := d.List(Query{Kinds: []Kind{KindSpike}})
	if len(got) != 1 {
		t.Fatalf("want one spike, got %v", got)
	}
	a := got[0]
	if Minute(a.Start) != b0 || Minute(a.End) < b1 || Minute(a.End) > b1+1 || a.Key != k {
		t.Errorf("spike %v..%v (%v), burst %v..%v", a.Start, a.End, a.Key, minuteTime(b0), minuteTime(b1))
	}
	if len(events) != 2 || events[0].Type != Opened || events[1].Type != Closed || events[0].Anomaly.ID != a.ID || !events[0].Anomaly.End.IsZero() || !events[0].Anomaly.Open {
		t.Errorf("events %v", events)
	}
	for _, p := range []string{"observed", "expected", "window_minutes", "hour_of_week", "baseline"} {
		if a.Params[p] == "" {
			t.Errorf("spike lacks parameter %s: %v", p, a.Params)
		}
	}
	if a.Code != "rate_spike" || !strings.HasPrefix(a.Explanation, `Rate spike in room "r" of target "t": `) || !strings.Contains(a.Explanation, "for Mon 14:00") {
		t.Errorf("code %q explanation %q", a.Code, a.Explanation)
	}
}

// TestFloods: a new-user flood, one user flooding and a leave storm, fed
// through ObserveMessage, are found under the room and the target, with
// their parameters.
func TestFloods(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	d := newDetector(t, Options{})
	seen := map[string]bool{}
	msg := func(user string, typ message.Type, m int64) {
		d.ObserveMessage("t", "r", user, TypeIndex(typ), minuteTime(m).Add(17*time.Second), !seen[user])
		seen[user] = true
	}
	end := day0 + 8*1440
	nu := 0
	for m := day0; m < end+1440; m++ {
		for range poisson(rng, daytime(m)) {
			typ := message.TypeChat
			if rng.IntN(20) == 0 {
				typ = message.TypeLeave
			}
			msg(string(rune('a'+rng.IntN(40))), typ, m)
		}
		switch off := m - end; {
		case off >= 10*60 && off < 10*60+10:
			for range 5 {
				nu++
				msg("bot"+string(rune('A'+nu%26))+string(rune('A'+nu/26)), message.TypeChat, m)
			}
		case off >= 13*60 && off < 13*60+10:
			for range 6 {
				msg("spammer", message.TypeChat, m)
			}
		case off >= 16*60 && off < 16*60+10:
			for range 10 {
				msg(string(rune('a'+rng.IntN(40))), message.TypeLeave, m)
			}
		}
		d.Advance(m + 1)
	}
	for _, c := range []struct {
		kind   Kind
		at     int64
		params []string
		text   string
	}{
		{KindNewUsers, end + 10*60, []string{"observed", "expected", "window_minutes"}, "users new to the target in 10 minutes"},
		{KindUserFlood, end + 13*60, []string{"user", "observed", "total", "share", "usual", "window_minutes"}, `"spammer" sent`},
		{KindTypeMix, end + 16*60, []string{"type", "observed", "total", "share", "usual_share", "jsd", "window_minutes"}, "leave messages were"},
	} {
		for _, room := range []string{"r", ""} {
			got := d.List(Query{Target: "t", Kinds: []Kind{c.kind}})
			var a *Anomaly
			for i := range got {
				if got[i].Key.Room == room {
					a = &got[i]
				}
			}
			if a == nil {
				t.Errorf("%s not found in room %q: %v", c.kind, room, got)
				continue
			}
			if s := Minute(a.Start); s < c.at-1 || s > c.at+3 || a.Open {
				t.Errorf("%s starts %v, injected at %v", c.kind, a.Start, minuteTime(c.at))
			}
			for _, p := range c.params {
				if a.Params[p] == "" {
					t.Errorf("%s lacks %s: %v", c.kind, p, a.Params)
				}
			}
			if !strings.Contains(a.Explanation, c.text) {
				t.Errorf("%s explanation %q lacks %q", c.kind, a.Explanation, c.text)
			}
			if c.kind == KindUserFlood && a.User != "spammer" {
				t.Errorf("user flood by %q", a.User)
			}
		}
	}
	if n := len(d.List(Query{Room: "r"})); n > 6 {
		t.Errorf("%d anomalies in room r, want the three floods and at most their spikes", n)
	}
}

// TestWarmUpAndCaps: nothing is reported before the warm-up; keys past
// MaxKeys and late observations are counted, not kept.
func TestWarmUpAndCaps(t *testing.T) {
	d := newDetector(t, Options{MaxKeys: 2, WarmUp: 120})
	k := Key{Target: "t"}
	for m := day0; m < day0+100; m++ {
		n := uint32(2)
		if m >= day0+60 {
			n = 200
		}
		d.Observe(k, m, Counts{Messages: n})
	}
	d.Advance(day0 + 100)
	if got := d.List(Query{}); len(got) != 0 {
		t.Errorf("reported during the warm-up: %v", got)
	}
	d.Observe(k, day0+50, Counts{Messages: 1})
	d.Observe(Key{Target: "u"}, day0+100, Counts{Messages: 1})
	d.Observe(Key{Target: "v"}, day0+100, Counts{Messages: 1})
	d.Observe(Key{Target: "w", Room: "x"}, day0+100, Counts{Messages: 1})
	st := d.Stats()
	if st.Keys != 2 || st.DroppedObservations != 2 || st.Late != 1 {
		t.Errorf("stats %+v", st)
	}

	// Rooms stop two keys short of 20: a new target still gets its key.
	d = newDetector(t, Options{MaxKeys: 20})
	for i := range 30 {
		d.ObserveMessage("a", string(rune('A'+i)), "u", 0, minuteTime(day0), false)
	}
	if st := d.Stats(); st.Keys != 18 || st.DroppedObservations != 30-17 {
		t.Errorf("rooms: stats %+v", st)
	}
	d.ObserveMessage("b", "room", "u", 0, minuteTime(day0), false)
	if st := d.Stats(); st.Keys != 19 || d.keys[Key{Target: "b"}] == nil {
		t.Errorf("new target: stats %+v", st)
	}
}

// TestSkip: minutes skipped are neither silent nor learned; the same gap
// not skipped is a silence.
func TestSkip(t *testing.T) {
	for _, skip := range []bool{true, false} {
		rng := rand.New(rand.NewPCG(7, 8))
		d := newDetector(t, Options{})
		k := Key{Target: "t"}
		end := day0 + 14*1440
		feed(d, rng, k, day0, end+10*60, daytime)
		if skip {
			d.Skip("t", end+13*60)
		}
		feed(d, rng, k, end+13*60, end+1440, daytime)
		got := d.List(Query{Kinds: []Kind{KindSilence}})
		if skip && len(got) != 0 || !skip && len(got) != 1 {
			t.Errorf("skip %v: silences %v", skip, got)
		}
	}
}

// TestListQuery: List's filters and order.
func TestListQuery(t *testing.T) {
	d := newDetector(t, Options{MaxHistory: 3})
	mk := func(k Key, kind Kind, s, e int64, open bool) {
		a := &Anomaly{Kind: kind, Key: k, Start: minuteTime(s), Open: open}
		if !open {
			a.End = minuteTime(e)
		}
		d.record(a)
	}
	mk(Key{"a", ""}, KindSpike, 10, 20, false) // evicted by the fourth
	mk(Key{"a", "r"}, KindSpike, 30, 40, false)
	mk(Key{"b", ""}, KindSilence, 50, 0, true)
	mk(Key{"a", ""}, KindTypeMix, 60, 70, false)
	ids := func(q Query) (out []uint64) {
		for _, a := range d.List(q) {
			out = append(out, a.ID)
		}
		return out
	}
	for _, c := range []struct {
		q    Query
		want []uint64
	}{
		{Query{}, []uint64{4, 3, 2}},
		{Query{Target: "a"}, []uint64{4, 2}},
		{Query{Target: "a", Room: "r"}, []uint64{2}},
		{Query{Kinds: []Kind{KindSilence, KindTypeMix}}, []uint64{4, 3}},
		{Query{OpenOnly: true}, []uint64{3}},
		{Query{From: minuteTime(41), To: minuteTime(60)}, []uint64{3}},
		{Query{From: minuteTime(39)}, []uint64{4, 3, 2}},
		{Query{Limit: 1}, []uint64{4}},
	} {
		if got := ids(c.q); !equalIDs(got, c.want) {
			t.Errorf("List(%+v) = %v, want %v", c.q, got, c.want)
		}
	}
	if d.Stats().HistoryEvicted != 1 {
		t.Errorf("evicted %d", d.Stats().HistoryEvicted)
	}
}

func equalIDs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestKindNames(t *testing.T) {
	for _, k := range Kinds() {
		if p, ok := ParseKind(k.String()); !ok || p != k {
			t.Errorf("ParseKind(%q) = %v, %v", k, p, ok)
		}
	}
	if _, ok := ParseKind("nope"); ok {
		t.Error("ParseKind(nope) ok")
	}
}

// poisson draws from a Poisson distribution (Knuth for small means, normal
// approximation above 30).
func poisson(rng *rand.Rand, lam float64) int {
	if lam <= 0 {
		return 0
	}
	if lam > 30 {
		return max(0, int(math.Round(lam+math.Sqrt(lam)*rng.NormFloat64())))
	}
	l, k, p := math.Exp(-lam), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// TestForget: a forgotten target's keys go, its open anomalies close and
// stay listed, other targets stay.
func TestForget(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	d := newDetector(t, Options{})
	end := day0 + 8*1440
	for _, tg := range []string{"a", "b"} {
		feed(d, rng, Key{Target: tg}, day0, end+12*60, daytime)
	}
	d.Advance(end + 14*60) // two silent hours at midday: open silences
	if n := len(d.List(Query{OpenOnly: true})); n != 2 {
		t.Fatalf("%d open silences, want 2", n)
	}
	d.Forget("a")
	if got := d.List(Query{Target: "a"}); len(got) != 1 || got[0].Open || got[0].End.IsZero() {
		t.Errorf("forgotten target's anomalies: %v", got)
	}
	if st := d.Stats(); st.Keys != 1 || st.Open != 1 {
		t.Errorf("stats %+v", st)
	}
}
