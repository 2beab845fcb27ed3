package anomaly

import (
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

const (
	slots    = 168 // hours of the week
	maxWeeks = 8
	ssSize   = 8 // space-saving counters per pending minute
	topUsers = 3 // users kept per closed minute
	// maxFill is the longest gap (minutes) filled with silent minutes; a
	// longer one is taken as not watched (Skip), since nothing can be said
	// about a week nobody saw.
	maxFill = 7 * 24 * 60
)

// Detector finds anomalies in per-minute aggregates. All its methods are
// safe for concurrent use (one mutex); Observe and Advance are meant to be
// called by one feeder (the indexer, behind ingest) and List by readers.
//
// Minutes are Unix minutes (Unix seconds / 60). Each key has a pending
// minute, to which observations add, and closes it (evaluates it) when an
// observation for a later minute arrives or Advance passes it; minutes
// without any observation in between are closed as silent. So a minute is
// judged once, when the feeder has moved past it, and an observation for
// a closed minute is late: it is dropped and counted (Stats.Late).
type Detector struct {
	mu     sync.Mutex
	o      Options
	keys   map[Key]*keyState
	order  []*keyState // the keys sorted by target, room: Advance's order, so ids are deterministic
	hist   []*Anomaly  // ring of MaxHistory, oldest at histHead
	hhead  int
	nextID uint64
	st     Stats
	events []Event // collected under mu, delivered after it is released

	// zone cache: the offset of Location is off seconds in [zFrom, zTo)
	// (Unix seconds).
	zFrom, zTo int64
	zOff       int64
}

// minuteRec is one closed minute of a key.
type minuteRec struct {
	msgs, newu uint32
	types      [NumTypes]uint32
	exp, spr   float32 // expected messages and seasonal spread (messages) for this minute
	users      [topUsers]UserCount
}

type keyState struct {
	key       Key
	last      int64 // last closed minute
	pend      int64 // the pending minute, valid when hasPend
	hasPend   bool
	pc        pending
	observed  uint32 // minutes closed since the key began (saturating), for the warm-up
	ring      [ringLen]minuteRec
	season    []uint32          // slots × weeks hourly counts, slot-major, ring per slot
	sn, sh    [slots]uint8      // samples per slot, next position per slot
	hour      int64             // local hour index being counted
	hourCount uint32            // messages in it so far
	hourMins  uint16            // minutes of it closed
	ewmaRate  float64           // messages per minute, half-life 60 min (the fallback baseline)
	ewmaMsgs  float64           // messages per minute, half-life one day
	ewmaNew   float64           // new users per minute, half-life one day
	ewmaTop   float64           // busiest user's messages per UserWindow, half-life one day
	ewmaTypes [NumTypes]float64 // messages per minute by type, half-life one day
	disp      float64           // relative variance of SpikeWindow counts beyond Poisson, half-life 12 h
	silRun    int64             // silent minutes in a row
	silStart  int64
	silE      float64 // messages a cautious baseline expected over the run
	open      [numKinds + 1]*Anomaly
	hot       [numKinds + 1]int64 // last minute that showed the open anomaly

	// baseline cache for one local hour (not stored)
	cHour  int64
	cValid bool
	cH     [3]float64 // hourly expected count: previous, this, next hour
	cL     [3]float64 // cautious low hourly count, the same hours
	cS     float64    // hourly spread of this hour
	cSrc   uint8
}

type pending struct {
	msgs, newu uint32
	types      [NumTypes]uint32
	users      [ssSize]UserCount
	nu         int
}

// New returns a Detector with options o (zero fields take their defaults).
// It errors on an option out of range.
func New(o Options) (*Detector, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Detector{o: o, keys: map[Key]*keyState{}, nextID: 1}, nil
}

// Minute returns the Unix minute of t.
func Minute(t time.Time) int64 { return floorDiv(t.Unix(), 60) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func mod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// Observe adds c to key k's minute m (a Unix minute). Minutes of k before
// m that are still open are closed first (those without observations as
// silent). An observation for a minute k has closed is dropped and counted
// as late; one for a new key past MaxKeys is dropped and counted.
func (d *Detector) Observe(k Key, m int64, c Counts) {
	d.mu.Lock()
	d.observe(k, m, &c)
	ev := d.takeEvents()
	d.mu.Unlock()
	d.deliver(ev)
}

// ObserveMessage observes one message: under the target's key and, when
// room is not "", under the room's key. typ is TypeIndex of its type;
// newUser says the user was seen for the first time in the target. It is
// Observe with Counts of one message.
func (d *Detector) ObserveMessage(target, room, user string, typ int, at time.Time, newUser bool) {
	c := Counts{Messages: 1}
	if typ >= 0 && typ < NumTypes {
		c.Types[typ] = 1
	}
	if newUser {
		c.NewUsers = 1
	}
	var u [1]UserCount
	if user != "" {
		u[0] = UserCount{user, 1}
		c.Users = u[:]
	}
	m := Minute(at)
	d.mu.Lock()
	d.observe(Key{Target: target}, m, &c)
	if room != "" {
		d.observe(Key{Target: target, Room: room}, m, &c)
	}
	ev := d.takeEvents()
	d.mu.Unlock()
	d.deliver(ev)
}

func (d *Detector) observe(k Key, m int64, c *Counts) {
	ks := d.keys[k]
	if ks == nil {
		// Rooms leave the last tenth of the keys (at most 64) to
		// targets, so that a new target is watched as a whole however
		// many rooms the others have.
		lim := d.o.MaxKeys
		if k.Room != "" {
			lim -= min(64, d.o.MaxKeys/10)
		}
		if len(d.keys) >= lim {
			d.st.DroppedObservations++
			return
		}
		ks = d.newKey(k, m)
	}
	if ks.hasPend && m < ks.pend || !ks.hasPend && m <= ks.last {
		d.st.Late++
		return
	}
	if ks.hasPend && m > ks.pend {
		d.advanceKey(ks, m)
	}
	if !ks.hasPend {
		if m > ks.last+1 {
			d.advanceKey(ks, m)
		}
		ks.hasPend, ks.pend = true, m
	}
	p := &ks.pc
	p.msgs = satAdd(p.msgs, c.Messages)
	p.newu = satAdd(p.newu, c.NewUsers)
	for i, n := range c.Types {
		p.types[i] = satAdd(p.types[i], n)
	}
	for _, u := range c.Users {
		if u.Count > 0 {
			p.addUser(u)
		}
	}
}

func satAdd(a, b uint32) uint32 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint32
}

// addUser is the space-saving update: a counted user adds, a new one takes
// a free counter or replaces the smallest (inheriting its count).
func (p *pending) addUser(u UserCount) {
	for i := 0; i < p.nu; i++ {
		if p.users[i].User == u.User {
			p.users[i].Count = satAdd(p.users[i].Count, u.Count)
			return
		}
	}
	if p.nu < ssSize {
		p.users[p.nu] = u
		p.nu++
		return
	}
	lo := 0
	for i := 1; i < ssSize; i++ {
		if p.users[i].Count < p.users[lo].Count {
			lo = i
		}
	}
	p.users[lo] = UserCount{u.User, satAdd(p.users[lo].Count, u.Count)}
}

func (d *Detector) newKey(k Key, m int64) *keyState {
	ks := &keyState{key: k, last: m - 1, season: make([]uint32, slots*d.o.Weeks), disp: dispPrior}
	ks.hour = d.localHour(m)
	d.addKey(ks)
	return ks
}

func (d *Detector) addKey(ks *keyState) {
	d.keys[ks.key] = ks
	i, _ := slices.BinarySearchFunc(d.order, ks.key, func(e *keyState, k Key) int { return compareKeys(e.key, k) })
	d.order = slices.Insert(d.order, i, ks)
}

func compareKeys(a, b Key) int {
	if c := strings.Compare(a.Target, b.Target); c != 0 {
		return c
	}
	return strings.Compare(a.Room, b.Room)
}

// Advance closes every key's minutes before now (a Unix minute): the
// feeder calls it as time passes (every few seconds or once a minute),
// after it has observed everything received before now, so that silences
// are seen and the last minutes are judged.
func (d *Detector) Advance(now int64) {
	d.mu.Lock()
	for _, ks := range d.order {
		d.advanceKey(ks, now)
	}
	ev := d.takeEvents()
	d.mu.Unlock()
	d.deliver(ev)
}

// Skip tells the detector the minutes of target ("" = every target) before
// now were not watched (wsmon was stopped, or the target disconnected): its
// keys' pending minutes are closed, their clocks jump to now without
// learning or judging the skipped minutes, their windows are cleared, and
// open silences end where the watch ended. The seasonal baseline is kept.
func (d *Detector) Skip(target string, now int64) {
	d.mu.Lock()
	for _, ks := range d.order {
		if target == "" || ks.key.Target == target {
			d.skipKey(ks, now)
		}
	}
	ev := d.takeEvents()
	d.mu.Unlock()
	d.deliver(ev)
}

// Forget drops the state of target's keys (a target removed for good);
// their open anomalies end at their last watched minute, and stay listed.
func (d *Detector) Forget(target string) {
	d.mu.Lock()
	d.order = slices.DeleteFunc(d.order, func(ks *keyState) bool {
		if ks.key.Target != target {
			return false
		}
		if ks.hasPend {
			d.closeMinute(ks, ks.pend)
		}
		d.closeOpen(ks)
		delete(d.keys, ks.key)
		return true
	})
	ev := d.takeEvents()
	d.mu.Unlock()
	d.deliver(ev)
}

func (d *Detector) skipKey(ks *keyState, now int64) {
	if ks.hasPend && ks.pend < now {
		d.closeMinute(ks, ks.pend)
		ks.hasPend = false
	}
	if ks.last >= now-1 {
		return
	}
	d.closeOpen(ks)
	ks.ring = [ringLen]minuteRec{}
	ks.silRun, ks.silE = 0, 0
	ks.last = now - 1
	ks.cValid = false
}

// closeOpen ends ks's open anomalies after the last minute that showed
// each.
func (d *Detector) closeOpen(ks *keyState) {
	for k := Kind(1); k <= numKinds; k++ {
		if ks.open[k] != nil {
			d.closeAnomaly(ks, k, ks.hot[k]+1)
		}
	}
}

// advanceKey closes ks's minutes before now.
func (d *Detector) advanceKey(ks *keyState, now int64) {
	if ks.hasPend && ks.pend < now {
		d.closeMinute(ks, ks.pend)
		ks.hasPend = false
	}
	if ks.hasPend {
		return
	}
	if now-1-ks.last > maxFill {
		d.skipKey(ks, now)
	}
	for ks.last < now-1 {
		ks.pc = pending{}
		d.closeMinute(ks, ks.last+1)
	}
}

// List returns the anomalies q selects, newest start first.
func (d *Detector) List(q Query) []Anomaly {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Anomaly
	n := len(d.hist)
	for i := 0; i < n; i++ {
		a := d.hist[(d.hhead+i)%n]
		if q.match(a) {
			out = append(out, *a)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.After(out[j].Start)
		}
		return out[i].ID > out[j].ID
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

func (q *Query) match(a *Anomaly) bool {
	if q.Target != "" && a.Key.Target != q.Target || q.Room != "" && a.Key.Room != q.Room {
		return false
	}
	if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, a.Kind) {
		return false
	}
	if q.OpenOnly && !a.Open {
		return false
	}
	if !q.To.IsZero() && !a.Start.Before(q.To) {
		return false
	}
	if !q.From.IsZero() && !a.Open && !a.End.After(q.From) {
		return false
	}
	return true
}

// Stats returns the detector's counters.
func (d *Detector) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.st
	s.Keys = len(d.keys)
	for _, ks := range d.keys {
		for _, a := range ks.open {
			if a != nil {
				s.Open++
			}
		}
	}
	return s
}

func (d *Detector) takeEvents() []Event {
	if len(d.events) == 0 {
		return nil
	}
	ev := d.events
	d.events = nil
	return ev
}

func (d *Detector) deliver(ev []Event) {
	if d.o.OnEvent == nil {
		return
	}
	for _, e := range ev {
		d.o.OnEvent(e)
	}
}

// record adds a to the history and returns it.
func (d *Detector) record(a *Anomaly) {
	a.ID = d.nextID
	d.nextID++
	if len(d.hist) < d.o.MaxHistory {
		d.hist = append(d.hist, a)
	} else if d.o.MaxHistory > 0 {
		d.hist[d.hhead] = a
		d.hhead = (d.hhead + 1) % len(d.hist)
		d.st.HistoryEvicted++
	} else {
		d.st.HistoryEvicted++
	}
	if d.o.OnEvent != nil {
		d.events = append(d.events, Event{Opened, *a})
	}
}

// localHour returns the index of the local hour (in Location) of minute m.
func (d *Detector) localHour(m int64) int64 { return floorDiv(d.localMinute(m), 60) }

// localMinute returns minute m shifted by Location's offset at m.
func (d *Detector) localMinute(m int64) int64 {
	s := m * 60
	if s < d.zFrom || s >= d.zTo || d.zFrom == d.zTo {
		t := time.Unix(s, 0).In(d.o.Location)
		_, off := t.Zone()
		from, to := t.ZoneBounds()
		d.zOff = int64(off)
		d.zFrom, d.zTo = math.MinInt64, math.MaxInt64
		if !from.IsZero() {
			d.zFrom = from.Unix()
		}
		if !to.IsZero() {
			d.zTo = to.Unix()
		}
	}
	return floorDiv(s+d.zOff, 60)
}

// slotOf returns the hour of the week (0 = Sunday 00:00-01:00) of a local
// hour index. Day 0 of Unix time was a Thursday.
func slotOf(hour int64) int {
	day := floorDiv(hour, 24)
	return int(mod(day+4, 7)*24 + mod(hour, 24))
}
