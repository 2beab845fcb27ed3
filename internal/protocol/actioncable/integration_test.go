package actioncable_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/testkit"
)

// The server is AnyCable (anycable-go), an ActionCable server, run
// standalone: no RPC, public (unsigned) $pubsub streams, broadcasts by
// HTTP POST. It is found through WSMON_ANYCABLE, WSMON_ANYCABLE_GO or
// bin/testservers/anycable-go.

type anycable struct {
	proc *testkit.Process
	port int
}

func startAnyCable(t *testing.T, args ...string) *anycable {
	t.Helper()
	bin := os.Getenv("WSMON_ANYCABLE")
	if bin == "" {
		bin = testkit.NeedBinary(t, "anycable-go")
	}
	s := &anycable{port: testkit.FreePort(t)}
	port := strconv.Itoa(s.port)
	s.proc = testkit.StartProcess(t, testkit.Proc{
		Name: "anycable-go",
		Path: bin,
		Args: append([]string{"--norpc", "--broadcast_adapter=http", "--host", "127.0.0.1", "--port", port, "--http_broadcast_port", port, "--log_level", "debug"}, args...),
		Env:  []string{"ANYCABLE_DISABLE_TELEMETRY=true"},
		Dir:  t.TempDir(),
		Ready: func() error {
			resp, err := http.Get("http://127.0.0.1:" + port + "/health")
			if err != nil {
				return err
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				return fmt.Errorf("health: %s", resp.Status)
			}
			return nil
		},
	})
	return s
}

func (s *anycable) url() string { return fmt.Sprintf("ws://127.0.0.1:%d/cable", s.port) }

// broadcast publishes data (JSON-encoded into the broadcast's data
// string) to stream, as a Rails app's broadcast does through the HTTP
// broadcaster.
func (s *anycable) broadcast(t *testing.T, stream string, data ...any) {
	t.Helper()
	var batch []map[string]string
	for _, d := range data {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, map[string]string{"stream": stream, "data": string(b)})
	}
	body, _ := json.Marshal(batch)
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/_broadcast", s.port), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("broadcast: %s", resp.Status)
	}
}

func pubsub(stream string) string {
	return fmt.Sprintf(`{"channel":"$pubsub","stream_name":%q}`, stream)
}

var users = []string{"alice", "小明"}

// TestChatSet: the fixed set broadcast to two streams, as objects and as
// plain strings, is stored once each, with the user of the object form
// and the stream as room; welcome, confirmations and pings are control.
func TestChatSet(t *testing.T) {
	ac := startAnyCable(t, "--public", "--ping_interval", "1")
	cfg := testkit.Config(t, ac.url())
	cfg.Protocol = "actioncable"
	cfg.Subscribe = []string{pubsub("chat_lobby"), pubsub("chat_side")}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)

	var objects, texts []any
	var want []testkit.Want
	for i, text := range testkit.ChatSet() {
		u := users[i%2]
		objects = append(objects, map[string]any{"id": fmt.Sprint(i), "user": u, "text": text})
		texts = append(texts, text)
		want = append(want, testkit.Want{Content: testkit.StoredText(text), User: u, Room: "chat_lobby"}, testkit.Want{Content: testkit.StoredText(text), Room: "chat_side"})
	}
	ac.broadcast(t, "chat_lobby", objects...)
	ac.broadcast(t, "chat_side", texts...)
	m.WaitMessages(t, len(want), 10*time.Second)
	time.Sleep(1500 * time.Millisecond) // a ping more; none may be stored
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), want)
	ss := m.Sessions(t)
	if len(ss) != 1 || ss[0].Protocol != "actioncable" || ss[0].Control < 4 { // welcome, 2 confirmations, pings
		t.Errorf("sessions = %+v, want one actioncable session with control frames", ss)
	}
}

// TestAuto: protocol auto recognises ActionCable (from the /cable path
// here; the subprotocol and the welcome would do too).
func TestAuto(t *testing.T) {
	ac := startAnyCable(t, "--public")
	cfg := testkit.Config(t, ac.url())
	cfg.Protocol = "auto"
	cfg.Subscribe = []string{pubsub("chat_lobby")}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	ac.broadcast(t, "chat_lobby", map[string]any{"user": "a", "text": "auto"})
	m.WaitMessages(t, 1, 10*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "auto", User: "a", Room: "chat_lobby"}})
	if st := m.Status(); st.Protocol != "actioncable" {
		t.Errorf("protocol %q", st.Protocol)
	}
}

// TestIdle: the server pings every second and expects nothing back; 5 s
// without chat keep one session, with every ping counted as control, and
// staleness detection (1.5 s here) never fires while pings come.
func TestIdle(t *testing.T) {
	if testing.Short() {
		t.Skip("idle wait")
	}
	ac := startAnyCable(t, "--public", "--ping_interval", "1")
	cfg := testkit.Config(t, ac.url())
	cfg.Protocol = "actioncable"
	cfg.Subscribe = []string{pubsub("chat_lobby")}
	cfg.Options = map[string]any{"stale_after": 1.5}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	time.Sleep(5 * time.Second)
	ac.broadcast(t, "chat_lobby", map[string]any{"user": "bob", "text": "still here"})
	m.WaitMessages(t, 1, 5*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "still here", User: "bob", Room: "chat_lobby"}})
	ss := m.Sessions(t)
	if len(ss) != 1 || ss[0].Control < 6 {
		t.Errorf("sessions = %+v, want 1 with the pings counted", ss)
	}
}

// TestStale: when the server's pings stop coming (a connection that went
// dead in a way TCP does not notice; simulated by a proxy that stops
// forwarding), the target reconnects after stale_after, long before the
// WebSocket pong timeout.
func TestStale(t *testing.T) {
	ac := startAnyCable(t, "--public", "--ping_interval", "1")
	px := newFreezer(t, fmt.Sprintf("127.0.0.1:%d", ac.port))
	cfg := testkit.Config(t, "ws://"+px.addr+"/cable")
	cfg.Protocol = "actioncable"
	cfg.Subscribe = []string{pubsub("chat_lobby")}
	cfg.Options = map[string]any{"stale_after": 1.5}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	px.Freeze()
	start := time.Now()
	testkit.WaitFor(t, 10*time.Second, "a reconnect", func() bool { return m.Status().Reconnects >= 1 })
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("reconnected after %v", d)
	}
	if st := m.Status(); !strings.Contains(st.LastError, "no ping from the server for") {
		t.Errorf("last error %q", st.LastError)
	}
	m.WaitConnected(t, 10*time.Second)
	ac.broadcast(t, "chat_lobby", map[string]any{"user": "a", "text": "fresh"})
	m.WaitMessages(t, 1, 10*time.Second)
}

// freezer is a TCP proxy whose connections can be frozen: from then on
// it forwards nothing more from the server to the client. New
// connections are not affected.
type freezer struct {
	addr  string
	mu    sync.Mutex
	conns []*atomic.Bool
	open  []net.Conn
}

// Freeze freezes every connection open now.
func (f *freezer) Freeze() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Store(true)
	}
}

func newFreezer(t *testing.T, upstream string) *freezer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{addr: ln.Addr().String()}
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, c := range f.open {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			frozen := new(atomic.Bool)
			f.mu.Lock()
			f.conns = append(f.conns, frozen)
			f.open = append(f.open, c, u)
			f.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() {
				buf := make([]byte, 32<<10)
				for {
					n, err := u.Read(buf)
					if n > 0 && !frozen.Load() {
						if _, err := c.Write(buf[:n]); err != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				c.Close()
			}()
		}
	}()
	return f
}

// TestRestart: the server is killed and started again on the same port;
// the target reconnects, subscribes again and captures.
func TestRestart(t *testing.T) {
	ac := startAnyCable(t, "--public")
	cfg := testkit.Config(t, ac.url())
	cfg.Protocol = "actioncable"
	cfg.Subscribe = []string{pubsub("chat_lobby")}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	ac.broadcast(t, "chat_lobby", map[string]any{"user": "a", "text": "before"})
	m.WaitMessages(t, 1, 10*time.Second)

	ac.proc.Restart(t)
	testkit.WaitFor(t, 10*time.Second, "a reconnect", func() bool { return m.Status().Reconnects >= 1 })
	m.WaitConnected(t, 10*time.Second)
	ac.broadcast(t, "chat_lobby", map[string]any{"user": "a", "text": "after"})
	m.WaitMessages(t, 2, 10*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "before", User: "a", Room: "chat_lobby"}, {Content: "after", User: "a", Room: "chat_lobby"}})
}

// jwt signs AnyCable's identification token: HS256 with the identifiers
// in the "ext" claim.
func jwt(secret string) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims := enc.EncodeToString([]byte(`{"ext":"{\"user\":\"wsmon\"}"}`))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(head + "." + claims))
	return head + "." + claims + "." + enc.EncodeToString(mac.Sum(nil))
}

// TestToken: auth.token goes as the token_param query parameter; AnyCable
// with an enforced JWT accepts a valid one.
func TestToken(t *testing.T) {
	ac := startAnyCable(t, "--public_streams", "--jwt_secret", "s3cret", "--enforce_jwt")
	cfg := testkit.Config(t, ac.url())
	cfg.Protocol = "actioncable"
	cfg.Subscribe = []string{pubsub("chat_lobby")}
	cfg.Auth = map[string]string{"token": jwt("s3cret")}
	cfg.Options = map[string]any{"token_param": "jid"}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	ac.broadcast(t, "chat_lobby", map[string]any{"user": "a", "text": "authenticated"})
	m.WaitMessages(t, 1, 10*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "authenticated", User: "a", Room: "chat_lobby"}})
}

// TestRefusal: a bad token (AnyCable's disconnect with reconnect false)
// and a channel the server rejects stop the target with the reason,
// without a reconnect storm.
func TestRefusal(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		subscribe []string
		token     string
		reason    string
	}{
		{"bad token", []string{"--public_streams", "--jwt_secret", "s3cret", "--enforce_jwt"}, []string{pubsub("chat_lobby")}, jwt("wrong"), "the server disconnected wsmon: unauthorized"},
		{"no token", []string{"--public_streams", "--jwt_secret", "s3cret", "--enforce_jwt"}, []string{pubsub("chat_lobby")}, "", "the server disconnected wsmon: unauthorized"},
		{"rejected channel", []string{"--public"}, []string{pubsub("chat_lobby"), `{"channel":"ChatChannel","room":"lobby"}`}, "", `subscription {"channel":"ChatChannel","room":"lobby"} rejected`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ac := startAnyCable(t, tt.args...)
			cfg := testkit.Config(t, ac.url())
			cfg.Protocol = "actioncable"
			cfg.Subscribe = tt.subscribe
			if tt.token != "" {
				cfg.Auth = map[string]string{"token": tt.token}
			}
			cfg.Options = map[string]any{"token_param": "jid"}
			m := testkit.Start(t, cfg)
			testkit.WaitFor(t, 10*time.Second, "the target to stop", func() bool { return m.Status().Stopped != "" })
			if st := m.Status(); !strings.Contains(st.Stopped, tt.reason) {
				t.Errorf("stopped = %q, want it to contain %q", st.Stopped, tt.reason)
			}
			time.Sleep(500 * time.Millisecond)
			if st := m.Status(); st.Reconnects != 0 {
				t.Errorf("after a refusal: %+v", st)
			}
		})
	}
}
