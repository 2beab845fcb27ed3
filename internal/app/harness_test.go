package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/analysis"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/live"
	"github.com/wsmon/wsmon/internal/store/pgtest"
	"github.com/wsmon/wsmon/internal/store/storetest"
)

// harness runs a real demo chat server and a real wsmon (capture + store,
// optionally web) on loopback, with the database in a temp dir.
type harness struct {
	t       testing.TB
	demo    *demo.Server
	cfg     config.Config
	mon     *Monitor
	webAddr string
	hub     *live.Hub
	ix      *index.Indexer
	an      *analysis.Analyzer
	cancel  context.CancelFunc
	done    chan error
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("WSMON_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newDemo starts a demo server on a free loopback port.
func newDemo(t testing.TB, mod func(*demo.Options)) *demo.Server {
	t.Helper()
	o := demo.DefaultOptions()
	o.Addr = "127.0.0.1:0"
	o.Rate = 0
	o.Seed = 1
	if mod != nil {
		mod(&o)
	}
	d := demo.New(o)
	if err := d.Start(); err != nil {
		t.Fatalf("demo server: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// testConfig is a config for a temp dir monitoring url.
func testConfig(t testing.TB, url string) config.Config {
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.WebsocketURL = url
	cfg.TargetName = "demo"
	cfg.Protocol = "raw" // these tests are about capture and storage; auto has its own
	cfg.DatabasePath = filepath.Join(dir, "data", "chat_monitor.db")
	cfg.DatabaseURL = pgtest.ForPath(t, cfg.DatabasePath) // PostgreSQL instead when WSMON_TEST_PG_DSN is set
	cfg.LogDir = filepath.Join(dir, "logs")
	cfg.ReconnectInterval = 0.05
	cfg.ReconnectMaxInterval = 0.2
	cfg.MaxReconnectAttempts = 0
	cfg.AutoBackupHours = 0
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	return cfg
}

// start runs wsmon in mode with cfg and waits until it is running.
func start(t testing.TB, mode Mode, cfg config.Config) *harness {
	t.Helper()
	return startWith(t, mode, cfg, Options{})
}

// startWith is start with extra Options (fault injection).
func startWith(t testing.TB, mode Mode, cfg config.Config, o Options) *harness {
	t.Helper()
	h := &harness{t: t, cfg: cfg, done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	var ln net.Listener
	if mode != ModeMonitor {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
	}
	started := make(chan struct{})
	go func() {
		o.Logger, o.Version, o.Listener = testLogger(t), "test", ln
		o.Started = func(r Running) {
			h.mon, h.webAddr, h.hub, h.ix, h.an = r.Monitor, r.WebAddr, r.Hub, r.Index, r.Analyzer
			close(started)
		}
		h.done <- Run(ctx, mode, cfg, o)
	}()
	select {
	case <-started:
	case err := <-h.done:
		t.Fatalf("wsmon exited at start: %v", err)
	case <-time.After(30 * time.Second): // on PostgreSQL a restart after a kill waits out the killed monitor's claim (15 s)
		t.Fatal("wsmon did not start")
	}
	t.Cleanup(func() { h.stop() })
	return h
}

// stop shuts wsmon down cleanly and returns Run's error.
func (h *harness) stop() error {
	if h.cancel == nil {
		return nil
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		return err
	case <-time.After(60 * time.Second):
		h.t.Fatal("wsmon did not stop within 60 s")
		return nil
	}
}

func (h *harness) hubSubscribers() int { return h.hub.Subscribers() }

// waitConnected waits until every target has a runner (on PostgreSQL the
// collector starts them after its first lease round) and is connected.
func (h *harness) waitConnected() {
	h.t.Helper()
	want := len(h.cfg.ResolvedTargets())
	waitFor(h.t, 10*time.Second, "connected", func() bool {
		st := h.mon.Status()
		if len(st) < want {
			return false
		}
		for _, s := range st {
			if s.State != "connected" {
				return false
			}
		}
		return true
	})
	// The demo server registers the client right after the upgrade.
	waitFor(h.t, 5*time.Second, "demo client registered", func() bool { return h.mon != nil })
}

// waitMessages waits until the pipeline has committed at least n messages.
func (h *harness) waitMessages(n int64, within time.Duration) {
	h.t.Helper()
	waitFor(h.t, within, "messages committed", func() bool { return h.mon.Pipeline().Stats().Messages >= n })
}

func waitFor(t testing.TB, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// openDB opens the SQLite file read-only for assertions.
// openDB opens the test database at path directly: the SQLite file or
// its PostgreSQL stand-in (queries take ? placeholders on both).
func openDB(t testing.TB, path string) *storetest.DB {
	t.Helper()
	return storetest.OpenDB(t, storetest.Options(t, path, nil))
}

func sqlOpen(path string) (*storetest.DB, error) { return storetest.OpenPath(path) }
