package socketio_test

import (
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/rules"
	"github.com/wsmon/wsmon/internal/testkit"
)

// TestAutomaticReply: a rule's reply on a Socket.IO target is an emitted
// event that Socket.IO 4 and 2 servers take; the test server relays it to
// the namespace (io.emit, as the chat example does), and wsmon stores the
// relayed event. In /chat the reply is the event's string argument; in
// the main namespace, with reply_format json, its object argument.
func TestAutomaticReply(t *testing.T) {
	for _, version := range []string{"v4", "v2"} {
		t.Run(version, func(t *testing.T) {
			srv := startServer(t, version)
			cfg := testkit.Config(t, srv.url())
			cfg.Protocol = "socketio"
			cfg.Subscribe = []string{"/chat"}
			cfg.Options = map[string]any{"eio": eio(version), "reply_event": "chat message"}
			cfg.AutoReply = true
			cfg.Rules = []rules.Rule{{Name: "ack", Type: "keyword", Keywords: []string{"紧急"}, Cooldown: 1, Reply: `收到 {{.User}}`}}
			m := testkit.Start(t, cfg)
			m.WaitConnected(t, 15*time.Second)
			srv.waitClients(t, map[string]int{"/chat": 1})

			srv.broadcast(t, []emit{{NS: "/chat", Event: "chat message", Args: []any{map[string]any{"user": "alice", "text": "紧急"}}}})
			stored := m.WaitMessages(t, 2, 10*time.Second)
			if e := stored[1]; e.Content != "收到 alice" || e.Room != "/chat" || string(e.Raw) != `42/chat,["chat message","收到 alice"]` {
				t.Fatalf("stored echo %+v (raw %s)", e, e.Raw)
			}
			if st := srv.stats(t); st.Relayed != 1 {
				t.Errorf("the server relayed %d events, want 1", st.Relayed)
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		srv := startServer(t, "v4")
		cfg := testkit.Config(t, srv.url())
		cfg.Protocol = "socketio"
		cfg.Options = map[string]any{"reply_format": "json"}
		cfg.AutoReply = true
		cfg.Rules = []rules.Rule{{Name: "ack", Type: "keyword", Keywords: []string{"紧急"}, Cooldown: 1,
			Reply: `[{"user":"wsmon-bot","text":"收到 {{.User}}"}]`}}
		m := testkit.Start(t, cfg)
		m.WaitConnected(t, 15*time.Second)
		srv.waitClients(t, map[string]int{"/": 1})
		srv.broadcast(t, []emit{{Event: "message", Args: []any{map[string]any{"user": "小明", "text": "紧急"}}}})
		stored := m.WaitMessages(t, 2, 10*time.Second)
		if e := stored[1]; e.User != "wsmon-bot" || e.Content != "收到 小明" {
			t.Fatalf("stored echo %+v", e)
		}
	})
}
