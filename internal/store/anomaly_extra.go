package store

import (
	"context"
	"fmt"
)

// InsertAlertOnce stores a (setting its ID) unless an alert of the same
// rule, time, target, room and user whose detail begins with key exists
// already; then it stores nothing and leaves a.ID 0. It is how alerts not
// about one message are made replay-safe: an anomaly alert's time is the
// anomaly's start and its detail begins with the anomaly's kind, so the
// same anomaly found again (the messages since the last saved state are
// counted again after a crash) is not alerted twice. The check and the
// insert are one transaction on the single writer connection.
//
// Portable SQL only (substr is SQLite's and PostgreSQL's); the lookup uses
// the alerts_at index.
func (s *Store) InsertAlertOnce(ctx context.Context, a *Alert, key string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: insert alert: %w", err)
	}
	defer tx.Rollback()
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM alerts WHERE at = ? AND rule = ? AND target = ? AND room = ? AND username = ?
		AND substr(detail, 1, ?) = ?`, a.At.UnixMilli(), a.Rule, a.Target, a.Room, a.User, len(key), key).Scan(&n); err != nil {
		return fmt.Errorf("store: insert alert: %w", err)
	}
	if n > 0 {
		a.ID = 0
		return nil
	}
	var msgID any
	if a.MessageID != 0 {
		msgID = a.MessageID
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO alerts (rule, rule_type, target, room, username, content, message_id, detail, at, suppressed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.Rule, a.RuleType, a.Target, a.Room, a.User, a.Content, msgID, a.Detail, a.At.UnixMilli(), a.Suppressed)
	if err != nil {
		return fmt.Errorf("store: insert alert: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("store: insert alert: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: insert alert: %w", err)
	}
	a.ID = id
	return nil
}
