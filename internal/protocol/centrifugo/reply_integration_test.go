package centrifugo_test

import (
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/rules"
	"github.com/wsmon/wsmon/internal/testkit"
)

// TestAutomaticReply: a rule's reply on a Centrifugo target is a publish
// command the server accepts (the namespace allows client publishing) and
// pushes to the channel's subscribers, wsmon included, with wsmon's user
// as the publisher; the data is the text as a JSON string (default) or
// the JSON document (reply_format json).
func TestAutomaticReply(t *testing.T) {
	tests := []struct {
		name, reply, format, user string
	}{
		{"text", `收到 {{.User}}`, "text", "wsmon"},
		{"json", `{"user":"wsmon-bot","text":"收到 {{.User}}"}`, "json", "wsmon-bot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t)
			cfg := monitorConfig(t, s, "chat:room1", "lobby:main")
			cfg.Options = map[string]any{"reply_format": tt.format}
			cfg.AutoReply = true
			cfg.Rules = []rules.Rule{{Name: "ack", Type: "keyword", Keywords: []string{"紧急"}, Cooldown: 1, Reply: tt.reply}}
			m := testkit.Start(t, cfg)
			m.WaitConnected(t, 15*time.Second)
			s.waitChannel(t, "lobby:main")
			s.publish(t, "lobby:main", map[string]any{"user": "alice", "text": "紧急"})
			stored := m.WaitMessages(t, 2, 10*time.Second)
			if e := stored[1]; e.User != tt.user || e.Content != "收到 alice" || e.Room != "lobby:main" {
				t.Fatalf("stored echo %+v", e)
			}
		})
	}
}
