// Package testkit runs wsmon in tests the way production composes it
// (app.Run in the recommended mode, all: capture runners, journal,
// pipeline, SQLite, index, live hub and the web server on a loopback port)
// against real servers started by the tests, and checks what was stored.
// It is imported only by _test files; nothing in the product uses it.
package testkit

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/app"
	"github.com/wsmon/wsmon/internal/capture"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/store/pgtest"
)

// Config returns a valid configuration for one target at url with its
// database and logs in a temp dir and fast reconnects (0.05 s, capped at
// 0.5 s, forever). Set protocol settings on the result before Start.
func Config(t testing.TB, url string) config.Config {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.WebsocketURL = url
	cfg.TargetName = "t"
	cfg.DatabasePath = filepath.Join(dir, "data", "chat_monitor.db")
	cfg.DatabaseURL = pgtest.ForPath(t, cfg.DatabasePath) // PostgreSQL instead when WSMON_TEST_PG_DSN is set
	cfg.LogDir = filepath.Join(dir, "logs")
	cfg.ReconnectInterval = 0.05
	cfg.ReconnectMaxInterval = 0.5
	cfg.MaxReconnectAttempts = 0
	cfg.AutoBackupHours = 0
	cfg.MessageLog = new(bool)
	return cfg
}

// Monitor is a running wsmon monitor.
type Monitor struct {
	cfg     config.Config
	mon     *app.Monitor
	webAddr string
	cancel  context.CancelFunc
	done    chan error
	logs    *logBuffer
}

// Start validates cfg and runs wsmon in mode all (capture and dashboard,
// the web server on a free 127.0.0.1 port) until the test ends
// (or Stop). The log is printed when the test fails, or always with
// WSMON_TEST_LOG set.
func Start(t testing.TB, cfg config.Config) *Monitor {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	m := &Monitor{cfg: cfg, done: make(chan error, 1), logs: &logBuffer{}}
	var w io.Writer = m.logs
	if os.Getenv("WSMON_TEST_LOG") != "" {
		w = io.MultiWriter(m.logs, os.Stderr)
	}
	logger := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	started := make(chan struct{})
	go func() {
		m.done <- app.Run(ctx, app.ModeAll, cfg, app.Options{Logger: logger, Version: "test", Listener: ln,
			Started: func(r app.Running) { m.mon, m.webAddr = r.Monitor, r.WebAddr; close(started) }})
	}()
	select {
	case <-started:
	case err := <-m.done:
		t.Fatalf("wsmon exited at start: %v\n%s", err, m.logs.String())
	case <-time.After(15 * time.Second):
		t.Fatal("wsmon did not start")
	}
	// The monitor starts its runners after Started: wait for them, so
	// Status and the waits below always see the configured targets.
	want := len(cfg.ResolvedTargets())
	WaitFor(t, 15*time.Second, "the targets' runners", func() bool { return len(m.mon.Status()) >= want })
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			t.Logf("wsmon log:\n%s", m.logs.tail(200))
		}
	})
	return m
}

// WebAddr is the dashboard's address (host:port on 127.0.0.1).
func (m *Monitor) WebAddr() string { return m.webAddr }

// Log returns what wsmon logged so far.
func (m *Monitor) Log() string { return m.logs.String() }

// Status is the first target's runner status; the zero Status (State "")
// while its runner has not started yet.
func (m *Monitor) Status() capture.Status {
	if st := m.mon.Status(); len(st) > 0 {
		return st[0]
	}
	return capture.Status{}
}

// Statuses is every target's runner status.
func (m *Monitor) Statuses() []capture.Status { return m.mon.Status() }

// WaitConnected waits until the first target is connected (its protocol
// session ready).
func (m *Monitor) WaitConnected(t testing.TB, within time.Duration) {
	t.Helper()
	m.WaitState(t, capture.StateConnected, within)
}

// WaitState waits until the first target is in state.
func (m *Monitor) WaitState(t testing.TB, state capture.State, within time.Duration) {
	t.Helper()
	WaitFor(t, within, "target "+string(state), func() bool { return m.Status().State == state })
}

// WaitMessages waits until at least n messages are stored and returns
// all stored messages.
func (m *Monitor) WaitMessages(t testing.TB, n int, within time.Duration) []Stored {
	t.Helper()
	var got []Stored
	deadline := time.Now().Add(within)
	for {
		got = m.Messages(t)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: %d of %d messages stored; status %+v", within, len(got), n, m.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stored is one stored message row.
type Stored struct {
	ID                                               int64
	Target, User, Room, Type, Content, ExtID, Reason string
	Raw                                              []byte
	Session                                          int64
}

// Messages returns every stored message in id order.
func (m *Monitor) Messages(t testing.TB) []Stored {
	t.Helper()
	db := m.db(t)
	defer db.Close()
	rows, err := db.Query(`SELECT id, target, username, room, type, content, COALESCE(ext_id, ''), reason, raw, session_id FROM messages ORDER BY id`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") || strings.Contains(err.Error(), `relation "messages" does not exist`) {
			return nil
		}
		t.Fatalf("messages: %v", err)
	}
	defer rows.Close()
	var out []Stored
	for rows.Next() {
		var s Stored
		if err := rows.Scan(&s.ID, &s.Target, &s.User, &s.Room, &s.Type, &s.Content, &s.ExtID, &s.Reason, &s.Raw, &s.Session); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Session is one stored connection session.
type Session struct {
	ID                 int64
	Target, Protocol   string
	CloseCode          int
	Error, CloseReason string
	Messages, Control  int64
	Open               bool // not ended (yet)
}

// Sessions returns every stored session in id order.
func (m *Monitor) Sessions(t testing.TB) []Session {
	t.Helper()
	db := m.db(t)
	defer db.Close()
	rows, err := db.Query(`SELECT id, target, protocol, COALESCE(close_code, 0), error, close_reason, messages, control_frames, disconnected_at IS NULL FROM sessions ORDER BY id`)
	if err != nil {
		t.Fatalf("sessions: %v", err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		var s Session
		if err := rows.Scan(&s.ID, &s.Target, &s.Protocol, &s.CloseCode, &s.Error, &s.CloseReason, &s.Messages, &s.Control, &s.Open); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func (m *Monitor) db(t testing.TB) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", "file:"+m.cfg.DatabasePath+"?mode=ro&_pragma=busy_timeout(5000)"
	if m.cfg.Postgres() {
		driver, dsn = "pgx", m.cfg.DatabaseURL
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// Stop stops wsmon cleanly (everything received is written) and returns
// Run's error. Later calls return nil.
func (m *Monitor) Stop(t testing.TB) error {
	t.Helper()
	return m.stop()
}

func (m *Monitor) stop() error {
	if m.cancel == nil {
		return nil
	}
	m.cancel()
	m.cancel = nil
	select {
	case err := <-m.done:
		return err
	case <-time.After(60 * time.Second):
		return errors.New("testkit: wsmon did not stop within 60 s")
	}
}

// WaitFor polls ok every 10 ms until it is true, failing the test after
// within.
func WaitFor(t testing.TB, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
