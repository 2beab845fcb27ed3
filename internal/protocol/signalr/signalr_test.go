package signalr

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
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
	tests := []struct {
		name string
		cfg  protocol.Config
		want string
	}{
		{"username", protocol.Config{Auth: protocol.Auth{Username: "u", Password: "p"}}, "auth: signalr uses only auth.token"},
		{"empty target", protocol.Config{Subscribe: []string{":room1"}}, `subscribe: entry 1 ":room1": want "Method"`},
		{"blank entry", protocol.Config{Subscribe: []string{"JoinGroup:a", " "}}, `subscribe: entry 2 " ": want "Method"`},
		{"bad json arguments", protocol.Config{Subscribe: []string{`Join:["a",`}}, `subscribe: entry 1 "Join:[\"a\",": arguments are not a JSON array`},
		{"targets type", protocol.Config{Options: protocol.Options{"targets": "ReceiveMessage"}}, "options.targets: must be a list of strings"},
		{"targets empty name", protocol.Config{Options: protocol.Options{"targets": []any{""}}}, "options.targets: empty target name"},
		{"ping_interval", protocol.Config{Options: protocol.Options{"ping_interval": 0.5}}, "options.ping_interval: must be a number of seconds between 1 and 3600"},
		{"skip_negotiate", protocol.Config{Options: protocol.Options{"skip_negotiate": "yes"}}, "options.skip_negotiate: must be true or false"},
		{"token_query", protocol.Config{Options: protocol.Options{"token_query": 1.0}}, "options.token_query: must be true or false"},
		{"argument_names type", protocol.Config{Options: protocol.Options{"argument_names": []any{"user"}}}, "options.argument_names: must be a JSON object"},
		{"argument_names list", protocol.Config{Options: protocol.Options{"argument_names": map[string]any{"ReceiveMessage": "user"}}}, "options.argument_names: ReceiveMessage: must be a non-empty list"},
		{"argument_names element", protocol.Config{Options: protocol.Options{"argument_names": map[string]any{"ReceiveMessage": []any{"user", 2.0}}}}, "options.argument_names: ReceiveMessage: must be a list of strings"},
		{"unknown option", protocol.Config{Options: protocol.Options{"hub": "chat"}}, "options.hub: unknown option"},
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

func TestSubscribeInvocations(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{"JoinGroup:room1", "Subscribe", `JoinRooms:["a", 2, {"x":true}]`, "Say:a:b, c", "Join: spaced "}})
	want := []string{
		`{"type":1,"invocationId":"1","target":"JoinGroup","arguments":["room1"]}`,
		`{"type":1,"invocationId":"2","target":"Subscribe","arguments":[]}`,
		`{"type":1,"invocationId":"3","target":"JoinRooms","arguments":["a",2,{"x":true}]}`,
		`{"type":1,"invocationId":"4","target":"Say","arguments":["a:b, c"]}`,
		`{"type":1,"invocationId":"5","target":"Join","arguments":[" spaced "]}`,
	}
	for i, inv := range a.invoke {
		if got := string(inv.msg); got != want[i]+"\x1e" {
			t.Errorf("entry %d: %q, want %q", i+1, got, want[i])
		}
	}
}

// roundTrip is an in-memory HTTP server for negotiate.
type roundTrip func(*http.Request) (int, string)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) {
	code, body := f(r)
	return &http.Response{StatusCode: code, Status: http.StatusText(code), Body: io.NopCloser(strings.NewReader(body)), Header: http.Header{}, Request: r}, nil
}

func TestPrepare(t *testing.T) {
	v1 := `{"connectionToken":"tok-1","connectionId":"id-1","negotiateVersion":1,"availableTransports":[{"transport":"WebSockets","transferFormats":["Text","Binary"]}]}`
	tests := []struct {
		name    string
		url     string
		token   string
		opts    protocol.Options
		server  func(r *http.Request) (int, string)
		wantURL string
		auth    string // Authorization header of the dial
		err     string // error prefix; "refuse:" for a refusal's reason
		calls   []string
	}{
		{name: "v1", url: "ws://h/chathub", server: func(*http.Request) (int, string) { return 200, v1 },
			wantURL: "ws://h/chathub?id=tok-1", calls: []string{"POST http://h/chathub/negotiate?negotiateVersion=1"}},
		{name: "v0", url: "wss://h/hub/", server: func(*http.Request) (int, string) {
			return 200, `{"connectionId":"id-0","negotiateVersion":0,"availableTransports":[{"transport":"WebSockets"}]}`
		}, wantURL: "wss://h/hub/?id=id-0", calls: []string{"POST https://h/hub/negotiate?negotiateVersion=1"}},
		{name: "query kept, token", url: "ws://h/chathub?room=a", token: "T", server: func(*http.Request) (int, string) { return 200, v1 },
			wantURL: "ws://h/chathub?access_token=T&id=tok-1&room=a", auth: "Bearer T",
			calls: []string{"POST http://h/chathub/negotiate?negotiateVersion=1&room=a Bearer T"}},
		{name: "token header only", url: "ws://h/chathub", token: "T", opts: protocol.Options{"token_query": false},
			server: func(*http.Request) (int, string) { return 200, v1 }, wantURL: "ws://h/chathub?id=tok-1", auth: "Bearer T"},
		{name: "redirect with access token", url: "ws://h/chathub", token: "user", server: func(r *http.Request) (int, string) {
			if r.URL.Host == "h" {
				return 200, `{"url":"https://svc.example/client/?hub=chat","accessToken":"svc-token"}`
			}
			return 200, v1
		}, wantURL: "wss://svc.example/client/?access_token=svc-token&hub=chat&id=tok-1", auth: "Bearer svc-token",
			calls: []string{"POST http://h/chathub/negotiate?negotiateVersion=1 Bearer user", "POST https://svc.example/client/negotiate?hub=chat&negotiateVersion=1 Bearer svc-token"}},
		{name: "redirect loop", url: "ws://h/chathub", server: func(*http.Request) (int, string) { return 200, `{"url":"http://h/chathub"}` },
			err: "refuse:negotiate: more than 100 redirects"},
		{name: "bad redirect", url: "ws://h/chathub", server: func(*http.Request) (int, string) { return 200, `{"url":"ftp://x/"}` },
			err: `refuse:negotiate: redirect to a bad url "ftp://x/"`},
		{name: "error", url: "ws://h/chathub", server: func(*http.Request) (int, string) { return 200, `{"error":"This connection is not allowed."}` },
			err: "refuse:negotiate: This connection is not allowed."},
		{name: "401", url: "ws://h/chathub", server: func(*http.Request) (int, string) { return 401, "" },
			err: "refuse:negotiate http://h/chathub/negotiate?negotiateVersion=1: Unauthorized (check auth.token)"},
		{name: "403", url: "ws://h/chathub", server: func(*http.Request) (int, string) { return 403, "" }, err: "refuse:negotiate"},
		{name: "404", url: "ws://h/nohub", server: func(*http.Request) (int, string) { return 404, "" }, err: "refuse:negotiate http://h/nohub/negotiate?negotiateVersion=1: Not Found (no hub at this path?)"},
		{name: "500", url: "ws://h/chathub", server: func(*http.Request) (int, string) { return 500, "" }, err: "signalr: negotiate http://h/chathub/negotiate?negotiateVersion=1: Internal Server Error"},
		{name: "not json", url: "ws://h/chathub", server: func(*http.Request) (int, string) { return 200, "<html>" }, err: "signalr: negotiate http://h/chathub/negotiate?negotiateVersion=1: answer is not JSON"},
		{name: "no id", url: "ws://h/chathub", server: func(*http.Request) (int, string) { return 200, `{"negotiateVersion":1}` }, err: "signalr: negotiate answered no connection id"},
		{name: "no websockets", url: "ws://h/chathub", server: func(*http.Request) (int, string) {
			return 200, `{"connectionToken":"x","negotiateVersion":1,"availableTransports":[{"transport":"LongPolling"}]}`
		}, err: "refuse:negotiate: the server does not offer the WebSockets transport"},
		{name: "skip negotiate", url: "wss://svc/client/?hub=chat", token: "T", opts: protocol.Options{"skip_negotiate": true},
			wantURL: "wss://svc/client/?access_token=T&hub=chat", auth: "Bearer T"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, protocol.Config{Auth: protocol.Auth{Token: tt.token}, Options: tt.opts})
			var calls []string
			client := &http.Client{Transport: roundTrip(func(r *http.Request) (int, string) {
				c := r.Method + " " + r.URL.String()
				if h := r.Header.Get("Authorization"); h != "" {
					c += " " + h
				}
				if r.Header.Get("Cookie") != "c=1" {
					t.Errorf("negotiate without the target's headers: %v", r.Header)
				}
				calls = append(calls, c)
				if tt.server == nil {
					t.Fatal("negotiate with skip_negotiate")
				}
				return tt.server(r)
			})}
			u, _ := url.Parse(tt.url)
			d := &protocol.Dial{URL: u, Header: http.Header{"Cookie": {"c=1"}}, HTTP: client}
			err := a.Prepare(context.Background(), d)
			var r *protocol.Refusal
			switch {
			case strings.HasPrefix(tt.err, "refuse:"):
				if !errors.As(err, &r) || !strings.HasPrefix(r.Reason, strings.TrimPrefix(tt.err, "refuse:")) {
					t.Fatalf("error %v, want refusal %q", err, tt.err)
				}
				return
			case tt.err != "":
				if err == nil || errors.As(err, &r) || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if d.URL.String() != tt.wantURL || d.Header.Get("Authorization") != tt.auth {
				t.Errorf("dial %s (Authorization %q), want %s (%q)", d.URL, d.Header.Get("Authorization"), tt.wantURL, tt.auth)
			}
			if tt.calls != nil && !slices.Equal(calls, tt.calls) {
				t.Errorf("negotiate calls %q, want %q", calls, tt.calls)
			}
			// A second attempt starts again from the configured URL.
			d2 := &protocol.Dial{URL: u, Header: http.Header{"Cookie": {"c=1"}}, HTTP: client}
			if err := a.Prepare(context.Background(), d2); err != nil || d2.URL.String() != tt.wantURL {
				t.Errorf("second Prepare: %v %s", err, d2.URL)
			}
		})
	}
}

// feedAll feeds frames and returns the records (copied right after each
// call, as the runner does), replies and control counts, and the error.
func feedAll(s protocol.Session, frames ...string) (records, replies []string, control int, err error) {
	var out protocol.Output
	for _, f := range frames {
		out.Reset()
		err = s.Feed(protocol.Frame{Data: []byte(f)}, &out)
		for _, r := range out.Records {
			records = append(records, string(r.Data))
		}
		for _, r := range out.Replies {
			replies = append(replies, string(r.Data))
		}
		control += len(out.Control)
		if err != nil {
			return
		}
	}
	return
}

func open(t *testing.T, a *Adapter) protocol.Session {
	t.Helper()
	c := &fakeConn{}
	s, err := a.Open(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.writes, []string{"{\"protocol\":\"json\",\"version\":1}\x1e"}) {
		t.Fatalf("Open wrote %q", c.writes)
	}
	if s.Ready() || s.Protocol() != Name {
		t.Fatalf("fresh session ready %v protocol %q", s.Ready(), s.Protocol())
	}
	return s
}

const (
	inv1 = `{"type":1,"target":"ReceiveMessage","arguments":["alice","hi"]}`
	inv2 = `{"type":1,"target":"ReceiveMessage","arguments":[{"user":"bob","text":"yo","room":"r"}]}`
)

func TestFeed(t *testing.T) {
	join := "{\"type\":1,\"invocationId\":\"1\",\"target\":\"JoinGroup\",\"arguments\":[\"room1\"]}\x1e"
	tests := []struct {
		name     string
		cfg      protocol.Config
		frames   []string
		records  []string
		replies  []string
		control  int
		ready    bool
		err      string // prefix; "refuse:" for a refusal's reason
		bytewise bool   // also feed the concatenated frames one byte per frame
	}{
		{name: "handshake then messages in one frame", cfg: protocol.Config{Subscribe: []string{"JoinGroup:room1"}},
			frames:  []string{"{}\x1e" + inv1 + "\x1e{\"type\":6}\x1e" + inv2 + "\x1e"},
			records: []string{inv1, inv2}, replies: []string{join}, control: 2, ready: true, bytewise: true},
		{name: "split across frames", frames: []string{"{", "}\x1e{\"type\":1,\"target\":\"Receive", "Message\",\"arguments\":[\"alice\",\"hi\"]}", "\x1e"},
			records: []string{inv1}, control: 1, ready: true},
		{name: "tail after a buffered record", frames: []string{"{}\x1e{\"type\":1,\"target\":\"Receive", "Message\",\"arguments\":[\"alice\",\"hi\"]}\x1e{\"type\":1,\"tar", "get\":\"ReceiveMessage\",\"arguments\":[{\"user\":\"bob\",\"text\":\"yo\",\"room\":\"r\"}]}\x1e"},
			records: []string{inv1, inv2}, control: 1, ready: true},
		{name: "handshake not complete", frames: []string{"{"}, ready: false},
		{name: "handshake error", frames: []string{"{\"error\":\"Requested protocol 'json' is not available.\"}\x1e"},
			err: "refuse:handshake: Requested protocol 'json' is not available."},
		{name: "handshake garbage", frames: []string{"nope\x1e"}, err: "signalr: bad handshake response"},
		{name: "targets filter", cfg: protocol.Config{Options: protocol.Options{"targets": []any{"receivemessage"}}},
			frames:  []string{"{}\x1e", inv1 + "\x1e", `{"type":1,"target":"UserCount","arguments":[3]}` + "\x1e"},
			records: []string{inv1}, control: 2, ready: true},
		{name: "stream item, completion, acks", cfg: protocol.Config{Subscribe: []string{"JoinGroup:room1"}},
			frames: []string{"{}\x1e", `{"type":3,"invocationId":"1","result":null}` + "\x1e", `{"type":2,"invocationId":"9","item":"x"}` + "\x1e",
				`{"type":3,"invocationId":"9","error":"not ours"}` + "\x1e", `{"type":8,"sequenceId":3}` + "\x1e" + `{"type":9,"sequenceId":1}` + "\x1e" + `{"type":4,"invocationId":"2","target":"x","arguments":[]}` + "\x1e" + `{"type":5,"invocationId":"2"}` + "\x1e"},
			records: []string{`{"type":2,"invocationId":"9","item":"x"}`}, replies: []string{join}, control: 7, ready: true},
		{name: "subscribe refused", cfg: protocol.Config{Subscribe: []string{"JoinGroup:room1"}},
			frames: []string{"{}\x1e", `{"type":3,"invocationId":"1","error":"Failed to invoke 'JoinGroup' due to an error on the server. HubException: Method does not exist."}` + "\x1e"},
			err:    `refuse:subscribe "JoinGroup:room1" failed: Failed to invoke 'JoinGroup'`},
		{name: "close with reconnect", frames: []string{"{}\x1e", `{"type":7,"error":"Server is shutting down","allowReconnect":true}` + "\x1e"},
			err: "signalr: server closed the connection (Server is shutting down); reconnect allowed"},
		{name: "close without reconnect", frames: []string{"{}\x1e", `{"type":7,"error":"Connection closed with an error. HubException: not authorized"}` + "\x1e"},
			err: "refuse:server closed the connection without allowing a reconnect: Connection closed with an error. HubException: not authorized"},
		{name: "close without error", frames: []string{"{}\x1e" + `{"type":7}` + "\x1e"},
			err: "refuse:server closed the connection without allowing a reconnect: no error given"},
		{name: "garbage and unknown types are kept", frames: []string{"{}\x1e", "not json\x1e{\"type\":42}\x1e{\"x\":1}\x1e\x1e"},
			records: []string{"not json", `{"type":42}`, `{"x":1}`}, control: 2, ready: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, tt.cfg)
			inputs := [][]string{tt.frames}
			if tt.bytewise {
				var bytes []string
				for _, c := range []byte(strings.Join(tt.frames, "")) {
					bytes = append(bytes, string([]byte{c}))
				}
				inputs = append(inputs, bytes)
			}
			for _, frames := range inputs {
				s := open(t, a)
				records, replies, control, err := feedAll(s, frames...)
				var r *protocol.Refusal
				switch {
				case strings.HasPrefix(tt.err, "refuse:"):
					if !errors.As(err, &r) || !strings.HasPrefix(r.Reason, strings.TrimPrefix(tt.err, "refuse:")) {
						t.Fatalf("error %v, want refusal %q", err, tt.err)
					}
					continue
				case tt.err != "":
					if err == nil || errors.As(err, &r) || !strings.HasPrefix(err.Error(), tt.err) {
						t.Fatalf("error %v, want %q", err, tt.err)
					}
					continue
				case err != nil:
					t.Fatal(err)
				}
				if !slices.Equal(records, tt.records) || !slices.Equal(replies, tt.replies) || control != tt.control || s.Ready() != tt.ready {
					t.Fatalf("records %q replies %q control %d ready %v; want %q %q %d %v", records, replies, control, s.Ready(), tt.records, tt.replies, tt.control, tt.ready)
				}
			}
		})
	}
}

func TestFeedTooLong(t *testing.T) {
	s := open(t, mustNew(t, protocol.Config{}))
	var out protocol.Output
	if err := s.Feed(protocol.Frame{Data: []byte("{}\x1e")}, &out); err != nil {
		t.Fatal(err)
	}
	chunk := []byte(strings.Repeat("x", 1<<20))
	var err error
	for i := 0; i <= MaxRecord>>20 && err == nil; i++ {
		out.Reset()
		err = s.Feed(protocol.Frame{Data: chunk}, &out)
	}
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("error %v", err)
	}
}

func TestHeartbeat(t *testing.T) {
	for _, tt := range []struct {
		opts protocol.Options
		want time.Duration
	}{{nil, 15 * time.Second}, {protocol.Options{"ping_interval": 2.5}, 2500 * time.Millisecond}} {
		s := open(t, mustNew(t, protocol.Config{Options: tt.opts}))
		var out protocol.Output
		if err := s.Tick(time.Now(), &out); err != nil {
			t.Fatal(err)
		}
		if s.Heartbeat() != tt.want || len(out.Replies) != 1 || string(out.Replies[0].Data) != "{\"type\":6}\x1e" || out.Replies[0].Binary {
			t.Errorf("heartbeat %v, tick %+v", s.Heartbeat(), out.Replies)
		}
	}
}

func trickyTexts() map[string]string {
	return map[string]string{
		"chinese":   "你好，世界",
		"emoji":     "👩‍👩‍👧‍👦 🏳️‍🌈",
		"html":      "<script>alert(1)</script>&amp;",
		"json-like": `{"type":"fake","user":"mallory"}`,
		"frame":     "{\"type\":1,\"target\":\"ReceiveMessage\",\"arguments\":[\"eve\",\"x\"]}\x1e{\"type\":7}\x1e",
		"10KB":      strings.Repeat("0123456789", 1024),
	}
}

// hubRecord marshals an invocation of ReceiveMessage with args, as a server
// would, without the separator.
func hubRecord(t *testing.T, typ int, args ...any) []byte {
	t.Helper()
	m := map[string]any{"type": typ}
	if typ == typeStreamItem {
		m["invocationId"], m["item"] = "1", args[0]
	} else {
		m["target"], m["arguments"] = "ReceiveMessage", args
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeTexts(t *testing.T) {
	a := mustNew(t, protocol.Config{Options: protocol.Options{"argument_names": map[string]any{"ReceiveMessage": []any{"room", "user", "text"}}}})
	plain := mustNew(t, protocol.Config{})
	n := message.NewNormalizer(message.FieldMap{}, 0)
	for name, text := range trickyTexts() {
		t.Run(name, func(t *testing.T) {
			cases := []struct {
				a         *Adapter
				rec       []byte
				user      string
				room      string
				plainText bool
			}{
				{plain, hubRecord(t, typeInvocation, "alice", text), "alice", "", true},
				{plain, hubRecord(t, typeInvocation, map[string]any{"user": "bob", "room": "lobby", "text": text}), "bob", "lobby", false},
				{plain, hubRecord(t, typeInvocation, text), "", "", true},
				{plain, hubRecord(t, typeStreamItem, text), "", "", true},
				{plain, hubRecord(t, typeStreamItem, map[string]any{"user": "bob", "text": text}), "bob", "", false},
				{a, hubRecord(t, typeInvocation, "lobby", "carol", text), "carol", "lobby", false},
			}
			for i, c := range cases {
				evs := c.a.Decode(protocol.Frame{Data: c.rec})
				if len(evs) != 1 || evs[0].Text != c.plainText || string(evs[0].Raw) != string(c.rec) {
					t.Fatalf("case %d: %+v", i, evs)
				}
				if c.plainText && string(evs[0].Payload) != text {
					t.Fatalf("case %d: payload %q", i, evs[0].Payload)
				}
				var m message.Message
				n.Normalize(evs[0], &m)
				if m.Content != text || m.User != c.user || m.Room != c.room || m.Reason != "" {
					t.Fatalf("case %d: normalised %+v", i, m)
				}
			}
		})
	}
}

func TestDecode(t *testing.T) {
	a := mustNew(t, protocol.Config{Options: protocol.Options{"argument_names": map[string]any{"UserJoined": []any{"user", "room"}}}})
	tests := []struct {
		rec     string
		name    string
		user    string
		payload string
		text    bool
		reason  string
	}{
		{`{"type":1,"target":"ReceiveMessage","arguments":["alice","hi"]}`, "ReceiveMessage", "alice", "hi", true, ""},
		{`{"type":1,"target":"ReceiveMessage","arguments":[ {"a":1} ]}`, "ReceiveMessage", "", `{"a":1}`, false, ""},
		{`{"type":1,"target":"Count","arguments":[42]}`, "Count", "", `42`, false, ""},
		{`{"type":1,"target":"Three","arguments":["a","b","c"]}`, "Three", "", `["a","b","c"]`, false, ""},
		{`{"type":1,"target":"Mixed","arguments":["a",{"b":1}]}`, "Mixed", "", `["a",{"b":1}]`, false, ""},
		{`{"type":1,"target":"Nothing","arguments":[]}`, "Nothing", "", `[]`, false, ""},
		{`{"type":1,"target":"Nothing"}`, "Nothing", "", `[]`, false, ""},
		{`{"type":1,"target":"userjoined","arguments":["dave","lobby","extra"]}`, "userjoined", "", `{"user":"dave","room":"lobby"}`, false, ""},
		{`{"type":1,"target":"UserJoined","arguments":["dave"]}`, "UserJoined", "", `{"user":"dave"}`, false, ""},
		{`{"type":2,"invocationId":"1","item":{"x":1}}`, "", "", `{"x":1}`, false, ""},
		{`{"type":42}`, "", "", `{"type":42}`, false, ""},
		{`{"type":1,"target":"X","arguments":{}}`, "", "", `{"type":1,"target":"X","arguments":{}}`, false, "bad_json"},
		{`not json`, "", "", `not json`, false, "bad_json"},
		{`{"x":1}`, "", "", `{"x":1}`, false, "bad_json"},
	}
	for _, tt := range tests {
		evs := a.Decode(protocol.Frame{Data: []byte(tt.rec)})
		if len(evs) != 1 {
			t.Fatalf("%s: %d events", tt.rec, len(evs))
		}
		ev := evs[0]
		if ev.Name != tt.name || ev.User != tt.user || string(ev.Payload) != tt.payload || ev.Text != tt.text || ev.Reason != tt.reason ||
			string(ev.Raw) != tt.rec || ev.ID != "" || ev.Room != "" {
			t.Errorf("%s: got %+v (payload %s)", tt.rec, ev, ev.Payload)
		}
	}
}
