package mqtt_test

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/capture"
	"github.com/wsmon/wsmon/internal/testkit"
)

// These tests run wsmon as production composes it against Debian's
// mosquitto, started per test on free loopback ports with a config of its
// own: a websockets listener for wsmon and a plain MQTT listener for the
// test's publisher (a tiny MQTT client below).

type broker struct {
	proc    *testkit.Process
	ws, tcp int
}

// brokerOpts configure the broker of one test.
type brokerOpts struct {
	dynsec string // a dynamic-security JSON file: credentials and ACLs; "" for anonymous access
}

func startBroker(t *testing.T, o brokerOpts) *broker {
	t.Helper()
	bin := testkit.NeedBinary(t, "mosquitto")
	dir := t.TempDir()
	b := &broker{ws: testkit.FreePort(t), tcp: testkit.FreePort(t)}
	conf := []string{
		"user root", // keep root's access to the temp dir (ignored when not root)
		"per_listener_settings false",
		"persistence false",
		"log_dest stdout",
		"log_type error", "log_type warning", "log_type notice", "log_type information",
		"connection_messages true",
	}
	if o.dynsec != "" {
		plugins, _ := filepath.Glob("/usr/lib/*/mosquitto_dynamic_security.so")
		if len(plugins) == 0 {
			t.Fatal("mosquitto_dynamic_security.so not found (Debian's mosquitto package ships it)")
		}
		conf = append(conf, "allow_anonymous false", "plugin "+plugins[0], "plugin_opt_config_file "+o.dynsec)
	} else {
		conf = append(conf, "allow_anonymous true")
	}
	conf = append(conf,
		// socket_domain ipv4 makes libwebsockets bind the address given;
		// without it mosquitto 2.0's websockets listener binds every
		// interface.
		fmt.Sprintf("listener %d 127.0.0.1", b.ws), "socket_domain ipv4", "protocol websockets",
		fmt.Sprintf("listener %d 127.0.0.1", b.tcp), "protocol mqtt")
	path := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b.proc = testkit.StartProcess(t, testkit.Proc{
		Name: "mosquitto",
		Path: bin,
		Args: []string{"-c", path},
		Ready: func() error {
			for _, p := range []int{b.ws, b.tcp} {
				c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p), 200*time.Millisecond)
				if err != nil {
					return err
				}
				c.Close()
			}
			return nil
		},
	})
	return b
}

func (b *broker) url() string { return fmt.Sprintf("ws://127.0.0.1:%d/mqtt", b.ws) }

// dynsecFile writes a dynamic-security config with two clients: wsmon
// (password s3cret), who may subscribe to chat/# only, and pub (pubpw),
// who may publish anywhere. mosquitto_ctrl makes the password hashes.
func dynsecFile(t *testing.T) string {
	t.Helper()
	ctrl := testkit.NeedBinary(t, "mosquitto_ctrl")
	dir := t.TempDir()
	client := func(user, pass, role string) map[string]any {
		f := filepath.Join(dir, user+".json")
		if out, err := exec.Command(ctrl, "dynsec", "init", f, user, pass).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_ctrl dynsec init: %v\n%s", err, out)
		}
		var doc struct{ Clients []map[string]any }
		b, err := os.ReadFile(f)
		if err == nil {
			err = json.Unmarshal(b, &doc)
		}
		if err != nil || len(doc.Clients) != 1 {
			t.Fatalf("dynsec init wrote %s: %v", b, err)
		}
		c := doc.Clients[0]
		c["roles"] = []any{map[string]any{"rolename": role}}
		return c
	}
	acl := func(typ, topic string) map[string]any {
		return map[string]any{"acltype": typ, "topic": topic, "allow": true}
	}
	doc := map[string]any{
		"clients": []any{client("wsmon", "s3cret", "reader"), client("pub", "pubpw", "writer")},
		"roles": []any{
			map[string]any{"rolename": "reader", "acls": []any{acl("subscribePattern", "chat/#"), acl("publishClientReceive", "#")}},
			map[string]any{"rolename": "writer", "acls": []any{acl("publishClientSend", "#")}},
		},
		"defaultACLAccess": map[string]any{"publishClientSend": false, "publishClientReceive": true, "subscribe": false, "unsubscribe": true},
	}
	b, _ := json.Marshal(doc)
	f := filepath.Join(dir, "dynsec.json")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// publisher is a minimal MQTT client over TCP for the test's messages.
type publisher struct {
	c   net.Conn
	r   *bufio.Reader
	v5  bool
	pid uint16
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendLen(b []byte, n int) []byte {
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			return b
		}
	}
}

func mqttPacket(first byte, body []byte) []byte {
	return append(appendLen([]byte{first}, len(body)), body...)
}

func (p *publisher) read(t *testing.T) (byte, []byte) {
	t.Helper()
	p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	first, err := p.r.ReadByte()
	if err != nil {
		t.Fatalf("publisher: %v", err)
	}
	n, shift := 0, 0
	for {
		c, err := p.r.ReadByte()
		if err != nil {
			t.Fatalf("publisher: %v", err)
		}
		n |= int(c&0x7f) << shift
		shift += 7
		if c&0x80 == 0 {
			break
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(p.r, body); err != nil {
		t.Fatalf("publisher: %v", err)
	}
	return first, body
}

func dialPublisher(t *testing.T, b *broker, v5 bool, user, pass string) *publisher {
	t.Helper()
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(b.tcp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &publisher{c: c, r: bufio.NewReader(c), v5: v5}
	level, flags := byte(4), byte(0x02)
	if v5 {
		level = 5
	}
	if user != "" {
		flags |= 0xc0
	}
	body := append(appendStr(nil, "MQTT"), level, flags, 0, 60)
	if v5 {
		body = append(body, 0)
	}
	body = appendStr(body, fmt.Sprintf("pub-%d", time.Now().UnixNano()%1e9))
	if user != "" {
		body = appendStr(appendStr(body, user), pass)
	}
	if _, err := c.Write(mqttPacket(0x10, body)); err != nil {
		t.Fatal(err)
	}
	if typ, ack := p.read(t); typ != 0x20 || len(ack) < 2 || ack[1] != 0 {
		t.Fatalf("publisher CONNACK % x % x", typ, ack)
	}
	return p
}

// msg is one message to publish. MQTT 5 only: contentType and sender (a
// user property) when set.
type msg struct {
	topic, payload      string
	qos                 byte
	retain              bool
	contentType, sender string
}

func (p *publisher) publish(t *testing.T, m msg) {
	t.Helper()
	body := appendStr(nil, m.topic)
	if m.qos > 0 {
		p.pid++
		body = binary.BigEndian.AppendUint16(body, p.pid)
	}
	if p.v5 {
		var props []byte
		if m.contentType != "" {
			props = appendStr(append(props, 0x03), m.contentType)
		}
		if m.sender != "" {
			props = appendStr(appendStr(append(props, 0x26), "sender"), m.sender)
		}
		body = append(appendLen(body, len(props)), props...)
	}
	body = append(body, m.payload...)
	first := 0x30 | m.qos<<1
	if m.retain {
		first |= 0x01
	}
	if _, err := p.c.Write(mqttPacket(first, body)); err != nil {
		t.Fatal(err)
	}
	if m.qos == 1 {
		if typ, ack := p.read(t); typ != 0x40 || binary.BigEndian.Uint16(ack) != p.pid {
			t.Fatalf("publisher PUBACK % x % x", typ, ack)
		}
	}
}

// waitSubscribed waits until the target's session is ready and the broker
// acknowledged n subscriptions (CONNACK and n SUBACKs are control frames),
// counted from control frames seen before, so nothing published is missed.
func waitSubscribed(t *testing.T, m *testkit.Monitor, before int64, n int) {
	t.Helper()
	waitTarget(t, m)
	m.WaitConnected(t, 15*time.Second)
	testkit.WaitFor(t, 10*time.Second, fmt.Sprintf("CONNACK and %d SUBACKs", n), func() bool {
		return m.Status().TotalControl >= before+1+int64(n)
	})
}

// waitTarget waits until the monitor runs its target (the runners start
// just after testkit.Start returns).
func waitTarget(t *testing.T, m *testkit.Monitor) {
	t.Helper()
}

func jsonDoc(v map[string]string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestChatSet: the fixed set, as JSON chat documents and as plain text,
// published at QoS 0 and 1 over MQTT 3.1, 3.1.1 and 5, is stored once each,
// byte for byte, with its user and room (the topic, or the document's
// room), and nothing else: no CONNACK, SUBACK or PINGRESP, and no message
// on a topic wsmon did not subscribe to.
func TestChatSet(t *testing.T) {
	tests := []struct {
		name    string
		version float64
		qos     byte
		json    bool // publish JSON documents
		text    bool // publish plain text (MQTT 5: with content type text/plain and a sender user property)
	}{
		{"3.1 qos0 json", 3, 0, true, false},
		{"3.1.1 qos0 json", 4, 0, true, false},
		{"3.1.1 qos1 text", 4, 1, false, true},
		{"5 qos0 json and text", 5, 0, true, true},
		{"5 qos1 json and text", 5, 1, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := startBroker(t, brokerOpts{})
			cfg := testkit.Config(t, b.url())
			cfg.Protocol = "mqtt"
			cfg.Subscribe = []string{"chat/lobby", "chat/plain/#"}
			cfg.Options = map[string]any{"version": tt.version, "qos": float64(tt.qos), "keepalive": 5.0}
			if tt.version == 5 {
				cfg.Options["user_property"] = "sender"
			} else if tt.text {
				cfg.Options["payload_format"] = "text"
			}
			m := testkit.Start(t, cfg)
			waitSubscribed(t, m, 0, 2)

			v5 := tt.version == 5
			p := dialPublisher(t, b, v5, "", "")
			var want []testkit.Want
			for i, text := range testkit.ChatSet() {
				user := []string{"alice", "小明"}[i%2]
				if tt.json {
					doc := map[string]string{"user": user, "text": text}
					room := "chat/lobby"
					if i == 1 {
						doc["room"], room = "大厅", "大厅" // the document's room wins over the topic
					}
					p.publish(t, msg{topic: "chat/lobby", payload: jsonDoc(doc), qos: tt.qos})
					want = append(want, testkit.Want{Content: testkit.StoredText(text), User: user, Room: room})
				}
				if tt.text {
					mm := msg{topic: "chat/plain/" + strconv.Itoa(i), payload: text, qos: tt.qos}
					w := testkit.Want{Content: testkit.StoredText(text), Room: mm.topic}
					if v5 {
						mm.contentType, mm.sender, w.User = "text/plain", user, user
					}
					p.publish(t, mm)
					want = append(want, w)
				}
			}
			p.publish(t, msg{topic: "other/room", payload: `{"user":"x","text":"not subscribed"}`, qos: tt.qos})
			m.WaitMessages(t, len(want), 15*time.Second)
			time.Sleep(300 * time.Millisecond) // anything more would be stored by now
			if err := m.Stop(t); err != nil {
				t.Fatal(err)
			}
			got := m.Messages(t)
			testkit.CheckSet(t, got, want)
			for _, g := range got {
				if g.Type != "chat" || g.ExtID != "" {
					t.Errorf("%q stored as type %s ext_id %q", testkit.StoredText(g.Content)[:min(len(g.Content), 20)], g.Type, g.ExtID)
				}
			}
			ss := m.Sessions(t)
			if len(ss) != 1 || ss[0].Protocol != "mqtt" || ss[0].Control < 3 {
				t.Errorf("sessions = %+v, want one mqtt session with CONNACK and SUBACKs as control", ss)
			}
		})
	}
}

// TestHeartbeat: mosquitto drops a client that sends nothing for 1.5 times
// its keep-alive. With a 2 s keep-alive, 8 s without traffic end no
// session: PINGREQ goes out every 1.5 s and PINGRESPs are control.
func TestHeartbeat(t *testing.T) {
	if testing.Short() {
		t.Skip("idle wait")
	}
	for _, v := range []float64{4, 5} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			b := startBroker(t, brokerOpts{})
			cfg := testkit.Config(t, b.url())
			cfg.Protocol = "mqtt"
			cfg.Subscribe = []string{"chat/#"}
			cfg.Options = map[string]any{"version": v, "keepalive": 2.0}
			cfg.PingInterval, cfg.PongTimeout = 60, 120 // only MQTT's own keep-alive keeps the session
			m := testkit.Start(t, cfg)
			waitSubscribed(t, m, 0, 1)
			time.Sleep(8 * time.Second)
			p := dialPublisher(t, b, v == 5, "", "")
			p.publish(t, msg{topic: "chat/a", payload: `{"user":"bob","text":"still here"}`})
			m.WaitMessages(t, 1, 10*time.Second)
			st := m.Status()
			if err := m.Stop(t); err != nil {
				t.Fatal(err)
			}
			testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "still here", User: "bob", Room: "chat/a"}})
			if ss := m.Sessions(t); len(ss) != 1 || st.Reconnects != 0 {
				t.Errorf("sessions = %+v, reconnects %d: want 1 session", ss, st.Reconnects)
			}
			if st.TotalControl < 2+4 { // CONNACK, SUBACK and a PINGRESP every 1.5 s
				t.Errorf("only %d control frames: were PINGREQs sent?", st.TotalControl)
			}
		})
	}
}

// TestHeartbeatDefaultKeepalive: with the default keep-alive (60 s, so
// mosquitto drops a client that sends nothing for 90 s) a connection idle
// for 100 s stays up: wsmon's PINGREQs carry it. Long-running (skipped with
// -short), runs in CI.
func TestHeartbeatDefaultKeepalive(t *testing.T) {
	if testing.Short() {
		t.Skip("idles 100 s")
	}
	b := startBroker(t, brokerOpts{})
	cfg := testkit.Config(t, b.url())
	cfg.Protocol = "mqtt"
	cfg.Subscribe = []string{"chat/#"}
	cfg.PingInterval, cfg.PongTimeout = 60, 120
	m := testkit.Start(t, cfg)
	waitSubscribed(t, m, 0, 1)
	time.Sleep(100 * time.Second)
	dialPublisher(t, b, false, "", "").publish(t, msg{topic: "chat/a", payload: `{"user":"bob","text":"after 100 s"}`})
	m.WaitMessages(t, 1, 10*time.Second)
	st := m.Status()
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "after 100 s", User: "bob", Room: "chat/a"}})
	if ss := m.Sessions(t); len(ss) != 1 || st.Reconnects != 0 {
		t.Errorf("sessions = %+v, reconnects %d: want 1 session", ss, st.Reconnects)
	}
}

// TestRestart: the broker is killed and started again on the same ports
// (without persistence: it forgets every subscription); the target
// reconnects, subscribes again and captures.
func TestRestart(t *testing.T) {
	b := startBroker(t, brokerOpts{})
	cfg := testkit.Config(t, b.url())
	cfg.Protocol = "mqtt"
	cfg.Subscribe = []string{"chat/#"}
	cfg.Options = map[string]any{"qos": 1.0}
	m := testkit.Start(t, cfg)
	waitSubscribed(t, m, 0, 1)
	dialPublisher(t, b, false, "", "").publish(t, msg{topic: "chat/a", payload: `{"user":"a","text":"before"}`, qos: 1})
	m.WaitMessages(t, 1, 10*time.Second)

	control := m.Status().TotalControl
	b.proc.Restart(t)
	testkit.WaitFor(t, 15*time.Second, "a reconnect", func() bool { return m.Status().Reconnects >= 1 })
	waitSubscribed(t, m, control, 1)
	dialPublisher(t, b, false, "", "").publish(t, msg{topic: "chat/b", payload: `{"user":"a","text":"after"}`, qos: 1})
	m.WaitMessages(t, 2, 10*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "before", User: "a", Room: "chat/a"}, {Content: "after", User: "a", Room: "chat/b"}})
	if ss := m.Sessions(t); len(ss) < 2 {
		t.Errorf("sessions = %+v, want a second one after the restart", ss)
	}
}

// TestRetained: the message mosquitto retained for a topic is replayed at
// every subscription; with retained "keep" it is stored, with "skip" it is
// not (MQTT 5: the broker is asked not to send it; 3.1.1: it arrives with
// the RETAIN flag and is control), while live messages are stored.
func TestRetained(t *testing.T) {
	for _, tt := range []struct {
		version float64
		mode    string
	}{{4, "keep"}, {4, "skip"}, {5, "keep"}, {5, "skip"}} {
		t.Run(fmt.Sprint(tt.version, " ", tt.mode), func(t *testing.T) {
			b := startBroker(t, brokerOpts{})
			p := dialPublisher(t, b, false, "", "")
			p.publish(t, msg{topic: "chat/a", payload: `{"user":"a","text":"retained"}`, qos: 1, retain: true})
			cfg := testkit.Config(t, b.url())
			cfg.Protocol = "mqtt"
			cfg.Subscribe = []string{"chat/#"}
			cfg.Options = map[string]any{"version": tt.version, "retained": tt.mode}
			m := testkit.Start(t, cfg)
			waitSubscribed(t, m, 0, 1)
			p.publish(t, msg{topic: "chat/a", payload: `{"user":"a","text":"live"}`, qos: 1})
			want := []testkit.Want{{Content: "live", User: "a", Room: "chat/a"}}
			if tt.mode == "keep" {
				want = append(want, testkit.Want{Content: "retained", User: "a", Room: "chat/a"})
			}
			m.WaitMessages(t, len(want), 10*time.Second)
			time.Sleep(300 * time.Millisecond)
			if err := m.Stop(t); err != nil {
				t.Fatal(err)
			}
			testkit.CheckSet(t, m.Messages(t), want)
		})
	}
}

// TestAuth: with credentials (dynamic security) the target captures; a
// wrong password, and a subscription the ACL denies, stop the target with
// the broker's reason and no reconnect storm.
func TestAuth(t *testing.T) {
	b := startBroker(t, brokerOpts{dynsec: dynsecFile(t)})
	t.Run("good", func(t *testing.T) {
		cfg := testkit.Config(t, b.url())
		cfg.Protocol = "mqtt"
		cfg.Subscribe = []string{"chat/#"}
		cfg.Auth = map[string]string{"username": "wsmon", "password": "s3cret"}
		m := testkit.Start(t, cfg)
		waitSubscribed(t, m, 0, 1)
		dialPublisher(t, b, false, "pub", "pubpw").publish(t, msg{topic: "chat/a", payload: `{"user":"a","text":"authorised"}`})
		m.WaitMessages(t, 1, 10*time.Second)
		if err := m.Stop(t); err != nil {
			t.Fatal(err)
		}
		testkit.CheckSet(t, m.Messages(t), []testkit.Want{{Content: "authorised", User: "a", Room: "chat/a"}})
	})
	tests := []struct {
		name      string
		version   float64
		password  string
		subscribe []string
		reason    string
	}{
		{"3.1.1 wrong password", 4, "wrong", []string{"chat/#"}, "CONNACK not authorized (5)"},
		{"5 wrong password", 5, "wrong", []string{"chat/#"}, "CONNACK not authorized (0x87)"},
		{"3.1.1 denied subscription", 4, "s3cret", []string{"chat/#", "secret/#"}, `subscription to "secret/#" refused: failure (0x80)`},
		{"5 denied subscription", 5, "s3cret", []string{"chat/#", "secret/#"}, `subscription to "secret/#" refused: not authorized (0x87)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testkit.Config(t, b.url())
			cfg.Protocol = "mqtt"
			cfg.Subscribe = tt.subscribe
			cfg.Auth = map[string]string{"username": "wsmon", "password": tt.password}
			cfg.Options = map[string]any{"version": tt.version}
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
