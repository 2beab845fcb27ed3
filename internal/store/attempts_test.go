package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAttempts: failed attempts are stored, listed newest first per
// target, and the oldest are pruned past the bound.
func TestAttempts(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testOptions(t, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.UnixMilli(1_700_000_000_000)
	var as []Attempt
	for i := range 4 {
		as = append(as, Attempt{Target: "a", URL: "ws://h/ws", At: t0.Add(time.Duration(i) * time.Second), Step: "dial",
			Error: "dial: connection refused", Code: "connection_refused"})
	}
	as = append(as, Attempt{Target: "b", URL: "ws://b/ws", At: t0, Step: "dial", Error: "upgrade refused: HTTP 401", Code: "unauthorized", HTTPStatus: 401})
	if err := s.AddAttempts(ctx, as); err != nil {
		t.Fatal(err)
	}
	got, err := s.Attempts(ctx, "a", 10)
	if err != nil || len(got) != 4 {
		t.Fatalf("attempts of a: %v %+v", err, got)
	}
	if !got[0].At.Equal(t0.Add(3*time.Second)) || got[0].Code != "connection_refused" || got[0].Step != "dial" || got[0].URL != "ws://h/ws" {
		t.Errorf("newest attempt = %+v", got[0])
	}
	b, _ := s.Attempts(ctx, "b", 10)
	if len(b) != 1 || b[0].HTTPStatus != 401 || b[0].Code != "unauthorized" {
		t.Errorf("attempts of b = %+v", b)
	}
	s.keepAttempts = 3
	if err := s.AddAttempts(ctx, []Attempt{{Target: "a", At: t0.Add(time.Hour), Step: "dial", Error: "x", Code: "dial_failed"}}); err != nil {
		t.Fatal(err)
	}
	all, _ := s.Attempts(ctx, "", 100)
	if len(all) != 3 || !all[0].At.Equal(t0.Add(time.Hour)) {
		t.Errorf("after pruning to 3: %+v", all)
	}
}

// TestTargetStatusCodesAndHeartbeat: a status's error code and next
// attempt, and the monitor process's heartbeat, read back as written.
func TestTargetStatusCodesAndHeartbeat(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testOptions(t, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.LastMonitorProcess(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before any monitor: %v", err)
	}
	next := time.UnixMilli(time.Now().Add(7 * time.Second).UnixMilli())
	if err := s.PutTargetStatuses(ctx, []TargetStatus{{Name: "a", State: "disconnected", LastError: "dial: refused", ErrorCode: "connection_refused", NextAttemptAt: next, Since: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	sts, err := s.TargetStatuses(ctx)
	if err != nil || len(sts) != 1 || sts[0].ErrorCode != "connection_refused" || !sts[0].NextAttemptAt.Equal(next) {
		t.Fatalf("status: %v %+v", err, sts)
	}
	start := time.UnixMilli(time.Now().Add(-time.Minute).UnixMilli())
	beat := time.UnixMilli(time.Now().UnixMilli())
	if err := s.Heartbeat(ctx, MonitorProcess{PID: 42, Mode: "monitor", Version: "dev", StartedAt: start, HeartbeatAt: beat}); err != nil {
		t.Fatal(err)
	}
	p, err := s.LastMonitorProcess(ctx)
	if err != nil || p.PID != 42 || p.Mode != "monitor" || !p.StartedAt.Equal(start) || !p.HeartbeatAt.Equal(beat) || !p.StoppedAt.IsZero() {
		t.Fatalf("process: %v %+v", err, p)
	}
	if err := s.Heartbeat(ctx, MonitorProcess{PID: 42, Mode: "monitor", Version: "dev", StartedAt: start, HeartbeatAt: beat, StoppedAt: beat}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.LastMonitorProcess(ctx); !p.StoppedAt.Equal(beat) {
		t.Errorf("stopped at %v, want %v", p.StoppedAt, beat)
	}
}

// TestReadOnlyBackupCopy: a backup copy that cannot be written opens
// read-only: it reads, it refuses writes, and nothing is created beside
// it; a read-only copy of an older schema is refused with why.
func TestReadOnlyBackupCopy(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, Options{Path: filepath.Join(dir, "live.db"), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddAttempts(ctx, []Attempt{{Target: "a", At: time.Now(), Step: "dial", Error: "x", Code: "dial_failed"}}); err != nil {
		t.Fatal(err)
	}
	roDir := filepath.Join(dir, "ro")
	os.Mkdir(roDir, 0o755)
	copyPath := filepath.Join(roDir, "copy.db")
	if err := s.Backup(ctx, copyPath); err != nil {
		t.Fatal(err)
	}
	s.Close()
	os.Chmod(copyPath, 0o444)
	os.Chmod(roDir, 0o555)
	t.Cleanup(func() { os.Chmod(roDir, 0o755) })

	r, err := Open(ctx, Options{Path: copyPath, Location: time.UTC, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if !r.ReadOnly() {
		t.Error("ReadOnly() = false")
	}
	if as, err := r.Attempts(ctx, "", 10); err != nil || len(as) != 1 {
		t.Errorf("read: %v %+v", err, as)
	}
	if err := r.AddAttempts(ctx, []Attempt{{Target: "b", At: time.Now()}}); err == nil {
		t.Error("a write to a read-only database succeeded")
	}
	r.Close()
	entries, _ := os.ReadDir(roDir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("files beside the read-only copy: %v", names)
	}

	_, err = Open(ctx, Options{Path: filepath.Join(dir, "missing.db"), ReadOnly: true})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("read-only open of a missing file: %v", err)
	}
	// An older schema cannot be upgraded read-only.
	old := filepath.Join(dir, "old.db")
	s2, _ := Open(ctx, Options{Path: old})
	s2.w.Exec(`DELETE FROM schema_migrations WHERE version = (SELECT MAX(version) FROM schema_migrations)`)
	s2.Close()
	_, err = Open(ctx, Options{Path: old, ReadOnly: true})
	if err == nil || !strings.Contains(err.Error(), "cannot be upgraded") {
		t.Errorf("read-only open of an older schema: %v", err)
	}
}
