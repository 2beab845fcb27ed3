package app_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmon/wsmon/internal/testkit"
)

// chatServer is a WebSocket chat server on a free 127.0.0.1 port that
// hands every accepted connection to the test, which decides what it
// sends and how it ends. It reads (and so answers pings) until the
// connection ends.
type chatServer struct {
	url   string
	conns chan *websocket.Conn
}

func newChatServer(t *testing.T) *chatServer {
	t.Helper()
	s := &chatServer{conns: make(chan *websocket.Conn, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.conns <- c
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

// next waits for wsmon's next connection.
func (s *chatServer) next(t *testing.T) *websocket.Conn {
	t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(20 * time.Second):
		t.Fatal("wsmon did not (re)connect within 20 s")
		return nil
	}
}

// send writes n chat messages tagged tag (contents "tag i").
func send(t *testing.T, c *websocket.Conn, tag string, n int) {
	t.Helper()
	for i := range n {
		msg := fmt.Sprintf(`{"id":"%s-%d","user":"u%d","room":"r","content":"%s %d"}`, tag, i, i%7, tag, i)
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatalf("send %s %d: %v", tag, i, err)
		}
	}
}

// storedWith counts the stored messages of tag and fails on a duplicate.
func storedWith(t *testing.T, m *testkit.Monitor, tag string) int {
	t.Helper()
	seen := map[string]bool{}
	for _, s := range m.Messages(t) {
		if !strings.HasPrefix(s.Content, tag+" ") {
			continue
		}
		if seen[s.Content] {
			t.Fatalf("%q stored twice", s.Content)
		}
		seen[s.Content] = true
	}
	return len(seen)
}

func faultConfig(t *testing.T, url string) *testkit.Monitor {
	cfg := testkit.Config(t, url)
	cfg.Protocol = "raw"
	return testkit.Start(t, cfg)
}

// TestConnectionDropFINAndRST: the server drops the connection without a
// WebSocket close frame, once with a FIN (shutdown of its side) and once
// with an RST (SO_LINGER 0), after 200 messages each. Every message sent
// before a FIN is stored; before an RST, every message wsmon had read.
// Each drop is a session ended with 1006 and the error, and wsmon
// reconnects at once. A third drop sends an RST right behind a burst:
// what the kernel discards with it was never received (its count is
// printed, not asserted: it depends on scheduling).
func TestConnectionDropFINAndRST(t *testing.T) {
	const n = 200
	srv := newChatServer(t)
	m := faultConfig(t, srv.url)

	// 1. FIN after the messages.
	c := srv.next(t)
	send(t, c, "fin", n)
	c.NetConn().(*net.TCPConn).CloseWrite()
	testkit.WaitFor(t, 20*time.Second, "the FIN drop's messages", func() bool { return storedWith(t, m, "fin") == n })

	// 2. RST once wsmon has read the messages.
	c = srv.next(t)
	send(t, c, "rst", n)
	testkit.WaitFor(t, 20*time.Second, "the messages before the RST", func() bool { return storedWith(t, m, "rst") == n })
	tcp := c.NetConn().(*net.TCPConn)
	tcp.SetLinger(0)
	tcp.Close()

	// 3. RST right behind a burst.
	c = srv.next(t)
	const burst = 5000
	send(t, c, "burst", burst)
	tcp = c.NetConn().(*net.TCPConn)
	tcp.SetLinger(0)
	tcp.Close()

	// 4. The next connection works.
	c = srv.next(t)
	send(t, c, "after", n)
	testkit.WaitFor(t, 20*time.Second, "messages after the drops", func() bool { return storedWith(t, m, "after") == n })
	gotBurst := storedWith(t, m, "burst")
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}

	ss := m.Sessions(t)
	if len(ss) != 4 {
		t.Fatalf("%d sessions, want 4 (three drops, one open): %+v", len(ss), ss)
	}
	for i, what := range []string{"FIN", "RST", "RST behind a burst"} {
		s := ss[i]
		if s.Open || s.CloseCode != 1006 || s.Error+s.CloseReason == "" {
			t.Errorf("session after the %s: %+v, want closed with 1006 and the error", what, s)
		}
		t.Logf("after the %s: session %d closed %d, reason %q, error %q, %d messages", what, s.ID, s.CloseCode, s.CloseReason, s.Error, s.Messages)
	}
	if ss[0].Messages != n || ss[1].Messages != n {
		t.Errorf("sessions hold %d and %d messages, want %d each", ss[0].Messages, ss[1].Messages, n)
	}
	t.Logf("RST right behind a burst of %d: %d stored, %d discarded with the connection (never read by wsmon)", burst, gotBurst, burst-gotBurst)
}

// blackhole is a TCP proxy on a free 127.0.0.1 port. Once cut, the
// connections it carries forward nothing either way and stay open, as
// when a middlebox or the network loses every packet; connections made
// after that are carried again.
type blackhole struct {
	addr string
	mu   sync.Mutex
	cut  map[net.Conn]bool
	live []net.Conn // client sides of the connections carried now
}

func newBlackhole(t *testing.T, to string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{addr: ln.Addr().String(), cut: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	var all []net.Conn
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		for _, c := range all {
			c.Close()
		}
		b.mu.Unlock()
		wg.Wait()
	})
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", to)
			if err != nil {
				in.Close()
				continue
			}
			b.mu.Lock()
			all = append(all, in, out)
			b.live = append(b.live, in)
			b.mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); b.pipe(in, out, in) }()
			go func() { defer wg.Done(); b.pipe(out, in, in) }()
		}
	}()
	return b
}

// pipe copies src to dst until the connection (known by its client side
// key) is cut; then it reads and discards, forwarding nothing.
func (b *blackhole) pipe(dst, src, key net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		b.mu.Lock()
		cut := b.cut[key]
		b.mu.Unlock()
		if !cut {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

// cutAll blackholes every connection carried now.
func (b *blackhole) cutAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.live {
		b.cut[c] = true
	}
	b.live = nil
}

// TestBlackholedConnectionDetectedAtPongTimeout: every packet of the
// connection is lost from one moment on (no FIN, no RST, the sockets stay
// open). wsmon's pings go unanswered and nothing arrives; after
// pong_timeout the session is declared dead, ended with 1006 and
// "connection dead", and wsmon reconnects. What the server sent into the
// blackhole never reached wsmon: only a server that replays on reconnect
// sends it again.
func TestBlackholedConnectionDetectedAtPongTimeout(t *testing.T) {
	const before, during, after = 100, 50, 100
	srv := newChatServer(t)
	bh := newBlackhole(t, strings.TrimPrefix(strings.TrimSuffix(srv.url, "/chat"), "ws://"))
	cfg := testkit.Config(t, "ws://"+bh.addr+"/chat")
	cfg.Protocol = "raw"
	cfg.PingInterval, cfg.PongTimeout = 0.2, 1
	m := testkit.Start(t, cfg)

	c := srv.next(t)
	send(t, c, "before", before)
	testkit.WaitFor(t, 20*time.Second, "messages before the blackhole", func() bool { return storedWith(t, m, "before") == before })
	bh.cutAll()
	cutAt := time.Now()
	send(t, c, "during", during)

	c2 := srv.next(t) // wsmon gave up on the dead connection and redialled
	detected := time.Since(cutAt)
	send(t, c2, "after", after)
	testkit.WaitFor(t, 20*time.Second, "messages after the reconnect", func() bool { return storedWith(t, m, "after") == after })
	lost := during - storedWith(t, m, "during")
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	ss := m.Sessions(t)
	if len(ss) != 2 {
		t.Fatalf("%d sessions, want 2: %+v", len(ss), ss)
	}
	if s := ss[0]; s.Open || s.CloseCode != 1006 || !strings.Contains(s.Error, "connection dead") || s.Messages != before {
		t.Errorf("blackholed session: %+v, want closed with 1006, \"connection dead\" and %d messages", s, before)
	}
	if lost != during {
		t.Errorf("%d of the %d messages sent into the blackhole were stored", during-lost, during)
	}
	t.Logf("blackholed session ended with %d %q; redialled %.1f s after the cut (pong_timeout %v s); %d messages sent into the blackhole lost",
		ss[0].CloseCode, ss[0].Error, detected.Seconds(), float64(cfg.PongTimeout), lost)
	c.Close()
}
