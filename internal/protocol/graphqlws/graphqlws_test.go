package graphqlws

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/protocol"
)

// fakeConn records what Open writes; it has nothing to read.
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

const sub1 = "subscription OnMessage { message { id user room text } }"

func mustNew(t testing.TB, cfg protocol.Config) *Adapter {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a.(*Adapter)
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  protocol.Config
		want string // error prefix
	}{
		{"no subscribe", protocol.Config{}, "subscribe: graphql-ws needs at least one"},
		{"blank entry", protocol.Config{Subscribe: []string{sub1, "  "}}, "subscribe: entry 2: empty"},
		{"query", protocol.Config{Subscribe: []string{"query { me }"}}, "subscribe: entry 1: not a GraphQL subscription"},
		{"shorthand query", protocol.Config{Subscribe: []string{"{ me }"}}, "subscribe: entry 1: not a GraphQL subscription"},
		{"keyword in comment", protocol.Config{Subscribe: []string{"# subscription\nquery { me }"}}, "subscribe: entry 1: not a GraphQL subscription"},
		{"keyword in string", protocol.Config{Subscribe: []string{`query { me(x: "subscription") }`}}, "subscribe: entry 1: not a GraphQL subscription"},
		{"two operations", protocol.Config{Subscribe: []string{"subscription A { a } subscription B { b }"}}, "subscribe: entry 1: the document has 2 operations"},
		{"unbalanced", protocol.Config{Subscribe: []string{"subscription { a "}}, "subscribe: entry 1: unbalanced brackets"},
		{"unterminated string", protocol.Config{Subscribe: []string{`subscription { a(x: "b) }`}}, "subscribe: entry 1: unterminated string"},
		{"json without query", protocol.Config{Subscribe: []string{`{"variables":{}}`}}, `subscribe: entry 1: a JSON entry needs a "query" string`},
		{"json query not string", protocol.Config{Subscribe: []string{`{"query":1}`}}, "subscribe: entry 1: not a request object"},
		{"json variables not object", protocol.Config{Subscribe: []string{`{"query":"subscription { a }","variables":[1]}`}}, `subscribe: entry 1: "variables" must be an object`},
		{"json operationName unknown", protocol.Config{Subscribe: []string{`{"query":"subscription A { a } query B { b }","operationName":"B"}`}}, `subscribe: entry 1: operationName "B" is not a subscription`},
		{"username", protocol.Config{Subscribe: []string{sub1}, Auth: protocol.Auth{Username: "u"}}, "auth: graphql-ws uses only auth.token"},
		{"password", protocol.Config{Subscribe: []string{sub1}, Auth: protocol.Auth{Password: "p"}}, "auth: graphql-ws uses only auth.token"},
		{"variant", protocol.Config{Subscribe: []string{sub1}, Options: protocol.Options{"variant": "apollo"}}, "options.variant: must be one of"},
		{"variant type", protocol.Config{Subscribe: []string{sub1}, Options: protocol.Options{"variant": 1.0}}, "options.variant: must be a string"},
		{"init_payload type", protocol.Config{Subscribe: []string{sub1}, Options: protocol.Options{"init_payload": "x"}}, "options.init_payload: must be a JSON object"},
		{"unknown option", protocol.Config{Subscribe: []string{sub1}, Options: protocol.Options{"keepalive": 1.0}}, "options.keepalive: unknown option"},
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

func TestScanDocument(t *testing.T) {
	tests := []struct {
		doc  string
		ops  int
		subs []string
	}{
		{"subscription OnMessage { message { text } }", 1, []string{"OnMessage"}},
		{"subscription { message { text } }", 1, []string{""}},
		{"subscription($room: String = \"x\") { message(room: $room) { text } }", 1, []string{""}},
		{"subscription S($f: In = {a: {b: 1}}) @live { m }", 1, []string{"S"}},
		{"fragment F on Message { text }\nsubscription S { message { ...F } }", 1, []string{"S"}},
		{"query Q { a } subscription S { b } mutation M { c }", 3, []string{"S"}},
		{"{ a } subscription S { b }", 2, []string{"S"}},
		{"# subscription X\nsubscription Y { b }", 1, []string{"Y"}},
		{`subscription Z { m(x: """ subscription W { """) }`, 1, []string{"Z"}},
		{`subscription Z { m(x: """ \""" { """) }`, 1, []string{"Z"}},
		{"subscription,Named{a}", 1, []string{"Named"}},
	}
	for _, tt := range tests {
		d := scanDocument(tt.doc)
		if d.err != "" || d.operations != tt.ops || !slices.Equal(d.subscriptions, tt.subs) {
			t.Errorf("scanDocument(%q) = %+v, want ops %d subs %q", tt.doc, d, tt.ops, tt.subs)
		}
	}
}

func TestNewMessages(t *testing.T) {
	a := mustNew(t, protocol.Config{
		Subscribe: []string{
			sub1,
			"subscription { text }",
			`{"query":"subscription R($room: String) { message(room: $room) { text } } query Q { x }","operationName":"R","variables":{"room":"lobby"}}`,
		},
		Auth:    protocol.Auth{Token: "tok"},
		Options: protocol.Options{"init_payload": map[string]any{"tenant": "t1"}},
	})
	if got, want := string(a.init), `{"payload":{"Authorization":"Bearer tok","tenant":"t1"},"type":"connection_init"}`; got != want {
		t.Errorf("init = %s, want %s", got, want)
	}
	wantStart := []string{
		`{"id":"1","type":"subscribe","payload":{"query":"subscription OnMessage { message { id user room text } }"}}`,
		`{"id":"2","type":"subscribe","payload":{"query":"subscription { text }"}}`,
		`{"id":"3","type":"subscribe","payload":{"query":"subscription R($room: String) { message(room: $room) { text } } query Q { x }","operationName":"R","variables":{"room":"lobby"}}}`,
	}
	for i, b := range a.start {
		if string(b) != wantStart[i] {
			t.Errorf("start[%d] = %s, want %s", i, b, wantStart[i])
		}
		if want := strings.Replace(wantStart[i], `"subscribe"`, `"start"`, 1); string(a.legacy[i]) != want {
			t.Errorf("legacy[%d] = %s, want %s", i, a.legacy[i], want)
		}
	}
	if rooms := []string{a.subs[0].room, a.subs[1].room, a.subs[2].room}; !slices.Equal(rooms, []string{"OnMessage", "2", "R"}) {
		t.Errorf("rooms = %q", rooms)
	}

	// A token never overrides an Authorization the payload sets; no
	// credentials at all: no payload.
	b := mustNew(t, protocol.Config{Subscribe: []string{sub1}, Auth: protocol.Auth{Token: "tok"},
		Options: protocol.Options{"init_payload": map[string]any{"Authorization": "Basic x"}}})
	if got := string(b.init); got != `{"payload":{"Authorization":"Basic x"},"type":"connection_init"}` {
		t.Errorf("init = %s", got)
	}
	c := mustNew(t, protocol.Config{Subscribe: []string{sub1}})
	if got := string(c.init); got != `{"type":"connection_init"}` {
		t.Errorf("init = %s", got)
	}
}

func TestPrepare(t *testing.T) {
	tests := []struct {
		variant string
		have    []string
		want    []string
	}{
		{"", nil, []string{SubprotocolLegacy, SubprotocolTransport}},
		{"auto", []string{"x", SubprotocolTransport}, []string{"x", SubprotocolTransport, SubprotocolLegacy}},
		{SubprotocolTransport, nil, []string{SubprotocolTransport}},
		{SubprotocolLegacy, nil, []string{SubprotocolLegacy}},
	}
	for _, tt := range tests {
		opts := protocol.Options{}
		if tt.variant != "" {
			opts["variant"] = tt.variant
		}
		a := mustNew(t, protocol.Config{Subscribe: []string{sub1}, Options: opts})
		d := &protocol.Dial{Subprotocols: slices.Clone(tt.have)}
		if err := a.Prepare(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(d.Subprotocols, tt.want) {
			t.Errorf("variant %q: subprotocols %q, want %q", tt.variant, d.Subprotocols, tt.want)
		}
	}
}

// step is one frame fed to a session and what must come out.
type step struct {
	in      string
	replies []string
	records int
	control int
	err     string // error prefix; "refuse:" + prefix for a *Refusal's reason
	ready   bool
}

func runSteps(t *testing.T, s protocol.Session, steps []step) {
	t.Helper()
	var out protocol.Output
	for i, st := range steps {
		out.Reset()
		err := s.Feed(protocol.Frame{Data: []byte(st.in)}, &out)
		var replies []string
		for _, r := range out.Replies {
			replies = append(replies, string(r.Data))
		}
		switch {
		case st.err == "" && err != nil:
			t.Fatalf("step %d %s: error %v", i, st.in, err)
		case strings.HasPrefix(st.err, "refuse:"):
			var r *protocol.Refusal
			if !errors.As(err, &r) || !strings.HasPrefix(r.Reason, strings.TrimPrefix(st.err, "refuse:")) {
				t.Fatalf("step %d %s: error %v, want refusal %q", i, st.in, err, st.err)
			}
			continue
		case st.err != "":
			var r *protocol.Refusal
			if err == nil || errors.As(err, &r) || !strings.HasPrefix(err.Error(), st.err) {
				t.Fatalf("step %d %s: error %v, want plain error %q", i, st.in, err, st.err)
			}
			continue
		}
		if !slices.Equal(replies, st.replies) || len(out.Records) != st.records || len(out.Control) != st.control {
			t.Fatalf("step %d %s: replies %q records %d control %d; want %q %d %d", i, st.in, replies, len(out.Records), len(out.Control), st.replies, st.records, st.control)
		}
		for _, r := range out.Records {
			if string(r.Data) != st.in {
				t.Fatalf("step %d: record %q is not the whole message", i, r.Data)
			}
		}
		if s.Ready() != st.ready {
			t.Fatalf("step %d %s: ready %v, want %v", i, st.in, s.Ready(), st.ready)
		}
	}
}

func TestFeed(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{sub1, "subscription { text }"}})
	subT := []string{
		`{"id":"1","type":"subscribe","payload":{"query":"subscription OnMessage { message { id user room text } }"}}`,
		`{"id":"2","type":"subscribe","payload":{"query":"subscription { text }"}}`,
	}
	subL := []string{
		`{"id":"1","type":"start","payload":{"query":"subscription OnMessage { message { id user room text } }"}}`,
		`{"id":"2","type":"start","payload":{"query":"subscription { text }"}}`,
	}
	next := `{"id":"1","type":"next","payload":{"data":{"message":{"id":"m1","user":"alice","room":"lobby","text":"hi"}}}}`
	data := `{"type":"data","id":"1","payload":{"data":{"message":{"id":"m1","user":"alice","room":"lobby","text":"hi"}}}}`
	tests := []struct {
		name     string
		sub      string // accepted subprotocol
		variant  string
		steps    []step
		wantOpen string
	}{
		{"transport handshake and traffic", SubprotocolTransport, "", []step{
			{in: `{"type":"ping"}`, replies: []string{`{"type":"pong"}`}, control: 1},
			{in: `{"type":"connection_ack"}`, replies: subT, control: 1, ready: true},
			{in: `{"type":"connection_ack"}`, control: 1, ready: true}, // a second ack subscribes nothing again
			{in: `{"type":"ping","payload":{"x":1}}`, replies: []string{`{"type":"pong"}`}, control: 1, ready: true},
			{in: `{"type":"pong"}`, control: 1, ready: true},
			{in: next, records: 1, ready: true},
			{in: `{"id":"2","type":"next","payload":{"data":{"text":"hi"}}}`, records: 1, ready: true},
			{in: `{"id":"1","type":"next","payload":{"data":{"message":null},"errors":[{"message":"boom"}]}}`, records: 1, ready: true},
			{in: `{"id":"9","type":"complete"}`, control: 1, ready: true},
			{in: `not json`, records: 1, ready: true},
			{in: `{"type":"surprise"}`, records: 1, ready: true},
			{in: `{"id":"2","type":"complete"}`, err: "graphql-ws: the server completed subscription 2; reconnecting"},
		}, `{"type":"connection_init"}`},
		{"no subprotocol: transport", "", "", []step{
			{in: `{"type":"connection_ack"}`, replies: subT, control: 1, ready: true},
		}, `{"type":"connection_init"}`},
		{"forced legacy", "", SubprotocolLegacy, []step{
			{in: `{"type":"connection_ack"}`, replies: subL, control: 1, ready: true},
		}, `{"type":"connection_init"}`},
		{"legacy traffic", SubprotocolLegacy, "", []step{
			{in: `{"type":"connection_ack"}`, replies: subL, control: 1, ready: true},
			{in: `{"type":"ka"}`, control: 1, ready: true},
			{in: data, records: 1, ready: true},
			{in: `{"type":"connection_error","payload":{"message":"Invalid message type!"}}`, control: 1, ready: true},
			{in: `{"type":"complete","id":"1","payload":null}`, err: "graphql-ws: the server completed subscription 1 (OnMessage)"},
		}, `{"type":"connection_init"}`},
		{"legacy validation error", SubprotocolLegacy, "", []step{
			{in: `{"type":"connection_ack"}`, replies: subL, control: 1, ready: true},
			{in: `{"type":"data","id":"2","payload":{"errors":[{"message":"Cannot query field \"nope\""}]}}`, err: `refuse:subscription 2 failed: Cannot query field "nope"`},
		}, `{"type":"connection_init"}`},
		{"legacy connection_error", SubprotocolLegacy, "", []step{
			{in: `{"type":"connection_error","payload":{"message":"bad token"}}`, err: "refuse:connection_init rejected: bad token"},
		}, `{"type":"connection_init"}`},
		{"error", SubprotocolTransport, "", []step{
			{in: `{"type":"connection_ack"}`, replies: subT, control: 1, ready: true},
			{in: `{"id":"1","type":"error","payload":[{"message":"a"},{"message":"b"}]}`, err: "refuse:subscription 1 (OnMessage) refused: a; b"},
		}, `{"type":"connection_init"}`},
		{"error unknown id", SubprotocolTransport, "", []step{
			{in: `{"id":7,"type":"error","payload":{"weird":true}}`, err: `refuse:operation "7" refused: {"weird":true}`},
		}, `{"type":"connection_init"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := protocol.Options{}
			if tt.variant != "" {
				opts["variant"] = tt.variant
			}
			a := a
			if tt.variant != "" {
				a = mustNew(t, protocol.Config{Subscribe: []string{sub1, "subscription { text }"}, Options: opts})
			}
			c := &fakeConn{sub: tt.sub}
			s, err := a.Open(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.writes, []string{tt.wantOpen}) {
				t.Fatalf("Open wrote %q, want %q", c.writes, tt.wantOpen)
			}
			if s.Ready() || s.Protocol() != Name || s.Heartbeat() != 0 {
				t.Fatalf("fresh session: ready %v protocol %q heartbeat %v", s.Ready(), s.Protocol(), s.Heartbeat())
			}
			runSteps(t, s, tt.steps)
		})
	}
}

// tricky texts every adapter must carry byte for byte.
func trickyTexts() map[string]string {
	return map[string]string{
		"chinese":   "你好，世界",
		"emoji":     "👩‍👩‍👧‍👦 🏳️‍🌈",
		"html":      "<script>alert(1)</script>&amp;",
		"json-like": `{"type":"fake","user":"mallory"}`,
		"frame":     `{"id":"1","type":"next","payload":{"data":{"message":{"user":"eve","text":"x"}}}}`,
		"10KB":      strings.Repeat("0123456789", 1024),
	}
}

func nextRecord(t *testing.T, id string, data any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"id": id, "type": "next", "payload": map[string]any{"data": data}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeTexts(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{sub1, "subscription { text }"}})
	n := message.NewNormalizer(message.FieldMap{}, 0)
	for name, text := range trickyTexts() {
		t.Run(name, func(t *testing.T) {
			// An object root field: the object is the payload.
			rec := nextRecord(t, "1", map[string]any{"message": map[string]any{"id": "m1", "user": "alice", "room": "lobby", "text": text}})
			evs := a.Decode(protocol.Frame{Data: rec})
			if len(evs) != 1 {
				t.Fatalf("%d events", len(evs))
			}
			var m message.Message
			n.Normalize(evs[0], &m)
			if m.Content != text || m.User != "alice" || m.Room != "lobby" || m.ExtID != "m1" || m.Type != message.TypeChat || m.Reason != "" {
				t.Fatalf("normalised %+v", m)
			}
			if string(evs[0].Raw) != string(rec) {
				t.Fatalf("Raw is not the record")
			}
			// A string root field: its text, never parsed again.
			rec = nextRecord(t, "2", map[string]any{"text": text})
			evs = a.Decode(protocol.Frame{Data: rec})
			if len(evs) != 1 || string(evs[0].Payload) != text || !evs[0].Text || evs[0].Room != "2" {
				t.Fatalf("string root: %+v", evs)
			}
			m = message.Message{}
			n.Normalize(evs[0], &m)
			if m.Content != text || m.Room != "2" {
				t.Fatalf("normalised %+v", m)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{sub1, "subscription { text }"}})
	tests := []struct {
		rec     string
		room    string
		payload string
		text    bool
		reason  string
	}{
		{`{"id":"1","type":"next","payload":{"data":{"message":{"user":"a","text":"b"}}}}`, "OnMessage", `{"user":"a","text":"b"}`, false, ""},
		{`{"type":"data","id":"1","payload":{"data":{"message":{"user":"a","text":"b"}}}}`, "OnMessage", `{"user":"a","text":"b"}`, false, ""},
		{`{"id":"2","type":"next","payload":{"data":{"text":"hi"}}}`, "2", `hi`, true, ""},
		{`{"id":"1","type":"next","payload":{"data":{"a":{"x":1},"b":{"y":2}}}}`, "OnMessage", `{"a":{"x":1},"b":{"y":2}}`, false, ""},
		{`{"id":"1","type":"next","payload":{"data":{"count":3}}}`, "OnMessage", `{"count":3}`, false, ""},
		{`{"id":"1","type":"next","payload":{"data":null,"errors":[{"message":"x"}]}}`, "OnMessage", `{"data":null,"errors":[{"message":"x"}]}`, false, ""},
		{`{"id":"7","type":"next","payload":{"data":{"message":{"text":"b"}}}}`, "7", `{"text":"b"}`, false, ""},
		{`{"id":"01","type":"next","payload":{"data":{"message":{"text":"b"}}}}`, "01", `{"text":"b"}`, false, ""},
		{`{"type":"surprise","x":1}`, "", `{"type":"surprise","x":1}`, false, ""},
		{`{"id":"1","type":"next","payload":7}`, "OnMessage", `{"id":"1","type":"next","payload":7}`, false, "bad_json"},
		{`{"id":"1","type":"next"`, "", `{"id":"1","type":"next"`, false, "bad_json"},
		{`hello`, "", `hello`, false, "bad_json"},
	}
	for _, tt := range tests {
		evs := a.Decode(protocol.Frame{Data: []byte(tt.rec)})
		if len(evs) != 1 {
			t.Fatalf("%s: %d events", tt.rec, len(evs))
		}
		ev := evs[0]
		if ev.Room != tt.room || string(ev.Payload) != tt.payload || ev.Text != tt.text || ev.Reason != tt.reason ||
			string(ev.Raw) != tt.rec || ev.ID != "" || ev.User != "" || ev.Name != "" {
			t.Errorf("%s: got %+v (payload %s)", tt.rec, ev, ev.Payload)
		}
	}
}

func TestCloseError(t *testing.T) {
	var a Adapter
	for code, want := range map[int]string{4400: "refusal", 4406: "refusal", 4401: "refusal", 4408: "retry", 4429: "retry", 1000: "", 1011: ""} {
		err := a.CloseError(code, "x")
		var ref *protocol.Refusal
		got := ""
		switch {
		case errors.As(err, &ref):
			got = "refusal"
		case err != nil:
			got = "retry"
		}
		if got != want {
			t.Errorf("CloseError(%d) = %v, want %s", code, err, want)
		}
	}
}
