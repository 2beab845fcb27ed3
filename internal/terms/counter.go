package terms

import (
	"bytes"
	"cmp"
	"math"
	"slices"
	"sync"
	"time"
)

// Day is a calendar day, counted from 1970-01-01, in the time zone the
// caller chose (DayOf).
type Day int32

// DayOf returns the calendar day of t in loc.
func DayOf(t time.Time, loc *time.Location) Day {
	y, m, d := t.In(loc).Date()
	return Day(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// Time returns midnight UTC of the day (its date, for display).
func (d Day) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// CounterOptions bound a Counter's memory. Zero fields take the defaults
// (DefaultCounterOptions); docs/analysis-terms.md gives the memory they
// allow and the error bounds they give.
type CounterOptions struct {
	// Days is how many days are kept: the newest and Days-1 days of
	// baseline before it. Default 15; at least 2, at most MaxDays.
	Days int
	// Rooms is how many rooms are counted on their own each day (the
	// first seen); messages of further rooms count in the all-rooms total
	// only. Default 32.
	Rooms int
	// All and Room are the number of terms kept for the all-rooms total
	// and for each room, for the newest day and the day before it (when
	// late messages still arrive). Default 16,384 and 1,024.
	All, Room int
	// PastAll and PastRoom are what older days are cut down to. Default
	// 2,048 and 256.
	PastAll, PastRoom int
}

// MaxDays bounds CounterOptions.Days.
const MaxDays = 400

// MaxDay bounds a Day's distance from 1970 (some 45,000 years): a Counter
// ignores days beyond it, so its arithmetic on days cannot overflow.
const MaxDay = 1 << 24

// DefaultCounterOptions are the defaults of CounterOptions.
var DefaultCounterOptions = CounterOptions{Days: 15, Rooms: 32, All: 16384, Room: 1024, PastAll: 2048, PastRoom: 256}

func (o CounterOptions) withDefaults() CounterOptions {
	d := DefaultCounterOptions
	pick := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	pick(&o.Days, d.Days)
	pick(&o.Rooms, d.Rooms)
	pick(&o.All, d.All)
	pick(&o.Room, d.Room)
	pick(&o.PastAll, d.PastAll)
	pick(&o.PastRoom, d.PastRoom)
	o.Days = min(max(o.Days, 2), MaxDays)
	o.PastAll = min(o.PastAll, o.All)
	o.PastRoom = min(o.PastRoom, o.Room)
	return o
}

// MaxTermsPerMessage is how many distinct terms of one message are
// counted; the rest are ignored (a message of a thousand words is a paste,
// not chat).
const MaxTermsPerMessage = 64

// Counter counts, per day and per room, the messages each term appears in
// (a term counts once per message), in space-saving summaries of bounded
// size, and ranks terms by rise (Trending). It is safe for concurrent use.
type Counter struct {
	opt CounterOptions

	mu     sync.Mutex
	days   map[Day]*dayCounts
	newest Day
	// stats
	untracked uint64 // messages whose room was not counted on its own
	late      uint64 // messages for a day no longer kept
	seen      [MaxTermsPerMessage][]byte
	hashes    [MaxTermsPerMessage]uint64
}

type dayCounts struct {
	all   *summary
	rooms map[string]*summary
	past  bool // cut down to the past capacities
}

// NewCounter returns an empty counter.
func NewCounter(opt CounterOptions) *Counter {
	return &Counter{opt: opt.withDefaults(), days: map[Day]*dayCounts{}}
}

// Add counts one message of day and room ("" for none: it counts in the
// all-rooms total only) with its terms. A day newer than any before makes
// it the newest: days before the newest one's previous day are cut down to
// their past capacities, days older than the kept window are forgotten. A
// message for a forgotten day is not counted (Stats.Late), nor one for a
// day beyond ±MaxDay.
func (c *Counter) Add(day Day, room string, ts *Terms) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if day > MaxDay || day < -MaxDay {
		c.late++
		return
	}
	if len(c.days) == 0 || day > c.newest {
		c.roll(day)
	}
	if day <= c.newest-Day(c.opt.Days) {
		c.late++
		return
	}
	dc := c.days[day]
	if dc == nil {
		dc = &dayCounts{all: newSummary(c.opt.All), rooms: map[string]*summary{}}
		c.days[day] = dc
		if day < c.newest-1 {
			c.cut(dc)
		}
	}
	// The distinct terms of the message, at most MaxTermsPerMessage.
	seen := c.seen[:0]
next:
	for i := range ts.Len() {
		t := ts.At(i)
		for _, s := range seen {
			if bytes.Equal(s, t) {
				continue next
			}
		}
		if len(seen) == MaxTermsPerMessage {
			break
		}
		seen = append(seen, t)
	}
	hashes := c.hashes[:len(seen)]
	for i, t := range seen {
		hashes[i] = hashTerm(t)
	}
	dc.all.message(seen, hashes)
	if room == "" {
		return
	}
	rs := dc.rooms[room]
	if rs == nil {
		if len(dc.rooms) >= c.opt.Rooms {
			c.untracked++
			return
		}
		capacity := c.opt.Room
		if dc.past {
			capacity = c.opt.PastRoom
		}
		rs = newSummary(capacity)
		dc.rooms[room] = rs
	}
	rs.message(seen, hashes)
}

// roll makes day the newest.
func (c *Counter) roll(day Day) {
	c.newest = day
	for d, dc := range c.days {
		switch {
		case d <= day-Day(c.opt.Days):
			delete(c.days, d)
		case d < day-1 && !dc.past:
			c.cut(dc)
		}
	}
}

func (c *Counter) cut(dc *dayCounts) {
	dc.past = true
	dc.all.shrink(c.opt.PastAll)
	for _, s := range dc.rooms {
		s.shrink(c.opt.PastRoom)
	}
}

// CounterStats describe a counter's state.
type CounterStats struct {
	Days      int    // days kept
	Newest    Day    // the newest day (0 when nothing was counted)
	Summaries int    // all-rooms totals and rooms, over the kept days
	Entries   int    // terms held, over every summary
	Untracked uint64 // messages whose room was past the Rooms limit that day
	Late      uint64 // messages for days no longer kept
}

// Stats returns the counter's state.
func (c *Counter) Stats() CounterStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := CounterStats{Days: len(c.days), Newest: c.newest, Untracked: c.untracked, Late: c.late}
	for _, dc := range c.days {
		st.Summaries += 1 + len(dc.rooms)
		st.Entries += len(dc.all.ents)
		for _, s := range dc.rooms {
			st.Entries += len(s.ents)
		}
	}
	return st
}

// Point is one day of a term's series.
type Point struct {
	Day Day `json:"day"`
	// Count is at least the number of that day's messages with the term
	// (exact when Count == Upper), Upper at most that number.
	Count uint64 `json:"count"`
	Upper uint64 `json:"upper"`
	// Messages is the number of messages counted that day (exact).
	Messages uint64 `json:"messages"`
}

// Trend is a ranked term.
type Trend struct {
	Term string `json:"term"`
	// Count is at least the number of the day's messages with the term.
	Count uint64 `json:"count"`
	// Expected is how many messages the term would have had at its usual
	// rate (the baseline days', at most; see Trending).
	Expected float64 `json:"expected"`
	// Score is (Count + Prior) / (Expected + Prior).
	Score float64 `json:"score"`
	// Series is the term over the kept days up to the day, oldest first,
	// for a sparkline; days with no messages are left out.
	Series []Point `json:"series"`
}

// Prior is the pseudo-count added to a term's count and to its expected
// count before their ratio is taken, so that a term never seen before
// does not lead the list on two mentions: 2 mentions score 1.2, 50
// mentions 6.
const Prior = 10

// MinCount is the fewest messages a term needs on a day to be ranked.
const MinCount = 3

// baselineDecay weighs the baseline days: the day before counts 1, the one
// before 0.8, then 0.64 …
const baselineDecay = 0.8

// Trending returns at most k terms of day and room ("" for all rooms)
// that rose the most against their usual rate: for each term the day's
// summary holds with at least MinCount messages, its expected count is
// the day's messages times its rate over the kept days before (each day's
// messages with the term over its messages, weighted by baselineDecay per
// day back), and its score (Count + Prior) / (Expected + Prior). Terms
// scoring 1 or less are left out. The day's count is a lower bound and
// the baseline counts upper bounds, so a score is never above the one
// exact counts give, and equal to it while no summary involved has
// overflowed. Ties go to the higher count, then the term.
func (c *Counter) Trending(day Day, room string, k int) []Trend {
	c.mu.Lock()
	defer c.mu.Unlock()
	scope := func(d Day) *summary {
		dc := c.days[d]
		if dc == nil {
			return nil
		}
		if room == "" {
			return dc.all
		}
		return dc.rooms[room]
	}
	if day > MaxDay || day < -MaxDay {
		return nil
	}
	today := scope(day)
	if today == nil || k <= 0 {
		return nil
	}
	type base struct {
		d Day
		s *summary
		w float64
	}
	var bases []base
	w := 1.0
	for d := day - 1; d > day-Day(c.opt.Days) && d > c.newest-Day(c.opt.Days); d-- {
		if s := scope(d); s != nil && s.msgs > 0 {
			bases = append(bases, base{d, s, w})
		}
		w *= baselineDecay
	}
	var out []Trend
	for i := range today.ents {
		e := &today.ents[i]
		cnt := e.count - e.err
		if cnt < MinCount {
			continue
		}
		var num, den float64
		for _, b := range bases {
			num += b.w * float64(b.s.upper(e.term))
			den += b.w * float64(b.s.msgs)
		}
		expected := 0.0
		if den > 0 {
			expected = num / den * float64(today.msgs)
		}
		score := (float64(cnt) + Prior) / (expected + Prior)
		if score <= 1 {
			continue
		}
		out = append(out, Trend{Term: e.term, Count: cnt, Expected: math.Round(expected*100) / 100, Score: score})
	}
	slices.SortFunc(out, func(a, b Trend) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Term, b.Term)
	})
	out = out[:min(k, len(out))]
	for i := range out {
		for d := day - Day(c.opt.Days) + 1; d <= day; d++ {
			s := scope(d)
			if s == nil || s.msgs == 0 {
				continue
			}
			lo, hi := s.bounds(out[i].Term)
			out[i].Series = append(out[i].Series, Point{Day: d, Count: lo, Upper: hi, Messages: s.msgs})
		}
	}
	return out
}
