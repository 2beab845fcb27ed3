package app

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/store"
)

// TestCrashClosesOrphanSession: a monitor killed with SIGKILL in the middle
// of a burst leaves its session open. The next start closes it, after the
// journal's unapplied records (more of its messages) have been replayed,
// at its newest message, with the orphan error; the new session starts
// after it, so the outage is a gap.
func TestCrashClosesOrphanSession(t *testing.T) {
	t.Parallel() // servers and child processes of its own: beside the other long fault tests (not the collectors', whose lease timings a busy machine upsets)
	d := newDemo(t, nil)
	cfg := testConfig(t, d.URL())
	child := startChild(t, cfg)
	waitFor(t, 20*time.Second, "child connected", func() bool { return d.Clients() == 1 })
	burstDone := make(chan struct{})
	go func() { d.Burst(20_000); close(burstDone) }()
	waitFor(t, 60*time.Second, "child committing", func() bool { return countRowsQuiet(cfg.DatabasePath) >= 2_000 })
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	<-burstDone

	db := openDB(t, cfg.DatabasePath)
	var old int64
	if err := db.QueryRow(`SELECT id FROM sessions WHERE disconnected_at IS NULL`).Scan(&old); err != nil {
		t.Fatalf("the killed run's session: %v", err)
	}

	h := start(t, ModeMonitor, cfg)
	h.waitConnected()
	waitFor(t, 60*time.Second, "orphan closed", func() bool {
		return countRows(t, cfg.DatabasePath, `SELECT COUNT(*) FROM sessions WHERE id = ? AND disconnected_at IS NOT NULL`, old) == 1
	})
	waitFor(t, 60*time.Second, "journal replayed", func() bool { return h.mon.Pipeline().Stats().Backlog == 0 })
	var disc, last, next int64
	var errText string
	if err := db.QueryRow(`SELECT disconnected_at, error FROM sessions WHERE id = ?`, old).Scan(&disc, &errText); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT MAX(received_at) FROM messages WHERE session_id = ?`, old).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if disc != last || errText != store.OrphanSessionError {
		t.Errorf("orphan closed at %d with %q; want its last message's time %d and %q", disc, errText, last, store.OrphanSessionError)
	}
	if err := db.QueryRow(`SELECT connected_at FROM sessions WHERE id > ? ORDER BY id LIMIT 1`, old).Scan(&next); err != nil {
		var all []string
		rows, _ := db.Query(`SELECT id, connected_at, COALESCE(disconnected_at, 0), error FROM sessions ORDER BY id`)
		for rows != nil && rows.Next() {
			var id, c, dd int64
			var e string
			rows.Scan(&id, &c, &dd, &e)
			all = append(all, fmt.Sprintf("%d@%d-%d %q", id, c, dd, e))
		}
		t.Fatalf("the new session: %v (sessions: %v)", err, all)
	}
	if next < disc {
		t.Errorf("new session connected at %d, before the orphan's end %d: no gap", next, disc)
	}
	if n := countRows(t, cfg.DatabasePath, `SELECT COUNT(*) FROM sessions WHERE disconnected_at IS NULL`); n != 1 {
		t.Errorf("%d open sessions, want only the new one", n)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("orphan session %d: closed at its last message, gap %d ms until the next session", old, next-disc)
}
