package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// The reads of package report: the statistics rollups as the index last
// stored them (rollup_quarter, rollup_users), sessions and connection
// attempts of a time range. None reads the messages table. The rollup
// rows lag the index's in-memory rollups by what it has not flushed yet
// (index.Options.FlushInterval, 2 min by default, in a running monitor);
// report compares their sum with the exact counts and says when they lag.
// Portable SQL: `?` placeholders, the same text on SQLite and PostgreSQL.

// QuarterCounts returns the stored rollup rows of the 15-minute buckets
// from from (inclusive) to to (exclusive), of target or, for target "",
// every target (one row per target and bucket either way), ordered by
// bucket then target. MinID and MaxID are left zero.
func (s *Store) QuarterCounts(ctx context.Context, target string, from, to time.Time) ([]QuarterRow, error) {
	q := `SELECT target, bucket, count FROM rollup_quarter WHERE bucket >= ? AND bucket < ?`
	args := []any{from.UnixMilli() / quarterMs, (to.UnixMilli() + quarterMs - 1) / quarterMs}
	if target != "" {
		q += ` AND target = ?`
		args = append(args, target)
	}
	q += ` ORDER BY bucket, target`
	return queryAll(ctx, s.r, "report quarters", q, args, func(r *sql.Rows, row *QuarterRow) error {
		return r.Scan(&row.Target, &row.Bucket, &row.Count)
	})
}

// NewUsers returns how many named users were first seen (their first
// message, as the user rollups hold it) in [from, to) on target, or on
// any target for target "" (a user first seen on one target and later on
// another is new once, at the earlier time), and up to limit of their
// names, earliest first.
func (s *Store) NewUsers(ctx context.Context, target string, from, to time.Time, limit int) (int64, []string, error) {
	var inner string
	var args []any
	if target != "" {
		inner = `SELECT username, first_seen FROM rollup_users WHERE target = ? AND first_seen >= ? AND first_seen < ?`
		args = []any{target, from.UnixMilli(), to.UnixMilli()}
	} else {
		inner = `SELECT username, MIN(first_seen) AS first_seen FROM rollup_users GROUP BY username HAVING MIN(first_seen) >= ? AND MIN(first_seen) < ?`
		args = []any{from.UnixMilli(), to.UnixMilli()}
	}
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+inner+`) nu`, args...).Scan(&n); err != nil {
		return 0, nil, fmt.Errorf("store: report new users: %w", err)
	}
	if limit <= 0 || n == 0 {
		return n, nil, nil
	}
	names, err := queryAll(ctx, s.r, "report new users", `SELECT username FROM (`+inner+`) nu ORDER BY first_seen, username LIMIT ?`,
		append(args, limit), func(r *sql.Rows, name *string) error { return r.Scan(name) })
	return n, names, err
}

// PeriodUsers returns up to limit named users of target ("": summed over
// every target) who were seen in or after [from, to): first seen before
// to and last seen at or after from, with the most activity messages
// (message.IsActivity) first, ties by name. Their Count, Activity,
// FirstSeen and LastSeen are all-time totals: the rollups keep no
// per-period counts per user.
func (s *Store) PeriodUsers(ctx context.Context, target string, from, to time.Time, limit int) ([]UserRow, error) {
	var q string
	var args []any
	if target != "" {
		q = `SELECT target, username, count, first_seen, last_seen, activity FROM rollup_users
			WHERE target = ? AND first_seen < ? AND last_seen >= ? AND activity > 0
			ORDER BY activity DESC, username LIMIT ?`
		args = []any{target, to.UnixMilli(), from.UnixMilli(), limit}
	} else {
		q = `SELECT '', username, SUM(count), MIN(first_seen), MAX(last_seen), SUM(activity) FROM rollup_users
			GROUP BY username HAVING MIN(first_seen) < ? AND MAX(last_seen) >= ? AND SUM(activity) > 0
			ORDER BY SUM(activity) DESC, username LIMIT ?`
		args = []any{to.UnixMilli(), from.UnixMilli(), limit}
	}
	return queryAll(ctx, s.r, "report users", q, args, func(r *sql.Rows, u *UserRow) error {
		return r.Scan(&u.Target, &u.User, &u.Count, &u.FirstSeen, &u.LastSeen, &u.Activity)
	})
}

// SessionsBetween returns the sessions of target ("": every target) that
// were connected at some time in [from, to) — connected before to, and
// not disconnected before from — ordered by target and connection time.
// At most limit are returned (the earliest).
func (s *Store) SessionsBetween(ctx context.Context, target string, from, to time.Time, limit int) ([]Session, error) {
	q := `SELECT id, target, url, connected_at, disconnected_at, close_code, close_reason, messages, error, protocol, control_frames FROM sessions
		WHERE connected_at < ? AND (disconnected_at IS NULL OR disconnected_at >= ?)`
	args := []any{to.UnixMilli(), from.UnixMilli()}
	if target != "" {
		q += ` AND target = ?`
		args = append(args, target)
	}
	q += ` ORDER BY target, connected_at, id LIMIT ?`
	return queryAll(ctx, s.r, "report sessions", q, append(args, limit), scanSession)
}

// AttemptsBetween counts the failed connection attempts (no session
// started) of target ("": every target) in [from, to). The store keeps
// only the newest MaxAttempts, so an old period may count fewer.
func (s *Store) AttemptsBetween(ctx context.Context, target string, from, to time.Time) (int64, error) {
	q := `SELECT COUNT(*) FROM connection_attempts WHERE at >= ? AND at < ?`
	args := []any{from.UnixMilli(), to.UnixMilli()}
	if target != "" {
		q += ` AND target = ?`
		args = append(args, target)
	}
	var n int64
	if err := s.r.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: report attempts: %w", err)
	}
	return n, nil
}

// RuleCount is how many alerts one rule raised.
type RuleCount struct {
	Rule, RuleType string
	Count          int64
}

// AlertCounts returns how many alerts each rule raised in [from, to) on
// target ("": every target), most first, ties by rule name.
func (s *Store) AlertCounts(ctx context.Context, target string, from, to time.Time) ([]RuleCount, error) {
	q := `SELECT rule, rule_type, COUNT(*) FROM alerts WHERE at >= ? AND at < ?`
	args := []any{from.UnixMilli(), to.UnixMilli()}
	if target != "" {
		q += ` AND target = ?`
		args = append(args, target)
	}
	q += ` GROUP BY rule, rule_type ORDER BY COUNT(*) DESC, rule`
	return queryAll(ctx, s.r, "report alerts", q, args, func(r *sql.Rows, c *RuleCount) error {
		return r.Scan(&c.Rule, &c.RuleType, &c.Count)
	})
}
