package mqtt_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/rules"
	"github.com/wsmon/wsmon/internal/testkit"
)

// subscribe subscribes the publisher's connection to filter at QoS 0.
func (p *publisher) subscribe(t *testing.T, filter string) {
	t.Helper()
	p.pid++
	body := binary.BigEndian.AppendUint16(nil, p.pid)
	if p.v5 {
		body = append(body, 0)
	}
	body = append(appendStr(body, filter), 0)
	if _, err := p.c.Write(mqttPacket(0x82, body)); err != nil {
		t.Fatal(err)
	}
	if typ, _ := p.read(t); typ != 0x90 {
		t.Fatalf("publisher SUBACK: packet type %#x", typ)
	}
}

// readPublish returns the topic and payload of the next PUBLISH (QoS 0).
func (p *publisher) readPublish(t *testing.T) (string, string) {
	t.Helper()
	for {
		typ, body := p.read(t)
		if typ>>4 != 3 {
			continue
		}
		n := int(binary.BigEndian.Uint16(body))
		topic, rest := string(body[2:2+n]), body[2+n:]
		if p.v5 {
			rest = rest[1+int(rest[0]):] // properties (short here)
		}
		return topic, string(rest)
	}
}

// TestAutomaticReply: a rule's reply on an MQTT target is one PUBLISH that
// mosquitto accepts and delivers to the topic's subscribers: another
// client and wsmon itself, which stores it as a message (MQTT 3.1.1 and 5).
func TestAutomaticReply(t *testing.T) {
	for _, v := range []float64{4, 5} {
		t.Run(map[float64]string{4: "3.1.1", 5: "5"}[v], func(t *testing.T) {
			b := startBroker(t, brokerOpts{})
			cfg := testkit.Config(t, b.url())
			cfg.Protocol = "mqtt"
			cfg.Subscribe = []string{"chat/#"}
			cfg.Options = map[string]any{"version": v}
			cfg.AutoReply = true
			cfg.Rules = []rules.Rule{{Name: "ack", Type: "keyword", Keywords: []string{"紧急"}, Cooldown: 1,
				Reply: `{"user":"wsmon-bot","text":"收到 {{.User}}: {{.Content}}"}`}}
			m := testkit.Start(t, cfg)
			waitSubscribed(t, m, 0, 1)

			p := dialPublisher(t, b, v == 5, "", "")
			p.subscribe(t, "chat/#")
			p.publish(t, msg{topic: "chat/lobby", payload: `{"user":"alice","text":"紧急: 服务器宕机"}`})
			if topic, payload := p.readPublish(t); topic != "chat/lobby" || payload != `{"user":"alice","text":"紧急: 服务器宕机"}` {
				t.Fatalf("the publisher's own message came back as %s %s", topic, payload)
			}
			want := `{"user":"wsmon-bot","text":"收到 alice: 紧急: 服务器宕机"}`
			if topic, payload := p.readPublish(t); topic != "chat/lobby" || payload != want {
				t.Fatalf("second subscriber got %s %s, want the reply %s", topic, payload, want)
			}
			got := m.WaitMessages(t, 2, 10*time.Second)
			if e := got[1]; e.User != "wsmon-bot" || e.Content != "收到 alice: 紧急: 服务器宕机" || e.Room != "chat/lobby" {
				t.Fatalf("stored echo %+v", e)
			}
		})
	}
}
