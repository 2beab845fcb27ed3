package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/store/pgtest"
)

// sseLatencies reads /api/live at base until n message events arrived (or
// within passed) and returns, for each, the time from its received_at
// (stamped when wsmon read the frame from the socket) to its arrival here.
func sseLatencies(t testing.TB, base string, n int, within time.Duration) []time.Duration {
	t.Helper()
	out, err := readLatencies(base, n, within)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readLatencies is sseLatencies for any goroutine: it returns its error.
func readLatencies(base string, n int, within time.Duration) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/live", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var out []time.Duration
	event := ""
	for len(out) < n && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = line[7:]
		case strings.HasPrefix(line, "data: ") && event == "message":
			now := time.Now()
			var m struct {
				ReceivedAt time.Time `json:"received_at"`
			}
			if err := json.Unmarshal([]byte(line[6:]), &m); err != nil {
				return out, err
			}
			out = append(out, now.Sub(m.ReceivedAt))
		}
	}
	return out, nil
}

func pctl(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

// BenchmarkLiveLatency: from receipt at the socket to the SSE event at a
// client, with the demo server chatting at 500 messages/s; in `all` mode
// (one process) and with `web` apart from `monitor` (following the
// database). Run:
//
//	go test -run '^$' -bench BenchmarkLiveLatency -benchtime 1x ./internal/app/
func BenchmarkLiveLatency(b *testing.B) {
	const n = 3000
	for _, sep := range []bool{false, true} {
		name := "all"
		if sep {
			name = "web-separate"
		}
		b.Run(name, func(b *testing.B) {
			d := newDemo(b, func(o *demo.Options) { o.Rate = 500 })
			cfg := testConfig(b, d.URL())
			var base string
			if !sep {
				h := start(b, ModeAll, cfg)
				base = "http://" + h.webAddr
			} else {
				start(b, ModeMonitor, cfg)
				w := start(b, ModeWeb, cfg)
				base = "http://" + w.webAddr
			}
			ls := sseLatencies(b, base, n, 60*time.Second)
			if len(ls) < n {
				b.Fatalf("only %d events", len(ls))
			}
			ls = ls[100:] // skip the connection's first moments
			b.ReportMetric(float64(pctl(ls, 50).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(pctl(ls, 99).Microseconds())/1000, "p99-ms")
			fmt.Fprintf(os.Stderr, "live latency (%s): p50 %v p99 %v max %v over %d events\n", name,
				pctl(ls, 50).Round(time.Millisecond/10), pctl(ls, 99).Round(time.Millisecond/10), pctl(ls, 100).Round(time.Millisecond/10), len(ls))
		})
	}
}

// BenchmarkWebReplicaLiveLatency: on PostgreSQL, from receipt at the
// collector's socket to the SSE event at a client of each of two web
// replicas, every part a process of its own (a `wsmon monitor` and two
// `wsmon web`, children of the benchmark, on a PostgreSQL server the
// benchmark starts): the collector commits, NOTIFY wakes each replica,
// which reads the new rows and sends them. The demo server chats at 500
// messages/s. Run:
//
//	WSMON_TEST_PG_DSN=… go test -run '^$' -bench BenchmarkWebReplicaLiveLatency -benchtime 1x ./internal/app/
func BenchmarkWebReplicaLiveLatency(b *testing.B) {
	if !pgtest.Enabled() {
		b.Skip("needs PostgreSQL (WSMON_TEST_PG_DSN set): runs on a server of its own")
	}
	const n = 3000
	pg := pgtest.StartServer(b)
	d := newDemo(b, func(o *demo.Options) { o.Rate = 500 })
	cfg := testConfig(b, d.URL())
	cfg.DatabaseURL = pg.URL()
	startCollector(b, cfg)
	var bases []string
	for range 2 {
		w := cfg
		w.DataDir = b.TempDir()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		w.WebPort = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		startProcess(b, w, "web")
		bases = append(bases, fmt.Sprintf("http://127.0.0.1:%d", w.WebPort))
	}
	for _, base := range bases {
		waitFor(b, 30*time.Second, "web replica up", func() bool {
			resp, err := http.Get(base + "/healthz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
	}
	res := make([][]time.Duration, len(bases))
	errs := make([]error, len(bases))
	var wg sync.WaitGroup
	for i, base := range bases {
		wg.Go(func() { res[i], errs[i] = readLatencies(base, n, 60*time.Second) })
	}
	wg.Wait()
	for i, ls := range res {
		if errs[i] != nil {
			b.Fatal(errs[i])
		}
		if len(ls) < n {
			b.Fatalf("replica %d: only %d events", i+1, len(ls))
		}
		ls = ls[100:] // skip the connection's first moments
		b.ReportMetric(float64(pctl(ls, 99).Microseconds())/1000, fmt.Sprintf("replica%d-p99-ms", i+1))
		fmt.Fprintf(os.Stderr, "live latency (web replica %d of 2, PostgreSQL): p50 %v p99 %v max %v over %d events\n", i+1,
			pctl(ls, 50).Round(time.Millisecond/10), pctl(ls, 99).Round(time.Millisecond/10), pctl(ls, 100).Round(time.Millisecond/10), len(ls))
	}
}

// BenchmarkIngestWithSSEClients: a burst's ingest rate with no live client
// and with 1,000 connected /api/live clients (each reading everything it
// is sent). Run:
//
//	go test -run '^$' -bench BenchmarkIngestWithSSEClients -benchtime 1x ./internal/app/
func BenchmarkIngestWithSSEClients(b *testing.B) {
	n := 300_000
	if v := burstSize(); v != 1_000_000 {
		n = v
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(128 << 20))
	rates := map[int]float64{}
	for _, clients := range []int{0, 1000} {
		wsURL, base := startDemoProcess(b)
		cfg := testConfig(b, wsURL)
		cfg.MessageLog = new(bool) // measure ingest and fan-out, not the log
		h := start(b, ModeAll, cfg)
		h.waitConnected()
		// The clients run in a process of their own, like browsers would.
		var child *exec.Cmd
		if clients > 0 {
			child = exec.Command(os.Args[0], "-test.run=^$")
			child.Env = append(os.Environ(), fmt.Sprintf("WSMON_TEST_SSE_CHILD=%s,%d", h.webAddr, clients))
			child.Stderr = os.Stderr
			if err := child.Start(); err != nil {
				b.Fatal(err)
			}
		}
		waitFor(b, 30*time.Second, "clients subscribed", func() bool { return h.hubSubscribers() >= clients })
		t0 := time.Now()
		go func() {
			resp, err := http.Post(fmt.Sprintf("%s/burst?n=%d", base, n), "", nil)
			if err == nil {
				resp.Body.Close()
			}
		}()
		h.waitMessages(int64(n), 10*time.Minute)
		rates[clients] = float64(n) / time.Since(t0).Seconds()
		if child != nil {
			child.Process.Kill()
			child.Wait()
		}
		h.stop()
	}
	drop := 100 * (1 - rates[1000]/rates[0])
	b.ReportMetric(rates[0], "msgs/s-0clients")
	b.ReportMetric(rates[1000], "msgs/s-1000clients")
	b.ReportMetric(drop, "drop-%")
	fmt.Fprintf(os.Stderr, "ingest of %d messages: %.0f msg/s with no live client, %.0f msg/s with 1000: %.1f%% lower\n", n, rates[0], rates[1000], drop)
}

// runSSEChild opens n /api/live connections to addr and reads them until
// killed ("addr,n").
func runSSEChild(spec string) {
	addr, ns, _ := strings.Cut(spec, ",")
	n, _ := strconv.Atoi(ns)
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintf(c, "GET /api/live HTTP/1.1\r\nHost: x\r\n\r\n")
		go func() {
			buf := make([]byte, 4096)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
			}
		}()
	}
	select {}
}
