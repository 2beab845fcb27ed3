package store

// User behaviour rollups (migrations 11 and 12): the tables the behaviour analysis
// (internal/analysis) keeps behind ingest and the queries that answer the
// users and activity endpoints from them. Hours are local hours: a
// message's wall-clock time in the analysis's zone as Unix milliseconds
// divided by 3,600,000, so a day is 24 of them and a heatmap cell is an
// hour modulo the week. Portable SQL (`?` placeholders, CASE instead of
// MIN/MAX/LEAST/GREATEST of two values).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// BehaviourUserDelta is what a flush adds to one user's row: messages, the
// first and last of their times (Unix ms) and the sessions among them,
// the first message counting as one (the store merges it into the stored
// session when it follows the stored last message within the gap).
type BehaviourUserDelta struct {
	Messages, FirstSeen, LastSeen, Sessions int64
}

// UserHour keys a user's messages in a local hour.
type UserHour struct {
	User string
	Hour int64
}

// UserRoom keys a user's messages in a room of a target.
type UserRoom struct {
	User, Target, Room string
}

// RoomDelta is a user's messages in a room and the last one's time.
type RoomDelta struct {
	Count, LastSeen int64
}

// UserPair keys how often Second spoke right after First.
type UserPair struct {
	First, Second string
}

// RoomHour keys a room's messages in a local hour.
type RoomHour struct {
	Target, Room string
	Hour         int64
}

// TargetMinute keys a target's messages in a UTC minute (Unix ms / 60,000).
type TargetMinute struct {
	Target string
	Minute int64
}

// BehaviourFlush is one flush of the behaviour rollups: deltas to add.
type BehaviourFlush struct {
	Users     map[string]*BehaviourUserDelta
	UserHours map[UserHour]int64
	UserRooms map[UserRoom]*RoomDelta
	Pairs     map[UserPair]int64
	RoomHours map[RoomHour]int64
	// TargetHours are every message of a target per local hour (its
	// rooms' sum: kept apart, as the whole chat's series read it).
	TargetHours map[RoomHour]int64 // Room ""
	// TargetMinutes are every message of a target per UTC minute.
	TargetMinutes map[TargetMinute]int64
	// GapMs: a user's message more than this after their previous one
	// starts a new session.
	GapMs int64
}

// BehaviourUserAfter is a user's row after a flush, and the last time
// stored before it (PrevSeen, 0 for a user new in this flush).
type BehaviourUserAfter struct {
	User                          string
	Messages, FirstSeen, PrevSeen int64
}

// upsertChunk bounds the rows of one multi-row statement.
const upsertChunk = 200

// FlushBehaviour adds f to the rollups and saves analysis name's state
// with appliedID in one transaction, so every message is in the rollups
// exactly once. state is given every user row the flush changed (as it is
// after it) and returns the state to save; an error from it rolls the
// flush back.
func (s *Store) FlushBehaviour(ctx context.Context, f *BehaviourFlush, name string, appliedID int64,
	state func([]BehaviourUserAfter) ([]byte, error)) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: behaviour flush: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
			err = fmt.Errorf("store: behaviour flush: %w", err)
		}
	}()
	after := make([]BehaviourUserAfter, 0, len(f.Users))
	names := make([]string, 0, len(f.Users))
	for u := range f.Users {
		names = append(names, u)
	}
	sort.Strings(names) // the same lock order on every flush (PostgreSQL)
	// The user rows, and each one's id: the other tables key users by it
	// (an integer key costs a b-tree a fraction of a name's).
	ids := make(map[string]int64, len(names))
	if err := chunked(ctx, tx, `INSERT INTO beh_users (username, messages, first_seen, last_seen, prev_seen, sessions) VALUES `,
		`(?, ?, ?, ?, 0, ?)`, len(names), func(i int, a []any) []any {
			d := f.Users[names[i]]
			return append(a, names[i], d.Messages, d.FirstSeen, d.LastSeen, d.Sessions)
		}, ` ON CONFLICT (username) DO UPDATE SET
			messages = beh_users.messages + excluded.messages,
			first_seen = CASE WHEN excluded.first_seen < beh_users.first_seen THEN excluded.first_seen ELSE beh_users.first_seen END,
			last_seen = CASE WHEN excluded.last_seen > beh_users.last_seen THEN excluded.last_seen ELSE beh_users.last_seen END,
			prev_seen = beh_users.last_seen,
			sessions = beh_users.sessions + excluded.sessions - CASE WHEN excluded.first_seen - beh_users.last_seen <= ? THEN 1 ELSE 0 END
			RETURNING id, username, messages, first_seen, prev_seen`, []any{f.GapMs}, func(rows *sql.Rows) error {
			var a BehaviourUserAfter
			var id int64
			if err := rows.Scan(&id, &a.User, &a.Messages, &a.FirstSeen, &a.PrevSeen); err != nil {
				return err
			}
			ids[a.User] = id
			after = append(after, a)
			return nil
		}); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	// A pair's first speaker may have spoken in an earlier flush only:
	// their row is stored.
	var earlier []string
	for k := range f.Pairs {
		if _, ok := ids[k.First]; !ok {
			ids[k.First] = 0
			earlier = append(earlier, k.First)
		}
	}
	sort.Strings(earlier)
	if err := chunked(ctx, tx, `SELECT id, username FROM beh_users WHERE username IN (`, `?`, len(earlier),
		func(i int, a []any) []any { return append(a, earlier[i]) }, `)`, nil, func(rows *sql.Rows) error {
			var id int64
			var u string
			if err := rows.Scan(&id, &u); err != nil {
				return err
			}
			ids[u] = id
			return nil
		}); err != nil {
		return fmt.Errorf("earlier users: %w", err)
	}
	for _, u := range earlier {
		if ids[u] == 0 {
			return fmt.Errorf("pairs: user %q spoke before this flush but has no row", u)
		}
	}

	type idHour struct{ user, hour, count int64 }
	hours := make([]idHour, 0, len(f.UserHours))
	for k, n := range f.UserHours {
		id, ok := ids[k.User]
		if !ok {
			return fmt.Errorf("user hours: user %q has no delta in this flush", k.User)
		}
		hours = append(hours, idHour{id, k.Hour, n})
	}
	sort.Slice(hours, func(i, j int) bool {
		if hours[i].user != hours[j].user {
			return hours[i].user < hours[j].user
		}
		return hours[i].hour < hours[j].hour
	})
	if err := chunked(ctx, tx, `INSERT INTO beh_user_hours (user_id, hour, count) VALUES `, `(?, ?, ?)`, len(hours),
		func(i int, a []any) []any { return append(a, hours[i].user, hours[i].hour, hours[i].count) },
		` ON CONFLICT (user_id, hour) DO UPDATE SET count = beh_user_hours.count + excluded.count`, nil, nil); err != nil {
		return fmt.Errorf("user hours: %w", err)
	}

	type idRoom struct {
		user            int64
		target, room    string
		count, lastSeen int64
	}
	rooms := make([]idRoom, 0, len(f.UserRooms))
	for k, d := range f.UserRooms {
		id, ok := ids[k.User]
		if !ok {
			return fmt.Errorf("user rooms: user %q has no delta in this flush", k.User)
		}
		rooms = append(rooms, idRoom{id, k.Target, k.Room, d.Count, d.LastSeen})
	}
	sort.Slice(rooms, func(i, j int) bool {
		a, b := &rooms[i], &rooms[j]
		if a.user != b.user {
			return a.user < b.user
		}
		if a.target != b.target {
			return a.target < b.target
		}
		return a.room < b.room
	})
	if err := chunked(ctx, tx, `INSERT INTO beh_user_rooms (user_id, target, room, count, last_seen) VALUES `, `(?, ?, ?, ?, ?)`, len(rooms),
		func(i int, a []any) []any {
			r := &rooms[i]
			return append(a, r.user, r.target, r.room, r.count, r.lastSeen)
		},
		` ON CONFLICT (user_id, target, room) DO UPDATE SET count = beh_user_rooms.count + excluded.count,
			last_seen = CASE WHEN excluded.last_seen > beh_user_rooms.last_seen THEN excluded.last_seen ELSE beh_user_rooms.last_seen END`, nil, nil); err != nil {
		return fmt.Errorf("user rooms: %w", err)
	}

	type idPair struct{ first, second, count int64 }
	pairs := make([]idPair, 0, len(f.Pairs))
	for k, n := range f.Pairs {
		second, ok := ids[k.Second]
		if !ok {
			return fmt.Errorf("pairs: user %q has no delta in this flush", k.Second)
		}
		pairs = append(pairs, idPair{ids[k.First], second, n})
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].first != pairs[j].first {
			return pairs[i].first < pairs[j].first
		}
		return pairs[i].second < pairs[j].second
	})
	if err := chunked(ctx, tx, `INSERT INTO beh_pairs (first_id, second_id, count) VALUES `, `(?, ?, ?)`, len(pairs),
		func(i int, a []any) []any { return append(a, pairs[i].first, pairs[i].second, pairs[i].count) },
		` ON CONFLICT (first_id, second_id) DO UPDATE SET count = beh_pairs.count + excluded.count`, nil, nil); err != nil {
		return fmt.Errorf("pairs: %w", err)
	}

	rh := make([]RoomHour, 0, len(f.RoomHours))
	for k := range f.RoomHours {
		rh = append(rh, k)
	}
	sort.Slice(rh, func(i, j int) bool {
		a, b := rh[i], rh[j]
		if a.Room != b.Room {
			return a.Room < b.Room
		}
		if a.Target != b.Target {
			return a.Target < b.Target
		}
		return a.Hour < b.Hour
	})
	if err := chunked(ctx, tx, `INSERT INTO beh_room_hours (room, target, hour, count) VALUES `, `(?, ?, ?, ?)`, len(rh),
		func(i int, a []any) []any { return append(a, rh[i].Room, rh[i].Target, rh[i].Hour, f.RoomHours[rh[i]]) },
		` ON CONFLICT (room, target, hour) DO UPDATE SET count = beh_room_hours.count + excluded.count`, nil, nil); err != nil {
		return fmt.Errorf("room hours: %w", err)
	}

	th := make([]RoomHour, 0, len(f.TargetHours))
	for k := range f.TargetHours {
		th = append(th, k)
	}
	sort.Slice(th, func(i, j int) bool {
		if th[i].Hour != th[j].Hour {
			return th[i].Hour < th[j].Hour
		}
		return th[i].Target < th[j].Target
	})
	if err := chunked(ctx, tx, `INSERT INTO beh_target_hours (hour, target, count) VALUES `, `(?, ?, ?)`, len(th),
		func(i int, a []any) []any { return append(a, th[i].Hour, th[i].Target, f.TargetHours[th[i]]) },
		` ON CONFLICT (hour, target) DO UPDATE SET count = beh_target_hours.count + excluded.count`, nil, nil); err != nil {
		return fmt.Errorf("target hours: %w", err)
	}

	tm := make([]TargetMinute, 0, len(f.TargetMinutes))
	for k := range f.TargetMinutes {
		tm = append(tm, k)
	}
	sort.Slice(tm, func(i, j int) bool {
		if tm[i].Minute != tm[j].Minute {
			return tm[i].Minute < tm[j].Minute
		}
		return tm[i].Target < tm[j].Target
	})
	if err := chunked(ctx, tx, `INSERT INTO beh_target_minutes (minute, target, count) VALUES `, `(?, ?, ?)`, len(tm),
		func(i int, a []any) []any { return append(a, tm[i].Minute, tm[i].Target, f.TargetMinutes[tm[i]]) },
		` ON CONFLICT (minute, target) DO UPDATE SET count = beh_target_minutes.count + excluded.count`, nil, nil); err != nil {
		return fmt.Errorf("target minutes: %w", err)
	}

	data, err := state(after)
	if err != nil {
		return err
	}
	if data == nil {
		data = []byte{}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO analysis_state (name, applied_id, data) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET applied_id = excluded.applied_id, data = excluded.data`, name, appliedID, data); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return tx.Commit()
}

// chunked runs prefix + rows of one (placeholders, comma-separated) +
// suffix, then the arguments tail, over n rows in chunks of upsertChunk;
// scan, when not nil, reads each chunk's result rows. The statement of a
// whole chunk is prepared once (a flush runs it hundreds of times, and
// parsing a statement of 200 rows costs as much as running it).
func chunked(ctx context.Context, tx *dbTx, prefix, one string, n int, row func(i int, a []any) []any, suffix string,
	tail []any, scan func(*sql.Rows) error) error {
	text := func(rows int) string {
		var b strings.Builder
		b.WriteString(prefix)
		for i := range rows {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(one)
		}
		b.WriteString(suffix)
		return b.String()
	}
	var full *dbStmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	for lo := 0; lo < n; lo += upsertChunk {
		hi := min(n, lo+upsertChunk)
		args := make([]any, 0, (hi-lo)*strings.Count(one, "?")+len(tail))
		for i := lo; i < hi; i++ {
			args = row(i, args)
		}
		args = append(args, tail...)
		var rows *sql.Rows
		var err error
		switch {
		case hi-lo == upsertChunk:
			if full == nil {
				if full, err = tx.PrepareContext(ctx, text(upsertChunk)); err != nil {
					return err
				}
			}
			if scan == nil {
				_, err = full.ExecContext(ctx, args...)
			} else {
				rows, err = full.QueryContext(ctx, args...)
			}
		case scan == nil:
			_, err = tx.ExecContext(ctx, text(hi-lo), args...)
		default:
			rows, err = tx.QueryContext(ctx, text(hi-lo), args...)
		}
		if err != nil {
			return err
		}
		if rows != nil {
			for rows.Next() {
				if err := scan(rows); err != nil {
					rows.Close()
					return err
				}
			}
			if err := rows.Close(); err != nil {
				return err
			}
		}
	}
	return nil
}

// ResetBehaviour empties the behaviour rollups and removes analysis
// name's state (they are rebuilt from the messages).
func (s *Store) ResetBehaviour(ctx context.Context, name string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: reset behaviour: %w", err)
	}
	for _, q := range []string{`DELETE FROM beh_users`, `DELETE FROM beh_user_hours`, `DELETE FROM beh_user_rooms`,
		`DELETE FROM beh_pairs`, `DELETE FROM beh_room_hours`, `DELETE FROM beh_target_hours`,
		`DELETE FROM beh_target_minutes`} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("store: reset behaviour: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM analysis_state WHERE name = ?`, name); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("store: reset behaviour: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: reset behaviour: %w", err)
	}
	return nil
}

// BehaviourUser is one user's row.
type BehaviourUser struct {
	User                string
	Messages            int64
	FirstSeen, LastSeen time.Time
	Sessions            int64
}

// User list orders.
const (
	SortMessages  = "messages"
	SortLastSeen  = "last_seen"
	SortFirstSeen = "first_seen"
	SortName      = "name"
)

// BehaviourUsersQuery pages through the users: Sort is one of the Sort
// constants, Desc the direction; after a page, AfterValue and AfterUser
// are its last row's sort value (unused for SortName) and name.
type BehaviourUsersQuery struct {
	Contains   string // a substring of the name (case-sensitive); "": all
	Sort       string
	Desc       bool
	Limit      int
	After      bool
	AfterValue int64
	AfterUser  string
}

// BehaviourUsers returns a page of users in the query's order (the
// order's index walked from the cursor; a Contains filter is checked on
// the rows walked, so a rare substring walks many: internal/analysis
// reads the rows of a rare one by id, BehaviourUsersByID).
func (s *Store) BehaviourUsers(ctx context.Context, q BehaviourUsersQuery) ([]BehaviourUser, error) {
	col := map[string]string{SortMessages: "messages", SortLastSeen: "last_seen", SortFirstSeen: "first_seen", SortName: ""}
	c, ok := col[q.Sort]
	if !ok {
		return nil, fmt.Errorf("store: unknown user order %q", q.Sort)
	}
	var conds []string
	var args []any
	op, dir := ">", "ASC"
	if q.Desc {
		op, dir = "<", "DESC"
	}
	if q.Contains != "" {
		if s.d.name == "sqlite" {
			conds = append(conds, "instr(username, ?) > 0")
		} else {
			conds = append(conds, "strpos(username, ?) > 0")
		}
		args = append(args, q.Contains)
	}
	order := "username " + dir
	if q.After {
		if c == "" {
			conds = append(conds, "username "+op+" ?")
			args = append(args, q.AfterUser)
		} else {
			// A row value: both databases walk the (column, username)
			// index from it (an OR of the two conditions is a scan).
			conds = append(conds, "("+c+", username) "+op+" (?, ?)")
			args = append(args, q.AfterValue, q.AfterUser)
		}
	}
	if c != "" {
		order = c + " " + dir + ", " + order
	}
	query := `SELECT username, messages, first_seen, last_seen, sessions FROM beh_users`
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	query += " ORDER BY " + order + " LIMIT ?"
	args = append(args, q.Limit)
	return queryAll(ctx, s.r, "behaviour users", query, args, scanBehaviourUser)
}

// BehaviourUserRow returns one user's row; ok is false when there is none.
func (s *Store) BehaviourUserRow(ctx context.Context, name string) (u BehaviourUser, ok bool, err error) {
	var first, last int64
	err = s.r.QueryRowContext(ctx, `SELECT username, messages, first_seen, last_seen, sessions FROM beh_users WHERE username = ?`, name).
		Scan(&u.User, &u.Messages, &first, &last, &u.Sessions)
	if errors.Is(err, sql.ErrNoRows) {
		return u, false, nil
	}
	if err != nil {
		return u, false, fmt.Errorf("store: behaviour user: %w", err)
	}
	u.FirstSeen, u.LastSeen = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
	return u, true, nil
}

// HourCount is a count in a local hour.
type HourCount struct {
	Hour, Count int64
}

// BehaviourUserHours returns a user's messages per local hour, every hour
// they spoke in, in order.
func (s *Store) BehaviourUserHours(ctx context.Context, name string) ([]HourCount, error) {
	return queryAll(ctx, s.r, "behaviour user hours", `SELECT hour, count FROM beh_user_hours WHERE user_id = (SELECT id FROM beh_users WHERE username = ?) ORDER BY hour`,
		[]any{name}, func(r *sql.Rows, h *HourCount) error { return r.Scan(&h.Hour, &h.Count) })
}

// BehaviourRoom is a user's messages in one room.
type BehaviourRoom struct {
	Target, Room string
	Messages     int64
	LastSeen     time.Time
}

// BehaviourUserRooms returns the rooms a user spoke in, most messages
// first, at most limit.
func (s *Store) BehaviourUserRooms(ctx context.Context, name string, limit int) ([]BehaviourRoom, error) {
	return queryAll(ctx, s.r, "behaviour user rooms",
		`SELECT target, room, count, last_seen FROM beh_user_rooms WHERE user_id = (SELECT id FROM beh_users WHERE username = ?)
			ORDER BY count DESC, target, room LIMIT ?`,
		[]any{name, limit}, func(r *sql.Rows, b *BehaviourRoom) error {
			var last int64
			if err := r.Scan(&b.Target, &b.Room, &b.Messages, &last); err != nil {
				return err
			}
			b.LastSeen = time.UnixMilli(last).UTC()
			return nil
		})
}

// BehaviourNeighbour is a user and how often they spoke next to another.
type BehaviourNeighbour struct {
	User  string
	Count int64
}

// BehaviourNeighbours returns who most often spoke right before name
// (before) and right after them (after), at most limit of each.
func (s *Store) BehaviourNeighbours(ctx context.Context, name string, limit int) (before, after []BehaviourNeighbour, err error) {
	if limit <= 0 {
		return nil, nil, nil
	}
	scan := func(r *sql.Rows, n *BehaviourNeighbour) error { return r.Scan(&n.User, &n.Count) }
	// A busy user has pairs with a large part of the chat: the names are
	// joined only to the pairs as frequent as the limit-th (the page and
	// its ties), not to all of them.
	q := func(me, other string) string {
		return `WITH p AS (SELECT ` + other + ` AS other, count FROM beh_pairs WHERE ` + me + ` = (SELECT id FROM beh_users WHERE username = ?))
			SELECT u.username, p.count FROM p JOIN beh_users u ON u.id = p.other
			WHERE p.count >= COALESCE((SELECT count FROM p ORDER BY count DESC LIMIT 1 OFFSET ?), 0)
			ORDER BY p.count DESC, u.username LIMIT ?`
	}
	if before, err = queryAll(ctx, s.r, "behaviour neighbours", q("second_id", "first_id"), []any{name, limit - 1, limit}, scan); err != nil {
		return nil, nil, err
	}
	after, err = queryAll(ctx, s.r, "behaviour neighbours", q("first_id", "second_id"), []any{name, limit - 1, limit}, scan)
	return before, after, err
}

// BehaviourRoomHours returns the messages per local hour in [from, to) of
// room on target ("" = every target with a room of that name), summed.
func (s *Store) BehaviourRoomHours(ctx context.Context, target, room string, from, to int64) ([]HourCount, error) {
	q := `SELECT hour, SUM(count) FROM beh_room_hours WHERE room = ? AND hour >= ? AND hour < ?`
	args := []any{room, from, to}
	if target != "" {
		q += ` AND target = ?`
		args = append(args, target)
	}
	q += ` GROUP BY hour ORDER BY hour`
	return queryAll(ctx, s.r, "behaviour room hours", q, args, func(r *sql.Rows, h *HourCount) error { return r.Scan(&h.Hour, &h.Count) })
}

// BehaviourTargetHours returns the messages per local hour in [from, to)
// of target ("" = all targets, summed).
func (s *Store) BehaviourTargetHours(ctx context.Context, target string, from, to int64) ([]HourCount, error) {
	q := `SELECT hour, SUM(count) FROM beh_target_hours WHERE hour >= ? AND hour < ?`
	args := []any{from, to}
	if target != "" {
		q += ` AND target = ?`
		args = append(args, target)
	}
	q += ` GROUP BY hour ORDER BY hour`
	return queryAll(ctx, s.r, "behaviour target hours", q, args, func(r *sql.Rows, h *HourCount) error { return r.Scan(&h.Hour, &h.Count) })
}

// BehaviourTopRooms returns the rooms with most messages in the local
// hours [from, to), of target ("" = all), at most limit.
func (s *Store) BehaviourTopRooms(ctx context.Context, target string, from, to int64, limit int) ([]BehaviourRoom, error) {
	q := `SELECT target, room, SUM(count) AS n FROM beh_room_hours WHERE hour >= ? AND hour < ?`
	args := []any{from, to}
	if target != "" {
		q += ` AND target = ?`
		args = append(args, target)
	}
	q += ` GROUP BY target, room ORDER BY n DESC, target, room LIMIT ?`
	args = append(args, limit)
	return queryAll(ctx, s.r, "behaviour top rooms", q, args, func(r *sql.Rows, b *BehaviourRoom) error {
		return r.Scan(&b.Target, &b.Room, &b.Messages)
	})
}

// BehaviourTopMessages returns the messages of the n users with most.
func (s *Store) BehaviourTopMessages(ctx context.Context, n int64) (int64, error) {
	var v sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT SUM(messages) FROM (SELECT messages FROM beh_users ORDER BY messages DESC LIMIT ?) t`, n).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: behaviour top users: %w", err)
	}
	return v.Int64, nil
}

// BehaviourTargetMinutes returns the messages per UTC minute in [from,
// to) (Unix ms / 60,000) of target ("" = all targets, summed).
func (s *Store) BehaviourTargetMinutes(ctx context.Context, target string, from, to int64) ([]MinuteCount, error) {
	q := `SELECT minute, SUM(count) FROM beh_target_minutes WHERE minute >= ? AND minute < ?`
	args := []any{from, to}
	if target != "" {
		q += ` AND target = ?`
		args = append(args, target)
	}
	q += ` GROUP BY minute ORDER BY minute`
	return queryAll(ctx, s.r, "behaviour target minutes", q, args, func(r *sql.Rows, m *MinuteCount) error { return r.Scan(&m.Minute, &m.Count) })
}

// MinuteCount is a count in a minute (Unix ms / 60,000).
type MinuteCount struct {
	Minute, Count int64
}

// MinuteCounts counts the messages per minute received in [from, to), of
// target, room and user where given, by scanning the messages of that
// time: for short ranges. The ids scanned are bounded by the 15-minute
// rollups the index has written (messages after those, not yet in a
// written rollup, are scanned to the newest); ids follow arrival, so a
// message stored out of order by far (another collector's, late) can be
// missed.
func (s *Store) MinuteCounts(ctx context.Context, target, room, user string, from, to time.Time) ([]MinuteCount, error) {
	fromB, toB := from.UnixMilli()/quarterMs, (to.UnixMilli()+quarterMs-1)/quarterMs
	var lo, hi sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(
			(SELECT MIN(min_id) FROM rollup_quarter WHERE bucket >= ? AND bucket < ?),
			(SELECT MAX(max_id) + 1 FROM rollup_quarter WHERE bucket < ?), 0),
		(SELECT MIN(min_id) - 1 FROM rollup_quarter WHERE bucket >= ?)`, fromB, toB, fromB, toB).Scan(&lo, &hi); err != nil {
		return nil, fmt.Errorf("store: minute counts: %w", err)
	}
	if !hi.Valid {
		hi.Int64 = 1<<63 - 1
	}
	where, args := MessageQuery{Target: target, Room: room, User: user, From: from, To: to}.where()
	args = append([]any{lo.Int64, hi.Int64}, args...)
	return queryAll(ctx, s.r, "minute counts",
		`SELECT received_at / 60000 AS m, COUNT(*) FROM messages WHERE id >= ? AND id <= ? AND `+strings.TrimPrefix(where, " WHERE ")+` GROUP BY m ORDER BY m`,
		args, func(r *sql.Rows, m *MinuteCount) error { return r.Scan(&m.Minute, &m.Count) })
}

// BehaviourName is a user's row id and name.
type BehaviourName struct {
	ID   int64
	Name string
}

// BehaviourNamesAfter returns the users whose row id is above afterID, by
// id, at most limit. Ids are given in the order the users' rows were
// written (the analysis is the only writer), so a reader keeps a copy of
// every name up to date by asking for those after the last it holds.
func (s *Store) BehaviourNamesAfter(ctx context.Context, afterID int64, limit int) ([]BehaviourName, error) {
	return queryAll(ctx, s.r, "behaviour names", `SELECT id, username FROM beh_users WHERE id > ? ORDER BY id LIMIT ?`,
		[]any{afterID, limit}, func(r *sql.Rows, n *BehaviourName) error { return r.Scan(&n.ID, &n.Name) })
}

// BehaviourNameOf returns the name of the user row id; ok is false when
// there is none (the rollups were emptied since).
func (s *Store) BehaviourNameOf(ctx context.Context, id int64) (name string, ok bool, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT username FROM beh_users WHERE id = ?`, id).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: behaviour name: %w", err)
	}
	return name, true, nil
}

// BehaviourUsersByID returns the rows of the users ids (in no order; an
// id without a row is left out).
func (s *Store) BehaviourUsersByID(ctx context.Context, ids []int64) ([]BehaviourUser, error) {
	out := make([]BehaviourUser, 0, len(ids))
	for lo := 0; lo < len(ids); lo += 500 {
		hi := min(len(ids), lo+500)
		args := make([]any, hi-lo)
		for i, id := range ids[lo:hi] {
			args[i] = id
		}
		rows, err := queryAll(ctx, s.r, "behaviour users by id",
			`SELECT username, messages, first_seen, last_seen, sessions FROM beh_users WHERE id IN (?`+strings.Repeat(",?", hi-lo-1)+`)`,
			args, scanBehaviourUser)
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

func scanBehaviourUser(r *sql.Rows, u *BehaviourUser) error {
	var first, last int64
	if err := r.Scan(&u.User, &u.Messages, &first, &last, &u.Sessions); err != nil {
		return err
	}
	u.FirstSeen, u.LastSeen = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
	return nil
}
