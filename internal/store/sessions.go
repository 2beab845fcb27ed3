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

// CloseOrphanSessions closes every session with an id in (from, upTo]
// that is still open (disconnected_at null): the process that recorded it
// died without writing its end. Each is closed at its newest message's
// received_at, or at its connected_at when it has none, with
// OrphanSessionError, so the outage until the next session shows as a gap.
// It returns the sessions it closed.
//
// Call it only once every journal record up to upTo has been applied
// (session ids are a collector's base plus the journal sequences of their
// start records, so the sessions of the running process have larger ids
// and are left alone; from is the collector's base, so other collectors'
// sessions are left alone too).
func (s *Store) CloseOrphanSessions(ctx context.Context, from, upTo int64) ([]Session, error) {
	return s.closeOpenSessions(ctx, `id > ? AND id <= ?`, from, upTo)
}

// CloseTargetSessions closes the open sessions of target whose ids are
// outside (from, upTo], as CloseOrphanSessions does: a collector that has
// just taken target over closes what the collector before it left open
// (it was killed, or is cut off), so the time nobody captured the target
// shows as a gap. The sessions of this collector, ids in (from, upTo],
// are left alone.
func (s *Store) CloseTargetSessions(ctx context.Context, target string, from, upTo int64) ([]Session, error) {
	return s.closeOpenSessions(ctx, `target = ? AND (id <= ? OR id > ?)`, target, from, upTo)
}

func (s *Store) closeOpenSessions(ctx context.Context, where string, args ...any) ([]Session, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: close orphan sessions: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id, target, connected_at, messages FROM sessions WHERE disconnected_at IS NULL AND `+where, args...)
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
