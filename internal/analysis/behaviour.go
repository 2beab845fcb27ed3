package analysis

// User behaviour (analysis_behaviour): per-user rollups (messages, first
// and last seen, sessions, messages per local hour, rooms, who speaks
// next to whom) and per-room hours, kept in tables of their own
// (store/behaviour.go) and written, with the messages' applied id, in one
// transaction per flush; and whole-chat figures kept in the state row
// (active and new users per day, retention of new users, messages per
// user's distribution) that a flush updates from the user rows it changed.
//
// Counted: a message of a named user whose type is not system, join or
// leave (as the leaderboard counts activity). Room hours count every
// message. A user's session ends when they are silent for more than the
// session gap; B "speaks right after" A when B's message in a room follows
// A's, with nobody between, within the reply window.
//
// The rollups keep counting messages that retention later deletes: they
// describe everything the monitor saw.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/store"
)

// NameBehaviour is the behaviour analysis's row in analysis_state.
const NameBehaviour = "behaviour"

// Behaviour defaults.
const (
	DefaultSessionGap    = 30 * time.Minute
	DefaultReplyWindow   = time.Minute
	DefaultBehaviourWait = 5 * time.Second // a flush at the latest this long after a counted message
	// behaviourPending: a flush as soon as the pending rows reach this.
	behaviourPending = 100_000
	hourMs           = int64(time.Hour / time.Millisecond)
)

// behaviourSaved is the state row: whole-chat figures and the last
// speaker of each room (for the pairs across flushes and restarts).
type behaviourSaved struct {
	Zone     string               `json:"zone"`
	Users    int64                `json:"users"`
	Messages int64                `json:"messages"`
	Days     map[int64]*DayUsers  `json:"days"`    // local day number (days since 1970-01-01)
	Hist     [48]Bucket           `json:"hist"`    // users by messages: bucket i holds 2^i .. 2^(i+1)-1
	Last     map[string]lastSpoke `json:"last"`    // target + "\x00" + room
	Flushes  int64                `json:"flushes"` // a reader reloads when it changes
}

// DayUsers are a local day's user figures: users active, users new (first
// seen that day), and of the new ones how many were active again 1, 7 and
// 30 days later.
type DayUsers struct {
	Active int64 `json:"a,omitempty"`
	New    int64 `json:"n,omitempty"`
	D1     int64 `json:"d1,omitempty"`
	D7     int64 `json:"d7,omitempty"`
	D30    int64 `json:"d30,omitempty"`
}

// Bucket is a count of users and their messages.
type Bucket struct {
	Users    int64 `json:"u,omitempty"`
	Messages int64 `json:"m,omitempty"`
}

type lastSpoke struct {
	User string `json:"u"`
	At   int64  `json:"t"`
}

func newBehaviourSaved(zone string) *behaviourSaved {
	return &behaviourSaved{Zone: zone, Days: map[int64]*DayUsers{}, Last: map[string]lastSpoke{}}
}

func (s *behaviourSaved) clone() *behaviourSaved {
	c := *s
	c.Days = make(map[int64]*DayUsers, len(s.Days))
	for k, v := range s.Days {
		d := *v
		c.Days[k] = &d
	}
	c.Last = maps.Clone(s.Last)
	return &c
}

func (s *behaviourSaved) day(d int64) *DayUsers {
	x := s.Days[d]
	if x == nil {
		x = &DayUsers{}
		s.Days[d] = x
	}
	return x
}

func bucketOf(n int64) int {
	i := 0
	for n > 1 && i < 47 {
		n >>= 1
		i++
	}
	return i
}

// behaviourState is the counting side: pending deltas and the saved
// state as of the last flush. Used by the analyzer's goroutine only.
//
// The deltas are kept in accumulators found by one map lookup per name
// (target, room, user) and keyed by pointer or hour below them: hashing
// the strings once per message, not once per table, is most of what a
// message costs (BenchmarkCount).
type behaviourState struct {
	loc             *time.Location
	gapMs, windowMs int64
	saved           *behaviourSaved
	targets         map[string]*targetAcc // kept across flushes (the rooms' last speakers)
	users           map[string]*userAcc   // this flush's
	gen             uint64                // flushes made: a userAcc of an older one is gone
	rows            int                   // pending rows, all tables
	first           int64                 // when the oldest pending message was counted (Unix ms, clock), 0: none
	retryAt         int64                 // after a failed flush: no other before this (Unix ms, clock)
	// the zone offset of one UTC hour, cached
	offHour, offMs int64
}

type targetAcc struct {
	name    string
	rooms   map[string]*roomAcc
	hours   hourCounts
	minutes hourCounts // UTC minutes
}

type roomAcc struct {
	t     *targetAcc
	name  string
	hours hourCounts
	// the last speaker: their name and time (saved), and their
	// accumulator when it is of this flush (gen)
	lastUser string
	lastAt   int64
	lastAcc  *userAcc
	lastGen  uint64
}

type userAcc struct {
	name  string
	d     store.BehaviourUserDelta
	hours hourCounts
	rooms map[*roomAcc]*store.RoomDelta
	next  map[*userAcc]int64 // who spoke right after them, how often
}

// hourCounts counts by hour, the current hour outside the map (messages
// come in time order: most land in it).
type hourCounts struct {
	cur, n int64
	m      map[int64]int64
}

// add counts one in hour h and reports whether h is new to it.
func (c *hourCounts) add(h int64) bool {
	if c.n > 0 && c.cur == h {
		c.n++
		return false
	}
	if c.n > 0 {
		if c.m == nil {
			c.m = map[int64]int64{}
		}
		c.m[c.cur] += c.n
	}
	_, seen := c.m[h]
	c.cur, c.n = h, 1
	return !seen
}

// each calls f with every hour and its count.
func (c *hourCounts) each(f func(h, n int64)) {
	if c.n > 0 {
		if _, ok := c.m[c.cur]; !ok {
			f(c.cur, c.n)
		}
	}
	for h, n := range c.m {
		if h == c.cur && c.n > 0 {
			n += c.n
		}
		f(h, n)
	}
}

func newBehaviourState(loc *time.Location, gap, window time.Duration) *behaviourState {
	b := &behaviourState{loc: loc, gapMs: gap.Milliseconds(), windowMs: window.Milliseconds(), offHour: -1,
		targets: map[string]*targetAcc{}}
	b.saved = newBehaviourSaved(loc.String())
	b.reset()
	return b
}

// load takes a saved state: its rooms' last speakers.
func (b *behaviourState) load(s *behaviourSaved) {
	b.saved = s
	for k, v := range s.Last {
		target, room, _ := strings.Cut(k, "\x00")
		r := b.room(target, room)
		r.lastUser, r.lastAt = v.User, v.At
	}
}

// reset forgets the pending deltas (written).
func (b *behaviourState) reset() {
	b.users = map[string]*userAcc{}
	b.gen++
	for _, t := range b.targets {
		t.hours, t.minutes = hourCounts{}, hourCounts{}
		for _, r := range t.rooms {
			r.hours = hourCounts{}
		}
	}
	b.rows, b.first = 0, 0
}

func (b *behaviourState) room(target, room string) *roomAcc {
	t := b.targets[target]
	if t == nil {
		t = &targetAcc{name: target, rooms: map[string]*roomAcc{}}
		b.targets[target] = t
	}
	r := t.rooms[room]
	if r == nil {
		r = &roomAcc{t: t, name: room}
		t.rooms[room] = r
	}
	return r
}

// flush is the pending deltas as the store writes them.
func (b *behaviourState) flush() *store.BehaviourFlush {
	f := &store.BehaviourFlush{Users: make(map[string]*store.BehaviourUserDelta, len(b.users)), UserHours: map[store.UserHour]int64{},
		UserRooms: map[store.UserRoom]*store.RoomDelta{}, Pairs: map[store.UserPair]int64{}, RoomHours: map[store.RoomHour]int64{},
		TargetHours: map[store.RoomHour]int64{}, TargetMinutes: map[store.TargetMinute]int64{}, GapMs: b.gapMs}
	for _, t := range b.targets {
		t.hours.each(func(h, n int64) { f.TargetHours[store.RoomHour{Target: t.name, Hour: h}] = n })
		t.minutes.each(func(m, n int64) { f.TargetMinutes[store.TargetMinute{Target: t.name, Minute: m}] = n })
		for _, r := range t.rooms {
			r.hours.each(func(h, n int64) { f.RoomHours[store.RoomHour{Target: t.name, Room: r.name, Hour: h}] = n })
		}
	}
	for name, u := range b.users {
		for o, n := range u.next {
			f.Pairs[store.UserPair{First: name, Second: o.name}] = n
		}
		if u.d.Messages == 0 {
			continue // only here for whom spoke after them
		}
		d := u.d
		f.Users[name] = &d
		u.hours.each(func(h, n int64) { f.UserHours[store.UserHour{User: name, Hour: h}] = n })
		for r, d := range u.rooms {
			x := *d
			f.UserRooms[store.UserRoom{User: name, Target: r.t.name, Room: r.name}] = &x
		}
	}
	return f
}

// localHour is the local hour of a Unix ms time.
func (b *behaviourState) localHour(ms int64) int64 {
	return localHour(b.loc, ms, &b.offHour, &b.offMs)
}

func localHour(loc *time.Location, ms int64, cacheHour, cacheOff *int64) int64 {
	h := floorDiv(ms, hourMs)
	if h != *cacheHour {
		_, off := time.UnixMilli(ms).In(loc).Zone()
		*cacheHour, *cacheOff = h, int64(off)*1000
	}
	return floorDiv(ms+*cacheOff, hourMs)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func activity(t message.Type) bool {
	return t != message.TypeSystem && t != message.TypeJoin && t != message.TypeLeave
}

// add counts one message into the pending deltas.
func (b *behaviourState) add(m *item) {
	if b.first == 0 {
		b.first = time.Now().UnixMilli()
	}
	h := b.localHour(m.At)
	r := b.room(m.Target, m.Room)
	if r.t.hours.add(h) {
		b.rows++
	}
	if r.t.minutes.add(floorDiv(m.At, 60000)) {
		b.rows++
	}
	if r.hours.add(h) {
		b.rows++
	}
	if m.User == "" || !activity(m.Type) {
		return
	}
	u := b.users[m.User]
	if u == nil {
		u = &userAcc{name: m.User, d: store.BehaviourUserDelta{Messages: 1, FirstSeen: m.At, LastSeen: m.At, Sessions: 1},
			rooms: map[*roomAcc]*store.RoomDelta{}}
		b.users[m.User] = u
		b.rows++
	} else {
		d := &u.d
		d.Messages++
		if m.At-d.LastSeen > b.gapMs {
			d.Sessions++
		}
		d.LastSeen = max(d.LastSeen, m.At)
		d.FirstSeen = min(d.FirstSeen, m.At)
	}
	if u.hours.add(h) {
		b.rows++
	}
	if rd := u.rooms[r]; rd == nil {
		u.rooms[r] = &store.RoomDelta{Count: 1, LastSeen: m.At}
		b.rows++
	} else {
		rd.Count++
		rd.LastSeen = max(rd.LastSeen, m.At)
	}
	if r.lastUser != "" && r.lastUser != m.User && m.At-r.lastAt <= b.windowMs && m.At >= r.lastAt {
		p := r.lastAcc
		if p == nil || r.lastGen != b.gen {
			// The last speaker spoke in an earlier flush: their
			// accumulator of this one, without messages of theirs.
			p = b.users[r.lastUser]
			if p == nil {
				p = &userAcc{name: r.lastUser, rooms: map[*roomAcc]*store.RoomDelta{}}
				b.users[r.lastUser] = p
			}
		}
		if p.next == nil {
			p.next = map[*userAcc]int64{}
		}
		if p.next[u] == 0 {
			b.rows++
		}
		p.next[u]++
	}
	r.lastUser, r.lastAt, r.lastAcc, r.lastGen = m.User, m.At, u, b.gen
}

// next computes the saved state after a flush from the user rows it
// changed: on a copy, which becomes the state only once the flush
// committed.
func (b *behaviourState) next(f *store.BehaviourFlush, after []store.BehaviourUserAfter, now int64) *behaviourSaved {
	s := b.saved.clone()
	s.Flushes++
	// Each user's days in this flush, from their hours.
	days := map[string][]int64{}
	for k := range f.UserHours {
		d := floorDiv(k.Hour, 24)
		ds := days[k.User]
		found := false
		for _, x := range ds {
			if x == d {
				found = true
				break
			}
		}
		if !found {
			days[k.User] = append(ds, d)
		}
	}
	var ch, co int64 = -1, 0
	dayOf := func(ms int64) int64 { return floorDiv(localHour(b.loc, ms, &ch, &co), 24) }
	for _, a := range after {
		d := f.Users[a.User]
		if d == nil {
			continue
		}
		old := a.Messages - d.Messages
		isNew := old <= 0
		if isNew {
			s.Users++
		} else {
			ob := &s.Hist[bucketOf(old)]
			ob.Users--
			ob.Messages -= old
		}
		nb := &s.Hist[bucketOf(a.Messages)]
		nb.Users++
		nb.Messages += a.Messages
		s.Messages += d.Messages
		firstDay := dayOf(a.FirstSeen)
		lastDay := int64(-1 << 40)
		if !isNew {
			lastDay = dayOf(a.PrevSeen)
		}
		ds := days[a.User]
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		for _, day := range ds {
			if day <= lastDay {
				continue
			}
			s.day(day).Active++
			if isNew && day == firstDay {
				s.day(day).New++
			}
			switch day - firstDay {
			case 1:
				s.day(firstDay).D1++
			case 7:
				s.day(firstDay).D7++
			case 30:
				s.day(firstDay).D30++
			}
		}
	}
	// The rooms' last speakers; of many rooms, those too old to pair
	// with anything are forgotten.
	s.Last = map[string]lastSpoke{}
	for _, t := range b.targets {
		for _, r := range t.rooms {
			if r.lastUser != "" {
				s.Last[t.name+"\x00"+r.name] = lastSpoke{User: r.lastUser, At: r.lastAt}
			}
		}
	}
	if len(s.Last) > 10_000 {
		for k, v := range s.Last {
			if now-v.At > b.windowMs {
				delete(s.Last, k)
			}
		}
	}
	return s
}

// loadBehaviour loads the saved behaviour state, or resets the rollups
// when it is damaged or of another time zone.
func (a *Analyzer) loadBehaviour(ctx context.Context) error {
	a.beh = newBehaviourState(a.loc, a.opt.SessionGap, a.opt.ReplyWindow)
	data, id, ok, err := a.opt.Store.AnalysisState(ctx, NameBehaviour)
	if err != nil {
		return err
	}
	if !ok {
		// Rows without a state (a state lost): start over.
		return a.opt.Store.ResetBehaviour(ctx, NameBehaviour)
	}
	s := newBehaviourSaved("")
	if err := json.Unmarshal(data, s); err != nil || s.Days == nil || s.Last == nil {
		a.log.Warn("analysis: the saved user behaviour state is damaged; rebuilding the behaviour rollups from the messages", "error", err)
		return a.opt.Store.ResetBehaviour(ctx, NameBehaviour)
	}
	if s.Zone != a.loc.String() {
		a.log.Warn("analysis: the time zone changed; rebuilding the behaviour rollups from the messages", "was", s.Zone, "now", a.loc.String())
		return a.opt.Store.ResetBehaviour(ctx, NameBehaviour)
	}
	a.beh.load(s)
	a.behAt = id
	return nil
}

// flushBehaviour writes the pending behaviour deltas; on failure they
// stay pending for the next flush.
func (a *Analyzer) flushBehaviour(ctx context.Context) {
	b := a.beh
	if b == nil {
		return
	}
	a.mu.RLock()
	at := a.behAt
	a.mu.RUnlock()
	if b.rows == 0 && at == a.behFlushed {
		return
	}
	var next *behaviourSaved
	f := b.flush()
	err := a.opt.Store.FlushBehaviour(ctx, f, NameBehaviour, at, func(after []store.BehaviourUserAfter) ([]byte, error) {
		next = b.next(f, after, time.Now().UnixMilli())
		return json.Marshal(next)
	})
	if err != nil {
		// Not again at every batch while the database fails (a full
		// disk): after the wait, or a second, whichever is longer.
		b.retryAt = time.Now().Add(max(a.opt.BehaviourWait, time.Second)).UnixMilli()
		a.behFailures.Add(1)
		a.log.Warn("analysis: writing the user behaviour rollups (kept for the next flush)", "error", err)
		return
	}
	b.saved = next
	a.behFlushed = at
	a.behWritten.Store(at)
	b.reset()
}

// behaviourDue says the pending deltas should be flushed now.
func (b *behaviourState) due(wait time.Duration) bool {
	now := time.Now().UnixMilli()
	if now < b.retryAt {
		return false
	}
	return b.rows >= behaviourPending || (b.first != 0 && now-b.first >= wait.Milliseconds())
}

// ---- queries (the analyzer's and a separate web's: both read the
// tables and the saved state) ----

// ErrNotFound is returned for a user without behaviour rollups.
var ErrNotFound = errors.New("analysis: no such user")

// ErrBadCursor is returned for a users cursor that is not one of ours or
// of another order.
var ErrBadCursor = errors.New("analysis: bad cursor")

// behaviourQueries answers the behaviour endpoints from the store.
type behaviourQueries struct {
	st          *store.Store
	loc         *time.Location
	gap, window time.Duration
	mu          sync.Mutex
	checked     time.Time
	at          int64
	saved       *behaviourSaved
	names       *nameIndex // the users list's name filter (names.go)
}

func newBehaviourQueries(st *store.Store, loc *time.Location, gap, window time.Duration) *behaviourQueries {
	if loc == nil {
		loc = time.UTC
	}
	if gap <= 0 {
		gap = DefaultSessionGap
	}
	if window <= 0 {
		window = DefaultReplyWindow
	}
	return &behaviourQueries{st: st, loc: loc, gap: gap, window: window, at: -1, names: &nameIndex{st: st}}
}

// state returns the saved state (reloaded when its id changed, checked at
// most once a second) and its applied id.
func (q *behaviourQueries) state(ctx context.Context) (*behaviourSaved, int64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.saved != nil && time.Since(q.checked) < time.Second {
		return q.saved, q.at, nil
	}
	data, id, ok, err := q.st.AnalysisState(ctx, NameBehaviour)
	if err != nil {
		return nil, 0, fmt.Errorf("analysis: %w", err)
	}
	q.checked = time.Now()
	if !ok {
		q.saved, q.at = newBehaviourSaved(q.loc.String()), 0
		return q.saved, 0, nil
	}
	s := newBehaviourSaved("")
	if err := json.Unmarshal(data, s); err != nil {
		return nil, 0, fmt.Errorf("analysis: the saved user behaviour state is damaged (the monitor rebuilds it): %w", err)
	}
	q.saved, q.at = s, id
	return s, id, nil
}

// UsersQuery pages through the users (GET /api/analysis/users).
type UsersQuery struct {
	Contains string
	Sort     string // store.Sort*
	Desc     bool
	Limit    int
	Cursor   string
}

// UserRow is one user of the list.
type UserRow struct {
	User      string    `json:"user"`
	Messages  int64     `json:"messages"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Sessions  int64     `json:"sessions"`
}

// UsersResult is a page of users.
type UsersResult struct {
	AsOfID     int64     `json:"as_of_id"`
	Total      int64     `json:"total"`
	Users      []UserRow `json:"users"`
	NextCursor string    `json:"next_cursor,omitempty"`
}

type usersCursor struct {
	Sort string `json:"s"`
	Desc bool   `json:"d"`
	V    int64  `json:"v"`
	U    string `json:"u"`
}

func (q *behaviourQueries) users(ctx context.Context, uq UsersQuery) (UsersResult, error) {
	s, at, err := q.state(ctx)
	if err != nil {
		return UsersResult{}, err
	}
	sq := store.BehaviourUsersQuery{Contains: uq.Contains, Sort: uq.Sort, Desc: uq.Desc, Limit: uq.Limit + 1}
	if uq.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(uq.Cursor)
		var c usersCursor
		if err != nil || json.Unmarshal(raw, &c) != nil || c.Sort != uq.Sort || c.Desc != uq.Desc {
			return UsersResult{}, ErrBadCursor
		}
		sq.After, sq.AfterValue, sq.AfterUser = true, c.V, c.U
	}
	var rows []store.BehaviourUser
	sparse := false
	if sq.Contains != "" {
		// Few names hold it: read those rows by id (names.go).
		var ids []int64
		if ids, sparse, err = q.names.holding(ctx, sq.Contains); err != nil {
			return UsersResult{}, err
		}
		if sparse {
			all, err := q.st.BehaviourUsersByID(ctx, ids)
			if err != nil {
				return UsersResult{}, err
			}
			rows = filterUsers(all, sq)
		}
	}
	if !sparse {
		if rows, err = q.st.BehaviourUsers(ctx, sq); err != nil {
			return UsersResult{}, err
		}
	}
	res := UsersResult{AsOfID: at, Total: s.Users, Users: make([]UserRow, 0, len(rows))}
	for i, r := range rows {
		if i == uq.Limit {
			last := rows[i-1]
			c := usersCursor{Sort: uq.Sort, Desc: uq.Desc, U: last.User}
			switch uq.Sort {
			case store.SortMessages:
				c.V = last.Messages
			case store.SortLastSeen:
				c.V = last.LastSeen.UnixMilli()
			case store.SortFirstSeen:
				c.V = last.FirstSeen.UnixMilli()
			}
			raw, _ := json.Marshal(c)
			res.NextCursor = base64.RawURLEncoding.EncodeToString(raw)
			break
		}
		res.Users = append(res.Users, UserRow{User: r.User, Messages: r.Messages, FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, Sessions: r.Sessions})
	}
	return res, nil
}

// Heatmap is messages by local day of week (0 = Monday) and hour.
type Heatmap [7][24]int64

func (h *Heatmap) add(localHour, n int64) {
	day := floorDiv(localHour, 24)
	dow := ((day+3)%7 + 7) % 7 // 1970-01-01 was a Thursday
	h[dow][((localHour%24)+24)%24] += n
}

// UserDay is a user's messages on a local day.
type UserDay struct {
	Date  string `json:"date"`
	Count int64  `json:"count"`
}

// UserRoom is a user's messages in a room.
type UserRoom struct {
	Target   string    `json:"target"`
	Room     string    `json:"room"`
	Messages int64     `json:"messages"`
	LastSeen time.Time `json:"last_seen"`
}

// Neighbour is a user who spoke next to another, and how often.
type Neighbour struct {
	User  string `json:"user"`
	Count int64  `json:"count"`
}

// UserSessions are a user's sessions of activity.
type UserSessions struct {
	Count      int64 `json:"count"`
	GapSeconds int64 `json:"gap_seconds"`
}

// UserResult is one user's behaviour (GET /api/analysis/users/{name}).
type UserResult struct {
	AsOfID        int64        `json:"as_of_id"`
	User          string       `json:"user"`
	Messages      int64        `json:"messages"`
	FirstSeen     time.Time    `json:"first_seen"`
	LastSeen      time.Time    `json:"last_seen"`
	DaysActive    int64        `json:"days_active"`
	Sessions      UserSessions `json:"sessions"`
	Daily         []UserDay    `json:"daily"`
	Heatmap       Heatmap      `json:"heatmap"`
	Rooms         []UserRoom   `json:"rooms"`
	Before        []Neighbour  `json:"before"`
	After         []Neighbour  `json:"after"`
	WindowSeconds int64        `json:"window_seconds"`
}

// dayOf is the local day number of t (days since 1970-01-01 in the zone).
func (q *behaviourQueries) dayOf(t time.Time) int64 {
	l := t.In(q.loc)
	return floorDiv(time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC).Unix(), 86400)
}

func dayString(d int64) string { return time.Unix(d*86400, 0).UTC().Format("2006-01-02") }

// user returns name's behaviour; daily covers the local days from..to
// (inclusive, as day numbers).
func (q *behaviourQueries) user(ctx context.Context, name string, fromDay, toDay int64) (UserResult, error) {
	_, at, err := q.state(ctx)
	if err != nil {
		return UserResult{}, err
	}
	u, ok, err := q.st.BehaviourUserRow(ctx, name)
	if err != nil {
		return UserResult{}, err
	}
	if !ok {
		return UserResult{}, ErrNotFound
	}
	hours, err := q.st.BehaviourUserHours(ctx, name)
	if err != nil {
		return UserResult{}, err
	}
	res := UserResult{AsOfID: at, User: u.User, Messages: u.Messages, FirstSeen: u.FirstSeen, LastSeen: u.LastSeen,
		Sessions: UserSessions{Count: u.Sessions, GapSeconds: int64(q.gap / time.Second)}, WindowSeconds: int64(q.window / time.Second)}
	perDay := map[int64]int64{}
	for _, h := range hours {
		res.Heatmap.add(h.Hour, h.Count)
		perDay[floorDiv(h.Hour, 24)] += h.Count
	}
	res.DaysActive = int64(len(perDay))
	for d := fromDay; d <= toDay; d++ {
		res.Daily = append(res.Daily, UserDay{Date: dayString(d), Count: perDay[d]})
	}
	rooms, err := q.st.BehaviourUserRooms(ctx, name, 50)
	if err != nil {
		return UserResult{}, err
	}
	res.Rooms = make([]UserRoom, 0, len(rooms))
	for _, r := range rooms {
		res.Rooms = append(res.Rooms, UserRoom{Target: r.Target, Room: r.Room, Messages: r.Messages, LastSeen: r.LastSeen})
	}
	before, after, err := q.st.BehaviourNeighbours(ctx, name, 10)
	if err != nil {
		return UserResult{}, err
	}
	conv := func(ns []store.BehaviourNeighbour) []Neighbour {
		out := make([]Neighbour, 0, len(ns))
		for _, n := range ns {
			out = append(out, Neighbour(n))
		}
		return out
	}
	res.Before, res.After = conv(before), conv(after)
	return res, nil
}

// Activity steps.
const (
	StepMinute = "minute"
	StepHour   = "hour"
	StepDay    = "day"
)

// ActivityQuery asks for message frequency (GET /api/analysis/activity).
// From and To are aligned to Step by Activity (minutes in UTC, hours and
// days in the local zone).
type ActivityQuery struct {
	Target, Room, User string
	From, To           time.Time
	Step               string
}

// Point is a count at the start of a step.
type Point struct {
	T     time.Time `json:"t"`
	Count int64     `json:"count"`
}

// Period is a range's series and total.
type Period struct {
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Total  int64     `json:"total"`
	Series []Point   `json:"series"`
}

// RoomCount is a room's messages in a range.
type RoomCount struct {
	Target   string `json:"target"`
	Room     string `json:"room"`
	Messages int64  `json:"messages"`
}

// UsersDay is a local day's active, new and returning users.
type UsersDay struct {
	Date      string `json:"date"`
	Active    int64  `json:"active"`
	New       int64  `json:"new"`
	Returning int64  `json:"returning"`
}

// Retention is a day's new users and how many of them were active again
// 1, 7 and 30 days later (nil: that day has not ended... or come yet).
type Retention struct {
	Date string `json:"date"`
	New  int64  `json:"new"`
	D1   *int64 `json:"d1"`
	D7   *int64 `json:"d7"`
	D30  *int64 `json:"d30"`
}

// DistBucket is the users with Min..Max messages and their messages.
type DistBucket struct {
	Min      int64 `json:"min"`
	Max      int64 `json:"max"`
	Users    int64 `json:"users"`
	Messages int64 `json:"messages"`
}

// Distribution is how messages are spread over the users.
type Distribution struct {
	Users      int64        `json:"users"`
	Messages   int64        `json:"messages"`
	Buckets    []DistBucket `json:"buckets"`
	Top1Share  float64      `json:"top1_share"`
	Top10Share float64      `json:"top10_share"`
}

// UsersActivity are the whole chat's user figures.
type UsersActivity struct {
	Daily        []UsersDay   `json:"daily"`
	Retention    []Retention  `json:"retention"`
	Distribution Distribution `json:"distribution"`
}

// ActivityResult answers GET /api/analysis/activity.
type ActivityResult struct {
	AsOfID   int64          `json:"as_of_id"`
	Step     string         `json:"step"`
	From     time.Time      `json:"from"`
	To       time.Time      `json:"to"`
	Total    int64          `json:"total"`
	Series   []Point        `json:"series"`
	Previous Period         `json:"previous"`
	Heatmap  Heatmap        `json:"heatmap"`
	Rooms    []RoomCount    `json:"rooms,omitempty"`
	Users    *UsersActivity `json:"users,omitempty"`
}

// localTime is the start of a local hour.
func (q *behaviourQueries) localTime(h int64) time.Time {
	w := time.UnixMilli(h * hourMs).UTC()
	return time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), 0, 0, 0, q.loc)
}

func (q *behaviourQueries) localHourOf(t time.Time) int64 {
	var ch, co int64 = -1, 0
	return localHour(q.loc, t.UnixMilli(), &ch, &co)
}

// align returns the range as step indices [lo, hi): UTC minutes, local
// hours or local days.
func (q *behaviourQueries) align(step string, from, to time.Time) (lo, hi int64) {
	switch step {
	case StepMinute:
		return floorDiv(from.UnixMilli(), 60000), floorDiv(to.UnixMilli()+59999, 60000)
	case StepHour:
		lo = q.localHourOf(from)
		hi = q.localHourOf(to)
		if q.localTime(hi).Before(to) {
			hi++
		}
		return lo, hi
	default:
		lo = floorDiv(q.localHourOf(from), 24)
		hi = floorDiv(q.localHourOf(to), 24)
		if q.localTime(hi * 24).Before(to) {
			hi++
		}
		return lo, hi
	}
}

func (q *behaviourQueries) stepTime(step string, i int64) time.Time {
	switch step {
	case StepMinute:
		return time.UnixMilli(i * 60000).UTC()
	case StepHour:
		return q.localTime(i).UTC()
	default:
		return q.localTime(i * 24).UTC()
	}
}

// hourCounts returns the messages per local hour of [loH, hiH) with the
// query's filters: a user's from their hours, a room's from the room
// hours, a target's (or all) from the target hours.
func (q *behaviourQueries) hourCounts(ctx context.Context, aq ActivityQuery, loH, hiH int64) (map[int64]int64, error) {
	out := map[int64]int64{}
	switch {
	case aq.User != "":
		if aq.Target != "" || aq.Room != "" {
			return nil, errUserFilter
		}
		hs, err := q.st.BehaviourUserHours(ctx, aq.User)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			if h.Hour >= loH && h.Hour < hiH {
				out[h.Hour] += h.Count
			}
		}
	case aq.Room != "":
		hs, err := q.st.BehaviourRoomHours(ctx, aq.Target, aq.Room, loH, hiH)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			out[h.Hour] += h.Count
		}
	default:
		hs, err := q.st.BehaviourTargetHours(ctx, aq.Target, loH, hiH)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			out[h.Hour] += h.Count
		}
	}
	return out, nil
}

var errUserFilter = errors.New("analysis: a user's activity is of all targets and rooms: give user alone")

// ErrUserFilter is returned for an activity query with user and a
// target or room.
var ErrUserFilter = errUserFilter

// period computes the series of [lo, hi) in step units.
func (q *behaviourQueries) period(ctx context.Context, aq ActivityQuery, lo, hi int64, heat *Heatmap) (Period, error) {
	p := Period{From: q.stepTime(aq.Step, lo), To: q.stepTime(aq.Step, hi), Series: make([]Point, 0, hi-lo)}
	counts := map[int64]int64{}
	if aq.Step == StepMinute {
		var ms []store.MinuteCount
		var err error
		if aq.Room == "" && aq.User == "" {
			ms, err = q.st.BehaviourTargetMinutes(ctx, aq.Target, lo, hi)
		} else {
			ms, err = q.st.MinuteCounts(ctx, aq.Target, aq.Room, aq.User, p.From, p.To)
		}
		if err != nil {
			return p, err
		}
		var ch, co int64 = -1, 0
		for _, m := range ms {
			counts[m.Minute] += m.Count
			if heat != nil {
				heat.add(localHour(q.loc, m.Minute*60000, &ch, &co), m.Count)
			}
		}
	} else {
		loH, hiH := lo, hi
		if aq.Step == StepDay {
			loH, hiH = lo*24, hi*24
		}
		hs, err := q.hourCounts(ctx, aq, loH, hiH)
		if err != nil {
			return p, err
		}
		for h, n := range hs {
			if heat != nil {
				heat.add(h, n)
			}
			if aq.Step == StepDay {
				h = floorDiv(h, 24)
			}
			counts[h] += n
		}
	}
	for i := lo; i < hi; i++ {
		n := counts[i]
		p.Total += n
		p.Series = append(p.Series, Point{T: q.stepTime(aq.Step, i), Count: n})
	}
	return p, nil
}

// activity answers an ActivityQuery; now is the reference for retention.
func (q *behaviourQueries) activity(ctx context.Context, aq ActivityQuery, now time.Time) (ActivityResult, error) {
	s, at, err := q.state(ctx)
	if err != nil {
		return ActivityResult{}, err
	}
	lo, hi := q.align(aq.Step, aq.From, aq.To)
	if hi <= lo {
		hi = lo + 1
	}
	res := ActivityResult{AsOfID: at, Step: aq.Step}
	cur, err := q.period(ctx, aq, lo, hi, &res.Heatmap)
	if err != nil {
		return ActivityResult{}, err
	}
	res.From, res.To, res.Total, res.Series = cur.From, cur.To, cur.Total, cur.Series
	if res.Previous, err = q.period(ctx, aq, lo-(hi-lo), lo, nil); err != nil {
		return ActivityResult{}, err
	}
	loH, hiH := q.localHourOf(res.From), q.localHourOf(res.To)
	if aq.Step == StepHour {
		loH, hiH = lo, hi
	} else if aq.Step == StepDay {
		loH, hiH = lo*24, hi*24
	} else if q.localTime(hiH).Before(res.To) {
		hiH++
	}
	if aq.Room == "" && aq.User == "" {
		rooms, err := q.st.BehaviourTopRooms(ctx, aq.Target, loH, hiH, 20)
		if err != nil {
			return ActivityResult{}, err
		}
		res.Rooms = make([]RoomCount, 0, len(rooms))
		for _, r := range rooms {
			res.Rooms = append(res.Rooms, RoomCount{Target: r.Target, Room: r.Room, Messages: r.Messages})
		}
	}
	if aq.Target == "" && aq.Room == "" && aq.User == "" {
		u := &UsersActivity{Daily: []UsersDay{}, Retention: []Retention{}}
		today := floorDiv(q.localHourOf(now), 24)
		for d := floorDiv(loH, 24); d <= floorDiv(hiH-1, 24); d++ {
			x := s.Days[d]
			if x == nil {
				x = &DayUsers{}
			}
			u.Daily = append(u.Daily, UsersDay{Date: dayString(d), Active: x.Active, New: x.New, Returning: x.Active - x.New})
			r := Retention{Date: dayString(d), New: x.New}
			val := func(n, k int64) *int64 {
				if d+k > today {
					return nil
				}
				return &n
			}
			r.D1, r.D7, r.D30 = val(x.D1, 1), val(x.D7, 7), val(x.D30, 30)
			u.Retention = append(u.Retention, r)
		}
		dist := Distribution{Users: s.Users, Messages: s.Messages, Buckets: []DistBucket{}}
		for i, b := range s.Hist {
			if b.Users > 0 {
				dist.Buckets = append(dist.Buckets, DistBucket{Min: 1 << i, Max: 1<<(i+1) - 1, Users: b.Users, Messages: b.Messages})
			}
		}
		if s.Messages > 0 {
			for _, x := range []struct {
				pct   int64
				share *float64
			}{{1, &dist.Top1Share}, {10, &dist.Top10Share}} {
				n := (s.Users*x.pct + 99) / 100
				top, err := q.st.BehaviourTopMessages(ctx, n)
				if err != nil {
					return ActivityResult{}, err
				}
				*x.share = float64(top) / float64(s.Messages)
			}
		}
		u.Distribution = dist
		res.Users = u
	}
	return res, nil
}

// Users answers GET /api/analysis/users.
func (a *Analyzer) Users(ctx context.Context, q UsersQuery) (UsersResult, error) {
	if a.beh == nil {
		return UsersResult{}, ErrOff
	}
	return a.behq.users(ctx, q)
}

// User answers GET /api/analysis/users/{name}, daily over the local
// dates from..to.
func (a *Analyzer) User(ctx context.Context, name string, from, to time.Time) (UserResult, error) {
	if a.beh == nil {
		return UserResult{}, ErrOff
	}
	return a.behq.user(ctx, name, a.behq.dayOf(from), a.behq.dayOf(to))
}

// Activity answers GET /api/analysis/activity.
func (a *Analyzer) Activity(ctx context.Context, q ActivityQuery) (ActivityResult, error) {
	if a.beh == nil {
		return ActivityResult{}, ErrOff
	}
	return a.behq.activity(ctx, q, time.Now())
}

// Users is Analyzer.Users over the saved rollups.
func (r *Reader) Users(ctx context.Context, q UsersQuery) (UsersResult, error) {
	if r.behaviourOff() {
		return UsersResult{}, ErrOff
	}
	return r.behq.users(ctx, q)
}

// User is Analyzer.User over the saved rollups.
func (r *Reader) User(ctx context.Context, name string, from, to time.Time) (UserResult, error) {
	if r.behaviourOff() {
		return UserResult{}, ErrOff
	}
	return r.behq.user(ctx, name, r.behq.dayOf(from), r.behq.dayOf(to))
}

// Activity is Analyzer.Activity over the saved rollups.
func (r *Reader) Activity(ctx context.Context, q ActivityQuery) (ActivityResult, error) {
	if r.behaviourOff() {
		return ActivityResult{}, ErrOff
	}
	return r.behq.activity(ctx, q, time.Now())
}

func (r *Reader) behaviourOff() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.off[NameBehaviour] || r.behq == nil
}
