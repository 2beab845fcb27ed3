//go:build linux

package app

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkIdleCPU runs wsmon (monitor and all, each in a child process)
// against a connected but silent demo server and reports the share of one
// core it uses while idle (utime+stime from /proc over 30 s, after 5 s to
// settle). Run it with
//
//	go test -run '^$' -bench BenchmarkIdleCPU -benchtime 1x ./internal/app/
func BenchmarkIdleCPU(b *testing.B) {
	for _, mode := range []string{"monitor", "all"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				d := newDemo(b, nil)
				cfg := testConfig(b, d.URL())
				cfg.MessageLog = new(bool)
				cfg.WebPort = freePort(b)
				b.Setenv("WSMON_TEST_CHILD_MODE", mode)
				child := startBenchChild(b, cfg)
				waitFor(b, 30*time.Second, "connected", func() bool { return d.Clients() == 1 })
				time.Sleep(5 * time.Second)
				const window = 30 * time.Second
				t0 := childCPU(b, child.Process.Pid)
				time.Sleep(window)
				used := childCPU(b, child.Process.Pid) - t0
				b.ReportMetric(100*used.Seconds()/window.Seconds(), "%core")
				stopBenchChild(child)
			}
		})
	}
}

// childCPU is the user+system CPU time of process pid.
func childCPU(b *testing.B, pid int) time.Duration {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which is in parentheses): utime and
	// stime are the 14th and 15th fields of the line, in clock ticks.
	rest := string(st[strings.LastIndexByte(string(st), ')')+2:])
	f := strings.Fields(rest)
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+stime) * time.Second / 100 // USER_HZ is 100 on Linux
}

// freePort is a free TCP port on 127.0.0.1.
func freePort(b *testing.B) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
