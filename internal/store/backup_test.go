package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

// backupMsgs returns messages from..to-1 with ids equal to their number.
func backupMsgs(from, to int, raw []byte) []message.Message {
	msgs := make([]message.Message, 0, to-from)
	for i := from; i < to; i++ {
		msgs = append(msgs, message.Message{ID: int64(i), Target: "t", ReceivedAt: time.Now(), Type: "chat",
			User: "u" + fmt.Sprint(i%50), Content: fmt.Sprintf("备份 backup %d", i), Raw: raw})
	}
	return msgs
}

// TestBackupWhileWriting: a backup taken while batches are written, one
// after another, for the whole time it runs, is a consistent database
// (integrity check ok) holding a prefix of what was written: messages
// 1..n with no gap, n between what was committed before the backup began
// and after it ended, and the applied journal sequence of its last batch.
// No write fails or waits for the backup; some commit while it runs. Only
// the newest backup_keep backups are kept.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Options{Path: filepath.Join(dir, "chat_monitor.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Enough data (about 10 MB) that the backup takes a while.
	raw := []byte(strings.Repeat("x", 1024))
	const initial, per = 10000, 50
	for i := 1; i <= initial; i += 5000 {
		if err := s.ApplyBatch(ctx, &Batch{Messages: backupMsgs(i, i+5000, raw), AppliedSeq: uint64(i + 4999)}); err != nil {
			t.Fatal(err)
		}
	}

	// The writer: one batch after another until told to stop.
	var committed atomic.Int64 // highest id committed
	committed.Store(initial)
	stop := make(chan struct{})
	writeErr := make(chan error, 1)
	go func() {
		next := initial + 1
		for {
			select {
			case <-stop:
				writeErr <- nil
				return
			default:
			}
			if err := s.ApplyBatch(ctx, &Batch{Messages: backupMsgs(next, next+per, raw), AppliedSeq: uint64(next + per - 1)}); err != nil {
				writeErr <- fmt.Errorf("batch from %d: %w", next, err)
				return
			}
			next += per
			committed.Store(int64(next - 1))
		}
	}()
	// Writes are going on before the backup starts...
	for committed.Load() < initial+3*per {
		time.Sleep(time.Millisecond)
	}
	base := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	path := s.BackupName(base)
	before := committed.Load()
	if err := s.Backup(ctx, path); err != nil {
		t.Fatal(err)
	}
	after := committed.Load()
	// ...and after it ends.
	for committed.Load() < after+3*per {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	if err := <-writeErr; err != nil {
		t.Fatalf("a write failed during the backup: %v", err)
	}
	if after == before {
		t.Errorf("no batch was committed while the backup ran (%d messages before and after): it held up the writer", before)
	}

	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Fatalf("backup integrity_check = %q (%v)", check, err)
	}
	var n, lo, hi int64
	if err := db.QueryRow(`SELECT COUNT(*), MIN(id), MAX(id) FROM chat_messages`).Scan(&n, &lo, &hi); err != nil {
		t.Fatal(err)
	}
	if lo != 1 || hi != n || (n-initial)%per != 0 {
		t.Fatalf("backup holds %d messages, ids %d..%d: not whole batches from the first", n, lo, hi)
	}
	if n < before || n > after {
		t.Fatalf("backup holds messages 1..%d; %d were committed when it began and %d when it ended", n, before, after)
	}
	var seq int64
	if err := db.QueryRow(`SELECT applied_seq FROM collectors WHERE id = 1`).Scan(&seq); err != nil || seq != n {
		t.Fatalf("backup's applied sequence %d (%v), want %d, its last message", seq, err, n)
	}
	var content string
	if err := db.QueryRow(`SELECT content FROM chat_messages WHERE id = ?`, n).Scan(&content); err != nil || content != fmt.Sprintf("备份 backup %d", n) {
		t.Fatalf("last message in the backup = %q (%v)", content, err)
	}
	t.Logf("backup of %d messages; %d committed while it ran", n, after-before)

	// Retention of backups.
	for i := 1; i < 4; i++ {
		if err := s.Backup(ctx, s.BackupName(base.Add(time.Duration(i)*time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PruneBackups(2); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "backups", "backup_*.db"))
	if len(left) != 2 || filepath.Base(left[1]) != "backup_20261126_130000.db" {
		t.Fatalf("backups left: %v", left)
	}
	if _, err := os.Stat(left[1]); err != nil {
		t.Fatal(err)
	}
}
