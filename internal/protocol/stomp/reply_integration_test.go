package stomp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/rules"
	"github.com/wsmon/wsmon/internal/testkit"
)

// replyRule answers 紧急 with a JSON document naming the sender.
var replyRule = []rules.Rule{{Name: "ack", Type: "keyword", Keywords: []string{"紧急"}, Cooldown: 1,
	Reply: `{"user":"wsmon-bot","text":"收到 {{.User}}"}`}}

// TestAutomaticReply: a rule's reply on a STOMP target is one SEND that
// RabbitMQ accepts (wsmon gets its receipt) and delivers to the
// destination's subscribers as a MESSAGE: another client, and wsmon
// itself, which stores it as a message.
func TestAutomaticReply(t *testing.T) {
	r := startRabbit(t)
	cfg := testkit.Config(t, r.url())
	cfg.Protocol = "stomp"
	cfg.Subscribe = []string{"/topic/chat"}
	cfg.Options = map[string]any{"host": "/"}
	cfg.Auth = map[string]string{"username": "guest", "password": "guest"}
	cfg.AutoReply = true
	cfg.Rules = replyRule
	m := testkit.Start(t, cfg)
	waitSubscribed(t, m, 0, 1)

	other := dialStomp(t, r.url())
	other.write(t, frame("SUBSCRIBE", [][2]string{{"id", "s"}, {"destination", "/topic/chat"}, {"receipt", "sub"}}, ""))
	other.expect(t, "RECEIPT")
	p := dialStomp(t, r.url())
	p.send(t, "/topic/chat", `{"user":"alice","text":"紧急"}`, "content-type", "application/json")
	other.expect(t, "MESSAGE") // alice's
	got := other.expect(t, "MESSAGE")
	if !strings.Contains(got, "\ndestination:/topic/chat\n") || !strings.Contains(got, "\ncontent-type:application/json;charset=utf-8\n") ||
		!strings.Contains(got, "\n\n"+`{"user":"wsmon-bot","text":"收到 alice"}`+"\x00") {
		t.Fatalf("second subscriber got %q, want the reply", got)
	}
	stored := m.WaitMessages(t, 2, 10*time.Second)
	if e := stored[1]; e.User != "wsmon-bot" || e.Content != "收到 alice" || e.Room != "/topic/chat" {
		t.Fatalf("stored echo %+v", e)
	}
}

// TestSockJSAutomaticReply: through a SockJS endpoint the SEND is wrapped
// as SockJS wants and the broker fans it out, wsmon included.
func TestSockJSAutomaticReply(t *testing.T) {
	srv := startSockJS(t, "--login", "guest", "--passcode", "guest")
	cfg := testkit.Config(t, srv.url("/stomp"))
	cfg.Protocol = "stomp"
	cfg.Subscribe = []string{"/topic/chat"}
	cfg.Options = map[string]any{"sockjs": true}
	cfg.Auth = map[string]string{"username": "guest", "password": "guest"}
	cfg.AutoReply = true
	cfg.Rules = replyRule
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 15*time.Second)
	srv.waitSubscribed(t, 1, 1)

	srv.publish(t, sockjsMessage{Destination: "/topic/chat", Body: `{"user":"小明","text":"紧急"}`, Headers: map[string]string{"content-type": "application/json"}})
	stored := m.WaitMessages(t, 2, 10*time.Second)
	if e := stored[1]; e.User != "wsmon-bot" || e.Content != "收到 小明" || e.Room != "/topic/chat" {
		t.Fatalf("stored echo %+v", e)
	}
}
