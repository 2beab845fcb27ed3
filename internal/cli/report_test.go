package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/store/storetest"
)

// TestReportCommand: wsmon report writes the daily report of a database
// as JSON and HTML files, and refuses bad arguments.
func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skip("no tz database:", err)
	}
	db := filepath.Join(dir, "wsmon.db")
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.Options(t, db, loc))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []message.Message
	for i := range 30 {
		at := time.Date(2026, 3, 10, 9+i%3, i, 0, 0, loc)
		msgs = append(msgs, message.Message{ID: int64(i + 1), Target: "alpha", SessionID: 1, ReceivedAt: at, User: []string{"a", "b", "<i>c</i>"}[i%3],
			Type: message.TypeChat, Content: "hello", Raw: []byte("hello")})
	}
	if err := st.ApplyBatch(ctx, &store.Batch{Messages: msgs, AppliedSeq: 1}); err != nil {
		t.Fatal(err)
	}
	// The monitor's index writes its rollups (every 2 minutes, and at a
	// clean stop); the report reads them.
	ix, err := index.New(ctx, st, index.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st.Close()
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(cfg, []byte(`{"time_zone": "Asia/Shanghai"}`), 0o600)

	out := filepath.Join(dir, "day.json")
	code, stdout, stderr := run(t, dir, "report", "--config", cfg, "--db", db, "--from", "2026-03-10", "--to", "2026-03-10", "--format", "json", "--out", out)
	if code != ExitOK || stdout != "" || !strings.Contains(stderr, "daily") {
		t.Fatalf("exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Kind   string
		Volume struct{ Messages int64 }
		Peak   struct{ Hour int }
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Kind != "daily" || rep.Volume.Messages != 30 || rep.Peak.Hour != 9 {
		t.Errorf("report %+v", rep)
	}
	if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode())
	}

	html := filepath.Join(dir, "week.html")
	code, _, stderr = run(t, dir, "report", "--config", cfg, "--db", db, "--from", "2026-03-09", "--to", "2026-03-15", "--lang", "zh", "--out", html)
	if code != ExitOK {
		t.Fatalf("html: exit %d %s", code, stderr)
	}
	page, _ := os.ReadFile(html)
	if !strings.Contains(string(page), "<svg") || strings.Contains(string(page), "<i>c</i>") || !strings.Contains(string(page), "报表") {
		t.Errorf("html page: %.300s", page)
	}

	for _, args := range [][]string{
		{"report", "--db", db},
		{"report", "--db", db, "--from", "2026-13-01"},
		{"report", "--db", db, "--from", "2026-03-10", "--to", "2026-03-01"},
		{"report", "--db", db, "--from", "2026-03-10", "--format", "pdf"},
		{"report", "--db", db, "--from", "2026-03-10", "--lang", "fr"},
	} {
		if code, _, _ := run(t, dir, args...); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, ExitUsage)
		}
	}
}
