package web

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

// serveLimited runs s as wsmon runs it (HTTPServer on the capped
// Listener) on a loopback port and returns its address.
func serveLimited(t *testing.T, s *Server, counts *connCounts) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if counts != nil {
		ln = &countingListener{Listener: ln, n: counts}
	}
	hs := s.HTTPServer(nil)
	done := make(chan error, 1)
	go func() { done <- hs.Serve(s.Listener(ln)) }()
	t.Cleanup(func() {
		hs.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
	})
	return ln.Addr().String()
}

// connCounts are the connections the server holds open (accepted, not yet
// closed) and the most it held at once, counted on the descriptors
// themselves beneath the server's limit listener (http.Server's ConnState
// hooks run after the close that frees a slot, so counting there sees a
// new connection before the old one's end).
type connCounts struct{ open, peak atomic.Int32 }

type countingListener struct {
	net.Listener
	n *connCounts
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.n.open.Add(1)
	for p := l.n.peak.Load(); n > p && !l.n.peak.CompareAndSwap(p, n); p = l.n.peak.Load() {
	}
	return &countedConn{Conn: c, n: l.n}, nil
}

type countedConn struct {
	net.Conn
	n    *connCounts
	once sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.n.open.Add(-1) })
	return err
}

// keepAliveRequest sends one request on c and reads the response head and
// body, leaving the connection open (keep-alive).
func keepAliveRequest(c net.Conn, br *bufio.Reader, path string, wait time.Duration) (*http.Response, error) {
	c.SetDeadline(time.Now().Add(wait))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	var sink [512]byte
	for {
		if _, err := resp.Body.Read(sink[:]); err != nil {
			break
		}
	}
	return resp, resp.Body.Close()
}

// TestConnectionCapAndIdleTimeout: a flood of idle keep-alive connections
// (401s included) holds at most MaxConnections of the server's
// descriptors; the next connection waits (it is not served) until the idle
// timeout closes one, and then it is served.
func TestConnectionCapAndIdleTimeout(t *testing.T) {
	for _, tt := range []struct {
		name   string
		token  string
		path   string
		status int
	}{
		{"healthz", "", "/healthz", http.StatusOK},
		{"unauthorized", "secret-token-long-enough", "/api/stats", http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const capN = 4
			const idle = 400 * time.Millisecond
			f := newFixture(t)
			s := f.server(func(o *Options) {
				o.Token = tt.token
				o.Limits = Limits{MaxConnections: capN, IdleTimeout: idle}
			})
			var counts connCounts
			open, peak := &counts.open, &counts.peak
			addr := serveLimited(t, s, &counts)

			type client struct {
				c  net.Conn
				br *bufio.Reader
			}
			dial := func() client {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				return client{c, bufio.NewReader(c)}
			}
			var idleOnes []client
			for range capN {
				cl := dial()
				resp, err := keepAliveRequest(cl.c, cl.br, tt.path, 2*time.Second)
				if err != nil || resp.StatusCode != tt.status || resp.Close {
					t.Fatalf("request on connection %d: %v %+v", len(idleOnes), err, resp)
				}
				idleOnes = append(idleOnes, cl)
			}
			t0 := time.Now()
			// Over the cap: more connections are not served while the
			// others are open (they wait in the backlog).
			var extra []client
			for range 3 {
				extra = append(extra, dial())
			}
			_, err := keepAliveRequest(extra[0].c, extra[0].br, tt.path, idle/4)
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("request over the cap: %v, want it to wait", err)
			}
			if n := open.Load(); n != capN {
				t.Errorf("server holds %d connections, want %d", n, capN)
			}
			// The idle timeout closes the idle ones...
			for i, cl := range idleOnes {
				cl.c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := cl.br.ReadByte(); err == nil {
					t.Fatalf("idle connection %d: read data, want EOF", i)
				}
			}
			if d := time.Since(t0); d < idle/2 || d > idle+2*time.Second {
				t.Errorf("idle connections closed after %s, want about %s", d, idle)
			}
			// ...and the waiting connections are served.
			for i, cl := range extra {
				path := tt.path
				if i == 0 {
					path = "" // its request was sent already
				}
				if path != "" {
					if _, err := cl.c.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")); err != nil {
						t.Fatal(err)
					}
				}
				cl.c.SetReadDeadline(time.Now().Add(5 * time.Second))
				resp, err := http.ReadResponse(cl.br, nil)
				if err != nil || resp.StatusCode != tt.status {
					t.Fatalf("waiting connection %d: %v %+v", i, err, resp)
				}
				resp.Body.Close()
			}
			if p := peak.Load(); p > capN {
				t.Errorf("server held %d connections at once, cap %d", p, capN)
			}
		})
	}
}

// TestSilentConnectionsCut: a connection that never sends a full request
// header (slowloris) is closed after ReadHeaderTimeout, freeing its slot.
func TestSilentConnectionsCut(t *testing.T) {
	f := newFixture(t)
	s := f.server(func(o *Options) {
		o.Limits = Limits{MaxConnections: 2, ReadHeaderTimeout: 200 * time.Millisecond}
	})
	addr := serveLimited(t, s, nil)
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: 127")) // never finished
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := keepAliveRequest(c, bufio.NewReader(c), "/healthz", 5*time.Second)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("request after two silent connections: %v %+v", err, resp)
	}
}

// TestHTTPServerTimeouts: every timeout and the header limit are set, to
// the documented defaults unless given.
func TestHTTPServerTimeouts(t *testing.T) {
	hs := newFixture(t).server(nil).HTTPServer(nil)
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"ReadHeaderTimeout", hs.ReadHeaderTimeout, DefaultReadHeaderTimeout},
		{"ReadTimeout", hs.ReadTimeout, DefaultReadTimeout},
		{"WriteTimeout", hs.WriteTimeout, DefaultWriteTimeout},
		{"IdleTimeout", hs.IdleTimeout, DefaultIdleTimeout},
	} {
		if c.got != c.want || c.got <= 0 {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
	if hs.MaxHeaderBytes != DefaultMaxHeaderBytes {
		t.Errorf("MaxHeaderBytes = %d", hs.MaxHeaderBytes)
	}
	if n := DefaultMaxConnections(); n < minConnections || n > maxAutoConnections {
		t.Errorf("DefaultMaxConnections = %d", n)
	}
	if lim := openFileLimit(); lim >= 2*minConnections && uint64(DefaultMaxConnections()) > lim/2 {
		t.Errorf("DefaultMaxConnections = %d leaves capture less than half of %d open files", DefaultMaxConnections(), lim)
	}
}

// TestLiveClientCap: beyond MaxLiveClients streams a new one is answered
// 503 with the catalogue's JSON error and Retry-After; a slot freed is
// taken again.
func TestLiveClientCap(t *testing.T) {
	hub := newTestHub(100)
	srv := liveServer(t, hub, func(o *Options) { o.Limits.MaxLiveClients = 2 })
	a := openLive(t, srv, "/api/live")
	a.nextNamed("status")
	b := openLive(t, srv, "/api/live")
	b.nextNamed("status")

	resp, err := srv.Client().Get(srv.URL + "/api/live")
	if err != nil {
		t.Fatal(err)
	}
	var e apiErr
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || e.Error.Code != "too_many_live_clients" ||
		!strings.Contains(e.Error.Message, "live_max_clients") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third stream: %d %+v Retry-After %q", resp.StatusCode, e, resp.Header.Get("Retry-After"))
	}

	a.close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := srv.Client().Get(srv.URL + "/api/live")
		if err != nil {
			t.Fatal(err)
		}
		ok := resp.StatusCode == http.StatusOK
		resp.Body.Close()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stream after one closed: %d", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLiveOutlivesServerTimeouts: /api/live is not cut by the server's
// read or write timeouts (it sets its own deadline per write).
func TestLiveOutlivesServerTimeouts(t *testing.T) {
	hub := newTestHub(100)
	f := newFixture(t)
	s := f.server(func(o *Options) {
		o.Hub = hub
		o.Limits = Limits{ReadTimeout: 150 * time.Millisecond, WriteTimeout: 150 * time.Millisecond}
	})
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = s.HTTPServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	st := openLive(t, srv, "/api/live")
	st.nextNamed("status")
	time.Sleep(500 * time.Millisecond) // past both timeouts
	hub.Publish([]message.Message{liveMsg(1, "alice", "lobby")})
	if m := st.nextMessage(); m.ID != 1 {
		t.Fatalf("message %d", m.ID)
	}
}
