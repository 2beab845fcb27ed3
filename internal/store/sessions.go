package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// OrphanSessionError is the error recorded on a session that a crash (or a
// kill) left open, when the next start closes it.
const OrphanSessionError = "wsmon stopped without closing this session (crash or kill)"

// CloseOrphanSessions closes every session with an id up to upTo that is
// still open (disconnected_at null): the process that recorded it died
// without writing its end. Each is closed at its newest message's
// received_at, or at its connected_at when it has none, with
// OrphanSessionError, so the outage until the next session shows as a gap.
// It returns the sessions it closed.
//
// Call it only once every journal record up to upTo has been applied
// (session ids are the journal sequences of their start records, so the
// sessions of the running process have larger ids and are left alone).
func (s *Store) CloseOrphanSessions(ctx context.Context, upTo int64) ([]Session, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: close orphan sessions: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, s.d.openSessionsUpTo, upTo)
	if err != nil {
		return nil, fmt.Errorf("store: close orphan sessions: %w", err)
	}
	var open []Session
	for rows.Next() {
		var se Session
		var conn int64
		if err := rows.Scan(&se.ID, &se.Target, &conn, &se.Messages); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: close orphan sessions: %w", err)
		}
		se.ConnectedAt = time.UnixMilli(conn)
		open = append(open, se)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: close orphan sessions: %w", err)
	}
	for i := range open {
		se := &open[i]
		end := se.ConnectedAt.UnixMilli()
		if se.Messages > 0 {
			var last int64
			err := tx.QueryRowContext(ctx, s.d.lastSessionMessage, se.ID).Scan(&last)
			switch {
			case errors.Is(err, sql.ErrNoRows): // deleted by retention
			case err != nil:
				return nil, fmt.Errorf("store: close orphan sessions: last message: %w", err)
			default:
				end = max(end, last)
			}
		}
		if _, err := tx.ExecContext(ctx, s.d.closeOrphanSession, end, OrphanSessionError, se.ID); err != nil {
			return nil, fmt.Errorf("store: close orphan sessions: %w", err)
		}
		se.DisconnectedAt, se.Error = time.UnixMilli(end), OrphanSessionError
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: close orphan sessions: %w", err)
	}
	return open, nil
}
