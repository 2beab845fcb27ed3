package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

// TestBackupWhileWriting: a backup is a complete, readable database, and
// only the newest backup_keep backups are kept.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Options{Path: filepath.Join(dir, "chat_monitor.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var msgs []message.Message
	for i := 1; i <= 100; i++ {
		msgs = append(msgs, message.Message{ID: int64(i), Target: "t", ReceivedAt: time.Now(), Type: "chat", Content: "备份 backup", Raw: []byte("x")})
	}
	if err := s.ApplyBatch(ctx, &Batch{Messages: msgs, AppliedSeq: 100}); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 4; i++ {
		if err := s.Backup(ctx, s.BackupName(base.Add(time.Duration(i)*time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PruneBackups(2); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "backup_*.db"))
	if len(left) != 2 || filepath.Base(left[1]) != "backup_20261126_130000.db" {
		t.Fatalf("backups left: %v", left)
	}
	db, err := sql.Open("sqlite", "file:"+left[1])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM chat_messages`).Scan(&n); err != nil || n != 100 {
		t.Fatalf("backup holds %d messages (%v)", n, err)
	}
	if _, err := os.Stat(left[1]); err != nil {
		t.Fatal(err)
	}
}
