package nats_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/rules"
	"github.com/wsmon/wsmon/internal/testkit"
)

// TestAutomaticReply: a rule's reply on a NATS target is one PUB that
// nats-server accepts and delivers to the subject's subscribers: another
// client and wsmon itself (echo), which stores it as a message.
func TestAutomaticReply(t *testing.T) {
	s := startNATS(t, "chat.>")
	cfg := testkit.Config(t, s.url())
	cfg.Protocol = "nats"
	cfg.Subscribe = []string{"chat.>"}
	cfg.Auth = map[string]string{"username": monUser, "password": monPass}
	cfg.AutoReply = true
	cfg.Rules = []rules.Rule{{Name: "ack", Type: "keyword", Keywords: []string{"紧急"}, Cooldown: 1,
		Reply: `{"user":"wsmon-bot","text":"收到 {{.User}}"}`}}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 15*time.Second)

	// A second subscriber on the client port.
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	r := bufio.NewReader(c)
	r.ReadString('\n') // INFO
	conn, _ := json.Marshal(map[string]any{"verbose": false, "protocol": 1, "user": pubUser, "pass": pubPass})
	fmt.Fprintf(c, "CONNECT %s\r\nSUB chat.> 1\r\nPING\r\n", conn)
	for line, err := r.ReadString('\n'); line != "PONG\r\n"; line, err = r.ReadString('\n') {
		if err != nil {
			t.Fatal(err)
		}
	}

	s.publish(t, message{subject: "chat.ops", payload: `{"user":"alice","text":"紧急"}`})
	want := `{"user":"wsmon-bot","text":"收到 alice"}`
	var got []string
	for len(got) < 2 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("second subscriber: %v (got %q)", err, got)
		}
		if !strings.HasPrefix(line, "MSG ") {
			continue
		}
		payload, _ := r.ReadString('\n')
		got = append(got, strings.Fields(line)[1]+" "+strings.TrimSuffix(payload, "\r\n"))
	}
	if got[1] != "chat.ops "+want {
		t.Fatalf("second subscriber got %q, want the reply on chat.ops", got)
	}
	stored := m.WaitMessages(t, 2, 10*time.Second)
	if e := stored[1]; e.User != "wsmon-bot" || e.Content != "收到 alice" || e.Room != "chat.ops" {
		t.Fatalf("stored echo %+v", e)
	}
}
