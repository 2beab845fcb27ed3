package nats

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

func open(t testing.TB, a *Adapter) (*session, *fakeConn) {
	t.Helper()
	c := &fakeConn{}
	s, err := a.Open(context.Background(), c)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if len(c.written) != 0 {
		t.Fatalf("Open wrote %d frames; the server speaks first", len(c.written))
	}
	return s.(*session), c
}

// collected is what a sequence of Feed calls produced, copied.
type collected struct {
	replies, records, control []string
}

func feed(t testing.TB, s *session, frames ...string) (collected, error) {
	t.Helper()
	var got collected
	var out protocol.Output
	for _, f := range frames {
		out.Reset()
		err := s.Feed(protocol.Frame{Binary: true, Data: []byte(f)}, &out)
		for _, r := range out.Replies {
			if !r.Binary {
				t.Errorf("reply %q sent as text, want binary", r.Data)
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

const info = `INFO {"server_id":"X","version":"2.9.10","proto":1,"headers":true,"max_payload":1048576}` + "\r\n"

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     protocol.Config
		wantErr string
	}{
		{"ok", protocol.Config{Subscribe: []string{"chat.>"}}, ""},
		{"queue group", protocol.Config{Subscribe: []string{"chat.room1 workers"}}, ""},
		{"literal star inside token", protocol.Config{Subscribe: []string{"a*b.c"}}, ""},
		{"user and password", protocol.Config{Subscribe: []string{"a"}, Auth: protocol.Auth{Username: "u", Password: "p"}}, ""},
		{"token", protocol.Config{Subscribe: []string{"a"}, Auth: protocol.Auth{Token: "t"}}, ""},
		{"all options", protocol.Config{Subscribe: []string{"a"}, Options: protocol.Options{"name": "mon", "headers": false, "payload_format": "text", "user_header": "X-User"}}, ""},
		{"no subscribe", protocol.Config{}, "subscribe: nats needs at least one subject"},
		{"empty entry", protocol.Config{Subscribe: []string{"  "}}, "subscribe: entry 0 (\"  \"): empty"},
		{"three fields", protocol.Config{Subscribe: []string{"a b c"}}, "subscribe: entry 0 (\"a b c\"): want \"subject\" or \"subject queue\""},
		{"empty token", protocol.Config{Subscribe: []string{"a..b"}}, "subscribe: entry 0 (\"a..b\"): subject \"a..b\" has an empty token"},
		{"leading dot", protocol.Config{Subscribe: []string{".a"}}, "has an empty token"},
		{"trailing dot", protocol.Config{Subscribe: []string{"a."}}, "has an empty token"},
		{"gt not last", protocol.Config{Subscribe: []string{"a.>.b"}}, "\">\" must be the last token"},
		{"control char", protocol.Config{Subscribe: []string{"a\x01b"}}, "control character"},
		{"duplicate", protocol.Config{Subscribe: []string{"a", " a "}}, "subscribe: \" a \" is listed twice"},
		{"token and user", protocol.Config{Subscribe: []string{"a"}, Auth: protocol.Auth{Token: "t", Username: "u", Password: "p"}}, "auth: nats takes either a token or a username and password, not both"},
		{"password only", protocol.Config{Subscribe: []string{"a"}, Auth: protocol.Auth{Password: "p"}}, "auth: password without username"},
		{"username only", protocol.Config{Subscribe: []string{"a"}, Auth: protocol.Auth{Username: "u"}}, "auth: username without password"},
		{"unknown option", protocol.Config{Subscribe: []string{"a"}, Options: protocol.Options{"qos": 1.0}}, "options.qos: unknown option"},
		{"bad headers", protocol.Config{Subscribe: []string{"a"}, Options: protocol.Options{"headers": "yes"}}, "options.headers: must be true or false"},
		{"bad payload_format", protocol.Config{Subscribe: []string{"a"}, Options: protocol.Options{"payload_format": "json"}}, "options.payload_format: must be one of auto, text"},
		{"bad name", protocol.Config{Subscribe: []string{"a"}, Options: protocol.Options{"name": 3.0}}, "options.name: must be a string"},
		{"bad user_header", protocol.Config{Subscribe: []string{"a"}, Options: protocol.Options{"user_header": "X User"}}, "options.user_header: must be a header name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("New: no error, want %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("New: %v, want %q", err, tt.wantErr)
			}
			if err != nil {
				key := strings.SplitN(tt.wantErr, ":", 2)[0]
				if !strings.HasPrefix(err.Error(), key) && !strings.HasPrefix(err.Error(), "subscribe") {
					t.Errorf("error %q does not start with its key", err)
				}
			}
		})
	}
}

func TestSniff(t *testing.T) {
	for in, want := range map[string]bool{
		info:                     true,
		"INFO {}":                true,
		"info\t{\"a\":1}":        true,
		"INFO{}":                 false,
		"INFO x":                 false,
		"INFORMATION {":          false,
		`{"sid":"x"}`:            false,
		"0{\"sid\":\"a\"}":       false,
		"":                       false,
		"CONNECTED\nversion:1.2": false,
	} {
		if got := sniff(protocol.Frame{Binary: true, Data: []byte(in)}); got != want {
			t.Errorf("sniff(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestHandshake(t *testing.T) {
	tests := []struct {
		name     string
		cfg      protocol.Config
		info     string
		wantConn map[string]any // expected CONNECT fields (others: absent)
		wantSubs string
	}{
		{
			name: "user and password, headers",
			cfg:  protocol.Config{Subscribe: []string{"chat.>", "news.* readers"}, Auth: protocol.Auth{Username: "mon", Password: "s3cret"}},
			info: info,
			wantConn: map[string]any{"verbose": false, "pedantic": false, "name": "wsmon", "lang": "go", "version": "wsmon",
				"protocol": 1.0, "headers": true, "no_responders": false, "user": "mon", "pass": "s3cret"},
			wantSubs: "SUB chat.> 1\r\nSUB news.* readers 2\r\nPING\r\n",
		},
		{
			name: "token, server without headers, own name",
			cfg:  protocol.Config{Subscribe: []string{"a"}, Auth: protocol.Auth{Token: "tok"}, Options: protocol.Options{"name": "mon1"}},
			info: "INFO {\"headers\":false}\r\n",
			wantConn: map[string]any{"verbose": false, "pedantic": false, "name": "mon1", "lang": "go", "version": "wsmon",
				"protocol": 1.0, "headers": false, "no_responders": false, "auth_token": "tok"},
			wantSubs: "SUB a 1\r\nPING\r\n",
		},
		{
			name: "headers option off",
			cfg:  protocol.Config{Subscribe: []string{"a"}, Options: protocol.Options{"headers": false}},
			info: info,
			wantConn: map[string]any{"verbose": false, "pedantic": false, "name": "wsmon", "lang": "go", "version": "wsmon",
				"protocol": 1.0, "headers": false, "no_responders": false},
			wantSubs: "SUB a 1\r\nPING\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := open(t, mustNew(t, tt.cfg))
			if s.Ready() {
				t.Fatal("ready before INFO")
			}
			got, err := feed(t, s, tt.info)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.replies) != 1 || len(got.control) != 1 || len(got.records) != 0 {
				t.Fatalf("after INFO: %+v", got)
			}
			line, rest, _ := strings.Cut(got.replies[0], "\r\n")
			js, ok := strings.CutPrefix(line, "CONNECT ")
			if !ok {
				t.Fatalf("first reply %q is not CONNECT", got.replies[0])
			}
			var conn map[string]any
			if err := json.Unmarshal([]byte(js), &conn); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(conn, tt.wantConn) {
				t.Errorf("CONNECT %v\nwant    %v", conn, tt.wantConn)
			}
			if rest != tt.wantSubs {
				t.Errorf("after CONNECT %q, want %q", rest, tt.wantSubs)
			}
			if s.Ready() {
				t.Fatal("ready before PONG")
			}
			// A second INFO (cluster update, lame duck mode) sends nothing.
			got, err = feed(t, s, `INFO {"ldm":true,"connect_urls":["a:1"]}`+"\r\n", "PONG\r\n")
			if err != nil {
				t.Fatal(err)
			}
			if len(got.replies) != 0 || len(got.control) != 2 {
				t.Errorf("after second INFO and PONG: %+v", got)
			}
			if !s.Ready() {
				t.Fatal("not ready after PONG")
			}
			if s.Heartbeat() != 0 {
				t.Errorf("Heartbeat = %v, want 0 (the server pings)", s.Heartbeat())
			}
		})
	}
}

func TestFeedPingAndControl(t *testing.T) {
	s, _ := open(t, mustNew(t, protocol.Config{Subscribe: []string{"a"}}))
	got, err := feed(t, s, info+"PING\r\n", "+OK\r\nPONG\r\nPING\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.replies) != 3 || got.replies[1] != "PONG\r\n" || got.replies[2] != "PONG\r\n" {
		t.Errorf("replies %q, want CONNECT then two PONGs", got.replies)
	}
	want := []string{info, "PING\r\n", "+OK\r\n", "PONG\r\n", "PING\r\n"}
	if !reflect.DeepEqual(got.control, want) {
		t.Errorf("control %q, want %q", got.control, want)
	}
	if len(got.records) != 0 {
		t.Errorf("records %q", got.records)
	}
}

// stream is a server byte stream with every kind of operation; records are
// the MSG/HMSG operations in it.
var (
	streamOps = []string{
		info,
		"PING\r\n",
		msgOp("chat.room1", "", "hello"),
		msgOp("chat.room1", "_INBOX.abc", "line\r\nMSG x 1"),
		hmsgOp("chat.room2", "Nats-Msg-Id: id-7\r\n", "world"),
		"+OK\r\n",
		"MSG empty 1 0\r\n\r\n",
		"HMSG chat.r 1 reply.to 12 15\r\nNATS/1.0\r\n\r\n你\r\n",
		"PONG\r\n",
		"msg lower 1 2\r\nok\r\n",
	}
	streamRecords = []string{streamOps[2], streamOps[3], streamOps[4], streamOps[6], streamOps[7], streamOps[9]}
)

// TestReassembly feeds the same byte stream cut in every way into two
// frames, byte by byte, and all in one frame: the records are always the
// same whole operations.
func TestReassembly(t *testing.T) {
	stream := strings.Join(streamOps, "")
	check := func(t *testing.T, frames []string) {
		t.Helper()
		s, _ := open(t, mustNew(t, protocol.Config{Subscribe: []string{"chat.>"}}))
		got, err := feed(t, s, frames...)
		if err != nil {
			t.Fatalf("frames %q: %v", frames, err)
		}
		if !reflect.DeepEqual(got.records, streamRecords) {
			t.Fatalf("frames %q:\nrecords %q\nwant    %q", frames, got.records, streamRecords)
		}
		if len(got.control) != 4 || len(got.replies) != 2 {
			t.Fatalf("frames %q: control %q replies %q", frames, got.control, got.replies)
		}
		if len(s.buf)-s.off != 0 {
			t.Fatalf("frames %q: %d bytes left over", frames, len(s.buf)-s.off)
		}
	}
	t.Run("one frame", func(t *testing.T) { check(t, []string{stream}) })
	t.Run("two frames", func(t *testing.T) {
		for i := 1; i < len(stream); i++ {
			check(t, []string{stream[:i], stream[i:]})
		}
	})
	t.Run("byte by byte", func(t *testing.T) {
		var frames []string
		for i := range len(stream) {
			frames = append(frames, stream[i:i+1])
		}
		check(t, frames)
	})
	t.Run("three frames", func(t *testing.T) {
		for i := 1; i < len(stream); i += 7 {
			for j := i + 1; j < len(stream); j += 5 {
				check(t, []string{stream[:i], stream[i:j], stream[j:]})
			}
		}
	})
}

// TestRecordsSurviveNextFeed checks that the records of one Feed stay intact
// until the next Feed starts (the runner reads them after the call).
func TestRecordsSurviveNextFeed(t *testing.T) {
	s, _ := open(t, mustNew(t, protocol.Config{Subscribe: []string{"a"}}))
	var out protocol.Output
	frame := []byte("MSG a 1 3\r\nab")
	if err := s.Feed(protocol.Frame{Binary: true, Data: frame}, &out); err != nil {
		t.Fatal(err)
	}
	copy(frame, "XXXXXXXXXXXXX") // the runner reuses its read buffer
	out.Reset()
	if err := s.Feed(protocol.Frame{Binary: true, Data: []byte("c\r\nMSG a 1 1\r\n")}, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Records) != 1 || string(out.Records[0].Data) != "MSG a 1 3\r\nabc\r\n" {
		t.Fatalf("records %v", out.Records)
	}
	rec := out.Records[0].Data
	before := string(rec)
	// Nothing in the same call's aftermath changes it; the next Feed may.
	if string(rec) != before {
		t.Fatal("record changed")
	}
}

func TestFeedErrors(t *testing.T) {
	tests := []struct {
		name    string
		frames  []string
		refusal bool
		wantErr string // "" = no error
	}{
		{"authorization violation", []string{info, "-ERR 'Authorization Violation'\r\n"}, true, "nats: server refused: Authorization Violation (check auth.username and auth.password, or auth.token)"},
		{"subscription permission", []string{info, "-ERR 'Permissions Violation for Subscription to \"secret.>\"'\r\n"}, true, `Permissions Violation for Subscription to "secret.>"`},
		{"publish permission is not fatal", []string{info, "-ERR 'Permissions Violation for Publish to \"x\"'\r\n"}, false, ""},
		{"user authentication expired", []string{"-ERR 'User Authentication Expired'\r\n"}, true, "User Authentication Expired"},
		{"invalid subject", []string{"-ERR 'Invalid Subject'\r\n"}, true, "Invalid Subject"},
		{"max subscriptions", []string{"-ERR 'Maximum Subscriptions Exceeded'\r\n"}, true, "Maximum Subscriptions Exceeded"},
		{"stale connection reconnects", []string{"-ERR 'Stale Connection'\r\n"}, false, "nats: server error: Stale Connection"},
		{"slow consumer reconnects", []string{"-ERR 'Slow Consumer'\r\n"}, false, "nats: server error: Slow Consumer"},
		{"max connections reconnects", []string{"-ERR 'maximum connections exceeded'\r\n"}, false, "nats: server error: maximum connections exceeded"},
		{"authentication timeout reconnects", []string{"-ERR 'Authentication Timeout'\r\n"}, false, "nats: server error: Authentication Timeout"},
		{"unknown operation", []string{"HELLO world\r\n"}, false, `nats: unknown operation "HELLO"`},
		{"blank line", []string{"\r\n"}, false, `nats: unknown operation ""`},
		{"bad INFO", []string{"INFO {nope\r\n"}, false, "nats: bad INFO"},
		{"bad MSG args", []string{"MSG a 1\r\n"}, false, "nats: bad MSG: MSG wants 3 or 4 arguments, got 2"},
		{"bad MSG size", []string{"MSG a 1 -1\r\n"}, false, `bad size "-1"`},
		{"plus size", []string{"MSG a 1 +1\r\n"}, false, `bad size "+1"`},
		{"HMSG header beyond total", []string{"HMSG a 1 10 5\r\n"}, false, "header size 10 exceeds total size 5"},
		{"payload without CRLF", []string{"MSG a 1 2\r\nabcd"}, false, "payload of 2 bytes not followed by CRLF"},
		{"over max_payload", []string{"INFO {\"max_payload\":1048576}\r\n", "MSG a 1 2000000\r\n"}, false, "exceeds the server's max_payload 1048576"},
		{"over hard limit", []string{"MSG a 1 99999999999\r\n"}, false, "exceeds"},
		{"endless line", []string{strings.Repeat("x", maxLine/2), strings.Repeat("x", maxLine/2+2)}, false, "control line longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := open(t, mustNew(t, protocol.Config{Subscribe: []string{"a"}}))
			_, err := feed(t, s, tt.frames...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("err %v, want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want %q", err, tt.wantErr)
			}
			var ref *protocol.Refusal
			if errors.As(err, &ref) != tt.refusal {
				t.Fatalf("err %v: refusal = %v, want %v", err, !tt.refusal, tt.refusal)
			}
		})
	}
}

func TestJetStreamStatusMessages(t *testing.T) {
	s, _ := open(t, mustNew(t, protocol.Config{Subscribe: []string{"deliver.x"}}))
	hb := "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\n\r\n"
	fc := "NATS/1.0 100 FlowControl Request\r\n\r\n"
	frames := []string{
		fmt.Sprintf("HMSG deliver.x 1 %d %d\r\n%s\r\n", len(hb), len(hb), hb),
		fmt.Sprintf("HMSG deliver.x 1 $JS.FC.s.c.1 %d %d\r\n%s\r\n", len(fc), len(fc), fc),
		fmt.Sprintf("HMSG deliver.x 1 %d %d\r\n%sok\r\n", len(fc), len(fc)+2, fc), // a payload: not a status message
	}
	got, err := feed(t, s, frames...)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.control, frames[:2]) {
		t.Errorf("control %q, want %q", got.control, frames[:2])
	}
	if !reflect.DeepEqual(got.replies, []string{"PUB $JS.FC.s.c.1 0\r\n\r\n"}) {
		t.Errorf("replies %q", got.replies)
	}
	if !reflect.DeepEqual(got.records, frames[2:]) {
		t.Errorf("records %q", got.records)
	}
}

// tricky are the texts every adapter must keep byte for byte.
var tricky = []string{
	"你好，世界",
	"👩‍👩‍👧‍👦 🏳️‍🌈",
	"<script>alert(1)</script>&amp;",
	`{"type":"fake","user":"mallory"}`,
	"MSG chat.room1 1 5\r\nhello\r\n",
	"PING\r\n-ERR 'Authorization Violation'\r\n",
	strings.Repeat("0123456789", 1024),
	"",
}

func msgOp(subject, reply, payload string) string {
	if reply != "" {
		subject += " 1 " + reply
	} else {
		subject += " 1"
	}
	return fmt.Sprintf("MSG %s %d\r\n%s\r\n", subject, len(payload), payload)
}

func hmsgOp(subject string, headers, payload string) string {
	h := "NATS/1.0\r\n" + headers + "\r\n"
	return fmt.Sprintf("HMSG %s 1 %d %d\r\n%s%s\r\n", subject, len(h), len(h)+len(payload), h, payload)
}

func TestDecode(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{">"}})
	for _, text := range tricky {
		for _, op := range []string{msgOp("chat.room1", "", text), msgOp("chat.room1", "_INBOX.x", text), hmsgOp("chat.room1", "Nats-Msg-Id: m-1\r\n", text)} {
			t.Run(fmt.Sprintf("%.20q/%.4s", text, op), func(t *testing.T) {
				// Through Feed first: the record is the whole operation.
				s, _ := open(t, a)
				got, err := feed(t, s, op)
				if err != nil || len(got.records) != 1 || got.records[0] != op {
					t.Fatalf("Feed: %v %q", err, got.records)
				}
				evs := a.Decode(protocol.Frame{Binary: true, Data: []byte(op)})
				if len(evs) != 1 {
					t.Fatalf("%d events", len(evs))
				}
				ev := evs[0]
				if string(ev.Payload) != text || string(ev.Raw) != op || ev.Room != "chat.room1" || ev.Reason != "" || ev.Binary || ev.Text || ev.User != "" || ev.Name != "" {
					t.Errorf("event %+v", ev)
				}
				wantID := ""
				if strings.HasPrefix(op, "HMSG") {
					wantID = "m-1"
				}
				if ev.ID != wantID {
					t.Errorf("ID %q, want %q", ev.ID, wantID)
				}
			})
		}
	}
}

func TestDecodeOptionsAndEdges(t *testing.T) {
	text := mustNew(t, protocol.Config{Subscribe: []string{">"}, Options: protocol.Options{"payload_format": "text", "user_header": "X-User"}})
	evs := text.Decode(protocol.Frame{Binary: true, Data: []byte(hmsgOp("r", "x-user:  alice \r\nNATS-MSG-ID: abc\r\n", `{"user":"mallory"}`))})
	if len(evs) != 1 || !evs[0].Text || evs[0].User != "alice" || evs[0].ID != "abc" || string(evs[0].Payload) != `{"user":"mallory"}` {
		t.Errorf("text/user_header: %+v", evs)
	}

	a := mustNew(t, protocol.Config{Subscribe: []string{">"}})
	bin := "\xff\x00\x01"
	evs = a.Decode(protocol.Frame{Binary: true, Data: []byte(msgOp("r", "", bin))})
	if len(evs) != 1 || !evs[0].Binary || string(evs[0].Payload) != bin {
		t.Errorf("binary payload: %+v", evs)
	}
	// Status line, no id header.
	evs = a.Decode(protocol.Frame{Binary: true, Data: []byte(hmsgOp("r", "", "x"))})
	if len(evs) != 1 || evs[0].ID != "" || string(evs[0].Payload) != "x" {
		t.Errorf("HMSG without id: %+v", evs)
	}

	for _, bad := range []string{
		"", "MSG", "MSG a 1 5\r\nabc\r\n", "MSG a 1 1\r\nab\r\n", "MSG a 1 1\r\nab", "PING\r\n", "INFO {}\r\n",
		"HMSG a 1 5 3\r\nabc\r\n", "MSG a 1 x\r\n\r\n", "MSG a 1 2\r\nab\r\nMSG a 1 2\r\nab\r\n",
	} {
		evs := a.Decode(protocol.Frame{Binary: true, Data: []byte(bad)})
		if len(evs) != 1 || evs[0].Reason != ReasonBadFrame || string(evs[0].Raw) != bad || string(evs[0].Payload) != bad {
			t.Errorf("Decode(%q) = %+v, want one bad_frame event", bad, evs)
		}
	}
}

func TestCloseError(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{"a"}})
	tests := []struct {
		code    int
		reason  string
		refusal bool
		plain   bool
	}{
		{1008, "Authentication Failure", true, false},
		{1008, "Authentication Expired", true, false},
		{1008, "Credentials Revoked", true, false},
		{1008, "Maximum Subscriptions Exceeded", true, false},
		{1008, "Slow Consumer (Pending Bytes)", false, true},
		{1008, "Slow Consumer (Write Deadline)", false, true},
		{1008, "Maximum Connections Exceeded", false, true},
		{1008, "Maximum Account Connections Exceeded", false, true},
		{1008, "Authentication Timeout", false, true},
		{1008, "something new", false, false},
		{1001, "Server Shutdown", false, false},
		{1006, "Stale Connection", false, false},
	}
	for _, tt := range tests {
		err := a.CloseError(tt.code, tt.reason)
		var ref *protocol.Refusal
		if isRef := errors.As(err, &ref); isRef != tt.refusal || (err != nil && !isRef) != tt.plain {
			t.Errorf("CloseError(%d, %q) = %v", tt.code, tt.reason, err)
		}
	}
}

// TestBigMessage reassembles a 1 MiB payload sent in 4 KiB frames, as
// nats-server sends to browsers, and then lets the buffer go.
func TestBigMessage(t *testing.T) {
	s, _ := open(t, mustNew(t, protocol.Config{Subscribe: []string{"a"}}))
	payload := strings.Repeat("長いメッセージ ", 1<<20/22)
	op := msgOp("a", "", payload) + "PING\r\n"
	var frames []string
	for i := 0; i < len(op); i += 4096 {
		frames = append(frames, op[i:min(i+4096, len(op))])
	}
	got, err := feed(t, s, append([]string{info}, frames...)...)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.records) != 1 || got.records[0] != msgOp("a", "", payload) {
		t.Fatalf("%d records", len(got.records))
	}
	if _, err := feed(t, s, "PONG\r\n"); err != nil {
		t.Fatal(err)
	}
	if cap(s.buf) > keepBuf {
		t.Errorf("idle session keeps %d bytes of buffer", cap(s.buf))
	}
}
