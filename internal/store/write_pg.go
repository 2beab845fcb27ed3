package store

import (
	"context"
	"fmt"

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
