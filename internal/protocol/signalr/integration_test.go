package signalr_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmon/wsmon/internal/testkit"
)

// No SignalR server can be installed here (it is .NET): these tests run
// against hubServer, written from the protocol specs, through wsmon's
// production composition.

func startHub(t *testing.T, token string) *hubServer {
	t.Helper()
	s := newHubServer(t)
	s.Token = token
	s.Start("127.0.0.1:0")
	return s
}

var users = []string{"alice", "小明"}

// TestChatSet: the fixed set, sent to a group wsmon joined as the ASP.NET
// chat sample's ReceiveMessage(user, message) and as object arguments,
// one message per frame, batched, or split across frames, is stored once
// each with its user (and room for objects); server pings and
// invocations of other targets are control, never stored.
func TestChatSet(t *testing.T) {
	for _, framing := range []string{"one", "batch", "split"} {
		t.Run(framing, func(t *testing.T) {
			hub := startHub(t, "tok")
			hub.Framing, hub.KeepAlive = framing, 100*time.Millisecond
			cfg := testkit.Config(t, hub.URL())
			cfg.Protocol = "signalr"
			cfg.Subscribe = []string{"JoinGroup:lobby"}
			cfg.Auth = map[string]string{"token": "tok"}
			cfg.Options = map[string]any{"targets": []any{"ReceiveMessage", "ReceiveObject"}}
			m := testkit.Start(t, cfg)
			m.WaitConnected(t, 10*time.Second)
			testkit.WaitFor(t, 5*time.Second, "wsmon in group lobby", func() bool { return hub.Clients("lobby") == 1 })

			var classic, objects [][]any
			var want []testkit.Want
			for i, text := range testkit.ChatSet() {
				u := users[i%2]
				classic = append(classic, []any{u, text})
				objects = append(objects, []any{map[string]any{"id": fmt.Sprint(i), "user": u, "room": "lobby", "text": text}})
				want = append(want, testkit.Want{Content: testkit.StoredText(text), User: u}, testkit.Want{Content: testkit.StoredText(text), User: u, Room: "lobby"})
			}
			hub.Invoke("lobby", "ReceiveMessage", classic...)
			hub.Invoke("lobby", "UserCount", []any{3})
			hub.Invoke("lobby", "ReceiveObject", objects...)
			m.WaitMessages(t, len(want), 10*time.Second)
			time.Sleep(300 * time.Millisecond) // pings meanwhile; none may be stored
			if err := m.Stop(t); err != nil {
				t.Fatal(err)
			}
			testkit.CheckSet(t, m.Messages(t), want)
			ss := m.Sessions(t)
			if len(ss) != 1 || ss[0].Protocol != "signalr" || ss[0].Control < 3 { // handshake, completion, UserCount, pings
				t.Errorf("sessions = %+v, want one signalr session with control frames", ss)
			}
		})
	}
}

// TestServerTimeout: the server drops a client silent for ClientTimeout (2 s
// here, 30 s by default in ASP.NET); wsmon pings every ping_interval and
// stays connected through 5 s of silence from the chat. A client that
// does not ping is dropped by the same server, so the test would see it.
func TestServerTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("idle wait")
	}
	hub := startHub(t, "")
	hub.KeepAlive, hub.ClientTimeout = 500*time.Millisecond, 2*time.Second
	cfg := testkit.Config(t, hub.URL())
	cfg.Protocol = "signalr"
	cfg.Options = map[string]any{"ping_interval": 1.0}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	testkit.WaitFor(t, 5*time.Second, "wsmon connected to the hub", func() bool { return hub.Clients("") == 1 })

	silent := silentClient(t, hub)
	defer silent.Close()
	testkit.WaitFor(t, 2*time.Second, "the silent client", func() bool { return hub.Clients("") == 2 })
	time.Sleep(5 * time.Second)
	if n := hub.Timeouts(); n != 1 {
		t.Errorf("%d clients dropped for silence, want 1 (the silent one)", n)
	}
	hub.Invoke("", "ReceiveMessage", []any{"bob", "still here"})
	m.WaitMessages(t, 1, 5*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "still here", User: "bob"}})
	if ss := m.Sessions(t); len(ss) != 1 {
		t.Errorf("sessions = %+v, want 1", ss)
	}
}

// silentClient negotiates and handshakes, then never sends again.
func silentClient(t *testing.T, hub *hubServer) *websocket.Conn {
	t.Helper()
	resp, err := http.Post("http://"+hub.Addr()+"/chathub/negotiate?negotiateVersion=1", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := bufio.NewReader(resp.Body).ReadString(0)
	resp.Body.Close()
	_, rest, _ := strings.Cut(body, `"connectionToken":"`)
	token, _, _ := strings.Cut(rest, `"`)
	c, _, err := websocket.DefaultDialer.Dial(hub.URL()+"?id="+token, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("{\"protocol\":\"json\",\"version\":1}\x1e")); err != nil {
		t.Fatal(err)
	}
	go func() { // read (and drop) what the server sends
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	return c
}

// TestRestart: the server goes away and comes back on the same port; the
// target negotiates again (connection tokens are single-use), joins its
// group again and captures.
func TestRestart(t *testing.T) {
	hub := startHub(t, "tok")
	cfg := testkit.Config(t, hub.URL())
	cfg.Protocol = "signalr"
	cfg.Subscribe = []string{"JoinGroup:lobby"}
	cfg.Auth = map[string]string{"token": "tok"}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	testkit.WaitFor(t, 5*time.Second, "wsmon in group lobby", func() bool { return hub.Clients("lobby") == 1 })
	hub.Invoke("lobby", "ReceiveMessage", []any{"a", "before"})
	m.WaitMessages(t, 1, 5*time.Second)

	addr := hub.Addr()
	hub.Stop()
	testkit.WaitFor(t, 5*time.Second, "a reconnect attempt", func() bool { return m.Status().Reconnects >= 1 })
	hub.Start(addr)
	testkit.WaitFor(t, 10*time.Second, "wsmon back in group lobby", func() bool { return hub.Clients("lobby") == 1 })
	m.WaitConnected(t, 5*time.Second)
	hub.Invoke("lobby", "ReceiveMessage", []any{"a", "after"})
	m.WaitMessages(t, 2, 5*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "before", User: "a"}, {Content: "after", User: "a"}})
	if n := hub.Negotiations(); n < 2 {
		t.Errorf("%d negotiations, want one per connection", n)
	}
}

// TestCloseAllowReconnect: a Close message with allowReconnect (a server
// shutting down) makes the target reconnect, rejoin and capture.
func TestCloseAllowReconnect(t *testing.T) {
	hub := startHub(t, "")
	cfg := testkit.Config(t, hub.URL())
	cfg.Protocol = "signalr"
	cfg.Subscribe = []string{"JoinGroup:lobby"}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	testkit.WaitFor(t, 5*time.Second, "wsmon in group lobby", func() bool { return hub.Clients("lobby") == 1 })
	hub.Close("Server is shutting down.", true)
	testkit.WaitFor(t, 5*time.Second, "a reconnect", func() bool { return m.Status().Reconnects >= 1 })
	testkit.WaitFor(t, 10*time.Second, "wsmon back in group lobby", func() bool { return hub.Clients("lobby") == 1 })
	hub.Invoke("lobby", "ReceiveMessage", []any{"a", "back"})
	m.WaitMessages(t, 1, 5*time.Second)
	if st := m.Status(); !strings.Contains(st.LastError, "Server is shutting down.") {
		t.Errorf("last error = %q", st.LastError)
	}
}

// TestRedirect: a negotiate redirect (as Azure SignalR Service answers)
// sends the client to another URL with its own access token.
func TestRedirect(t *testing.T) {
	hub := startHub(t, "service-token")
	cfg := testkit.Config(t, "ws://"+hub.Addr()+"/redirect")
	cfg.Protocol = "signalr"
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	testkit.WaitFor(t, 5*time.Second, "wsmon connected", func() bool { return hub.Clients("") == 1 })
	hub.Invoke("", "ReceiveMessage", []any{"a", "redirected"})
	m.WaitMessages(t, 1, 5*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "redirected", User: "a"}})
}

// TestRefusal: a wrong token (negotiate 401), a hub method the server
// does not have, and a Close without allowReconnect stop the target with
// the reason, without a reconnect storm.
func TestRefusal(t *testing.T) {
	tests := []struct {
		name      string
		token     string
		subscribe []string
		close     bool
		reason    string
	}{
		{"bad token", "wrong", nil, false, "negotiate http://127.0.0.1"},
		{"unknown hub method", "tok", []string{"JoinRoom:lobby"}, false, `subscribe "JoinRoom:lobby" failed: Failed to invoke 'JoinRoom' due to an error on the server. HubException: Method does not exist.`},
		{"bad arguments", "tok", []string{"JoinGroup"}, false, `subscribe "JoinGroup" failed: Failed to invoke 'JoinGroup'`},
		{"close without reconnect", "tok", nil, true, "server closed the connection without allowing a reconnect: Connection closed with an error. HubException: banned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub := startHub(t, "tok")
			cfg := testkit.Config(t, hub.URL())
			cfg.Protocol = "signalr"
			cfg.Subscribe = tt.subscribe
			cfg.Auth = map[string]string{"token": tt.token}
			m := testkit.Start(t, cfg)
			if tt.close {
				m.WaitConnected(t, 10*time.Second)
				testkit.WaitFor(t, 5*time.Second, "wsmon connected", func() bool { return hub.Clients("") == 1 })
				hub.Close("Connection closed with an error. HubException: banned", false)
			}
			testkit.WaitFor(t, 10*time.Second, "the target to stop", func() bool { return m.Status().Stopped != "" })
			if st := m.Status(); !strings.Contains(st.Stopped, tt.reason) {
				t.Errorf("stopped = %q, want it to contain %q", st.Stopped, tt.reason)
			}
			n := hub.Negotiations()
			time.Sleep(500 * time.Millisecond) // ten backoff periods
			if st := m.Status(); st.Reconnects != 0 || hub.Negotiations() != n {
				t.Errorf("after a refusal: %+v, %d negotiations (was %d)", st, hub.Negotiations(), n)
			}
			if len(m.Messages(t)) != 0 {
				t.Errorf("messages stored: %+v", m.Messages(t))
			}
		})
	}
}
