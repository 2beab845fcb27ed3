package graphqlws_test

import (
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/rules"
	"github.com/wsmon/wsmon/internal/testkit"
)

// TestAutomaticReply: with reply_mutation a rule's reply runs the
// server's mutation (over graphql-transport-ws and the legacy protocol);
// the schema publishes the message to the subscriptions, wsmon's
// included, which stores it; the mutation's own result is control.
func TestAutomaticReply(t *testing.T) {
	for _, tt := range []struct{ path, kind string }{{"/graphql", "graphql"}, {"/legacy", "legacy"}} {
		t.Run(tt.kind, func(t *testing.T) {
			srv := startServer(t)
			cfg := testkit.Config(t, srv.url(tt.path))
			cfg.Protocol = "graphql-ws"
			cfg.Subscribe = []string{messageSub}
			cfg.Options = map[string]any{"reply_mutation": `mutation Reply($text: String!, $room: String) { send(text: $text, room: $room, user: "wsmon-bot") { id } }`}
			cfg.AutoReply = true
			cfg.Rules = []rules.Rule{{Name: "ack", Type: "keyword", Keywords: []string{"紧急"}, Cooldown: 1, Reply: `收到 {{.User}}`}}
			m := testkit.Start(t, cfg)
			m.WaitConnected(t, 10*time.Second)
			srv.waitSubscribed(t, tt.kind, 1)

			srv.post(t, "/publish", []chat{{ID: "a1", User: "alice", Room: "lobby", Text: "紧急"}})
			stored := m.WaitMessages(t, 2, 10*time.Second)
			if e := stored[1]; e.User != "wsmon-bot" || e.Content != "收到 alice" || e.Room != "lobby" {
				t.Fatalf("stored echo %+v", e)
			}
			time.Sleep(300 * time.Millisecond)
			if n := len(m.Messages(t)); n != 2 {
				t.Errorf("%d messages stored: the mutation's result must be control", n)
			}
		})
	}
}
