package graphqlws_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmon/wsmon/internal/capture"
	"github.com/wsmon/wsmon/internal/testkit"
)

// The test server (test/servers/graphql-ws) runs the reference server
// libraries: graphql-ws on /graphql (graphql-transport-ws) and
// subscriptions-transport-ws on /legacy (legacy graphql-ws).

type server struct {
	proc *testkit.Process
	port int
}

func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "test", "servers", "graphql-ws")
	testkit.NeedNodeModules(t, dir)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{port: testkit.FreePort(t)}
	s.proc = testkit.StartProcess(t, testkit.Proc{
		Name: "graphql-ws test server",
		Path: node,
		Args: append([]string{"server.js", "--port", strconv.Itoa(s.port)}, args...),
		Dir:  dir,
		Ready: func() error {
			_, err := s.stats()
			return err
		},
	})
	return s
}

func (s *server) url(path string) string { return fmt.Sprintf("ws://127.0.0.1:%d%s", s.port, path) }

func (s *server) stats() (map[string]int, error) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/stats", s.port))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var n map[string]int
	return n, json.NewDecoder(resp.Body).Decode(&n)
}

// waitSubscribed waits until the server holds n active subscriptions of
// kind ("graphql" or "legacy").
func (s *server) waitSubscribed(t *testing.T, kind string, n int) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("%d %s subscriptions", n, kind), func() bool {
		st, err := s.stats()
		return err == nil && st[kind] == n
	})
}

type chat struct {
	ID   string `json:"id"`
	User string `json:"user"`
	Room string `json:"room"`
	Text string `json:"text"`
}

func (s *server) post(t *testing.T, path string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d%s", s.port, path), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %s", path, resp.Status)
	}
}

// chatSet is the fixed set as chat messages from alternating users.
func chatSet(room string) []chat {
	var out []chat
	for i, text := range testkit.ChatSet() {
		out = append(out, chat{ID: fmt.Sprintf("m%d", i), User: []string{"alice", "小明"}[i%2], Room: room, Text: text})
	}
	return out
}

const messageSub = "subscription OnMessage { message { id user room text } }"

// TestChatSet: the fixed set, published through each protocol variant,
// is stored once each, byte for byte, with its user and room, and nothing
// else: no ack, ka or pong becomes a message.
func TestChatSet(t *testing.T) {
	tests := []struct {
		name, path, kind string
		subscribe        string
		room             string // room of the published messages
		wantUser         bool
		wantRoom         string
	}{
		{"graphql-transport-ws object field", "/graphql", "graphql", messageSub, "lobby", true, "lobby"},
		{"graphql-transport-ws string field", "/graphql", "graphql", `subscription Texts { text(room: "side") }`, "side", false, "Texts"},
		{"legacy object field", "/legacy", "legacy", messageSub, "lobby", true, "lobby"},
		{"legacy string field", "/legacy", "legacy", `subscription { text }`, "side", false, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, "--token", "s3cret", "--ka", "200")
			cfg := testkit.Config(t, srv.url(tt.path))
			cfg.Protocol = "graphql-ws"
			cfg.Subscribe = []string{tt.subscribe}
			cfg.Auth = map[string]string{"token": "s3cret"}
			m := testkit.Start(t, cfg)
			m.WaitConnected(t, 10*time.Second)
			srv.waitSubscribed(t, tt.kind, 1)

			msgs := chatSet(tt.room)
			srv.post(t, "/publish", msgs)
			var want []testkit.Want
			for _, c := range msgs {
				w := testkit.Want{Content: testkit.StoredText(c.Text), Room: tt.wantRoom}
				if tt.wantUser {
					w.User = c.User
				}
				want = append(want, w)
			}
			m.WaitMessages(t, len(want), 10*time.Second)
			time.Sleep(300 * time.Millisecond) // a few ka more; none may be stored
			if err := m.Stop(t); err != nil {
				t.Fatal(err)
			}
			got := m.Messages(t)
			testkit.CheckSet(t, got, want)
			for _, g := range got {
				if g.Type != "chat" {
					t.Errorf("%q stored as type %s", g.Content[:min(len(g.Content), 20)], g.Type)
				}
			}
			ss := m.Sessions(t)
			if len(ss) != 1 || ss[0].Protocol != "graphql-ws" || ss[0].Control < 1 {
				t.Errorf("sessions = %+v, want one graphql-ws session with control frames", ss)
			}
		})
	}
}

// TestHeartbeat: graphql-ws servers ping at the WebSocket level and drop a
// client whose pong is late; with a 1 s keepalive, 4 s of silence end no
// session. A legacy server's ka messages are control, never stored.
func TestHeartbeat(t *testing.T) {
	if testing.Short() {
		t.Skip("idle wait")
	}
	for _, path := range []string{"/graphql", "/legacy"} {
		t.Run(path, func(t *testing.T) {
			srv := startServer(t, "--keepalive", "1000", "--ka", "500")
			cfg := testkit.Config(t, srv.url(path))
			cfg.Protocol = "graphql-ws"
			cfg.Subscribe = []string{messageSub}
			m := testkit.Start(t, cfg)
			m.WaitConnected(t, 10*time.Second)
			kind := map[string]string{"/graphql": "graphql", "/legacy": "legacy"}[path]
			srv.waitSubscribed(t, kind, 1)
			var silent *websocket.Conn
			if path == "/graphql" {
				silent = silentClient(t, srv.url(path))
			}
			time.Sleep(4 * time.Second)
			if silent != nil {
				// The client that never read (so never answered a ping)
				// was dropped by the same server.
				silent.SetReadDeadline(time.Now().Add(2 * time.Second))
				for {
					_, _, err := silent.ReadMessage()
					if err == nil {
						continue
					}
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						t.Error("the client that does not answer pings is still connected")
					}
					break
				}
			}
			srv.post(t, "/publish", []chat{{ID: "1", User: "bob", Room: "lobby", Text: "still here"}})
			m.WaitMessages(t, 1, 10*time.Second)
			if err := m.Stop(t); err != nil {
				t.Fatal(err)
			}
			testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "still here", User: "bob", Room: "lobby"}})
			if ss := m.Sessions(t); len(ss) != 1 {
				t.Errorf("sessions = %+v, want 1", ss)
			}
		})
	}
}

// TestAuto: protocol auto recognises the /graphql path (the server
// speaks only when spoken to in a subprotocol it accepts) and captures.
func TestAuto(t *testing.T) {
	srv := startServer(t)
	cfg := testkit.Config(t, srv.url("/graphql"))
	cfg.Protocol = "auto"
	cfg.Subscribe = []string{messageSub}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	srv.waitSubscribed(t, "graphql", 1)
	srv.post(t, "/publish", []chat{{ID: "1", User: "a", Room: "r", Text: "auto"}})
	m.WaitMessages(t, 1, 10*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "auto", User: "a", Room: "r"}})
	if st := m.Status(); st.Protocol != "graphql-ws" {
		t.Errorf("protocol %q", st.Protocol)
	}
}

// silentClient connects and initialises, then reads nothing (so it
// answers no WebSocket ping).
func silentClient(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Sec-WebSocket-Protocol": {"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"connection_init"}`)); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRestart: the server is killed and started again on the same port;
// the target reconnects, initialises and subscribes again, and captures.
func TestRestart(t *testing.T) {
	srv := startServer(t)
	cfg := testkit.Config(t, srv.url("/graphql"))
	cfg.Protocol = "graphql-ws"
	cfg.Subscribe = []string{messageSub}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	srv.waitSubscribed(t, "graphql", 1)
	srv.post(t, "/publish", []chat{{ID: "1", User: "a", Room: "r", Text: "before"}})
	m.WaitMessages(t, 1, 10*time.Second)

	srv.proc.Restart(t)
	srv.waitSubscribed(t, "graphql", 1)
	m.WaitConnected(t, 10*time.Second)
	srv.post(t, "/publish", []chat{{ID: "2", User: "a", Room: "r", Text: "after"}})
	m.WaitMessages(t, 2, 10*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "before", User: "a", Room: "r"}, {Content: "after", User: "a", Room: "r"}})
	if ss := m.Sessions(t); len(ss) < 2 {
		t.Errorf("sessions = %+v, want a second one after the restart", ss)
	}
}

// TestServerComplete: a server that completes the subscription makes the
// target reconnect and subscribe again (legacy and graphql-transport-ws).
func TestServerComplete(t *testing.T) {
	for _, path := range []string{"/graphql", "/legacy"} {
		t.Run(path, func(t *testing.T) {
			kind := map[string]string{"/graphql": "graphql", "/legacy": "legacy"}[path]
			srv := startServer(t)
			cfg := testkit.Config(t, srv.url(path))
			cfg.Protocol = "graphql-ws"
			cfg.Subscribe = []string{messageSub}
			m := testkit.Start(t, cfg)
			m.WaitConnected(t, 10*time.Second)
			srv.waitSubscribed(t, kind, 1)
			srv.post(t, "/complete", nil)
			testkit.WaitFor(t, 10*time.Second, "a reconnect", func() bool { return m.Status().Reconnects >= 1 })
			srv.waitSubscribed(t, kind, 1)
			srv.post(t, "/publish", []chat{{ID: "1", User: "a", Room: "r", Text: "resubscribed"}})
			m.WaitMessages(t, 1, 10*time.Second)
			if err := m.Stop(t); err != nil {
				t.Fatal(err)
			}
			testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "resubscribed", User: "a", Room: "r"}})
			if st := m.Status(); !strings.Contains(st.LastError, "completed subscription 1 (OnMessage)") {
				t.Errorf("last error = %q", st.LastError)
			}
		})
	}
}

// TestRefusal: a wrong token (legacy connection_error, graphql-ws close
// 4403) and a subscription the server rejects (graphql-ws error, legacy
// errors-only data) stop the target with the server's reason, without a
// reconnect storm.
func TestRefusal(t *testing.T) {
	tests := []struct {
		name, path, token, subscribe string
		reason                       string
	}{
		{"graphql-ws bad token", "/graphql", "wrong", messageSub, "4403"},
		{"legacy bad token", "/legacy", "wrong", messageSub, "connection_init rejected: bad token"},
		{"graphql-ws bad subscription", "/graphql", "s3cret", "subscription Bad { nope }", `subscription 1 (Bad) refused: Cannot query field "nope" on type "Subscription".`},
		{"legacy bad subscription", "/legacy", "s3cret", "subscription Bad { nope }", `subscription 1 (Bad) failed: Cannot query field "nope" on type "Subscription".`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, "--token", "s3cret")
			cfg := testkit.Config(t, srv.url(tt.path))
			cfg.Protocol = "graphql-ws"
			cfg.Subscribe = []string{tt.subscribe}
			cfg.Auth = map[string]string{"token": tt.token}
			m := testkit.Start(t, cfg)
			// (The runner enters StateStopped a moment before it sets
			// Stopped: wait for the reason.)
			testkit.WaitFor(t, 10*time.Second, "the target to stop", func() bool { return m.Status().Stopped != "" })
			st := m.Status()
			if !strings.Contains(st.Stopped, tt.reason) {
				t.Errorf("stopped = %q, want it to contain %q", st.Stopped, tt.reason)
			}
			time.Sleep(500 * time.Millisecond) // ten backoff periods: still no new attempt
			if st := m.Status(); st.Reconnects != 0 || st.State != capture.StateStopped {
				t.Errorf("after a refusal: %+v", st)
			}
			if len(m.Messages(t)) != 0 {
				t.Errorf("messages stored: %+v", m.Messages(t))
			}
		})
	}
}
