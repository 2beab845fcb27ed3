package store

import (
	"context"
	"database/sql"
	"fmt"
	"io"
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

// BackupDir is where backups go: data/backups beside the database.
func (s *Store) BackupDir() string {
	return filepath.Join(filepath.Dir(s.path), "backups")
}

// BackupName returns the backup file name for time t:
// data/backups/backup_YYYYMMDD_HHMMSS.db.
func (s *Store) BackupName(t time.Time) string {
	return filepath.Join(s.BackupDir(), "backup_"+t.Format("20060102_150405")+".db")
}

// PruneBackups deletes all but the newest keep backup_*.db files in
// BackupDir.
func (s *Store) PruneBackups(keep int) error {
	matches, err := filepath.Glob(filepath.Join(s.BackupDir(), "backup_*.db"))
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

// CheckBackup opens the SQLite file at path read-only and checks that it
// is a sound wsmon database: integrity_check ok and a messages table. It
// returns its message count and schema version.
func CheckBackup(ctx context.Context, path string) (messages int64, version int, err error) {
	if _, err := os.Stat(path); err != nil {
		return 0, 0, fmt.Errorf("store: backup %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return 0, 0, fmt.Errorf("store: open backup: %w", err)
	}
	defer db.Close()
	var ok string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&ok); err != nil {
		return 0, 0, fmt.Errorf("store: %s is not a SQLite database: %w", path, err)
	}
	if ok != "ok" {
		return 0, 0, fmt.Errorf("store: %s is damaged: %s", path, ok)
	}
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
		return 0, 0, fmt.Errorf("store: %s is not a wsmon database: %w", path, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages`).Scan(&messages); err != nil {
		return 0, 0, fmt.Errorf("store: %s is not a wsmon database: %w", path, err)
	}
	return messages, version, nil
}

// Restore puts the backup at backup in place of the SQLite database at
// dbPath: the backup is checked first (CheckBackup), the current database
// and its -wal and -shm files are moved aside (renamed with the suffix
// ".before-restore-YYYYMMDD_HHMMSS", returned as aside), and the backup is
// copied in through a temporary file, fsynced and renamed. The database
// must not be open: the caller holds the data directory's lock.
func Restore(ctx context.Context, dbPath, backup string, now time.Time) (aside string, err error) {
	if _, _, err := CheckBackup(ctx, backup); err != nil {
		return "", err
	}
	src, err := os.Open(backup)
	if err != nil {
		return "", fmt.Errorf("store: restore: %w", err)
	}
	defer src.Close()
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o755); err != nil {
		return "", fmt.Errorf("store: restore: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dbPath), ".restore-*.db")
	if err != nil {
		return "", fmt.Errorf("store: restore: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return "", fmt.Errorf("store: restore: copy: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("store: restore: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("store: restore: %w", err)
	}
	suffix := ".before-restore-" + now.Format("20060102_150405")
	if _, err := os.Stat(dbPath); err == nil {
		aside = dbPath + suffix
		for _, ext := range []string{"", "-wal", "-shm"} {
			if err := os.Rename(dbPath+ext, aside+ext); err != nil && !os.IsNotExist(err) {
				return "", fmt.Errorf("store: restore: move the current database aside: %w", err)
			}
		}
	}
	if err := os.Rename(tmp.Name(), dbPath); err != nil {
		return aside, fmt.Errorf("store: restore: %w", err)
	}
	return aside, nil
}
