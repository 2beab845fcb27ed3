package stomp

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
)

func TestSockJSDetection(t *testing.T) {
	tests := []struct {
		url     string
		options protocol.Options
		want    bool
	}{
		{"ws://h/ws", nil, false},
		{"ws://h/ws/websocket", nil, false}, // Spring's raw WebSocket under a SockJS endpoint
		{"ws://h/stomp/123/abcdefgh/websocket", nil, true},
		{"ws://h/0/x/websocket", nil, true},
		{"ws://h/stomp/abc/abcdefgh/websocket", nil, false}, // server ids are numbers
		{"ws://h/stomp/123/a.b/websocket", nil, false},
		{"ws://h/stomp/123/abcdefgh/websocket", protocol.Options{"sockjs": false}, false},
		{"ws://h/ws", protocol.Options{"sockjs": true}, true},
	}
	for _, tt := range tests {
		a := mustNew(t, protocol.Config{URL: tt.url, Options: tt.options})
		if a.sockjs != tt.want {
			t.Errorf("%s %v: sockjs %v, want %v", tt.url, tt.options, a.sockjs, tt.want)
		}
	}
}

var sockjsPath = regexp.MustCompile(`^/stomp/[0-9]{3}/[a-z0-9]{8}/websocket$`)

func TestSockJSPrepare(t *testing.T) {
	for _, raw := range []string{"ws://h/stomp", "ws://h/stomp/", "http://h/stomp", "ws://h/stomp/999/oldoldol/websocket"} {
		a := mustNew(t, protocol.Config{URL: raw, Options: protocol.Options{"sockjs": true}})
		u, _ := url.Parse(raw)
		d := &protocol.Dial{URL: u}
		seen := map[string]bool{}
		for range 3 { // the runner may hand the same Dial again; each attempt gets a fresh session
			if err := a.Prepare(context.Background(), d); err != nil {
				t.Fatal(err)
			}
			if !sockjsPath.MatchString(d.URL.Path) || d.URL.Scheme != "ws" || d.URL.Host != "h" {
				t.Errorf("%s: URL %s", raw, d.URL)
			}
			seen[d.URL.Path] = true
			if len(d.Subprotocols) != 0 {
				t.Errorf("%s: subprotocols %q offered to SockJS", raw, d.Subprotocols)
			}
		}
		if len(seen) < 2 {
			t.Errorf("%s: the session id did not change between attempts", raw)
		}
		if u.String() != raw {
			t.Errorf("Prepare changed the caller's URL to %s", u)
		}
	}
}

// sockjsUnwrap decodes a client SockJS frame (a JSON array of strings).
func sockjsUnwrap(t *testing.T, f protocol.Frame) []string {
	t.Helper()
	var msgs []string
	if f.Binary || json.Unmarshal(f.Data, &msgs) != nil {
		t.Fatalf("client frame %q is not a SockJS message array", f.Data)
	}
	return msgs
}

func sockjsArrayOf(frames ...string) string {
	b, _ := json.Marshal(frames)
	return "a" + string(b)
}

func TestSockJSSession(t *testing.T) {
	a := mustNew(t, protocol.Config{URL: "ws://h/stomp/123/abcdefgh/websocket", Auth: protocol.Auth{Username: "u", Password: "p"},
		Options: protocol.Options{"heart_beat": "1000,1000"}})
	s, writes := open(t, a)
	if len(writes) != 0 {
		t.Fatalf("Open wrote %q before the SockJS open frame", datas(writes))
	}
	if _, err := feed(t, s, sockjsArrayOf(connected12)); err == nil {
		t.Fatal("a message before the open frame was accepted")
	}

	s, _ = open(t, a)
	out, err := feed(t, s, "o")
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Control) != 1 || len(out.Replies) != 1 {
		t.Fatalf("open frame: %+v", out)
	}
	if got := sockjsUnwrap(t, out.Replies[0]); len(got) != 1 || got[0] != string(a.connectFrame()) {
		t.Fatalf("CONNECT %q, want %q", got, a.connectFrame())
	}
	if _, err := feed(t, s, "o"); err == nil {
		t.Error("a second open frame was accepted")
	}

	out, err = feed(t, s, sockjsArrayOf("CONNECTED\nversion:1.2\nheart-beat:1000,1000\n\n\x00"))
	if err != nil || !s.Ready() {
		t.Fatalf("CONNECTED: %v, ready %v", err, s.Ready())
	}
	if len(out.Replies) != 1 || sockjsUnwrap(t, out.Replies[0])[0] != "SUBSCRIBE\nid:sub-0\ndestination:/topic/chat\nack:auto\nreceipt:sub-0\n\n\x00" {
		t.Fatalf("SUBSCRIBE replies %q", datas(out.Replies))
	}

	for _, hb := range []string{"h", sockjsArrayOf("\n")} {
		out, err = feed(t, s, hb)
		if err != nil || len(out.Control) != 1 || len(out.Records) != 0 {
			t.Errorf("heart-beat %q: %+v %v", hb, out, err)
		}
	}

	m1 := message("/topic/chat", "1", `{"user":"ann","text":"你好"}`)
	m2 := message("/topic/chat", "2", "two")
	m3 := message("/topic/chat", "3", "three <&>\u2028")
	out, err = feed(t, s, sockjsArrayOf(m1, m2))
	if err != nil || len(out.Records) != 2 || string(out.Records[0].Data) != m1 || string(out.Records[1].Data) != m2 {
		t.Fatalf("two messages: %v records %q", err, datas(out.Records))
	}
	// A frame split over two SockJS messages.
	out, err = feed(t, s, sockjsArrayOf(m3[:10]))
	if err != nil || len(out.Records) != 0 || len(out.Control) != 1 {
		t.Fatalf("half a frame: %v %+v", err, out)
	}
	out, err = feed(t, s, "a"+mustJSON([]string{m3[10:]}))
	if err != nil || len(out.Records) != 1 || string(out.Records[0].Data) != m3 {
		t.Fatalf("second half: %v records %q", err, datas(out.Records))
	}
	if evs := a.Decode(out.Records[0]); len(evs) != 1 || string(evs[0].Payload) != "three <&>\u2028" || evs[0].ID != "3" {
		t.Errorf("Decode %v", evs)
	}

	var tick protocol.Output
	if err := s.Tick(time.Now(), &tick); err != nil || len(tick.Replies) != 1 || string(tick.Replies[0].Data) != `["\n"]` {
		t.Errorf("Tick: %v %q", err, datas(tick.Replies))
	}

	out, err = feed(t, s, `c[3000,"Go away!"]`)
	var r *protocol.Refusal
	if err == nil || errors.As(err, &r) || !strings.Contains(err.Error(), "3000 Go away!") {
		t.Errorf("close frame: %v", err)
	}
	if len(out.Control) != 1 {
		t.Errorf("close frame not control: %+v", out)
	}
}

// TestSockJSSplitMessages: one SockJS array whose messages end a pending
// frame and start the next (the STOMP stream runs across messages).
func TestSockJSSplitMessages(t *testing.T) {
	a := mustNew(t, protocol.Config{Options: protocol.Options{"sockjs": true}})
	s, _ := open(t, a)
	for _, f := range []string{"o", sockjsArrayOf(connected12)} {
		if _, err := feed(t, s, f); err != nil {
			t.Fatal(err)
		}
	}
	m1 := message("/topic/chat", "1", strings.Repeat("one ", 50))
	m2 := message("/queue/other", "2", strings.Repeat("two ", 50))
	m3 := message("/topic/chat", "3", "three")
	var recs []string
	for _, f := range []string{
		sockjsArrayOf(m1[:30]),
		sockjsArrayOf(m1[30:100], m1[100:], m2[:20], m2[20:40]),
		sockjsArrayOf(m2[40:], m3, "\n"),
	} {
		out, err := feed(t, s, f)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, datas(out.Records)...)
	}
	if want := []string{m1, m2, m3}; !slices.Equal(recs, want) {
		t.Fatalf("records %q, want %q", recs, want)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestSockJSBadFrames(t *testing.T) {
	a := mustNew(t, protocol.Config{Options: protocol.Options{"sockjs": true}})
	for _, f := range []string{"", "x", "a", "a[1]", `a["x"`, "m", "ox", `m"MESSAGE`} {
		s, _ := open(t, a)
		if _, err := feed(t, s, "o"); err != nil {
			t.Fatal(err)
		}
		if _, err := feed(t, s, f); err == nil {
			t.Errorf("%q accepted", f)
		}
	}
	s, _ := open(t, a)
	_, _ = feed(t, s, "o")
	if _, err := feed(t, s, `m"CONNECTED\n\n\u0000"`); err != nil || !s.Ready() {
		t.Errorf("m frame: %v ready %v", err, s.Ready())
	}
}

func TestWrapSockJS(t *testing.T) {
	for _, m := range []string{"", "SEND\n\n<b>&</b>\x00", "你好\n", "\"quoted\"\\"} {
		var got []string
		if err := json.Unmarshal(wrapSockJS([]byte(m)), &got); err != nil || len(got) != 1 || got[0] != m {
			t.Errorf("wrap(%q) = %s", m, wrapSockJS([]byte(m)))
		}
	}
	if got := string(wrapSockJS([]byte("<&>"))); got != `["<&>"]` {
		t.Errorf("HTML escaped: %s", got)
	}
}
