package app_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/rules"
	"github.com/wsmon/wsmon/internal/testkit"
)

// startMosquitto starts Debian's mosquitto on two free loopback ports: a
// websockets listener (for wsmon) and a plain MQTT one (for the test's
// client). It returns the WebSocket URL and the MQTT address.
func startMosquitto(t *testing.T) (wsURL, tcpAddr string) {
	t.Helper()
	bin := testkit.NeedBinary(t, "mosquitto")
	ws, tcp := testkit.FreePort(t), testkit.FreePort(t)
	conf := strings.Join([]string{
		"user root", "per_listener_settings false", "persistence false", "allow_anonymous true",
		"log_dest stdout", "log_type error", "log_type warning",
		fmt.Sprintf("listener %d 127.0.0.1", ws), "socket_domain ipv4", "protocol websockets",
		fmt.Sprintf("listener %d 127.0.0.1", tcp), "protocol mqtt",
	}, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	testkit.StartProcess(t, testkit.Proc{Name: "mosquitto", Path: bin, Args: []string{"-c", path},
		Ready: func() error {
			for _, p := range []int{ws, tcp} {
				c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p), 200*time.Millisecond)
				if err != nil {
					return err
				}
				c.Close()
			}
			return nil
		}})
	return fmt.Sprintf("ws://127.0.0.1:%d/mqtt", ws), "127.0.0.1:" + strconv.Itoa(tcp)
}

// mqttClient is a minimal MQTT 3.1.1 client over TCP: QoS 0 only.
type mqttClient struct {
	c net.Conn
	r *bufio.Reader
}

func mqttStr(b []byte, s string) []byte {
	return append(binary.BigEndian.AppendUint16(b, uint16(len(s))), s...)
}

func (m *mqttClient) write(t *testing.T, first byte, body []byte) {
	t.Helper()
	pk := []byte{first}
	for n := len(body); ; {
		c := byte(n & 0x7f)
		if n >>= 7; n > 0 {
			c |= 0x80
		}
		if pk = append(pk, c); n == 0 {
			break
		}
	}
	if _, err := m.c.Write(append(pk, body...)); err != nil {
		t.Fatal(err)
	}
}

func (m *mqttClient) read(t *testing.T) (byte, []byte) {
	t.Helper()
	m.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	first, err := m.r.ReadByte()
	n := 0
	for shift := 0; err == nil; shift += 7 {
		var c byte
		if c, err = m.r.ReadByte(); err == nil {
			n |= int(c&0x7f) << shift
			if c&0x80 == 0 {
				break
			}
		}
	}
	body := make([]byte, n)
	if err == nil {
		_, err = io.ReadFull(m.r, body)
	}
	if err != nil {
		t.Fatalf("mqtt client: %v", err)
	}
	return first, body
}

func dialMQTT(t *testing.T, addr, filter string) *mqttClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	m := &mqttClient{c: c, r: bufio.NewReader(c)}
	m.write(t, 0x10, mqttStr(append(mqttStr(nil, "MQTT"), 4, 0x02, 0, 60), "app-test"))
	if typ, _ := m.read(t); typ != 0x20 {
		t.Fatalf("CONNACK: %#x", typ)
	}
	m.write(t, 0x82, append(mqttStr([]byte{0, 1}, filter), 0))
	if typ, _ := m.read(t); typ != 0x90 {
		t.Fatalf("SUBACK: %#x", typ)
	}
	return m
}

// next returns the next PUBLISH's topic and payload.
func (m *mqttClient) next(t *testing.T) (string, string) {
	t.Helper()
	for {
		if typ, body := m.read(t); typ>>4 == 3 {
			n := int(binary.BigEndian.Uint16(body))
			return string(body[2 : 2+n]), string(body[2+n:])
		}
	}
}

// TestAutomaticReplyMQTT: the automatic response on a structured protocol.
// On an MQTT target with auto_reply, a keyword rule's reply is published
// by the target's MQTT session (a PUBLISH, not the raw text) to the topic
// of the message it answers; mosquitto delivers it to another client and
// back to wsmon, which stores the echo as a message; the alert records
// the reply beside the message that triggered it (its id, user, room and
// content); and the echo, though it holds both rules' keywords, is never
// evaluated: no second reply, no alert of the rule that would catch it.
func TestAutomaticReplyMQTT(t *testing.T) {
	wsURL, tcpAddr := startMosquitto(t)
	cfg := testkit.Config(t, wsURL)
	cfg.Protocol = "mqtt"
	cfg.Subscribe = []string{"chat/#"}
	cfg.AutoReply = true
	cfg.Rules = []rules.Rule{
		{Name: "greet", Type: "keyword", Keywords: []string{"你好"}, Cooldown: 1,
			Reply: `{"user":"wsmon-bot","text":"收到 {{.User}} 的 你好"}`},
		{Name: "echo-catcher", Type: "keyword", Keywords: []string{"收到"}, Cooldown: 1},
	}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 15*time.Second)
	testkit.WaitFor(t, 10*time.Second, "CONNACK and SUBACK", func() bool { return m.Status().TotalControl >= 2 })
	api := "http://" + m.WebAddr()

	other := dialMQTT(t, tcpAddr, "chat/#")
	other.write(t, 0x30, append(mqttStr(nil, "chat/lobby"), `{"user":"alice","text":"你好 \"quoted\""}`...))
	other.next(t) // its own message
	reply := `{"user":"wsmon-bot","text":"收到 alice 的 你好"}`
	if topic, payload := other.next(t); topic != "chat/lobby" || payload != reply {
		t.Fatalf("the other client got %s %s, want the reply on chat/lobby", topic, payload)
	}

	stored := m.WaitMessages(t, 2, 10*time.Second)
	trigger, echo := stored[0], stored[1]
	if trigger.User != "alice" || echo.User != "wsmon-bot" || echo.Content != "收到 alice 的 你好" || echo.Room != "chat/lobby" || echo.Raw[0] != 0x30 {
		t.Fatalf("stored %+v", stored)
	}

	var page struct {
		Alerts []struct {
			Rule, User, Room, Content, Reply string
			MessageID                        int64  `json:"message_id"`
			ReplyErr                         string `json:"reply_error"`
		} `json:"alerts"`
	}
	testkit.WaitFor(t, 10*time.Second, "the reply recorded on its alert", func() bool {
		getJSON(t, api+"/api/alerts", &page)
		return len(page.Alerts) == 1 && page.Alerts[0].Reply != ""
	})
	if a := page.Alerts[0]; a.Rule != "greet" || a.Reply != reply || a.ReplyErr != "" || a.MessageID != trigger.ID ||
		a.User != "alice" || a.Room != "chat/lobby" || a.Content != `你好 "quoted"` {
		t.Fatalf("alert %+v, want greet's reply beside message %d", a, trigger.ID)
	}
	time.Sleep(500 * time.Millisecond) // the echo is committed by now; evaluated, it would have alerted
	getJSON(t, api+"/api/alerts", &page)
	if len(page.Alerts) != 1 {
		t.Fatalf("the echo was evaluated: %+v", page.Alerts)
	}
	if n := len(m.Messages(t)); n != 2 {
		t.Fatalf("%d messages stored, want the trigger and one echo (no second reply)", n)
	}
}
