package actioncable_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsmon/wsmon/internal/rules"
	"github.com/wsmon/wsmon/internal/testkit"
)

// listener is a plain ActionCable client subscribed to one identifier.
func listener(t *testing.T, ac *anycable, identifier string) *websocket.Conn {
	t.Helper()
	c, _, err := (&websocket.Dialer{Subprotocols: []string{"actioncable-v1-json"}}).Dial(ac.url(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cmd, _ := json.Marshal(map[string]string{"command": "subscribe", "identifier": identifier})
	if err := c.WriteMessage(websocket.TextMessage, cmd); err != nil {
		t.Fatal(err)
	}
	for {
		if m := next(t, c); m["type"] == "confirm_subscription" {
			return c
		}
	}
}

// next reads the next message that is not a ping or welcome.
func next(t *testing.T, c *websocket.Conn) map[string]any {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("listener: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("listener got %q", data)
		}
		if m["type"] != "ping" && m["type"] != "welcome" {
			return m
		}
	}
}

// TestAutomaticReply: with reply_command whisper a rule's reply is an
// AnyCable whisper on the pub/sub stream, which the server relays to the
// stream's other subscribers (never back to wsmon).
func TestAutomaticReply(t *testing.T) {
	ac := startAnyCable(t, "--public")
	cfg := testkit.Config(t, ac.url())
	cfg.Protocol = "actioncable"
	cfg.Subscribe = []string{pubsub("chat_lobby")}
	cfg.Options = map[string]any{"reply_command": "whisper"}
	cfg.AutoReply = true
	cfg.Rules = []rules.Rule{{Name: "ack", Type: "keyword", Keywords: []string{"紧急"}, Cooldown: 1, Reply: `收到 {{.User}}`}}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	other := listener(t, ac, pubsub("chat_lobby"))

	ac.broadcast(t, "chat_lobby", map[string]any{"user": "alice", "text": "紧急"})
	if got := next(t, other); !strings.Contains(mustJSON(got["message"]), "紧急") {
		t.Fatalf("listener got %v, want alice's message", got)
	}
	got := next(t, other)
	if mustJSON(got["message"]) != `{"message":"收到 alice"}` || got["identifier"] != pubsub("chat_lobby") {
		t.Fatalf("listener got %v, want the whispered reply", got)
	}
	time.Sleep(300 * time.Millisecond)
	if stored := m.Messages(t); len(stored) != 1 {
		t.Errorf("stored %+v: a whisper is not sent back to its sender", stored)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
