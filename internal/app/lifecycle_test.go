package app

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// goroutinesIn counts the goroutines whose stack mentions fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}

// TestStopEndsLiveStreamsAtOnce: a stop with a live stream open ends the
// stream (before, http.Server.Shutdown waited its full 5 s timeout for it)
// and everything Run started has returned when Run does.
func TestStopEndsLiveStreamsAtOnce(t *testing.T) {
	fns := []string{"journal.(*Journal).flusher", "app.retention", "app.(*Monitor).Run", "index.(*Indexer).Run", "live.(*Tailer).Run"}
	before := map[string]int{} // other tests' leftovers, if any
	for _, fn := range fns {
		before[fn] = goroutinesIn(fn)
	}
	d := newDemo(t, nil)
	cfg := testConfig(t, d.URL())
	cfg.RetentionDays = 30 // the retention goroutine runs too
	h := start(t, ModeAll, cfg)
	h.waitConnected()
	resp, err := http.Get("http://" + h.webAddr + "/api/live")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/api/live: %d", resp.StatusCode)
	}
	ended := make(chan struct{})
	go func() {
		r := bufio.NewReader(resp.Body)
		for {
			if _, err := r.ReadString('\n'); err != nil {
				close(ended)
				return
			}
		}
	}()
	waitFor(t, 5*time.Second, "the live subscriber", func() bool { return h.hubSubscribers() == 1 })

	t0 := time.Now()
	if err := h.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	took := time.Since(t0)
	t.Logf("stop with a live stream open took %v", took.Round(time.Millisecond))
	select {
	case <-ended:
	case <-time.After(time.Second):
		t.Fatal("the live stream was not ended by the stop")
	}
	if took >= 5*time.Second {
		t.Fatalf("stop took %v: the web server waited out its shutdown timeout", took)
	}
	for _, fn := range fns {
		if n := goroutinesIn(fn) - before[fn]; n > 0 {
			t.Errorf("%d goroutines still in %s after Run returned", n, fn)
		}
	}
}

// TestTakenPortFailsBeforeCapture: with the web port taken, Run fails at
// once with a clear error, having started nothing (no journal flusher or
// runner left behind).
func TestTakenPortFailsBeforeCapture(t *testing.T) {
	d := newDemo(t, nil)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := testConfig(t, d.URL())
	cfg.WebPort = taken.Addr().(*net.TCPAddr).Port
	before := goroutinesIn("journal.(*Journal).flusher")
	err = Run(context.Background(), ModeAll, cfg, Options{Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "web: listen on 127.0.0.1:") || !strings.Contains(err.Error(), "set web_port or --port") {
		t.Fatalf("Run = %v", err)
	}
	if n := goroutinesIn("journal.(*Journal).flusher"); n != before {
		t.Fatalf("%d journal flushers left running", n-before)
	}
	if d.Clients() != 0 {
		t.Fatal("capture connected although the web port was taken")
	}
}
