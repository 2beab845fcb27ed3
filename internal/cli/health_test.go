package cli

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/store"
)

func TestProbeAddr(t *testing.T) {
	for _, c := range []struct {
		host string
		want string
	}{
		{"0.0.0.0", "127.0.0.1:8001"},
		{"", "127.0.0.1:8001"},
		{"::", "[::1]:8001"},
		{"[::]", "[::1]:8001"},
		{"127.0.0.1", "127.0.0.1:8001"},
		{"192.0.2.7", "192.0.2.7:8001"},
		{"[::1]", "[::1]:8001"},
		{"localhost", "localhost:8001"},
	} {
		if got := probeAddr(c.host, 8001); got != c.want {
			t.Errorf("probeAddr(%q) = %q, want %q", c.host, got, c.want)
		}
	}
}

// health runs `wsmon health args...` with environ and returns its exit
// code and output.
func health(environ []string, args ...string) (int, string) {
	var out bytes.Buffer
	code := Run(context.Background(), append([]string{"health"}, args...), Env{Stdout: &out, Stderr: &out, Environ: environ})
	return code, out.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestHealthProbesARunningWeb: against a real `wsmon web` with a token
// (the probe needs none: /healthz is open), health exits 0 with the port
// taken from the same WSMON_* environment the server got; once the server
// has stopped it exits 1 with one line saying why.
func TestHealthProbesARunningWeb(t *testing.T) {
	dir := t.TempDir()
	environ := []string{
		"WSMON_WEB_PORT=" + strconv.Itoa(freePort(t)),
		"WSMON_WEB_TOKEN=6f1c2a9e0b7d4c3f8a5e1d2b",
		"WSMON_DATABASE_PATH=" + filepath.Join(dir, "chat_monitor.db"),
		"WSMON_LOG_DIR=" + filepath.Join(dir, "logs"),
	}
	// wsmon web serves a database a monitor wrote; it never creates one.
	st, err := store.Open(context.Background(), store.Options{Path: filepath.Join(dir, "chat_monitor.db")})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		var discard bytes.Buffer
		done <- Run(ctx, []string{"web"}, Env{Stdout: &discard, Stderr: &discard, Environ: environ})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, out := health(environ, "--timeout", "1s")
		if code == ExitOK {
			if !strings.HasPrefix(out, "ok http://127.0.0.1:") {
				t.Errorf("output %q", out)
			}
			break
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("wsmon web never became healthy: exit %d, %q", code, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if code := <-done; code != ExitOK {
		t.Fatalf("wsmon web exited %d", code)
	}
	code, out := health(environ, "--timeout", "1s")
	if code != ExitError || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "wsmon: health: http://127.0.0.1:") {
		t.Errorf("after stop: exit %d, %q", code, out)
	}
}

// TestHealthWantsWsmonsAnswer: a 200 that is not {"status":"ok"} (another
// program, an HTML page) and a non-200 are unhealthy; a configuration that
// does not load is exit 1 too (Docker reserves 2).
func TestHealthWantsWsmonsAnswer(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		body   string
		want   int
	}{
		{"wsmon", 200, `{"status":"ok"}`, ExitOK},
		{"html page", 200, "<!doctype html><title>wsmon</title>", ExitError},
		{"other json", 200, `{"status":"starting"}`, ExitError},
		{"error status", 503, `{"status":"ok"}`, ExitError},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/healthz" {
					http.NotFound(w, r)
					return
				}
				w.WriteHeader(c.status)
				w.Write([]byte(c.body))
			}))
			defer srv.Close()
			port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
			if code, out := health(nil, "--host", "127.0.0.1", "--port", port); code != c.want {
				t.Errorf("exit %d, want %d (%q)", code, c.want, out)
			}
		})
	}
	if code, out := health([]string{"WSMON_WEB_PORT=0"}); code != ExitError || !strings.Contains(out, "web_port") {
		t.Errorf("bad config: exit %d, %q", code, out)
	}
}
