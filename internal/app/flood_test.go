//go:build linux

package app

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/demo"
)

// TestDashboardFloodDoesNotStopCapture reproduces the flood of issue 8
// item 2 on a small scale: with this process's open-file limit lowered to
// what is open plus 300, another process opens 600 keep-alive connections
// to the dashboard and holds them. The web server takes at most its cap
// (half the limit), the rest wait in the backlog, and capture (its demo
// server, in a third process, drops it every 10 messages) keeps
// redialling and storing; once the flood is gone the dashboard answers
// again.
func TestDashboardFloodDoesNotStopCapture(t *testing.T) {
	if testing.Short() {
		t.Skip("flood test")
	}
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	const headroom, flood = 300, 600
	low := orig
	low.Cur = uint64(len(fds) + headroom)
	if low.Cur >= orig.Cur {
		t.Skipf("open-file limit %d already below %d", orig.Cur, low.Cur)
	}

	demoURL, _ := helperProcess(t, "demo")
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig) })

	cfg := testConfig(t, demoURL)
	cfg.MaxReconnectAttempts = 3
	h := startWith(t, ModeAll, cfg, Options{})
	h.waitConnected()

	// The flood, from a process of its own (its descriptors are not ours).
	_, stopFlood := helperProcess(t, fmt.Sprintf("flood,%s,%d", h.webAddr, flood))
	time.Sleep(300 * time.Millisecond) // let the server accept what it will
	fds, _ = os.ReadDir("/proc/self/fd")
	t.Logf("open-file limit %d, open during the flood %d", low.Cur, len(fds))

	st0, n0 := h.mon.Status()[0], h.mon.Pipeline().Stats().Messages
	waitFor(t, 30*time.Second, "5 more sessions and 50 more messages during the flood", func() bool {
		st := h.mon.Status()[0]
		if st.Stopped != "" {
			t.Fatalf("capture stopped during the flood: %s", st.Stopped)
		}
		return st.Session >= st0.Session+5 && h.mon.Pipeline().Stats().Messages >= n0+50
	})

	// The flood ends: the dashboard answers again.
	stopFlood()
	c := &http.Client{Timeout: 2 * time.Second}
	waitFor(t, 10*time.Second, "dashboard after the flood", func() bool {
		resp, err := c.Get("http://" + h.webAddr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// helperProcess starts this test binary as TestFloodHelperProcess with
// spec and returns the first line it prints and a function that stops it.
func helperProcess(t *testing.T, spec string) (string, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFloodHelperProcess$")
	cmd.Env = append(os.Environ(), "WSMON_TEST_FLOOD="+spec)
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() }
	t.Cleanup(stop)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper %s: %q %v", spec, line, err)
	}
	return strings.TrimSpace(line), sync.OnceFunc(stop)
}

// TestFloodHelperProcess is a helper of TestDashboardFloodDoesNotStopCapture
// when run as its child: WSMON_TEST_FLOOD=demo runs a demo server (200
// messages/s, a drop every 10) and prints its URL; flood,addr,n opens n
// connections to addr, sends one request on each and prints "ready". Both
// run until stdin closes. Run directly it does nothing.
func TestFloodHelperProcess(t *testing.T) {
	spec := os.Getenv("WSMON_TEST_FLOOD")
	if spec == "" {
		return
	}
	if spec == "demo" {
		o := demo.DefaultOptions()
		o.Addr, o.Rate, o.Seed, o.DropEvery = "127.0.0.1:0", 200, 1, 10
		d := demo.New(o)
		if err := d.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println(d.URL())
	} else {
		parts := strings.Split(spec, ",")
		n, _ := strconv.Atoi(parts[2])
		for range n {
			c, err := net.DialTimeout("tcp", parts[1], 5*time.Second)
			if err != nil {
				fmt.Fprintln(os.Stderr, "flood:", err)
				os.Exit(2)
			}
			c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
			defer c.Close()
		}
		fmt.Println("ready")
	}
	bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes it
	os.Exit(0)
}
