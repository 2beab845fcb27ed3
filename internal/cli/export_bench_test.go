//go:build linux

package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/bench"
	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/store/storetest"
)

// BenchmarkExport measures `wsmon export` on a database of 1,000,000
// messages written through the real pipeline (the corpus of `wsmon bench`:
// Chinese and English chat, Zipf users and words): the wsmon binary, built
// from this tree, runs in a child process, and the benchmark reports its
// peak resident set (VmHWM from /proc/PID/status, sampled every 10 ms
// while it runs: the kernel's ru_maxrss is no use here, as it keeps the
// forking benchmark's own peak across the exec) and its throughput
// (messages and bytes written per second of the whole run, start-up and
// opening the index included).
// Run it with
//
//	go test -run '^$' -bench BenchmarkExport -benchtime 1x ./internal/cli/
//
// WSMON_EXPORT_MESSAGES sizes the corpus (default 1,000,000);
// WSMON_EXPORT_CORPUS=DIR builds it in DIR once and reuses it afterwards.
func BenchmarkExport(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("WSMON_EXPORT_MESSAGES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	db := exportCorpus(b, n)
	bin := buildWsmon(b)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"csv", []string{"--format", "csv"}},
		{"json", []string{"--format", "json"}},
		{"ndjson", []string{"--format", "ndjson"}},
		{"ndjson-raw", []string{"--format", "ndjson", "--raw"}},
		{"search-csv-q=紧急", []string{"--format", "csv", "--q", "紧急"}},
		{"user-ndjson-user=小明", []string{"--format", "ndjson", "--user", "小明"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				r := runExportChild(b, bin, db, c.args)
				b.ReportMetric(float64(r.hwm)/(1<<20), "VmHWM-MiB")
				b.ReportMetric(float64(r.messages), "messages")
				b.ReportMetric(float64(r.messages)/r.elapsed.Seconds(), "msgs/s")
				b.ReportMetric(float64(r.bytes)/(1<<20)/r.elapsed.Seconds(), "MiB/s")
				b.ReportMetric(float64(r.bytes)/(1<<20), "file-MiB")
			}
		})
	}
}

// exportCorpus returns the database file of an n-message corpus, built
// through the real write path (bench.Open: journal, pipeline, SQLite,
// index) and flushed.
func exportCorpus(b *testing.B, n int) string {
	dir := os.Getenv("WSMON_EXPORT_CORPUS")
	if dir == "" {
		dir = b.TempDir()
	}
	db := filepath.Join(dir, "chat_monitor.db")
	done := filepath.Join(dir, fmt.Sprintf("corpus-%d.done", n))
	if _, err := os.Stat(done); err == nil {
		return db
	}
	ctx := context.Background()
	t0 := time.Now()
	e, err := bench.Open(ctx, dir, storetest.Options(b, filepath.Join(dir, "chat_monitor.db"), time.UTC), nil, index.Options{})
	if err != nil {
		b.Fatal(err)
	}
	c := bench.NewCorpus(42, 20_000, time.Now().Add(-time.Duration(n)*5*time.Millisecond).UnixMilli())
	at := time.Now().Add(-time.Duration(n) * time.Millisecond)
	for range n {
		at = at.Add(time.Millisecond)
		if err := e.Add(c.Next(), at); err != nil {
			b.Fatal(err)
		}
	}
	if err := e.WaitCommitted(int64(n), time.Hour); err != nil {
		b.Fatal(err)
	}
	if err := e.Index.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if err := e.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("corpus of %d messages built in %v in %s", n, time.Since(t0).Round(time.Second), dir)
	return db
}

// buildWsmon builds cmd/wsmon from this tree into a temp dir.
func buildWsmon(b *testing.B) string {
	bin := filepath.Join(b.TempDir(), "wsmon")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/wsmon/wsmon/cmd/wsmon")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type exportRun struct {
	hwm            int64 // bytes
	messages       int64
	bytes          int64
	elapsed        time.Duration
	stderr, output string
}

var exportedLine = regexp.MustCompile(`exported (\d+) messages`)

// runExportChild runs `wsmon export --db db --out FILE args...` and
// measures it.
func runExportChild(b *testing.B, bin, db string, args []string) exportRun {
	dir := b.TempDir()
	out := filepath.Join(dir, "export.out")
	cmd := exec.Command(bin, append([]string{"export", "--db", db, "--out", out}, args...)...)
	cmd.Dir = dir // no config.json
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WSMON_") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var hwm atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		path := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		for {
			if kb := statusKB(path, "VmHWM:"); kb*1024 > hwm.Load() {
				hwm.Store(kb * 1024)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	elapsed := time.Since(t0)
	close(stop)
	<-sampled
	if err != nil {
		b.Fatalf("wsmon export %q: %v\n%s", args, err, stderr.String())
	}
	r := exportRun{hwm: hwm.Load(), elapsed: elapsed, stderr: stderr.String(), output: out}
	m := exportedLine.FindStringSubmatch(r.stderr)
	if m == nil {
		b.Fatalf("wsmon export said %q", r.stderr)
	}
	r.messages, _ = strconv.ParseInt(m[1], 10, 64)
	if st, err := os.Stat(out); err == nil {
		r.bytes = st.Size()
	}
	return r
}

// statusKB reads a "Name: N kB" line of a /proc status file; 0 when gone.
func statusKB(path, name string) int64 {
	st, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, name); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}
