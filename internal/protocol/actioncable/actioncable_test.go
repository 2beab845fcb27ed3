package actioncable

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/protocol"
)

// fakeConn has nothing to read and records writes (Open writes none).
type fakeConn struct {
	sub    string
	writes []string
}

func (c *fakeConn) Write(_ context.Context, f protocol.Frame) error {
	c.writes = append(c.writes, string(f.Data))
	return nil
}

func (c *fakeConn) ReadFrame(context.Context) (protocol.Frame, error) {
	return protocol.Frame{}, errors.New("fake conn: nothing to read")
}

func (c *fakeConn) Subprotocol() string { return c.sub }

func mustNew(t testing.TB, cfg protocol.Config) *Adapter {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a.(*Adapter)
}

func TestNewErrors(t *testing.T) {
	chat := []string{"ChatChannel"}
	tests := []struct {
		name string
		cfg  protocol.Config
		want string
	}{
		{"no subscribe", protocol.Config{}, "subscribe: actioncable needs at least one channel"},
		{"blank", protocol.Config{Subscribe: []string{"ChatChannel", " "}}, `subscribe: entry 2 " ": empty`},
		{"bad json", protocol.Config{Subscribe: []string{`{"channel":`}}, `subscribe: entry 1 "{\"channel\":": not a JSON object`},
		{"no channel", protocol.Config{Subscribe: []string{`{"room":"lobby"}`}}, `subscribe: entry 1 "{\"room\":\"lobby\"}": the identifier needs a "channel" string`},
		{"channel not string", protocol.Config{Subscribe: []string{`{"channel":1}`}}, `subscribe: entry 1 "{\"channel\":1}": the identifier needs a "channel" string`},
		{"twice", protocol.Config{Subscribe: []string{"ChatChannel", `{"channel": "ChatChannel"}`}}, `subscribe: entry 2: identifier {"channel":"ChatChannel"} is listed twice`},
		{"password", protocol.Config{Subscribe: chat, Auth: protocol.Auth{Username: "u"}}, "auth: actioncable uses only auth.token"},
		{"stale_after", protocol.Config{Subscribe: chat, Options: protocol.Options{"stale_after": -1.0}}, "options.stale_after: must be a number of seconds between 0 and 3600"},
		{"token_param type", protocol.Config{Subscribe: chat, Options: protocol.Options{"token_param": 1.0}}, "options.token_param: must be a string"},
		{"token_param empty", protocol.Config{Subscribe: chat, Auth: protocol.Auth{Token: "t"}, Options: protocol.Options{"token_param": ""}}, "options.token_param: auth.token needs a query parameter name"},
		{"unknown", protocol.Config{Subscribe: chat, Options: protocol.Options{"channel": "x"}}, "options.channel: unknown option"},
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

func TestCommands(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{"ChatChannel", ` { "channel" : "ChatChannel", "room" : "大厅", "n": 1 } `, `{"channel":"$pubsub","stream_name":"chat_lobby"}`}})
	want := []string{
		`{"command":"subscribe","identifier":"{\"channel\":\"ChatChannel\"}"}`,
		`{"command":"subscribe","identifier":"{\"channel\":\"ChatChannel\",\"room\":\"大厅\",\"n\":1}"}`,
		`{"command":"subscribe","identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"chat_lobby\"}"}`,
	}
	for i, c := range a.commands {
		if string(c) != want[i] {
			t.Errorf("command %d = %s, want %s", i, c, want[i])
		}
	}
}

func TestPrepare(t *testing.T) {
	tests := []struct {
		url, token string
		opts       protocol.Options
		want       string
	}{
		{"ws://h/cable", "", nil, "ws://h/cable"},
		{"ws://h/cable?x=1", "T", nil, "ws://h/cable?token=T&x=1"},
		{"ws://h/cable", "T", protocol.Options{"token_param": "jid"}, "ws://h/cable?jid=T"},
		{"ws://h/cable?token=mine", "T", nil, "ws://h/cable?token=mine"},
	}
	for _, tt := range tests {
		a := mustNew(t, protocol.Config{Subscribe: []string{"ChatChannel"}, Auth: protocol.Auth{Token: tt.token}, Options: tt.opts})
		u, _ := url.Parse(tt.url)
		d := &protocol.Dial{URL: u, Subprotocols: []string{SubprotocolJSON}}
		if err := a.Prepare(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		if d.URL.String() != tt.want || !slices.Equal(d.Subprotocols, []string{SubprotocolJSON, SubprotocolUnsupported}) || u.String() != tt.url {
			t.Errorf("Prepare(%s) = %s %q", tt.url, d.URL, d.Subprotocols)
		}
	}
}

func TestSniff(t *testing.T) {
	for in, want := range map[string]bool{
		`{"type":"welcome"}`:           true,
		`{"type":"welcome","sid":"x"}`: true,
		` {"type":"ping","message":1}`: false,
		`0{"sid":"x"}`:                 false,
		`["welcome"]`:                  false,
		`{"type":"welcome"`:            false,
	} {
		if got := sniff(protocol.Frame{Data: []byte(in)}); got != want {
			t.Errorf("sniff(%s) = %v", in, got)
		}
	}
	if sniff(protocol.Frame{Data: []byte(`{"type":"welcome"}`), Binary: true}) {
		t.Error("a binary frame is not a welcome")
	}
}

func TestOpenUnsupported(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{"ChatChannel"}})
	_, err := a.Open(context.Background(), &fakeConn{sub: SubprotocolUnsupported})
	var r *protocol.Refusal
	if !errors.As(err, &r) || r.Reason != "the server does not support actioncable-v1-json" {
		t.Fatalf("Open: %v", err)
	}
	c := &fakeConn{sub: SubprotocolJSON}
	s, err := a.Open(context.Background(), c)
	if err != nil || len(c.writes) != 0 || s.Ready() || s.Protocol() != Name {
		t.Fatalf("Open: %v, wrote %q", err, c.writes)
	}
}

type step struct {
	in      string
	replies []string
	records int
	control int
	ready   bool
	err     string // prefix; "refuse:" for a refusal's reason
}

func TestFeed(t *testing.T) {
	two := protocol.Config{Subscribe: []string{"ChatChannel", `{"channel":"ChatChannel","room":"lobby"}`}}
	sub1 := `{"command":"subscribe","identifier":"{\"channel\":\"ChatChannel\"}"}`
	sub2 := `{"command":"subscribe","identifier":"{\"channel\":\"ChatChannel\",\"room\":\"lobby\"}"}`
	confirm1 := `{"identifier":"{\"channel\":\"ChatChannel\"}","type":"confirm_subscription"}`
	confirm2 := `{"identifier":"{\"channel\":\"ChatChannel\",\"room\":\"lobby\"}","type":"confirm_subscription"}`
	tests := []struct {
		name  string
		steps []step
	}{
		{"welcome, confirm, data", []step{
			{in: `{"type":"ping","message":1700000000}`, control: 1},
			{in: `{"type":"welcome","sid":"abc"}`, replies: []string{sub1, sub2}, control: 1},
			{in: `{"type":"welcome"}`, control: 1},
			{in: confirm1, control: 1},
			{in: `{"identifier":"{\"channel\":\"Other\"}","type":"confirm_subscription"}`, control: 1},
			{in: confirm2, control: 1, ready: true},
			{in: `{"identifier":"{\"channel\":\"ChatChannel\"}","message":{"user":"a","text":"hi"}}`, records: 1, ready: true},
			{in: `{"type":"ping","message":1700000003}`, control: 1, ready: true},
			{in: `{"identifier":"{\"channel\":\"ChatChannel\"}","type":"confirm_history"}`, records: 1, ready: true},
			{in: `not json`, records: 1, ready: true},
			{in: `["x"]`, records: 1, ready: true},
		}},
		{"rejected", []step{
			{in: `{"type":"welcome"}`, replies: []string{sub1, sub2}, control: 1},
			{in: `{"identifier":"{\"channel\":\"ChatChannel\",\"room\":\"lobby\"}","type":"reject_subscription"}`, err: `refuse:subscription {"channel":"ChatChannel","room":"lobby"} rejected`},
		}},
		{"disconnect for good", []step{
			{in: `{"type":"disconnect","reason":"unauthorized","reconnect":false}`, err: "refuse:the server disconnected wsmon: unauthorized"},
		}},
		{"disconnect, reconnect", []step{
			{in: `{"type":"welcome"}`, replies: []string{sub1, sub2}, control: 1},
			{in: `{"type":"disconnect","reason":"server_restart","reconnect":true}`, err: "actioncable: the server disconnected wsmon (server_restart); reconnecting"},
		}},
		{"disconnect without reconnect flag", []step{
			{in: `{"type":"disconnect"}`, err: "actioncable: the server disconnected wsmon (no reason given); reconnecting"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := mustNew(t, two).Open(context.Background(), &fakeConn{sub: SubprotocolJSON})
			if err != nil {
				t.Fatal(err)
			}
			var out protocol.Output
			for i, st := range tt.steps {
				out.Reset()
				err := s.Feed(protocol.Frame{Data: []byte(st.in)}, &out)
				var r *protocol.Refusal
				switch {
				case strings.HasPrefix(st.err, "refuse:"):
					if !errors.As(err, &r) || !strings.HasPrefix(r.Reason, strings.TrimPrefix(st.err, "refuse:")) {
						t.Fatalf("step %d: error %v, want refusal %q", i, err, st.err)
					}
					return
				case st.err != "":
					if err == nil || errors.As(err, &r) || !strings.HasPrefix(err.Error(), st.err) {
						t.Fatalf("step %d: error %v, want %q", i, err, st.err)
					}
					return
				case err != nil:
					t.Fatalf("step %d: %v", i, err)
				}
				var replies []string
				for _, r := range out.Replies {
					replies = append(replies, string(r.Data))
				}
				if !slices.Equal(replies, st.replies) || len(out.Records) != st.records || len(out.Control) != st.control || s.Ready() != st.ready {
					t.Fatalf("step %d %s: replies %q records %d control %d ready %v; want %q %d %d %v", i, st.in, replies, len(out.Records), len(out.Control), s.Ready(), st.replies, st.records, st.control, st.ready)
				}
				for _, r := range out.Records {
					if string(r.Data) != st.in {
						t.Fatalf("step %d: record %q is not the whole message", i, r.Data)
					}
				}
			}
		})
	}
}

func TestStaleness(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{"ChatChannel"}, Options: protocol.Options{"stale_after": 0.3}})
	s, _ := a.Open(context.Background(), &fakeConn{})
	if s.Heartbeat() != 100*time.Millisecond {
		t.Fatalf("heartbeat %v", s.Heartbeat())
	}
	var out protocol.Output
	if err := s.Tick(time.Now(), &out); err != nil || len(out.Replies) != 0 {
		t.Fatalf("fresh: %v %+v", err, out)
	}
	if err := s.Tick(time.Now().Add(400*time.Millisecond), &out); err == nil || !strings.Contains(err.Error(), "no ping from the server for") {
		t.Fatalf("stale: %v", err)
	}
	s.Feed(protocol.Frame{Data: []byte(`{"type":"ping","message":1}`)}, &out)
	if err := s.Tick(time.Now().Add(200*time.Millisecond), &out); err != nil {
		t.Fatalf("after a ping: %v", err)
	}
	off := mustNew(t, protocol.Config{Subscribe: []string{"ChatChannel"}, Options: protocol.Options{"stale_after": 0.0}})
	s, _ = off.Open(context.Background(), &fakeConn{})
	if s.Heartbeat() != 0 {
		t.Fatalf("stale_after 0: heartbeat %v", s.Heartbeat())
	}
	if d := mustNew(t, protocol.Config{Subscribe: []string{"ChatChannel"}}); d.staleAfter != 9*time.Second {
		t.Fatalf("default stale_after %v", d.staleAfter)
	}
}

func trickyTexts() map[string]string {
	return map[string]string{
		"chinese":   "你好，世界",
		"emoji":     "👩‍👩‍👧‍👦 🏳️‍🌈",
		"html":      "<script>alert(1)</script>&amp;",
		"json-like": `{"type":"fake","user":"mallory"}`,
		"frame":     `{"identifier":"{\"channel\":\"ChatChannel\"}","message":{"user":"eve","text":"x"}}`,
		"10KB":      strings.Repeat("0123456789", 1024),
	}
}

func dataRecord(t *testing.T, identifier string, msg any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"identifier": identifier, "message": msg})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeTexts(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{"ChatChannel"}})
	n := message.NewNormalizer(message.FieldMap{}, 0)
	for name, text := range trickyTexts() {
		t.Run(name, func(t *testing.T) {
			rec := dataRecord(t, `{"channel":"ChatChannel","room":"lobby"}`, map[string]any{"id": 7, "user": "alice", "text": text})
			evs := a.Decode(protocol.Frame{Data: rec})
			if len(evs) != 1 || evs[0].Room != "lobby" || string(evs[0].Raw) != string(rec) {
				t.Fatalf("%+v", evs)
			}
			var m message.Message
			n.Normalize(evs[0], &m)
			if m.Content != text || m.User != "alice" || m.Room != "lobby" || m.ExtID != "7" || m.Type != message.TypeChat || m.Reason != "" {
				t.Fatalf("normalised %+v", m)
			}
			rec = dataRecord(t, `{"channel":"$pubsub","stream_name":"chat_lobby"}`, text)
			evs = a.Decode(protocol.Frame{Data: rec})
			if len(evs) != 1 || !evs[0].Text || string(evs[0].Payload) != text || evs[0].Room != "chat_lobby" {
				t.Fatalf("string message: %+v", evs)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{"ChatChannel"}})
	tests := []struct {
		rec, room, payload string
		text               bool
		reason             string
	}{
		{`{"identifier":"{\"channel\":\"ChatChannel\"}","message":{"a":1}}`, "ChatChannel", `{"a":1}`, false, ""},
		{`{"identifier":"{\"channel\":\"ChatChannel\",\"room\":\"r1\",\"x\":\"y\"}","message":{"a":1}}`, "r1", `{"a":1}`, false, ""},
		{`{"identifier":"{\"channel\":\"ChatChannel\",\"room\":42}","message":[1,2]}`, "42", `[1,2]`, false, ""},
		{`{"identifier":"{\"channel\":\"ChatChannel\",\"chat_id\":12}","message":"hi"}`, "12", `hi`, true, ""},
		{`{"identifier":"{\"channel\":\"ChatChannel\",\"a\":\"1\",\"b\":\"2\"}","message":3}`, "ChatChannel", `3`, false, ""},
		{`{"identifier":"{\"channel\":\"ChatChannel\",\"a\":{\"b\":1}}","message":{}}`, "ChatChannel", `{}`, false, ""},
		{`{"identifier":"not json","message":{}}`, "", `{}`, false, ""},
		{`{"identifier":"{\"channel\":\"C\"}","type":"confirm_history"}`, "C", `{"identifier":"{\"channel\":\"C\"}","type":"confirm_history"}`, false, ""},
		{`{"x":1}`, "", `{"x":1}`, false, ""},
		{`{"identifier":1,"message":{}}`, "", `{"identifier":1,"message":{}}`, false, "bad_json"},
		{`["x"]`, "", `["x"]`, false, "bad_json"},
		{`not json`, "", `not json`, false, "bad_json"},
	}
	for _, tt := range tests {
		evs := a.Decode(protocol.Frame{Data: []byte(tt.rec)})
		if len(evs) != 1 {
			t.Fatalf("%s: %d events", tt.rec, len(evs))
		}
		ev := evs[0]
		if ev.Room != tt.room || string(ev.Payload) != tt.payload || ev.Text != tt.text || ev.Reason != tt.reason || string(ev.Raw) != tt.rec || ev.Name != "" || ev.User != "" || ev.ID != "" {
			t.Errorf("%s: got %+v (payload %s)", tt.rec, ev, ev.Payload)
		}
	}
}
