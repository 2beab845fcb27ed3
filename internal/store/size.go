package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// UsedBytes is how much of the database file holds data: its pages less
// the free ones (a delete frees pages for reuse; the file does not
// shrink), and how many messages it holds.
func (s *Store) UsedBytes(ctx context.Context) (used, messages int64, err error) {
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages`).Scan(&messages); err != nil {
		return 0, 0, fmt.Errorf("store: database size: %w", err)
	}
	if s.d.usedBytes != "" {
		if err := s.r.QueryRowContext(ctx, s.d.usedBytes).Scan(&used); err != nil {
			return 0, 0, fmt.Errorf("store: database size: %w", err)
		}
		return used, messages, nil
	}
	var pages, free, size int64
	for _, q := range []struct {
		sql string
		dst *int64
	}{{`PRAGMA page_count`, &pages}, {`PRAGMA freelist_count`, &free}, {`PRAGMA page_size`, &size}} {
		if err := s.r.QueryRowContext(ctx, q.sql).Scan(q.dst); err != nil {
			return 0, 0, fmt.Errorf("store: database size: %w", err)
		}
	}
	return (pages - free) * size, messages, nil
}

// ReceivedAtAfterOldest is the receive time of the message n places after
// the oldest one (0: the oldest); zero when there are not that many.
func (s *Store) ReceivedAtAfterOldest(ctx context.Context, n int64) (time.Time, error) {
	var ms int64
	err := s.r.QueryRowContext(ctx, `SELECT received_at FROM messages ORDER BY id LIMIT 1 OFFSET ?`, n).Scan(&ms)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("store: oldest messages: %w", err)
	}
	return time.UnixMilli(ms), nil
}
