package app_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/testkit"
)

// TestTenSecondDatabaseLock: another process holds an exclusive lock on
// the SQLite database for 10 s (as a backup tool or an sqlite3 shell in a
// transaction would) while the chat goes on at 200 messages/s. Capture
// never waits for the database: the connection stays up, /readyz says the
// database writes are failing (503) while the dashboard still answers, the
// log says the records wait in the journal; when the lock goes every
// message is written, once.
func TestTenSecondDatabaseLock(t *testing.T) {
	const perTick, ticks = 100, 20 // every 0.5 s for 10 s
	srv := newChatServer(t)
	cfg := testkit.Config(t, srv.url)
	cfg.Protocol = "raw"
	if cfg.Postgres() {
		t.Skip("SQLite's exclusive lock; PostgreSQL's outage is TestPostgresRestart")
	}
	m := testkit.Start(t, cfg)
	c := srv.next(t)
	send(t, c, "before", perTick)
	testkit.WaitFor(t, 20*time.Second, "messages before the lock", func() bool { return storedWith(t, m, "before") == perTick })

	db, err := sql.Open("sqlite", "file:"+cfg.DatabasePath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), `BEGIN EXCLUSIVE`); err != nil {
		t.Fatal(err)
	}
	locked := time.Now()
	var readyz, stats int
	var readyBody string
	for i := range ticks {
		send(t, c, "locked-"+string(rune('a'+i)), perTick)
		time.Sleep(500 * time.Millisecond)
		if i == ticks-2 {
			readyz, readyBody = get(t, "http://"+m.WebAddr()+"/readyz")
			stats, _ = get(t, "http://"+m.WebAddr()+"/api/stats")
		}
	}
	if _, err := conn.ExecContext(context.Background(), `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	held := time.Since(locked)
	lockedStored := func() int {
		n := 0
		for i := range ticks {
			n += storedWith(t, m, "locked-"+string(rune('a'+i)))
		}
		return n
	}
	testkit.WaitFor(t, 60*time.Second, "the messages sent during the lock", func() bool { return lockedStored() == perTick*ticks })
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	if ss := m.Sessions(t); len(ss) != 1 {
		t.Errorf("%d sessions, want 1: the connection must stay up through the lock", len(ss))
	}
	if readyz != http.StatusServiceUnavailable || !strings.Contains(readyBody, "records wait in the journal") {
		t.Errorf("/readyz during the lock: %d %s", readyz, readyBody)
	}
	if stats != http.StatusOK {
		t.Errorf("/api/stats during the lock: %d", stats)
	}
	if !strings.Contains(m.Log(), "database write failed; records wait in the journal") {
		t.Errorf("no log line about the failing writes")
	}
	t.Logf("lock held %.1f s; %d messages sent during it, %d stored after, 0 lost; /readyz %d %s, /api/stats %d",
		held.Seconds(), perTick*ticks, lockedStored(), readyz, strings.TrimSpace(readyBody), stats)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
