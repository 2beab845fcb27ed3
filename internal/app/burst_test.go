package app

import (
	"fmt"
	"os"
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
	rows, err := db.Query(`SELECT json_extract(CAST(raw AS TEXT), '$.seq') FROM messages WHERE type = 'chat' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := int64(1)
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			t.Fatal(err)
		}
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

// BenchmarkBurst sends a burst from the demo server over loopback and
// measures how fast wsmon stores all of it (with raw frames), then checks
// that every message is stored once, in order. Run:
//
//	go test -run '^$' -bench BenchmarkBurst -benchtime 1x ./internal/app/
func BenchmarkBurst(b *testing.B) {
	n := burstSize()
	for i := 0; i < b.N; i++ {
		d := newDemo(b, nil)
		cfg := testConfig(b, d.URL())
		h := start(b, ModeMonitor, cfg)
		h.waitConnected()
		waitFor(b, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })
		b.ResetTimer()
		t0 := time.Now()
		go d.Burst(n)
		h.waitMessages(int64(n), 10*time.Minute)
		el := time.Since(t0)
		b.StopTimer()
		if err := h.stop(); err != nil {
			b.Fatal(err)
		}
		st := h.mon.Pipeline().Stats()
		checkSeqs(b, cfg.DatabasePath, n)
		fi, _ := os.Stat(cfg.DatabasePath)
		b.ReportMetric(float64(n)/el.Seconds(), "msgs/s")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peakRSS-MB")
		b.ReportMetric(float64(fi.Size())/float64(n), "dbbytes/msg")
		fmt.Fprintf(os.Stderr, "burst: %d messages stored in %v = %.0f msg/s; batches %d; peak RSS %.0f MB (demo server in the same process)\n",
			n, el.Round(time.Millisecond), float64(n)/el.Seconds(), st.Batches, float64(peakRSS())/(1<<20))
	}
}
