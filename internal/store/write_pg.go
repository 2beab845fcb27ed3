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
// The database gives the messages their ids (the highest id so far plus
// one, under a lock every writer takes: see below), and their text fields
// are made storable (pgText), in b itself, so what the committers (index,
// analyses, rules, the live stream) see after the commit is what the
// database holds. Messages fenced off or found stored by another
// collector are taken out of b first (fence).
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
	// Batches of every collector writing this database take this lock
	// first and hold it to their commit: they commit one after the other,
	// in the order of the ids they give their messages, so a reader (the
	// index, a web process) never sees an id before a lower one.
	if err := exec("lock ids", `SELECT pg_advisory_xact_lock(8243470193)`); err != nil {
		return err
	}
	if err := s.fence(ctx, tx, b); err != nil {
		return err
	}
	for _, st := range b.Starts {
		if err := exec("session start", s.d.upsertSessionStart, st.ID, pgText(st.Target), pgText(st.URL), st.At.UnixMilli(), pgText(st.Protocol)); err != nil {
			return err
		}
	}
	if len(b.Messages) > 0 {
		var last int64
		if err := tx.QueryRow(ctx, `SELECT GREATEST((SELECT COALESCE(MAX(id), 0) FROM messages),
			(SELECT GREATEST(indexed_id, deleted_below) FROM index_state WHERE id = 1))`).Scan(&last); err != nil {
			return fmt.Errorf("store: next message id: %w", err)
		}
		for i := range b.Messages {
			pgMessage(&b.Messages[i])
			b.Messages[i].ID = last + 1 + int64(i)
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
	if err := exec("set applied sequence", s.d.setApplied, int64(b.AppliedSeq), s.collectorID()); err != nil {
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

// crossDedupWindow is how long after a target changed hands its
// messages' dedup keys are looked up among those stored since: a server
// that replays its history on connect gives the new owner what the old
// one stored (and a resumed old owner may write what the new one has).
// It matches the pipeline's default dedup window.
const crossDedupWindow = time.Hour

// fence takes out of b the messages this collector must not write, by the
// leases of their targets (read with FOR SHARE: a takeover waits for this
// batch's commit):
//
//   - fenced: the target's lease is another collector's and was granted at
//     or before the message was received. This collector lost it (it was
//     frozen, cut off, or too slow to renew) and the message came after
//     the new owner's grant, so the new owner captures it: it is not
//     written here. Messages received before the grant were captured
//     while this collector owned the target and are written. Receive
//     times are this collector's clock, grants the database's: collectors
//     need synchronised clocks (NTP), and the capture side stops a target
//     as soon as a renewal finds its lease gone.
//   - duplicates: within crossDedupWindow after the lease was granted to
//     its current owner by taking it from another collector (prev_owner),
//     a message whose dedup key is already stored for its target since
//     the grant. (A collector that takes its own lease again, after a
//     restart, has its own stored keys in memory: ingest.New loads them.)
//
// Targets without a lease row (SQLite, a store used without collectors)
// are written as they are.
func (s *Store) fence(ctx context.Context, tx pgx.Tx, b *Batch) error {
	if len(b.Messages) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var names []string
	for i := range b.Messages {
		if t := b.Messages[i].Target; !seen[t] {
			seen[t] = true
			names = append(names, TargetLease(t))
		}
	}
	rows, err := tx.Query(ctx, `SELECT name, owner, prev_owner, granted_at, granted_id FROM leases WHERE name = ANY($1) FOR SHARE`, names)
	if err != nil {
		return fmt.Errorf("store: read leases: %w", err)
	}
	leases := map[string]Lease{}
	for rows.Next() {
		var l Lease
		var granted int64
		if err := rows.Scan(&l.Name, &l.Owner, &l.PrevOwner, &granted, &l.GrantedID); err != nil {
			rows.Close()
			return fmt.Errorf("store: read leases: %w", err)
		}
		l.GrantedAt = time.UnixMilli(granted)
		leases[l.Name[len("target/"):]] = l
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: read leases: %w", err)
	}
	if len(leases) == 0 {
		return nil
	}
	me := s.collectorID()
	// Dedup keys to look up, by target.
	keys := map[string][]int64{}
	for i := range b.Messages {
		m := &b.Messages[i]
		l, ok := leases[m.Target]
		if ok && m.DedupKey != 0 && l.PrevOwner != 0 && time.Since(l.GrantedAt) < crossDedupWindow {
			keys[m.Target] = append(keys[m.Target], int64(m.DedupKey))
		}
	}
	stored := map[string]map[int64]bool{}
	for t, ks := range keys {
		rows, err := tx.Query(ctx, `SELECT dedup_key FROM messages WHERE dedup_key = ANY($1) AND target = $2 AND id > $3`, ks, t, leases[t].GrantedID)
		if err != nil {
			return fmt.Errorf("store: look up dedup keys: %w", err)
		}
		for rows.Next() {
			var k int64
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return fmt.Errorf("store: look up dedup keys: %w", err)
			}
			if stored[t] == nil {
				stored[t] = map[int64]bool{}
			}
			stored[t][k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: look up dedup keys: %w", err)
		}
	}
	kept := b.Messages[:0]
	for i := range b.Messages {
		m := b.Messages[i]
		l, ok := leases[m.Target]
		switch {
		case ok && l.Owner != me && !m.ReceivedAt.Before(l.GrantedAt):
			b.Fenced++
			if b.FencedTargets == nil {
				b.FencedTargets = map[string]int64{}
			}
			b.FencedTargets[m.Target] = l.Owner
		case m.DedupKey != 0 && stored[m.Target][int64(m.DedupKey)]:
			b.CrossDuplicates++
		default:
			kept = append(kept, m)
		}
	}
	clear(b.Messages[len(kept):]) // do not pin dropped rows
	b.Messages = kept
	return nil
}
