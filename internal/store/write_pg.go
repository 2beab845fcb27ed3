package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wsmon/wsmon/internal/message"
)

// messageColumnNames are the columns a batch's messages are copied into,
// in appendMessageArgs' order.
var messageColumnNames = []string{"id", "target", "session_id", "received_at", "sent_at", "username", "room", "type", "content", "raw", "is_binary", "ext_id", "dedup_key", "reason"}

// applyBatchPG is ApplyBatch on PostgreSQL: one transaction on the writer
// connection, the messages sent with COPY (pgx CopyFrom, the binary
// format: one round trip for the whole batch instead of one per statement).
//
// The messages' text fields are made storable first (pgText), in b itself,
// so what the committers (index, analyses, rules) see after the commit is
// what the database holds.
func (s *Store) applyBatchPG(ctx context.Context, c *pgx.Conn, b *Batch) (err error) {
	tx, err := c.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin batch: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	exec := func(what, q string, args ...any) error {
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("store: %s: %w", what, err)
		}
		return nil
	}
	for _, st := range b.Starts {
		if err := exec("session start", s.d.upsertSessionStart, st.ID, pgText(st.Target), pgText(st.URL), st.At.UnixMilli(), pgText(st.Protocol)); err != nil {
			return err
		}
	}
	if len(b.Messages) > 0 {
		for i := range b.Messages {
			pgMessage(&b.Messages[i])
		}
		// pgx encodes each row before asking for the next: one row slice
		// serves them all.
		row := make([]any, messageArgs)
		msgs := b.Messages
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"messages"}, messageColumnNames, pgx.CopyFromSlice(len(msgs), func(i int) ([]any, error) {
			fillMessageRow(row, &msgs[i])
			return row, nil
		}))
		clear(row)
		if err != nil {
			return fmt.Errorf("store: copy messages: %w", err)
		}
	}
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
		if err := exec("session end", s.d.updateSessionEnd, e.At.UnixMilli(), int64(e.CloseCode), pgText(e.CloseReason), pgText(e.Error), e.Control, e.ID); err != nil {
			return err
		}
	}
	if err := exec("set applied sequence", s.d.setApplied, int64(b.AppliedSeq)); err != nil {
		return err
	}
	if n := len(b.Messages); n > 0 {
		if err := exec("notify", `SELECT pg_notify($1, $2)`, commitChannel, strconv.FormatInt(b.Messages[n-1].ID, 10)); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit batch: %w", err)
	}
	return nil
}

// pgMessage makes m's text fields storable on PostgreSQL (pgText).
func pgMessage(m *message.Message) {
	m.Target, m.User, m.Room = pgText(m.Target), pgText(m.User), pgText(m.Room)
	m.Content, m.ExtID, m.Reason = pgText(m.Content), pgText(m.ExtID), pgText(m.Reason)
	m.Type = message.Type(pgText(string(m.Type)))
}

// commitChannel is the PostgreSQL notification channel of committed
// batches: one notification per batch that stored messages, sent in the
// batch's transaction (delivered at its commit), carrying only the
// batch's highest message id. Web processes LISTEN to read the new rows
// at once instead of at their next poll.
const commitChannel = "wsmon_commits"

// Commits returns a channel that receives a value soon after each batch
// another process commits to this database (PostgreSQL LISTEN/NOTIFY; a
// wake-up, not a delivery guarantee: the reader still reads the rows
// itself), or nil on SQLite, which has no notifications. It listens on a
// connection of its own until ctx ends, reconnecting after a second when
// it is lost; a wake-up is sent each time it starts listening, so what
// was committed meanwhile is read. The channel holds one pending wake-up; more coalesce.
func (s *Store) Commits(ctx context.Context) <-chan struct{} {
	if s.d != postgresDialect {
		return nil
	}
	wake := make(chan struct{}, 1)
	signal := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	go func() {
		for ctx.Err() == nil {
			if err := s.listen(ctx, signal); err != nil && ctx.Err() == nil {
				s.listenErr(err)
			}
			signal()
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	return wake
}

func (s *Store) listenErr(err error) {
	if s.log != nil {
		s.log.Warn("listening for committed batches failed; polling until it works again", "error", err)
	}
}

// listen holds one LISTEN connection until ctx ends or it fails.
func (s *Store) listen(ctx context.Context, signal func()) error {
	c, err := pgx.ConnectConfig(ctx, s.pgConfig)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	if _, err := c.Exec(ctx, "LISTEN "+commitChannel); err != nil {
		return err
	}
	signal() // what was committed while it connected is read now
	for {
		if _, err := c.WaitForNotification(ctx); err != nil {
			return err
		}
		signal()
	}
}
