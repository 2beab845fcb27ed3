package stomp_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsmon/wsmon/internal/capture"
	"github.com/wsmon/wsmon/internal/testkit"
)

// These tests run wsmon as production composes it against Debian's
// rabbitmq-server with the rabbitmq_web_stomp plugin, an instance of our
// own per test: its node name, ports, database, logs, config and Erlang
// cookie are the test's; the system instance is not touched. The test
// publishes with a tiny STOMP-over-WebSocket client of its own.

type rabbit struct {
	proc *testkit.Process
	ws   int // web-stomp port
}

// rabbitServer finds the server start script. Debian's
// /usr/sbin/rabbitmq-server is a link to rabbitmq-script-wrapper, which
// switches to the rabbitmq user (who cannot use the test's temp dir) and
// sends the output to /var/log; the script beside the wrapper,
// /usr/lib/rabbitmq/bin/rabbitmq-server, runs the node as the caller.
func rabbitServer(t *testing.T) string {
	t.Helper()
	bin := testkit.NeedBinary(t, "rabbitmq-server")
	if p, err := filepath.EvalSymlinks(bin); err == nil && filepath.Base(p) == "rabbitmq-script-wrapper" {
		if direct := filepath.Join(filepath.Dir(p), "rabbitmq-server"); fileExists(direct) {
			return direct
		}
	}
	return bin
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func startRabbit(t *testing.T) *rabbit {
	t.Helper()
	bin := rabbitServer(t)
	dir := t.TempDir()
	var id [4]byte
	_, _ = rand.Read(id[:])
	ports := map[string]int{}
	for _, k := range []string{"amqp", "dist", "stomp", "ws"} {
		ports[k] = testkit.FreePort(t)
	}
	conf := fmt.Sprintf(`listeners.tcp.default = 127.0.0.1:%d
stomp.listeners.tcp.1 = 127.0.0.1:%d
web_stomp.tcp.port = %d
web_stomp.tcp.ip = 127.0.0.1
log.console = true
log.console.level = warning
log.file = false
`, ports["amqp"], ports["stomp"], ports["ws"])
	for name, content := range map[string]string{"rabbitmq.conf": conf, "enabled_plugins": "[rabbitmq_web_stomp].\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"mnesia", "log", "home"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	r := &rabbit{ws: ports["ws"]}
	r.proc = testkit.StartProcess(t, testkit.Proc{
		Name: "rabbitmq-server",
		Path: bin,
		Dir:  dir,
		Env: []string{
			"HOME=" + filepath.Join(dir, "home"), // the Erlang cookie
			"RABBITMQ_NODENAME=wsmon" + hex.EncodeToString(id[:]) + "@localhost",
			"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
			"RABBITMQ_NODE_PORT=" + strconv.Itoa(ports["amqp"]),
			"RABBITMQ_DIST_PORT=" + strconv.Itoa(ports["dist"]),
			"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}",
			"ERL_EPMD_ADDRESS=127.0.0.1", // if this node has to start epmd
			"RABBITMQ_MNESIA_BASE=" + filepath.Join(dir, "mnesia"),
			"RABBITMQ_LOG_BASE=" + filepath.Join(dir, "log"),
			"RABBITMQ_CONFIG_FILE=" + filepath.Join(dir, "rabbitmq.conf"),
			"RABBITMQ_ENABLED_PLUGINS_FILE=" + filepath.Join(dir, "enabled_plugins"),
		},
		Ready: func() error {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(r.ws), 200*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err
		},
	})
	return r
}

func (r *rabbit) url() string { return fmt.Sprintf("ws://127.0.0.1:%d/ws", r.ws) }

// stompClient is the test's publisher: STOMP 1.2 over WebSocket.
type stompClient struct {
	c *websocket.Conn
	n int
}

// frame encodes a STOMP 1.2 frame (header values escaped).
func frame(command string, headers [][2]string, body string) []byte {
	esc := strings.NewReplacer(`\`, `\\`, "\n", `\n`, ":", `\c`, "\r", `\r`)
	var b bytes.Buffer
	b.WriteString(command + "\n")
	for _, h := range headers {
		if command == "CONNECT" {
			b.WriteString(h[0] + ":" + h[1] + "\n")
		} else {
			b.WriteString(esc.Replace(h[0]) + ":" + esc.Replace(h[1]) + "\n")
		}
	}
	b.WriteString("\n" + body + "\x00")
	return b.Bytes()
}

func dialStomp(t *testing.T, url string) *stompClient {
	t.Helper()
	c, _, err := (&websocket.Dialer{Subprotocols: []string{"v12.stomp"}}).Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &stompClient{c: c}
	s.write(t, frame("CONNECT", [][2]string{{"accept-version", "1.2"}, {"host", "/"}, {"login", "guest"}, {"passcode", "guest"}, {"heart-beat", "0,0"}}, ""))
	s.expect(t, "CONNECTED")
	return s
}

func (s *stompClient) write(t *testing.T, f []byte) {
	t.Helper()
	if err := s.c.WriteMessage(websocket.TextMessage, f); err != nil {
		t.Fatal(err)
	}
}

// expect reads frames until one with the command (heart-beats skipped).
func (s *stompClient) expect(t *testing.T, command string) string {
	t.Helper()
	s.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := s.c.ReadMessage()
		if err != nil {
			t.Fatalf("publisher waiting for %s: %v", command, err)
		}
		f := strings.TrimLeft(string(data), "\r\n")
		if f == "" {
			continue
		}
		if !strings.HasPrefix(f, command+"\n") {
			t.Fatalf("publisher waiting for %s got %q", command, f)
		}
		return f
	}
}

// send publishes body to destination with extra headers and waits for the
// broker's receipt.
func (s *stompClient) send(t *testing.T, destination, body string, extra ...string) {
	t.Helper()
	s.n++
	h := [][2]string{{"destination", destination}, {"content-length", strconv.Itoa(len(body))}, {"receipt", "r" + strconv.Itoa(s.n)}}
	for i := 0; i+1 < len(extra); i += 2 {
		h = append(h, [2]string{extra[i], extra[i+1]})
	}
	s.write(t, frame("SEND", h, body))
	s.expect(t, "RECEIPT")
}

// waitSubscribed waits until the target is connected and the broker sent
// the receipts of n subscriptions (CONNECTED and n RECEIPTs are control
// frames; the server's first heart-beat comes seconds later), counting
// from control frames seen before.
func waitSubscribed(t *testing.T, m *testkit.Monitor, before int64, n int) {
	t.Helper()
	waitTarget(t, m)
	m.WaitConnected(t, 20*time.Second)
	testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("CONNECTED and %d RECEIPTs", n), func() bool {
		return m.Status().TotalControl >= before+1+int64(n)
	})
}

// waitTarget waits until the monitor runs its target.
func waitTarget(t *testing.T, m *testkit.Monitor) {
	t.Helper()
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestChatSet: the fixed set, sent to /topic/chat as JSON documents and as
// text/plain bodies (the sender in an x-user header), is stored once each,
// byte for byte, with its user and room (the destination, or the
// document's room), and nothing else: no CONNECTED, RECEIPT or heart-beat,
// and nothing from a destination wsmon did not subscribe to. Each message
// keeps RabbitMQ's message-id.
func TestChatSet(t *testing.T) {
	r := startRabbit(t)
	for _, ack := range []string{"auto", "client-individual"} {
		t.Run(ack, func(t *testing.T) {
			cfg := testkit.Config(t, r.url())
			cfg.Protocol = "stomp"
			cfg.Subscribe = []string{"/topic/chat", "/topic/plain"}
			cfg.Options = map[string]any{"host": "/", "user_header": "x-user", "ack": ack}
			cfg.Auth = map[string]string{"username": "guest", "password": "guest"}
			m := testkit.Start(t, cfg)
			waitSubscribed(t, m, 0, 2)

			p := dialStomp(t, r.url())
			var want []testkit.Want
			for i, text := range testkit.ChatSet() {
				user := []string{"alice", "小明"}[i%2]
				room, roomField := "/topic/chat", ""
				if i == 1 {
					room, roomField = "大厅", `,"room":"大厅"` // the document's room wins over the destination
				}
				p.send(t, "/topic/chat", `{"user":`+jsonString(user)+roomField+`,"text":`+jsonString(text)+`}`, "content-type", "application/json")
				p.send(t, "/topic/plain", text, "content-type", "text/plain;charset=UTF-8", "x-user", user)
				want = append(want, testkit.Want{Content: testkit.StoredText(text), User: user, Room: room},
					testkit.Want{Content: testkit.StoredText(text), User: user, Room: "/topic/plain"})
			}
			p.send(t, "/topic/other", `{"user":"x","text":"not subscribed"}`)
			m.WaitMessages(t, len(want), 15*time.Second)
			time.Sleep(300 * time.Millisecond) // anything more would be stored by now
			if err := m.Stop(t); err != nil {
				t.Fatal(err)
			}
			got := m.Messages(t)
			testkit.CheckSet(t, got, want)
			ids := map[string]bool{}
			for _, g := range got {
				if g.Type != "chat" || g.ExtID == "" || ids[g.ExtID] {
					t.Errorf("%q stored as type %s ext_id %q", testkit.StoredText(g.Content)[:min(len(g.Content), 20)], g.Type, g.ExtID)
				}
				ids[g.ExtID] = true
			}
			ss := m.Sessions(t)
			if len(ss) != 1 || ss[0].Protocol != "stomp" || ss[0].Control < 3 {
				t.Errorf("sessions = %+v, want one stomp session with CONNECTED and RECEIPTs as control", ss)
			}
		})
	}
}

// TestHeartbeat: with heart-beats negotiated at 2 s each way RabbitMQ
// closes a connection that sends nothing for about two intervals; 10 s
// without chat end no session: wsmon's EOLs go out every 2 s and the
// server's are control.
func TestHeartbeat(t *testing.T) {
	if testing.Short() {
		t.Skip("idle wait")
	}
	r := startRabbit(t)
	cfg := testkit.Config(t, r.url())
	cfg.Protocol = "stomp"
	cfg.Subscribe = []string{"/topic/chat"}
	cfg.Options = map[string]any{"host": "/", "heart_beat": "2000,2000"}
	cfg.Auth = map[string]string{"username": "guest", "password": "guest"}
	cfg.PingInterval, cfg.PongTimeout = 60, 120 // only STOMP heart-beats keep the session
	m := testkit.Start(t, cfg)
	waitSubscribed(t, m, 0, 1)
	time.Sleep(10 * time.Second)
	dialStomp(t, r.url()).send(t, "/topic/chat", `{"user":"bob","text":"still here"}`)
	m.WaitMessages(t, 1, 10*time.Second)
	st := m.Status()
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "still here", User: "bob", Room: "/topic/chat"}})
	if ss := m.Sessions(t); len(ss) != 1 || st.Reconnects != 0 {
		t.Errorf("sessions = %+v, reconnects %d: want 1 session", ss, st.Reconnects)
	}
	if st.TotalControl < 2+3 { // CONNECTED, RECEIPT and server heart-beats every 2 s
		t.Errorf("only %d control frames: did the server heart-beat?", st.TotalControl)
	}
}

// TestRestart: RabbitMQ is killed and started again on the same ports; the
// target reconnects, subscribes again and captures.
func TestRestart(t *testing.T) {
	r := startRabbit(t)
	cfg := testkit.Config(t, r.url())
	cfg.Protocol = "stomp"
	cfg.Subscribe = []string{"/topic/chat"}
	cfg.Options = map[string]any{"host": "/"}
	cfg.Auth = map[string]string{"username": "guest", "password": "guest"}
	m := testkit.Start(t, cfg)
	waitSubscribed(t, m, 0, 1)
	dialStomp(t, r.url()).send(t, "/topic/chat", `{"user":"a","text":"before"}`)
	m.WaitMessages(t, 1, 10*time.Second)

	control := m.Status().TotalControl
	r.proc.Restart(t)
	testkit.WaitFor(t, 30*time.Second, "a reconnect", func() bool { return m.Status().Reconnects >= 1 })
	waitSubscribed(t, m, control, 1)
	dialStomp(t, r.url()).send(t, "/topic/chat", `{"user":"a","text":"after"}`)
	m.WaitMessages(t, 2, 10*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "before", User: "a", Room: "/topic/chat"}, {Content: "after", User: "a", Room: "/topic/chat"}})
	if ss := m.Sessions(t); len(ss) < 2 {
		t.Errorf("sessions = %+v, want a second one after the restart", ss)
	}
}

// TestRefusal: a wrong passcode, a virtual host that does not exist (the
// default host header is the URL's host, which RabbitMQ takes as a vhost)
// and a destination RabbitMQ does not know each stop the target with the
// broker's reason, without a reconnect storm.
func TestRefusal(t *testing.T) {
	r := startRabbit(t)
	tests := []struct {
		name      string
		password  string
		options   map[string]any
		subscribe []string
		reason    string
	}{
		{"wrong passcode", "wrong", map[string]any{"host": "/"}, []string{"/topic/chat"}, "Bad CONNECT: Access refused for user 'guest'"},
		{"default host is no vhost", "guest", nil, []string{"/topic/chat"}, "Virtual host '127.0.0.1' access denied (wsmon sent host:127.0.0.1"},
		{"unknown destination", "guest", map[string]any{"host": "/"}, []string{"/topic/chat", "/nowhere/x"},
			"Unknown destination: '/nowhere/x' is not a valid destination."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testkit.Config(t, r.url())
			cfg.Protocol = "stomp"
			cfg.Subscribe = tt.subscribe
			cfg.Options = tt.options
			cfg.Auth = map[string]string{"username": "guest", "password": tt.password}
			m := testkit.Start(t, cfg)
			waitTarget(t, m)
			testkit.WaitFor(t, 15*time.Second, "the target to stop", func() bool { return m.Status().Stopped != "" })
			if st := m.Status(); !strings.Contains(st.Stopped, tt.reason) {
				t.Errorf("stopped = %q, want it to contain %q", st.Stopped, tt.reason)
			}
			time.Sleep(500 * time.Millisecond) // ten backoff periods: still no new attempt
			if st := m.Status(); st.Reconnects != 0 || st.State != capture.StateStopped {
				t.Errorf("after a refusal: %+v", st)
			}
			if n := len(m.Messages(t)); n != 0 {
				t.Errorf("%d messages stored", n)
			}
		})
	}
}
