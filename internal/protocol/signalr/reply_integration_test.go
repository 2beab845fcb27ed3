package signalr_test

import (
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/rules"
	"github.com/wsmon/wsmon/internal/testkit"
)

// TestAutomaticReply: with reply_format json a rule's reply invokes the
// chat sample's SendMessage(user, message) on the hub, which sends
// ReceiveMessage(user, message) to every client, wsmon included; wsmon
// stores it with the user the reply named.
func TestAutomaticReply(t *testing.T) {
	hub := startHub(t, "")
	cfg := testkit.Config(t, hub.URL())
	cfg.Protocol = "signalr"
	cfg.Options = map[string]any{"reply_format": "json"}
	cfg.AutoReply = true
	cfg.Rules = []rules.Rule{{Name: "ack", Type: "keyword", Keywords: []string{"紧急"}, Cooldown: 1, Reply: `["wsmon-bot","收到 {{.User}}"]`}}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	testkit.WaitFor(t, 5*time.Second, "wsmon connected to the hub", func() bool { return hub.Clients("") == 1 })

	hub.Invoke("", "ReceiveMessage", []any{"alice", "紧急"})
	stored := m.WaitMessages(t, 2, 10*time.Second)
	if e := stored[1]; e.User != "wsmon-bot" || e.Content != "收到 alice" || string(e.Raw) != `{"arguments":["wsmon-bot","收到 alice"],"target":"ReceiveMessage","type":1}` {
		t.Fatalf("stored echo %+v (raw %s)", e, e.Raw)
	}
}
