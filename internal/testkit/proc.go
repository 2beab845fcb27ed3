package testkit

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// required reports whether missing test servers fail the test instead of
// skipping it (CI sets WSMON_REQUIRE_SERVERS=1).
func required() bool { return os.Getenv("WSMON_REQUIRE_SERVERS") != "" }

// NeedBinary returns the path of the server program name: from the
// environment variable WSMON_<NAME> (upper case, '-' as '_'), else
// bin/testservers/<name> under the repository root, else $PATH, else
// /usr/sbin/<name>. When none exists the test is skipped, or fails under
// WSMON_REQUIRE_SERVERS.
func NeedBinary(t testing.TB, name string) string {
	t.Helper()
	env := "WSMON_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	if p := os.Getenv(env); p != "" {
		return p
	}
	if root := RepoRoot(t); root != "" {
		if p := filepath.Join(root, "bin", "testservers", name); isExec(p) {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", name); isExec(p) {
		return p
	}
	missing(t, "test server %s not found (set %s, or run make testservers)", name, env)
	return ""
}

// NeedNodeModules checks that dir (a test server folder with package.json)
// has its npm packages installed and node is present.
func NeedNodeModules(t testing.TB, dir string) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		missing(t, "node not found")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		missing(t, "%s/node_modules missing (run make testservers)", dir)
	}
}

func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if required() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// RepoRoot is the repository root (the folder with go.mod), "" if unknown.
func RepoRoot(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// WaitTCP waits until addr accepts TCP connections.
func WaitTCP(t testing.TB, addr string, within time.Duration) {
	t.Helper()
	WaitFor(t, within, "tcp "+addr, func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return true
		}
		return false
	})
}

// Proc describes a server process a test runs.
type Proc struct {
	Name  string       // for logs
	Path  string       // program
	Args  []string     // arguments
	Env   []string     // added to the environment
	Dir   string       // working directory
	Ready func() error // nil when the server is ready; polled for 60 s after start
}

// Process is a running test server. Its output is kept and printed when
// the test fails.
type Process struct {
	p   Proc
	mu  sync.Mutex
	cmd *exec.Cmd
	out *logBuffer
}

// StartProcess starts p, waits until it is ready and stops it when the
// test ends.
func StartProcess(t testing.TB, p Proc) *Process {
	t.Helper()
	pr := &Process{p: p, out: &logBuffer{}}
	pr.start(t)
	t.Cleanup(func() {
		pr.Stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", p.Name, pr.out.tail(100))
		}
	})
	return pr
}

func (pr *Process) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(pr.p.Path, pr.p.Args...)
	cmd.Env = append(os.Environ(), pr.p.Env...)
	cmd.Dir = pr.p.Dir
	cmd.Stdout, cmd.Stderr = pr.out, pr.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", pr.p.Name, err)
	}
	pr.mu.Lock()
	pr.cmd = cmd
	pr.mu.Unlock()
	if pr.p.Ready == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		if err = pr.p.Ready(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not ready after 60 s: %v\n%s", pr.p.Name, err, pr.out.tail(50))
}

// Stop kills the process group (SIGKILL) and waits for it.
func (pr *Process) Stop() {
	pr.mu.Lock()
	cmd := pr.cmd
	pr.cmd = nil
	pr.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()
}

// Restart stops the process and starts it again with the same settings
// (same ports), waiting until it is ready.
func (pr *Process) Restart(t testing.TB) {
	t.Helper()
	pr.Stop()
	pr.start(t)
}

// Output returns what the process printed so far.
func (pr *Process) Output() string { return pr.out.String() }

// logBuffer is a goroutine-safe buffer.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tail returns the last n lines.
func (l *logBuffer) tail(n int) string {
	lines := strings.Split(l.String(), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("… %d lines cut", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}
