package phoenix_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmon/wsmon/internal/testkit"
)

// No Phoenix (Elixir) server can be installed here: these tests run
// against phxServer, written from Phoenix's behaviour, through wsmon's
// production composition.

func startPhx(t *testing.T) *phxServer {
	t.Helper()
	s := newPhxServer(t)
	s.Start("127.0.0.1:0")
	return s
}

var users = []string{"alice", "小明"}

// TestChatSet: the fixed set, broadcast (new_msg) and pushed (shout) on a
// joined topic with each serializer, is stored once each with its user
// and the topic as room; presence and replies are control, never stored.
// V2 also carries a binary broadcast.
func TestChatSet(t *testing.T) {
	for _, vsn := range []string{"2.0.0", "1.0.0"} {
		t.Run(vsn, func(t *testing.T) {
			phx := startPhx(t)
			phx.ConnectToken, phx.JoinToken = "tok", "tok"
			cfg := testkit.Config(t, phx.URL())
			cfg.Protocol = "phoenix"
			cfg.Subscribe = []string{"room:lobby", "room:side"}
			cfg.Auth = map[string]string{"token": "tok"}
			cfg.Options = map[string]any{"vsn": vsn}
			m := testkit.Start(t, cfg)
			m.WaitConnected(t, 10*time.Second)
			testkit.WaitFor(t, 5*time.Second, "wsmon joined", func() bool { return phx.Joined("room:lobby") == 1 && phx.Joined("room:side") == 1 })

			var want []testkit.Want
			for i, text := range testkit.ChatSet() {
				u := users[i%2]
				phx.Broadcast("room:lobby", "new_msg", map[string]any{"user": u, "body": text})
				phx.Push("room:side", "shout", map[string]any{"name": u, "message": text})
				want = append(want, testkit.Want{Content: testkit.StoredText(text), User: u, Room: "room:lobby"}, testkit.Want{Content: testkit.StoredText(text), User: u, Room: "room:side"})
			}
			phx.PresenceDiff("room:lobby", "alice", true)
			if vsn == "2.0.0" {
				phx.BinaryBroadcast("room:lobby", "file", []byte("二进制 binary text"))
				want = append(want, testkit.Want{Content: "二进制 binary text", Room: "room:lobby"})
			}
			m.WaitMessages(t, len(want), 10*time.Second)
			time.Sleep(200 * time.Millisecond)
			if err := m.Stop(t); err != nil {
				t.Fatal(err)
			}
			testkit.CheckSet(t, m.Messages(t), want)
			ss := m.Sessions(t)
			if len(ss) != 1 || ss[0].Protocol != "phoenix" || ss[0].Control < 3 { // two join replies, presence
				t.Errorf("sessions = %+v, want one phoenix session with control frames", ss)
			}
		})
	}
}

// TestPresence: with options.presence, presence diffs are stored as join
// and leave messages of the key's user.
func TestPresence(t *testing.T) {
	phx := startPhx(t)
	cfg := testkit.Config(t, phx.URL())
	cfg.Protocol = "phoenix"
	cfg.Subscribe = []string{"room:lobby"}
	cfg.Options = map[string]any{"presence": true}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	testkit.WaitFor(t, 5*time.Second, "wsmon joined", func() bool { return phx.Joined("room:lobby") == 1 })
	phx.PresenceDiff("room:lobby", "小明", true)
	phx.PresenceDiff("room:lobby", "小明", false)
	got := m.WaitMessages(t, 2, 10*time.Second)
	if len(got) != 2 || got[0].Type != "join" || got[1].Type != "leave" || got[0].User != "小明" || got[1].User != "小明" || got[0].Room != "room:lobby" {
		t.Fatalf("stored %+v", got)
	}
}

// TestServerTimeout: the server closes a socket silent for its timeout (2 s
// here, 60 s in Phoenix); wsmon heartbeats every second and keeps one
// session through 5 s without chat, while a client that does not
// heartbeat is dropped by the same server.
func TestServerTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("idle wait")
	}
	phx := startPhx(t)
	phx.Timeout = 2 * time.Second
	cfg := testkit.Config(t, phx.URL())
	cfg.Protocol = "phoenix"
	cfg.Subscribe = []string{"room:lobby"}
	cfg.Options = map[string]any{"heartbeat_interval": 1.0}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	testkit.WaitFor(t, 5*time.Second, "wsmon joined", func() bool { return phx.Joined("room:lobby") == 1 })

	silent, _, err := websocket.DefaultDialer.Dial(phx.URL()+"?vsn=2.0.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	silent.WriteMessage(websocket.TextMessage, []byte(`["1","1","room:lobby","phx_join",{}]`))
	testkit.WaitFor(t, 2*time.Second, "the silent client joined", func() bool { return phx.Joined("room:lobby") == 2 })
	time.Sleep(5 * time.Second)
	if n := phx.Timeouts(); n != 1 {
		t.Errorf("%d sockets closed for silence, want 1 (the silent one)", n)
	}
	phx.Broadcast("room:lobby", "new_msg", map[string]any{"user": "bob", "body": "still here"})
	m.WaitMessages(t, 1, 5*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "still here", User: "bob", Room: "room:lobby"}})
	if ss := m.Sessions(t); len(ss) != 1 {
		t.Errorf("sessions = %+v, want 1", ss)
	}
}

// TestRejoin: a channel that crashes (phx_error) or stops (phx_close) is
// joined again on the same connection and captures again.
func TestRejoin(t *testing.T) {
	for _, event := range []string{"phx_error", "phx_close"} {
		t.Run(event, func(t *testing.T) {
			phx := startPhx(t)
			cfg := testkit.Config(t, phx.URL())
			cfg.Protocol = "phoenix"
			cfg.Subscribe = []string{"room:lobby"}
			m := testkit.Start(t, cfg)
			m.WaitConnected(t, 10*time.Second)
			testkit.WaitFor(t, 5*time.Second, "wsmon joined", func() bool { return phx.Joined("room:lobby") == 1 })
			phx.End("room:lobby", event)
			testkit.WaitFor(t, 5*time.Second, "wsmon joined again", func() bool { return phx.Joins() == 2 && phx.Joined("room:lobby") == 1 })
			phx.Broadcast("room:lobby", "new_msg", map[string]any{"user": "a", "body": "after " + event})
			m.WaitMessages(t, 1, 5*time.Second)
			if err := m.Stop(t); err != nil {
				t.Fatal(err)
			}
			testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "after " + event, User: "a", Room: "room:lobby"}})
			if ss := m.Sessions(t); len(ss) != 1 {
				t.Errorf("sessions = %+v, want 1 (rejoined on the same socket)", ss)
			}
		})
	}
}

// TestRestart: the server goes away and comes back on the same port; the
// target reconnects, joins again and captures.
func TestRestart(t *testing.T) {
	phx := startPhx(t)
	cfg := testkit.Config(t, phx.URL())
	cfg.Protocol = "phoenix"
	cfg.Subscribe = []string{"room:lobby"}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	testkit.WaitFor(t, 5*time.Second, "wsmon joined", func() bool { return phx.Joined("room:lobby") == 1 })
	phx.Broadcast("room:lobby", "new_msg", map[string]any{"user": "a", "body": "before"})
	m.WaitMessages(t, 1, 5*time.Second)

	addr := phx.Addr()
	phx.Stop()
	testkit.WaitFor(t, 5*time.Second, "a reconnect attempt", func() bool { return m.Status().Reconnects >= 1 })
	phx.Start(addr)
	testkit.WaitFor(t, 10*time.Second, "wsmon joined again", func() bool { return phx.Joined("room:lobby") == 1 })
	m.WaitConnected(t, 5*time.Second)
	phx.Broadcast("room:lobby", "new_msg", map[string]any{"user": "a", "body": "after"})
	m.WaitMessages(t, 2, 5*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "before", User: "a", Room: "room:lobby"}, {Content: "after", User: "a", Room: "room:lobby"}})
}

// TestRefusal: a wrong connect token (403 at the upgrade) and a refused
// join stop the target with the reason, without a reconnect storm.
func TestRefusal(t *testing.T) {
	tests := []struct {
		name, token, topic, reason string
	}{
		{"bad connect token", "wrong", "room:lobby", "403"},
		{"join refused", "tok", "room:forbidden", `join "room:forbidden" refused: unauthorized`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			phx := startPhx(t)
			phx.ConnectToken = "tok"
			cfg := testkit.Config(t, phx.URL())
			cfg.Protocol = "phoenix"
			cfg.Subscribe = []string{"room:lobby", tt.topic}
			if tt.topic == "room:lobby" {
				cfg.Subscribe = cfg.Subscribe[:1]
			}
			cfg.Auth = map[string]string{"token": tt.token}
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
