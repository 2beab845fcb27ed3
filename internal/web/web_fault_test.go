package web_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmon/wsmon/internal/testkit"
)

// chatServer is a WebSocket server on a free 127.0.0.1 port that sends
// what is put on send to every connection, and reads until it ends.
type chatServer struct {
	url  string
	mu   sync.Mutex
	conn *websocket.Conn // the latest connection
}

func newChatServer(t *testing.T) *chatServer {
	t.Helper()
	s := &chatServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conn = c
		s.mu.Unlock()
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	s.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat"
	return s
}

func (s *chatServer) send(t *testing.T, n int) {
	t.Helper()
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c == nil {
		t.Fatal("wsmon is not connected")
	}
	for i := range n {
		if err := c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"id":"m%d","user":"u%d","content":"message %d"}`, i, i%9, i)); err != nil {
			t.Fatal(err)
		}
	}
}

// rawGet sends one request line as given (no client-side cleaning of the
// path) and returns the response with its body.
func rawGet(t *testing.T, addr, target string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", target)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body
}

// TestPathTraversalServesNothingOutside: requests that try to climb out
// of the dashboard (dot segments plain, percent-encoded, double-encoded,
// with backslashes, in the API's path parameters) to the working
// directory's config.json, the database or /etc/passwd, sent as raw
// request lines to a running wsmon. None serves a byte of those files:
// the answer is the dashboard page (client-side routes), a redirect to
// the cleaned path, or a JSON 4xx.
func TestPathTraversalServesNothingOutside(t *testing.T) {
	const canary = "CANARY-7f3a9c-not-to-be-served"
	work := t.TempDir()
	t.Chdir(work)
	for _, name := range []string{"config.json", "secret.txt", "index.html"} {
		if err := os.WriteFile(filepath.Join(work, name), []byte(canary), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	srv := newChatServer(t)
	cfg := testkit.Config(t, srv.url)
	cfg.DatabasePath = filepath.Join(work, "data", "chat_monitor.db")
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 20*time.Second)
	srv.send(t, 10)
	m.WaitMessages(t, 10, 20*time.Second)

	index, indexBody := rawGet(t, m.WebAddr(), "/")
	secrets := []string{canary, "root:x:0:0", "SQLite format 3"}
	for _, p := range []string{
		"/../../../../../../etc/passwd",
		"/assets/../../../../../../etc/passwd",
		"/assets/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
		"/assets/..%2f..%2f..%2f..%2fetc%2fpasswd",
		"/assets/%2e%2e%2f%2e%2e%2fconfig.json",
		"/assets/%252e%252e/%252e%252e/config.json",
		"/assets/..%5c..%5c..%5cconfig.json",
		"/assets/....//....//config.json",
		"/..%2fconfig.json",
		"/%2e%2e/config.json",
		"/config.json",
		"/secret.txt",
		"/index.html/../config.json",
		"/data/chat_monitor.db",
		"/../data/chat_monitor.db",
		"/assets/../../data/chat_monitor.db",
		"//etc/passwd",
		"/assets//etc/passwd",
		"/assets/%00../../config.json",
		"/api/../config.json",
		"/api/..%2f..%2fconfig.json",
		"/api/users/..%2f..%2f..%2fetc%2fpasswd",
		"/api/messages/..%2f..%2fconfig.json",
		"/api/messages/1/..%2f..%2f..%2fconfig.json",
		"/api/targets/..%2f..%2fconfig.json",
		"http://127.0.0.1/../../../../etc/passwd",
	} {
		resp, body := rawGet(t, m.WebAddr(), p)
		for _, s := range secrets {
			if bytes.Contains(body, []byte(s)) {
				t.Errorf("GET %s: %d, body holds %q", p, resp.StatusCode, s)
			}
		}
		ct := resp.Header.Get("Content-Type")
		switch {
		case resp.StatusCode >= 500 && !(resp.StatusCode == 503 && index.StatusCode == 503):
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, body)
		case resp.StatusCode == 200 && strings.HasPrefix(ct, "text/html"):
			if !bytes.Equal(body, indexBody) {
				t.Errorf("GET %s: 200 %s that is not the dashboard page: %.200s", p, ct, body)
			}
		case resp.StatusCode == 200:
			if !strings.HasPrefix(ct, "application/json") || !json.Valid(body) {
				t.Errorf("GET %s: 200 %s: %.200s", p, ct, body)
			}
		case resp.StatusCode >= 400 && strings.HasPrefix(p, "/api/") && !strings.HasPrefix(ct, "application/json"):
			t.Errorf("GET %s: %d %s is not the JSON error shape: %.200s", p, resp.StatusCode, ct, body)
		}
		t.Logf("GET %s: %d %s", p, resp.StatusCode, ct)
	}
}

// sseClient is one /api/live stream read to its end: it counts message
// events and the missed counts of dropped events.
type sseClient struct {
	status    atomic.Bool
	delivered atomic.Int64
	missed    atomic.Int64
}

func (c *sseClient) read(conn net.Conn) {
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		return
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
			switch event {
			case "status":
				c.status.Store(true)
			case "message":
				c.delivered.Add(1)
			}
		case strings.HasPrefix(line, "data: ") && event == "dropped":
			var d struct{ Missed int64 }
			if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d) == nil {
				c.missed.Add(d.Missed)
			}
		}
	}
}

// TestTwoThousandLiveClients: 2,000 /api/live streams (live_max_clients'
// default) are open on a running wsmon while it captures a burst. Every
// message is stored; every stream gets the status event and, for each
// message, the event or its count in a "dropped" event (a client that
// falls behind is told what it missed, newest kept); the 2,001st stream is
// answered 503 too_many_live_clients with Retry-After.
func TestTwoThousandLiveClients(t *testing.T) {
	const clients, n = 2000, 1000
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < 2*clients+500 {
		t.Skipf("open-file limit %d is below the %d this test needs (both ends of %d connections)", lim.Cur, 2*clients+500, clients)
	}
	srv := newChatServer(t)
	cfg := testkit.Config(t, srv.url)
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 20*time.Second)

	cs := make([]*sseClient, clients)
	var conns []net.Conn
	var wg sync.WaitGroup
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		wg.Wait()
	}()
	for i := range cs {
		conn, err := net.Dial("tcp", m.WebAddr())
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		conns = append(conns, conn)
		fmt.Fprintf(conn, "GET /api/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		cs[i] = &sseClient{}
		wg.Add(1)
		go func() { defer wg.Done(); cs[i].read(conn) }()
	}
	testkit.WaitFor(t, 60*time.Second, "every stream's status event", func() bool {
		for _, c := range cs {
			if !c.status.Load() {
				return false
			}
		}
		return true
	})
	resp, body := rawGet(t, m.WebAddr(), "/api/live")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !bytes.Contains(body, []byte(`"too_many_live_clients"`)) {
		t.Errorf("stream %d: %d Retry-After %q %s", clients+1, resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	srv.send(t, n)
	m.WaitMessages(t, n, 60*time.Second)
	short := 0
	testkit.WaitFor(t, 60*time.Second, "every stream's messages or missed counts", func() bool {
		short = 0
		for _, c := range cs {
			if c.delivered.Load()+c.missed.Load() < n {
				short++
			}
		}
		return short == 0
	})
	var minD, maxD, missed int64 = n, 0, 0
	for _, c := range cs {
		d := c.delivered.Load()
		minD, maxD = min(minD, d), max(maxD, d)
		missed += c.missed.Load()
		if d+c.missed.Load() > n {
			t.Errorf("a stream got %d messages and %d missed for %d sent", d, c.missed.Load(), n)
		}
	}
	if got := len(m.Messages(t)); got != n {
		t.Errorf("%d messages stored, want %d", got, n)
	}
	t.Logf("%d streams: %d messages stored of %d; each stream got %d to %d of them as events, %d reported missed in all",
		clients, len(m.Messages(t)), n, minD, maxD, missed)
}
