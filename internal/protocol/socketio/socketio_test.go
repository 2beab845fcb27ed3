package socketio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/protocol"
)

func mustNew(t testing.TB, cfg protocol.Config) *Adapter {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = "ws://127.0.0.1:1/"
	}
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
		{"bad url", protocol.Config{URL: "ws://a/%zz"}, "url: "},
		{"namespace without slash", protocol.Config{Subscribe: []string{"chat"}}, "subscribe: entry 0 "},
		{"namespace with comma", protocol.Config{Subscribe: []string{"/", "/a,b"}}, "subscribe: entry 1 "},
		{"namespace with query", protocol.Config{Subscribe: []string{"/a?x=1"}}, "subscribe: "},
		{"namespace with space", protocol.Config{Subscribe: []string{"/a b"}}, "subscribe: "},
		{"namespace twice", protocol.Config{Subscribe: []string{"/chat", "/chat"}}, "subscribe: namespace \"/chat\" is listed twice"},
		{"eio out of range", protocol.Config{Options: protocol.Options{"eio": 5.0}}, "options.eio: "},
		{"eio not a number", protocol.Config{Options: protocol.Options{"eio": "4"}}, "options.eio: "},
		{"eio against the url", protocol.Config{URL: "ws://h/socket.io/?EIO=4", Options: protocol.Options{"eio": 3.0}}, "options.eio: 3, but the URL asks for EIO=4"},
		{"url eio unknown", protocol.Config{URL: "ws://h/socket.io/?EIO=5"}, "options.eio: 4, but the URL asks for EIO=5"},
		{"events empty", protocol.Config{Options: protocol.Options{"events": []any{}}}, "options.events: must name at least one event"},
		{"events empty name", protocol.Config{Options: protocol.Options{"events": []any{"a", ""}}}, "options.events: element 1 is empty"},
		{"events not a list", protocol.Config{Options: protocol.Options{"events": "chat"}}, "options.events: "},
		{"args empty name", protocol.Config{Options: protocol.Options{"args": []any{"user", ""}}}, "options.args: element 1 is empty"},
		{"args twice", protocol.Config{Options: protocol.Options{"args": []any{"user", "user"}}}, "options.args: \"user\" is named twice"},
		{"args none", protocol.Config{Options: protocol.Options{"args": []any{"-", "-"}}}, "options.args: names no argument"},
		{"ack not bool", protocol.Config{Options: protocol.Options{"ack": "yes"}}, "options.ack: "},
		{"query bad", protocol.Config{Options: protocol.Options{"query": "a=%zz"}}, "options.query: "},
		{"query sets EIO", protocol.Config{Options: protocol.Options{"query": "EIO=3"}}, "options.query: EIO is set by wsmon"},
		{"connect_payload number", protocol.Config{Options: protocol.Options{"connect_payload": 5.0}}, "options.connect_payload: must be a JSON object"},
		{"connect_payload bad string", protocol.Config{Options: protocol.Options{"connect_payload": "{nope"}}, "options.connect_payload: must be a JSON object"},
		{"connect_payload array", protocol.Config{Options: protocol.Options{"connect_payload": "[1]"}}, "options.connect_payload: must be a JSON object"},
		{"connect_payload with eio 3", protocol.Config{Options: protocol.Options{"eio": 3.0, "connect_payload": map[string]any{"a": "b"}}}, "options.connect_payload: Socket.IO 2"},
		{"token twice", protocol.Config{Auth: protocol.Auth{Token: "t"}, Options: protocol.Options{"connect_payload": `{"token":"x"}`}}, "auth: auth.token and options.connect_payload both set"},
		{"token twice eio 3", protocol.Config{Auth: protocol.Auth{Token: "t"}, Options: protocol.Options{"eio": 3.0, "query": "token=x"}}, "auth: auth.token and options.query both set token"},
		{"unknown option", protocol.Config{Options: protocol.Options{"room": "x"}}, "options.room: unknown option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.cfg.URL == "" {
				tt.cfg.URL = "ws://127.0.0.1:1/"
			}
			_, err := New(tt.cfg)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestPrepare(t *testing.T) {
	tests := []struct {
		name string
		cfg  protocol.Config
		url  string
		want string
	}{
		{"empty path", protocol.Config{}, "ws://h:1", "ws://h:1/socket.io/?EIO=4&transport=websocket"},
		{"root path", protocol.Config{}, "ws://h:1/", "ws://h:1/socket.io/?EIO=4&transport=websocket"},
		{"own path kept", protocol.Config{}, "ws://h:1/custom/io/", "ws://h:1/custom/io/?EIO=4&transport=websocket"},
		{"query kept, transport forced", protocol.Config{}, "ws://h:1/socket.io/?room=a&transport=polling&sid=old", "ws://h:1/socket.io/?EIO=4&room=a&transport=websocket"},
		{"url eio 3", protocol.Config{}, "ws://h:1/?EIO=3", "ws://h:1/socket.io/?EIO=3&transport=websocket"},
		{"eio 3 credentials in the query", protocol.Config{Auth: protocol.Auth{Token: "s e", Username: "u"}, Options: protocol.Options{"eio": 3.0}}, "ws://h:1/", "ws://h:1/socket.io/?EIO=3&token=s+e&transport=websocket&username=u"},
		{"options.query", protocol.Config{Options: protocol.Options{"query": "a=1&b=2"}}, "ws://h:1/", "ws://h:1/socket.io/?EIO=4&a=1&b=2&transport=websocket"},
		{"eio 4 token not in the query", protocol.Config{Auth: protocol.Auth{Token: "t"}}, "wss://h/", "wss://h/socket.io/?EIO=4&transport=websocket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.URL = tt.url
			a := mustNew(t, tt.cfg)
			u, _ := url.Parse(tt.url)
			d := &protocol.Dial{URL: u, Header: http.Header{}}
			for range 2 { // idempotent across attempts
				if err := a.Prepare(context.Background(), d); err != nil {
					t.Fatal(err)
				}
			}
			if got := d.URL.String(); got != tt.want {
				t.Fatalf("URL = %s, want %s", got, tt.want)
			}
			if u.String() != tt.url && u.String()+"/" != tt.url && tt.url != "ws://h:1" {
				t.Fatalf("Prepare changed the caller's URL to %s", u)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		frame  string
		binary bool
		want   bool
	}{
		{`0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`, false, true},
		{`0{"sid": "abc", "upgrades": [], "pingTimeout": 60000, "pingInterval": 25000}`, false, true},
		{`0{"sid":"abc"}`, false, false},
		{`0{"sid":"abc","pingInterval":25000}`, true, false},
		{`{"sid":"abc","pingInterval":25000}`, false, false},
		{`0{"sid":"abc","pingInterval":`, false, false},
		{`40`, false, false},
		{``, false, false},
	}
	for _, tt := range tests {
		if got := Sniff(protocol.Frame{Binary: tt.binary, Data: []byte(tt.frame)}); got != tt.want {
			t.Errorf("Sniff(%q, binary %v) = %v, want %v", tt.frame, tt.binary, got, tt.want)
		}
	}
	s := Spec()
	if s.Name != "socketio" || s.New == nil || s.Sniff == nil || !reflect.DeepEqual(s.Paths, []string{"/socket.io/"}) {
		t.Fatalf("Spec = %+v", s)
	}
}

// fakeConn is an in-memory protocol.Conn: it records writes and has no
// frames to read.
type fakeConn struct{ writes []protocol.Frame }

func (c *fakeConn) Write(_ context.Context, f protocol.Frame) error {
	c.writes = append(c.writes, protocol.Frame{Binary: f.Binary, Data: bytes.Clone(f.Data)})
	return nil
}
func (c *fakeConn) ReadFrame(context.Context) (protocol.Frame, error) {
	return protocol.Frame{}, errors.New("no frames")
}
func (c *fakeConn) Subprotocol() string { return "" }

// step is one frame given to Feed and what must come out.
type step struct {
	in      string
	binary  bool
	replies []string // exact reply texts
	records int
	ctrl    int
	err     string // error substring; "refuse:" prefix for a *Refusal
	ready   bool
}

// run opens a session on a and feeds it the steps; it returns the records.
func run(t *testing.T, a *Adapter, steps []step) []protocol.Frame {
	t.Helper()
	c := &fakeConn{}
	s, err := a.Open(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.writes) != 0 || s.Ready() {
		t.Fatalf("Open wrote %d frames, ready %v; want nothing before the server's open", len(c.writes), s.Ready())
	}
	if s.Protocol() != "socketio" {
		t.Fatalf("Protocol = %q", s.Protocol())
	}
	var recs []protocol.Frame
	var out protocol.Output
	for i, st := range steps {
		out.Reset()
		frame := []byte(st.in)
		err := s.Feed(protocol.Frame{Binary: st.binary, Data: frame}, &out)
		// The runner copies what it keeps; the frame buffer is reused.
		for _, r := range out.Records {
			recs = append(recs, protocol.Frame{Binary: r.Binary, Data: bytes.Clone(r.Data)})
		}
		for j := range frame {
			frame[j] = 'X'
		}
		var replies []string
		for _, r := range out.Replies {
			if r.Binary {
				t.Errorf("step %d: binary reply %q", i, r.Data)
			}
			replies = append(replies, string(r.Data))
		}
		switch {
		case st.err == "" && err != nil:
			t.Fatalf("step %d %q: unexpected error %v", i, st.in, err)
		case st.err != "":
			var ref *protocol.Refusal
			wantRefusal := strings.HasPrefix(st.err, "refuse:")
			msg := strings.TrimPrefix(st.err, "refuse:")
			if err == nil || !strings.Contains(err.Error(), msg) || errors.As(err, &ref) != wantRefusal {
				t.Fatalf("step %d %q: error %v, want %q (refusal %v)", i, st.in, err, msg, wantRefusal)
			}
		}
		if !reflect.DeepEqual(replies, st.replies) {
			t.Errorf("step %d %q: replies %q, want %q", i, st.in, replies, st.replies)
		}
		if len(out.Records) != st.records || len(out.Control) != st.ctrl {
			t.Errorf("step %d %q: %d records, %d control; want %d, %d", i, st.in, len(out.Records), len(out.Control), st.records, st.ctrl)
		}
		if err == nil && s.Ready() != st.ready {
			t.Errorf("step %d %q: ready %v, want %v", i, st.in, s.Ready(), st.ready)
		}
	}
	return recs
}

const open4 = `0{"sid":"e1","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}`
const open3 = `0{"sid":"e1","upgrades":[],"pingInterval":1500,"pingTimeout":5000}`

func TestFeedEIO4Handshake(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{"/", "/chat"}, Auth: protocol.Auth{Token: "sécret\"x"}})
	recs := run(t, a, []step{
		{in: open4, ctrl: 1, replies: []string{`40{"token":"sécret\"x"}`, `40/chat,{"token":"sécret\"x"}`}},
		{in: "2", ctrl: 1, replies: []string{"3"}},
		{in: `40{"sid":"s1"}`, ctrl: 1},
		{in: `42/chat,["early","x"]`, records: 1}, // before the reply (a resumed session's replay): stored
		{in: `40/chat,{"sid":"s2"}`, ctrl: 1, ready: true},
		{in: `40/chat,{"sid":"s2"}`, ctrl: 1, ready: true}, // duplicate: ignored
		{in: "2", ctrl: 1, replies: []string{"3"}, ready: true},
		{in: "2probe", ctrl: 1, replies: []string{"3probe"}, ready: true},
		{in: "3", ctrl: 1, ready: true},
		{in: "6", ctrl: 1, ready: true},
		{in: "5", ctrl: 1, ready: true},
		{in: `42["chat message",{"user":"a","text":"hi"}]`, records: 1, ready: true},
		{in: `42/chat,["chat message","hi"]`, records: 1, ready: true},
		{in: `4212["ask",{"q":1}]`, records: 1, replies: []string{"4312[]"}, ready: true},
		{in: `42/chat,0["ask","x"]`, records: 1, replies: []string{"43/chat,0[]"}, ready: true},
		{in: `42/other,["chat message","x"]`, ctrl: 1, ready: true},
		{in: `43/chat,5["ok"]`, ctrl: 1, ready: true},
		{in: `44/other,{"message":"not ours"}`, ctrl: 1, ready: true},
		{in: `41/other,`, ctrl: 1, ready: true},
		{in: `4hello`, records: 1, ready: true}, // not Socket.IO: stored, marked by Decode
		{in: `9what`, ctrl: 1, ready: true},
		{in: ``, ctrl: 1, ready: true},
	})
	want := []string{
		`42/chat,["early","x"]`,
		`42["chat message",{"user":"a","text":"hi"}]`,
		`42/chat,["chat message","hi"]`,
		`4212["ask",{"q":1}]`,
		`42/chat,0["ask","x"]`,
		`4hello`,
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i, r := range recs {
		if r.Binary || string(r.Data) != want[i] {
			t.Errorf("record %d = %q (binary %v), want text %q", i, r.Data, r.Binary, want[i])
		}
	}
}

func TestFeedEIO4Endings(t *testing.T) {
	sub := protocol.Config{Subscribe: []string{"/", "/chat"}}
	opened := []step{
		{in: open4, ctrl: 1, replies: []string{"40", "40/chat,"}},
		{in: `40{"sid":"s1"}`, ctrl: 1},
		{in: `40/chat,{"sid":"s2"}`, ctrl: 1, ready: true},
	}
	tests := []struct {
		name string
		cfg  protocol.Config
		last step
	}{
		{"engine close", sub, step{in: "1", err: "closed the Engine.IO session"}},
		{"namespace disconnect", sub, step{in: "41/chat,", ctrl: 1, err: "disconnected namespace /chat"}},
		{"connect error v5", sub, step{in: `44{"message":"invalid token"}`, ctrl: 1, err: "refuse:namespace / refused: invalid token"}},
		{"connect error v4 string", sub, step{in: `44/chat,"Authentication error"`, ctrl: 1, err: "refuse:namespace /chat refused: Authentication error"}},
		{"connect error without message", sub, step{in: `44/chat,`, ctrl: 1, err: "refuse:namespace /chat refused: no reason given"}},
		{"text during attachments", sub, step{in: `42["x"]`, err: "text frame while 1 binary attachment(s) were due"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps := append([]step(nil), opened...)
			if tt.name == "text during attachments" {
				steps = append(steps, step{in: `451-["f",{"_placeholder":true,"num":0}]`, ready: true})
			}
			run(t, mustNew(t, tt.cfg), append(steps, tt.last))
		})
	}
	// Refused before ready.
	run(t, mustNew(t, sub), []step{
		{in: open4, ctrl: 1, replies: []string{"40", "40/chat,"}},
		{in: `44/chat,{"message":"Invalid namespace"}`, ctrl: 1, err: "refuse:namespace /chat refused: Invalid namespace"},
	})
	// A Socket.IO 2 server answering eio 4.
	run(t, mustNew(t, protocol.Config{Subscribe: []string{"/", "/chat"}}), []step{
		{in: open3, ctrl: 1, replies: []string{"40", "40/chat,"}},
		{in: `40`, ctrl: 1, err: "refuse:its CONNECT for / has no sid); set options.eio to 3"},
	})
	run(t, mustNew(t, protocol.Config{Subscribe: []string{"/chat"}}), []step{
		{in: open3, ctrl: 1, replies: []string{"40/chat,"}},
		{in: `40`, ctrl: 1, err: "refuse:set options.eio to 3"},
	})
	run(t, mustNew(t, protocol.Config{Subscribe: []string{"/chat"}}), []step{
		{in: open3, ctrl: 1, replies: []string{"40/chat,"}},
		{in: `44"invalid token"`, ctrl: 1, err: "refuse:it refused the main namespace unasked: invalid token); set options.eio to 3"},
	})
	run(t, mustNew(t, protocol.Config{Subscribe: []string{"/chat"}}), []step{
		{in: open4, ctrl: 1, replies: []string{"40/chat,"}},
		{in: `44{"message":"not asked"}`, ctrl: 1},
		{in: `40/chat,{"sid":"x"}`, ctrl: 1, ready: true},
	})
	run(t, mustNew(t, protocol.Config{Subscribe: []string{"/chat"}}), []step{
		{in: `0{"sid":`, ctrl: 1, err: "bad Engine.IO open packet"},
	})
}

func TestFeedOptions(t *testing.T) {
	// events keeps only the named events; ack false never answers.
	a := mustNew(t, protocol.Config{Options: protocol.Options{"events": []any{"chat message", "7"}, "ack": false}})
	recs := run(t, a, []step{
		{in: open4, ctrl: 1, replies: []string{"40"}},
		{in: `40{"sid":"s"}`, ctrl: 1, ready: true},
		{in: `42["chat message","a"]`, records: 1, ready: true},
		{in: `42["typing","b"]`, ctrl: 1, ready: true},
		{in: `423["typing","b"]`, ctrl: 1, ready: true},
		{in: `423["chat message","c"]`, records: 1, ready: true},
		{in: `42[7,"d"]`, records: 1, ready: true},
		{in: `42["chat\u0020message","e"]`, records: 1, ready: true}, // the name is decoded
		{in: `42{"broken"`, records: 1, ready: true},                 // no name to filter by: kept, Decode marks it
		{in: `451-["typing",{"_placeholder":true,"num":0}]`, ready: true},
		{in: "att", binary: true, ctrl: 1, ready: true},
	})
	if len(recs) != 5 {
		t.Fatalf("%d records, want 5", len(recs))
	}
}

func TestFeedBinary(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{"/chat"}})
	recs := run(t, a, []step{
		{in: open4, ctrl: 1, replies: []string{"40/chat,"}},
		{in: `40/chat,{"sid":"s"}`, ctrl: 1, ready: true},
		{in: `452-/chat,9["file",{"user":"bob","a":{"_placeholder":true,"num":0},"b":{"_placeholder":true,"num":1}}]`, ready: true},
		{in: "first 你好", binary: true, ready: true},
		{in: "\x00\x01\xff", binary: true, records: 1, replies: []string{"43/chat,9[]"}, ready: true},
		{in: "stray", binary: true, records: 1, ready: true},
		{in: `461-/chat,3[{"_placeholder":true,"num":0}]`, ready: true},
		{in: "ackdata", binary: true, ctrl: 1, ready: true},
		{in: `450-/chat,["nobin","x"]`, records: 1, ready: true},
	})
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	evs := a.Decode(recs[0])
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	ev := evs[0]
	wantPayload := `{"user":"bob","a":"first 你好","b":{"_binary":true,"size":3,"base64":"AAH/"}}`
	if string(ev.Payload) != wantPayload || ev.Name != "file" || ev.Room != "/chat" || !ev.Binary || ev.Text || ev.Reason != "" {
		t.Fatalf("event = %+v payload %s", ev, ev.Payload)
	}
	if !strings.HasPrefix(string(ev.Raw), `452-/chat,9["file"`) {
		t.Fatalf("Raw = %q", ev.Raw)
	}
	stray := a.Decode(recs[1])[0]
	if string(stray.Payload) != "stray" || !stray.Binary || stray.Reason != ReasonBadPacket {
		t.Fatalf("stray = %+v", stray)
	}
}

func TestFeedEIO3(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{"/", "/chat"}, Options: protocol.Options{"eio": 3.0}})
	c := &fakeConn{}
	s, _ := a.Open(context.Background(), c)
	recs := run(t, a, []step{
		{in: open3, ctrl: 1, replies: []string{"40/chat,"}}, // never 40 for the main namespace
		{in: "40", ctrl: 1},
		{in: "40/chat,", ctrl: 1, ready: true},
		{in: "3", ctrl: 1, ready: true},
		{in: `42["chat message","hi"]`, records: 1, ready: true},
		{in: `420["ask","x"]`, records: 1, replies: []string{"430[]"}, ready: true},
		{in: `451-/chat,["file",{"_placeholder":true,"num":0}]`, ready: true},
		{in: "\x04hello", binary: true, records: 1, ready: true},
		{in: "\x04stray", binary: true, records: 1, ready: true},
		{in: `451-/chat,["file",{"_placeholder":true,"num":0}]`, ready: true},
		{in: "hello", binary: true, err: "without the message type byte"},
	})
	if got := a.Decode(recs[2])[0].Payload; string(got) != "hello" {
		t.Fatalf("binary payload %q", got)
	}
	if got := a.Decode(recs[3])[0].Payload; string(got) != "stray" {
		t.Fatalf("stray payload %q", got)
	}
	// Heartbeat: the client pings every pingInterval.
	var out protocol.Output
	if err := s.Feed(protocol.Frame{Data: []byte(open3)}, &out); err != nil {
		t.Fatal(err)
	}
	s.Feed(protocol.Frame{Data: []byte("40")}, &out)
	s.Feed(protocol.Frame{Data: []byte("40/chat,")}, &out)
	if !s.Ready() || s.Heartbeat() != 1500*time.Millisecond {
		t.Fatalf("ready %v heartbeat %v", s.Ready(), s.Heartbeat())
	}
	out.Reset()
	if err := s.Tick(time.Now(), &out); err != nil || len(out.Replies) != 1 || string(out.Replies[0].Data) != "2" {
		t.Fatalf("Tick = %v %+v", err, out.Replies)
	}
	// Only the main namespace: ready on the server's own 40.
	run(t, mustNew(t, protocol.Config{Options: protocol.Options{"eio": 3.0}}), []step{
		{in: open3, ctrl: 1},
		{in: "40", ctrl: 1, ready: true},
		{in: `44"Authentication error"`, ctrl: 1, err: "refuse:namespace / refused: Authentication error"},
	})
}

func TestHeartbeatEIO4(t *testing.T) {
	a := mustNew(t, protocol.Config{})
	s, _ := a.Open(context.Background(), &fakeConn{})
	var out protocol.Output
	s.Feed(protocol.Frame{Data: []byte(open4)}, &out)
	s.Feed(protocol.Frame{Data: []byte(`40{"sid":"x"}`)}, &out)
	if !s.Ready() || s.Heartbeat() != 0 {
		t.Fatalf("ready %v heartbeat %v; the server pings with Engine.IO 4", s.Ready(), s.Heartbeat())
	}
}

func TestRecovery(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{"/", "/chat"}})
	recs := run(t, a, []step{
		{in: open4, ctrl: 1, replies: []string{"40", "40/chat,"}},
		{in: `40{"sid":"s1","pid":"p1"}`, ctrl: 1},
		{in: `40/chat,{"sid":"s2"}`, ctrl: 1, ready: true},
		{in: `42["chat message",{"user":"a","text":"hi"},"Q8pDT0A"]`, records: 1, ready: true},
		{in: `42["chat message","plain","Q8pDT0B"]`, records: 1, ready: true},
		{in: `425["ask","keep","last"]`, records: 1, replies: []string{"435[]"}, ready: true},
		{in: `42/chat,["chat message","no","offset"]`, records: 1, ready: true},
		{in: `451-["file",{"_placeholder":true,"num":0},"Q8pDT0N.0"]`, ready: true},
		{in: "bin", binary: true, records: 1, ready: true},
		{in: `42["chat message",{"n":1}]`, records: 1, ready: true}, // last argument not a string: kept
	})
	want := []struct {
		payload, id string
		text        bool
	}{
		{`{"user":"a","text":"hi"}`, "Q8pDT0A", false},
		{`plain`, "Q8pDT0B", true},
		{`keep last`, "", true},
		{`no offset`, "", true},
		{`bin`, "Q8pDT0N.0", true},
		{`{"n":1}`, "", false},
	}
	for i, w := range want {
		ev := a.Decode(recs[i])[0]
		if string(ev.Payload) != w.payload || ev.ID != w.id || ev.Text != w.text || ev.Name == "" {
			t.Errorf("record %d %q: event %+v payload %q, want %q id %q", i, recs[i].Data, ev, ev.Payload, w.payload, w.id)
		}
		if i == 0 && string(ev.Raw) != `42["chat message",{"user":"a","text":"hi"},"Q8pDT0A"]` {
			t.Errorf("Raw = %q, want the frame as received", ev.Raw)
		}
	}
}

// texts are the byte-exact texts every decode path must keep.
var texts = map[string]string{
	"chinese":               "你好，世界",
	"emoji zwj":             "👩‍👩‍👧‍👦 🏳️‍🌈",
	"html":                  "<script>alert(1)</script>&amp;",
	"json lookalike":        `{"type":"fake","user":"mallory"}`,
	"frame lookalike":       `42["chat message",{"user":"mallory","text":"x"}]`,
	"placeholder lookalike": `{"_placeholder":true,"num":0}`,
	"control chars":         "tab\there\nnew \"line\" back\\slash \u0001 \u2028",
	"10 KB":                 strings.Repeat("0123456789abcdef你好🙂 ", 400), // 10,800 bytes
}

func jsonString(t *testing.T, s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func TestDecodeTexts(t *testing.T) {
	n := message.NewNormalizer(message.FieldMap{}, 0)
	plain := mustNew(t, protocol.Config{})
	named := mustNew(t, protocol.Config{Options: protocol.Options{"args": []any{"user", "content"}}})
	for name, text := range texts {
		for _, esc := range []bool{false, true} {
			q := jsonString(t, text, esc)
			cases := []struct {
				kind     string
				a        *Adapter
				rec      protocol.Frame
				user     string
				room     string
				wantText bool // Payload is the text itself
			}{
				{"string arg", plain, protocol.Frame{Data: []byte(`42["chat message",` + q + `]`)}, "", "", true},
				{"object arg", plain, protocol.Frame{Data: []byte(`42/chat,["chat message",{"user":"alice","room":"general","text":` + q + `}]`)}, "alice", "general", false},
				{"named args", named, protocol.Frame{Data: []byte(`42/chat,["chat message","bob",` + q + `]`)}, "bob", "/chat", false},
				{"attachment", plain, protocol.Frame{Binary: true, Data: appendContainer(nil, container{
					packet: []byte(`451-["chat message",{"user":"carol","text":{"_placeholder":true,"num":0}}]`),
					atts:   [][]byte{[]byte(text)},
				})}, "carol", "", false},
			}
			for _, c := range cases {
				evs := c.a.Decode(c.rec)
				again := c.a.Decode(c.rec)
				if len(evs) != 1 || !reflect.DeepEqual(evs, again) {
					t.Fatalf("%s/%s: events %+v, again %+v", name, c.kind, evs, again)
				}
				ev := evs[0]
				if ev.Reason != "" || ev.Name != "chat message" {
					t.Errorf("%s/%s: event %+v", name, c.kind, ev)
				}
				if c.wantText && (string(ev.Payload) != text || !ev.Text) {
					t.Errorf("%s/%s: payload %q text %v, want %q as text", name, c.kind, ev.Payload, ev.Text, text)
				}
				var m message.Message
				n.Normalize(ev, &m)
				wantContent := text
				if c.kind == "attachment" && !isText([]byte(text)) {
					// An attachment with control characters is not text: base64.
					wantContent = string(appendAttachment(nil, []byte(text)))
				}
				if m.Content != wantContent || m.User != c.user || m.Room != c.room || m.Type != message.TypeChat || m.Reason != "" {
					t.Errorf("%s/%s (escape %v): message content %q user %q room %q type %q reason %q; want %q %q %q",
						name, c.kind, esc, m.Content, m.User, m.Room, m.Type, m.Reason, wantContent, c.user, c.room)
				}
			}
		}
	}
}

func TestDecode(t *testing.T) {
	plain := mustNew(t, protocol.Config{})
	deep := `42["x",` + strings.Repeat("[", maxDepth+5) + strings.Repeat("]", maxDepth+5) + `]`
	tests := []struct {
		name    string
		a       *Adapter
		rec     protocol.Frame
		evName  string
		room    string
		payload string
		text    bool
		reason  string
	}{
		{"no argument", plain, text(`42["typing"]`), "typing", "", "", true, ""},
		{"null", plain, text(`42["x",null]`), "x", "", "", true, ""},
		{"number", plain, text(`42["x",-1.5e3]`), "x", "", "-1.5e3", true, ""},
		{"bool", plain, text(`42["x",true]`), "x", "", "true", true, ""},
		{"array", plain, text(`42["x",[1,{"a":2}]]`), "x", "", `[1,{"a":2}]`, false, ""},
		{"spaces", plain, text(`42 [ "x" , { "a" : 1 } ] `), "x", "", `{ "a" : 1 }`, false, ""},
		{"two strings joined", plain, text(`42["x","alice","hi there"]`), "x", "", "alice hi there", true, ""},
		{"mixed joined", plain, text(`42/r,["x","alice",{ "t" : 1 },[2],null,3]`), "x", "/r", `alice {"t":1} [2]  3`, true, ""},
		{"object first wins", plain, text(`42["x",{"text":"hi"},"meta",5]`), "x", "", `{"text":"hi"}`, false, ""},
		{"numeric name", plain, text(`42[12,"x"]`), "12", "", "x", true, ""},
		{"escaped name", plain, text(`42["chat\u0020message","x"]`), "chat message", "", "x", true, ""},
		{"ack id is not an id", plain, text(`42/chat,77["x","y"]`), "x", "/chat", "y", true, ""},
		{"named args", mustNew(t, protocol.Config{Options: protocol.Options{"args": []any{"-", "user", "data"}}}), text(`42["x","skipped","dave",{"text":"hi"}]`), "x", "", `{"user":"dave","data":{"text":"hi"}}`, false, ""},
		{"named args missing", mustNew(t, protocol.Config{Options: protocol.Options{"args": []any{"user", "content"}}}), text(`42["x","eve"]`), "x", "", `{"user":"eve"}`, false, ""},
		{"named args none", mustNew(t, protocol.Config{Options: protocol.Options{"args": []any{"user"}}}), text(`42["x"]`), "x", "", `{}`, false, ""},
		{"named args single object", mustNew(t, protocol.Config{Options: protocol.Options{"args": []any{"user", "content"}}}), text(`42["x",{"user":"f"}]`), "x", "", `{"user":"f"}`, false, ""},
		{"named args single string", mustNew(t, protocol.Config{Options: protocol.Options{"args": []any{"content"}}}), text(`42["x","g"]`), "x", "", `{"content":"g"}`, false, ""},
		{"named args odd key", mustNew(t, protocol.Config{Options: protocol.Options{"args": []any{`a"b`}}}), text(`42["x",1]`), "x", "", `{"a\"b":1}`, false, ""},
		{"truncated", plain, text(`42["x",{"a":`), "", "", `["x",{"a":`, false, ReasonBadJSON},
		{"trailing garbage", plain, text(`42["x"]]`), "", "", `["x"]]`, false, ReasonBadJSON},
		{"not an array", plain, text(`42{"a":1}`), "", "", `{"a":1}`, false, ReasonBadJSON},
		{"empty array", plain, text(`42[]`), "", "", `[]`, false, ReasonBadPacket},
		{"object name", plain, text(`42[{"a":1}]`), "", "", `[{"a":1}]`, false, ReasonBadPacket},
		{"too deep", plain, text(deep), "", "", deep[2:], false, ReasonTooDeep},
		{"bare engine message", plain, text(`4hello`), "", "", `hello`, false, ReasonBadPacket},
		{"connect is not an event", plain, text(`40{"sid":"x"}`), "", "", `0{"sid":"x"}`, false, ReasonBadPacket},
		{"garbage record", plain, protocol.Frame{Binary: true, Data: []byte("\x00SIO\x01")}, "", "", "\x00SIO\x01", false, ReasonBadPacket},
		{"not a record", plain, text(`hello`), "", "", `hello`, false, ReasonBadPacket},
		{"empty record", plain, text(``), "", "", ``, false, ReasonBadPacket},
		{"placeholder out of range", plain, box(`451-["x",{"_placeholder":true,"num":1}]`, "a"), "x", "", `{"_placeholder":true,"num":1}`, false, ""},
		{"not a placeholder", plain, box(`451-["x",{"_placeholder":true,"num":0,"more":1},{"_placeholder":false,"num":0},{"num":0,"_placeholder":true}]`, "a"), "x", "", `{"_placeholder":true,"num":0,"more":1}`, false, ""},
		{"placeholder alone", plain, box(`451-["x",{"_placeholder":true,"num":0}]`, "just text"), "x", "", `just text`, true, ""},
		{"binary alone", plain, box(`451-["x",{"_placeholder":true,"num":0}]`, "\x89PNG"), "x", "", `{"_binary":true,"size":4,"base64":"iVBORw=="}`, false, ""},
		{"bad json with attachment", plain, box(`451-["x",{`, "a"), "", "", `["x",{`, false, ReasonBadJSON},
		{"container without a message", plain, box(`2["x"]`), "", "", `2["x"]`, false, ReasonBadPacket},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := tt.a.Decode(tt.rec)
			if len(evs) != 1 {
				t.Fatalf("%d events", len(evs))
			}
			ev := evs[0]
			if ev.Name != tt.evName || ev.Room != tt.room || string(ev.Payload) != tt.payload || ev.Text != tt.text || ev.Reason != tt.reason || ev.User != "" {
				t.Fatalf("event %+v\npayload %q\nwant name %q room %q payload %q text %v reason %q", ev, ev.Payload, tt.evName, tt.room, tt.payload, tt.text, tt.reason)
			}
			if len(ev.Raw) == 0 && len(tt.rec.Data) > 0 {
				t.Fatal("no Raw")
			}
			if !reflect.DeepEqual(evs, tt.a.Decode(tt.rec)) {
				t.Fatal("Decode is not deterministic")
			}
		})
	}
}

func text(s string) protocol.Frame { return protocol.Frame{Data: []byte(s)} }

func box(packet string, atts ...string) protocol.Frame {
	c := container{packet: []byte(packet)}
	for _, a := range atts {
		c.atts = append(c.atts, []byte(a))
	}
	return protocol.Frame{Binary: true, Data: appendContainer(nil, c)}
}

func TestContainerRoundTrip(t *testing.T) {
	in := container{flags: flagOffset, packet: []byte(`452-["x",1]`), atts: [][]byte{{}, bytes.Repeat([]byte{0xff}, 300)}}
	rec := appendContainer(nil, in)
	out, err := parseContainer(rec)
	if err != nil || out.flags != in.flags || !bytes.Equal(out.packet, in.packet) || len(out.atts) != 2 || len(out.atts[1]) != 300 {
		t.Fatalf("round trip: %+v %v", out, err)
	}
	for i := range rec {
		if _, err := parseContainer(rec[:i]); err == nil {
			t.Fatalf("a record cut at %d parsed", i)
		}
	}
	if _, err := parseContainer(append(rec, 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
}

func TestResume(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{"/", "/chat"}, Auth: protocol.Auth{Token: "t"}, Options: protocol.Options{"events": []any{"m"}}})
	// Session 1: the server has recovery on (pid); offsets are noted.
	run(t, a, []step{
		{in: open4, ctrl: 1, replies: []string{`40{"token":"t"}`, `40/chat,{"token":"t"}`}},
		{in: `40{"sid":"s1","pid":"p1"}`, ctrl: 1},
		{in: `40/chat,{"sid":"s2","pid":"q1"}`, ctrl: 1, ready: true},
		{in: `42["m","a","o1"]`, records: 1, ready: true},
		{in: `42["other","b","o2"]`, ctrl: 1, ready: true}, // filtered, but received: its offset counts
		{in: `423["m","c"]`, records: 1, replies: []string{"433[]"}, ready: true},
		{in: `42["m",{"no":"offset"}]`, records: 1, ready: true},
		{in: `42/chat,["m","x","r1"]`, records: 1, ready: true},
		{in: "41/chat,", ctrl: 1, err: "disconnected namespace /chat"},
	})
	// Session 2 resumes both; the server recovers / (same pid), replaying
	// what was missed before its reply, but starts /chat afresh (new pid).
	recs := run(t, a, []step{
		{in: open4, ctrl: 1, replies: []string{`40{"offset":"o2","pid":"p1","token":"t"}`, `40/chat,{"offset":"r1","pid":"q1","token":"t"}`}},
		{in: `42["m","replayed","o2b"]`, records: 1},
		{in: `40{"sid":"s1","pid":"p1"}`, ctrl: 1},
		{in: `40/chat,{"sid":"s3","pid":"q2"}`, ctrl: 1, ready: true},
		{in: `42["m","missed","o3"]`, records: 1, ready: true},
		{in: "1", err: "closed"},
	})
	if ev := a.Decode(recs[0])[0]; string(ev.Payload) != "replayed" || ev.ID != "o2b" {
		t.Fatalf("replayed event %+v", ev)
	}
	// Session 3: / from o3; /chat has no offset under its new pid yet.
	run(t, a, []step{
		{in: open4, ctrl: 1, replies: []string{`40{"offset":"o3","pid":"p1","token":"t"}`, `40/chat,{"token":"t"}`}},
	})
	for _, cfg := range []protocol.Config{
		{Options: protocol.Options{"recover": false}},
		{Options: protocol.Options{"eio": 3.0}, Subscribe: []string{"/chat"}},
	} {
		a := mustNew(t, cfg)
		want := "40"
		connected := `40{"sid":"s","pid":"p"}`
		event := `42["m","a","o1"]`
		if cfg.Subscribe != nil {
			want, connected, event = "40/chat,", "40/chat,", `42/chat,["m","a","o1"]`
		}
		for range 2 {
			run(t, a, []step{
				{in: open4, ctrl: 1, replies: []string{want}},
				{in: connected, ctrl: 1, ready: true},
				{in: event, records: 1, ready: true},
			})
		}
	}
	if _, err := New(protocol.Config{URL: "ws://h/", Options: protocol.Options{"connect_payload": `{"pid":"x"}`}}); err == nil || !strings.HasPrefix(err.Error(), "options.connect_payload: \"pid\" is wsmon's") {
		t.Fatalf("New = %v", err)
	}
	if _, err := New(protocol.Config{URL: "ws://h/", Options: protocol.Options{"recover": false, "connect_payload": `{"pid":"x"}`}}); err != nil {
		t.Fatalf("New without recover = %v", err)
	}
}
