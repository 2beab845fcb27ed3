package nats_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/capture"
	"github.com/wsmon/wsmon/internal/testkit"
)

// natsServer is our own nats-server with a client port (for the test's
// publisher) and a WebSocket port (for wsmon), both on 127.0.0.1.
type natsServer struct {
	proc           *testkit.Process
	port, wsPort   int
	pubUser, pubPw string
}

// Accounts of the test server: wsmon's may subscribe to chat.> only.
const (
	monUser, monPass = "mon", "mon-secret"
	pubUser, pubPass = "pub", "pub-secret"
)

// startNATS starts nats-server with auth and a 2 s ping interval (the
// server declares a client stale after 2 unanswered pings). wsmon's
// account may publish to JetStream flow control replies and to the
// subjects in monPublish.
func startNATS(t *testing.T, monPublish ...string) *natsServer {
	t.Helper()
	var quoted []string
	for _, p := range append([]string{"$JS.FC.>"}, monPublish...) {
		quoted = append(quoted, strconv.Quote(p))
	}
	pubPerm := "[" + strings.Join(quoted, ", ") + "]"
	bin := testkit.NeedBinary(t, "nats-server")
	s := &natsServer{port: testkit.FreePort(t), wsPort: testkit.FreePort(t), pubUser: pubUser, pubPw: pubPass}
	conf := fmt.Sprintf(`listen: "127.0.0.1:%d"
ping_interval: "2s"
ping_max: 2
websocket {
  listen: "127.0.0.1:%d"
  no_tls: true
}
authorization {
  users: [
    {user: %q, password: %q, permissions: {subscribe: ["chat.>"], publish: %s}}
    {user: %q, password: %q}
  ]
}
`, s.port, s.wsPort, monUser, monPass, pubPerm, pubUser, pubPass)
	dir := t.TempDir()
	path := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.proc = testkit.StartProcess(t, testkit.Proc{
		Name: "nats-server", Path: bin, Args: []string{"-c", path}, Dir: dir,
		Ready: func() error {
			for _, p := range []int{s.port, s.wsPort} {
				c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), 200*time.Millisecond)
				if err != nil {
					return err
				}
				c.Close()
			}
			return nil
		},
	})
	return s
}

func (s *natsServer) url() string { return fmt.Sprintf("ws://127.0.0.1:%d/", s.wsPort) }

// message is one publication: with id set it goes out as HPUB with a
// Nats-Msg-Id header, else as PUB.
type message struct {
	subject, id, payload string
}

// publish connects to the client port as the publisher and sends msgs,
// then waits for the server's PONG so that all were processed.
func (s *natsServer) publish(t *testing.T, msgs ...message) {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("publisher: INFO %q %v", line, err)
	}
	conn, _ := json.Marshal(map[string]any{"verbose": false, "pedantic": false, "headers": true, "protocol": 1,
		"lang": "go", "version": "test", "user": s.pubUser, "pass": s.pubPw})
	var b strings.Builder
	fmt.Fprintf(&b, "CONNECT %s\r\n", conn)
	for _, m := range msgs {
		if m.id == "" {
			fmt.Fprintf(&b, "PUB %s %d\r\n%s\r\n", m.subject, len(m.payload), m.payload)
			continue
		}
		h := "NATS/1.0\r\nNats-Msg-Id: " + m.id + "\r\n\r\n"
		fmt.Fprintf(&b, "HPUB %s %d %d\r\n%s%s\r\n", m.subject, len(h), len(h)+len(m.payload), h, m.payload)
	}
	b.WriteString("PING\r\n")
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("publisher: %v", err)
		}
		switch {
		case line == "PONG\r\n":
			return
		case strings.HasPrefix(line, "-ERR"):
			t.Fatalf("publisher: %s", line)
		}
	}
}

// monitor starts wsmon on the server's WebSocket port as user mon.
func monitor(t *testing.T, s *natsServer, subscribe []string, options map[string]any) *testkit.Monitor {
	t.Helper()
	cfg := testkit.Config(t, s.url())
	cfg.Protocol = "nats"
	cfg.Subscribe = subscribe
	cfg.Auth = map[string]string{"username": monUser, "password": monPass}
	cfg.Options = options
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 15*time.Second)
	return m
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestChatSet: JSON chat documents published with and without headers on
// two subjects are stored once each, byte for byte, with the payload's
// user and the subject as room; nothing else is stored.
func TestChatSet(t *testing.T) {
	s := startNATS(t)
	m := monitor(t, s, []string{"chat.>"}, nil)
	var msgs []message
	var want []testkit.Want
	reasons := map[string]string{}
	for i, text := range testkit.ChatSet() {
		reasons[testkit.StoredText(text)] = testkit.StoredReason(text)
		doc := `{"user":"alice","text":` + jsonString(text) + `}`
		msgs = append(msgs,
			message{subject: "chat.room1", id: fmt.Sprintf("m-%d", i), payload: doc},
			message{subject: "chat.room2", payload: doc})
		want = append(want, testkit.Want{Content: testkit.StoredText(text), User: "alice", Room: "chat.room1"},
			testkit.Want{Content: testkit.StoredText(text), User: "alice", Room: "chat.room2"})
	}
	msgs = append(msgs, message{subject: "other.room", payload: `{"user":"x","text":"not subscribed"}`})
	s.publish(t, msgs...)
	m.WaitMessages(t, len(want), 15*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	got := m.Messages(t)
	testkit.CheckSet(t, got, want)
	for _, g := range got {
		if g.Type != "chat" || g.Reason != reasons[g.Content] {
			t.Errorf("%.30q stored as type %s reason %q", g.Content, g.Type, g.Reason)
		}
		if wantID := g.Room == "chat.room1"; (g.ExtID != "") != wantID || (wantID && !strings.HasPrefix(g.ExtID, "m-")) {
			t.Errorf("%s %.30q: ext id %q", g.Room, g.Content, g.ExtID)
		}
		if !strings.HasPrefix(string(g.Raw), "MSG chat.room2 1 ") && !strings.HasPrefix(string(g.Raw), "HMSG chat.room1 1 ") {
			t.Errorf("raw %.60q is not the whole operation", g.Raw)
		}
	}
	ss := m.Sessions(t)
	if len(ss) != 1 || ss[0].Protocol != "nats" || ss[0].Control < 2 {
		t.Errorf("sessions %+v, want one nats session with INFO and PONG as control", ss)
	}
}

// TestPlainText: with payload_format text the raw payloads, JSON-looking
// and protocol-looking ones included, are stored exactly as published.
func TestPlainText(t *testing.T) {
	s := startNATS(t)
	m := monitor(t, s, []string{"chat.plain"}, map[string]any{"payload_format": "text"})
	var msgs []message
	var want []testkit.Want
	for _, text := range testkit.ChatSet() {
		msgs = append(msgs, message{subject: "chat.plain", payload: text})
		want = append(want, testkit.Want{Content: testkit.StoredText(text), Room: "chat.plain"})
	}
	s.publish(t, msgs...)
	m.WaitMessages(t, len(want), 15*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	got := m.Messages(t)
	testkit.CheckSet(t, got, want)
	// The raw operation holds each payload byte for byte, NULs included.
	for _, text := range testkit.ChatSet() {
		n := 0
		for _, g := range got {
			if string(g.Raw) == fmt.Sprintf("MSG chat.plain 1 %d\r\n%s\r\n", len(text), text) {
				n++
				if g.Reason != testkit.StoredReason(text) || g.Type != "chat" {
					t.Errorf("%.30q: reason %q type %s", text, g.Reason, g.Type)
				}
			}
		}
		if n != 1 {
			t.Errorf("%.30q: %d stored with it as raw payload, want 1", text, n)
		}
	}
}

// TestHeartbeat: the server pings every 2 s and drops a client after two
// unanswered pings; wsmon answers, so one session lives through 10 s of
// silence and still captures afterwards.
func TestHeartbeat(t *testing.T) {
	if testing.Short() {
		t.Skip("idle wait")
	}
	s := startNATS(t)
	m := monitor(t, s, []string{"chat.>"}, nil)
	before := m.Status().TotalControl
	time.Sleep(10 * time.Second)
	st := m.Status()
	if st.State != capture.StateConnected || st.Reconnects != 0 || st.Session != 1 {
		t.Fatalf("after idling: %+v", st)
	}
	if st.TotalControl-before < 4 {
		t.Errorf("%d control frames while idle, want the server's PINGs (4 or more)", st.TotalControl-before)
	}
	s.publish(t, message{subject: "chat.a", payload: `{"user":"bob","text":"still here"}`})
	m.WaitMessages(t, 1, 10*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "still here", User: "bob", Room: "chat.a"}})
	if ss := m.Sessions(t); len(ss) != 1 {
		t.Errorf("sessions %+v, want 1", ss)
	}
}

// TestRestart: the server is killed and started again on the same ports;
// wsmon reconnects, subscribes again and captures what is published next.
func TestRestart(t *testing.T) {
	s := startNATS(t)
	m := monitor(t, s, []string{"chat.>"}, nil)
	s.publish(t, message{subject: "chat.a", payload: `{"user":"bob","text":"before"}`})
	m.WaitMessages(t, 1, 10*time.Second)
	s.proc.Restart(t)
	testkit.WaitFor(t, 15*time.Second, "reconnect", func() bool {
		st := m.Status()
		return st.Session >= 2 && st.State == capture.StateConnected
	})
	s.publish(t, message{subject: "chat.b", payload: `{"user":"bob","text":"after"}`})
	m.WaitMessages(t, 2, 10*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{
		{Content: "before", User: "bob", Room: "chat.a"},
		{Content: "after", User: "bob", Room: "chat.b"},
	})
}

// TestRefusals: wrong credentials, and a subject the account may not
// subscribe to, stop the target with the server's reason instead of
// reconnecting.
func TestRefusals(t *testing.T) {
	s := startNATS(t)
	tests := []struct {
		name      string
		subscribe []string
		auth      map[string]string
		want      string
	}{
		{"wrong password", []string{"chat.>"}, map[string]string{"username": monUser, "password": "wrong"}, "Authorization Violation"},
		{"no credentials", []string{"chat.>"}, nil, "Authorization Violation"},
		{"forbidden subject", []string{"chat.>", "secret.x"}, map[string]string{"username": monUser, "password": monPass}, `Permissions Violation for Subscription to "secret.x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testkit.Config(t, s.url())
			cfg.Protocol = "nats"
			cfg.Subscribe = tt.subscribe
			cfg.Auth = tt.auth
			m := testkit.Start(t, cfg)
			// Wait for Stopped: State is also "stopped" before the runner starts.
			testkit.WaitFor(t, 15*time.Second, "target stopped", func() bool { return m.Status().Stopped != "" })
			st := m.Status()
			if !strings.Contains(st.Stopped, tt.want) || !strings.Contains(st.Stopped, "not reconnecting") {
				t.Errorf("stopped %q, want the server's %q", st.Stopped, tt.want)
			}
			if st.Reconnects != 0 {
				t.Errorf("%d reconnects, want none", st.Reconnects)
			}
		})
	}
}

// TestAuto: protocol auto recognises nats-server by its INFO and captures
// as nats, the peeked INFO starting the handshake.
func TestAuto(t *testing.T) {
	s := startNATS(t)
	cfg := testkit.Config(t, s.url())
	cfg.Protocol = "auto"
	cfg.Subscribe = []string{"chat.>"}
	cfg.Auth = map[string]string{"username": monUser, "password": monPass}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 15*time.Second)
	s.publish(t, message{subject: "chat.a", payload: `{"user":"bob","text":"auto"}`})
	m.WaitMessages(t, 1, 10*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "auto", User: "bob", Room: "chat.a"}})
	if ss := m.Sessions(t); len(ss) != 1 || ss[0].Protocol != "nats" {
		t.Errorf("sessions %+v, want one nats session", ss)
	}
}
