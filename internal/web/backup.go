package web

import (
	"context"
	"net/http"
	"path/filepath"
	"time"
)

// BackupInfo describes a backup just written.
type BackupInfo struct {
	Path  string
	Bytes int64
	Took  time.Duration
}

// Backuper writes an online backup of the database now. It is the monitor
// in this process; a separate `wsmon web` has none (POST /api/backup
// answers 409: run `wsmon backup` there).
type Backuper interface {
	Backup(ctx context.Context) (BackupInfo, error)
}

// handleBackup writes a backup now: {"file": "backup_….db", "bytes": N,
// "took_ms": N}. The file's directory is not shown (it is the data
// directory's backups/).
func (s *Server) handleBackup(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Backup == nil {
		return &apiError{http.StatusConflict, "not_managed", "backups are written by the monitor process; run `wsmon backup` on its machine"}
	}
	info, err := s.opts.Backup.Backup(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"file": filepath.Base(info.Path), "bytes": info.Bytes, "took_ms": info.Took.Milliseconds()})
}
