package stomp_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/capture"
	"github.com/wsmon/wsmon/internal/testkit"
)

// The SockJS tests run test/servers/sockjs-stomp: sockjs-node's endpoint
// at /stomp with a small STOMP broker behind it (RabbitMQ 3.10 no longer
// ships SockJS), as Spring's withSockJS() endpoints are.

type sockjsServer struct {
	proc *testkit.Process
	port int
}

// httpClient opens a connection per request: node closes idle ones after
// 5 s, and a request on one it is closing fails.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

func startSockJS(t *testing.T, args ...string) *sockjsServer {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "test", "servers", "sockjs-stomp")
	testkit.NeedNodeModules(t, dir)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal(err)
	}
	s := &sockjsServer{port: testkit.FreePort(t)}
	s.proc = testkit.StartProcess(t, testkit.Proc{
		Name: "sockjs-stomp test server",
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

func (s *sockjsServer) url(path string) string {
	return fmt.Sprintf("ws://127.0.0.1:%d%s", s.port, path)
}

type sockjsStats struct{ Connections, Subscriptions, Connects int }

func (s *sockjsServer) stats() (sockjsStats, error) {
	var st sockjsStats
	resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d/stats", s.port))
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitSubscribed waits until the server holds n subscriptions after at
// least connects CONNECTs in its life.
func (s *sockjsServer) waitSubscribed(t *testing.T, connects, n int) {
	t.Helper()
	testkit.WaitFor(t, 15*time.Second, fmt.Sprintf("%d subscriptions", n), func() bool {
		st, err := s.stats()
		return err == nil && st.Subscriptions == n && st.Connects >= connects
	})
}

type sockjsMessage struct {
	Destination string            `json:"destination"`
	Body        string            `json:"body"`
	Headers     map[string]string `json:"headers,omitempty"`
}

func (s *sockjsServer) publish(t *testing.T, msgs ...sockjsMessage) {
	t.Helper()
	b, _ := json.Marshal(msgs)
	resp, err := httpClient.Post(fmt.Sprintf("http://127.0.0.1:%d/publish", s.port), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("publish: %s", resp.Status)
	}
}

// TestSockJSChatSet: through a SockJS endpoint (named by its prefix with
// options.sockjs, or by a full transport URL that wsmon recognises) the
// fixed set, as JSON documents and text/plain bodies, is stored once each,
// byte for byte, with user, room and the broker's message-id; SockJS open
// and heartbeat frames, CONNECTED and RECEIPTs are control.
func TestSockJSChatSet(t *testing.T) {
	tests := []struct {
		name, path string
		options    map[string]any
	}{
		{"prefix with sockjs option", "/stomp", map[string]any{"sockjs": true}},
		{"transport URL", "/stomp/000/anything/websocket", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSockJS(t, "--login", "guest", "--passcode", "guest", "--sockjs-heartbeat", "200")
			cfg := testkit.Config(t, srv.url(tt.path))
			cfg.Protocol = "stomp"
			cfg.Subscribe = []string{"/topic/chat", "/topic/plain"}
			cfg.Options = map[string]any{"user_header": "x-user"}
			for k, v := range tt.options {
				cfg.Options[k] = v
			}
			cfg.Auth = map[string]string{"username": "guest", "password": "guest"}
			m := testkit.Start(t, cfg)
			waitTarget(t, m)
			m.WaitConnected(t, 15*time.Second)
			srv.waitSubscribed(t, 1, 2)

			var msgs []sockjsMessage
			var want []testkit.Want
			for i, text := range testkit.ChatSet() {
				user := []string{"alice", "小明"}[i%2]
				doc, _ := json.Marshal(map[string]string{"user": user, "text": text})
				msgs = append(msgs,
					sockjsMessage{Destination: "/topic/chat", Body: string(doc), Headers: map[string]string{"content-type": "application/json"}},
					sockjsMessage{Destination: "/topic/plain", Body: text, Headers: map[string]string{"content-type": "text/plain", "x-user": user}})
				want = append(want, testkit.Want{Content: testkit.StoredText(text), User: user, Room: "/topic/chat"},
					testkit.Want{Content: testkit.StoredText(text), User: user, Room: "/topic/plain"})
			}
			msgs = append(msgs, sockjsMessage{Destination: "/topic/other", Body: `{"user":"x","text":"not subscribed"}`})
			srv.publish(t, msgs...)
			m.WaitMessages(t, len(want), 15*time.Second)
			time.Sleep(500 * time.Millisecond) // SockJS heartbeats go on; none may be stored
			if err := m.Stop(t); err != nil {
				t.Fatal(err)
			}
			got := m.Messages(t)
			testkit.CheckSet(t, got, want)
			for _, g := range got {
				if g.Type != "chat" || !strings.HasPrefix(g.ExtID, "m-") {
					t.Errorf("%q stored as type %s ext_id %q", testkit.StoredText(g.Content)[:min(len(g.Content), 20)], g.Type, g.ExtID)
				}
			}
			ss := m.Sessions(t)
			if len(ss) != 1 || ss[0].Protocol != "stomp" || ss[0].Control < 4 {
				t.Errorf("sessions = %+v, want one stomp session with open, heartbeat, CONNECTED and RECEIPT frames as control", ss)
			}
		})
	}
}

// TestSockJSHeartbeat: STOMP heart-beats wrapped in SockJS frames keep a
// session the broker would drop after 2 s of silence: 6 s idle, one
// session.
func TestSockJSHeartbeat(t *testing.T) {
	if testing.Short() {
		t.Skip("idle wait")
	}
	srv := startSockJS(t, "--heart-beat", "1000", "--sockjs-heartbeat", "60000")
	cfg := testkit.Config(t, srv.url("/stomp"))
	cfg.Protocol = "stomp"
	cfg.Subscribe = []string{"/topic/chat"}
	cfg.Options = map[string]any{"sockjs": true, "heart_beat": "1000,1000"}
	cfg.PingInterval, cfg.PongTimeout = 60, 120
	m := testkit.Start(t, cfg)
	waitTarget(t, m)
	m.WaitConnected(t, 15*time.Second)
	srv.waitSubscribed(t, 1, 1)
	time.Sleep(6 * time.Second)
	srv.publish(t, sockjsMessage{Destination: "/topic/chat", Body: `{"user":"bob","text":"still here"}`})
	m.WaitMessages(t, 1, 10*time.Second)
	st := m.Status()
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "still here", User: "bob", Room: "/topic/chat"}})
	if ss := m.Sessions(t); len(ss) != 1 || st.Reconnects != 0 {
		t.Errorf("sessions = %+v, reconnects %d: want 1 session", ss, st.Reconnects)
	}
}

// TestSockJSRestart: the endpoint is killed and started on the same port;
// the target opens a new SockJS session, connects and subscribes again.
func TestSockJSRestart(t *testing.T) {
	srv := startSockJS(t)
	cfg := testkit.Config(t, srv.url("/stomp"))
	cfg.Protocol = "stomp"
	cfg.Subscribe = []string{"/topic/chat"}
	cfg.Options = map[string]any{"sockjs": true}
	m := testkit.Start(t, cfg)
	waitTarget(t, m)
	srv.waitSubscribed(t, 1, 1)
	srv.publish(t, sockjsMessage{Destination: "/topic/chat", Body: `{"user":"a","text":"before"}`})
	m.WaitMessages(t, 1, 10*time.Second)

	srv.proc.Restart(t)
	srv.waitSubscribed(t, 1, 1)
	srv.publish(t, sockjsMessage{Destination: "/topic/chat", Body: `{"user":"a","text":"after"}`})
	m.WaitMessages(t, 2, 10*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "before", User: "a", Room: "/topic/chat"}, {Content: "after", User: "a", Room: "/topic/chat"}})
	if ss := m.Sessions(t); len(ss) < 2 {
		t.Errorf("sessions = %+v, want a second one after the restart", ss)
	}
}

// TestSockJSRefusal: a wrong passcode and a destination the broker
// rejects (its ERROR names the SUBSCRIBE's receipt) stop the target.
func TestSockJSRefusal(t *testing.T) {
	srv := startSockJS(t, "--login", "guest", "--passcode", "guest")
	tests := []struct {
		name, password string
		subscribe      []string
		reason         string
	}{
		{"wrong passcode", "wrong", []string{"/topic/chat"}, "Bad CONNECT: Access refused for user 'guest'"},
		{"unknown destination", "guest", []string{"/topic/chat", "/queue/x"}, `subscription to "/queue/x" refused: Unknown destination: '/queue/x' is not a valid destination.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testkit.Config(t, srv.url("/stomp"))
			cfg.Protocol = "stomp"
			cfg.Subscribe = tt.subscribe
			cfg.Options = map[string]any{"sockjs": true}
			cfg.Auth = map[string]string{"username": "guest", "password": tt.password}
			m := testkit.Start(t, cfg)
			waitTarget(t, m)
			testkit.WaitFor(t, 15*time.Second, "the target to stop", func() bool { return m.Status().Stopped != "" })
			if st := m.Status(); !strings.Contains(st.Stopped, tt.reason) {
				t.Errorf("stopped = %q, want it to contain %q", st.Stopped, tt.reason)
			}
			time.Sleep(500 * time.Millisecond)
			if st := m.Status(); st.Reconnects != 0 || st.State != capture.StateStopped {
				t.Errorf("after a refusal: %+v", st)
			}
		})
	}
}
