package store

import (
	"context"
	"fmt"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

// StatsQuery bounds a statistics request. Zero From/To mean the defaults
// documented on Stats; Now is the reference time (zero = time.Now()).
type StatsQuery struct {
	From, To time.Time
	Target   string
	Room     string // one room only ("": all); answered by a full scan (StatsScan)
	Now      time.Time
}

// DayCount is the number of messages on one local calendar day.
type DayCount struct {
	Date  string // YYYY-MM-DD in the store's time zone
	Count int64
}

// UserCount is one row of the leaderboard.
type UserCount struct {
	User  string
	Count int64
}

// Stats are the dashboard's numbers.
//
//   - Total: all messages (within From/To when given).
//   - Today: messages since local midnight.
//   - ActiveUsers: distinct named users in the 24 hours before Now.
//   - Daily: one entry per local day for the 30 days ending today (or the
//     days of From/To), zeros included.
//   - Hourly: messages per local hour of day over the same days.
//   - TopUsers: the 10 named users with most messages (all time, or within
//     From/To).
type Stats struct {
	Total       int64
	Today       int64
	ActiveUsers int64
	Daily       []DayCount
	Hourly      [24]int64
	TopUsers    []UserCount
}

// quarter is the statistics bucket: 15 minutes, so every real time zone
// offset (all are multiples of 15 min) maps buckets to local hours exactly.
const quarterMs = 15 * 60 * 1000

func (q *StatsQuery) normalise(loc *time.Location) (dayStart, dayEnd time.Time) {
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	now := q.Now.In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	dayStart, dayEnd = today.AddDate(0, 0, -29), today.AddDate(0, 0, 1)
	if !q.From.IsZero() {
		f := q.From.In(loc)
		dayStart = time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc)
	}
	if !q.To.IsZero() {
		t := q.To.In(loc)
		dayEnd = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		if dayEnd.Before(q.To) {
			dayEnd = dayEnd.AddDate(0, 0, 1)
		}
	}
	return dayStart, dayEnd
}

// StatsScan computes Stats directly from the messages table. It is exact
// and simple, and slow on big tables: the index answers a from/to-bounded
// request with it, and the reference that its rollups are tested against.
func (s *Store) StatsScan(ctx context.Context, q StatsQuery) (Stats, error) {
	dayStart, dayEnd := q.normalise(s.loc)
	var st Stats
	base := MessageQuery{Target: q.Target, Room: q.Room, From: q.From, To: q.To}
	var err error
	if st.Total, err = s.CountMessages(ctx, base); err != nil {
		return st, err
	}
	now := q.Now.In(s.loc)
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, s.loc)
	if st.Today, err = s.CountMessages(ctx, MessageQuery{Target: q.Target, Room: q.Room, From: midnight}); err != nil {
		return st, err
	}
	where, args := MessageQuery{Target: q.Target, Room: q.Room, From: q.Now.Add(-24 * time.Hour), To: q.Now.Add(time.Millisecond)}.where()
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(DISTINCT username) FROM messages`+where+` AND username <> '' AND `+activitySQL, args...).Scan(&st.ActiveUsers); err != nil {
		return st, fmt.Errorf("store: active users: %w", err)
	}
	where, args = MessageQuery{Target: q.Target, Room: q.Room, From: dayStart, To: dayEnd}.where()
	rows, err := s.r.QueryContext(ctx, `SELECT received_at / ? AS b, COUNT(*) FROM messages`+where+` GROUP BY b`, append([]any{quarterMs}, args...)...)
	if err != nil {
		return st, fmt.Errorf("store: time buckets: %w", err)
	}
	buckets := map[int64]int64{}
	for rows.Next() {
		var b, n int64
		if err := rows.Scan(&b, &n); err != nil {
			rows.Close()
			return st, fmt.Errorf("store: time buckets: %w", err)
		}
		buckets[b] = n
	}
	rows.Close()
	st.Daily, st.Hourly = foldBuckets(buckets, dayStart, dayEnd, s.loc)

	where, args = base.where()
	cond := " WHERE username <> '' AND " + activitySQL
	if where != "" {
		cond = where + " AND username <> '' AND " + activitySQL
	}
	rows, err = s.r.QueryContext(ctx, `SELECT username, COUNT(*) AS n FROM messages`+cond+` GROUP BY username ORDER BY n DESC, username LIMIT 10`, args...)
	if err != nil {
		return st, fmt.Errorf("store: top users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u UserCount
		if err := rows.Scan(&u.User, &u.Count); err != nil {
			return st, fmt.Errorf("store: top users: %w", err)
		}
		st.TopUsers = append(st.TopUsers, u)
	}
	return st, rows.Err()
}

// foldBuckets turns 15-minute bucket counts into local days and hours.
func foldBuckets(buckets map[int64]int64, dayStart, dayEnd time.Time, loc *time.Location) ([]DayCount, [24]int64) {
	var hourly [24]int64
	idx := map[string]int{}
	var daily []DayCount
	for d := dayStart; d.Before(dayEnd); d = d.AddDate(0, 0, 1) {
		key := d.Format("2006-01-02")
		idx[key] = len(daily)
		daily = append(daily, DayCount{Date: key})
	}
	for b, n := range buckets {
		t := time.UnixMilli(b * quarterMs).In(loc)
		if i, ok := idx[t.Format("2006-01-02")]; ok {
			daily[i].Count += n
			hourly[t.Hour()] += n
		}
	}
	return daily, hourly
}

// UserInfo summarises one user.
type UserInfo struct {
	User        string
	FirstSeen   time.Time
	LastSeen    time.Time
	Count       int64
	ActiveHours [24]int64 // messages per local hour of day
	Recent      []message.Message
}
