package app

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// peakRSS returns this process's peak resident set size in bytes (VmHWM).
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// checkSeqs verifies the stored demo messages: exactly n rows with seq
// 1..n in id order (complete, in order, no duplicates).
func checkSeqs(t testing.TB, dbPath string, n int) {
	t.Helper()
	db := openDB(t, dbPath)
	rows, err := db.Query(`SELECT raw FROM messages WHERE type = 'chat' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := int64(1)
	for rows.Next() {
		var raw []byte
		var f struct{ Seq int64 }
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatalf("stored frame %q: %v", raw, err)
		}
		seq := f.Seq
		if seq != want {
			t.Fatalf("stored seq %d where %d was expected (lost, duplicated or out of order)", seq, want)
		}
		want++
	}
	if got := want - 1; got != int64(n) {
		t.Fatalf("stored %d messages, want %d", got, n)
	}
}

// burstSize is the number of messages in the burst benchmark: 1,000,000 by
// default, WSMON_BURST to change it.
func burstSize() int {
	if v, err := strconv.Atoi(os.Getenv("WSMON_BURST")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// startDemoProcess runs the demo server in a child process (so this
// process's peak RSS is wsmon's alone) and returns its ws:// URL and
// http:// base.
func startDemoProcess(b testing.TB) (wsURL, httpBase string) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WSMON_TEST_DEMO_CHILD=127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("demo child: %v", err)
	}
	wsURL = strings.TrimSpace(line)
	u, _ := url.Parse(wsURL)
	return wsURL, "http://" + u.Host
}

// BenchmarkBurst: the demo server (a separate process) sends a burst of
// 1,000,000 chat messages (WSMON_BURST to change) over loopback as fast as
// the socket takes them; wsmon stores every one with its raw frame. It
// reports messages/s from the burst request to the last commit, peak RSS of
// the wsmon process, and database bytes per message, then checks every
// message is stored once, in order. Run:
//
//	go test -run '^$' -bench BenchmarkBurst -benchtime 1x ./internal/app/
func BenchmarkBurst(b *testing.B) {
	n := burstSize()
	// The same soft memory limit the wsmon binary sets (cli.defaultMemoryLimit).
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(128 << 20))
	for i := 0; i < b.N; i++ {
		wsURL, base := startDemoProcess(b)
		cfg := testConfig(b, wsURL)
		h := start(b, ModeMonitor, cfg)
		h.waitConnected()
		b.ResetTimer()
		t0 := time.Now()
		go func() {
			resp, err := http.Post(fmt.Sprintf("%s/burst?n=%d", base, n), "", nil)
			if err == nil {
				resp.Body.Close()
			}
		}()
		h.waitMessages(int64(n), 10*time.Minute)
		el := time.Since(t0)
		b.StopTimer()
		if err := h.stop(); err != nil {
			b.Fatal(err)
		}
		rss := float64(peakRSS()) / (1 << 20) // before the checks below read the table
		st := h.mon.Pipeline().Stats()
		checkSeqs(b, cfg.DatabasePath, n)
		fi, _ := os.Stat(cfg.DatabasePath)
		b.ReportMetric(float64(n)/el.Seconds(), "msgs/s")
		b.ReportMetric(rss, "peakRSS-MB")
		b.ReportMetric(float64(fi.Size())/float64(n), "dbbytes/msg")
		fmt.Fprintf(os.Stderr, "burst: %d messages stored in %v = %.0f msg/s; %d batches; peak RSS %.0f MB; %.0f DB bytes/message\n",
			n, el.Round(time.Millisecond), float64(n)/el.Seconds(), st.Batches, rss, float64(fi.Size())/float64(n))
	}
}
