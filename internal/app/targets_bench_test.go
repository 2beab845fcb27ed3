package app

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/demo"
)

// BenchmarkThousandTargets runs one real wsmon monitor process with
// WSMON_BENCH_TARGETS targets (default 1000) against one demo server in
// this process, and reports: memory per idle connection (the child's RSS
// with all targets connected and idle, less its RSS with one target,
// divided by the extra targets), aggregate ingest while every target
// receives a burst, and the time until every target is connected again
// after the server restarts (default backoff, with jitter). Run it with
//
//	go test -run '^$' -bench BenchmarkThousandTargets -benchtime 1x ./internal/app/
func BenchmarkThousandTargets(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("WSMON_BENCH_TARGETS")); err == nil && v > 1 {
		n = v
	}
	const perTarget = 100 // burst messages each target receives
	for b.Loop() {
		d := newDemo(b, nil)
		addr := strings.TrimPrefix(strings.TrimSuffix(d.URL(), "/ws/chat"), "ws://")

		one := targetsConfig(b, d.URL(), 1)
		c1 := startBenchChild(b, one)
		waitFor(b, 30*time.Second, "1 target connected", func() bool { return d.Clients() == 1 })
		time.Sleep(3 * time.Second) // settle
		rss1 := childRSS(b, c1)
		stopBenchChild(c1)
		waitFor(b, 10*time.Second, "1 target gone", func() bool { return d.Clients() == 0 })

		cfg := targetsConfig(b, d.URL(), n)
		child := startBenchChild(b, cfg)
		start := time.Now()
		waitFor(b, 120*time.Second, "all targets connected", func() bool { return d.Clients() == n })
		connectAll := time.Since(start)
		time.Sleep(5 * time.Second) // idle: GC and buffers settle
		rssN := childRSS(b, child)
		perConn := float64(rssN-rss1) / float64(n-1)

		start = time.Now()
		if err := d.Burst(perTarget); err != nil {
			b.Fatal(err)
		}
		total := int64(n * perTarget)
		waitFor(b, 300*time.Second, "burst stored", func() bool { return countRowsQuiet(cfg.DatabasePath) >= total })
		ingest := time.Since(start)
		rssBurst := childRSS(b, child)

		// Restart the server on the same address: every target must come back.
		d.Close()
		waitFor(b, 30*time.Second, "targets disconnected", func() bool { return d.Clients() == 0 })
		o := demo.DefaultOptions()
		o.Addr, o.Rate, o.Seed = addr, 0, 1
		d2 := demo.New(o)
		restart := time.Now()
		if err := d2.Start(); err != nil {
			b.Fatal(err)
		}
		waitFor(b, 300*time.Second, "all targets reconnected", func() bool { return d2.Clients() == n })
		reconnect := time.Since(restart)
		d2.Close()
		stopBenchChild(child)

		b.ReportMetric(perConn/1024, "KB/idle-conn")
		b.ReportMetric(float64(total)/ingest.Seconds(), "msgs/s")
		b.ReportMetric(reconnect.Seconds(), "s-reconnect-all")
		b.ReportMetric(connectAll.Seconds(), "s-connect-all")
		b.ReportMetric(float64(rssN)/(1<<20), "MB-rss-idle")
		b.ReportMetric(float64(rssBurst)/(1<<20), "MB-rss-after-burst")
		b.Logf("%d targets: rss 1 target %.1f MB, %d idle %.1f MB (%.1f KB each), burst of %d stored in %v, reconnect all in %v",
			n, float64(rss1)/(1<<20), n, float64(rssN)/(1<<20), perConn/1024, total, ingest.Round(time.Millisecond), reconnect.Round(time.Millisecond))
	}
}

// targetsConfig is a config with n raw targets t0..t(n-1) on url.
func targetsConfig(b *testing.B, url string, n int) config.Config {
	cfg := testConfig(b, url)
	cfg.ReconnectInterval, cfg.ReconnectMaxInterval = 5, 60 // the defaults: what users get
	cfg.LogLevel = "WARNING"
	cfg.MessageLog = new(bool)
	for i := range n {
		cfg.Targets = append(cfg.Targets, config.Target{Name: fmt.Sprintf("t%d", i), URL: url, Protocol: "raw"})
	}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	return cfg
}

func startBenchChild(b *testing.B, cfg config.Config) *exec.Cmd {
	js, _ := json.Marshal(cfg)
	file := filepath.Join(b.TempDir(), "config.json")
	if err := os.WriteFile(file, js, 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "WSMON_TEST_CHILD_CONFIG=@"+file)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stopBenchChild(cmd) })
	return cmd
}

func stopBenchChild(cmd *exec.Cmd) {
	if cmd.ProcessState == nil && cmd.Process != nil {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
}

// childRSS is the resident set size of cmd's process in bytes.
func childRSS(b *testing.B, cmd *exec.Cmd) int64 {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(st), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
