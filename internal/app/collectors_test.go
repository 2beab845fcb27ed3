package app

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/analysis"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/store/pgtest"
	"github.com/wsmon/wsmon/internal/store/storetest"
)

// collectorsSetup is the shared part of the collector tests: four demo
// servers streaming seq-numbered chat (with history replayed to every new
// connection, as many servers do, so a new owner receives what the old
// one stored), one PostgreSQL server of the test's own, and a config per
// collector (its own data directory) listing the four targets.
type collectorsSetup struct {
	pg      *pgtest.Postgres
	servers []*demo.Server
	names   []string
	sqlDB   *storetest.DB
	began   time.Time // the servers started streaming
	closed  time.Time // closeServers
	up      time.Time // every server had its collector (captured)
}

// captured waits until each target is captured by one collector and
// notes when: what the servers sent before is not the collectors' to
// have.
func (s *collectorsSetup) captured(t *testing.T) {
	t.Helper()
	waitFor(t, 40*time.Second, "each target captured by one collector", func() bool { return s.allCapturedOnce() })
	s.up = time.Now()
}

// closeServers stops the traffic (the last messages before the close may
// reach nobody).
func (s *collectorsSetup) closeServers() {
	s.closed = time.Now()
	for _, d := range s.servers {
		d.Close()
	}
}

func newCollectorsSetup(t *testing.T) *collectorsSetup {
	t.Helper()
	if !pgtest.Enabled() {
		t.Skip("a PostgreSQL test: it runs in make test's PostgreSQL pass (WSMON_TEST_PG_DSN set), on a server of its own")
	}
	s := &collectorsSetup{pg: pgtest.StartServer(t), began: time.Now()}
	for i := range 4 {
		d := newDemo(t, func(o *demo.Options) {
			o.Rate = 100 // per server: 400 messages/s in all
			o.HistoryReplay = 50
			o.PingInterval, o.PongTimeout = time.Second, 3*time.Second // a frozen client is dropped
			o.Seed = int64(i + 1)
		})
		s.servers = append(s.servers, d)
		s.names = append(s.names, fmt.Sprintf("t%d", i+1))
	}
	return s
}

// config is a collector's config: its own data directory.
func (s *collectorsSetup) config(t *testing.T) config.Config { return s.configTB(t) }

func (s *collectorsSetup) configTB(t testing.TB) config.Config {
	cfg := testConfig(t, s.servers[0].URL())
	cfg.WebsocketURL, cfg.TargetName = "", ""
	cfg.Targets = nil
	for i, d := range s.servers {
		cfg.Targets = append(cfg.Targets, config.Target{Name: s.names[i], URL: d.URL()})
	}
	cfg.DatabaseURL = s.pg.URL()
	return cfg
}

// db opens the test's PostgreSQL database for assertions.
func (s *collectorsSetup) db(t *testing.T) *storetest.DB { return s.dbTB(t) }

func (s *collectorsSetup) dbTB(t testing.TB) *storetest.DB {
	t.Helper()
	if s.sqlDB == nil {
		s.sqlDB = storetest.OpenDB(t, store.Options{Driver: "postgres", DSN: s.pg.URL()})
	}
	return s.sqlDB
}

// count runs a COUNT query on the test's database.
func (s *collectorsSetup) count(t *testing.T, query string) int64 { return s.countTB(t, query) }

func (s *collectorsSetup) countTB(t testing.TB, query string) int64 {
	t.Helper()
	var n int64
	if err := s.dbTB(t).QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// leasesOf is how many target leases collector id holds.
func (s *collectorsSetup) leasesOf(t *testing.T, id int64) int64 {
	t.Helper()
	return s.count(t, fmt.Sprintf(`SELECT COUNT(*) FROM leases WHERE name LIKE 'target/%%' AND owner = %d AND expires_at > 0`, id))
}

// collectorID is the collector id a collector's journal directory
// remembers.
func collectorID(t *testing.T, cfg config.Config) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cfg.JournalDir(), "collector.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f collectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.ID
}

// clients is how many connections each server has.
func (s *collectorsSetup) clients() []int {
	out := make([]int, len(s.servers))
	for i, d := range s.servers {
		out[i] = d.Clients()
	}
	return out
}

// allCapturedOnce reports whether each server has exactly one client.
func (s *collectorsSetup) allCapturedOnce() bool {
	for _, n := range s.clients() {
		if n != 1 {
			return false
		}
	}
	return true
}

// startCollector runs a collector as a child process (to be killed or
// frozen), its log in dir/child.log.
func startCollector(t testing.TB, cfg config.Config) (*exec.Cmd, string) {
	return startProcess(t, cfg, "monitor")
}

// startProcess runs this binary as a wsmon process of mode (monitor, all
// or web; see TestMain), its log in dir/child.log; it is killed at cleanup.
func startProcess(t testing.TB, cfg config.Config, mode string) (*exec.Cmd, string) {
	t.Helper()
	js, _ := json.Marshal(cfg)
	logPath := filepath.Join(t.TempDir(), "child.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WSMON_TEST_CHILD_CONFIG="+string(js), "WSMON_TEST_CHILD_MODE="+mode)
	cmd.Stderr, cmd.Stdout = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(syscall.SIGCONT); cmd.Process.Kill(); cmd.Wait(); f.Close() })
	return cmd, logPath
}

// checkStoredOnce checks every target's stored messages (each carries
// its server's seq and send time): no seq twice, and every run of seqs
// missing was sent within one of windows (a collector killed, frozen or
// handing a target over: nobody captured it). A run's send time is known
// from the stored messages around it. It returns the messages stored and
// missing.
func (s *collectorsSetup) checkStoredOnce(t *testing.T, windows [][2]time.Time) (stored, missing int) {
	t.Helper()
	// Before every collector connected, and at the close, the servers
	// sent to nobody.
	windows = append(windows, [2]time.Time{time.Time{}, s.up.Add(time.Second)}, [2]time.Time{s.closed.Add(-time.Second), time.Now()})
	db := s.db(t)
	for i, name := range s.names {
		rows, err := db.Query(`SELECT raw FROM messages WHERE target = ?`, name)
		if err != nil {
			t.Fatal(err)
		}
		sent := map[int64]int64{} // seq → send time (Unix ms)
		for rows.Next() {
			var raw []byte
			var f struct{ Seq, Timestamp int64 }
			if err := rows.Scan(&raw); err != nil {
				t.Fatal(err)
			}
			if json.Unmarshal(raw, &f) != nil || f.Seq == 0 {
				continue
			}
			if _, dup := sent[f.Seq]; dup {
				t.Errorf("target %s: seq %d stored twice", name, f.Seq)
			}
			sent[f.Seq] = f.Timestamp
		}
		rows.Close()
		stored += len(sent)
		last := s.servers[i].LastSeq()
		var prev int64 // send time of the last stored seq before a run
		for seq := int64(1); seq <= last; seq++ {
			if ts, ok := sent[seq]; ok {
				prev = ts
				continue
			}
			from := seq
			for seq <= last && sent[seq] == 0 {
				seq++
			}
			missing += int(seq - from)
			next := time.Now().UnixMilli()
			if ts, ok := sent[seq]; ok {
				next = ts
			}
			lo, hi := time.UnixMilli(prev), time.UnixMilli(next)
			excused := false
			for _, w := range windows {
				if !hi.Before(w[0]) && !lo.After(w[1]) {
					excused = true
				}
			}
			if !excused {
				t.Errorf("target %s: seqs %d–%d, sent between %s and %s, not stored, outside the windows nobody owned the target %v",
					name, from, seq-1, lo.Format(time.TimeOnly+".000"), hi.Format(time.TimeOnly+".000"), windows)
			}
			prev = next
		}
	}
	return stored, missing
}

// TestCollectorKilledTargetsTakenOver: two collectors share four targets
// (two each, one connection per server); one is SIGKILLed and the other
// takes its targets over within 20 s. The killed one is restarted on its
// data directory and writes what it had journaled, and two web processes
// serve the same totals. Every message a server sent while an owner was
// connected is stored once; what was sent while nobody owned a target is
// missing and shows as a gap in its sessions.
func TestCollectorKilledTargetsTakenOver(t *testing.T) {
	s := newCollectorsSetup(t)
	cfgA, cfgB := s.config(t), s.config(t)
	a, logA := startCollector(t, cfgA)
	b, logB := startCollector(t, cfgB)
	s.captured(t)
	time.Sleep(3 * time.Second)
	// The victim is a collector that holds targets (collectors that start
	// together split them; one that starts a little later may get none).
	idA, idB := collectorID(t, cfgA), collectorID(t, cfgB)
	held := s.leasesOf(t, idA)
	if held == 0 {
		a, b, cfgA, cfgB, logA, logB, idA, idB = b, a, cfgB, cfgA, logB, logA, idB, idA
		held = s.leasesOf(t, idA)
	}
	if held+s.leasesOf(t, idB) != 4 {
		t.Fatalf("target leases: %d and %d, want 4 in all", held, s.leasesOf(t, idB))
	}
	_ = b
	time.Sleep(2 * time.Second)

	killAt := time.Now()
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.Wait()
	// Each server still counts the killed collector's sockets until it
	// notices they are gone, so "one client each" alone can hold at once;
	// the takeover is the survivor holding every lease and each server
	// having one client.
	waitFor(t, 40*time.Second, "the killed collector's targets taken over", func() bool {
		return s.leasesOf(t, idB) == 4 && s.allCapturedOnce()
	})
	takeover := time.Since(killAt)
	if takeover > 20*time.Second {
		t.Errorf("takeover took %.1f s, want at most 20 s", takeover.Seconds())
	}
	takenAt := time.Now()
	time.Sleep(3 * time.Second)

	// The killed collector comes back on its data directory: it writes
	// its journal's tail (received while it owned the targets) and, the
	// targets being the other's now, captures nothing.
	startCollector(t, cfgA)
	time.Sleep(6 * time.Second)
	if n := s.leasesOf(t, idB); n != 4 {
		t.Errorf("after the restart the surviving collector holds %d target leases, want 4 (running targets are not moved)", n)
	}

	// Two web processes over the same database serve the same totals.
	w1 := start(t, ModeWeb, s.config(t))
	w2 := start(t, ModeWeb, s.config(t))

	// Stop the traffic, let everything be stored.
	s.closeServers()
	time.Sleep(4 * time.Second)
	total := s.count(t, `SELECT COUNT(*) FROM messages`)
	for _, w := range []*harness{w1, w2} {
		var st struct {
			Total int64 `json:"total_messages"`
		}
		getJSON(t, "http://"+w.webAddr+"/api/stats", &st)
		if st.Total != total {
			t.Errorf("web %s: total_messages %d, the database holds %d", w.webAddr, st.Total, total)
		}
	}

	stored, missing := s.checkStoredOnce(t, [][2]time.Time{
		{killAt.Add(-time.Second), takenAt.Add(time.Second)}, // nobody owned the killed collector's targets
	})
	gaps := s.count(t, `SELECT COUNT(*) FROM sessions WHERE error <> '' OR close_code <> 1000`)
	lb, _ := os.ReadFile(logB)
	if !strings.Contains(string(lb), "target lease taken") {
		t.Errorf("collector B's log does not show a takeover:\n%s", lb)
	}
	t.Logf("collector %d (%d targets) killed; takeover %.1f s after SIGKILL; %d seq-numbered messages stored (%d rows in all, the same total on both web processes), %d missing (sent while nobody owned a target), 0 twice; %d sessions ended by an error or cut (gaps)",
		idA, held, takeover.Seconds(), stored, total, missing, gaps)
}

// TestCollectorFrozenIsFenced: a collector frozen (SIGSTOP) past its
// leases loses its targets to the other one; when it resumes it reads
// what its sockets buffered meanwhile, and none of it is written (fenced:
// received after the new owner's grant), it stops capturing the targets
// it lost, and no message is stored twice.
func TestCollectorFrozenIsFenced(t *testing.T) {
	s := newCollectorsSetup(t)
	cfgA, cfgB := s.config(t), s.config(t)
	a, logA := startCollector(t, cfgA)
	b, logB := startCollector(t, cfgB)
	s.captured(t)
	time.Sleep(3 * time.Second)
	idA, idB := collectorID(t, cfgA), collectorID(t, cfgB)
	held := s.leasesOf(t, idA)
	if held == 0 {
		a, b, logA, logB, idA, idB = b, a, logB, logA, idB, idA
		held = s.leasesOf(t, idA)
	}
	_, _ = b, logB
	frozeAt := time.Now()
	if err := a.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n := s.leasesOf(t, idB)
		if n == 4 && s.allCapturedOnce() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the frozen collector's targets not taken over in 40 s: the other one holds %d leases, clients per server %v", n, s.clients())
		}
	}
	takeover := time.Since(frozeAt)
	takenAt := time.Now()
	time.Sleep(2 * time.Second)
	if err := a.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumedAt := time.Now()
	time.Sleep(8 * time.Second)
	if !s.allCapturedOnce() {
		t.Errorf("after the frozen collector resumed: clients per server %v, want one each", s.clients())
	}
	s.closeServers()
	time.Sleep(4 * time.Second)
	stored, missing := s.checkStoredOnce(t, [][2]time.Time{{frozeAt.Add(-time.Second), takenAt.Add(time.Second)}})
	la, _ := os.ReadFile(logA)
	if !strings.Contains(string(la), "target lease lost") {
		t.Errorf("the resumed collector did not say it lost its targets:\n%s", la)
	}
	fenced := strings.Count(string(la), "messages not written: another collector took this target over")
	t.Logf("collector %d (%d targets) frozen %.1f s; targets taken over %.1f s after SIGSTOP; resumed %.1f s after the takeover; %d seq-numbered messages stored, %d missing (sent while the frozen one held them), 0 twice; the resumed collector logged fenced messages for %d targets",
		idA, held, resumedAt.Sub(frozeAt).Seconds(), takeover.Seconds(), resumedAt.Sub(takenAt).Seconds(), stored, missing, fenced)
}

// TestCollectorAnalysesFollowIndexLease: the analyses run in the collector
// holding the index lease and move with it. The first collector writes the
// index and counts the analyses; when it stops, the other takes the index
// lease over, starts the analyses from their saved state and counts every
// message committed after it, by both collectors. The user behaviour
// rollups (on here) move the same way: at the end they hold every stored
// message once.
func TestCollectorAnalysesFollowIndexLease(t *testing.T) {
	s := newCollectorsSetup(t)
	opts := Options{Analysis: func(o *analysis.Options) {
		o.SnapshotEvery = 300 * time.Millisecond
		o.BehaviourWait = 200 * time.Millisecond
	}}
	withBehaviour := func(cfg config.Config) config.Config {
		yes := true
		cfg.AnalysisBehaviour = &yes
		return cfg
	}
	a := startWith(t, ModeMonitor, withBehaviour(s.config(t)), opts)
	time.Sleep(500 * time.Millisecond)
	b := startWith(t, ModeMonitor, withBehaviour(s.config(t)), opts)
	s.captured(t)
	if a.an == nil || a.ix.Following() {
		t.Fatalf("the first collector does not run the analyses and the index (analyzer %v, following %v)", a.an != nil, a.ix.Following())
	}
	if b.an != nil || !b.ix.Following() {
		t.Fatalf("the second collector runs the analyses or writes the index (analyzer %v, following %v)", b.an != nil, b.ix.Following())
	}
	applied := func() int64 {
		return s.count(t, fmt.Sprintf(`SELECT COALESCE(MAX(applied_id), 0) FROM analysis_state WHERE name = '%s'`, analysis.NameAnomaly))
	}
	waitFor(t, 20*time.Second, "the first collector's analyses saved", func() bool { return applied() > 0 })

	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	// Its analyses saved what they counted (the other collector's
	// batches are counted from the database, after them).
	if savedAt, stoppedAt := applied(), s.count(t, `SELECT COALESCE(MAX(id), 0) FROM messages`); savedAt == 0 || savedAt > stoppedAt {
		t.Errorf("the stopped collector saved its analyses at message %d (messages up to %d)", savedAt, stoppedAt)
	}
	// The other collector takes the index lease (released at the stop) at
	// its next round, the targets as their leases are released, and
	// counts what arrives from now on.
	waitFor(t, 30*time.Second, "the other collector writes the index", func() bool { return !b.ix.Following() })
	waitFor(t, 40*time.Second, "each target captured again", func() bool { return s.allCapturedOnce() })
	later := s.count(t, `SELECT COALESCE(MAX(id), 0) FROM messages`) + 200
	waitFor(t, 30*time.Second, "the analyses counted by the new index writer", func() bool { return applied() >= later })
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	if got, want := applied(), s.count(t, `SELECT COALESCE(MAX(id), 0) FROM messages`); got != want {
		t.Errorf("analyses saved at message %d after the stop, want %d", got, want)
	}
	// Behaviour: written up to the last message, each message once in its
	// target's hours, each named user's messages in their row.
	if got, want := s.count(t, fmt.Sprintf(`SELECT COALESCE(MAX(applied_id), 0) FROM analysis_state WHERE name = '%s'`, analysis.NameBehaviour)),
		s.count(t, `SELECT COALESCE(MAX(id), 0) FROM messages`); got != want {
		t.Errorf("behaviour written up to message %d after the stop, want %d", got, want)
	}
	if got, want := s.count(t, `SELECT COALESCE(SUM(count), 0) FROM beh_target_hours`), s.count(t, `SELECT COUNT(*) FROM messages`); got != want {
		t.Errorf("behaviour target hours hold %d messages, the database %d", got, want)
	}
	if got, want := s.count(t, `SELECT COALESCE(SUM(messages), 0) FROM beh_users`),
		s.count(t, `SELECT COUNT(*) FROM messages WHERE username <> '' AND type NOT IN ('system', 'join', 'leave')`); got != want || got == 0 {
		t.Errorf("behaviour users hold %d messages, the database %d of named users (not joins, leaves or system)", got, want)
	}
}
