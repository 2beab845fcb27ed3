package socketio_test

import (
	"bytes"
	"encoding/base64"
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

// server is a running Node Socket.IO test server (test/servers/socketio-*).
type server struct {
	proc    *testkit.Process
	port    int
	version string
}

// startServer starts the Socket.IO test server of version "v4" or "v2"
// on a free port with the given extra arguments.
func startServer(t *testing.T, version string, args ...string) *server {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "test", "servers", "socketio-"+version))
	if err != nil {
		t.Fatal(err)
	}
	testkit.NeedNodeModules(t, dir)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{port: testkit.FreePort(t)}
	s.proc = testkit.StartProcess(t, testkit.Proc{
		Name: "socket.io " + version,
		Path: node,
		Args: append([]string{"server.js", "--port", strconv.Itoa(s.port)}, args...),
		Dir:  dir,
		Ready: func() error {
			var st stats
			if err := s.get("/stats", &st); err != nil {
				return err
			}
			s.version = st.Version
			return nil
		},
	})
	return s
}

func (s *server) url() string { return fmt.Sprintf("ws://127.0.0.1:%d", s.port) }

type stats struct {
	Version   string         `json:"version"`
	Clients   map[string]int `json:"clients"`
	Acks      int            `json:"acks"`
	Recovered int            `json:"recovered"`
	Relayed   int            `json:"relayed"`
}

func (s *server) get(path string, v any) error {
	c := http.Client{Timeout: 2 * time.Second}
	r, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", s.port, path))
	if err != nil {
		return err
	}
	defer r.Body.Close()
	if r.StatusCode != 200 {
		return fmt.Errorf("%s: %s", path, r.Status)
	}
	return json.NewDecoder(r.Body).Decode(v)
}

func (s *server) stats(t *testing.T) stats {
	t.Helper()
	var st stats
	if err := s.get("/stats", &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// emit is one item of the server's /broadcast list.
type emit struct {
	NS    string `json:"ns,omitempty"`
	Event string `json:"event"`
	Args  []any  `json:"args"`
	Ack   bool   `json:"ack,omitempty"`
}

func (s *server) post(t *testing.T, path string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	r, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d%s", s.port, path), "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("%s: %s", path, r.Status)
	}
}

func (s *server) broadcast(t *testing.T, items []emit) { s.post(t, "/broadcast", items) }

// waitClients waits until every namespace of want has that many sockets.
func (s *server) waitClients(t *testing.T, want map[string]int) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("server clients %v", want), func() bool {
		var st stats
		if s.get("/stats", &st) != nil {
			return false
		}
		for ns, n := range want {
			if st.Clients[ns] != n {
				return false
			}
		}
		return true
	})
}

// eio is the options.eio a server version needs.
func eio(version string) float64 {
	if version == "v2" {
		return 3
	}
	return 4
}

// TestChatSet: the fixed chat set sent as {user, room, text} objects in the
// main namespace and as plain strings in /chat is stored exactly once per
// message, byte for byte, with its user and room, and nothing else: the
// handshake, namespace replies and heartbeats are control.
func TestChatSet(t *testing.T) {
	for _, version := range []string{"v4", "v2"} {
		t.Run(version, func(t *testing.T) {
			srv := startServer(t, version, "--ping-interval", "1000", "--ping-timeout", "1000")
			cfg := testkit.Config(t, srv.url())
			cfg.Protocol = "socketio"
			cfg.Subscribe = []string{"/", "/chat"}
			cfg.Options = map[string]any{"eio": eio(version)}
			m := testkit.Start(t, cfg)
			m.WaitConnected(t, 15*time.Second)
			srv.waitClients(t, map[string]int{"/": 1, "/chat": 1})

			var items []emit
			var want []testkit.Want
			for _, text := range testkit.ChatSet() {
				items = append(items,
					emit{NS: "/", Event: "chat message", Args: []any{map[string]any{"user": "alice", "room": "general", "text": text}}},
					emit{NS: "/chat", Event: "chat message", Args: []any{text}})
				want = append(want,
					testkit.Want{Content: testkit.StoredText(text), User: "alice", Room: "general"},
					testkit.Want{Content: testkit.StoredText(text), Room: "/chat"})
			}
			srv.broadcast(t, items)
			m.WaitMessages(t, len(want), 15*time.Second)
			time.Sleep(1500 * time.Millisecond) // a heartbeat or two: nothing more may be stored
			if err := m.Stop(t); err != nil {
				t.Fatal(err)
			}
			got := m.Messages(t)
			testkit.CheckSet(t, got, want)
			for _, g := range got {
				if g.Type != "chat" || !bytes.HasPrefix(g.Raw, []byte("42")) {
					t.Errorf("message %q: type %q raw %.40q, want chat and the event frame", g.Content[:min(20, len(g.Content))], g.Type, g.Raw)
				}
			}
			ss := m.Sessions(t)
			if len(ss) != 1 || ss[0].Protocol != "socketio" || ss[0].Messages != int64(len(want)) || ss[0].Control < 3 {
				t.Errorf("sessions = %+v, want one socketio session with %d messages and its control frames", ss, len(want))
			}
		})
	}
}

// TestArgsBinaryAcks: positional arguments named by options.args, a binary
// attachment reassembled with its event, events asking for an ack
// answered (the server counts the acks), with connection state recovery
// on (v4: its offsets are taken off the arguments and become the ids).
func TestArgsBinaryAcks(t *testing.T) {
	for _, version := range []string{"v4", "v2"} {
		t.Run(version, func(t *testing.T) {
			var args []string
			if version == "v4" {
				args = []string{"--recovery"}
			}
			srv := startServer(t, version, args...)
			cfg := testkit.Config(t, srv.url())
			cfg.Protocol = "socketio"
			cfg.Subscribe = []string{"/chat"}
			cfg.Options = map[string]any{"eio": eio(version), "args": []any{"user", "content"}, "events": []any{"chat message", "file"}}
			m := testkit.Start(t, cfg)
			m.WaitConnected(t, 15*time.Second)
			srv.waitClients(t, map[string]int{"/chat": 1})

			var items []emit
			var want []testkit.Want
			for i, text := range testkit.ChatSet() {
				items = append(items,
					emit{NS: "/chat", Event: "chat message", Args: []any{"bob", text}, Ack: i%2 == 0},
					emit{NS: "/chat", Event: "typing", Args: []any{"bob"}},            // not in events: control
					emit{NS: "/", Event: "chat message", Args: []any{"nobody", text}}, // namespace not subscribed
					emit{NS: "/chat", Event: "file", Args: []any{map[string]any{
						"user": "carol", "room": "files", "text": map[string]any{"$buffer": base64.StdEncoding.EncodeToString([]byte(text))},
					}}})
				want = append(want,
					testkit.Want{Content: testkit.StoredText(text), User: "bob", Room: "/chat"},
					testkit.Want{Content: testkit.StoredText(text), User: "carol", Room: "files"})
				if strings.ContainsFunc(text, func(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' }) {
					// An attachment with a control character is binary, not
					// text: it is stored as base64.
					want[len(want)-1].Content = fmt.Sprintf(`{"_binary":true,"size":%d,"base64":"%s"}`, len(text), base64.StdEncoding.EncodeToString([]byte(text)))
				}
			}
			srv.broadcast(t, items)
			m.WaitMessages(t, len(want), 15*time.Second)
			testkit.WaitFor(t, 5*time.Second, "acks", func() bool { return srv.stats(t).Acks == 3 })
			time.Sleep(300 * time.Millisecond)
			if err := m.Stop(t); err != nil {
				t.Fatal(err)
			}
			got := m.Messages(t)
			testkit.CheckSet(t, got, want)
			for _, g := range got {
				// The server adds no offset to an event that asks for an ack.
				acked := bytes.HasPrefix(g.Raw, []byte("42/chat,")) && len(g.Raw) > 8 && g.Raw[8] >= '0' && g.Raw[8] <= '9'
				if version == "v4" && (g.ExtID == "") != acked {
					t.Errorf("message %.60q: id %q; want the recovery offset unless it asked for an ack", g.Raw, g.ExtID)
				}
				if bytes.Contains(g.Raw, []byte("_placeholder")) != (g.User == "carol") {
					t.Errorf("raw %.80q", g.Raw)
				}
			}
		})
	}
}

// TestHeartbeat: with the server's ping interval and timeout at 1 s, an
// idle connection stays up for 5 s (Engine.IO 4: wsmon answers the
// server's pings; Engine.IO 3: wsmon pings), one session, no reconnect,
// and a message after the idle time is stored.
func TestHeartbeat(t *testing.T) {
	if testing.Short() {
		t.Skip("idles 5 s")
	}
	for _, version := range []string{"v4", "v2"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, version, "--ping-interval", "1000", "--ping-timeout", "1000")
			idle(t, srv, 5*time.Second)
		})
	}
}

// TestHeartbeatDefault: the same at Socket.IO 4's default heartbeat
// (ping every 25 s, 20 s timeout): idle 50 s, past the 45 s after which a
// client that does not answer is dropped.
func TestHeartbeatDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("idles 50 s")
	}
	t.Parallel()
	srv := startServer(t, "v4")
	idle(t, srv, 50*time.Second)
}

func idle(t *testing.T, srv *server, d time.Duration) {
	cfg := testkit.Config(t, srv.url())
	cfg.Protocol = "socketio"
	cfg.Subscribe = []string{"/chat"}
	cfg.Options = map[string]any{"eio": eio(srv.versionDir())}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 15*time.Second)
	srv.waitClients(t, map[string]int{"/chat": 1})
	time.Sleep(d)
	srv.broadcast(t, []emit{{NS: "/chat", Event: "chat message", Args: []any{"after the silence"}}})
	m.WaitMessages(t, 1, 10*time.Second)
	if st := m.Status(); st.Reconnects != 0 || st.State != capture.StateConnected {
		t.Fatalf("status %+v, want connected without a reconnect", st)
	}
	if ss := m.Sessions(t); len(ss) != 1 || !ss[0].Open {
		t.Fatalf("sessions = %+v, want one open session", ss)
	}
	if got := srv.stats(t).Clients["/chat"]; got != 1 {
		t.Fatalf("server has %d clients in /chat, want 1", got)
	}
}

func (s *server) versionDir() string {
	if strings.HasPrefix(s.version, "2.") {
		return "v2"
	}
	return "v4"
}

// TestRestart: the server is killed and started again on the same port;
// wsmon reconnects, connects its namespaces again and captures again. A
// server-side namespace disconnect (41) also makes it reconnect.
func TestRestart(t *testing.T) {
	for _, version := range []string{"v4", "v2"} {
		t.Run(version, func(t *testing.T) {
			srv := startServer(t, version)
			cfg := testkit.Config(t, srv.url())
			cfg.Protocol = "socketio"
			cfg.Subscribe = []string{"/", "/chat"}
			cfg.Options = map[string]any{"eio": eio(version)}
			m := testkit.Start(t, cfg)
			m.WaitConnected(t, 15*time.Second)
			srv.waitClients(t, map[string]int{"/": 1, "/chat": 1})
			srv.broadcast(t, []emit{{NS: "/chat", Event: "chat message", Args: []any{"before"}}})
			m.WaitMessages(t, 1, 10*time.Second)

			srv.proc.Restart(t)
			srv.waitClients(t, map[string]int{"/": 1, "/chat": 1})
			m.WaitConnected(t, 15*time.Second)
			srv.broadcast(t, []emit{{NS: "/chat", Event: "chat message", Args: []any{"after restart"}}})
			m.WaitMessages(t, 2, 10*time.Second)

			srv.post(t, "/kick?ns=/chat", nil)
			testkit.WaitFor(t, 10*time.Second, "a third session", func() bool { return len(m.Sessions(t)) >= 3 })
			srv.waitClients(t, map[string]int{"/": 1, "/chat": 1})
			m.WaitConnected(t, 15*time.Second)
			srv.broadcast(t, []emit{{NS: "/chat", Event: "chat message", Args: []any{"after kick"}}})
			m.WaitMessages(t, 3, 10*time.Second)
			if err := m.Stop(t); err != nil {
				t.Fatal(err)
			}
			testkit.CheckSet(t, m.Messages(t), []testkit.Want{
				{Content: "before", Room: "/chat"}, {Content: "after restart", Room: "/chat"}, {Content: "after kick", Room: "/chat"},
			})
			if st := m.Status(); st.Reconnects < 2 {
				t.Errorf("status %+v, want at least 2 reconnects", st)
			}
		})
	}
}

// TestRefusal: a wrong token, a namespace the server does not have, and
// the wrong Engine.IO version stop the target with the server's reason,
// without reconnecting; the right token connects.
func TestRefusal(t *testing.T) {
	tests := []struct {
		name      string
		version   string
		subscribe []string
		token     string
		eio       float64
		want      string // "" connects
	}{
		{"v4 right token", "v4", []string{"/", "/chat"}, "s3cret", 4, ""},
		{"v4 wrong token", "v4", []string{"/chat"}, "wrong", 4, "namespace /chat refused: invalid token"},
		{"v4 no token", "v4", nil, "", 4, "namespace / refused: invalid token"},
		{"v4 unknown namespace", "v4", []string{"/nope"}, "s3cret", 4, "namespace /nope refused: Invalid namespace"},
		{"v2 right token", "v2", []string{"/", "/chat"}, "s3cret", 3, ""},
		{"v2 wrong token", "v2", nil, "wrong", 3, "namespace / refused: invalid token"},
		{"v2 unknown namespace", "v2", []string{"/nope"}, "s3cret", 3, "namespace /nope refused: Invalid namespace"},
		{"v2 spoken to as v4", "v2", []string{"/chat"}, "s3cret", 4, "it refused the main namespace unasked: invalid token); set options.eio to 3"},
		{"open v2 spoken to as v4", "v2open", []string{"/chat"}, "", 4, "its CONNECT for / has no sid); set options.eio to 3"},
	}
	servers := map[string]*server{
		"v4":     startServer(t, "v4", "--token", "s3cret"),
		"v2":     startServer(t, "v2", "--token", "s3cret"),
		"v2open": startServer(t, "v2"),
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := servers[tt.version]
			cfg := testkit.Config(t, srv.url())
			cfg.Protocol = "socketio"
			cfg.Subscribe = tt.subscribe
			cfg.Options = map[string]any{"eio": tt.eio}
			if tt.token != "" {
				cfg.Auth = map[string]string{"token": tt.token}
			}
			m := testkit.Start(t, cfg)
			if tt.want == "" {
				m.WaitConnected(t, 15*time.Second)
				return
			}
			testkit.WaitFor(t, 15*time.Second, "the target to stop", func() bool { return m.Status().Stopped != "" })
			time.Sleep(500 * time.Millisecond) // ten backoff periods: no retry may happen
			st := m.Status()
			if !strings.Contains(st.Stopped, tt.want) || st.Reconnects != 0 || st.State != capture.StateStopped {
				t.Fatalf("status %+v, want stopped for %q without reconnecting", st, tt.want)
			}
			if n := len(m.Sessions(t)); n != 1 {
				t.Fatalf("%d sessions, want 1", n)
			}
		})
	}
}

// TestResume: the server (connection state recovery on) drops the
// connection and emits while wsmon is away; wsmon reconnects with the
// namespace's pid and last offset, the server replays what was missed, and
// everything is stored once. With options.recover false the missed events
// are lost, as with a server without recovery.
func TestResume(t *testing.T) {
	for _, resume := range []bool{true, false} {
		t.Run(fmt.Sprintf("recover=%v", resume), func(t *testing.T) {
			srv := startServer(t, "v4", "--recovery")
			cfg := testkit.Config(t, srv.url())
			cfg.Protocol = "socketio"
			cfg.Subscribe = []string{"/", "/chat"}
			cfg.Options = map[string]any{"recover": resume}
			m := testkit.Start(t, cfg)
			m.WaitConnected(t, 15*time.Second)
			srv.waitClients(t, map[string]int{"/": 1, "/chat": 1})
			srv.broadcast(t, []emit{{NS: "/chat", Event: "chat message", Args: []any{"before"}}})
			m.WaitMessages(t, 1, 10*time.Second)

			var missed []emit
			want := []testkit.Want{{Content: "before", Room: "/chat"}}
			for _, text := range testkit.ChatSet() {
				missed = append(missed, emit{NS: "/chat", Event: "chat message", Args: []any{text}})
				if resume {
					want = append(want, testkit.Want{Content: testkit.StoredText(text), Room: "/chat"})
				}
			}
			srv.post(t, "/drop", missed)
			testkit.WaitFor(t, 10*time.Second, "a second session", func() bool { return len(m.Sessions(t)) >= 2 })
			m.WaitConnected(t, 15*time.Second)
			srv.waitClients(t, map[string]int{"/": 1, "/chat": 1})
			srv.broadcast(t, []emit{{NS: "/chat", Event: "chat message", Args: []any{"after"}}})
			want = append(want, testkit.Want{Content: "after", Room: "/chat"})
			m.WaitMessages(t, len(want), 10*time.Second)
			time.Sleep(300 * time.Millisecond)
			if err := m.Stop(t); err != nil {
				t.Fatal(err)
			}
			testkit.CheckSet(t, m.Messages(t), want)
			// Only /chat resumes: / had no event, so no offset to resume from.
			if got, wantN := srv.stats(t).Recovered, map[bool]int{true: 1, false: 0}[resume]; got != wantN {
				t.Errorf("server recovered %d sockets, want %d", got, wantN)
			}
		})
	}
}

// TestAuto: protocol auto picks Socket.IO from the /socket.io/ path (and
// then sets the query itself), or, on a server with its own path whose URL
// carries the Engine.IO query, from the open packet the server sends
// first.
func TestAuto(t *testing.T) {
	tests := []struct {
		name, serverPath, urlPath string
	}{
		{"path", "/socket.io", "/socket.io/"},
		{"sniff", "/chat-io", "/chat-io/?EIO=4&transport=websocket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, "v4", "--path", tt.serverPath)
			cfg := testkit.Config(t, srv.url()+tt.urlPath)
			cfg.Protocol = "auto"
			m := testkit.Start(t, cfg)
			m.WaitConnected(t, 15*time.Second)
			srv.waitClients(t, map[string]int{"/": 1})
			srv.broadcast(t, []emit{{Event: "chat message", Args: []any{map[string]any{"user": "ann", "text": "picked"}}}})
			m.WaitMessages(t, 1, 10*time.Second)
			if err := m.Stop(t); err != nil {
				t.Fatal(err)
			}
			testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "picked", User: "ann"}})
			if st := m.Status(); st.Protocol != "socketio" {
				t.Fatalf("protocol %q, want socketio", st.Protocol)
			}
		})
	}
}
