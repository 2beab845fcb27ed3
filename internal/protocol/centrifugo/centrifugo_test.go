package centrifugo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/wsmon/wsmon/internal/protocol"
)

// fakeConn is an in-memory protocol.Conn that records what is written.
type fakeConn struct{ written []protocol.Frame }

func (c *fakeConn) Write(_ context.Context, f protocol.Frame) error {
	c.written = append(c.written, protocol.Frame{Binary: f.Binary, Data: bytes.Clone(f.Data)})
	return nil
}
func (c *fakeConn) ReadFrame(context.Context) (protocol.Frame, error) {
	return protocol.Frame{}, errors.New("no frames")
}
func (c *fakeConn) Subprotocol() string { return "" }

const testURL = "ws://127.0.0.1:1/connection/websocket"

func mustNew(t testing.TB, cfg protocol.Config) *Adapter {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = testURL
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a.(*Adapter)
}

// open opens a session and returns it with the connect command it sent.
func open(t testing.TB, a *Adapter) (*session, map[string]any) {
	t.Helper()
	c := &fakeConn{}
	s, err := a.Open(context.Background(), c)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if len(c.written) != 1 || c.written[0].Binary {
		t.Fatalf("Open wrote %d frames, want one text frame", len(c.written))
	}
	var cmd map[string]any
	if err := json.Unmarshal(c.written[0].Data, &cmd); err != nil {
		t.Fatalf("connect command %q: %v", c.written[0].Data, err)
	}
	return s.(*session), cmd
}

type collected struct {
	replies, records, control []string
}

func feed(t testing.TB, s *session, frames ...string) (collected, error) {
	t.Helper()
	var got collected
	var out protocol.Output
	for _, f := range frames {
		out.Reset()
		err := s.Feed(protocol.Frame{Data: []byte(f)}, &out)
		for _, r := range out.Replies {
			if r.Binary {
				t.Errorf("reply %q sent as binary, want text", r.Data)
			}
			got.replies = append(got.replies, string(r.Data))
		}
		for _, r := range out.Records {
			got.records = append(got.records, string(r.Data))
		}
		for _, r := range out.Control {
			got.control = append(got.control, string(r.Data))
		}
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

const connectOK = `{"id":1,"connect":{"client":"c-1","version":"6.9.1","ping":25,"pong":true}}`

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     protocol.Config
		wantErr string
	}{
		{"ok", protocol.Config{Subscribe: []string{"chat:room1", "news"}}, ""},
		{"no channels (server-side subscriptions)", protocol.Config{}, ""},
		{"token and options", protocol.Config{Auth: protocol.Auth{Token: "jwt"}, Options: protocol.Options{
			"name": "mon", "connect_data": map[string]any{"a": 1.0}, "join_leave": false, "recover": false}}, ""},
		{"null connect_data", protocol.Config{Options: protocol.Options{"connect_data": nil}}, ""},
		{"bad url", protocol.Config{URL: "://x"}, "url: "},
		{"no host", protocol.Config{URL: "ws:///connection/websocket"}, "url: no host"},
		{"empty channel", protocol.Config{Subscribe: []string{""}}, "subscribe: entry 0 is empty"},
		{"spaces", protocol.Config{Subscribe: []string{" chat"}}, "subscribe: channel \" chat\" has leading or trailing spaces"},
		{"control char", protocol.Config{Subscribe: []string{"a\nb"}}, "subscribe: channel \"a\\nb\" holds a control character"},
		{"bad utf8", protocol.Config{Subscribe: []string{"a\xff"}}, "subscribe: channel \"a\\xff\" holds a control character or invalid UTF-8"},
		{"duplicate", protocol.Config{Subscribe: []string{"a", "a"}}, "subscribe: channel \"a\" is listed twice"},
		{"username", protocol.Config{Auth: protocol.Auth{Username: "u", Password: "p"}}, "auth: centrifugo takes a connection token"},
		{"unknown option", protocol.Config{Options: protocol.Options{"qos": 1.0}}, "options.qos: unknown option"},
		{"bad join_leave", protocol.Config{Options: protocol.Options{"join_leave": "yes"}}, "options.join_leave: must be true or false"},
		{"bad recover", protocol.Config{Options: protocol.Options{"recover": 1.0}}, "options.recover: must be true or false"},
		{"bad name", protocol.Config{Options: protocol.Options{"name": true}}, "options.name: must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.URL == "" {
				tt.cfg.URL = testURL
			}
			_, err := New(tt.cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), strings.SplitN(tt.wantErr, ":", 2)[0]) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New: %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestPrepare(t *testing.T) {
	for in, want := range map[string]string{
		"ws://h/connection/websocket":                                "ws://h/connection/websocket?cf_protocol_version=v2",
		"ws://h/connection/websocket?format=json":                    "ws://h/connection/websocket?cf_protocol_version=v2&format=json",
		"ws://h/connection/websocket?cf_protocol_version=v2":         "ws://h/connection/websocket?cf_protocol_version=v2",
		"wss://h:8000/x/connection/websocket?cf_protocol_version=v1": "wss://h:8000/x/connection/websocket?cf_protocol_version=v1",
	} {
		u, _ := url.Parse(in)
		d := &protocol.Dial{URL: u}
		if err := mustNew(t, protocol.Config{URL: in}).Prepare(context.Background(), d); err != nil {
			t.Fatal(err)
		}
		if d.URL.String() != want {
			t.Errorf("Prepare(%s) = %s, want %s", in, d.URL, want)
		}
		if u.String() != in {
			t.Errorf("Prepare changed the caller's URL to %s", u)
		}
	}
}

func TestHandshake(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{"chat:a", "chat:b"}, Auth: protocol.Auth{Token: "jwt.x.y"},
		Options: protocol.Options{"connect_data": map[string]any{"k": "v"}}})
	s, cmd := open(t, a)
	want := map[string]any{"id": 1.0, "connect": map[string]any{"token": "jwt.x.y", "name": "wsmon", "data": map[string]any{"k": "v"}}}
	if !reflect.DeepEqual(cmd, want) {
		t.Errorf("connect command %v, want %v", cmd, want)
	}
	if s.Ready() {
		t.Fatal("ready before the connect reply")
	}
	got, err := feed(t, s, connectOK)
	if err != nil {
		t.Fatal(err)
	}
	wantSubs := []string{
		`{"id":2,"subscribe":{"channel":"chat:a","recoverable":true,"join_leave":true}}`,
		`{"id":3,"subscribe":{"channel":"chat:b","recoverable":true,"join_leave":true}}`,
	}
	if !reflect.DeepEqual(got.replies, wantSubs) {
		t.Errorf("replies %q\nwant    %q", got.replies, wantSubs)
	}
	if !reflect.DeepEqual(got.control, []string{connectOK}) || len(got.records) != 0 {
		t.Errorf("control %q records %q", got.control, got.records)
	}
	if !s.Ready() || s.Heartbeat() != 0 {
		t.Fatalf("Ready %v Heartbeat %v", s.Ready(), s.Heartbeat())
	}
	// Subscribe replies, then a ping: answered with a pong.
	got, err = feed(t, s, `{"id":2,"subscribe":{"recoverable":true,"epoch":"E","positioned":true}}`+"\n"+`{"id":3,"subscribe":{}}`, "{}")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.replies, []string{"{}"}) || len(got.control) != 3 || len(got.records) != 0 {
		t.Errorf("after subscribe replies and ping: %+v", got)
	}

	// Options off; a server that wants no pong.
	a = mustNew(t, protocol.Config{Subscribe: []string{"c"}, Options: protocol.Options{"join_leave": false, "recover": false, "name": ""}})
	s, cmd = open(t, a)
	if want := map[string]any{"id": 1.0, "connect": map[string]any{}}; !reflect.DeepEqual(cmd, want) {
		t.Errorf("connect command %v, want %v", cmd, want)
	}
	got, err = feed(t, s, `{"id":1,"connect":{"client":"x","ping":25}}`, "{}")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.replies, []string{`{"id":2,"subscribe":{"channel":"c"}}`}) {
		t.Errorf("replies %q (no pong wanted)", got.replies)
	}
}

func TestBatchedFrame(t *testing.T) {
	s, _ := open(t, mustNew(t, protocol.Config{Subscribe: []string{"chat"}}))
	pub1 := `{"push":{"channel":"chat","pub":{"data":{"text":"a\nb"},"offset":1}}}`
	pub2 := `{"push":{"channel":"chat","pub":{"data":"x"}}}`
	join := `{"push":{"channel":"chat","join":{"info":{"user":"7","client":"other"}}}}`
	ownJoin := `{"push":{"channel":"chat","join":{"info":{"user":"","client":"c-1"}}}}`
	got, err := feed(t, s, connectOK+"\n"+`{"id":2,"subscribe":{}}`+"\n"+ownJoin+"\n"+pub1+"\r\n\n{}\n"+pub2+"\n"+join+"\n"+`{"id":9,"publish":{}}`+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{pub1, pub2, join}; !reflect.DeepEqual(got.records, want) {
		t.Errorf("records %q\nwant    %q", got.records, want)
	}
	if want := []string{connectOK, `{"id":2,"subscribe":{}}`, ownJoin, "{}", `{"id":9,"publish":{}}`}; !reflect.DeepEqual(got.control, want) {
		t.Errorf("control %q\nwant    %q", got.control, want)
	}
	if len(got.replies) != 2 || got.replies[1] != "{}" {
		t.Errorf("replies %q", got.replies)
	}
}

func TestFeedErrors(t *testing.T) {
	sub := func(id, body string) string { return `{"id":` + id + `,` + body + `}` }
	tests := []struct {
		name    string
		frames  []string
		refusal bool
		wantErr string
		replies []string // replies after the subscribe commands, when no error
	}{
		{"unauthorized", []string{`{"id":1,"error":{"code":101,"message":"unauthorized"}}`}, true, "centrifugo: server refused: connect: unauthorized (101): check auth.token", nil},
		{"token expired", []string{`{"id":1,"error":{"code":109,"message":"token expired"}}`}, true, "connect: token expired (109): wsmon cannot refresh a connection token", nil},
		{"permission denied", []string{`{"id":1,"error":{"code":103,"message":"permission denied"}}`}, true, "connect: permission denied (103)", nil},
		{"temporary connect error", []string{`{"id":1,"error":{"code":100,"message":"internal server error","temporary":true}}`}, false, "centrifugo: connect failed: internal server error (100, temporary)", nil},
		{"connect without result", []string{`{"id":1}`}, false, "connect reply without result", nil},
		{"unknown channel", []string{connectOK, sub("3", `"error":{"code":102,"message":"unknown channel"}`)}, true, `subscribe to channel "b": unknown channel (102)`, nil},
		{"subscribe permission denied", []string{connectOK, sub("2", `"error":{"code":103,"message":"permission denied"}`)}, true, `subscribe to channel "a": permission denied (103)`, nil},
		{"temporary subscribe error", []string{connectOK, sub("2", `"error":{"code":111,"message":"too many requests","temporary":true}`)}, false, `subscribe to channel "a" failed: too many requests (111, temporary)`, nil},
		{"already subscribed", []string{connectOK, sub("2", `"error":{"code":105,"message":"already subscribed"}`)}, false, "", nil},
		{"server unsubscribe", []string{connectOK, `{"push":{"channel":"a","unsubscribe":{"code":2000,"reason":"server unsubscribe"}}}`}, true, `server unsubscribed wsmon from channel "a": server unsubscribe (2000)`, nil},
		{"unsubscribe of a channel not ours", []string{connectOK, `{"push":{"channel":"zz","unsubscribe":{"code":2000}}}`}, false, "", nil},
		{"insufficient state resubscribes", []string{connectOK, `{"push":{"channel":"b","unsubscribe":{"code":2500,"reason":"insufficient state"}}}`}, false, "",
			[]string{`{"id":4,"subscribe":{"channel":"b","recoverable":true,"join_leave":true}}`}},
		{"disconnect push terminal", []string{connectOK, `{"push":{"disconnect":{"code":3503,"reason":"force disconnect"}}}`}, true, "server disconnected wsmon: force disconnect (3503)", nil},
		{"disconnect push custom terminal", []string{connectOK, `{"push":{"disconnect":{"code":4501,"reason":"banned"}}}`}, true, "banned (4501)", nil},
		{"disconnect push reconnect", []string{connectOK, `{"push":{"disconnect":{"code":3001,"reason":"shutdown"}}}`}, false, "centrifugo: server disconnected: shutdown (3001)", nil},
		{"not json", []string{"hello"}, false, "centrifugo: reply is not JSON", nil},
		{"unknown push is control", []string{connectOK, `{"push":{"channel":"a","refresh":{"ttl":5}}}`, `{"push":{"connect":{}}}`, `{"foo":1}`}, false, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := open(t, mustNew(t, protocol.Config{Subscribe: []string{"a", "b"}}))
			got, err := feed(t, s, tt.frames...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("err %v", err)
				}
				if len(got.records) != 0 {
					t.Errorf("records %q", got.records)
				}
				if r := got.replies[min(2, len(got.replies)):]; !reflect.DeepEqual(r, tt.replies) && (len(r) > 0 || len(tt.replies) > 0) {
					t.Errorf("replies %q, want %q", r, tt.replies)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want %q", err, tt.wantErr)
			}
			var ref *protocol.Refusal
			if errors.As(err, &ref) != tt.refusal {
				t.Fatalf("err %v: refusal %v, want %v", err, !tt.refusal, tt.refusal)
			}
		})
	}
}

// TestFeedRecovery follows one channel over two connections: the second
// subscribes from the last position the first saw, and the publications the
// server recovers are one record decoding to one event each.
func TestFeedRecovery(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{"chat"}})
	s, _ := open(t, a)
	pub := func(off, text string) string {
		return `{"push":{"channel":"chat","pub":{"data":{"text":"` + text + `"},"offset":` + off + `}}}`
	}
	got, err := feed(t, s, connectOK, `{"id":2,"subscribe":{"recoverable":true,"epoch":"EP","positioned":true}}`, pub("1", "one"), pub("2", "two"),
		`{"push":{"channel":"chat","pub":{"data":{"text":"three"},"offset":3,"epoch":"EP"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"#{\"epoch\":\"EP\"}\n" + pub("1", "one"),
		"#{\"epoch\":\"EP\"}\n" + pub("2", "two"),
		`{"push":{"channel":"chat","pub":{"data":{"text":"three"},"offset":3,"epoch":"EP"}}}`, // says its epoch itself
	}
	if !reflect.DeepEqual(got.records, want) {
		t.Fatalf("records %q\nwant    %q", got.records, want)
	}
	for i, r := range got.records {
		evs := a.Decode(protocol.Frame{Data: []byte(r)})
		wantID := "chat:EP:" + string(rune('1'+i))
		if len(evs) != 1 || evs[0].ID != wantID || evs[0].Room != "chat" || string(evs[0].Raw) != strings.TrimPrefix(r, "#{\"epoch\":\"EP\"}\n") {
			t.Errorf("record %d: %+v, want ID %s", i, evs, wantID)
		}
	}

	// Reconnect: subscribe recovers from offset 3 of epoch EP.
	s, _ = open(t, a)
	got, err = feed(t, s, connectOK)
	if err != nil {
		t.Fatal(err)
	}
	if w := `{"id":2,"subscribe":{"channel":"chat","recover":true,"epoch":"EP","offset":3,"recoverable":true,"join_leave":true}}`; !reflect.DeepEqual(got.replies, []string{w}) {
		t.Fatalf("resubscribe %q, want %q", got.replies, w)
	}
	rep := `{"id":2,"subscribe":{"recoverable":true,"epoch":"EP","offset":5,"recovered":true,"positioned":true,"was_recovering":true,"publications":[{"data":{"text":"four"},"offset":4},{"data":"five","info":{"user":"9"},"offset":5}]}}`
	got, err = feed(t, s, rep, pub("6", "six"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.records) != 2 || got.records[0] != "#{\"channel\":\"chat\"}\n"+rep || got.records[1] != "#{\"epoch\":\"EP\"}\n"+pub("6", "six") {
		t.Fatalf("records %q", got.records)
	}
	evs := a.Decode(protocol.Frame{Data: []byte(got.records[0])})
	if len(evs) != 2 {
		t.Fatalf("recovered events %+v", evs)
	}
	if e := evs[0]; e.Room != "chat" || e.ID != "chat:EP:4" || string(e.Payload) != `{"text":"four"}` || e.Text || string(e.Raw) != `{"data":{"text":"four"},"offset":4}` {
		t.Errorf("recovered 0: %+v", e)
	}
	if e := evs[1]; e.Room != "chat" || e.ID != "chat:EP:5" || string(e.Payload) != "five" || !e.Text || e.User != "9" {
		t.Errorf("recovered 1: %+v", e)
	}
	if p, _ := a.position("chat"); p != (position{offset: 6, epoch: "EP"}) {
		t.Errorf("position %+v", p)
	}

	// With recover off the position is not used.
	b := mustNew(t, protocol.Config{Subscribe: []string{"chat"}, Options: protocol.Options{"recover": false}})
	b.setPosition("chat", position{offset: 3, epoch: "EP"})
	s, _ = open(t, b)
	got, _ = feed(t, s, connectOK)
	if w := `{"id":2,"subscribe":{"channel":"chat","join_leave":true}}`; !reflect.DeepEqual(got.replies, []string{w}) {
		t.Fatalf("subscribe without recover %q, want %q", got.replies, w)
	}
}

// tricky are the texts every adapter must keep byte for byte.
var tricky = []string{
	"你好，世界",
	"👩‍👩‍👧‍👦 🏳️‍🌈",
	"<script>alert(1)</script>&amp;",
	`{"type":"fake","user":"mallory"}`,
	`{"push":{"channel":"chat","pub":{"data":"x","offset":1}}}`,
	"{}\n{\"id\":1,\"error\":{\"code\":101}}",
	strings.Repeat("0123456789", 1024),
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestDecode(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{"chat"}})
	for _, text := range tricky {
		t.Run(truncate(text), func(t *testing.T) {
			// A JSON string as data: the text itself, plain.
			line := `{"push":{"channel":"chat:r1","pub":{"data":` + jsonString(text) + `,"info":{"user":"42","client":"c"},"offset":7}}}`
			s, _ := open(t, a)
			got, err := feed(t, s, connectOK, line)
			if err != nil || len(got.records) != 1 || got.records[0] != line {
				t.Fatalf("Feed: %v %q", err, got.records)
			}
			evs := a.Decode(protocol.Frame{Data: []byte(line)})
			if len(evs) != 1 {
				t.Fatalf("%d events", len(evs))
			}
			ev := evs[0]
			if string(ev.Payload) != text || !ev.Text || ev.User != "42" || ev.Room != "chat:r1" || ev.ID != "" || string(ev.Raw) != line || ev.Reason != "" || ev.Name != "" || ev.Binary {
				t.Errorf("string data: %+v", ev)
			}
			// An object as data: kept as JSON for the normaliser.
			obj := `{"user":"bob","text":` + jsonString(text) + `}`
			line = `{"push":{"channel":"chat","pub":{"data":` + obj + `}}}`
			evs = a.Decode(protocol.Frame{Data: []byte(line)})
			if len(evs) != 1 || string(evs[0].Payload) != obj || evs[0].Text || evs[0].User != "" {
				t.Errorf("object data: %+v", evs)
			}
			// An async message.
			line = `{"push":{"message":{"data":` + jsonString(text) + `}}}`
			evs = a.Decode(protocol.Frame{Data: []byte(line)})
			if len(evs) != 1 || string(evs[0].Payload) != text || !evs[0].Text || evs[0].Room != "" {
				t.Errorf("message push: %+v", evs)
			}
		})
	}
}

func truncate(s string) string {
	if len(s) > 24 {
		return s[:24]
	}
	return s
}

func TestDecodeEnvelope(t *testing.T) {
	a := mustNew(t, protocol.Config{})
	tests := []struct {
		name string
		rec  string
		want []protocol.Event
	}{
		{"join", `{"push":{"channel":"chat","join":{"info":{"user":"42","client":"c","conn_info":{"name":"Alice"}}}}}`,
			[]protocol.Event{{Room: "chat", Name: "join", User: "42", Payload: []byte(`{"user":"42","client":"c","conn_info":{"name":"Alice"}}`)}}},
		{"leave of an anonymous user with a name", `{"push":{"channel":"chat","leave":{"info":{"client":"c","conn_info":{"name":"Alice"}}}}}`,
			[]protocol.Event{{Room: "chat", Name: "leave", User: "Alice", Payload: []byte(`{"client":"c","conn_info":{"name":"Alice"}}`)}}},
		{"user from conn_info username", `{"push":{"channel":"c","pub":{"data":1,"info":{"conn_info":{"username":"u1"}}}}}`,
			[]protocol.Event{{Room: "c", User: "u1", Payload: []byte(`1`)}}},
		{"wildcard channel", `{"push":{"channel":"chat:*","pub":{"channel":"chat:9","data":{},"offset":2,"epoch":"e"}}}`,
			[]protocol.Event{{Room: "chat:9", ID: "chat:9:e:2", Payload: []byte(`{}`)}}},
		{"null data", `{"push":{"channel":"c","pub":{"data":null}}}`, []protocol.Event{{Room: "c"}}},
		{"no data", `{"push":{"channel":"c","pub":{}}}`, []protocol.Event{{Room: "c"}}},
		{"escaped string", `{"push":{"channel":"c","pub":{"data":"a\"b\u4f60\n"}}}`, []protocol.Event{{Room: "c", Payload: []byte("a\"b你\n"), Text: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := a.Decode(protocol.Frame{Data: []byte(tt.rec)})
			for i := range evs {
				if string(evs[i].Raw) != tt.rec {
					t.Errorf("Raw %q", evs[i].Raw)
				}
				evs[i].Raw = nil
				if len(evs[i].Payload) == 0 {
					evs[i].Payload = nil
				}
			}
			if !reflect.DeepEqual(evs, tt.want) {
				t.Errorf("got  %+v\nwant %+v", evs, tt.want)
			}
		})
	}
	for _, bad := range []string{
		"", "{}", "x", `{"id":1,"connect":{}}`, `{"push":{"channel":"c"}}`, `{"push":{"channel":"c","unsubscribe":{}}}`,
		`#{"channel":"c"}` + "\n" + `{"id":2,"subscribe":{}}`, `{"id":2,"subscribe":{"publications":[{}]}}`, "#nope\n{}", "#{\"channel\":\"c\"}",
		`{"push":{"channel":"c","pub":{"data":{"a":}}}}`,
	} {
		evs := a.Decode(protocol.Frame{Data: []byte(bad)})
		if len(evs) != 1 || evs[0].Reason != ReasonBadFrame || string(evs[0].Raw) != bad || string(evs[0].Payload) != bad {
			t.Errorf("Decode(%q) = %+v, want one bad_frame event", bad, evs)
		}
	}
	// A recovered publication that does not parse is kept, marked.
	evs := a.Decode(protocol.Frame{Data: []byte("#{\"channel\":\"c\"}\n{\"id\":2,\"subscribe\":{\"publications\":[{\"data\":1},[1]]}}")})
	if len(evs) != 2 || evs[0].Reason != "" || evs[1].Reason != ReasonBadFrame || string(evs[1].Raw) != "[1]" || evs[1].Room != "c" {
		t.Errorf("recovered with a bad publication: %+v", evs)
	}
}

func TestCloseError(t *testing.T) {
	a := mustNew(t, protocol.Config{})
	for code, want := range map[int]string{
		3500: "refusal", 3501: "refusal", 3503: "refusal", 3999: "refusal", 4500: "refusal", 4999: "refusal",
		3000: "plain", 3001: "plain", 3011: "plain", 3012: "plain", 4000: "plain", 4499: "plain",
		1000: "", 1006: "", 1008: "", 2999: "", 5000: "", -1: "",
	} {
		err := a.CloseError(code, "why")
		var ref *protocol.Refusal
		got := ""
		switch {
		case errors.As(err, &ref):
			got = "refusal"
		case err != nil:
			got = "plain"
		}
		if got != want {
			t.Errorf("CloseError(%d) = %v (%s), want %s", code, err, got, want)
		}
	}
}
