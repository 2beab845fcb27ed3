package phoenix_test

import (
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/rules"
	"github.com/wsmon/wsmon/internal/testkit"
)

// TestAutomaticReply: a rule's reply is a new_msg push {"body": text} on
// the joined topic, with the channel's join_ref; the guide's RoomChannel
// broadcasts it to the topic, wsmon included, with each serializer.
func TestAutomaticReply(t *testing.T) {
	for _, vsn := range []string{"2.0.0", "1.0.0"} {
		t.Run(vsn, func(t *testing.T) {
			phx := startPhx(t)
			cfg := testkit.Config(t, phx.URL())
			cfg.Protocol = "phoenix"
			cfg.Subscribe = []string{"room:lobby", "room:side"}
			cfg.Options = map[string]any{"vsn": vsn}
			cfg.AutoReply = true
			cfg.Rules = []rules.Rule{{Name: "ack", Type: "keyword", Keywords: []string{"紧急"}, Cooldown: 1, Reply: `收到 {{.User}}`}}
			m := testkit.Start(t, cfg)
			m.WaitConnected(t, 10*time.Second)
			testkit.WaitFor(t, 5*time.Second, "wsmon joined", func() bool { return phx.Joined("room:side") == 1 })

			phx.Broadcast("room:side", "new_msg", map[string]any{"user": "alice", "body": "紧急"})
			stored := m.WaitMessages(t, 2, 10*time.Second)
			if e := stored[1]; e.Content != "收到 alice" || e.Room != "room:side" {
				t.Fatalf("stored echo %+v", e)
			}
		})
	}
}
