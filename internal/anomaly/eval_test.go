package anomaly

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The synthetic stream of the evaluation: two targets, four rooms, five
// weeks of minutes in the zone UTC+8, with a daily profile (quiet nights),
// a weekly one (weekends differ by room), day-to-day variation, Poisson
// noise per minute, Zipf-like user activity, a trickle of new users and a
// steady type mix; and known anomalies injected from day 9 on.

var evalZone = time.FixedZone("UTC+8", 8*3600)

// evalStart is a Monday 00:00 in evalZone.
var evalStart = time.Date(2026, 1, 5, 0, 0, 0, 0, evalZone)

const (
	evalWeeks = 5
	evalTol   = 15 // minutes a detection may lie outside an injection and still find it
)

type evalRoom struct {
	target, room string
	peak         float64 // messages per minute at the busiest hour
	weekend      float64 // factor on Saturday and Sunday
}

var evalRooms = []evalRoom{
	{"demo", "lobby", 6, 0.6},
	{"demo", "support", 2, 0.5},
	{"demo", "game", 1, 1.6},
	{"tiny", "ops", 0.4, 0.3},
}

// profile is the share of the peak rate by local hour: nights are nearly
// silent.
var profile = [24]float64{0.04, 0.02, 0.01, 0.01, 0.01, 0.02, 0.05, 0.15, 0.4, 0.8, 0.95, 0.9,
	0.7, 0.85, 1, 1, 0.95, 0.85, 0.7, 0.8, 0.9, 0.75, 0.4, 0.12}

// injection is one known anomaly: its kind, where (Room "" = the whole
// target), when, and the other kinds it may fairly cause (a burst of
// leaves is also a rate spike).
type injection struct {
	kind         Kind
	target, room string
	start, end   int64 // Unix minutes, [start, end)
	also         []Kind
	what         string
	per          int // messages a minute, when not the kind's usual
}

type evalStream struct {
	minutes    int64
	start      int64
	injections []injection
}

// base returns a room's expected rate at minute m, with day-to-day noise
// from dayf.
func (r evalRoom) base(t time.Time, dayf float64) float64 {
	h := t.Hour()
	f := float64(t.Minute()) / 60
	p := profile[h]*(1-f) + profile[(h+1)%24]*f
	w := 1.0
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		w = r.weekend
	}
	return r.peak * p * w * dayf
}

// newEvalStream plans the injections (deterministically from seed).
func newEvalStream(seed uint64) *evalStream {
	rng := rand.New(rand.NewPCG(seed, 7))
	s := &evalStream{minutes: evalWeeks * 7 * 24 * 60, start: Minute(evalStart)}
	// at returns a minute on the given day at a local hour in [h0, h1).
	at := func(day int, h0, h1 int) int64 {
		return s.start + int64(day)*1440 + int64(h0*60+rng.IntN((h1-h0)*60))
	}
	add := func(i injection, dur int64) {
		i.end = i.start + dur
		s.injections = append(s.injections, i)
	}
	add(injection{kind: KindSpike, target: "demo", room: "lobby", start: at(9, 10, 17), what: "burst ×4 lobby"}, 12)
	add(injection{kind: KindSpike, target: "demo", room: "support", start: at(12, 14, 18), what: "burst support"}, 8)
	add(injection{kind: KindSpike, target: "demo", room: "game", start: at(17, 19, 22), what: "burst game (weekend evening)"}, 20)
	add(injection{kind: KindSpike, target: "demo", room: "lobby", start: at(22, 2, 4), what: "burst lobby at night"}, 10)
	add(injection{kind: KindSpike, target: "tiny", room: "ops", start: at(29, 10, 16), what: "burst tiny"}, 10)
	add(injection{kind: KindSilence, target: "demo", start: at(10, 9, 15), what: "demo silent 90 min"}, 90)
	add(injection{kind: KindSilence, target: "demo", start: at(16, 14, 18), what: "demo silent 40 min (Saturday)"}, 40)
	add(injection{kind: KindSilence, target: "demo", room: "lobby", start: at(24, 10, 17), what: "lobby silent 60 min"}, 60)
	add(injection{kind: KindSilence, target: "tiny", start: at(27, 9, 12), what: "tiny silent 4 h"}, 240)
	add(injection{kind: KindSilence, target: "demo", start: at(31, 13, 17), what: "demo silent 25 min"}, 25)
	add(injection{kind: KindNewUsers, target: "demo", room: "lobby", start: at(11, 10, 18), also: []Kind{KindSpike}, what: "60 new users in lobby"}, 10)
	add(injection{kind: KindNewUsers, target: "demo", room: "game", start: at(20, 20, 22), also: []Kind{KindSpike}, what: "40 new users in game"}, 10)
	add(injection{kind: KindNewUsers, target: "demo", room: "support", start: at(33, 9, 12), also: []Kind{KindSpike}, what: "30 new users in support"}, 15)
	add(injection{kind: KindUserFlood, target: "demo", room: "lobby", start: at(13, 11, 17), also: []Kind{KindSpike}, what: "u3 sends 8/min in lobby"}, 10)
	add(injection{kind: KindUserFlood, target: "demo", room: "support", start: at(19, 15, 18), also: []Kind{KindSpike}, what: "u40 sends 5/min in support"}, 12)
	add(injection{kind: KindUserFlood, target: "demo", room: "game", start: at(26, 20, 23), also: []Kind{KindSpike}, what: "u7 sends 4/min in game"}, 15)
	add(injection{kind: KindTypeMix, target: "demo", room: "lobby", start: at(15, 10, 17), also: []Kind{KindSpike}, what: "leave storm lobby"}, 10)
	add(injection{kind: KindTypeMix, target: "demo", room: "support", start: at(23, 14, 17), also: []Kind{KindSpike}, what: "system storm support"}, 12)
	add(injection{kind: KindTypeMix, target: "demo", room: "game", start: at(30, 19, 22), also: []Kind{KindSpike}, what: "leave storm game"}, 8)
	// Subtler ones: 1 new user a minute, 3 messages a minute of one user,
	// 3 leaves a minute, each in the busiest room.
	add(injection{kind: KindNewUsers, target: "demo", room: "lobby", start: at(18, 10, 17), what: "15 new users in 15 min in lobby", per: 1}, 15)
	add(injection{kind: KindUserFlood, target: "demo", room: "lobby", start: at(25, 14, 18), also: []Kind{KindSpike}, what: "u5 sends 3/min in lobby", per: 3}, 10)
	add(injection{kind: KindTypeMix, target: "demo", room: "lobby", start: at(32, 10, 17), also: []Kind{KindSpike}, what: "3 leaves/min in lobby", per: 3}, 15)
	return s
}

// run feeds the stream to d message by message, advancing it every minute.
func (s *evalStream) run(d *Detector, seed uint64) (messages int) {
	rng := rand.New(rand.NewPCG(seed, 11))
	seen := map[string]map[string]bool{} // target → users seen (the rollup's "new user")
	weights := make([]float64, 300)
	var wsum float64
	for i := range weights {
		weights[i] = 1 / math.Pow(float64(i+1), 0.8)
		wsum += weights[i]
	}
	pick := func() string {
		x := rng.Float64() * wsum
		for i, w := range weights {
			if x -= w; x <= 0 {
				return fmt.Sprintf("u%d", i)
			}
		}
		return "u0"
	}
	newID := 0
	emit := func(target, room, user string, typ int, at time.Time) {
		ts := seen[target]
		if ts == nil {
			ts = map[string]bool{}
			seen[target] = ts
		}
		isNew := !ts[user]
		ts[user] = true
		d.ObserveMessage(target, room, user, typ, at, isNew)
		messages++
	}
	dayf := map[[2]int64]float64{}
	mood := map[[2]int64]float64{}
	for i := range s.minutes {
		m := s.start + i
		t := time.Unix(m*60, 0).In(evalZone)
		for ri, r := range evalRooms {
			day := i / 1440
			f, ok := dayf[[2]int64{int64(ri), day}]
			if !ok {
				f = 0.7 + 0.6*rng.Float64()
				dayf[[2]int64{int64(ri), day}] = f
			}
			// Overdispersion: the rate of each room wanders by a
			// log-normal factor per 10 minutes (conversations come and go).
			blk := [2]int64{int64(ri), i / 10}
			g, ok := mood[blk]
			if !ok {
				g = math.Exp(0.3 * rng.NormFloat64())
				mood[blk] = g
				delete(mood, [2]int64{int64(ri), i/10 - 1})
			}
			lam := r.base(t, f) * g
			silenced := false
			for _, in := range s.injections {
				if m < in.start || m >= in.end || in.target != r.target || in.room != "" && in.room != r.room {
					continue
				}
				switch in.kind {
				case KindSilence:
					silenced = true
				case KindSpike:
					if r.target == "tiny" {
						lam += 3
					} else {
						lam += max(3*r.peak*profile[t.Hour()], 6)
					}
				case KindNewUsers:
					per := map[string]int{"lobby": 6, "game": 4, "support": 2}[r.room]
					if in.per > 0 {
						per = in.per
					}
					for range per {
						newID++
						emit(r.target, r.room, fmt.Sprintf("new%d", newID), 0, t)
					}
				case KindUserFlood:
					per := map[string]int{"lobby": 8, "support": 5, "game": 4}[r.room]
					u := map[string]string{"lobby": "u3", "support": "u40", "game": "u7"}[r.room]
					if in.per > 0 {
						per, u = in.per, "u5"
					}
					for range per {
						emit(r.target, r.room, u, 0, t)
					}
				case KindTypeMix:
					typ, per := 3, 15 // leave
					if r.room == "support" {
						typ, per = 1, 6 // system
					} else if r.room == "game" {
						per = 8
					}
					if in.per > 0 {
						typ, per = 3, in.per
					}
					for range per {
						emit(r.target, r.room, pick(), typ, t)
					}
				}
			}
			if silenced {
				continue
			}
			for range poisson(rng, lam) {
				user := pick()
				if rng.Float64() < 0.01 {
					newID++
					user = fmt.Sprintf("new%d", newID)
				}
				typ := 0
				switch x := rng.Float64(); {
				case x < 0.04:
					typ = 2
				case x < 0.08:
					typ = 3
				case x < 0.10:
					typ = 1
				}
				emit(r.target, r.room, user, typ, t)
			}
		}
		d.Advance(m + 1)
	}
	return messages
}

// matches says detection a is about injection in: the same target, the
// same room (or either is the whole target), overlapping within evalTol.
func matches(a Anomaly, in injection) bool {
	if a.Key.Target != in.target || in.room != "" && a.Key.Room != "" && a.Key.Room != in.room {
		return false
	}
	s, e := Minute(a.Start), Minute(a.End)
	if a.Open {
		e = math.MaxInt64
	}
	return s < in.end+evalTol && e > in.start-evalTol
}

type kindScore struct {
	injected, found   int
	detections, right int
}

func (k kindScore) recall() float64    { return ratio(k.found, k.injected) }
func (k kindScore) precision() float64 { return ratio(k.right, k.detections) }

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// evaluate scores detections against the injections per kind.
func evaluate(s *evalStream, got []Anomaly) (map[Kind]*kindScore, []Anomaly, []injection) {
	sc := map[Kind]*kindScore{}
	for _, k := range Kinds() {
		sc[k] = &kindScore{}
	}
	var falses []Anomaly
	var missed []injection
	for _, in := range s.injections {
		sc[in.kind].injected++
		found := false
		for _, a := range got {
			if a.Kind == in.kind && matches(a, in) {
				found = true
			}
		}
		if found {
			sc[in.kind].found++
		} else {
			missed = append(missed, in)
		}
	}
	for _, a := range got {
		sc[a.Kind].detections++
		ok := false
		for _, in := range s.injections {
			if (in.kind == a.Kind || slices.Contains(in.also, a.Kind)) && matches(a, in) {
				ok = true
			}
		}
		if ok {
			sc[a.Kind].right++
		} else {
			falses = append(falses, a)
		}
	}
	return sc, falses, missed
}

// TestEvaluation runs the detector over the synthetic stream and holds its
// precision and recall per kind to floors a little under what it measured
// (docs/analysis-anomaly.md records the figures).
func TestEvaluation(t *testing.T) {
	if testing.Short() {
		t.Skip("five weeks of minutes")
	}
	const seed = 1
	s := newEvalStream(seed)
	d, err := New(Options{Location: evalZone, MaxHistory: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	n := s.run(d, seed)
	got := d.List(Query{})
	sc, falses, missed := evaluate(s, got)
	var b strings.Builder
	fmt.Fprintf(&b, "%d messages, %d minutes, %d keys, %d injections, %d detections\n", n, s.minutes, d.Stats().Keys, len(s.injections), len(got))
	fmt.Fprintf(&b, "%-15s %8s %6s %7s %10s %10s %9s\n", "kind", "injected", "found", "recall", "detections", "correct", "precision")
	var all kindScore
	for _, k := range Kinds() {
		c := sc[k]
		fmt.Fprintf(&b, "%-15s %8d %6d %7.2f %10d %10d %9.2f\n", k, c.injected, c.found, c.recall(), c.detections, c.right, c.precision())
		all.injected += c.injected
		all.found += c.found
		all.detections += c.detections
		all.right += c.right
	}
	fmt.Fprintf(&b, "%-15s %8d %6d %7.2f %10d %10d %9.2f\n", "all", all.injected, all.found, all.recall(), all.detections, all.right, all.precision())
	for _, in := range missed {
		fmt.Fprintf(&b, "missed: %s %s/%s at %s (%s)\n", in.kind, in.target, in.room, minuteTime(in.start).In(evalZone).Format("Mon 01-02 15:04"), in.what)
	}
	for _, a := range falses {
		fmt.Fprintf(&b, "false alarm: %s %s score %.1f: %s\n", a.Start.In(evalZone).Format("Mon 01-02 15:04"), a.Kind, a.Score, a.Explanation)
	}
	t.Log("\n" + b.String())
	// Measured on seed 1: recall and precision 1.00 for every kind (over
	// seeds 1-10: docs/analysis-anomaly.md). The floors allow one miss in
	// five (four) injections and about one false alarm in seven.
	floors := map[Kind][2]float64{ // recall, precision
		KindSpike:     {0.8, 0.85},
		KindSilence:   {0.8, 0.85},
		KindNewUsers:  {0.75, 0.85},
		KindUserFlood: {0.75, 0.85},
		KindTypeMix:   {0.75, 0.85},
	}
	for k, f := range floors {
		if c := sc[k]; c.recall() < f[0] || c.precision() < f[1] || math.IsNaN(c.precision()) {
			t.Errorf("%s: recall %.2f (floor %.2f), precision %.2f (floor %.2f)", k, c.recall(), f[0], c.precision(), f[1])
		}
	}
}

// TestEvaluationSeeds repeats the evaluation over ANOMALY_EVAL_SEEDS
// streams (seeds 1..N; not run by default) and prints the totals per kind,
// to see how much the figures of one seed owe to luck.
func TestEvaluationSeeds(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ANOMALY_EVAL_SEEDS"))
	if n <= 0 {
		t.Skip("set ANOMALY_EVAL_SEEDS=N")
	}
	tot := map[Kind]*kindScore{}
	for _, k := range Kinds() {
		tot[k] = &kindScore{}
	}
	var b strings.Builder
	for seed := uint64(1); seed <= uint64(n); seed++ {
		s := newEvalStream(seed)
		d, err := New(Options{Location: evalZone, MaxHistory: 100_000})
		if err != nil {
			t.Fatal(err)
		}
		s.run(d, seed)
		sc, falses, missed := evaluate(s, d.List(Query{}))
		for k, c := range sc {
			tot[k].injected += c.injected
			tot[k].found += c.found
			tot[k].detections += c.detections
			tot[k].right += c.right
		}
		for _, in := range missed {
			fmt.Fprintf(&b, "seed %d missed: %s %s/%s at %s (%s)\n", seed, in.kind, in.target, in.room, minuteTime(in.start).In(evalZone).Format("Mon 15:04"), in.what)
		}
		for _, a := range falses {
			fmt.Fprintf(&b, "seed %d false alarm: %s %s score %.1f: %s\n", seed, a.Start.In(evalZone).Format("Mon 15:04"), a.Kind, a.Score, a.Explanation)
		}
	}
	fmt.Fprintf(&b, "%d seeds\n%-15s %8s %6s %7s %10s %10s %9s\n", n, "kind", "injected", "found", "recall", "detections", "correct", "precision")
	for _, k := range Kinds() {
		c := tot[k]
		fmt.Fprintf(&b, "%-15s %8d %6d %7.2f %10d %10d %9.2f\n", k, c.injected, c.found, c.recall(), c.detections, c.right, c.precision())
	}
	t.Log("\n" + b.String())
}
