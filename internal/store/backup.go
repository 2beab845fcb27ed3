package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"time"
)

// Backup writes a consistent copy of the database to path (which must not
// exist) while ingest goes on: VACUUM INTO reads a snapshot and does not
// block the writer.
func (s *Store) Backup(ctx context.Context, path string) error {
	if s.path == "" {
		return fmt.Errorf("store: backup is only built in for SQLite; use pg_dump")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	// VACUUM INTO takes the file name as a bound parameter: no quoting issues.
	if _, err := s.r.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("store: backup to %s: %w", path, err)
	}
	return nil
}

// BackupName returns the backup file name for time t, next to the
// database: data/backup_YYYYMMDD_HHMMSS.db.
func (s *Store) BackupName(t time.Time) string {
	return filepath.Join(filepath.Dir(s.path), "backup_"+t.Format("20060102_150405")+".db")
}

// PruneBackups deletes all but the newest keep backup_*.db files next to the
// database.
func (s *Store) PruneBackups(keep int) error {
	matches, err := filepath.Glob(filepath.Join(filepath.Dir(s.path), "backup_*.db"))
	if err != nil {
		return err
	}
	sort.Strings(matches) // names sort by time
	for len(matches) > keep {
		if err := os.Remove(matches[0]); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("store: prune backups: %w", err)
		}
		matches = matches[1:]
	}
	return nil
}
