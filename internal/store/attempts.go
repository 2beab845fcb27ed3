package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Attempt is one failed connection attempt: no session started (the
// prepare step, the dial, the upgrade or the protocol's Open failed).
// Sessions record the connections that did start.
type Attempt struct {
	ID         int64
	Target     string
	URL        string // password redacted
	At         time.Time
	Step       string // prepare, dial or handshake
	Error      string
	Code       string // capture's stable error code
	HTTPStatus int    // the upgrade's HTTP status, 0 if there was none
}

// MaxAttempts is how many failed attempts the store keeps (all targets
// together); older ones are deleted as new ones are added. At the default
// backoff cap (one attempt a minute) that is more than two months of a
// target that never connects.
const MaxAttempts = 100_000

// AddAttempts records failed connection attempts in one transaction and
// deletes those beyond the newest MaxAttempts.
func (s *Store) AddAttempts(ctx context.Context, as []Attempt) error {
	if len(as) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: add attempts: %w", err)
	}
	defer tx.Rollback()
	for _, a := range as {
		if _, err := tx.ExecContext(ctx, `INSERT INTO connection_attempts (target, url, at, step, error, code, http_status) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			a.Target, a.URL, a.At.UnixMilli(), a.Step, a.Error, a.Code, a.HTTPStatus); err != nil {
			return fmt.Errorf("store: add attempts: %w", err)
		}
	}
	keep := s.keepAttempts
	if keep <= 0 {
		keep = MaxAttempts
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM connection_attempts WHERE id <= (SELECT MAX(id) FROM connection_attempts) - ?`, keep); err != nil {
		return fmt.Errorf("store: prune attempts: %w", err)
	}
	return tx.Commit()
}

// Attempts lists failed connection attempts newest first, of one target
// or all ("").
func (s *Store) Attempts(ctx context.Context, target string, limit int) ([]Attempt, error) {
	q := `SELECT id, target, url, at, step, error, code, http_status FROM connection_attempts`
	var args []any
	if target != "" {
		q += ` WHERE target = ?`
		args = append(args, target)
	}
	q += ` ORDER BY at DESC, id DESC LIMIT ?`
	return queryAll(ctx, s.r, "attempts", q, append(args, limit), func(r *sql.Rows, a *Attempt) error {
		var at int64
		err := r.Scan(&a.ID, &a.Target, &a.URL, &at, &a.Step, &a.Error, &a.Code, &a.HTTPStatus)
		a.At = time.UnixMilli(at)
		return err
	})
}

// MonitorProcess is the process that writes the database (monitor or
// all), as it last reported itself.
type MonitorProcess struct {
	PID         int
	Mode        string
	Version     string
	StartedAt   time.Time
	HeartbeatAt time.Time
	StoppedAt   time.Time // zero while it runs, or after it was killed
}

// Heartbeat records that process p is alive now (p.HeartbeatAt, or now
// when zero); the first call of a run sets its start.
func (s *Store) Heartbeat(ctx context.Context, p MonitorProcess) error {
	if p.HeartbeatAt.IsZero() {
		p.HeartbeatAt = time.Now()
	}
	var stopped int64
	if !p.StoppedAt.IsZero() {
		stopped = p.StoppedAt.UnixMilli()
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO monitor_process (id, pid, mode, version, started_at, heartbeat_at, stopped_at) VALUES (1, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, mode = excluded.mode, version = excluded.version,
			started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = excluded.stopped_at`,
		p.PID, p.Mode, p.Version, p.StartedAt.UnixMilli(), p.HeartbeatAt.UnixMilli(), stopped)
	if err != nil {
		return fmt.Errorf("store: heartbeat: %w", err)
	}
	return nil
}

// LastMonitorProcess returns the writing process's last report;
// ErrNotFound when no monitor has ever run on this database (or only one
// older than the heartbeat).
func (s *Store) LastMonitorProcess(ctx context.Context) (MonitorProcess, error) {
	var p MonitorProcess
	var started, beat, stopped int64
	err := s.r.QueryRowContext(ctx, `SELECT pid, mode, version, started_at, heartbeat_at, stopped_at FROM monitor_process WHERE id = 1`).
		Scan(&p.PID, &p.Mode, &p.Version, &started, &beat, &stopped)
	if errors.Is(err, sql.ErrNoRows) {
		return MonitorProcess{}, ErrNotFound
	}
	if err != nil {
		return MonitorProcess{}, fmt.Errorf("store: monitor process: %w", err)
	}
	p.StartedAt, p.HeartbeatAt = time.UnixMilli(started), time.UnixMilli(beat)
	if stopped != 0 {
		p.StoppedAt = time.UnixMilli(stopped)
	}
	return p, nil
}
