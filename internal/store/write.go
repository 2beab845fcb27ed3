package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

// SessionStart records that a connection was established.
type SessionStart struct {
	ID     int64
	Target string
	URL    string
	At     time.Time
}

// SessionEnd records how a connection ended.
type SessionEnd struct {
	ID          int64
	At          time.Time
	CloseCode   int
	CloseReason string
	Error       string
}

// Batch is one unit of ingest: everything in it is written in one
// transaction together with AppliedSeq, so a batch is applied exactly once
// even if the process dies and the journal is replayed.
type Batch struct {
	Messages   []message.Message
	Starts     []SessionStart
	Ends       []SessionEnd
	AppliedSeq uint64 // last journal sequence covered by this batch
}

// rowsPerInsert is how many rows go in one multi-row INSERT statement; fewer
// statement executions is what makes SQLite bulk inserts fast. 14 columns x 64
// rows stays far below SQLite's host-parameter limit.
const rowsPerInsert = 64

// ApplyBatch writes a batch atomically. On error nothing of the batch is
// written and the caller retries the same batch later.
func (s *Store) ApplyBatch(ctx context.Context, b *Batch) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin batch: %w", err)
	}
	defer tx.Rollback()
	for _, st := range b.Starts {
		if _, err := tx.ExecContext(ctx, s.d.upsertSessionStart, st.ID, st.Target, st.URL, st.At.UnixMilli()); err != nil {
			return fmt.Errorf("store: session start: %w", err)
		}
	}
	if err := s.insertMessages(ctx, tx, b.Messages); err != nil {
		return err
	}
	// Per-session message counts, aggregated in memory: one update per session.
	counts := map[int64]int64{}
	for i := range b.Messages {
		counts[b.Messages[i].SessionID]++
	}
	for id, n := range counts {
		if _, err := tx.ExecContext(ctx, s.d.addSessionMessages, n, id); err != nil {
			return fmt.Errorf("store: session count: %w", err)
		}
	}
	for _, e := range b.Ends {
		if _, err := tx.ExecContext(ctx, s.d.updateSessionEnd, e.At.UnixMilli(), e.CloseCode, e.CloseReason, e.Error, e.ID); err != nil {
			return fmt.Errorf("store: session end: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.setApplied, int64(b.AppliedSeq)); err != nil {
		return fmt.Errorf("store: set applied sequence: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit batch: %w", err)
	}
	return nil
}

func (s *Store) insertMessages(ctx context.Context, tx *sql.Tx, msgs []message.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	var bulk *sql.Stmt
	if len(msgs) >= rowsPerInsert {
		q := s.d.insertMessagePrefix + strings.TrimSuffix(strings.Repeat(s.d.messageValues+",", rowsPerInsert), ",")
		st, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("store: prepare insert: %w", err)
		}
		defer st.Close()
		bulk = st
	}
	args := make([]any, 0, 14*rowsPerInsert)
	i := 0
	for ; bulk != nil && i+rowsPerInsert <= len(msgs); i += rowsPerInsert {
		args = args[:0]
		for k := i; k < i+rowsPerInsert; k++ {
			args = appendMessageArgs(args, &msgs[k])
		}
		if _, err := bulk.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("store: insert messages: %w", err)
		}
	}
	if i < len(msgs) {
		q := s.d.insertMessagePrefix + strings.TrimSuffix(strings.Repeat(s.d.messageValues+",", len(msgs)-i), ",")
		args = args[:0]
		for k := i; k < len(msgs); k++ {
			args = appendMessageArgs(args, &msgs[k])
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("store: insert messages: %w", err)
		}
	}
	return nil
}

func appendMessageArgs(args []any, m *message.Message) []any {
	var sent any
	if !m.SentAt.IsZero() {
		sent = m.SentAt.UnixMilli()
	}
	var ext any
	if m.ExtID != "" {
		ext = m.ExtID
	}
	var dk any
	if m.DedupKey != 0 {
		dk = int64(m.DedupKey)
	}
	bin := 0
	if m.Binary {
		bin = 1
	}
	raw := m.Raw
	if raw == nil {
		raw = []byte{}
	}
	return append(args, m.ID, m.Target, m.SessionID, m.ReceivedAt.UnixMilli(), sent,
		m.User, m.Room, string(m.Type), m.Content, raw, bin, ext, dk, m.Reason)
}

// AppliedSeq returns the last journal sequence applied to the database.
func (s *Store) AppliedSeq(ctx context.Context) (uint64, error) {
	var v int64
	if err := s.w.QueryRowContext(ctx, s.d.getApplied).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: read applied sequence: %w", err)
	}
	return uint64(v), nil
}

// MaxMessageID returns the largest message id, 0 when there are none.
func (s *Store) MaxMessageID(ctx context.Context) (int64, error) {
	var v sql.NullInt64
	if err := s.w.QueryRowContext(ctx, `SELECT MAX(id) FROM messages`).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: max id: %w", err)
	}
	return v.Int64, nil
}

// DedupEntry is a remembered duplicate-detection key.
type DedupEntry struct {
	Target     string
	Key        uint64
	ReceivedAt time.Time
}

// RecentDedupKeys returns the dedup keys of messages received since the
// given time, newest first, at most limit of them, so the ingest pipeline can
// recognise history replayed by a server after wsmon restarts.
func (s *Store) RecentDedupKeys(ctx context.Context, since time.Time, limit int) ([]DedupEntry, error) {
	rows, err := s.w.QueryContext(ctx, `SELECT target, dedup_key, received_at FROM messages
		WHERE dedup_key IS NOT NULL ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: recent dedup keys: %w", err)
	}
	defer rows.Close()
	var out []DedupEntry
	cut := since.UnixMilli()
	for rows.Next() {
		var e DedupEntry
		var k, at int64
		if err := rows.Scan(&e.Target, &k, &at); err != nil {
			return nil, fmt.Errorf("store: recent dedup keys: %w", err)
		}
		if at < cut {
			break
		}
		e.Key, e.ReceivedAt = uint64(k), time.UnixMilli(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
