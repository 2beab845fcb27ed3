package app_test

// Memory under large frames (issue 8 item 3), through the production
// composition: wsmon runs in a child process (this test binary run again
// with bigChildEnv set), as app.Run composes it in mode all, against a
// WebSocket server in the parent that sends big frames. The child reports
// its peak RSS (VmHWM); the parent checks that every message was stored
// exactly once. The figures are logged, not asserted (they depend on the
// machine); the replay under a lowered address-space limit is a real
// pass/fail: it either replays the journal or dies.

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/ingest"
	"github.com/wsmon/wsmon/internal/journal"
	"github.com/wsmon/wsmon/internal/protocol"
	"github.com/wsmon/wsmon/internal/store/pgtest"
	"github.com/wsmon/wsmon/internal/store/storetest"
	"github.com/wsmon/wsmon/internal/testkit"
)

const (
	// bigChildEnv, when set (to the data directory), makes TestBigFramesChild
	// run wsmon and report its peak RSS.
	bigChildEnv = "WSMON_BIG_CHILD"
	// bigFullEnv=1 runs the sizes of the issue (60 frames of 16 MiB, 8,000
	// messages of 64 KiB, a 1 GB journal) instead of the smaller default.
	bigFullEnv = "WSMON_BIG_FULL"
	mib        = 1 << 20
)

// bigLoad is a stream the server sends: n frames of size bytes each.
// Frames over the read limit (16 MiB by default) are stored truncated.
type bigLoad struct {
	name string
	n    int
	size int
	full int // n under WSMON_BIG_FULL
}

// frame returns frame i of the load: a JSON chat message whose id and
// first bytes are unique (so no two are duplicates) and whose content is
// lower-case ASCII text.
func (l bigLoad) frame(i int) []byte {
	head := fmt.Sprintf(`{"id":"%s-%d","user":"u%d","content":"#%d `, l.name, i, i%50, i)
	b := make([]byte, l.size)
	n := copy(b, head)
	tail := `"}`
	x := uint32(i*2654435761 + 1)
	for k := n; k < len(b)-len(tail); k++ {
		x = x*1664525 + 1013904223
		c := byte('a' + (x>>24)%27)
		if c > 'z' {
			c = ' '
		}
		b[k] = c
	}
	copy(b[len(b)-len(tail):], tail)
	return b
}

func (l bigLoad) count() int {
	if os.Getenv(bigFullEnv) != "" && l.full > 0 {
		return l.full
	}
	return l.n
}

// serveLoad starts a WebSocket server that sends each connection the
// load's frames once (for the first connection only) and then keeps it
// open.
func serveLoad(t *testing.T, l bigLoad) string {
	t.Helper()
	up := websocket.Upgrader{}
	sent := make(chan struct{}, 1)
	sent <- struct{}{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		select {
		case <-sent:
			for i := range l.count() {
				if err := c.WriteMessage(websocket.TextMessage, l.frame(i)); err != nil {
					return
				}
			}
		default:
		}
		for {
			if _, _, err := c.NextReader(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
}

// childConfig is the configuration parent and child share: data in dir,
// raw protocol, the message log on (as by default), default read limit.
func childConfig(t testing.TB, url, dir string) config.Config {
	cfg := testkit.Config(t, url)
	cfg.Protocol = "raw"
	cfg.DatabasePath = filepath.Join(dir, "data", "chat_monitor.db")
	// On PostgreSQL, the parent's schema for dir (runChild passes it on).
	cfg.DatabaseURL = os.Getenv("WSMON_BIG_DB_URL")
	cfg.LogDir = filepath.Join(dir, "logs")
	on := true
	cfg.MessageLog = &on
	return cfg
}

// TestBigFramesChild is the child: it runs wsmon on the data directory in
// bigChildEnv until the database holds WSMON_BIG_WANT messages, stops it
// cleanly and prints its peak RSS. With WSMON_BIG_AS_MIB it first limits
// its address space (RLIMIT_AS) to what the Go runtime has reserved at
// that point plus that many MiB.
func TestBigFramesChild(t *testing.T) {
	dir := os.Getenv(bigChildEnv)
	if dir == "" {
		t.Skip("run by the big-frame tests")
	}
	fmt.Printf("VmSize at start %d kB\n", procStatusKB(t, "self", "VmSize"))
	if s := os.Getenv("WSMON_BIG_AS_MIB"); s != "" {
		n, _ := strconv.ParseInt(s, 10, 64)
		base := procStatusKB(t, "self", "VmSize") << 10
		lim := uint64(base + n*mib)
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: lim, Max: lim}); err != nil {
			t.Fatalf("setrlimit: %v", err)
		}
		fmt.Printf("RLIMIT_AS %d MiB (reserved at start %d MiB + %d MiB)\n", lim>>20, base>>20, n)
	}
	if prof := os.Getenv("WSMON_BIG_HEAPPROF"); prof != "" {
		// Diagnostics: the Go heap's peak, and a heap profile taken at it.
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			var peak, peakRSS uint64
			var atPeak string
			for {
				select {
				case <-stop:
					fmt.Printf("peak HeapAlloc %d MiB; at peak RSS: %s\n", peak>>20, atPeak)
					return
				case <-time.After(20 * time.Millisecond):
				}
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if rss := uint64(procStatusKB(t, "self", "VmRSS")) << 10; rss > peakRSS {
					peakRSS = rss
					goMem := ms.Sys - ms.HeapReleased
					atPeak = fmt.Sprintf("RSS %d MiB, Go %d MiB (heap in use %d, idle %d), other %d MiB",
						rss>>20, goMem>>20, ms.HeapInuse>>20, (ms.HeapIdle-ms.HeapReleased)>>20, (rss-min(rss, goMem))>>20)
				}
				if ms.HeapAlloc > peak+peak/10 {
					peak = ms.HeapAlloc
					if f, err := os.Create(prof); err == nil {
						pprof.WriteHeapProfile(f)
						f.Close()
					}
				}
			}
		}()
	}
	// The wsmon binary runs with a 128 MiB soft memory limit unless
	// GOMEMLIMIT is set (internal/cli); so does the child.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(128 << 20)
	}
	want, _ := strconv.Atoi(os.Getenv("WSMON_BIG_WANT"))
	cfg := childConfig(t, os.Getenv("WSMON_BIG_URL"), dir)
	m := testkit.Start(t, cfg)
	db, err := storetest.Open(cfg.StoreOptions(true))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM messages`).Scan(&n); err != nil && !strings.Contains(err.Error(), "no such table") {
			t.Fatal(err)
		}
		if n >= want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages stored", n, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("VmPeak %d kB\n", procStatusKB(t, "self", "VmPeak"))
	fmt.Printf("VmHWM %d kB\n", procStatusKB(t, "self", "VmHWM"))
}

// procStatusKB reads a kB field of /proc/<pid>/status.
func procStatusKB(t testing.TB, pid, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	t.Fatalf("no %s in /proc/%s/status", field, pid)
	return 0
}

// runChild runs TestBigFramesChild on dir and returns its peak RSS in MiB
// and its output; it fails the test if the child fails.
func runChild(t *testing.T, dir, url string, want int, asMiB int) (float64, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestBigFramesChild$", "-test.v")
	cmd.Env = append(os.Environ(), bigChildEnv+"="+dir, "WSMON_BIG_URL="+url, "WSMON_BIG_WANT="+strconv.Itoa(want),
		"WSMON_BIG_DB_URL="+pgtest.ForPath(t, filepath.Join(dir, "data", "chat_monitor.db")))
	cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool { return strings.HasPrefix(kv, "WSMON_BIG_AS_MIB=") })
	if asMiB > 0 {
		cmd.Env = append(cmd.Env, "WSMON_BIG_AS_MIB="+strconv.Itoa(asMiB))
	}
	out, err := cmd.CombinedOutput()
	if f := os.Getenv("WSMON_BIG_CHILDLOG"); f != "" {
		os.WriteFile(f, out, 0o644) // diagnostics: the child's whole output
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, tail(string(out), 4000))
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM "); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(v, " kB"), 64)
			return kb / 1024, string(out)
		}
	}
	t.Fatalf("child printed no VmHWM:\n%s", tail(string(out), 4000))
	return 0, ""
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// checkStored checks that the database in dir holds each frame of the
// loads exactly once: as many rows as frames, distinct ids (the frames' own
// "id"), and raw frames of the right length (cut at the read limit).
func checkStored(t *testing.T, dir string, loads ...bigLoad) {
	t.Helper()
	db := storetest.OpenDB(t, storetest.Options(t, filepath.Join(dir, "data", "chat_monitor.db"), nil))
	for _, l := range loads {
		var rows, ids, rightSize, tooLarge int
		want := min(l.size, config.DefaultReadLimitBytes)
		// A frame cut at the read limit is not valid JSON: its id is read
		// from the raw frame's beginning.
		err := db.QueryRow(`SELECT COUNT(*), COUNT(DISTINCT substr(raw, 1, 40)), COALESCE(SUM(CASE WHEN length(raw) = ? THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN reason = 'too_large' THEN 1 ELSE 0 END), 0)
			FROM messages WHERE substr(raw, 1, ?) = ?`, want, len(l.name)+8, []byte(`{"id":"`+l.name+"-")).Scan(&rows, &ids, &rightSize, &tooLarge)
		if err != nil {
			t.Fatal(err)
		}
		n := l.count()
		if rows != n || ids != n || rightSize != n {
			t.Errorf("%s: %d rows, %d distinct, %d of the right size (%d bytes); want %d of each", l.name, rows, ids, rightSize, want, n)
		}
		if wantTL := map[bool]int{true: n}[l.size > config.DefaultReadLimitBytes]; tooLarge != wantTL {
			t.Errorf("%s: %d stored as too_large, want %d", l.name, tooLarge, wantTL)
		}
	}
}

var (
	frames16 = bigLoad{name: "f16", n: 3, size: 16*mib + 4096, full: 3}
	msgs64   = bigLoad{name: "m64", n: 1000, size: 64 << 10, full: 8000}
)

// TestPeakRSSLargeFrames streams frames of 16 MiB (each over the read
// limit, stored truncated) and messages of 64 KiB through wsmon and logs
// the peak RSS; every message must be stored exactly once.
func TestPeakRSSLargeFrames(t *testing.T) {
	if raceEnabled {
		t.Skip("a memory figure: the race detector's own memory would be measured (make test runs this without -race)")
	}
	if testing.Short() {
		t.Skip("streams hundreds of MB through a child process")
	}
	for _, l := range []bigLoad{frames16, {name: "f16", n: 12, size: frames16.size, full: 60}, msgs64} {
		t.Run(fmt.Sprintf("%dx%dKiB", l.count(), l.size>>10), func(t *testing.T) {
			dir := t.TempDir()
			url := serveLoad(t, l)
			rss, _ := runChild(t, dir, url, l.count(), 0)
			checkStored(t, dir, l)
			t.Logf("peak RSS %.0f MiB for %d frames of %d KiB", rss, l.count(), l.size>>10)
		})
	}
}

// TestReplayUnderAddressSpaceLimit writes a journal larger than 512 MiB
// (frames of 16 MiB over the read limit and 64 KiB messages, none applied)
// as the capture side would, then starts wsmon on it. It must replay the
// whole journal, each message once, within 512 MiB of resident memory
// (what a container's memory limit counts) and with its address space
// limited (RLIMIT_AS) to what the Go runtime has reserved at start plus 1
// GiB. An absolute RLIMIT_AS of 512 MiB cannot be the test: a Go program
// does not even start under it (the runtime reserves about 850 MiB of
// address space before main), and Go's heap and SQLite reserve about twice
// the memory they touch. Before the byte bounds the replay died under an
// address-space limit of 2 GB, every time.
func TestReplayUnderAddressSpaceLimit(t *testing.T) {
	if raceEnabled {
		t.Skip("a memory figure: the race detector's own memory would be measured (make test runs this without -race)")
	}
	if testing.Short() {
		t.Skip("writes and replays a journal of several hundred MB")
	}
	big := bigLoad{name: "j16", n: 40, size: frames16.size, full: 64}
	small := bigLoad{name: "j64", n: 2000, size: 64 << 10, full: 8000}
	dir := t.TempDir()
	// A slow disk must not make this writer drop frames (Append would
	// fail after StallTimeout): give it time and memory.
	j, err := journal.Open(filepath.Join(dir, "data", "journal"), 1, journal.Options{MaxPending: 64 << 20, StallTimeout: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	rec := ingest.Recorder{J: j}
	sess, err := rec.SessionStart("t", "ws://127.0.0.1:1/ws", "raw", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var bytes int64
	for i := range max(big.count(), small.count()) {
		for _, l := range []bigLoad{big, small} {
			if i >= l.count() {
				continue
			}
			f := l.frame(i)
			reason := ""
			if len(f) > config.DefaultReadLimitBytes {
				f, reason = f[:config.DefaultReadLimitBytes], "too_large"
			}
			if err := rec.Frame("t", sess, time.Now(), protocol.Frame{Data: f}, reason); err != nil {
				t.Fatal(err)
			}
			bytes += int64(len(f))
		}
		if i < big.count() || i%8 == 0 {
			if err := j.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// Nothing listens there: the target reconnects in vain while the
	// journal is replayed.
	limit := 1024
	if v, err := strconv.Atoi(os.Getenv("WSMON_BIG_AS_MIB")); err == nil {
		limit = v // 0: no limit (to measure what the replay takes)
	}
	rss, out := runChild(t, dir, "ws://127.0.0.1:1/ws", big.count()+small.count(), limit)
	checkStored(t, dir, big, small)
	t.Logf("replayed a journal of %d MiB under %s: peak RSS %.0f MiB, address space %s", bytes>>20, firstLine(out, "RLIMIT_AS"), rss, firstLine(out, "VmPeak"))
	// What a container's memory limit counts is resident memory: the
	// replay must have fitted in 512 MiB of it.
	if rss > 512 {
		t.Errorf("peak RSS %.0f MiB: a 512 MiB memory limit would have killed the replay", rss)
	}
}

func firstLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
