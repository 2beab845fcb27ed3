package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/store"
)

// TestModeHelpShowsOnlyItsFlags: each mode's --help lists the flags it
// uses and none it ignores.
func TestModeHelpShowsOnlyItsFlags(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		mode      string
		has, lack []string
	}{
		{"monitor", []string{"-url", "-config", "-log-level", "-db", "-demo", "-demo-port"}, []string{"-port", "-host"}},
		{"web", []string{"-port", "-host", "-config", "-log-level", "-db"}, []string{"-url", "-demo"}},
		{"all", []string{"-url", "-port", "-host", "-config", "-log-level", "-db", "-demo", "-demo-port"}, nil},
	}
	flagLine := regexp.MustCompile(`(?m)^  (-[a-z-]+)`)
	for _, c := range cases {
		code, _, stderr := run(t, dir, c.mode, "--help")
		if code != ExitOK {
			t.Fatalf("%s --help: exit %d", c.mode, code)
		}
		var listed []string
		for _, m := range flagLine.FindAllStringSubmatch(stderr, -1) {
			listed = append(listed, m[1])
		}
		for _, f := range c.has {
			if !containsStr(listed, f) {
				t.Errorf("%s --help does not list %s: %v", c.mode, f, listed)
			}
		}
		for _, f := range c.lack {
			if containsStr(listed, f) {
				t.Errorf("%s --help lists %s, which it does not use", c.mode, f)
			}
		}
		if strings.Count(stderr, "Usage: wsmon "+c.mode) != 1 {
			t.Errorf("%s --help printed its usage %d times", c.mode, strings.Count(stderr, "Usage:"))
		}
	}
}

func containsStr(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestUnknownFlagSuggestsTheNearest: a mistyped or misplaced flag gets one
// line naming the nearest flag (the same suggestion as config keys) or the
// modes that have it, and exit code 2, without the whole usage.
func TestUnknownFlagSuggestsTheNearest(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"all", "--prot", "1"}, "wsmon all: unknown flag --prot (did you mean --port?)"},
		{[]string{"all", "--log_level", "DEBUG"}, "wsmon all: unknown flag --log_level (did you mean --log-level?)"},
		{[]string{"monitor", "--port", "8001"}, "wsmon monitor: unknown flag --port (--port is an option of web and all, not of monitor)"},
		{[]string{"web", "--url", "ws://x/"}, "wsmon web: unknown flag --url (--url is an option of monitor and all, not of web)"},
		{[]string{"monitor", "--prot", "1"}, "wsmon monitor: unknown flag --prot (did you mean --port? it is an option of web and all, not of monitor)"},
		{[]string{"export", "--fromm", "2026-01-01"}, "wsmon export: unknown flag --fromm (did you mean --from?)"},
		{[]string{"web", "--xyzzy"}, "wsmon web: unknown flag --xyzzy"},
	}
	for _, c := range cases {
		code, _, stderr := run(t, dir, c.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != ExitUsage || lines[0] != c.want || len(lines) != 2 || !strings.HasPrefix(lines[1], "Run 'wsmon ") {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant first line:\n%s", c.args, code, stderr, c.want)
		}
		if strings.Contains(stderr, "flag provided but not defined") {
			t.Errorf("%v: Go's flag message leaked: %q", c.args, stderr)
		}
	}
}

// TestURLWithoutScheme: a URL without ws:// or wss:// says what to add.
func TestURLWithoutScheme(t *testing.T) {
	for _, u := range []string{"127.0.0.1:8000/ws/chat", "localhost:8000/ws", "chat.example.com/ws"} {
		code, _, stderr := run(t, t.TempDir(), "monitor", "--url", u)
		want := fmt.Sprintf("wsmon: websocket_url: %q has no scheme: add ws:// or wss:// (for example \"ws://%s\")\n", u, u)
		if code != ExitUsage || stderr != want {
			t.Errorf("--url %s: exit %d, stderr %q, want %q", u, code, stderr, want)
		}
	}
}

// syncBuffer is a bytes buffer safe for a running command and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// started runs a long-running mode in dir until its start-up summary is
// printed, then stops it; it returns the exit code and the output.
func started(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	var out, errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- Run(ctx, args, Env{Stdout: &out, Stderr: &errb, Environ: []string{}}) }()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(errb.String(), " started (") {
		select {
		case code := <-done:
			return code, out.String(), errb.String()
		case <-deadline:
			cancel()
			<-done
			t.Fatalf("%v did not start:\n%s", args, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	time.Sleep(50 * time.Millisecond) // the summary is written in one piece; let it end
	summary := errb.String()
	cancel()
	code = <-done
	return code, out.String(), summary
}

// TestStartupSummary: `wsmon all --demo` prints a few readable lines:
// mode, the target with its protocol, the database, auth, and the
// dashboard URL on a line of its own; the configuration is logged only at
// DEBUG.
func TestStartupSummary(t *testing.T) {
	dir := t.TempDir()
	port, demoPort := freePort(t), freePort(t)
	code, _, stderr := started(t, dir, "all", "--demo", "--demo-port", strconv.Itoa(demoPort), "--port", strconv.Itoa(port))
	if code != ExitOK {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	want := []string{
		"wsmon all started (dev)\n",
		fmt.Sprintf("  demo server  ws://127.0.0.1:%d/ws/chat\n", demoPort),
		fmt.Sprintf("  target       demo  ws://127.0.0.1:%d/ws/chat  (protocol auto)\n", demoPort),
		"  database     data/chat_monitor.db\n",
		"  auth         off (the dashboard accepts connections from this machine only)\n",
		fmt.Sprintf("Dashboard:\n  http://127.0.0.1:%d/\n", port),
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("summary lacks %q:\n%s", w, stderr)
		}
	}
	if strings.Contains(stderr, "config=") || strings.Contains(stderr, `\"websocket_url\"`) {
		t.Errorf("the configuration is logged at INFO:\n%s", stderr)
	}
	for _, line := range strings.Split(stderr, "\n") {
		if len(line) > 300 {
			t.Errorf("a %d-character line at start:\n%s", len(line), line)
		}
	}

	// At DEBUG the whole configuration is logged (secrets redacted).
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"web_token": "a-very-secret-token-123"}`), 0o600)
	_, _, stderr = started(t, dir, "all", "--demo", "--demo-port", strconv.Itoa(demoPort), "--port", strconv.Itoa(port), "--log-level", "DEBUG")
	if !strings.Contains(stderr, `msg=configuration`) || !strings.Contains(stderr, `\"web_port\":`) {
		t.Errorf("DEBUG does not log the configuration:\n%s", stderr)
	}
	if strings.Contains(stderr, "a-very-secret-token-123") {
		t.Error("the token is logged")
	}
	if !strings.Contains(stderr, "  auth         on (token)\n") {
		t.Errorf("auth not shown as on:\n%s", stderr)
	}
}

// TestDemoPortFallsBack: when the demo port is taken, --demo uses a free
// port, says which, and monitors it.
func TestDemoPortFallsBack(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	busy := taken.Addr().(*net.TCPAddr).Port
	port := freePort(t)
	code, _, stderr := started(t, t.TempDir(), "all", "--demo", "--demo-port", strconv.Itoa(busy), "--port", strconv.Itoa(port))
	if code != ExitOK {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	m := regexp.MustCompile(`demo server  ws://127\.0\.0\.1:(\d+)/ws/chat \(port (\d+) is in use; using port (\d+) instead`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no fallback note:\n%s", stderr)
	}
	if m[2] != strconv.Itoa(busy) || m[1] != m[3] || m[1] == m[2] {
		t.Errorf("fallback note %q: busy %d", m[0], busy)
	}
	if !strings.Contains(stderr, "target       demo  ws://127.0.0.1:"+m[1]+"/ws/chat") {
		t.Errorf("the monitored target is not the demo server's new port:\n%s", stderr)
	}
	if code, _, stderr := run(t, t.TempDir(), "all", "--demo-port", "9000"); code != ExitUsage || !strings.Contains(stderr, "--demo-port needs --demo") {
		t.Errorf("--demo-port alone: %d %q", code, stderr)
	}
}

// TestFatalErrorPrintedOnce: a monitor whose only target gives up says
// why once (with what to do about it), and its last line says it stops;
// a taken web port is reported once.
func TestFatalErrorPrintedOnce(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"websocket_url": "ws://`+closed+`/ws", "reconnect_interval": 0.05, "max_reconnect_attempts": 2}`), 0o644)
	code, _, stderr := run(t, dir, "monitor")
	if code != ExitError {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if n := strings.Count(stderr, "gave up after 2 attempts"); n != 1 {
		t.Errorf("the fatal error appears %d times:\n%s", n, stderr)
	}
	if !strings.Contains(stderr, "set max_reconnect_attempts: 0 to retry forever") || !strings.Contains(stderr, "Restart=on-failure") {
		t.Errorf("no advice on keeping it running:\n%s", stderr)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "wsmon: no target left running ("+closed+": gave_up)") {
		t.Errorf("last line %q", last)
	}

	// A taken dashboard port.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	p := busy.Addr().(*net.TCPAddr).Port
	code, _, stderr = run(t, t.TempDir(), "web", "--port", strconv.Itoa(p), "--db", filepath.Join(dir, "data", "chat_monitor.db"))
	if code != ExitError || strings.Count(stderr, "address already in use") != 1 {
		t.Errorf("taken port: exit %d, stderr:\n%s", code, stderr)
	}
}

// TestWebWithoutDatabase: `wsmon web` where no monitor has written says so
// and where it looked, and creates nothing.
func TestWebWithoutDatabase(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := run(t, dir, "web", "--port", strconv.Itoa(freePort(t)))
	abs := filepath.Join(dir, "data", "chat_monitor.db")
	if code != ExitError || !strings.Contains(stderr, "wsmon: no database at "+abs+" ") || !strings.Contains(stderr, "no monitor has written there") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("wsmon web created the data directory")
	}
}

// The read-only cases need a user that cannot write: the test binary runs
// itself as nobody (65534) when the tests run as root, since root writes
// through any mode bits.

const childEnv = "WSMON_CLI_TEST_CHILD"

// childRequest is what the re-executed test binary runs.
type childRequest struct {
	Dir   string   `json:"dir"`
	Args  []string `json:"args"`
	Probe string   `json:"probe"` // with a long-running mode: GET this path once started
}

type childResult struct {
	Code   int    `json:"code"`
	Stderr string `json:"stderr"`
	Probe  string `json:"probe"`
}

func TestMain(m *testing.M) {
	if req := os.Getenv(childEnv); req != "" {
		var r childRequest
		if err := json.Unmarshal([]byte(req), &r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		json.NewEncoder(os.Stdout).Encode(runChild(r))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runChild(r childRequest) childResult {
	if err := os.Chdir(r.Dir); err != nil {
		return childResult{Code: -1, Stderr: err.Error()}
	}
	var errb syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- Run(ctx, r.Args, Env{Stdout: io.Discard, Stderr: &errb, Environ: []string{}}) }()
	res := childResult{}
	for {
		select {
		case res.Code = <-done:
			res.Stderr = errb.String()
			return res
		case <-time.After(20 * time.Millisecond):
		}
		s := errb.String()
		if i := strings.Index(s, "Dashboard:\n  "); i >= 0 && r.Probe != "" && strings.HasSuffix(s, "\n") {
			base := strings.TrimSpace(s[i+len("Dashboard:\n  "):])
			base = strings.SplitN(base, "\n", 2)[0]
			resp, err := http.Get(strings.TrimSuffix(base, "/") + r.Probe)
			if err != nil {
				res.Probe = "error: " + err.Error()
			} else {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				res.Probe = strconv.Itoa(resp.StatusCode) + " " + string(b)
			}
			cancel()
			res.Code = <-done
			res.Stderr = errb.String()
			return res
		}
	}
}

// asUnprivileged runs args in dir as a user that cannot write where it
// should not: this process when it is not root, else the test binary
// again as nobody.
func asUnprivileged(t *testing.T, r childRequest) childResult {
	t.Helper()
	if os.Getuid() != 0 {
		return runChild(r)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "cli.test")
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(bin), 0o755)
	req, _ := json.Marshal(r)
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(req), "HOME=/")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v %s", err, out)
	}
	var res childResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
	return res
}

// worldDir makes a directory every user can enter (a test's temporary
// directories are private to root).
func worldDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	os.Chmod(d, 0o777)
	for p := filepath.Dir(d); p != "/" && strings.HasPrefix(p, os.TempDir()) && p != filepath.Clean(os.TempDir()); p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	return d
}

// TestReadOnlyDataDirectory: a monitor given a data directory it cannot
// write names the path and the permission problem, not SQLite's "unable
// to open database file (14)".
func TestReadOnlyDataDirectory(t *testing.T) {
	dir := worldDir(t)
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o555)
	os.Chmod(ro, 0o555)
	t.Cleanup(func() { os.Chmod(ro, 0o755) })
	res := asUnprivileged(t, childRequest{Dir: dir, Args: []string{"monitor", "--db", "ro/chat.db"}})
	want := "wsmon: data directory: " + ro + " is not writable: permission denied for "
	if res.Code != ExitError || !strings.HasPrefix(res.Stderr, want) || strings.Count(strings.TrimSpace(res.Stderr), "\n") != 0 {
		t.Errorf("exit %d, stderr:\n%s\nwant one line starting %q", res.Code, res.Stderr, want)
	}
	if strings.Contains(res.Stderr, "(14)") {
		t.Errorf("SQLite's error code leaked: %s", res.Stderr)
	}
}

// TestWebServesAReadOnlyBackup: `wsmon web` on a backup copy it cannot
// write serves it read-only, and writes nothing beside it.
func TestWebServesAReadOnlyBackup(t *testing.T) {
	dir := worldDir(t)
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Path: filepath.Join(dir, "live.db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddAttempts(ctx, []store.Attempt{{Target: "t", URL: "ws://h/", At: time.Now(), Step: "dial", Error: "dial: refused", Code: "connection_refused"}}); err != nil {
		t.Fatal(err)
	}
	copyDir := filepath.Join(dir, "copy")
	os.Mkdir(copyDir, 0o755)
	if err := st.Backup(ctx, filepath.Join(copyDir, "b.db")); err != nil {
		t.Fatal(err)
	}
	st.Close()
	os.Chmod(filepath.Join(copyDir, "b.db"), 0o444)
	os.Chmod(copyDir, 0o555)
	t.Cleanup(func() { os.Chmod(copyDir, 0o755) })
	res := asUnprivileged(t, childRequest{Dir: dir, Args: []string{"web", "--db", "copy/b.db", "--port", strconv.Itoa(freePort(t))}, Probe: "/api/sessions"})
	if res.Code != ExitOK || !strings.HasPrefix(res.Probe, "200 ") || !strings.Contains(res.Probe, `"error_code":"connection_refused"`) {
		t.Fatalf("exit %d, probe %q, stderr:\n%s", res.Code, res.Probe, res.Stderr)
	}
	if !strings.Contains(res.Stderr, "serving it read-only") {
		t.Errorf("no word that it is read-only:\n%s", res.Stderr)
	}
	if entries, _ := os.ReadDir(copyDir); len(entries) != 1 {
		t.Errorf("files written beside the copy: %v", entries)
	}
}

// TestWebShowsADeadMonitor: a separate `wsmon web` shows what a `wsmon
// monitor` process sees of a target that never connects (every failed
// attempt in the sessions timeline, the error's code, the next attempt),
// and, once that process is killed, shows it dead: its heartbeat stops.
func TestWebShowsADeadMonitor(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"websocket_url": "ws://`+closed+`/ws", "reconnect_interval": 0.2, "reconnect_backoff": false, "max_reconnect_attempts": 0, "log_dir": "`+filepath.Join(dir, "logs")+`"}`), 0o644)

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(childRequest{Dir: dir, Args: []string{"monitor"}})
	mon := exec.Command(exe, "-test.run=^$")
	mon.Env = append(os.Environ(), childEnv+"="+string(req))
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { mon.Process.Kill(); mon.Wait() }()
	dbPath := filepath.Join(dir, "data", "chat_monitor.db")
	waitUntil(t, 20*time.Second, "the monitor's first heartbeat", func() bool {
		st, err := store.Open(context.Background(), store.Options{Path: dbPath, ReadOnly: true})
		if err != nil {
			return false
		}
		defer st.Close()
		_, err = st.LastMonitorProcess(context.Background())
		return err == nil
	})

	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errb syncBuffer
	go func() {
		done <- Run(ctx, []string{"web", "--port", strconv.Itoa(port), "--db", dbPath, "--config", filepath.Join(dir, "config.json")}, Env{Stdout: io.Discard, Stderr: &errb, Environ: []string{}})
	}()
	defer func() { cancel(); <-done }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	type stats struct {
		Monitor []struct {
			State         string  `json:"state"`
			ErrorCode     string  `json:"error_code"`
			LastError     string  `json:"last_error"`
			NextAttemptAt *string `json:"next_attempt_at"`
		} `json:"monitor"`
		Process struct {
			State string `json:"state"`
			Alive bool   `json:"alive"`
			PID   int    `json:"pid"`
		} `json:"monitor_process"`
	}
	get := func(path string, v any) bool {
		resp, err := http.Get(base + path)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == 200 && json.NewDecoder(resp.Body).Decode(v) == nil
	}
	var s stats
	waitUntil(t, 20*time.Second, "the web process sees the monitor waiting to reconnect", func() bool {
		return get("/api/stats", &s) && s.Process.Alive && len(s.Monitor) == 1 && s.Monitor[0].ErrorCode == "connection_refused"
	})
	if s.Process.PID != mon.Process.Pid || s.Process.State != "running" {
		t.Errorf("monitor_process = %+v, want pid %d running", s.Process, mon.Process.Pid)
	}
	var sessions struct {
		Sessions []struct {
			Attempt   bool   `json:"attempt"`
			At        string `json:"at"`
			ErrorCode string `json:"error_code"`
			Error     string `json:"error"`
			Step      string `json:"step"`
		} `json:"sessions"`
	}
	waitUntil(t, 20*time.Second, "three failed attempts in the timeline", func() bool {
		return get("/api/sessions", &sessions) && len(sessions.Sessions) >= 3
	})
	for _, a := range sessions.Sessions {
		if !a.Attempt || a.ErrorCode != "connection_refused" || a.Step != "dial" || a.At == "" || !strings.Contains(a.Error, "refused") {
			t.Fatalf("timeline entry %+v", a)
		}
	}

	if err := mon.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	mon.Wait()
	waitUntil(t, 30*time.Second, "the killed monitor shown as dead", func() bool {
		return get("/api/stats", &s) && s.Process.State == "dead" && !s.Process.Alive
	})
	if len(s.Monitor) != 1 || s.Monitor[0].State != "stopped" || s.Monitor[0].ErrorCode != "monitor_not_running" || s.Monitor[0].NextAttemptAt != nil {
		t.Errorf("target after the monitor died: %+v", s.Monitor)
	}
}

func waitUntil(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDisplayVersion: a tag is shown as it is, a bare commit hash (git
// describe without a tag) as "dev <hash>", never as "v<hash>".
func TestDisplayVersion(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "dev",
		"dev":               "dev",
		"a1cc8ca":           "dev a1cc8ca",
		"a1cc8ca-dirty":     "dev a1cc8ca-dirty",
		"v1.2.0":            "v1.2.0",
		"v1.2.0-3-gabc1234": "v1.2.0-3-gabc1234",
		"v1.2.0-dirty":      "v1.2.0-dirty",
	} {
		if got := DisplayVersion(in); got != want {
			t.Errorf("DisplayVersion(%q) = %q, want %q", in, got, want)
		}
	}
	old := Version
	Version = "a1cc8ca"
	defer func() { Version = old }()
	if code, out, _ := run(t, t.TempDir(), "version"); code != ExitOK || out != "wsmon dev a1cc8ca\n" {
		t.Errorf("wsmon version: %d %q", code, out)
	}
}
