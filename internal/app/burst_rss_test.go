//go:build linux

package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/bench"
	"github.com/wsmon/wsmon/internal/store/storetest"
)

// BenchmarkBurstPeakRSS measures what a user measures from outside: the
// peak resident memory (VmHWM, the child's ru_maxrss) of a wsmon process
// through a burst of 1,000,000 messages (WSMON_BURST to change) and the
// indexing after it. wsmon runs as app.Run composes it, in mode monitor or
// all, in a child process with the binary's 128 MiB soft memory limit
// (GOMEMLIMIT); the demo server is another child process. The contended
// variant runs a CPU-burning process beside them, so the other core is
// taken. After the last message is stored the child runs on until its
// index has caught up (or 60 s), then stops cleanly (its final flush
// included in the figure). Every message must be stored once, in order.
//
//	go test -run '^$' -bench 'BenchmarkBurstPeakRSS' -benchtime 1x ./internal/app/
//	go test -run '^$' -bench 'BenchmarkBurstPeakRSS/all/contended' -benchtime 1x ./internal/app/
//
// WSMON_BENCH_ANALYSIS=on turns trending terms and sentiment on,
// WSMON_BENCH_BEHAVIOUR=on the user behaviour rollups,
// WSMON_BENCH_ANOMALY=on (or off) anomaly detection, to measure what they
// cost ingest (docs/benchmarks.md).
func BenchmarkBurstPeakRSS(b *testing.B) {
	n := burstSize()
	for _, mode := range []string{"monitor", "all"} {
		for _, variant := range []string{"quiet", "contended"} {
			b.Run(mode+"/"+variant, func(b *testing.B) {
				for b.Loop() {
					burstPeakRSS(b, mode, variant == "contended", n)
				}
			})
		}
	}
}

func burstPeakRSS(b *testing.B, mode string, contended bool, n int) {
	wsURL, base := startDemoProcess(b)
	cfg := testConfig(b, wsURL)
	cfg.WebPort = freePort(b)
	if os.Getenv("WSMON_BENCH_ANALYSIS") == "on" {
		// Ingest with the analyses behind it (off by default), to
		// measure their cost.
		on := true
		cfg.AnalysisTerms, cfg.AnalysisSentiment = &on, &on
	}
	if os.Getenv("WSMON_BENCH_BEHAVIOUR") == "on" {
		// Ingest with the user behaviour rollups behind it.
		on := true
		cfg.AnalysisBehaviour = &on
	}
	if v := os.Getenv("WSMON_BENCH_ANOMALY"); v == "on" || v == "off" {
		// Ingest with anomaly detection behind it, or without (the
		// default), to measure its cost.
		on := v == "on"
		cfg.AnomalyDetection = &on
	}
	b.Setenv("WSMON_TEST_CHILD_MODE", mode)
	if os.Getenv("GOMEMLIMIT") == "" {
		b.Setenv("GOMEMLIMIT", "128MiB") // the binary's default (internal/cli)
	}
	if contended {
		stop, err := bench.StartBurners(1)
		if err != nil {
			b.Fatal(err)
		}
		defer stop()
	}
	child := startBenchChild(b, cfg)
	waitFor(b, 30*time.Second, "connected", func() bool { return demoClients(base) == 1 })
	db := openDB(b, cfg.DatabasePath)
	t0 := time.Now()
	go func() {
		if resp, err := http.Post(fmt.Sprintf("%s/burst?n=%d", base, n), "", nil); err == nil {
			resp.Body.Close()
		}
	}()
	var maxID int64
	for maxID < int64(n) {
		if time.Since(t0) > 10*time.Minute {
			b.Fatalf("%d of %d messages stored after 10 minutes", maxID, n)
		}
		time.Sleep(50 * time.Millisecond)
		maxID = scalar(db, `SELECT COALESCE(MAX(id), 0) FROM messages`)
	}
	stored := time.Since(t0)
	// The index catches up behind: a segment is written every 50,000
	// messages, so it is done when the indexed id is within one of the end.
	indexedAt := time.Now()
	for time.Since(indexedAt) < time.Minute {
		if scalar(db, `SELECT indexed_id FROM index_state WHERE id = 1`) > maxID-50_000 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	indexed := time.Since(t0)
	db.Close()
	stopBenchChild(child)
	ru, _ := child.ProcessState.SysUsage().(*syscall.Rusage)
	if ru == nil {
		b.Fatal("no rusage for the child")
	}
	peak := float64(ru.Maxrss) / 1024 // kB
	// The child's CPU time (user + system) for the whole run: on a
	// machine shared with other work it varies far less than the wall
	// time, so it is the better figure of what an analysis costs.
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	checkSeqs(b, cfg.DatabasePath, n)
	b.ReportMetric(float64(n)/stored.Seconds(), "msgs/s")
	b.ReportMetric(peak, "peakRSS-MiB")
	b.ReportMetric(cpu.Seconds(), "child-cpu-s")
	fmt.Fprintf(os.Stderr, "burst %s contended=%v analysis=%s behaviour=%v anomaly=%v: %d messages stored in %v (%.0f msg/s), indexed by %v; child peak RSS %.0f MiB, CPU %v\n",
		mode, contended, os.Getenv("WSMON_BENCH_ANALYSIS"), cfg.AnalysisBehaviourEnabled(), cfg.AnomalyDetectionEnabled(), n, stored.Round(time.Millisecond), float64(n)/stored.Seconds(), indexed.Round(time.Millisecond), peak, cpu.Round(time.Millisecond))
}

// demoClients is the number of clients of the demo server at base (-1 if
// it does not answer).
func demoClients(base string) int {
	resp, err := http.Get(base + "/stats")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var st struct{ Clients int }
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return -1
	}
	return st.Clients
}

// scalar runs a one-value query, 0 on error (the table may not exist yet).
func scalar(db *storetest.DB, q string) int64 {
	var v int64
	if err := db.QueryRow(q).Scan(&v); err != nil {
		return 0
	}
	return v
}
