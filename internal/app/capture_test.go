package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/ingest"
	"github.com/wsmon/wsmon/internal/store"
)

func countRows(t testing.TB, path, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := openDB(t, path).QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestCaptureDemoIntoSQLite: the demo server's chat arrives in the
// database normalised, with the raw frame, and in the chat_messages
// view.
func TestCaptureDemoIntoSQLite(t *testing.T) {
	d := newDemo(t, nil)
	cfg := testConfig(t, d.URL())
	h := start(t, ModeMonitor, cfg)
	h.waitConnected()
	waitFor(t, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })
	if err := d.Burst(500); err != nil {
		t.Fatal(err)
	}
	h.waitMessages(500, 20*time.Second)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, cfg.DatabasePath, 500)
	db := openDB(t, cfg.DatabasePath)
	var user, typ, content, raw, recv string
	err := db.QueryRow(`SELECT username, message_type, content, raw_data, received_at FROM chat_messages ORDER BY id LIMIT 1`).Scan(&user, &typ, &content, &raw, &recv)
	if err != nil {
		t.Fatal(err)
	}
	if user == "" || typ != "chat" || content == "" || !strings.Contains(raw, `"seq":1`) || !strings.Contains(raw, content[:1]) {
		t.Fatalf("chat_messages row: user %q type %q content %q raw %q", user, typ, content, raw)
	}
	if _, err := time.Parse("2006-01-02 15:04:05.000", recv); err != nil {
		t.Fatalf("received_at %q is not readable: %v", recv, err)
	}
	// One session, closed by our shutdown, with all messages counted.
	var code, msgs int64
	if err := db.QueryRow(`SELECT close_code, messages FROM sessions`).Scan(&code, &msgs); err != nil {
		t.Fatal(err)
	}
	if code != 1000 || msgs != 500 {
		t.Fatalf("session: close code %d messages %d", code, msgs)
	}
}

// TestReconnectLosesNothing: the server drops the connection every K
// messages; every message sent before each drop is stored, once, and
// every connection is a recorded session.
func TestReconnectLosesNothing(t *testing.T) {
	const k, rounds = 40, 5
	d := newDemo(t, func(o *demo.Options) { o.DropEvery = k })
	cfg := testConfig(t, d.URL())
	h := start(t, ModeMonitor, cfg)
	for r := 1; r <= rounds; r++ {
		waitFor(t, 10*time.Second, "reconnected", func() bool {
			return d.Clients() == 1 && h.mon.Status()[0].State == "connected"
		})
		session := h.mon.Status()[0].Session
		if err := d.Burst(k); err != nil {
			t.Fatal(err)
		}
		h.waitMessages(int64(r*k), 10*time.Second)
		// The drop: seen as no client, or (when wsmon redialled between two
		// looks) as a new session.
		waitFor(t, 10*time.Second, "drop", func() bool { return d.Clients() == 0 || h.mon.Status()[0].Session != session })
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, cfg.DatabasePath, rounds*k)
	if n := countRows(t, cfg.DatabasePath, `SELECT COUNT(*) FROM sessions WHERE close_code = 1001 AND messages = ?`, k); n != rounds {
		t.Fatalf("%d sessions closed with 1001 holding %d messages, want %d", n, k, rounds)
	}
	if h.mon.Status()[0].Reconnects < rounds-1 {
		t.Fatalf("reconnects = %d", h.mon.Status()[0].Reconnects)
	}
}

// TestHistoryReplayNoDuplicates: a server that replays its recent history
// on every connect creates no duplicate rows, across reconnects and across
// a restart of wsmon.
func TestHistoryReplayNoDuplicates(t *testing.T) {
	d := newDemo(t, func(o *demo.Options) { o.HistoryReplay = 30 })
	cfg := testConfig(t, d.URL())
	h := start(t, ModeMonitor, cfg)
	h.waitConnected()
	waitFor(t, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })
	d.Burst(100)
	h.waitMessages(100, 10*time.Second)
	d.DropAll(1001, "going away")
	waitFor(t, 10*time.Second, "reconnect", func() bool { return h.mon.Status()[0].Reconnects >= 1 && d.Clients() == 1 })
	d.Burst(10)
	h.waitMessages(110, 10*time.Second)
	waitFor(t, 5*time.Second, "replay dropped", func() bool { return h.mon.Pipeline().Stats().Duplicates >= 30 })
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	// Restart wsmon on the same database: the replay is recognised from the
	// stored keys.
	h2 := start(t, ModeMonitor, cfg)
	h2.waitConnected()
	waitFor(t, 5*time.Second, "replay dropped after restart", func() bool { return h2.mon.Pipeline().Stats().Duplicates >= 30 })
	d.Burst(5)
	h2.waitMessages(5, 10*time.Second)
	if err := h2.stop(); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, cfg.DatabasePath, 115)
}

// TestCleanStopFlushesEverything: stopping in the middle of a burst stores
// every frame that was read, none twice.
func TestCleanStopFlushesEverything(t *testing.T) {
	d := newDemo(t, nil)
	cfg := testConfig(t, d.URL())
	h := start(t, ModeMonitor, cfg)
	h.waitConnected()
	waitFor(t, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })
	go d.Burst(200_000)
	waitFor(t, 20*time.Second, "burst under way", func() bool { return h.mon.Status()[0].TotalFrames > 20_000 })
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	read := h.mon.Status()[0].TotalFrames
	stored := countRows(t, cfg.DatabasePath, `SELECT COUNT(*) FROM messages`)
	if stored != read || read == 0 {
		t.Fatalf("read %d frames, stored %d messages", read, stored)
	}
	checkSeqs(t, cfg.DatabasePath, int(read))
}

// faultStore wraps the real store with delays or failures.
type faultStore struct {
	ingest.Store
	delay   time.Duration
	mu      sync.Mutex
	failFor func() error // non-nil error fails the batch
	calls   atomic.Int64
}

func (f *faultStore) ApplyBatch(ctx context.Context, b *store.Batch) error {
	f.calls.Add(1)
	time.Sleep(f.delay)
	f.mu.Lock()
	fail := f.failFor
	f.mu.Unlock()
	if fail != nil {
		if err := fail(); err != nil {
			return err
		}
	}
	return f.Store.ApplyBatch(ctx, b)
}

// TestSlowDatabaseKeepsConnection: with every batch taking 50 ms, storing
// the burst takes longer (60 batches, > 3 s) than the server's pong timeout
// (2 s), yet the burst arrives completely and the connection stays up: the
// reader never waits for the database, so pongs go out at once.
func TestSlowDatabaseKeepsConnection(t *testing.T) {
	d := newDemo(t, func(o *demo.Options) { o.PingInterval = 200 * time.Millisecond; o.PongTimeout = 2 * time.Second })
	cfg := testConfig(t, d.URL())
	cfg.BatchSize = 500
	fs := &faultStore{delay: 50 * time.Millisecond}
	h := startWith(t, ModeMonitor, cfg, Options{WrapIngestStore: func(s ingest.Store) ingest.Store { fs.Store = s; return fs }})
	h.waitConnected()
	waitFor(t, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })
	const n = 30_000
	if err := d.Burst(n); err != nil {
		t.Fatal(err)
	}
	h.waitMessages(n, 60*time.Second)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	if s := h.mon.Status()[0]; s.Reconnects != 0 {
		t.Fatalf("connection dropped during the slow-database burst: %+v", s)
	}
	checkSeqs(t, cfg.DatabasePath, n)
}

// TestUnwritableDatabaseLosesNothing: while the database fails every write
// (disk full), messages wait in the journal and are all written, once, when
// it recovers.
func TestUnwritableDatabaseLosesNothing(t *testing.T) {
	d := newDemo(t, nil)
	cfg := testConfig(t, d.URL())
	fs := &faultStore{}
	full := errors.New("sqlite: database or disk is full (13)")
	fs.failFor = func() error { return full }
	h := startWith(t, ModeMonitor, cfg, Options{WrapIngestStore: func(s ingest.Store) ingest.Store { fs.Store = s; return fs }})
	h.waitConnected()
	waitFor(t, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })
	d.Burst(5000)
	waitFor(t, 10*time.Second, "frames read", func() bool { return h.mon.Status()[0].TotalFrames == 5000 })
	waitFor(t, 10*time.Second, "failing writes", func() bool { return fs.calls.Load() >= 3 })
	if st := h.mon.Pipeline().Stats(); st.Messages != 0 || !strings.Contains(st.LastError, "disk is full") || st.Backlog == 0 {
		t.Fatalf("while the disk is full: %+v", st)
	}
	fs.mu.Lock()
	fs.failFor = nil
	fs.mu.Unlock()
	h.waitMessages(5000, 20*time.Second)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, cfg.DatabasePath, 5000)
}

// TestLockedDatabaseLosesNothing: another process holding an exclusive
// lock on the real SQLite file (as a backup tool might) delays writes but
// costs no message.
func TestLockedDatabaseLosesNothing(t *testing.T) {
	d := newDemo(t, nil)
	cfg := testConfig(t, d.URL())
	h := start(t, ModeMonitor, cfg)
	h.waitConnected()
	waitFor(t, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })
	d.Burst(1000)
	h.waitMessages(1000, 10*time.Second)

	if cfg.Postgres() {
		t.Skip("SQLite's exclusive lock; PostgreSQL's outage is TestPostgresRestart")
	}
	db := openDB(t, cfg.DatabasePath)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), `BEGIN EXCLUSIVE`); err != nil {
		t.Fatal(err)
	}
	d.Burst(20_000)
	waitFor(t, 20*time.Second, "frames read while locked", func() bool { return h.mon.Status()[0].TotalFrames == 21_000 })
	time.Sleep(6 * time.Second) // longer than SQLite's busy timeout: writes fail and are retried
	if _, err := conn.ExecContext(context.Background(), `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	h.waitMessages(21_000, 30*time.Second)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	checkSeqs(t, cfg.DatabasePath, 21_000)
	if h.mon.Status()[0].Reconnects != 0 {
		t.Fatal("connection dropped while the database was locked")
	}
}

// BenchmarkSlowDatabaseBurst: a 100,000-message burst while every database
// batch takes 50 ms longer; reports the rate and that the connection stayed
// up and nothing was lost. Run:
//
//	go test -run '^$' -bench BenchmarkSlowDatabaseBurst -benchtime 1x ./internal/app/
func BenchmarkSlowDatabaseBurst(b *testing.B) {
	const n = 100_000
	for i := 0; i < b.N; i++ {
		d := newDemo(b, func(o *demo.Options) { o.PingInterval = time.Second; o.PongTimeout = 3 * time.Second })
		cfg := testConfig(b, d.URL())
		fs := &faultStore{delay: 50 * time.Millisecond}
		h := startWith(b, ModeMonitor, cfg, Options{WrapIngestStore: func(s ingest.Store) ingest.Store { fs.Store = s; return fs }})
		h.waitConnected()
		waitFor(b, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })
		t0 := time.Now()
		go d.Burst(n)
		waitFor(b, 10*time.Minute, "frames read", func() bool { return h.mon.Status()[0].TotalFrames >= n })
		read := time.Since(t0)
		h.waitMessages(n, 10*time.Minute)
		stored := time.Since(t0)
		h.stop()
		checkSeqs(b, cfg.DatabasePath, n)
		rc := h.mon.Status()[0].Reconnects
		b.ReportMetric(float64(n)/stored.Seconds(), "msgs/s")
		b.ReportMetric(float64(rc), "reconnects")
		fmt.Fprintf(os.Stderr, "slow database (+50 ms per batch): %d messages read from the socket in %v, all stored in %v (%.0f msg/s, %d batches), reconnects %d, none lost or duplicated\n",
			n, read.Round(time.Millisecond), stored.Round(time.Millisecond), float64(n)/stored.Seconds(), fs.calls.Load(), rc)
	}
}
