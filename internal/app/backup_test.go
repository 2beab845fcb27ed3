package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/testkit"
)

// TestBackupDuringBurstRestores: POST /api/backup in the middle of a
// 60,000-message burst (ingest goes on); the backup restores to a
// database holding every message committed before the backup started,
// with no gap and none twice.
func TestBackupDuringBurstRestores(t *testing.T) {
	o := demo.DefaultOptions()
	o.Addr, o.Rate, o.Seed = "127.0.0.1:0", 0, 5
	d := demo.New(o)
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	cfg := testkit.Config(t, d.URL())
	if cfg.Postgres() {
		t.Skip("backups are SQLite's (PostgreSQL: pg_dump)")
	}
	cfg.Protocol = "raw"
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	api := "http://" + m.WebAddr()

	const total = 60_000
	go d.Burst(total)
	db, err := sql.Open("sqlite", "file:"+cfg.DatabasePath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func() (n int64) { db.QueryRow(`SELECT COUNT(*) FROM messages`).Scan(&n); return }
	testkit.WaitFor(t, 30*time.Second, "the burst under way", func() bool { return count() >= 5_000 })
	var before int64
	db.QueryRow(`SELECT COALESCE(MAX(id), 0) FROM messages`).Scan(&before)

	t0 := time.Now()
	req, _ := http.NewRequest("POST", api+"/api/backup", nil)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		File  string `json:"file"`
		Bytes int64  `json:"bytes"`
	}
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(info.File, "backup_") || info.Bytes == 0 {
		t.Fatalf("POST /api/backup: %d %+v", resp.StatusCode, info)
	}
	took, during := time.Since(t0), count()
	testkit.WaitFor(t, 60*time.Second, "the whole burst stored", func() bool { return count() >= total })
	t.Logf("backup %s (%d bytes, %v) taken with %d messages committed; %d when it returned; ingest went on to %d",
		info.File, info.Bytes, took.Round(time.Millisecond), before, during, total)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}

	backup := filepath.Join(filepath.Dir(cfg.DatabasePath), "backups", info.File)
	ctx := context.Background()
	n, _, err := store.CheckBackup(ctx, backup)
	if err != nil || n < before {
		t.Fatalf("backup holds %d messages (%v), %d committed before it", n, err, before)
	}
	aside, err := store.Restore(ctx, cfg.DatabasePath, backup, time.Now())
	if err != nil || aside == "" {
		t.Fatalf("Restore = %q, %v", aside, err)
	}
	rdb, err := sql.Open("sqlite", "file:"+cfg.DatabasePath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	var cnt, lo, hi, distinct int64
	rdb.QueryRow(`SELECT COUNT(*), MIN(id), MAX(id), COUNT(DISTINCT ext_id) FROM messages`).Scan(&cnt, &lo, &hi, &distinct)
	if cnt != n || hi < before || hi-lo+1 != cnt || distinct != cnt {
		t.Fatalf("restored: %d messages, ids %d..%d, %d distinct; %d committed before the backup", cnt, lo, hi, distinct, before)
	}
}
