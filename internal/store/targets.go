package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Target sources: where a stored target came from.
const (
	SourceConfig = "config" // config.json: the starting set, upserted at every start
	SourceAPI    = "api"    // added at runtime through the API or the dashboard
)

// TargetRow is one stored target. Config is the JSON of a config.Target;
// the store does not interpret it.
type TargetRow struct {
	Name      string
	Config    []byte
	Paused    bool
	Source    string
	UpdatedAt time.Time
}

// TargetStatus is the live status of one target as the monitor process
// last wrote it.
type TargetStatus struct {
	Name          string
	State         string // connecting, connected, disconnected, paused, refused, gave_up, stopped
	Protocol      string // protocol of the current or last session
	LastError     string
	ErrorCode     string    // stable code of LastError (capture's Code* values, or the monitor's)
	NextAttemptAt time.Time // while waiting to reconnect: when the next attempt is due
	Stopped       string    // why the runner stopped for good; "" while it runs
	Since         time.Time
	Reconnects    int
	Frames        int64 // records journaled over the runner's life
	LastMessageAt time.Time
	UpdatedAt     time.Time
}

// Targets returns every stored target, by name.
func (s *Store) Targets(ctx context.Context) ([]TargetRow, error) {
	return queryAll(ctx, s.r, "targets", `SELECT name, config, paused, source, updated_at FROM targets ORDER BY name`, nil,
		func(r *sql.Rows, t *TargetRow) error {
			var cfg string
			var upd int64
			err := r.Scan(&t.Name, &cfg, &t.Paused, &t.Source, &upd)
			t.Config, t.UpdatedAt = []byte(cfg), time.UnixMilli(upd)
			return err
		})
}

// Target returns the stored target name, or ErrNotFound.
func (s *Store) Target(ctx context.Context, name string) (TargetRow, error) {
	t := TargetRow{Name: name}
	var cfg string
	var upd int64
	err := s.r.QueryRowContext(ctx, `SELECT config, paused, source, updated_at FROM targets WHERE name = ?`, name).Scan(&cfg, &t.Paused, &t.Source, &upd)
	if errors.Is(err, sql.ErrNoRows) {
		return TargetRow{}, ErrNotFound
	}
	if err != nil {
		return TargetRow{}, fmt.Errorf("store: target: %w", err)
	}
	t.Config, t.UpdatedAt = []byte(cfg), time.UnixMilli(upd)
	return t, nil
}

// PutTarget inserts or replaces the stored target t.Name (config, paused
// and source all as given).
func (s *Store) PutTarget(ctx context.Context, t TargetRow) error {
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = time.Now()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO targets (name, config, paused, source, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET config = excluded.config, paused = excluded.paused, source = excluded.source, updated_at = excluded.updated_at`,
		t.Name, string(t.Config), t.Paused, t.Source, t.UpdatedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("store: put target: %w", err)
	}
	return nil
}

// SetTargetPaused sets the paused flag of a stored target; ErrNotFound
// when there is none.
func (s *Store) SetTargetPaused(ctx context.Context, name string, paused bool) error {
	res, err := s.w.ExecContext(ctx, `UPDATE targets SET paused = ?, updated_at = ? WHERE name = ?`, paused, time.Now().UnixMilli(), name)
	if err != nil {
		return fmt.Errorf("store: pause target: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteTarget removes a stored target and its status row. Its messages
// and sessions stay. ErrNotFound when there is none.
func (s *Store) DeleteTarget(ctx context.Context, name string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: delete target: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM targets WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("store: delete target: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM target_status WHERE name = ?`, name); err != nil {
		return fmt.Errorf("store: delete target status: %w", err)
	}
	return tx.Commit()
}

// PutTargetStatuses writes the live status of the given targets in one
// transaction (the monitor calls it on state changes, throttled).
func (s *Store) PutTargetStatuses(ctx context.Context, sts []TargetStatus) error {
	if len(sts) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: target status: %w", err)
	}
	defer tx.Rollback()
	now := time.Now().UnixMilli()
	for _, st := range sts {
		var last int64
		if !st.LastMessageAt.IsZero() {
			last = st.LastMessageAt.UnixMilli()
		}
		var next int64
		if !st.NextAttemptAt.IsZero() {
			next = st.NextAttemptAt.UnixMilli()
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO target_status (name, state, protocol, last_error, error_code, stopped, since, reconnects, frames, last_message_at, next_attempt_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET state = excluded.state, protocol = excluded.protocol, last_error = excluded.last_error,
				error_code = excluded.error_code, stopped = excluded.stopped, since = excluded.since, reconnects = excluded.reconnects,
				frames = excluded.frames, last_message_at = excluded.last_message_at, next_attempt_at = excluded.next_attempt_at,
				updated_at = excluded.updated_at`,
			st.Name, st.State, st.Protocol, st.LastError, st.ErrorCode, st.Stopped, st.Since.UnixMilli(), st.Reconnects, st.Frames, last, next, now)
		if err != nil {
			return fmt.Errorf("store: target status: %w", err)
		}
	}
	return tx.Commit()
}

// TargetStatuses returns the last written status of every target, by name.
func (s *Store) TargetStatuses(ctx context.Context) ([]TargetStatus, error) {
	return queryAll(ctx, s.r, "target status", `SELECT name, state, protocol, last_error, error_code, stopped, since, reconnects, frames, last_message_at, next_attempt_at, updated_at FROM target_status ORDER BY name`, nil,
		func(r *sql.Rows, t *TargetStatus) error {
			var since, last, next, upd int64
			err := r.Scan(&t.Name, &t.State, &t.Protocol, &t.LastError, &t.ErrorCode, &t.Stopped, &since, &t.Reconnects, &t.Frames, &last, &next, &upd)
			t.Since, t.UpdatedAt = time.UnixMilli(since), time.UnixMilli(upd)
			if last != 0 {
				t.LastMessageAt = time.UnixMilli(last)
			}
			if next != 0 {
				t.NextAttemptAt = time.UnixMilli(next)
			}
			return err
		})
}
