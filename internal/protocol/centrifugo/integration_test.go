package centrifugo_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsmon/wsmon/internal/capture"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/testkit"
)

const (
	hmacSecret = "test-hmac-secret"
	apiKey     = "test-api-key"
)

// server is our own Centrifugo: memory engine, config in a temp dir, one
// port on 127.0.0.1 for WebSocket and HTTP API.
type server struct {
	proc *testkit.Process
	port int
}

// Namespaces: chat keeps history and forces recovery; lobby has join and
// leave pushes. Clients may subscribe and publish in both. The server pings
// every 2 s and drops a client that does not pong within 1 s.
const serverConfig = `{
  "http_server": {"address": "127.0.0.1", "port": %d},
  "client": {
    "token": {"hmac_secret_key": %q},
    "ping_interval": %q,
    "pong_timeout": %q,
    "allowed_origins": ["*"]
  },
  "http_api": {"key": %q},
  "usage_stats": {"disabled": true},
  "channel": {"namespaces": [
    {"name": "chat", "allow_subscribe_for_client": true, "allow_publish_for_client": true,
     "history_size": 100, "history_ttl": "300s", "force_recovery": true},
    {"name": "lobby", "allow_subscribe_for_client": true, "allow_publish_for_client": true,
     "join_leave": true, "force_push_join_leave": true}
  ]}
}`

func startServer(t *testing.T) *server {
	t.Helper()
	return startServerPings(t, "2s", "1s")
}

// startServerPings starts a server that pings every ping and drops a
// client whose pong takes longer than pong.
func startServerPings(t *testing.T, ping, pong string) *server {
	t.Helper()
	bin := testkit.NeedBinary(t, "centrifugo")
	s := &server{port: testkit.FreePort(t)}
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(serverConfig, s.port, hmacSecret, ping, pong, apiKey)), 0o600); err != nil {
		t.Fatal(err)
	}
	s.proc = testkit.StartProcess(t, testkit.Proc{
		Name: "centrifugo", Path: bin, Args: []string{"--config", path}, Dir: dir,
		Ready: func() error {
			_, err := s.api("info", map[string]any{})
			return err
		},
	})
	return s
}

func (s *server) url() string {
	return fmt.Sprintf("ws://127.0.0.1:%d/connection/websocket", s.port)
}

// api calls the server API method with params and returns its result.
func (s *server) api(method string, params any) (json.RawMessage, error) {
	body, _ := json.Marshal(params)
	req, err := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/api/%s", s.port, method), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-API-Key", apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &r) != nil {
		return nil, fmt.Errorf("api %s: HTTP %d %s", method, resp.StatusCode, b)
	}
	if r.Error != nil {
		return nil, fmt.Errorf("api %s: %d %s", method, r.Error.Code, r.Error.Message)
	}
	return r.Result, nil
}

func (s *server) publish(t *testing.T, channel string, data any) {
	t.Helper()
	if _, err := s.api("publish", map[string]any{"channel": channel, "data": data}); err != nil {
		t.Fatal(err)
	}
}

// waitChannel waits until channel has a subscriber (wsmon).
func (s *server) waitChannel(t *testing.T, channel string) {
	t.Helper()
	testkit.WaitFor(t, 10*time.Second, "a subscriber in "+channel, func() bool {
		r, err := s.api("channels", map[string]any{})
		return err == nil && strings.Contains(string(r), jsonString(channel))
	})
}

// token returns an HS256 connection JWT for user, expiring at exp (0 for
// never), signed with secret.
func token(user string, exp int64, secret string) string {
	claims := map[string]any{"sub": user}
	if exp != 0 {
		claims["exp"] = exp
	}
	c, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	unsigned := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(c)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

// client is a second Centrifugo connection: a chat user who publishes or
// joins a channel.
type client struct {
	t  *testing.T
	c  *websocket.Conn
	id int
}

func dialClient(t *testing.T, s *server, user string) *client {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial(s.url(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cl := &client{t: t, c: c}
	t.Cleanup(func() { c.Close() })
	cl.call(`"connect":{"token":` + jsonString(token(user, 0, hmacSecret)) + `}`)
	return cl
}

// call sends a command and waits for its reply, answering pings.
func (cl *client) call(body string) {
	cl.t.Helper()
	cl.id++
	if err := cl.c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"id":%d,%s}`, cl.id, body))); err != nil {
		cl.t.Fatal(err)
	}
	cl.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	prefix := fmt.Sprintf(`{"id":%d,`, cl.id)
	for {
		_, d, err := cl.c.ReadMessage()
		if err != nil {
			cl.t.Fatalf("client: %v", err)
		}
		for _, line := range strings.Split(string(d), "\n") {
			switch {
			case line == "{}":
				cl.c.WriteMessage(websocket.TextMessage, []byte("{}"))
			case strings.HasPrefix(line, prefix) && strings.Contains(line, `"error"`):
				cl.t.Fatalf("client: %s", line)
			case strings.HasPrefix(line, prefix):
				return
			}
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// monitor returns a wsmon config for s as user "wsmon".
func monitorConfig(t *testing.T, s *server, channels ...string) config.Config {
	cfg := testkit.Config(t, s.url())
	cfg.Protocol = "centrifugo"
	cfg.Subscribe = channels
	cfg.Auth = map[string]string{"token": token("wsmon", 0, hmacSecret)}
	return cfg
}

// TestChatSet: the fixed set published through the server API as chat
// documents, and by a connected user as plain strings, is stored once
// each, byte for byte, with the right user and room, and nothing else
// (no ping, reply or wsmon's own join).
func TestChatSet(t *testing.T) {
	s := startServer(t)
	m := testkit.Start(t, monitorConfig(t, s, "chat:room1", "chat:room2", "lobby:main"))
	m.WaitConnected(t, 15*time.Second)
	s.waitChannel(t, "chat:room1")
	s.waitChannel(t, "chat:room2")
	pub := dialClient(t, s, "42")
	var want []testkit.Want
	reasons := map[string]string{}
	for _, text := range testkit.ChatSet() {
		reasons[testkit.StoredText(text)] = testkit.StoredReason(text)
		s.publish(t, "chat:room1", map[string]any{"user": "alice", "text": text})
		pub.call(`"publish":{"channel":"chat:room2","data":` + jsonString(text) + `}`)
		want = append(want, testkit.Want{Content: testkit.StoredText(text), User: "alice", Room: "chat:room1"},
			testkit.Want{Content: testkit.StoredText(text), User: "42", Room: "chat:room2"})
	}
	m.WaitMessages(t, len(want), 15*time.Second)
	time.Sleep(300 * time.Millisecond) // anything extra would arrive now
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	got := m.Messages(t)
	testkit.CheckSet(t, got, want)
	for _, g := range got {
		if g.Type != "chat" || g.Reason != reasons[g.Content] || !strings.HasPrefix(g.ExtID, g.Room+":") {
			t.Errorf("%.30q stored as type %s reason %q ext id %q", g.Content, g.Type, g.Reason, g.ExtID)
		}
	}
	ss := m.Sessions(t)
	if len(ss) != 1 || ss[0].Protocol != "centrifugo" || ss[0].Control < 4 {
		t.Errorf("sessions %+v, want one centrifugo session with its replies as control", ss)
	}
}

// TestJoinLeave: another user joining and leaving a join_leave channel is
// stored as a join and a leave of that user.
func TestJoinLeave(t *testing.T) {
	s := startServer(t)
	m := testkit.Start(t, monitorConfig(t, s, "lobby:main"))
	m.WaitConnected(t, 15*time.Second)
	s.waitChannel(t, "lobby:main")
	cl := dialClient(t, s, "42")
	cl.call(`"subscribe":{"channel":"lobby:main"}`)
	cl.c.Close()
	got := m.WaitMessages(t, 2, 15*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	got = m.Messages(t)
	testkit.CheckSet(t, got, []testkit.Want{{User: "42", Room: "lobby:main"}, {User: "42", Room: "lobby:main"}})
	if got[0].Type != "join" || got[1].Type != "leave" {
		t.Errorf("types %s, %s; want join, leave", got[0].Type, got[1].Type)
	}
}

// TestHeartbeat: the server pings every 2 s and disconnects a client that
// does not pong within 1 s; wsmon answers, so one session lives through
// 10 s of silence and still captures afterwards.
func TestHeartbeat(t *testing.T) {
	if testing.Short() {
		t.Skip("idle wait")
	}
	s := startServer(t)
	m := testkit.Start(t, monitorConfig(t, s, "chat:a"))
	m.WaitConnected(t, 15*time.Second)
	s.waitChannel(t, "chat:a")
	before := m.Status().TotalControl
	time.Sleep(10 * time.Second)
	st := m.Status()
	if st.State != capture.StateConnected || st.Reconnects != 0 || st.Session != 1 {
		t.Fatalf("after idling: %+v", st)
	}
	if st.TotalControl-before < 4 {
		t.Errorf("%d control frames while idle, want the server's pings (4 or more)", st.TotalControl-before)
	}
	s.publish(t, "chat:a", map[string]any{"user": "bob", "text": "still here"})
	m.WaitMessages(t, 1, 10*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "still here", User: "bob", Room: "chat:a"}})
	if ss := m.Sessions(t); len(ss) != 1 {
		t.Errorf("sessions %+v, want 1", ss)
	}
}

// TestHeartbeatDefaults: with Centrifugo's default pings (every 25 s, pong
// within 8 s, else close 3012 "no pong") a connection idle for 60 s stays
// up. Long-running (skipped with -short), runs in CI.
func TestHeartbeatDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("idles 60 s")
	}
	s := startServerPings(t, "25s", "8s")
	m := testkit.Start(t, monitorConfig(t, s, "chat:a"))
	m.WaitConnected(t, 15*time.Second)
	s.waitChannel(t, "chat:a")
	time.Sleep(60 * time.Second)
	st := m.Status()
	if st.State != capture.StateConnected || st.Reconnects != 0 || st.Session != 1 {
		t.Fatalf("after idling 60 s: %+v", st)
	}
	s.publish(t, "chat:a", map[string]any{"user": "bob", "text": "after 60 s"})
	m.WaitMessages(t, 1, 10*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "after 60 s", User: "bob", Room: "chat:a"}})
}

// TestRecovery: the server disconnects wsmon (asking it to reconnect);
// what is published before wsmon is back is recovered from the channel's
// history when it resubscribes, and stored once.
func TestRecovery(t *testing.T) {
	s := startServer(t)
	cfg := monitorConfig(t, s, "chat:a")
	cfg.ReconnectInterval, cfg.ReconnectMaxInterval = 3, 3 // back in 1.5-3 s
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 15*time.Second)
	s.waitChannel(t, "chat:a")
	s.publish(t, "chat:a", map[string]any{"user": "bob", "text": "live"})
	m.WaitMessages(t, 1, 10*time.Second)
	if _, err := s.api("disconnect", map[string]any{"user": "wsmon", "disconnect": map[string]any{"code": 3011, "reason": "force reconnect"}}); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 5*time.Second, "disconnect", func() bool { return m.Status().State != capture.StateConnected })
	s.publish(t, "chat:a", map[string]any{"user": "bob", "text": "missed 1"})
	s.publish(t, "chat:a", map[string]any{"user": "bob", "text": "missed 2"})
	m.WaitMessages(t, 3, 15*time.Second)
	s.publish(t, "chat:a", map[string]any{"user": "bob", "text": "live again"})
	m.WaitMessages(t, 4, 10*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	got := m.Messages(t)
	first := got[0].Session
	testkit.CheckSet(t, got, []testkit.Want{
		{Content: "live", User: "bob", Room: "chat:a"},
		{Content: "missed 1", User: "bob", Room: "chat:a"},
		{Content: "missed 2", User: "bob", Room: "chat:a"},
		{Content: "live again", User: "bob", Room: "chat:a"},
	})
	for _, g := range got {
		recovered := strings.HasPrefix(string(g.Raw), `{"data"`) // a publication out of a subscribe reply
		if recovered != strings.HasPrefix(g.Content, "missed") {
			t.Errorf("%q: raw %q (recovered %v)", g.Content, g.Raw, recovered)
		}
		if recovered && g.Session == first {
			t.Errorf("%q recovered in the first session", g.Content)
		}
	}
}

// TestRestart: the server is killed and started again on the same port
// (a new stream epoch: history is lost, offsets start again at 1); wsmon
// reconnects, subscribes again and stores what is published next, which
// is not mistaken for a repeat of the old offset 1.
func TestRestart(t *testing.T) {
	s := startServer(t)
	m := testkit.Start(t, monitorConfig(t, s, "chat:a"))
	m.WaitConnected(t, 15*time.Second)
	s.waitChannel(t, "chat:a")
	s.publish(t, "chat:a", map[string]any{"user": "bob", "text": "before"})
	m.WaitMessages(t, 1, 10*time.Second)
	s.proc.Restart(t)
	testkit.WaitFor(t, 15*time.Second, "reconnect", func() bool {
		st := m.Status()
		return st.Session >= 2 && st.State == capture.StateConnected
	})
	s.waitChannel(t, "chat:a")
	s.publish(t, "chat:a", map[string]any{"user": "bob", "text": "after"})
	m.WaitMessages(t, 2, 10*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	got := m.Messages(t)
	testkit.CheckSet(t, got, []testkit.Want{
		{Content: "before", User: "bob", Room: "chat:a"},
		{Content: "after", User: "bob", Room: "chat:a"},
	})
	if got[0].ExtID == got[1].ExtID || !strings.HasSuffix(got[0].ExtID, ":1") || !strings.HasSuffix(got[1].ExtID, ":1") {
		t.Errorf("ext ids %q, %q: want offset 1 of two different epochs", got[0].ExtID, got[1].ExtID)
	}
}

// TestRefusals: an expired token, a channel of an unknown namespace, and a
// token with a bad signature stop the target with the server's reason
// instead of reconnecting.
func TestRefusals(t *testing.T) {
	s := startServer(t)
	tests := []struct {
		name     string
		token    string
		channels []string
		want     string
	}{
		{"expired token", token("wsmon", time.Now().Add(-time.Hour).Unix(), hmacSecret), []string{"chat:a"}, "token expired (109)"},
		{"unknown namespace", token("wsmon", 0, hmacSecret), []string{"chat:a", "nope:x"}, `subscribe to channel "nope:x": unknown channel (102)`},
		{"bad signature", token("wsmon", 0, "wrong-secret"), []string{"chat:a"}, "invalid token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := monitorConfig(t, s, tt.channels...)
			cfg.Auth = map[string]string{"token": tt.token}
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

// TestAuto: protocol auto picks centrifugo from the /connection/websocket
// path.
func TestAuto(t *testing.T) {
	s := startServer(t)
	cfg := monitorConfig(t, s, "chat:a")
	cfg.Protocol = "auto"
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 15*time.Second)
	s.waitChannel(t, "chat:a")
	s.publish(t, "chat:a", map[string]any{"user": "bob", "text": "auto"})
	m.WaitMessages(t, 1, 10*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "auto", User: "bob", Room: "chat:a"}})
	if ss := m.Sessions(t); len(ss) != 1 || ss[0].Protocol != "centrifugo" {
		t.Errorf("sessions %+v, want one centrifugo session", ss)
	}
}
