package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Collectors and leases: several monitor processes ("collectors") on
// different machines may share one PostgreSQL database. Each has a row in
// collectors (its applied journal position, its sign of life) and owns
// targets through lease rows: a lease is granted to one collector at a
// time, renewed every few seconds and taken over by another collector
// once it has expired by the database's clock. Every grant to a new owner
// raises the lease's epoch and records when it was granted and the
// highest message id then; the write path (write_pg.go) uses both to
// fence off a former owner and to check dedup keys across collectors.
// On SQLite there is one collector, 1, and no lease is ever taken.

// ErrCollectorBusy is returned by ClaimCollector when another live process
// reports under the same collector id.
var ErrCollectorBusy = errors.New("store: another live process uses this collector id")

// Collector is one collector's row.
type Collector struct {
	ID          int64
	Name        string // host and data directory
	PID         int
	Mode        string
	Version     string
	StartedAt   time.Time
	HeartbeatAt time.Time
	StoppedAt   time.Time // zero while it runs, or after it was killed
}

// SetCollector makes id this store's collector: the applied journal
// position read and written is that collector's, and batches are written
// under its leases. Call it before the ingest pipeline starts; 0 or 1 is
// the default collector (SQLite's only one).
func (s *Store) SetCollector(id int64) { s.collector.Store(id) }

// collectorID is the collector batches are written for (1 by default).
func (s *Store) collectorID() int64 {
	if id := s.collector.Load(); id > 0 {
		return id
	}
	return 1
}

// DatabaseUID returns the random id the database was created with (schema
// 10), which tells a data directory whether the collector id it remembers
// belongs to this database.
func (s *Store) DatabaseUID(ctx context.Context) (string, error) {
	var uid string
	if err := s.r.QueryRowContext(ctx, `SELECT uid FROM database_identity WHERE id = 1`).Scan(&uid); err != nil {
		return "", fmt.Errorf("store: database uid: %w", err)
	}
	return uid, nil
}

// ClaimCollector makes p the process reporting as collector id (its
// heartbeat, pid, mode), unless another process does: one whose row is not
// stopped, whose heartbeat is newer than staleBefore and whose name or pid
// differs. id 0 asks for a collector id: collector 1 if it was never
// claimed (the database's first monitor, which continues from the
// single-collector applied position), else a new one. It returns the id
// claimed, or ErrCollectorBusy with the holder.
func (s *Store) ClaimCollector(ctx context.Context, id int64, p Collector, staleBefore time.Time) (int64, Collector, error) {
	now := p.HeartbeatAt.UnixMilli()
	if id == 0 {
		res, err := s.w.ExecContext(ctx, `UPDATE collectors SET name = ?, pid = ?, mode = ?, version = ?, started_at = ?, heartbeat_at = ?, stopped_at = 0
			WHERE id = 1 AND name = ''`, p.Name, p.PID, p.Mode, p.Version, p.StartedAt.UnixMilli(), now)
		if err != nil {
			return 0, Collector{}, fmt.Errorf("store: claim collector: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return 1, Collector{}, nil
		}
		for range 10 { // two collectors registering at once: one retries
			err := s.w.QueryRowContext(ctx, `INSERT INTO collectors (id, name, pid, mode, version, started_at, heartbeat_at)
				SELECT COALESCE(MAX(id), 0) + 1, ?, ?, ?, ?, ?, ? FROM collectors WHERE true ON CONFLICT (id) DO NOTHING RETURNING id`,
				p.Name, p.PID, p.Mode, p.Version, p.StartedAt.UnixMilli(), now).Scan(&id)
			if err == nil {
				return id, Collector{}, nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return 0, Collector{}, fmt.Errorf("store: register collector: %w", err)
			}
		}
		return 0, Collector{}, errors.New("store: register collector: ids kept being taken")
	}
	res, err := s.w.ExecContext(ctx, `UPDATE collectors SET name = ?, pid = ?, mode = ?, version = ?, started_at = ?, heartbeat_at = ?, stopped_at = 0
		WHERE id = ? AND (stopped_at <> 0 OR heartbeat_at < ? OR (name = ? AND pid = ?))`,
		p.Name, p.PID, p.Mode, p.Version, p.StartedAt.UnixMilli(), now, id, staleBefore.UnixMilli(), p.Name, p.PID)
	if err != nil {
		return 0, Collector{}, fmt.Errorf("store: claim collector %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return id, Collector{}, nil
	}
	cs, err := s.Collectors(ctx)
	if err != nil {
		return 0, Collector{}, err
	}
	for _, c := range cs {
		if c.ID == id {
			return 0, c, ErrCollectorBusy
		}
	}
	return 0, Collector{}, fmt.Errorf("store: collector %d is not in this database", id)
}

// CollectorHeartbeat records that collector p.ID is alive now (with
// p.StoppedAt set: that it stopped cleanly).
func (s *Store) CollectorHeartbeat(ctx context.Context, p Collector) error {
	var stopped int64
	if !p.StoppedAt.IsZero() {
		stopped = p.StoppedAt.UnixMilli()
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE collectors SET heartbeat_at = ?, stopped_at = ? WHERE id = ?`,
		p.HeartbeatAt.UnixMilli(), stopped, p.ID); err != nil {
		return fmt.Errorf("store: collector heartbeat: %w", err)
	}
	return nil
}

// Collectors lists every collector row, by id.
func (s *Store) Collectors(ctx context.Context) ([]Collector, error) {
	return queryAll(ctx, s.r, "collectors", `SELECT id, name, pid, mode, version, started_at, heartbeat_at, stopped_at FROM collectors ORDER BY id`, nil,
		func(r *sql.Rows, c *Collector) error {
			var started, beat, stopped int64
			err := r.Scan(&c.ID, &c.Name, &c.PID, &c.Mode, &c.Version, &started, &beat, &stopped)
			c.StartedAt, c.HeartbeatAt = time.UnixMilli(started), time.UnixMilli(beat)
			if stopped != 0 {
				c.StoppedAt = time.UnixMilli(stopped)
			}
			return err
		})
}

// Lease is one lease row.
type Lease struct {
	Name      string
	Owner     int64 // collector id
	Epoch     int64 // grants so far: raised each time the lease changes owner or is granted again after it expired or was released
	PrevOwner int64 // the collector that held it before its current owner (0: none)
	GrantedAt time.Time
	GrantedID int64 // the highest message id when it was granted
	ExpiresAt time.Time
}

// TargetLease is the lease name of a target.
func TargetLease(target string) string { return "target/" + target }

// IndexLease is the lease of the process that writes the search index,
// the rollups and the analyses.
const IndexLease = "index"

// AcquireLease grants lease name to collector owner for ttl, by the
// database's clock, if nobody holds it: no row, or one that expired or was
// released. It returns whether owner holds it now, and the lease. A
// collector that still holds it (its own row, not expired) keeps its
// epoch; otherwise the epoch goes up by one.
func (s *Store) AcquireLease(ctx context.Context, name string, owner int64, ttl time.Duration) (bool, Lease, error) {
	now := s.d.nowMillis
	l := Lease{Name: name}
	var granted, expires int64
	err := s.w.QueryRowContext(ctx, `INSERT INTO leases (name, owner, epoch, granted_at, granted_id, expires_at)
		VALUES (?, ?, 1, `+now+`, (SELECT COALESCE(MAX(id), 0) FROM messages), `+now+` + ?)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,
			prev_owner = CASE WHEN leases.owner = excluded.owner THEN leases.prev_owner ELSE leases.owner END,
			epoch = CASE WHEN leases.owner = excluded.owner AND leases.expires_at > excluded.granted_at THEN leases.epoch ELSE leases.epoch + 1 END,
			granted_at = CASE WHEN leases.owner = excluded.owner AND leases.expires_at > excluded.granted_at THEN leases.granted_at ELSE excluded.granted_at END,
			granted_id = CASE WHEN leases.owner = excluded.owner AND leases.expires_at > excluded.granted_at THEN leases.granted_id ELSE excluded.granted_id END,
			expires_at = excluded.expires_at
		WHERE leases.expires_at <= excluded.granted_at OR leases.owner = excluded.owner
		RETURNING owner, epoch, prev_owner, granted_at, granted_id, expires_at`,
		name, owner, ttl.Milliseconds()).Scan(&l.Owner, &l.Epoch, &l.PrevOwner, &granted, &l.GrantedID, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, Lease{}, nil
	case err != nil:
		return false, Lease{}, fmt.Errorf("store: acquire lease %s: %w", name, err)
	}
	l.GrantedAt, l.ExpiresAt = time.UnixMilli(granted), time.UnixMilli(expires)
	return true, l, nil
}

// RenewLeases extends owner's leases among names by ttl and returns the
// names it still holds. A lease that expired is renewed as long as nobody
// else took it (a database outage expires every lease, and no one else
// could take one meanwhile); a name missing from the result was taken by
// another collector or released: its owner must stop capturing it.
func (s *Store) RenewLeases(ctx context.Context, owner int64, names []string, ttl time.Duration) (map[string]bool, error) {
	held := map[string]bool{}
	if len(names) == 0 {
		return held, nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("store: renew leases: %w", err)
	}
	defer tx.Rollback()
	for _, n := range names {
		res, err := tx.ExecContext(ctx, `UPDATE leases SET expires_at = `+s.d.nowMillis+` + ? WHERE name = ? AND owner = ? AND expires_at > 0`,
			ttl.Milliseconds(), n, owner)
		if err != nil {
			return nil, fmt.Errorf("store: renew lease %s: %w", n, err)
		}
		if k, _ := res.RowsAffected(); k == 1 {
			held[n] = true
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("store: renew leases: %w", err)
	}
	return held, nil
}

// ReleaseLeases gives up owner's leases among names at once (a clean
// stop, or a collector handing targets to a newcomer): another collector
// may take them at its next look.
func (s *Store) ReleaseLeases(ctx context.Context, owner int64, names []string) error {
	for _, n := range names {
		if _, err := s.w.ExecContext(ctx, `UPDATE leases SET expires_at = 0 WHERE name = ? AND owner = ?`, n, owner); err != nil {
			return fmt.Errorf("store: release lease %s: %w", n, err)
		}
	}
	return nil
}

// Leases lists every lease.
func (s *Store) Leases(ctx context.Context) ([]Lease, error) {
	return queryAll(ctx, s.r, "leases", `SELECT name, owner, epoch, prev_owner, granted_at, granted_id, expires_at FROM leases ORDER BY name`, nil,
		func(r *sql.Rows, l *Lease) error {
			var granted, expires int64
			err := r.Scan(&l.Name, &l.Owner, &l.Epoch, &l.PrevOwner, &granted, &l.GrantedID, &expires)
			l.GrantedAt, l.ExpiresAt = time.UnixMilli(granted), time.UnixMilli(expires)
			return err
		})
}

// LiveCollectors counts the collectors whose heartbeat is newer than
// staleBefore and that did not stop.
func (s *Store) LiveCollectors(ctx context.Context, staleBefore time.Time) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM collectors WHERE stopped_at = 0 AND heartbeat_at >= ?`, staleBefore.UnixMilli()).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: live collectors: %w", err)
	}
	return n, nil
}
