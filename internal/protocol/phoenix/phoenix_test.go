package phoenix

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

// fakeConn records what Open writes; it has nothing to read.
type fakeConn struct{ writes []string }

func (c *fakeConn) Write(_ context.Context, f protocol.Frame) error {
	c.writes = append(c.writes, string(f.Data))
	return nil
}

func (c *fakeConn) ReadFrame(context.Context) (protocol.Frame, error) {
	return protocol.Frame{}, errors.New("fake conn: nothing to read")
}

func (*fakeConn) Subprotocol() string { return "" }

func mustNew(t testing.TB, cfg protocol.Config) *Adapter {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a.(*Adapter)
}

func TestNewErrors(t *testing.T) {
	lobby := []string{"room:lobby"}
	tests := []struct {
		name string
		cfg  protocol.Config
		want string
	}{
		{"no topics", protocol.Config{}, "subscribe: phoenix needs at least one channel topic"},
		{"blank topic", protocol.Config{Subscribe: []string{"room:a", " "}}, "subscribe: entry 2 is empty"},
		{"phoenix topic", protocol.Config{Subscribe: []string{"phoenix"}}, `subscribe: entry 1: topic "phoenix" is the socket's own`},
		{"twice", protocol.Config{Subscribe: []string{"room:a", "room:a"}}, `subscribe: topic "room:a" is listed twice`},
		{"password", protocol.Config{Subscribe: lobby, Auth: protocol.Auth{Password: "x"}}, "auth: phoenix uses only auth.token"},
		{"vsn", protocol.Config{Subscribe: lobby, Options: protocol.Options{"vsn": "3.0.0"}}, "options.vsn: must be one of 2.0.0, 1.0.0"},
		{"heartbeat", protocol.Config{Subscribe: lobby, Options: protocol.Options{"heartbeat_interval": 0.0}}, "options.heartbeat_interval: must be a number of seconds between 1 and 3600"},
		{"presence", protocol.Config{Subscribe: lobby, Options: protocol.Options{"presence": "yes"}}, "options.presence: must be true or false"},
		{"token_param", protocol.Config{Subscribe: lobby, Options: protocol.Options{"token_param": false}}, "options.token_param: must be a string"},
		{"join_payload", protocol.Config{Subscribe: lobby, Options: protocol.Options{"join_payload": "x"}}, "options.join_payload: must be a JSON object"},
		{"unknown", protocol.Config{Subscribe: lobby, Options: protocol.Options{"params": map[string]any{}}}, "options.params: unknown option"},
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

func TestPrepare(t *testing.T) {
	tests := []struct {
		url   string
		token string
		opts  protocol.Options
		want  string
	}{
		{"ws://h/socket/websocket", "", nil, "ws://h/socket/websocket?vsn=2.0.0"},
		{"wss://h/socket", "T", nil, "wss://h/socket/websocket?token=T&vsn=2.0.0"},
		{"ws://h/live/websocket?x=1&vsn=9", "T", protocol.Options{"vsn": "1.0.0", "token_param": "auth"}, "ws://h/live/websocket?auth=T&vsn=1.0.0&x=1"},
		{"ws://h/socket/websocket?token=mine", "T", nil, "ws://h/socket/websocket?token=mine&vsn=2.0.0"},
		{"ws://h/socket/websocket", "T", protocol.Options{"token_param": ""}, "ws://h/socket/websocket?vsn=2.0.0"},
	}
	for _, tt := range tests {
		a := mustNew(t, protocol.Config{Subscribe: []string{"room:lobby"}, Auth: protocol.Auth{Token: tt.token}, Options: tt.opts})
		u, _ := url.Parse(tt.url)
		d := &protocol.Dial{URL: u}
		if err := a.Prepare(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		if d.URL.String() != tt.want || u.String() != tt.url {
			t.Errorf("Prepare(%s) = %s, want %s (configured URL %s untouched)", tt.url, d.URL, tt.want, u)
		}
	}
}

func TestOpenJoins(t *testing.T) {
	tests := []struct {
		cfg  protocol.Config
		want []string
	}{
		{protocol.Config{Subscribe: []string{"room:lobby", "room:2"}},
			[]string{`["1","1","room:lobby","phx_join",{}]`, `["2","2","room:2","phx_join",{}]`}},
		{protocol.Config{Subscribe: []string{"room:lobby"}, Auth: protocol.Auth{Token: "T"}},
			[]string{`["1","1","room:lobby","phx_join",{"token":"T"}]`}},
		{protocol.Config{Subscribe: []string{"room:lobby"}, Auth: protocol.Auth{Token: "T"}, Options: protocol.Options{"join_payload": map[string]any{"nick": "小明"}}},
			[]string{`["1","1","room:lobby","phx_join",{"nick":"小明"}]`}},
		{protocol.Config{Subscribe: []string{"room:lobby"}, Options: protocol.Options{"vsn": "1.0.0"}},
			[]string{`{"topic":"room:lobby","event":"phx_join","payload":{},"ref":"1","join_ref":"1"}`}},
	}
	for _, tt := range tests {
		a := mustNew(t, tt.cfg)
		c := &fakeConn{}
		s, err := a.Open(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.writes, tt.want) || s.Ready() || s.Protocol() != Name {
			t.Errorf("Open wrote %q (ready %v), want %q", c.writes, s.Ready(), tt.want)
		}
	}
}

// step is one frame fed to a session and what must come out.
type step struct {
	in      string
	binary  bool
	replies []string
	records int
	control int
	ready   bool
	err     string // prefix; "refuse:" for a refusal's reason
}

func runSteps(t *testing.T, s protocol.Session, steps []step) {
	t.Helper()
	var out protocol.Output
	for i, st := range steps {
		out.Reset()
		err := s.Feed(protocol.Frame{Data: []byte(st.in), Binary: st.binary}, &out)
		var r *protocol.Refusal
		switch {
		case strings.HasPrefix(st.err, "refuse:"):
			if !errors.As(err, &r) || !strings.HasPrefix(r.Reason, strings.TrimPrefix(st.err, "refuse:")) {
				t.Fatalf("step %d %q: error %v, want refusal %q", i, st.in, err, st.err)
			}
			return
		case st.err != "":
			if err == nil || errors.As(err, &r) || !strings.HasPrefix(err.Error(), st.err) {
				t.Fatalf("step %d %q: error %v, want %q", i, st.in, err, st.err)
			}
			return
		case err != nil:
			t.Fatalf("step %d %q: %v", i, st.in, err)
		}
		var replies []string
		for _, r := range out.Replies {
			replies = append(replies, string(r.Data))
		}
		if !slices.Equal(replies, st.replies) || len(out.Records) != st.records || len(out.Control) != st.control || s.Ready() != st.ready {
			t.Fatalf("step %d %q: replies %q records %d control %d ready %v; want %q %d %d %v", i, st.in, replies, len(out.Records), len(out.Control), s.Ready(), st.replies, st.records, st.control, st.ready)
		}
		for _, r := range out.Records {
			if string(r.Data) != st.in {
				t.Fatalf("step %d: record %q is not the whole message", i, r.Data)
			}
		}
	}
}

func TestFeed(t *testing.T) {
	two := protocol.Config{Subscribe: []string{"room:lobby", "room:2"}}
	tests := []struct {
		name  string
		cfg   protocol.Config
		steps []step
	}{
		{"joins, traffic, heartbeat reply", two, []step{
			{in: `["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]`, control: 1},
			{in: `["2","2","room:2","phx_reply",{"status":"ok","response":{}}]`, control: 1, ready: true},
			{in: `[null,null,"room:lobby","new_msg",{"body":"hi","user":"a"}]`, records: 1, ready: true},
			{in: `["1",null,"room:lobby","shout",{"body":"hi"}]`, records: 1, ready: true},
			{in: `[null,"9","phoenix","phx_reply",{"status":"ok","response":{}}]`, control: 1, ready: true},
			{in: `[null,null,"room:lobby","presence_state",{"a":{"metas":[{}]}}]`, control: 1, ready: true},
			{in: `[null,null,"room:lobby","presence_diff",{"joins":{},"leaves":{}}]`, control: 1, ready: true},
			{in: `["7","8","room:lobby","phx_reply",{"status":"ok","response":{"x":1}}]`, control: 1, ready: true},
			{in: `[null,null,"other:topic","new_msg",{}]`, records: 1, ready: true},
			{in: `not json`, records: 1, ready: true},
			{in: `[1,2,3]`, records: 1, ready: true},
		}},
		{"join refused", two, []step{
			{in: `["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]`, control: 1},
			{in: `["2","2","room:2","phx_reply",{"status":"error","response":{"reason":"unauthorized"}}]`, err: `refuse:join "room:2" refused: unauthorized`},
		}},
		{"join refused without reason", two, []step{
			{in: `["1","1","room:lobby","phx_reply",{"status":"error","response":{}}]`, err: `refuse:join "room:lobby" refused: status "error"`},
		}},
		{"crash and close rejoin", two, []step{
			{in: `["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]`, control: 1},
			{in: `["2","2","room:2","phx_reply",{"status":"ok","response":{}}]`, control: 1, ready: true},
			{in: `["1","1","room:lobby","phx_error",{}]`, replies: []string{`["3","3","room:lobby","phx_join",{}]`}, control: 1, ready: true},
			{in: `["1","1","room:lobby","phx_close",{}]`, control: 1, ready: true}, // outdated: the old join's
			{in: `["3","3","room:lobby","phx_reply",{"status":"ok","response":{}}]`, control: 1, ready: true},
			{in: `["2","2","room:2","phx_close",{}]`, replies: []string{`["4","4","room:2","phx_join",{}]`}, control: 1, ready: true},
			{in: `["4","4","room:2","phx_reply",{"status":"error","response":{"reason":"gone"}}]`, err: `refuse:join "room:2" refused: gone`},
		}},
		{"rejoin burst", protocol.Config{Subscribe: []string{"room:lobby"}}, []step{
			{in: `[null,null,"room:lobby","phx_error",{}]`, replies: []string{`["2","2","room:lobby","phx_join",{}]`}, control: 1},
			{in: `[null,null,"room:lobby","phx_error",{}]`, replies: []string{`["3","3","room:lobby","phx_join",{}]`}, control: 1},
			{in: `[null,null,"room:lobby","phx_error",{}]`, replies: []string{`["4","4","room:lobby","phx_join",{}]`}, control: 1},
			{in: `[null,null,"room:lobby","phx_error",{}]`, err: `phoenix: the server ended channel "room:lobby" 4 times within 10s (phx_error); reconnecting`},
		}},
		{"presence recorded", protocol.Config{Subscribe: []string{"room:lobby"}, Options: protocol.Options{"presence": true}}, []step{
			{in: `[null,null,"room:lobby","presence_state",{"a":{"metas":[{}]}}]`, records: 1},
			{in: `[null,null,"room:lobby","presence_diff",{"joins":{},"leaves":{}}]`, records: 1},
		}},
		{"v1", protocol.Config{Subscribe: []string{"room:lobby"}, Options: protocol.Options{"vsn": "1.0.0"}}, []step{
			{in: `{"topic":"room:lobby","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"1"}`, control: 1, ready: true},
			{in: `{"topic":"room:lobby","event":"new_msg","payload":{"body":"hi"},"ref":null}`, records: 1, ready: true},
			{in: `{"topic":"room:lobby","event":"phx_error","payload":{},"ref":"1"}`, replies: []string{`{"topic":"room:lobby","event":"phx_join","payload":{},"ref":"2","join_ref":"2"}`}, control: 1, ready: true},
			{in: `[null,null,"room:lobby","new_msg",{}]`, records: 1, ready: true}, // a v2 message: not v1, kept
		}},
		{"binary", protocol.Config{Subscribe: []string{"room:lobby"}}, []step{
			{in: "\x01\x01\x01\x0a\x02" + "11" + "room:lobby" + "ok" + "\x00\x01", binary: true, control: 1, ready: true},
			{in: "\x02\x0a\x03" + "room:lobby" + "img" + "\xff\xd8\xff", binary: true, records: 1, ready: true},
			{in: "\x00\x01\x0a\x03" + "1" + "room:lobby" + "img" + "\x00", binary: true, records: 1, ready: true},
			{in: "\x02\x0a\x03" + "room", binary: true, records: 1, ready: true}, // truncated: kept
		}},
		{"binary join refused", protocol.Config{Subscribe: []string{"room:lobby"}}, []step{
			{in: "\x01\x01\x01\x0a\x05" + "11" + "room:lobby" + "error", binary: true, err: `refuse:join "room:lobby" refused: status "error"`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := mustNew(t, tt.cfg).Open(context.Background(), &fakeConn{})
			if err != nil {
				t.Fatal(err)
			}
			runSteps(t, s, tt.steps)
		})
	}
}

func TestHeartbeat(t *testing.T) {
	for _, tt := range []struct {
		opts  protocol.Options
		want  string
		every time.Duration
	}{
		{nil, `[null,"2","phoenix","heartbeat",{}]`, 30 * time.Second},
		{protocol.Options{"vsn": "1.0.0", "heartbeat_interval": 2.0}, `{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"2","join_ref":null}`, 2 * time.Second},
	} {
		a := mustNew(t, protocol.Config{Subscribe: []string{"room:lobby"}, Options: tt.opts})
		s, _ := a.Open(context.Background(), &fakeConn{})
		if s.Heartbeat() != tt.every {
			t.Errorf("heartbeat every %v, want %v", s.Heartbeat(), tt.every)
		}
		var out protocol.Output
		if err := s.Tick(time.Now(), &out); err != nil || len(out.Replies) != 1 || string(out.Replies[0].Data) != tt.want {
			t.Fatalf("tick: %v %+v", err, out.Replies)
		}
		// Unanswered: the next tick ends the connection.
		out.Reset()
		if err := s.Tick(time.Now(), &out); err == nil || !strings.Contains(err.Error(), "heartbeat 2 not answered") {
			t.Fatalf("second tick without reply: %v", err)
		}
		// Answered: the next tick sends the next heartbeat.
		reply := `[null,"2","phoenix","phx_reply",{"status":"ok","response":{}}]`
		if a.v1 {
			reply = `{"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"2"}`
		}
		out.Reset()
		if err := s.Feed(protocol.Frame{Data: []byte(reply)}, &out); err != nil || len(out.Control) != 1 {
			t.Fatal(err, out)
		}
		out.Reset()
		if err := s.Tick(time.Now(), &out); err != nil || len(out.Replies) != 1 || !strings.Contains(string(out.Replies[0].Data), `"3"`) {
			t.Fatalf("tick after reply: %v %+v", err, out.Replies)
		}
	}
}

// TestConcurrentTickFeed runs Tick and Feed at once (the writer and the
// reader goroutines); -race checks the shared refs.
func TestConcurrentTickFeed(t *testing.T) {
	s, _ := mustNew(t, protocol.Config{Subscribe: []string{"room:lobby"}}).Open(context.Background(), &fakeConn{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var out protocol.Output
		for range 200 {
			out.Reset()
			s.Tick(time.Now(), &out)
		}
	}()
	var out protocol.Output
	for range 200 {
		out.Reset()
		s.Feed(protocol.Frame{Data: []byte(`[null,null,"room:lobby","phx_error",{}]`)}, &out)
		s.Feed(protocol.Frame{Data: []byte(`[null,"2","phoenix","phx_reply",{"status":"ok","response":{}}]`)}, &out)
	}
	<-done
}

func trickyTexts() map[string]string {
	return map[string]string{
		"chinese":   "你好，世界",
		"emoji":     "👩‍👩‍👧‍👦 🏳️‍🌈",
		"html":      "<script>alert(1)</script>&amp;",
		"json-like": `{"type":"fake","user":"mallory"}`,
		"frame":     `[null,null,"room:lobby","new_msg",{"body":"x","user":"eve"}]`,
		"10KB":      strings.Repeat("0123456789", 1024),
	}
}

func TestDecodeTexts(t *testing.T) {
	n := message.NewNormalizer(message.FieldMap{}, 0)
	for name, text := range trickyTexts() {
		t.Run(name, func(t *testing.T) {
			for _, vsn := range []string{"2.0.0", "1.0.0"} {
				a := mustNew(t, protocol.Config{Subscribe: []string{"room:lobby"}, Options: protocol.Options{"vsn": vsn}})
				payload := map[string]any{"id": "m1", "user": "alice", "body": text}
				var rec []byte
				if vsn == "2.0.0" {
					rec, _ = json.Marshal([]any{nil, nil, "room:lobby", "message", payload})
				} else {
					rec, _ = json.Marshal(map[string]any{"topic": "room:lobby", "event": "message", "payload": payload, "ref": nil})
				}
				evs := a.Decode(protocol.Frame{Data: rec})
				if len(evs) != 1 || evs[0].Room != "room:lobby" || evs[0].Name != "message" || string(evs[0].Raw) != string(rec) {
					t.Fatalf("%s: %+v", vsn, evs)
				}
				var m message.Message
				n.Normalize(evs[0], &m)
				if m.Content != text || m.User != "alice" || m.Room != "room:lobby" || m.ExtID != "m1" || m.Type != message.TypeChat || m.Reason != "" {
					t.Fatalf("%s: normalised %+v", vsn, m)
				}
			}
			// A string payload is its text.
			a := mustNew(t, protocol.Config{Subscribe: []string{"room:lobby"}})
			rec, _ := json.Marshal([]any{nil, nil, "room:lobby", "shout", text})
			evs := a.Decode(protocol.Frame{Data: rec})
			if len(evs) != 1 || !evs[0].Text || string(evs[0].Payload) != text {
				t.Fatalf("string payload: %+v", evs)
			}
			// A binary broadcast payload is its bytes.
			bin := append([]byte("\x02\x0a\x07room:lobbynew_msg"), text...)
			evs = a.Decode(protocol.Frame{Data: bin, Binary: true})
			if len(evs) != 1 || !evs[0].Binary || string(evs[0].Payload) != text || evs[0].Room != "room:lobby" || evs[0].Name != "new_msg" {
				t.Fatalf("binary: %+v", evs)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{"room:lobby"}, Options: protocol.Options{"presence": true}})
	type ev struct{ room, name, user, payload, reason string }
	tests := []struct {
		rec  string
		want []ev
	}{
		{`[null,null,"room:lobby","new_msg",{"body":"hi"}]`, []ev{{"room:lobby", "new_msg", "", `{"body":"hi"}`, ""}}},
		{`["3","5","room:lobby","shout",{"body":"hi"}]`, []ev{{"room:lobby", "shout", "", `{"body":"hi"}`, ""}}},
		{`[null,null,"room:lobby","presence_state",{"bob":{"metas":[{"phx_ref":"2"}]},"alice":{"metas":[{"phx_ref":"1"}]}}]`,
			[]ev{{"room:lobby", "join", "alice", `{"metas":[{"phx_ref":"1"}]}`, ""}, {"room:lobby", "join", "bob", `{"metas":[{"phx_ref":"2"}]}`, ""}}},
		{`[null,null,"room:lobby","presence_diff",{"joins":{"c":{"metas":[]}},"leaves":{"b":{"metas":[]},"a":{"metas":[]}}}]`,
			[]ev{{"room:lobby", "join", "c", `{"metas":[]}`, ""}, {"room:lobby", "leave", "a", `{"metas":[]}`, ""}, {"room:lobby", "leave", "b", `{"metas":[]}`, ""}}},
		{`[null,null,"room:lobby","presence_diff",{"joins":{},"leaves":{}}]`, nil},
		{`[null,null,"room:lobby","presence_diff",[1]]`, []ev{{"room:lobby", "presence_diff", "", `[1]`, ""}}},
		{`[null,null,"room:lobby","count",3]`, []ev{{"room:lobby", "count", "", `3`, ""}}},
		{`{"topic":"room:lobby","event":"new_msg","payload":{}}`, []ev{{"", "", "", `{"topic":"room:lobby","event":"new_msg","payload":{}}`, "bad_json"}}},
		{`[null,null,"room:lobby","new_msg"]`, []ev{{"", "", "", `[null,null,"room:lobby","new_msg"]`, "bad_json"}}},
		{`[1,null,"room:lobby","new_msg",{}]`, []ev{{"", "", "", `[1,null,"room:lobby","new_msg",{}]`, "bad_json"}}},
	}
	for _, tt := range tests {
		evs := a.Decode(protocol.Frame{Data: []byte(tt.rec)})
		var got []ev
		for _, e := range evs {
			if string(e.Raw) != tt.rec || e.ID != "" || e.Text {
				t.Errorf("%s: event %+v", tt.rec, e)
			}
			got = append(got, ev{e.Room, e.Name, e.User, string(e.Payload), e.Reason})
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.rec, got, tt.want)
		}
	}
}
