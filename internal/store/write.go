package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/wsmon/wsmon/internal/message"
)

// SessionStart records that a connection was established.
type SessionStart struct {
	ID       int64
	Target   string
	URL      string
	Protocol string // the protocol the session spoke ("" for sessions journaled before protocols were recorded)
	At       time.Time
}

// SessionEnd records how a connection ended.
type SessionEnd struct {
	ID          int64
	At          time.Time
	CloseCode   int
	CloseReason string
	Error       string
	Control     int64 // protocol control frames seen (heartbeats, acks, ...)
}

// Batch is one unit of ingest: everything in it is written in one
// transaction together with AppliedSeq, so a batch is applied exactly once
// even if the process dies and the journal is replayed.
type Batch struct {
	Messages   []message.Message
	Starts     []SessionStart
	Ends       []SessionEnd
	AppliedSeq uint64 // last journal sequence covered by this batch

	// Set by ApplyBatch on PostgreSQL when it takes messages out of the
	// batch (see fence): messages fenced off because another collector
	// owns their target (FencedTargets: target → owner), and messages
	// another collector had stored.
	Fenced          int64
	FencedTargets   map[string]int64
	CrossDuplicates int64
}

// rowsPerInsert is how many rows go in one multi-row INSERT statement; fewer
// statement executions is what makes SQLite bulk inserts fast. 14 columns x 64
// rows stays far below SQLite's host-parameter limit.
const rowsPerInsert = 64

// driverConn is what ApplyBatch needs from the driver's connection. The
// batch is written through the driver directly: database/sql's per-argument
// conversion costs more than SQLite's own insert work at 100,000 rows/s.
type driverConn interface {
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
}

// ApplyBatch writes a batch atomically. On error nothing of the batch is
// written and the caller retries the same batch later.
func (s *Store) ApplyBatch(ctx context.Context, b *Batch) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: begin batch: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		if pc, ok := dc.(*stdlib.Conn); ok {
			return s.applyBatchPG(ctx, pc.Conn(), b)
		}
		c, ok := dc.(driverConn)
		if !ok {
			return fmt.Errorf("store: driver connection %T lacks BeginTx/Prepare/Exec", dc)
		}
		return s.applyBatch(ctx, c, b)
	})
}

func (s *Store) applyBatch(ctx context.Context, c driverConn, b *Batch) (err error) {
	tx, err := c.BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		return fmt.Errorf("store: begin batch: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	exec := func(what, q string, args ...any) error {
		nv := make([]driver.NamedValue, len(args))
		for i, a := range args {
			nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
		}
		if _, err := c.ExecContext(ctx, q, nv); err != nil {
			return fmt.Errorf("store: %s: %w", what, err)
		}
		return nil
	}
	for _, st := range b.Starts {
		if err := exec("session start", s.d.upsertSessionStart, st.ID, st.Target, st.URL, st.At.UnixMilli(), st.Protocol); err != nil {
			return err
		}
	}
	if err := s.insertMessages(ctx, c, b.Messages); err != nil {
		return err
	}
	// Per-session message counts, aggregated in memory: one update per session.
	counts := map[int64]int64{}
	for i := range b.Messages {
		counts[b.Messages[i].SessionID]++
	}
	for id, n := range counts {
		if err := exec("session count", s.d.addSessionMessages, n, id); err != nil {
			return err
		}
	}
	for _, e := range b.Ends {
		if err := exec("session end", s.d.updateSessionEnd, e.At.UnixMilli(), int64(e.CloseCode), e.CloseReason, e.Error, e.Control, e.ID); err != nil {
			return err
		}
	}
	if err := exec("set applied sequence", s.d.setApplied, int64(b.AppliedSeq), s.collectorID()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit batch: %w", err)
	}
	return nil
}

// insertBytes bounds the raw and content bytes bound to one INSERT
// statement. The driver copies every bound string and blob into SQLite's
// memory for the statement's execution, so 64 rows of 16 MiB frames would
// need 2 GiB at once; with the bound a statement holds a few MiB of small
// rows, or one large row alone (stored whole, whatever its size).
const insertBytes = 4 << 20

func (s *Store) insertMessages(ctx context.Context, c driverConn, msgs []message.Message) error {
	var st driver.Stmt
	prepared := 0 // rows of st's statement
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	args := make([]driver.NamedValue, 0, messageArgs*rowsPerInsert)
	for len(msgs) > 0 {
		n := rowsFitting(msgs)
		if n != prepared {
			if st != nil {
				st.Close()
				st = nil
			}
			var err error
			if st, err = c.PrepareContext(ctx, s.insertSQL(n)); err != nil {
				return fmt.Errorf("store: prepare insert: %w", err)
			}
			prepared = n
		}
		args = args[:0]
		for k := range n {
			args = appendMessageArgs(args, &msgs[k])
		}
		_, err := st.(driver.StmtExecContext).ExecContext(ctx, args)
		clear(args) // the statement's copies are gone: do not pin the rows
		if err != nil {
			return fmt.Errorf("store: insert messages: %w", err)
		}
		msgs = msgs[n:]
	}
	return nil
}

// rowsFitting is how many of msgs (at least one) go in the next INSERT:
// at most rowsPerInsert rows and insertBytes of raw and content bytes.
func rowsFitting(msgs []message.Message) int {
	n, bytes := 0, 0
	for n < len(msgs) && n < rowsPerInsert {
		bytes += len(msgs[n].Raw) + len(msgs[n].Content)
		if n > 0 && bytes > insertBytes {
			break
		}
		n++
	}
	return n
}

// insertSQL returns the INSERT statement for n rows.
func (s *Store) insertSQL(n int) string {
	return s.d.insertMessagePrefix + strings.TrimSuffix(strings.Repeat(s.d.messageValues+",", n), ",")
}

const messageArgs = 14

func appendMessageArgs(args []driver.NamedValue, m *message.Message) []driver.NamedValue {
	var row [messageArgs]any
	fillMessageRow(row[:], m)
	o := len(args)
	for i, v := range row {
		args = append(args, driver.NamedValue{Ordinal: o + i + 1, Value: v}) // args holds whole rows of one statement
	}
	return args
}

// fillMessageRow sets row (messageArgs long) to m's column values, in
// the order of messageColumnNames.
func fillMessageRow(row []any, m *message.Message) {
	var sent, ext, dk any
	if !m.SentAt.IsZero() {
		sent = m.SentAt.UnixMilli()
	}
	if m.ExtID != "" {
		ext = m.ExtID
	}
	if m.DedupKey != 0 {
		dk = int64(m.DedupKey)
	}
	bin := int64(0)
	if m.Binary {
		bin = 1
	}
	raw := m.Raw
	if raw == nil {
		raw = []byte{}
	}
	row[0], row[1], row[2], row[3], row[4], row[5], row[6] = m.ID, m.Target, m.SessionID, m.ReceivedAt.UnixMilli(), sent, m.User, m.Room
	row[7], row[8], row[9], row[10], row[11], row[12], row[13] = string(m.Type), m.Content, raw, bin, ext, dk, m.Reason
}

// AppliedSeq returns the last journal sequence applied to the database.
func (s *Store) AppliedSeq(ctx context.Context) (uint64, error) {
	var v int64
	if err := s.w.QueryRowContext(ctx, s.d.getApplied, s.collectorID()).Scan(&v); err != nil {
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
