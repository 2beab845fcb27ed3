// Package report owns building and rendering wsmon's periodic reports:
// what a day, a Monday–Sunday week or a range of days looked like on one
// target or on all of them (volume against the previous period, the
// busiest hour, new and most active users, trending terms, anomalies,
// sentiment, alerts, connection gaps and sessions that ended with an
// error), as JSON (the Report struct's field names are the contract,
// docs/api.md#reports) and as a printable, self-contained HTML page, and
// sending the previous period's report on a schedule (Scheduler).
//
// A report never scans the messages table: message counts come from the
// index's rollups (query.Source.Stats for the exact per-day counts, the
// stored 15-minute and per-user rollup rows for hours and users), the
// analyses from their incremental state (as /api/analysis/* answer), and
// alerts, sessions and connection attempts from their own tables.
package report

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/wsmon/wsmon/internal/analysis"
	"github.com/wsmon/wsmon/internal/anomaly"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/terms"
)

// Kinds of report (Report.Kind).
const (
	KindDaily  = "daily"  // one calendar day in the statistics time zone
	KindWeekly = "weekly" // the Monday–Sunday week containing a date
	KindRange  = "range"  // the days from..to, inclusive
)

// MaxDays bounds a range report.
const MaxDays = 366

// Source is what a report reads of the query path (query.Source): the
// exact per-day counts of the rollups and single messages.
type Source interface {
	Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error)
	Message(ctx context.Context, id int64) (message.Message, error)
}

// Analysis is the incremental analyses' query side (an analysis.Analyzer
// in the monitor's process, an analysis.Reader elsewhere); the same
// methods as web.Analysis.
type Analysis interface {
	Terms(ctx context.Context, day terms.Day, room string, limit int) (analysis.TermsResult, error)
	Sentiment(ctx context.Context, target, room string, from, to terms.Day) (analysis.SentimentResult, error)
	Anomalies(ctx context.Context, q analysis.AnomalyQuery) (analysis.AnomaliesResult, error)
	Activity(ctx context.Context, q analysis.ActivityQuery) (analysis.ActivityResult, error)
}

// Options are a Builder's inputs.
type Options struct {
	Store    *store.Store // rollup rows, alerts, sessions, attempts
	Source   Source       // exact per-day counts; messages of the sentiment lists
	Analysis Analysis     // nil: the analyses' sections are listed as unavailable
	Location *time.Location
	// Now is the clock (nil: time.Now), for GeneratedAt and for gaps that
	// last until now.
	Now func() time.Time
}

// Builder builds reports. It is safe for concurrent use.
type Builder struct {
	o Options
}

// NewBuilder returns a builder over o; o.Store and o.Source are required.
func NewBuilder(o Options) (*Builder, error) {
	if o.Store == nil || o.Source == nil {
		return nil, errors.New("report: NewBuilder needs a Store and a Source")
	}
	if o.Location == nil {
		o.Location = o.Store.Location()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Builder{o: o}, nil
}

// Location is the time zone the builder's days are in.
func (b *Builder) Location() *time.Location { return b.o.Location }

// Date is a calendar day (no zone): the days of a period are those dates
// in the builder's time zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate reads YYYY-MM-DD (years 1970 to 9999).
func ParseDate(s string) (Date, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil || t.Year() < 1970 || t.Year() > 9999 {
		return Date{}, fmt.Errorf("must be a date YYYY-MM-DD from 1970-01-01 to 9999-12-31, got %q", s)
	}
	return DateOf(t, time.UTC), nil
}

// DateOf is t's calendar day in loc.
func DateOf(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(loc).Date()
	return Date{y, m, d}
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// AddDays returns the date n days later (earlier for n < 0).
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC), time.UTC)
}

// Start is midnight of d in loc.
func (d Date) Start(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

func (d Date) day() terms.Day { return terms.DayOf(d.Start(time.UTC), time.UTC) }

// Before reports whether d is earlier than e.
func (d Date) Before(e Date) bool { return d.day() < e.day() }

// Days is the number of days from d to e, inclusive (0 when e is before d).
func (d Date) Days(e Date) int { return max(0, int(e.day()-d.day())+1) }

// Period is the days a report covers and the period it is compared with.
type Period struct {
	Kind     string
	From, To Date // inclusive
}

// Daily is the period of day d.
func Daily(d Date) Period { return Period{KindDaily, d, d} }

// Weekly is the Monday–Sunday week containing d.
func Weekly(d Date) Period {
	wd := int(d.Start(time.UTC).Weekday()) // Sunday = 0
	monday := d.AddDays(-((wd + 6) % 7))
	return Period{KindWeekly, monday, monday.AddDays(6)}
}

// Range is the days from..to; one day is a daily period. It fails when
// to is before from or the range is longer than MaxDays.
func Range(from, to Date) (Period, error) {
	if to.Before(from) {
		return Period{}, fmt.Errorf("to %s is before from %s", to, from)
	}
	if n := from.Days(to); n > MaxDays {
		return Period{}, fmt.Errorf("the range has %d days, more than %d", n, MaxDays)
	}
	if from == to {
		return Daily(from), nil
	}
	return Period{KindRange, from, to}, nil
}

// Previous is the period of the same length just before p.
func (p Period) Previous() Period {
	n := p.From.Days(p.To)
	return Period{p.Kind, p.From.AddDays(-n), p.From.AddDays(-1)}
}

// ID names the period and target uniquely, e.g. "daily:2026-01-02:" or
// "weekly:2025-12-29:alpha".
func (p Period) ID(target string) string {
	if p.Kind == KindRange {
		return p.Kind + ":" + p.From.String() + ".." + p.To.String() + ":" + target
	}
	return p.Kind + ":" + p.From.String() + ":" + target
}

// Request selects a report.
type Request struct {
	Period Period
	Target string // "" = every target
}

// Report is one report. Its JSON field names are stable (docs/api.md).
// Lists are never null; a section whose analysis is off is listed in
// Unavailable and left empty.
type Report struct {
	ID          string    `json:"id"`   // Period.ID
	Kind        string    `json:"kind"` // daily, weekly or range
	Target      string    `json:"target"`
	From        string    `json:"from"` // first day, YYYY-MM-DD
	To          string    `json:"to"`   // last day, inclusive
	TimeZone    string    `json:"time_zone"`
	Start       time.Time `json:"start"` // midnight starting From
	End         time.Time `json:"end"`   // midnight after To
	GeneratedAt time.Time `json:"generated_at"`

	Volume Volume `json:"volume"`
	// Peak is the busiest clock hour of the period; null without messages.
	Peak *Peak `json:"peak"`
	// Days are the messages of each day of the period (exact).
	Days []DayCount `json:"days"`
	// Hours are the messages per hour of day (0–23), summed over the
	// period's days, from the stored rollup rows.
	Hours [24]int64 `json:"hours"`
	// RollupsComplete is false when the stored rollup rows (hours, peak,
	// targets, users) do not yet hold every message that the exact day
	// counts do: the index writes them every 2 minutes (or 50,000
	// messages) while a monitor runs.
	RollupsComplete bool `json:"rollups_complete"`
	// Targets are the messages per target in the period, most first
	// (from the rollup rows).
	Targets []TargetCount `json:"targets"`

	NewUsers NewUsers `json:"new_users"`
	// TopUsers are the users seen in the period (first seen before its
	// end, last seen at or after its start) with the most messages, with
	// their all-time counts: the rollups keep no per-period counts per
	// user.
	TopUsers []TopUser `json:"top_users"`
	// Rooms are the period's busiest rooms (at most 10, every message
	// counted), from the user behaviour rollups: "rooms" is Unavailable
	// when analysis_behaviour is off.
	Rooms []RoomCount `json:"rooms"`

	Terms      []Term         `json:"terms"` // trending terms (all targets: terms are counted per room, not per target)
	Sentiment  *Sentiment     `json:"sentiment"`
	Anomalies  []AnomalyEntry `json:"anomalies"` // overlapping the period, newest start first (at most 50)
	Alerts     Alerts         `json:"alerts"`
	Connection Connection     `json:"connection"`

	// Unavailable lists the sections whose analysis is turned off:
	// "terms", "sentiment", "anomalies", "rooms".
	Unavailable []string `json:"unavailable"`
}

// Volume is the period's message count against the previous period's.
type Volume struct {
	Messages     int64    `json:"messages"`
	Previous     int64    `json:"previous"`      // the period of the same length just before
	Delta        int64    `json:"delta"`         // Messages - Previous
	DeltaPercent *float64 `json:"delta_percent"` // null when Previous is 0
	PreviousFrom string   `json:"previous_from"`
	PreviousTo   string   `json:"previous_to"`
}

// Peak is the busiest clock hour.
type Peak struct {
	Date  string    `json:"date"` // YYYY-MM-DD
	Hour  int       `json:"hour"` // 0–23, local
	Start time.Time `json:"start"`
	Count int64     `json:"count"`
}

// DayCount is one day's messages.
type DayCount struct {
	Date  string `json:"date"`
	Count int64  `json:"count"`
}

// RoomCount is one room's messages.
type RoomCount struct {
	Target   string `json:"target"`
	Room     string `json:"room"`
	Messages int64  `json:"messages"`
}

// TargetCount is one target's messages.
type TargetCount struct {
	Target string `json:"target"`
	Count  int64  `json:"count"`
}

// NewUsers are the named users first seen in the period.
type NewUsers struct {
	Count int64    `json:"count"`
	Names []string `json:"names"` // the first 20, earliest first
}

// TopUser is a user seen in the period, with all-time totals.
type TopUser struct {
	User      string    `json:"user"`
	Messages  int64     `json:"messages"`   // all-time activity messages (not system, join, leave)
	FirstSeen time.Time `json:"first_seen"` // all-time
	LastSeen  time.Time `json:"last_seen"`
	New       bool      `json:"new"` // first seen in the period
}

// Term is a trending term.
type Term struct {
	Term     string  `json:"term"`
	Count    uint64  `json:"count"` // at least this many messages of the period had it
	Expected float64 `json:"expected"`
	Score    float64 `json:"score"`
}

// Sentiment sums the period's sentiment rollups (chat messages scored).
type Sentiment struct {
	N            uint64     `json:"n"`
	Pos          uint64     `json:"pos"`
	Neu          uint64     `json:"neu"`
	Neg          uint64     `json:"neg"`
	Average      float64    `json:"average"`
	MostNegative []Negative `json:"most_negative"` // at most 5, lowest first
}

// Negative is one of the period's most negative messages.
type Negative struct {
	ID         int64     `json:"id"`
	Score      float64   `json:"score"`
	Target     string    `json:"target"`
	Room       string    `json:"room"`
	User       string    `json:"user"`
	ReceivedAt time.Time `json:"received_at"`
	Content    string    `json:"content"`
	Deleted    bool      `json:"deleted"` // no longer stored (retention)
}

// AnomalyEntry is one anomaly overlapping the period.
type AnomalyEntry struct {
	Kind        string    `json:"kind"`
	Target      string    `json:"target"`
	Room        string    `json:"room"`
	User        string    `json:"user"`
	Score       float64   `json:"score"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"` // zero while open
	Open        bool      `json:"open"`
	Explanation string    `json:"explanation"`
}

// Alerts are the alerts raised in the period.
type Alerts struct {
	Total  int64             `json:"total"`
	ByRule []store.RuleCount `json:"by_rule"`
}

// Connection is what the connections did in the period.
type Connection struct {
	Sessions       int            `json:"sessions"`         // connected at some time in the period
	EndedWithError int            `json:"ended_with_error"` // ended in the period with an error
	FailedAttempts int64          `json:"failed_attempts"`  // attempts that started no session
	GapSeconds     float64        `json:"gap_seconds"`      // total time not connected, between and after sessions, within the period
	Gaps           []Gap          `json:"gaps"`             // at most 50, longest first
	Errors         []SessionError `json:"errors"`           // at most 50, earliest first
}

// Gap is a time a target was not connected, within the period.
type Gap struct {
	Target  string    `json:"target"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Seconds float64   `json:"seconds"`
}

// SessionError is a session that ended with an error.
type SessionError struct {
	Target         string    `json:"target"`
	SessionID      int64     `json:"session_id"`
	ConnectedAt    time.Time `json:"connected_at"`
	DisconnectedAt time.Time `json:"disconnected_at"`
	CloseCode      int       `json:"close_code"`
	Error          string    `json:"error"`
}

const (
	quarterMs   = 15 * 60 * 1000
	statsWindow = 30 // days in one Stats answer
	maxSessions = 10000
	listMax     = 50
)

// Build builds the report of r. Errors are the store's or the analyses'
// (an analysis turned off is not an error: its section is Unavailable).
func (b *Builder) Build(ctx context.Context, r Request) (*Report, error) {
	loc := b.o.Location
	p, prev := r.Period, r.Period.Previous()
	start, end := p.From.Start(loc), p.To.AddDays(1).Start(loc)
	rep := &Report{ID: p.ID(r.Target), Kind: p.Kind, Target: r.Target, From: p.From.String(), To: p.To.String(),
		TimeZone: zoneName(loc), Start: start, End: end, GeneratedAt: b.o.Now().UTC().Truncate(time.Second),
		Days: []DayCount{}, Targets: []TargetCount{}, TopUsers: []TopUser{}, Rooms: []RoomCount{}, Terms: []Term{}, Anomalies: []AnomalyEntry{},
		Unavailable: []string{}, NewUsers: NewUsers{Names: []string{}},
		Alerts: Alerts{ByRule: []store.RuleCount{}}, Connection: Connection{Gaps: []Gap{}, Errors: []SessionError{}}}

	days, err := b.dayCounts(ctx, r.Target, prev.From, p.To)
	if err != nil {
		return nil, err
	}
	for d := p.From; !p.To.Before(d); d = d.AddDays(1) {
		n := days[d.String()]
		rep.Days = append(rep.Days, DayCount{d.String(), n})
		rep.Volume.Messages += n
	}
	for d := prev.From; !prev.To.Before(d); d = d.AddDays(1) {
		rep.Volume.Previous += days[d.String()]
	}
	v := &rep.Volume
	v.PreviousFrom, v.PreviousTo = prev.From.String(), prev.To.String()
	v.Delta = v.Messages - v.Previous
	if v.Previous > 0 {
		pct := float64(v.Delta) * 100 / float64(v.Previous)
		v.DeltaPercent = &pct
	}

	if err := b.hours(ctx, rep, r.Target, start, end); err != nil {
		return nil, err
	}
	if err := b.users(ctx, rep, r.Target, start, end); err != nil {
		return nil, err
	}
	if err := b.alertsAndConnections(ctx, rep, r.Target, start, end); err != nil {
		return nil, err
	}
	if err := b.analyses(ctx, rep, p, r.Target, start, end); err != nil {
		return nil, err
	}
	return rep, nil
}

// dayCounts returns the exact messages per local day from..to of target,
// from the index rollups (Stats answers 30 days ending at its Now).
func (b *Builder) dayCounts(ctx context.Context, target string, from, to Date) (map[string]int64, error) {
	out := map[string]int64{}
	for last := to; !last.Before(from); last = last.AddDays(-statsWindow) {
		now := last.Start(b.o.Location).Add(12 * time.Hour)
		st, err := b.o.Source.Stats(ctx, store.StatsQuery{Target: target, Now: now})
		if err != nil {
			return nil, fmt.Errorf("report: daily counts: %w", err)
		}
		for _, d := range st.Daily {
			if _, seen := out[d.Date]; !seen {
				out[d.Date] = d.Count
			}
		}
	}
	return out, nil
}

func (b *Builder) hours(ctx context.Context, rep *Report, target string, start, end time.Time) error {
	rows, err := b.o.Store.QuarterCounts(ctx, target, start, end)
	if err != nil {
		return fmt.Errorf("report: hourly counts: %w", err)
	}
	loc := b.o.Location
	type hourKey struct {
		date string
		hour int
	}
	perHour := map[hourKey]int64{}
	perTarget := map[string]int64{}
	var sum int64
	for _, q := range rows {
		t := time.UnixMilli(q.Bucket * quarterMs).In(loc)
		perHour[hourKey{t.Format("2006-01-02"), t.Hour()}] += q.Count
		rep.Hours[t.Hour()] += q.Count
		perTarget[q.Target] += q.Count
		sum += q.Count
	}
	rep.RollupsComplete = sum == rep.Volume.Messages
	var peak *Peak
	for k, n := range perHour {
		if n > 0 && (peak == nil || n > peak.Count || n == peak.Count && (k.date < peak.Date || k.date == peak.Date && k.hour < peak.Hour)) {
			d, _ := ParseDate(k.date)
			peak = &Peak{Date: k.date, Hour: k.hour, Count: n, Start: d.Start(loc).Add(time.Duration(k.hour) * time.Hour)}
		}
	}
	if peak != nil {
		// The clock hour's real start (a DST change shifts it).
		d, _ := ParseDate(peak.Date)
		for t := d.Start(loc); t.Before(d.AddDays(1).Start(loc)); t = t.Add(15 * time.Minute) {
			if t.Hour() == peak.Hour {
				peak.Start = t
				break
			}
		}
		rep.Peak = peak
	}
	if target == "" {
		for t, n := range perTarget {
			rep.Targets = append(rep.Targets, TargetCount{t, n})
		}
		sort.Slice(rep.Targets, func(i, j int) bool {
			a, c := rep.Targets[i], rep.Targets[j]
			return a.Count > c.Count || a.Count == c.Count && a.Target < c.Target
		})
	}
	return nil
}

func (b *Builder) users(ctx context.Context, rep *Report, target string, start, end time.Time) error {
	n, names, err := b.o.Store.NewUsers(ctx, target, start, end, 20)
	if err != nil {
		return fmt.Errorf("report: new users: %w", err)
	}
	rep.NewUsers.Count = n
	if names != nil {
		rep.NewUsers.Names = names
	}
	top, err := b.o.Store.PeriodUsers(ctx, target, start, end, 10)
	if err != nil {
		return fmt.Errorf("report: top users: %w", err)
	}
	for _, u := range top {
		first := time.UnixMilli(u.FirstSeen)
		rep.TopUsers = append(rep.TopUsers, TopUser{User: u.User, Messages: u.Activity, FirstSeen: first.UTC(),
			LastSeen: time.UnixMilli(u.LastSeen).UTC(), New: !first.Before(start) && first.Before(end)})
	}
	return nil
}

func (b *Builder) alertsAndConnections(ctx context.Context, rep *Report, target string, start, end time.Time) error {
	counts, err := b.o.Store.AlertCounts(ctx, target, start, end)
	if err != nil {
		return fmt.Errorf("report: alerts: %w", err)
	}
	for _, c := range counts {
		rep.Alerts.Total += c.Count
	}
	if counts != nil {
		rep.Alerts.ByRule = counts
	}
	c := &rep.Connection
	if c.FailedAttempts, err = b.o.Store.AttemptsBetween(ctx, target, start, end); err != nil {
		return fmt.Errorf("report: connection attempts: %w", err)
	}
	ss, err := b.o.Store.SessionsBetween(ctx, target, start, end, maxSessions)
	if err != nil {
		return fmt.Errorf("report: sessions: %w", err)
	}
	c.Sessions = len(ss)
	now := b.o.Now()
	limit := end
	if now.Before(limit) {
		limit = now
	}
	addGap := func(t string, from, to time.Time) {
		from, to = maxTime(from, start), minTime(to, limit)
		if to.After(from) {
			c.Gaps = append(c.Gaps, Gap{Target: t, From: from.UTC(), To: to.UTC(), Seconds: to.Sub(from).Seconds()})
			c.GapSeconds += to.Sub(from).Seconds()
		}
	}
	for i, s := range ss {
		ended := !s.DisconnectedAt.IsZero()
		if ended && !s.DisconnectedAt.Before(start) && s.DisconnectedAt.Before(end) && s.Error != "" {
			c.EndedWithError++
			if len(c.Errors) < listMax {
				c.Errors = append(c.Errors, SessionError{Target: s.Target, SessionID: s.ID, ConnectedAt: s.ConnectedAt.UTC(),
					DisconnectedAt: s.DisconnectedAt.UTC(), CloseCode: s.CloseCode, Error: s.Error})
			}
		}
		if !ended {
			continue
		}
		if i+1 < len(ss) && ss[i+1].Target == s.Target {
			addGap(s.Target, s.DisconnectedAt, ss[i+1].ConnectedAt)
		} else {
			addGap(s.Target, s.DisconnectedAt, limit) // not connected again within the period
		}
	}
	sort.SliceStable(c.Gaps, func(i, j int) bool { return c.Gaps[i].Seconds > c.Gaps[j].Seconds })
	if len(c.Gaps) > listMax {
		c.Gaps = c.Gaps[:listMax]
	}
	return nil
}

func (b *Builder) analyses(ctx context.Context, rep *Report, p Period, target string, start, end time.Time) error {
	an := b.o.Analysis
	if an == nil {
		rep.Unavailable = append(rep.Unavailable, "terms", "sentiment", "anomalies", "rooms")
		return nil
	}
	off := func(name string, err error) (bool, error) {
		if errors.Is(err, analysis.ErrOff) {
			rep.Unavailable = append(rep.Unavailable, name)
			return true, nil
		}
		if err != nil {
			return true, fmt.Errorf("report: %s: %w", name, err)
		}
		return false, nil
	}
	// Rooms: the busiest of the period, from the behaviour rollups.
	act, err := an.Activity(ctx, analysis.ActivityQuery{Target: target, From: start, To: end, Step: analysis.StepDay})
	if stop, err := off("rooms", err); err != nil {
		return err
	} else if !stop {
		for _, r := range act.Rooms[:min(len(act.Rooms), 10)] {
			rep.Rooms = append(rep.Rooms, RoomCount{Target: r.Target, Room: r.Room, Messages: r.Messages})
		}
	}
	// Terms: each day's trending terms, merged over the period's days by
	// count (a term's count is at least the period's messages with it).
	merged := map[string]*Term{}
	for d := p.From; !p.To.Before(d); d = d.AddDays(1) {
		res, err := an.Terms(ctx, d.day(), "", 20)
		if stop, err := off("terms", err); stop {
			if err != nil {
				return err
			}
			break
		}
		for _, t := range res.Terms {
			m := merged[t.Term]
			if m == nil {
				m = &Term{Term: t.Term}
				merged[t.Term] = m
			}
			m.Count += t.Count
			m.Expected += t.Expected
			m.Score = max(m.Score, t.Score)
		}
	}
	for _, t := range merged {
		rep.Terms = append(rep.Terms, *t)
	}
	sort.Slice(rep.Terms, func(i, j int) bool {
		a, c := rep.Terms[i], rep.Terms[j]
		if p.Kind == KindDaily && a.Score != c.Score {
			return a.Score > c.Score
		}
		return a.Count > c.Count || a.Count == c.Count && a.Term < c.Term
	})
	if len(rep.Terms) > 10 {
		rep.Terms = rep.Terms[:10]
	}

	sres, err := an.Sentiment(ctx, target, "", p.From.day(), p.To.day())
	if stop, err := off("sentiment", err); err != nil {
		return err
	} else if !stop {
		s := &Sentiment{MostNegative: []Negative{}}
		var sum float64
		var neg []analysis.Scored
		for _, d := range sres.Days {
			s.N += d.N
			s.Pos += d.Pos
			s.Neu += d.Neu
			s.Neg += d.Neg
			sum += d.Average * float64(d.N)
			neg = append(neg, d.MostNegative...)
		}
		if s.N > 0 {
			s.Average = sum / float64(s.N)
		}
		sort.SliceStable(neg, func(i, j int) bool { return neg[i].Score < neg[j].Score })
		for _, x := range neg[:min(5, len(neg))] {
			n := Negative{ID: x.ID, Score: x.Score, Room: x.Room}
			m, err := b.o.Source.Message(ctx, x.ID)
			switch {
			case err == nil:
				n.Target, n.Room, n.User, n.ReceivedAt, n.Content = m.Target, m.Room, m.User, m.ReceivedAt.UTC(), m.Content
			case errors.Is(err, store.ErrNotFound):
				n.Deleted = true
			default:
				return fmt.Errorf("report: sentiment message %d: %w", x.ID, err)
			}
			s.MostNegative = append(s.MostNegative, n)
		}
		rep.Sentiment = s
	}

	ares, err := an.Anomalies(ctx, analysis.AnomalyQuery{Query: anomaly.Query{Target: target, From: start, To: end, Limit: listMax}})
	if stop, err := off("anomalies", err); err != nil {
		return err
	} else if !stop {
		for _, a := range ares.Anomalies {
			e := AnomalyEntry{Kind: a.Kind.String(), Target: a.Key.Target, Room: a.Key.Room, User: a.User, Score: a.Score,
				Start: a.Start.UTC(), Open: a.Open, Explanation: a.Explanation}
			if !a.End.IsZero() {
				e.End = a.End.UTC()
			}
			rep.Anomalies = append(rep.Anomalies, e)
		}
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// zoneName names a time zone: its IANA name, or for the machine's zone its
// abbreviation now.
func zoneName(loc *time.Location) string {
	if loc.String() != "Local" {
		return loc.String()
	}
	abbr, _ := time.Now().In(loc).Zone()
	return abbr
}
