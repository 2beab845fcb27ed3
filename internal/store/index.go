package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

// IndexSegment describes one search index segment.
type IndexSegment struct {
	Seg      int64
	Lo, Hi   int64 // message id range covered
	Messages int64
}

// QuarterRow is one statistics bucket: messages of a target in 15 minutes.
type QuarterRow struct {
	Target       string
	Bucket       int64 // Unix ms / 900000
	Count        int64
	MinID, MaxID int64
}

// UserRow is one user's totals on one target.
type UserRow struct {
	Target, User        string
	Count               int64
	FirstSeen, LastSeen int64 // Unix ms
	// Activity counts the user's messages that message.IsActivity (not
	// system, join or leave); LastActive is the newest one's time (Unix
	// ms, 0 if none). The leaderboard and active users use these.
	Activity, LastActive int64
}

// activitySQL is message.IsActivity as an SQL condition on the messages
// table.
const activitySQL = `type NOT IN ('system', 'join', 'leave')`

// IndexFlush is written in one transaction: a new segment's bucket blobs,
// segments it replaces, changed rollup rows, and the new indexed id.
type IndexFlush struct {
	Segment   IndexSegment
	Blobs     map[int][]byte    // bucket -> blob
	Lists     map[uint64][]byte // gram -> long posting list
	Drop      []int64           // segments replaced by Segment (a merge)
	Quarters  []QuarterRow      // full new values; Count 0 deletes
	Users     []UserRow         // full new values; Count 0 deletes
	IndexedID int64
}

// IndexState returns the id up to which index and rollups are written,
// and the id below which messages were deleted by retention.
func (s *Store) IndexState(ctx context.Context) (indexed, deletedBelow int64, err error) {
	if err := s.r.QueryRowContext(ctx, `SELECT indexed_id, deleted_below FROM index_state WHERE id = 1`).Scan(&indexed, &deletedBelow); err != nil {
		return 0, 0, fmt.Errorf("store: index state: %w", err)
	}
	return indexed, deletedBelow, nil
}

// WriteIndexFlush applies f atomically.
func (s *Store) WriteIndexFlush(ctx context.Context, f *IndexFlush) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: index flush: %w", err)
	}
	defer tx.Rollback()
	if err := s.checkIndexWriter(ctx, tx); err != nil {
		return err
	}
	for _, seg := range f.Drop {
		if _, err := tx.ExecContext(ctx, `DELETE FROM index_blobs WHERE seg = ?`, seg); err != nil {
			return fmt.Errorf("store: drop segment: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM index_lists WHERE seg = ?`, seg); err != nil {
			return fmt.Errorf("store: drop segment: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM index_segments WHERE seg = ?`, seg); err != nil {
			return fmt.Errorf("store: drop segment: %w", err)
		}
	}
	if f.Segment.Seg != 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO index_segments (seg, lo, hi, messages) VALUES (?, ?, ?, ?)`,
			f.Segment.Seg, f.Segment.Lo, f.Segment.Hi, f.Segment.Messages); err != nil {
			return fmt.Errorf("store: add segment: %w", err)
		}
		if err := insertBlobs(ctx, tx, f.Segment.Seg, f.Blobs, f.Lists); err != nil {
			return err
		}
	}
	if err := upsertRollups(ctx, tx, f.Quarters, f.Users); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE index_state SET indexed_id = ? WHERE id = 1`, f.IndexedID); err != nil {
		return fmt.Errorf("store: set indexed id: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: index flush commit: %w", err)
	}
	return nil
}

func upsertRollups(ctx context.Context, tx *dbTx, qs []QuarterRow, us []UserRow) error {
	for _, q := range qs {
		var err error
		if q.Count == 0 {
			_, err = tx.ExecContext(ctx, `DELETE FROM rollup_quarter WHERE target = ? AND bucket = ?`, q.Target, q.Bucket)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO rollup_quarter (target, bucket, count, min_id, max_id) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (target, bucket) DO UPDATE SET count = excluded.count, min_id = excluded.min_id, max_id = excluded.max_id`,
				q.Target, q.Bucket, q.Count, q.MinID, q.MaxID)
		}
		if err != nil {
			return fmt.Errorf("store: rollup quarter: %w", err)
		}
	}
	for _, u := range us {
		var err error
		if u.Count == 0 {
			_, err = tx.ExecContext(ctx, `DELETE FROM rollup_users WHERE target = ? AND username = ?`, u.Target, u.User)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO rollup_users (target, username, count, first_seen, last_seen, activity, last_active) VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (target, username) DO UPDATE SET count = excluded.count, first_seen = excluded.first_seen, last_seen = excluded.last_seen,
					activity = excluded.activity, last_active = excluded.last_active`,
				u.Target, u.User, u.Count, u.FirstSeen, u.LastSeen, u.Activity, u.LastActive)
		}
		if err != nil {
			return fmt.Errorf("store: rollup users: %w", err)
		}
	}
	return nil
}

// IndexSegments lists the segments by ascending id range.
func (s *Store) IndexSegments(ctx context.Context) ([]IndexSegment, error) {
	return queryAll(ctx, s.r, "index segments", `SELECT seg, lo, hi, messages FROM index_segments ORDER BY lo`, nil,
		func(r *sql.Rows, g *IndexSegment) error { return r.Scan(&g.Seg, &g.Lo, &g.Hi, &g.Messages) })
}

// SegBlob is a bucket's blob in one segment.
type SegBlob struct {
	Seg  int64
	Data []byte
}

func scanSegBlob(r *sql.Rows, b *SegBlob) error { return r.Scan(&b.Seg, &b.Data) }

// BucketBlobsIn returns the blobs of several buckets, by bucket, in one
// query.
func (s *Store) BucketBlobsIn(ctx context.Context, buckets []int) (map[int][]SegBlob, error) {
	out := map[int][]SegBlob{}
	if len(buckets) == 0 {
		return out, nil
	}
	args := make([]any, len(buckets))
	for i, b := range buckets {
		args[i] = b
	}
	type bucketBlob struct {
		bucket int
		SegBlob
	}
	bs, err := queryAll(ctx, s.r, "index blobs", `SELECT bucket, seg, data FROM index_blobs WHERE bucket IN (`+
		strings.TrimSuffix(strings.Repeat("?,", len(buckets)), ",")+`)`, args,
		func(r *sql.Rows, b *bucketBlob) error { return r.Scan(&b.bucket, &b.Seg, &b.Data) })
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		out[b.bucket] = append(out[b.bucket], b.SegBlob)
	}
	return out, nil
}

// LoadRollups returns every rollup row.
func (s *Store) LoadRollups(ctx context.Context) ([]QuarterRow, []UserRow, error) {
	qs, err := queryAll(ctx, s.r, "load rollups", `SELECT target, bucket, count, min_id, max_id FROM rollup_quarter`, nil,
		func(r *sql.Rows, q *QuarterRow) error {
			return r.Scan(&q.Target, &q.Bucket, &q.Count, &q.MinID, &q.MaxID)
		})
	if err != nil {
		return nil, nil, err
	}
	us, err := queryAll(ctx, s.r, "load rollups", `SELECT target, username, count, first_seen, last_seen, activity, last_active FROM rollup_users`, nil,
		func(r *sql.Rows, u *UserRow) error {
			return r.Scan(&u.Target, &u.User, &u.Count, &u.FirstSeen, &u.LastSeen, &u.Activity, &u.LastActive)
		})
	return qs, us, err
}

// ResetIndex deletes the search index and rollups (wsmon reindex).
func (s *Store) ResetIndex(ctx context.Context) error {
	for _, q := range []string{`DELETE FROM index_blobs`, `DELETE FROM index_lists`, `DELETE FROM index_segments`, `DELETE FROM rollup_quarter`,
		`DELETE FROM rollup_users`, `UPDATE index_state SET indexed_id = 0`} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: reset index: %w", err)
		}
	}
	return nil
}

// MessagesByIDs returns the messages among ids that pass q's filters
// (Limit, Before ignored), in descending id order.
func (s *Store) MessagesByIDs(ctx context.Context, ids []int64, q MessageQuery) ([]message.Message, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	q.Before, q.Limit = 0, 0
	where, args := q.where()
	in := "id IN (" + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + ")"
	if where == "" {
		where = " WHERE " + in
	} else {
		where += " AND " + in
	}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+q.columns()+` FROM messages`+where+` ORDER BY id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: messages by id: %w", err)
	}
	return scanMessages(rows, q.Raw)
}

// IndexRow is what the indexer needs of a message.
type IndexRow struct {
	ID         int64
	Target     string
	ReceivedAt time.Time
	User, Room string
	Type       string
	Content    string
}

// IndexRowsAfter returns up to limit messages with id > after, ascending,
// and stops early once the contents read reach maxBytes (at least one row
// is returned): reading back large messages costs bounded memory. more
// reports that rows may follow (limit or maxBytes was reached).
func (s *Store) IndexRowsAfter(ctx context.Context, after int64, limit, maxBytes int) (out []IndexRow, more bool, err error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, target, received_at, username, room, type, content FROM messages WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, false, fmt.Errorf("store: index rows: %w", err)
	}
	defer rows.Close()
	bytes := 0
	for rows.Next() {
		var x IndexRow
		var at int64
		if err := rows.Scan(&x.ID, &x.Target, &at, &x.User, &x.Room, &x.Type, &x.Content); err != nil {
			return nil, false, fmt.Errorf("store: index rows: %w", err)
		}
		x.ReceivedAt = time.UnixMilli(at)
		out = append(out, x)
		if bytes += len(x.Content); bytes >= maxBytes {
			return out, true, nil
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("store: index rows: %w", err)
	}
	return out, len(out) == limit, nil
}

// PruneDelta is how many messages of one target, user and 15-minute bucket
// a retention delete removes.
type PruneDelta struct {
	Target, User string
	Bucket       int64
	Count        int64
	Activity     int64 // of Count, the activity messages (message.IsActivity)
}

// FirstIDFrom returns the smallest message id received at or after t, and
// 0 when there is none. lo is a lower bound on that id (0 if unknown).
func (s *Store) FirstIDFrom(ctx context.Context, t time.Time, lo int64) (int64, error) {
	var id sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT MIN(id) FROM messages WHERE id >= ? AND received_at >= ?`, lo, t.UnixMilli()).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: first id from: %w", err)
	}
	return id.Int64, nil
}

// PruneDeltas counts the messages with id < before by target, user and
// bucket.
func (s *Store) PruneDeltas(ctx context.Context, before int64) ([]PruneDelta, error) {
	return queryAll(ctx, s.r, "prune deltas", `SELECT target, username, received_at / ? AS b, COUNT(*), SUM(CASE WHEN `+activitySQL+` THEN 1 ELSE 0 END) FROM messages WHERE id < ? GROUP BY target, username, b`,
		[]any{quarterMs, before}, func(r *sql.Rows, d *PruneDelta) error {
			return r.Scan(&d.Target, &d.User, &d.Bucket, &d.Count, &d.Activity)
		})
}

// ApplyPrune deletes messages with id < before and, in the same
// transaction, subtracts deltas from the rollups, unlists the index
// segments dropSegs (wholly below it) and records deleted_below. The
// deleted messages must all be counted in the stored rollups (id <=
// indexed_id). The unlisted segments' blobs stay until DeleteOrphanBlobs,
// so a query that started before the prune still reads them.
func (s *Store) ApplyPrune(ctx context.Context, before int64, deltas []PruneDelta, dropSegs []int64) (int64, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("store: prune: %w", err)
	}
	defer tx.Rollback()
	if err := s.checkIndexWriter(ctx, tx); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE id < ?`, before)
	if err != nil {
		return 0, fmt.Errorf("store: prune messages: %w", err)
	}
	n, _ := res.RowsAffected()
	for _, seg := range dropSegs {
		if _, err := tx.ExecContext(ctx, `DELETE FROM index_segments WHERE seg = ?`, seg); err != nil {
			return 0, fmt.Errorf("store: prune segment: %w", err)
		}
	}
	for _, d := range deltas {
		if _, err := tx.ExecContext(ctx, `UPDATE rollup_quarter SET count = count - ? WHERE target = ? AND bucket = ?`, d.Count, d.Target, d.Bucket); err != nil {
			return 0, fmt.Errorf("store: prune rollups: %w", err)
		}
		if d.User != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE rollup_users SET count = count - ?, activity = activity - ? WHERE target = ? AND username = ?`, d.Count, d.Activity, d.Target, d.User); err != nil {
				return 0, fmt.Errorf("store: prune rollups: %w", err)
			}
		}
	}
	for _, q := range []string{`DELETE FROM rollup_quarter WHERE count <= 0`, `DELETE FROM rollup_users WHERE count <= 0`,
		`UPDATE rollup_quarter SET min_id = ? WHERE min_id < ?`} {
		var err error
		if strings.Contains(q, "min_id") {
			_, err = tx.ExecContext(ctx, q, before, before)
		} else {
			_, err = tx.ExecContext(ctx, q)
		}
		if err != nil {
			return 0, fmt.Errorf("store: prune rollups: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE index_state SET deleted_below = ? WHERE id = 1`, before); err != nil {
		return 0, fmt.Errorf("store: prune state: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("store: prune commit: %w", err)
	}
	return n, nil
}

// BucketBlobsOf returns a bucket's blobs in the given segments.
func (s *Store) BucketBlobsOf(ctx context.Context, bucket int, segs []int64) ([]SegBlob, error) {
	if len(segs) == 0 {
		return nil, nil
	}
	args := []any{bucket}
	for _, sg := range segs {
		args = append(args, sg)
	}
	return queryAll(ctx, s.r, "index blobs", `SELECT seg, data FROM index_blobs WHERE bucket = ? AND seg IN (`+
		strings.TrimSuffix(strings.Repeat("?,", len(segs)), ",")+`)`, args, scanSegBlob)
}

// PutBlobs writes bucket blobs and long lists of a segment that is not
// listed yet (a merge in progress); until CommitMerge lists it, queries
// ignore them.
func (s *Store) PutBlobs(ctx context.Context, seg int64, blobs map[int][]byte, lists map[uint64][]byte) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: merge: %w", err)
	}
	defer tx.Rollback()
	if err := insertBlobs(ctx, tx, seg, blobs, lists); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: merge commit: %w", err)
	}
	return nil
}

// CommitMerge lists the merged segment and unlists the segments it
// replaces, atomically. Their blobs stay until DeleteOrphanBlobs, so a query
// that started before the switch still finds them.
func (s *Store) CommitMerge(ctx context.Context, seg IndexSegment, drop []int64) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: merge: %w", err)
	}
	defer tx.Rollback()
	if err := s.checkIndexWriter(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO index_segments (seg, lo, hi, messages) VALUES (?, ?, ?, ?)`, seg.Seg, seg.Lo, seg.Hi, seg.Messages); err != nil {
		return fmt.Errorf("store: merge: %w", err)
	}
	for _, d := range drop {
		if _, err := tx.ExecContext(ctx, `DELETE FROM index_segments WHERE seg = ?`, d); err != nil {
			return fmt.Errorf("store: merge: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: merge commit: %w", err)
	}
	return nil
}

// DeleteOrphanBlobs removes blobs and lists of segments no longer (or not
// yet) listed.
func (s *Store) DeleteOrphanBlobs(ctx context.Context) error {
	for _, q := range []string{`DELETE FROM index_blobs WHERE seg NOT IN (SELECT seg FROM index_segments)`,
		`DELETE FROM index_lists WHERE seg NOT IN (SELECT seg FROM index_segments)`} {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: delete orphan blobs: %w", err)
		}
	}
	return nil
}

// IndexList returns a long posting list stored apart from its bucket blob.
func (s *Store) IndexList(ctx context.Context, seg int64, gram uint64) ([]byte, error) {
	var data []byte
	if err := s.r.QueryRowContext(ctx, `SELECT data FROM index_lists WHERE seg = ? AND gram = ?`, seg, int64(gram)).Scan(&data); err != nil {
		return nil, fmt.Errorf("store: index list %d/%d: %w", seg, gram, err)
	}
	return data, nil
}

// ListsOf returns the long lists stored for gram in the given segments,
// by segment (absent where a segment has none).
func (s *Store) ListsOf(ctx context.Context, gram uint64, segs []int64) (map[int64][]byte, error) {
	out := map[int64][]byte{}
	for len(segs) > 0 {
		n := min(len(segs), 500)
		args := []any{int64(gram)}
		for _, sg := range segs[:n] {
			args = append(args, sg)
		}
		bs, err := queryAll(ctx, s.r, "index lists", `SELECT seg, data FROM index_lists WHERE gram = ? AND seg IN (`+
			strings.TrimSuffix(strings.Repeat("?,", n), ",")+`)`, args, scanSegBlob)
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			out[b.Seg] = b.Data
		}
		segs = segs[n:]
	}
	return out, nil
}

// MaxSegment returns the highest listed segment number (0 if none): it
// changes whenever a flush or merge changes the segment list.
func (s *Store) MaxSegment(ctx context.Context) (int64, error) {
	var v sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(seg) FROM index_segments`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: max segment: %w", err)
	}
	return v.Int64, nil
}

// insertBlobs writes a segment's bucket blobs and long lists.
func insertBlobs(ctx context.Context, tx *dbTx, seg int64, blobs map[int][]byte, lists map[uint64][]byte) error {
	if len(lists) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO index_lists (seg, gram, data) VALUES (?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("store: index lists: %w", err)
		}
		defer st.Close()
		for g, data := range lists {
			if _, err := st.ExecContext(ctx, seg, int64(g), data); err != nil {
				return fmt.Errorf("store: index list: %w", err)
			}
		}
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO index_blobs (bucket, seg, data) VALUES (?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("store: index blobs: %w", err)
	}
	defer st.Close()
	for b, data := range blobs {
		if _, err := st.ExecContext(ctx, b, seg, data); err != nil {
			return fmt.Errorf("store: index blob: %w", err)
		}
	}
	return nil
}

// queryAll runs q and scans every row with scan; what names the query in
// errors.
func queryAll[T any](ctx context.Context, db queryer, what, q string, args []any, scan func(*sql.Rows, *T) error) ([]T, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}

// ErrNotIndexWriter is returned by the index writes (a flush, a merge, a
// prune) of a collector that does not hold the index lease: another
// collector took it over (this one was frozen or cut off), and writes the
// index now.
var ErrNotIndexWriter = errors.New("store: another collector holds the index lease and writes the index")

// checkIndexWriter fences an index write on PostgreSQL: when the index
// lease exists, it must be this collector's (read with FOR SHARE, so that a
// takeover waits for this transaction). SQLite has one writer.
func (s *Store) checkIndexWriter(ctx context.Context, tx *dbTx) error {
	if s.d != postgresDialect {
		return nil
	}
	var owner int64
	err := tx.QueryRowContext(ctx, `SELECT owner FROM leases WHERE name = ? FOR SHARE`, IndexLease).Scan(&owner)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil // no collectors: wsmon reindex, a test's store
	case err != nil:
		return fmt.Errorf("store: read the index lease: %w", err)
	case owner != s.collectorID():
		return ErrNotIndexWriter
	}
	return nil
}
