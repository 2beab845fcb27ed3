package mqtt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/protocol"
)

// fakeConn records what Open writes.
type fakeConn struct {
	mu     sync.Mutex
	writes []protocol.Frame
}

func (c *fakeConn) Write(_ context.Context, f protocol.Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, protocol.Frame{Binary: f.Binary, Data: slices.Clone(f.Data)})
	return nil
}

func (*fakeConn) ReadFrame(context.Context) (protocol.Frame, error) {
	return protocol.Frame{}, errors.New("fakeConn: ReadFrame is not for adapters that do not sniff")
}

func (*fakeConn) Subprotocol() string { return "mqtt" }

func mustNew(t testing.TB, cfg protocol.Config) *Adapter {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = "ws://broker.example:8080/mqtt"
	}
	if cfg.Subscribe == nil {
		cfg.Subscribe = []string{"chat/#"}
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a.(*Adapter)
}

func open(t testing.TB, a *Adapter) (*session, []protocol.Frame) {
	t.Helper()
	c := &fakeConn{}
	s, err := a.Open(context.Background(), c)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s.(*session), c.writes
}

func feed(t testing.TB, s *session, data []byte) (protocol.Output, error) {
	t.Helper()
	var out protocol.Output
	err := s.Feed(protocol.Frame{Binary: true, Data: data}, &out)
	return copyOut(out), err
}

func copyOut(o protocol.Output) protocol.Output {
	cp := func(fs []protocol.Frame) []protocol.Frame {
		var r []protocol.Frame
		for _, f := range fs {
			r = append(r, protocol.Frame{Binary: f.Binary, Data: slices.Clone(f.Data)})
		}
		return r
	}
	return protocol.Output{Replies: cp(o.Replies), Records: cp(o.Records), Control: cp(o.Control)}
}

func hexes(fs []protocol.Frame) []string {
	var r []string
	for _, f := range fs {
		r = append(r, fmt.Sprintf("% x", f.Data))
	}
	return r
}

// Server packets.

func connack(v5 bool, code byte, props ...byte) []byte {
	b := []byte{0, code}
	if v5 {
		b = appendUvarint(b, len(props))
		b = append(b, props...)
	}
	return packet(typeConnack<<4, b)
}

func suback(v5 bool, pid uint16, code byte, props ...byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, pid)
	if v5 {
		b = appendUvarint(b, len(props))
		b = append(b, props...)
	}
	return packet(typeSuback<<4, append(b, code))
}

// pub builds a PUBLISH; props is nil for 3.1.1.
func pub(qos byte, topic string, pid uint16, props []byte, payload string) []byte {
	b := appendString(nil, topic)
	if qos > 0 {
		b = binary.BigEndian.AppendUint16(b, pid)
	}
	if props != nil {
		b = appendUvarint(b, len(props))
		b = append(b, props...)
	}
	return packet(typePublish<<4|qos<<1, append(b, payload...))
}

func strProp(id byte, s string) []byte { return appendString([]byte{id}, s) }

func u16Prop(id byte, n uint16) []byte { return binary.BigEndian.AppendUint16([]byte{id}, n) }

func userProp(k, v string) []byte { return appendString(appendString([]byte{propUserProperty}, k), v) }

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// connect opens a session and feeds it a successful CONNACK.
func connect(t testing.TB, a *Adapter) *session {
	t.Helper()
	s, _ := open(t, a)
	if _, err := feed(t, s, connack(a.version == 5, 0)); err != nil {
		t.Fatalf("CONNACK: %v", err)
	}
	if !s.Ready() {
		t.Fatal("not ready after CONNACK")
	}
	return s
}

func TestNewErrors(t *testing.T) {
	base := func(mod func(*protocol.Config)) protocol.Config {
		c := protocol.Config{URL: "ws://h/mqtt", Subscribe: []string{"chat/#"}}
		mod(&c)
		return c
	}
	tests := []struct {
		name string
		cfg  protocol.Config
		want string
	}{
		{"bad url", base(func(c *protocol.Config) { c.URL = "ws://a b/\x7f" }), "url: "},
		{"no host", base(func(c *protocol.Config) { c.URL = "ws:///mqtt" }), "url: "},
		{"no subscribe", base(func(c *protocol.Config) { c.Subscribe = nil }), "subscribe: "},
		{"empty filter", base(func(c *protocol.Config) { c.Subscribe = []string{""} }), "subscribe: "},
		{"hash not last", base(func(c *protocol.Config) { c.Subscribe = []string{"a/#/b"} }), "subscribe: "},
		{"hash in level", base(func(c *protocol.Config) { c.Subscribe = []string{"a/b#"} }), "subscribe: "},
		{"plus in level", base(func(c *protocol.Config) { c.Subscribe = []string{"a/b+/c"} }), "subscribe: "},
		{"NUL in filter", base(func(c *protocol.Config) { c.Subscribe = []string{"a\x00"} }), "subscribe: "},
		{"bad utf-8 filter", base(func(c *protocol.Config) { c.Subscribe = []string{"a\xff"} }), "subscribe: "},
		{"duplicate filter", base(func(c *protocol.Config) { c.Subscribe = []string{"a/+", "a/+"} }), "subscribe: "},
		{"token", base(func(c *protocol.Config) { c.Auth.Token = "t" }), "auth: "},
		{"password without user 3.1.1", base(func(c *protocol.Config) { c.Auth.Password = "p" }), "auth: "},
		{"bad utf-8 user", base(func(c *protocol.Config) { c.Auth.Username = "\xff" }), "auth: "},
		{"unknown option", base(func(c *protocol.Config) { c.Options = protocol.Options{"heart_beat": "1,1"} }), "options.heart_beat: "},
		{"version 6", base(func(c *protocol.Config) { c.Options = protocol.Options{"version": 6.0} }), "options.version: "},
		{"version string", base(func(c *protocol.Config) { c.Options = protocol.Options{"version": "5"} }), "options.version: "},
		{"qos 2", base(func(c *protocol.Config) { c.Options = protocol.Options{"qos": 2.0} }), "options.qos: "},
		{"qos fraction", base(func(c *protocol.Config) { c.Options = protocol.Options{"qos": 0.5} }), "options.qos: "},
		{"keepalive negative", base(func(c *protocol.Config) { c.Options = protocol.Options{"keepalive": -1.0} }), "options.keepalive: "},
		{"keepalive too big", base(func(c *protocol.Config) { c.Options = protocol.Options{"keepalive": 70000.0} }), "options.keepalive: "},
		{"clean_session string", base(func(c *protocol.Config) { c.Options = protocol.Options{"clean_session": "no"} }), "options.clean_session: "},
		{"empty client_id", base(func(c *protocol.Config) { c.Options = protocol.Options{"client_id": ""} }), "options.client_id: "},
		{"client_id too long for 3.1", base(func(c *protocol.Config) {
			c.Options = protocol.Options{"version": 3.0, "client_id": strings.Repeat("x", 24)}
		}), "options.client_id: "},
		{"kept session without client_id", base(func(c *protocol.Config) { c.Options = protocol.Options{"clean_session": false} }), "options.client_id: "},
		{"bad payload_format", base(func(c *protocol.Config) { c.Options = protocol.Options{"payload_format": "json"} }), "options.payload_format: "},
		{"bad retained", base(func(c *protocol.Config) { c.Options = protocol.Options{"retained": "drop"} }), "options.retained: "},
		{"user_property needs 5", base(func(c *protocol.Config) { c.Options = protocol.Options{"user_property": "sender"} }), "options.user_property: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestClientID(t *testing.T) {
	re := regexp.MustCompile(`^wsmon-[0-9a-f]{12}$`)
	a1, a2 := mustNew(t, protocol.Config{}), mustNew(t, protocol.Config{})
	if !re.MatchString(a1.clientID) || len(a1.clientID) > 23 {
		t.Errorf("default client id %q", a1.clientID)
	}
	if a1.clientID == a2.clientID {
		t.Errorf("two targets got the same client id %q", a1.clientID)
	}
	a3 := mustNew(t, protocol.Config{Options: protocol.Options{"client_id": "mine", "clean_session": false}})
	if a3.clientID != "mine" || a3.clean {
		t.Errorf("client id %q clean %v", a3.clientID, a3.clean)
	}
}

func TestConnectPacket(t *testing.T) {
	tests := []struct {
		name string
		cfg  protocol.Config
		want []byte
	}{
		{"3.1.1 defaults", protocol.Config{Options: protocol.Options{"client_id": "c1"}},
			cat([]byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60}, appendString(nil, "c1"))},
		{"3.1.1 login, kept session", protocol.Config{Auth: protocol.Auth{Username: "u", Password: "p"},
			Options: protocol.Options{"client_id": "c1", "clean_session": false, "keepalive": 5.0}},
			cat([]byte{0x10, 20, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xc0, 0, 5}, appendString(nil, "c1"), appendString(nil, "u"), appendString(nil, "p"))},
		{"3.1", protocol.Config{Options: protocol.Options{"client_id": "c1", "version": 3.0}},
			cat([]byte{0x10, 16, 0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 0x02, 0, 60}, appendString(nil, "c1"))},
		{"5", protocol.Config{Auth: protocol.Auth{Password: "p"}, Options: protocol.Options{"client_id": "c1", "version": 5.0, "keepalive": 0.0}},
			cat([]byte{0x10, 26, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x42, 0, 0, 8, 0x27, 0x01, 0, 0, 0, 0x22, 0, 64},
				appendString(nil, "c1"), appendString(nil, "p"))},
		{"5 kept session", protocol.Config{Options: protocol.Options{"client_id": "c1", "version": 5.0, "clean_session": false}},
			cat([]byte{0x10, 28, 0, 4, 'M', 'Q', 'T', 'T', 5, 0, 0, 60, 13, 0x11, 0xff, 0xff, 0xff, 0xff, 0x27, 0x01, 0, 0, 0, 0x22, 0, 64},
				appendString(nil, "c1"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, writes := open(t, mustNew(t, tt.cfg))
			if len(writes) != 1 || !writes[0].Binary || !bytes.Equal(writes[0].Data, tt.want) {
				t.Fatalf("Open wrote %q, want one binary frame % x", hexes(writes), tt.want)
			}
			if s.Ready() || s.Protocol() != "mqtt" {
				t.Errorf("Ready %v Protocol %q before CONNACK", s.Ready(), s.Protocol())
			}
		})
	}
}

func TestPrepare(t *testing.T) {
	for _, tt := range []struct {
		version float64
		want    []string
	}{{4, []string{"x", "mqtt"}}, {5, []string{"x", "mqtt"}}, {3, []string{"x", "mqttv3.1"}}} {
		a := mustNew(t, protocol.Config{Options: protocol.Options{"version": tt.version}})
		u, _ := url.Parse("ws://h/mqtt")
		d := &protocol.Dial{URL: u, Subprotocols: []string{"x"}}
		if err := a.Prepare(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(d.Subprotocols, tt.want) || d.URL.String() != "ws://h/mqtt" {
			t.Errorf("version %v: subprotocols %q URL %s", tt.version, d.Subprotocols, d.URL)
		}
	}
}

func TestHandshake(t *testing.T) {
	for _, v := range []float64{3, 4, 5} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			a := mustNew(t, protocol.Config{Subscribe: []string{"chat/#", "rooms/+/msg"}, Options: protocol.Options{"version": v, "qos": 1.0, "keepalive": 8.0}})
			s, _ := open(t, a)
			v5 := v == 5
			out, err := feed(t, s, connack(v5, 0))
			if err != nil {
				t.Fatal(err)
			}
			props := []byte(nil)
			if v5 {
				props = []byte{0}
			}
			want := [][]byte{
				cat([]byte{0x82, byte(2 + len(props) + 2 + 6 + 1), 0, 1}, props, appendString(nil, "chat/#"), []byte{1}),
				cat([]byte{0x82, byte(2 + len(props) + 2 + 11 + 1), 0, 2}, props, appendString(nil, "rooms/+/msg"), []byte{1}),
			}
			if len(out.Replies) != 2 || !bytes.Equal(out.Replies[0].Data, want[0]) || !bytes.Equal(out.Replies[1].Data, want[1]) || !out.Replies[0].Binary {
				t.Fatalf("SUBSCRIBEs %q, want % x, % x", hexes(out.Replies), want[0], want[1])
			}
			if len(out.Control) != 1 || len(out.Records) != 0 {
				t.Errorf("CONNACK: control %d records %d", len(out.Control), len(out.Records))
			}
			if !s.Ready() || s.Heartbeat() != 6*time.Second {
				t.Errorf("Ready %v Heartbeat %s, want 6s", s.Ready(), s.Heartbeat())
			}
			for i := range 2 {
				out, err = feed(t, s, suback(v5, uint16(i+1), 1))
				if err != nil || len(out.Control) != 1 {
					t.Fatalf("SUBACK %d: %v %+v", i+1, err, out)
				}
			}
			if !s.subscribed() {
				t.Error("not subscribed after both SUBACKs")
			}
			if _, err := feed(t, s, connack(v5, 0)); err == nil {
				t.Error("second CONNACK accepted")
			}
		})
	}
}

func TestServerKeepAlive(t *testing.T) {
	a := mustNew(t, protocol.Config{Options: protocol.Options{"version": 5.0, "keepalive": 60.0}})
	s, _ := open(t, a)
	if _, err := feed(t, s, connack(true, 0, u16Prop(propServerKeepAlive, 4)...)); err != nil {
		t.Fatal(err)
	}
	if s.Heartbeat() != 3*time.Second {
		t.Errorf("Heartbeat %s, want 3s (the broker's keep-alive 4 s)", s.Heartbeat())
	}
	s = connect(t, mustNew(t, protocol.Config{Options: protocol.Options{"keepalive": 0.0}}))
	if s.Heartbeat() != 0 {
		t.Errorf("keep-alive off: Heartbeat %s", s.Heartbeat())
	}
}

func TestConnackRefusals(t *testing.T) {
	tests := []struct {
		name    string
		v5      bool
		packet  []byte
		refusal bool
		reason  string
	}{
		{"3.1.1 bad login", false, connack(false, 4), true, "bad user name or password (4)"},
		{"3.1.1 not authorized", false, connack(false, 5), true, "not authorized (5)"},
		{"3.1.1 identifier rejected", false, connack(false, 2), true, "identifier rejected"},
		{"3.1.1 protocol version", false, connack(false, 1), true, "unacceptable protocol version"},
		{"3.1.1 server unavailable retries", false, connack(false, 3), false, "server unavailable (3)"},
		{"3.1.1 unknown code", false, connack(false, 9), true, "return code 9"},
		{"5 bad login", true, connack(true, 0x86, strProp(propReasonString, "go away")...), true, `bad user name or password (0x86): "go away"`},
		{"5 not authorized", true, connack(true, 0x87), true, "not authorized (0x87)"},
		{"5 banned", true, connack(true, 0x8a), true, "banned"},
		{"5 busy retries", true, connack(true, 0x89), false, "server busy (0x89)"},
		{"5 moved", true, connack(true, 0x9d, strProp(propServerReference, "other:1883")...), true, `server moved (0x9D) (server reference "other:1883")`},
		{"5 use another server retries", true, connack(true, 0x9c), false, "use another server"},
		{"5 rate retries", true, connack(true, 0x9f), false, "connection rate exceeded"},
		{"5 unknown code", true, connack(true, 0xee), true, "reason code 0xEE"},
		{"truncated", false, []byte{0x20, 1, 0}, false, "shorter"},
		{"v5 bad properties", true, []byte{0x20, 5, 0, 0, 2, 0x7f, 0}, false, "unknown property"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := 4.0
			if tt.v5 {
				v = 5
			}
			s, _ := open(t, mustNew(t, protocol.Config{Options: protocol.Options{"version": v}}))
			out, err := feed(t, s, tt.packet)
			if err == nil {
				t.Fatal("accepted")
			}
			var r *protocol.Refusal
			if errors.As(err, &r) != tt.refusal || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("error %q: refusal %v, want %v containing %q", err, errors.As(err, &r), tt.refusal, tt.reason)
			}
			if s.Ready() || len(out.Replies) != 0 {
				t.Errorf("refused session ready %v, replies %q", s.Ready(), hexes(out.Replies))
			}
		})
	}
}

func TestSubackRefusals(t *testing.T) {
	tests := []struct {
		name   string
		v5     bool
		packet []byte
		reason string
	}{
		{"3.1.1 failure", false, suback(false, 2, 0x80), `subscription to "b/#" refused: failure (0x80)`},
		{"5 not authorized", true, suback(true, 2, 0x87, strProp(propReasonString, "ACL")...), `subscription to "b/#" refused: not authorized (0x87): "ACL"`},
		{"5 wildcards", true, suback(true, 1, 0xa2), `subscription to "a" refused: wildcard subscriptions not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := 4.0
			if tt.v5 {
				v = 5
			}
			s := connect(t, mustNew(t, protocol.Config{Subscribe: []string{"a", "b/#"}, Options: protocol.Options{"version": v}}))
			_, err := feed(t, s, tt.packet)
			var r *protocol.Refusal
			if !errors.As(err, &r) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("error %v, want a refusal containing %q", err, tt.reason)
			}
		})
	}
	s := connect(t, mustNew(t, protocol.Config{}))
	if _, err := feed(t, s, suback(false, 9, 0)); err == nil {
		t.Error("SUBACK for an unknown packet id accepted")
	}
}

func TestDisconnect(t *testing.T) {
	disc := func(code byte, props ...byte) []byte {
		b := []byte{code}
		b = appendUvarint(b, len(props))
		return packet(typeDisconnect<<4, append(b, props...))
	}
	tests := []struct {
		name    string
		packet  []byte
		refusal bool
		reason  string
	}{
		{"shutting down", disc(0x8b), false, "server shutting down (0x8B)"},
		{"normal, no body", packet(typeDisconnect<<4, nil), false, "success (0x00)"},
		{"keep alive timeout", disc(0x8d), false, "keep alive timeout"},
		{"session taken over", disc(0x8e, strProp(propReasonString, "dup id")...), true, `session taken over (0x8E): "dup id"`},
		{"not authorized", disc(0x87), true, "not authorized"},
		{"administrative", disc(0x98), true, "administrative action"},
		{"moved", disc(0x9d), true, "server moved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := connect(t, mustNew(t, protocol.Config{Options: protocol.Options{"version": 5.0}}))
			out, err := feed(t, s, tt.packet)
			var r *protocol.Refusal
			if err == nil || errors.As(err, &r) != tt.refusal || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("error %v: want refusal %v containing %q", err, tt.refusal, tt.reason)
			}
			if len(out.Control) != 1 {
				t.Errorf("DISCONNECT not control")
			}
		})
	}
	s := connect(t, mustNew(t, protocol.Config{}))
	if _, err := feed(t, s, []byte{0xe0, 0}); err == nil {
		t.Error("3.1.1 DISCONNECT from the broker accepted")
	}
}

func TestPublishQoS(t *testing.T) {
	for _, v5 := range []bool{false, true} {
		t.Run(fmt.Sprint("v5=", v5), func(t *testing.T) {
			v := 4.0
			var props []byte
			if v5 {
				v, props = 5, []byte{}
			}
			s := connect(t, mustNew(t, protocol.Config{Options: protocol.Options{"version": v, "qos": 1.0}}))

			p0 := pub(0, "chat/a", 0, props, "zero")
			out, err := feed(t, s, p0)
			if err != nil || len(out.Records) != 1 || !bytes.Equal(out.Records[0].Data, p0) || len(out.Replies) != 0 || !out.Records[0].Binary {
				t.Fatalf("QoS 0: %v %+v", err, out)
			}

			p1 := pub(1, "chat/a", 7, props, "one")
			out, err = feed(t, s, p1)
			if err != nil || len(out.Records) != 1 || len(out.Replies) != 1 || !bytes.Equal(out.Replies[0].Data, []byte{0x40, 2, 0, 7}) {
				t.Fatalf("QoS 1: %v records %d replies %q", err, len(out.Records), hexes(out.Replies))
			}

			// QoS 2: PUBREC, a resent PUBLISH is not recorded twice, PUBREL gets PUBCOMP.
			p2 := pub(2, "chat/a", 9, props, "two")
			out, err = feed(t, s, p2)
			if err != nil || len(out.Records) != 1 || len(out.Replies) != 1 || !bytes.Equal(out.Replies[0].Data, []byte{0x50, 2, 0, 9}) {
				t.Fatalf("QoS 2: %v records %d replies %q", err, len(out.Records), hexes(out.Replies))
			}
			dup := slices.Clone(p2)
			dup[0] |= 0x08
			out, err = feed(t, s, dup)
			if err != nil || len(out.Records) != 0 || len(out.Control) != 1 || !bytes.Equal(out.Replies[0].Data, []byte{0x50, 2, 0, 9}) {
				t.Fatalf("QoS 2 resent: %v %+v", err, out)
			}
			out, err = feed(t, s, []byte{0x62, 2, 0, 9})
			if err != nil || len(out.Control) != 1 || len(out.Replies) != 1 || !bytes.Equal(out.Replies[0].Data, []byte{0x70, 2, 0, 9}) {
				t.Fatalf("PUBREL: %v %+v", err, out)
			}
			// The packet id is free again: a new message with it is recorded.
			out, err = feed(t, s, pub(2, "chat/a", 9, props, "two again"))
			if err != nil || len(out.Records) != 1 {
				t.Fatalf("QoS 2 reused id: %v %+v", err, out)
			}
		})
	}
}

func TestBadPackets(t *testing.T) {
	tests := []struct {
		name   string
		packet []byte
	}{
		{"qos 3", []byte{0x36, 4, 0, 1, 'a', 0}},
		{"publish id 0", pub(1, "a", 0, nil, "x")},
		{"empty topic", pub(0, "", 0, nil, "x")},
		{"short topic", []byte{0x30, 3, 0, 5, 'a'}},
		{"reserved flags", []byte{0x91, 3, 0, 1, 0}},
		{"pubrel flags", []byte{0x60, 2, 0, 1}},
		{"connect from broker", []byte{0x10, 0}},
		{"reserved type", []byte{0x00, 0}},
		{"pingreq from broker", []byte{0xc0, 0}},
		{"five length bytes", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"over the limit", []byte{0x30, 0xff, 0xff, 0xff, 0x7f}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := connect(t, mustNew(t, protocol.Config{}))
			if out, err := feed(t, s, tt.packet); err == nil {
				t.Fatalf("accepted: %+v", out)
			}
		})
	}
	s, _ := open(t, mustNew(t, protocol.Config{}))
	if _, err := feed(t, s, pub(0, "a", 0, nil, "x")); err == nil {
		t.Error("PUBLISH before CONNACK accepted")
	}
	s = connect(t, mustNew(t, protocol.Config{}))
	var out protocol.Output
	if err := s.Feed(protocol.Frame{Data: []byte{0xd0, 0}}, &out); err == nil {
		t.Error("text frame accepted")
	}
	s = connect(t, mustNew(t, protocol.Config{}))
	if _, err := feed(t, s, []byte{0xf0, 0}); err == nil {
		t.Error("AUTH accepted")
	}
}

func TestTopicAlias(t *testing.T) {
	a := mustNew(t, protocol.Config{Options: protocol.Options{"version": 5.0}})
	s := connect(t, a)
	alias := u16Prop(propTopicAlias, 3)
	set := pub(0, "chat/room1", 0, cat(alias, strProp(propContentType, "text/plain")), "first")
	out, err := feed(t, s, set)
	if err != nil || len(out.Records) != 1 || !bytes.Equal(out.Records[0].Data, set) {
		t.Fatalf("alias set: %v %+v", err, out)
	}
	use := pub(1, "", 5, alias, "second")
	out, err = feed(t, s, use)
	if err != nil || len(out.Records) != 1 || len(out.Replies) != 1 {
		t.Fatalf("alias use: %v %+v", err, out)
	}
	rec := out.Records[0]
	if want := pub(1, "chat/room1", 5, alias, "second"); !bytes.Equal(rec.Data, want) {
		t.Fatalf("alias use recorded % x, want % x", rec.Data, want)
	}
	evs := a.Decode(rec)
	if len(evs) != 1 || evs[0].Room != "chat/room1" || string(evs[0].Payload) != "second" {
		t.Fatalf("Decode %v", evs)
	}
	// A new session knows no aliases.
	s = connect(t, a)
	if _, err := feed(t, s, use); err == nil {
		t.Error("unknown alias accepted")
	}
	for _, n := range []uint16{0, topicAliasMax + 1} {
		s = connect(t, a)
		if _, err := feed(t, s, pub(0, "x", 0, u16Prop(propTopicAlias, n), "p")); err == nil {
			t.Errorf("alias %d accepted", n)
		}
	}
}

// TestReassembly feeds one byte stream (CONNACK, SUBACK, PUBLISHes of
// every QoS, a large one with a 2-byte remaining length, PINGRESP) cut at
// every point into two frames, and byte by byte: the records and replies
// must be the same every time.
func TestReassembly(t *testing.T) {
	big := strings.Repeat("大", 100) // 300 bytes: a two-byte remaining length
	var stream []byte
	var wantRecords [][]byte
	stream = append(stream, connack(false, 0)...)
	stream = append(stream, suback(false, 1, 1)...)
	for i, p := range [][]byte{pub(0, "chat/a", 0, nil, `{"user":"a","text":"hi"}`), pub(1, "chat/b", 1, nil, big), pub(0, "chat/c", 0, nil, ""), pub(2, "chat/d", 2, nil, "q2")} {
		stream = append(stream, p...)
		wantRecords = append(wantRecords, p)
		if i == 1 {
			stream = append(stream, 0xd0, 0)
		}
	}
	stream = append(stream, 0x62, 2, 0, 2)
	wantReplies := 1 + 1 + 1 + 1 // SUBSCRIBE, PUBACK, PUBREC, PUBCOMP
	check := func(t *testing.T, chunks [][]byte) {
		t.Helper()
		s, _ := open(t, mustNew(t, protocol.Config{Options: protocol.Options{"qos": 1.0}}))
		var recs [][]byte
		replies := 0
		for _, c := range chunks {
			out, err := feed(t, s, c)
			if err != nil {
				t.Fatalf("chunks %d: %v", len(chunks), err)
			}
			for _, r := range out.Records {
				recs = append(recs, r.Data)
			}
			replies += len(out.Replies)
		}
		if !slices.EqualFunc(recs, wantRecords, bytes.Equal) || replies != wantReplies {
			t.Fatalf("chunks %v: %d records, %d replies", chunks, len(recs), replies)
		}
		if len(s.buf) != s.off {
			t.Fatalf("%d bytes left over", len(s.buf)-s.off)
		}
	}
	check(t, [][]byte{stream})
	for i := 1; i < len(stream); i++ {
		check(t, [][]byte{stream[:i], stream[i:]})
	}
	var bytewise [][]byte
	for i := range stream {
		bytewise = append(bytewise, stream[i:i+1])
	}
	check(t, bytewise)
}

func TestTick(t *testing.T) {
	s := connect(t, mustNew(t, protocol.Config{Options: protocol.Options{"keepalive": 2.0}}))
	if s.Heartbeat() != 1500*time.Millisecond {
		t.Fatalf("Heartbeat %s", s.Heartbeat())
	}
	tick := func() error {
		var out protocol.Output
		err := s.Tick(time.Now(), &out)
		if err == nil && (len(out.Replies) != 1 || !bytes.Equal(out.Replies[0].Data, []byte{0xc0, 0}) || !out.Replies[0].Binary) {
			t.Fatalf("Tick replies %q", hexes(out.Replies))
		}
		return err
	}
	if tick() != nil || tick() != nil {
		t.Fatal("first pings failed")
	}
	if err := tick(); err == nil {
		t.Fatal("two unanswered PINGREQs did not end the connection")
	}
	s = connect(t, mustNew(t, protocol.Config{Options: protocol.Options{"keepalive": 2.0}}))
	for range 10 {
		if err := tick(); err != nil {
			t.Fatal(err)
		}
		if out, err := feed(t, s, []byte{0xd0, 0}); err != nil || len(out.Control) != 1 {
			t.Fatalf("PINGRESP: %v %+v", err, out)
		}
	}
}

func TestConcurrentTickAndFeed(t *testing.T) {
	s := connect(t, mustNew(t, protocol.Config{Options: protocol.Options{"keepalive": 2.0}}))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var out protocol.Output
		for range 200 {
			out.Reset()
			_ = s.Tick(time.Now(), &out)
		}
	}()
	for range 200 {
		if _, err := feed(t, s, append(pub(0, "chat/a", 0, nil, "x"), 0xd0, 0)); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}

var tenKB = strings.Repeat("0123456789", 1024)

// decodeTexts are payloads that must come out of Decode byte for byte.
var decodeTexts = []struct{ name, payload string }{
	{"chinese", "你好，世界"},
	{"emoji zwj", "👩‍👩‍👧‍👦 🏳️‍🌈"},
	{"html", "<script>alert(1)</script>&amp;"},
	{"looks like json", `{"type":"fake","user":"mallory"}`},
	{"looks like mqtt", string(pub(1, "chat/evil", 1, nil, "forged"))},
	{"looks like pingresp", "\xd0\x00"},
	{"10 KB", tenKB},
	{"empty", ""},
}

func TestDecode(t *testing.T) {
	for _, v := range []float64{4, 5} {
		a := mustNew(t, protocol.Config{Options: protocol.Options{"version": v, "qos": 1.0}})
		for _, tt := range decodeTexts {
			for _, qos := range []byte{0, 1} {
				t.Run(fmt.Sprintf("%v %s qos%d", v, tt.name, qos), func(t *testing.T) {
					var props []byte
					if v == 5 {
						props = []byte{}
					}
					rec := pub(qos, "chat/房间", 42, props, tt.payload)
					s := connect(t, a)
					out, err := feed(t, s, rec)
					if err != nil || len(out.Records) != 1 || !bytes.Equal(out.Records[0].Data, rec) {
						t.Fatalf("Feed: %v records %q", err, hexes(out.Records))
					}
					evs := a.Decode(out.Records[0])
					if len(evs) != 1 {
						t.Fatalf("%d events", len(evs))
					}
					ev := evs[0]
					if string(ev.Payload) != tt.payload {
						t.Errorf("Payload %q, want %q", ev.Payload, tt.payload)
					}
					wantBinary := !utf8.ValidString(tt.payload)
					if ev.Room != "chat/房间" || ev.ID != "" || ev.User != "" || ev.Name != "" || ev.Reason != "" || ev.Text || ev.Binary != wantBinary {
						t.Errorf("event %s", show(ev))
					}
					if !bytes.Equal(ev.Raw, rec) {
						t.Error("Raw is not the packet")
					}
					if again := a.Decode(protocol.Frame{Binary: true, Data: slices.Clone(rec)}); fmt.Sprint(again) != fmt.Sprint(evs) {
						t.Error("Decode is not deterministic")
					}
				})
			}
		}
	}
}

func TestDecodeProperties(t *testing.T) {
	a := mustNew(t, protocol.Config{Options: protocol.Options{"version": 5.0, "user_property": "sender"}})
	tests := []struct {
		name  string
		props []byte
		user  string
		text  bool
	}{
		{"text/plain", strProp(propContentType, "text/plain; charset=utf-8"), "", true},
		{"json", strProp(propContentType, "application/json"), "", false},
		{"user property", cat(userProp("other", "x"), userProp("sender", "小明"), userProp("sender", "second")), "小明", false},
		{"every kind", cat([]byte{propPayloadFormat, 1}, []byte{0x02, 0, 0, 0, 9}, []byte{0x0b, 0x80, 0x01},
			strProp(0x08, "reply/to"), strProp(0x09, "\x00\x01"), userProp("sender", "ann")), "ann", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := a.Decode(protocol.Frame{Binary: true, Data: pub(0, "chat/a", 0, tt.props, "hello")})
			if len(evs) != 1 || evs[0].User != tt.user || evs[0].Text != tt.text || string(evs[0].Payload) != "hello" || evs[0].Reason != "" {
				t.Errorf("events %v", evs)
			}
		})
	}
}

func TestPayloadFormatText(t *testing.T) {
	for _, v := range []float64{4, 5} {
		a := mustNew(t, protocol.Config{Options: protocol.Options{"version": v, "payload_format": "text"}})
		var props []byte
		if v == 5 {
			props = strProp(propContentType, "application/json")
		}
		evs := a.Decode(protocol.Frame{Binary: true, Data: pub(0, "chat/a", 0, props, `{"user":"mallory"}`)})
		if len(evs) != 1 || !evs[0].Text || string(evs[0].Payload) != `{"user":"mallory"}` {
			t.Errorf("version %v: %v", v, evs)
		}
	}
}

func TestRetainedFlag(t *testing.T) {
	for _, v := range []float64{4, 5} {
		for _, skip := range []bool{false, true} {
			opts := protocol.Options{"version": v, "qos": 1.0}
			if skip {
				opts["retained"] = "skip"
			}
			a := mustNew(t, protocol.Config{Options: opts})
			s, _ := open(t, a)
			out, err := feed(t, s, connack(v == 5, 0))
			if err != nil {
				t.Fatal(err)
			}
			wantOpts := byte(1)
			if skip && v == 5 {
				wantOpts |= 0x20
			}
			if sub := out.Replies[0].Data; sub[len(sub)-1] != wantOpts {
				t.Errorf("version %v skip %v: subscription options %#x, want %#x", v, skip, sub[len(sub)-1], wantOpts)
			}
			var props []byte
			if v == 5 {
				props = []byte{}
			}
			retained := pub(1, "chat/a", 3, props, "old")
			retained[0] |= 0x01
			out, err = feed(t, s, retained)
			if err != nil || len(out.Replies) != 1 {
				t.Fatalf("retained: %v %+v", err, out)
			}
			if got := len(out.Records); got != map[bool]int{false: 1, true: 0}[skip] {
				t.Errorf("version %v skip %v: %d records of a retained message", v, skip, got)
			}
			if out, err = feed(t, s, pub(0, "chat/a", 0, props, "live")); err != nil || len(out.Records) != 1 {
				t.Errorf("live message: %v %+v", err, out)
			}
		}
	}
}

func TestDecodeBadRecords(t *testing.T) {
	a := mustNew(t, protocol.Config{Options: protocol.Options{"version": 5.0}})
	for _, rec := range [][]byte{
		nil,
		{0xd0, 0},
		{0x30, 5, 0, 1},
		pub(0, "chat/a", 0, nil, "no properties in a v5 record"),
		append(pub(0, "chat/a", 0, []byte{}, "x"), 'y'),
		[]byte("hello"),
	} {
		evs := a.Decode(protocol.Frame{Binary: true, Data: rec})
		if len(evs) != 1 || evs[0].Reason != ReasonBadPacket || !bytes.Equal(evs[0].Payload, rec) || !evs[0].Binary {
			t.Errorf("% x: events %v", rec, evs)
		}
	}
}

func show(ev protocol.Event) string {
	p := string(ev.Payload)
	if len(p) > 80 {
		p = p[:80] + "..."
	}
	return fmt.Sprintf("{Room:%q Name:%q User:%q ID:%q Payload:%q Binary:%v Text:%v Reason:%q}", ev.Room, ev.Name, ev.User, ev.ID, p, ev.Binary, ev.Text, ev.Reason)
}

func TestVarint(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 16383, 16384, 2097151, 2097152, 268435455} {
		b := appendUvarint(nil, n)
		got, size, err := uvarint(b)
		if err != nil || got != n || size != len(b) {
			t.Errorf("%d: % x -> %d %d %v", n, b, got, size, err)
		}
	}
}
