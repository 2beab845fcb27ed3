package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/store/storetest"
)

// TestMain lets a test re-run this binary as a real wsmon monitor process
// (so it can be killed with SIGKILL): WSMON_TEST_CHILD_CONFIG holds the
// config as JSON, or "@file" naming a file that holds it.
func TestMain(m *testing.M) {
	if addr := os.Getenv("WSMON_TEST_DEMO_CHILD"); addr != "" {
		runDemoChild(addr)
		return
	}
	if spec := os.Getenv("WSMON_TEST_SSE_CHILD"); spec != "" {
		runSSEChild(spec)
		return
	}
	if js := os.Getenv("WSMON_TEST_CHILD_CONFIG"); js != "" {
		var cfg config.Config
		if name, ok := strings.CutPrefix(js, "@"); ok {
			b, err := os.ReadFile(name)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			js = string(b)
		}
		if err := json.Unmarshal([]byte(js), &cfg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		mode := ModeMonitor
		switch os.Getenv("WSMON_TEST_CHILD_MODE") {
		case "all":
			mode = ModeAll
		case "web":
			mode = ModeWeb
		}
		if err := Run(ctx, mode, cfg, Options{Version: "test-child"}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runDemoChild runs a demo server in this process until killed, printing
// its URL on stdout.
func runDemoChild(addr string) {
	o := demo.DefaultOptions()
	o.Addr, o.Rate, o.Seed = addr, 0, 1
	d := demo.New(o)
	if err := d.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println(d.URL())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	d.Close()
	os.Exit(0)
}

// startChild runs a monitor as a child process (startProcess).
func startChild(t *testing.T, cfg config.Config) *exec.Cmd {
	cmd, _ := startProcess(t, cfg, "monitor")
	return cmd
}

// TestCrashLosesAtMostTheTail: SIGKILL in the middle of a burst leaves a
// sound database; after a restart every message committed before the kill
// is there, the journal's unapplied records are applied, and the stored
// messages are a gap-free prefix of what the server sent (only the tail may
// be missing), with no duplicates.
func TestCrashLosesAtMostTheTail(t *testing.T) {
	t.Parallel() // servers and child processes of its own: beside the other long fault tests (not the collectors', whose lease timings a busy machine upsets)
	d := newDemo(t, nil)
	cfg := testConfig(t, d.URL())
	child := startChild(t, cfg)
	waitFor(t, 20*time.Second, "child connected", func() bool { return d.Clients() == 1 })
	burstDone := make(chan struct{})
	go func() { d.Burst(60_000); close(burstDone) }()
	var committed int64
	waitFor(t, 60*time.Second, "child committing", func() bool {
		committed = countRowsQuiet(cfg.DatabasePath)
		return committed >= 10_000
	})
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	<-burstDone // the rest of the burst went to nobody: the restart must not see it

	if db := openDB(t, cfg.DatabasePath); !db.Postgres() { // PostgreSQL keeps its own integrity
		var ok string
		if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
			t.Fatalf("integrity_check after SIGKILL: %q %v", ok, err)
		}
	}
	// Restart: the journal's unapplied records are written, and the search
	// index and statistics (cut off mid-flight) are exact again.
	h := start(t, ModeMonitor, cfg)
	waitFor(t, 120*time.Second, "journal replayed", func() bool { return h.mon.Pipeline().Stats().Backlog == 0 })
	checkIndexExact(t, h, cfg.DatabasePath)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	n := countRows(t, cfg.DatabasePath, `SELECT COUNT(*) FROM messages`)
	if n < committed {
		t.Fatalf("%d messages after restart, %d were committed before the kill", n, committed)
	}
	checkSeqs(t, cfg.DatabasePath, int(n))
	t.Logf("committed before kill %d, stored after restart %d", committed, n)
}

// countRowsQuiet counts messages, 0 on any error (the file may be busy).
func countRowsQuiet(path string) int64 {
	db, err := sqlOpen(path)
	if err != nil {
		return 0
	}
	defer db.Close()
	var n int64
	db.QueryRow(`SELECT COUNT(*) FROM messages`).Scan(&n)
	return n
}

// checkIndexExact compares statistics with a full recomputation and a few
// searches with a scan of the table.
func checkIndexExact(t *testing.T, h *harness, dbPath string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.Options(t, dbPath, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	got, err := h.ix.Stats(ctx, store.StatsQuery{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	want, err := st.StatsScan(ctx, store.StatsQuery{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stats after crash differ from a recomputation:\n got  %+v\n want %+v", got, want)
	}
	for _, q := range []string{"紧急", "好", "hello", "订单", "the", "👍"} {
		res, err := h.ix.Search(ctx, q, store.MessageQuery{Limit: 20})
		if err != nil {
			t.Fatal(err)
		}
		scan, err := storetest.Search(ctx, st, q, store.MessageQuery{Limit: 20})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Messages) != len(scan.Messages) || (!res.Estimate && res.Total != scan.Total) {
			t.Fatalf("search %q after crash: index %d hits (total %d), scan %d (total %d)", q, len(res.Messages), res.Total, len(scan.Messages), scan.Total)
		}
		for i := range res.Messages {
			if res.Messages[i].ID != scan.Messages[i].ID {
				t.Fatalf("search %q after crash: hit %d is %d, scan says %d", q, i, res.Messages[i].ID, scan.Messages[i].ID)
			}
		}
	}
}
