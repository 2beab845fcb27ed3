package stomp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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

func (*fakeConn) Subprotocol() string { return "v12.stomp" }

func mustNew(t testing.TB, cfg protocol.Config) *Adapter {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = "ws://chat.example:15674/ws"
	}
	if cfg.Subscribe == nil {
		cfg.Subscribe = []string{"/topic/chat"}
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a.(*Adapter)
}

// open opens a session on a fake connection and returns it with the frames
// Open wrote.
func open(t testing.TB, a *Adapter) (*session, []protocol.Frame) {
	t.Helper()
	c := &fakeConn{}
	s, err := a.Open(context.Background(), c)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s.(*session), c.writes
}

// feed feeds one text frame and returns a copy of the output.
func feed(t testing.TB, s *session, data string) (protocol.Output, error) {
	t.Helper()
	var out protocol.Output
	err := s.Feed(protocol.Frame{Data: []byte(data)}, &out)
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

func datas(fs []protocol.Frame) []string {
	var r []string
	for _, f := range fs {
		r = append(r, string(f.Data))
	}
	return r
}

const connected12 = "CONNECTED\nversion:1.2\nheart-beat:5000,20000\nserver:test\n\n\x00"

// connect opens a session and feeds it CONNECTED.
func connect(t testing.TB, a *Adapter, connected string) *session {
	t.Helper()
	s, _ := open(t, a)
	if _, err := feed(t, s, connected); err != nil {
		t.Fatalf("CONNECTED: %v", err)
	}
	if !s.Ready() {
		t.Fatal("not ready after CONNECTED")
	}
	return s
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  protocol.Config
		want string // error prefix
	}{
		{"bad url", protocol.Config{URL: "ws://a b/\x7f", Subscribe: []string{"/topic/a"}}, "url: "},
		{"no host", protocol.Config{URL: "ws:///x", Subscribe: []string{"/topic/a"}}, "url: "},
		{"no subscribe", protocol.Config{URL: "ws://h/ws"}, "subscribe: "},
		{"empty destination", protocol.Config{URL: "ws://h/ws", Subscribe: []string{" "}}, "subscribe: "},
		{"newline in destination", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a\nb"}}, "subscribe: "},
		{"NUL in destination", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a\x00"}}, "subscribe: "},
		{"duplicate destination", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a", "/topic/a"}}, "subscribe: "},
		{"token", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a"}, Auth: protocol.Auth{Token: "t"}}, "auth: "},
		{"password without user", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a"}, Auth: protocol.Auth{Password: "p"}}, "auth: "},
		{"newline in password", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a"}, Auth: protocol.Auth{Username: "u", Password: "p\n"}}, "auth: "},
		{"colon in user", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a"}, Auth: protocol.Auth{Username: "u:v", Password: "p"}}, "auth: "},
		{"unknown option", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a"}, Options: protocol.Options{"qos": 1.0}}, "options.qos: "},
		{"host not a string", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a"}, Options: protocol.Options{"host": 1.0}}, "options.host: "},
		{"host with newline", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a"}, Options: protocol.Options{"host": "a\nb"}}, "options.host: "},
		{"heart_beat one number", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a"}, Options: protocol.Options{"heart_beat": "1000"}}, "options.heart_beat: "},
		{"heart_beat negative", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a"}, Options: protocol.Options{"heart_beat": "-1,0"}}, "options.heart_beat: "},
		{"heart_beat words", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a"}, Options: protocol.Options{"heart_beat": "a,b"}}, "options.heart_beat: "},
		{"heart_beat number", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a"}, Options: protocol.Options{"heart_beat": 1000.0}}, "options.heart_beat: "},
		{"bad payload_format", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a"}, Options: protocol.Options{"payload_format": "json"}}, "options.payload_format: "},
		{"user_header with colon", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a"}, Options: protocol.Options{"user_header": "a:b"}}, "options.user_header: "},
		{"bad ack", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a"}, Options: protocol.Options{"ack": "manual"}}, "options.ack: "},
		{"sockjs not bool", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a"}, Options: protocol.Options{"sockjs": "yes"}}, "options.sockjs: "},
		{"user_header not string", protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a"}, Options: protocol.Options{"user_header": true}}, "options.user_header: "},
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

func TestOpenSendsConnect(t *testing.T) {
	tests := []struct {
		name string
		cfg  protocol.Config
		want string
	}{
		{"defaults", protocol.Config{URL: "ws://chat.example:15674/ws"},
			"CONNECT\naccept-version:1.0,1.1,1.2\nhost:chat.example\nheart-beat:10000,10000\n\n\x00"},
		{"login and options", protocol.Config{URL: "wss://chat.example/ws", Auth: protocol.Auth{Username: "guest", Password: "p:w\\d"},
			Options: protocol.Options{"host": "/", "heart_beat": "0, 2500"}},
			"CONNECT\naccept-version:1.0,1.1,1.2\nhost:/\nlogin:guest\npasscode:p:w\\d\nheart-beat:0,2500\n\n\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, writes := open(t, mustNew(t, tt.cfg))
			if len(writes) != 1 || writes[0].Binary || string(writes[0].Data) != tt.want {
				t.Fatalf("Open wrote %q, want one text frame %q", datas(writes), tt.want)
			}
			if s.Ready() || s.Protocol() != "stomp" {
				t.Errorf("Ready %v Protocol %q before CONNECTED", s.Ready(), s.Protocol())
			}
		})
	}
}

func TestPrepare(t *testing.T) {
	a := mustNew(t, protocol.Config{})
	u, _ := url.Parse("ws://h/ws")
	d := &protocol.Dial{URL: u, Subprotocols: []string{"chat", "v11.stomp"}}
	if err := a.Prepare(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if want := []string{"chat", "v11.stomp", "v12.stomp", "v10.stomp"}; !slices.Equal(d.Subprotocols, want) {
		t.Errorf("subprotocols %q, want %q", d.Subprotocols, want)
	}
	if d.URL.String() != "ws://h/ws" {
		t.Errorf("URL changed to %s", d.URL)
	}
}

func TestHandshake(t *testing.T) {
	tests := []struct {
		name      string
		heartBeat string
		connected string
		send      time.Duration // negotiated client heart-beat
		recv      time.Duration
		subscribe []string
	}{
		{"1.2 larger server", "10000,10000", "CONNECTED\nversion:1.2\nheart-beat:20000,30000\n\n\x00", 30 * time.Second, 20 * time.Second,
			[]string{"SUBSCRIBE\nid:sub-0\ndestination:/topic/chat\nack:auto\nreceipt:sub-0\n\n\x00", "SUBSCRIBE\nid:sub-1\ndestination:/queue/a\\cb\\\\c\nack:auto\nreceipt:sub-1\n\n\x00"}},
		{"1.2 larger client", "10000,10000", "CONNECTED\nversion:1.2\nheart-beat:2000,2000\n\n\x00", 10 * time.Second, 10 * time.Second, nil},
		{"server sends none", "10000,10000", "CONNECTED\nversion:1.2\nheart-beat:0,5000\n\n\x00", 10 * time.Second, 0, nil},
		{"server wants none", "10000,10000", "CONNECTED\nversion:1.2\nheart-beat:5000,0\n\n\x00", 0, 10 * time.Second, nil},
		{"no heart-beat header", "10000,10000", "CONNECTED\nversion:1.1\n\n\x00", 0, 0,
			[]string{"SUBSCRIBE\nid:sub-0\ndestination:/topic/chat\nack:auto\nreceipt:sub-0\n\n\x00", "SUBSCRIBE\nid:sub-1\ndestination:/queue/a\\cb\\\\c\nack:auto\nreceipt:sub-1\n\n\x00"}},
		{"we want none", "0,0", "CONNECTED\nversion:1.2\nheart-beat:1000,1000\n\n\x00", 0, 0, nil},
		{"1.0 has no escapes", "10000,10000", "CONNECTED\n\n\x00", 0, 0,
			[]string{"SUBSCRIBE\nid:sub-0\ndestination:/topic/chat\nack:auto\nreceipt:sub-0\n\n\x00", "SUBSCRIBE\nid:sub-1\ndestination:/queue/a:b\\c\nack:auto\nreceipt:sub-1\n\n\x00"}},
		{"crlf", "1000,1000", "CONNECTED\r\nversion:1.2\r\nheart-beat:1000,1000\r\n\r\n\x00\r\n", time.Second, time.Second, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, protocol.Config{Subscribe: []string{"/topic/chat", "/queue/a:b\\c"}, Options: protocol.Options{"heart_beat": tt.heartBeat}})
			s, _ := open(t, a)
			out, err := feed(t, s, tt.connected)
			if err != nil {
				t.Fatal(err)
			}
			if !s.Ready() {
				t.Fatal("not ready")
			}
			if got := s.Heartbeat(); got != tt.send {
				t.Errorf("Heartbeat = %s, want %s", got, tt.send)
			}
			if s.recvHB != tt.recv {
				t.Errorf("server heart-beat = %s, want %s", s.recvHB, tt.recv)
			}
			if len(out.Records) != 0 || len(out.Control) != 1 || !strings.HasPrefix(string(out.Control[0].Data), "CONNECTED") {
				t.Errorf("records %q control %q, want CONNECTED as control", datas(out.Records), datas(out.Control))
			}
			if tt.subscribe != nil && !slices.Equal(datas(out.Replies), tt.subscribe) {
				t.Errorf("replies %q, want %q", datas(out.Replies), tt.subscribe)
			}
			if len(out.Replies) != 2 {
				t.Errorf("%d replies, want 2 SUBSCRIBEs", len(out.Replies))
			}
			if _, err := feed(t, s, tt.connected); err == nil {
				t.Error("a second CONNECTED was accepted")
			}
		})
	}
}

func TestBadConnected(t *testing.T) {
	for _, c := range []string{
		"CONNECTED\nversion:2.0\n\n\x00",
		"CONNECTED\nversion:1.2\nheart-beat:x\n\n\x00",
		"MESSAGE\ndestination:/topic/a\n\nhi\x00",
	} {
		s, _ := open(t, mustNew(t, protocol.Config{}))
		if _, err := feed(t, s, c); err == nil {
			t.Errorf("%q accepted", c)
		}
		if s.Ready() {
			t.Errorf("%q made the session ready", c)
		}
	}
}

// message builds a MESSAGE frame.
func message(dest, id, body string, extra ...string) string {
	h := [][2]string{{"destination", dest}, {"message-id", id}, {"subscription", "sub-0"}}
	for i := 0; i+1 < len(extra); i += 2 {
		h = append(h, [2]string{extra[i], extra[i+1]})
	}
	h = append(h, [2]string{"content-length", strconv.Itoa(len(body))})
	return string(encode("1.2", "MESSAGE", h, []byte(body)))
}

// TestReassembly feeds one byte stream (heart-beats, messages with and
// without content-length, NULs in a body, a receipt, trailing EOLs) cut at
// every possible point into two frames, and into one frame per byte: the
// records and the replies must be the same every time.
func TestReassembly(t *testing.T) {
	m1 := message("/topic/chat", "m-1", `{"user":"ann","text":"hi"}`, "content-type", "application/json")
	m2 := "MESSAGE\r\ndestination:/topic/chat\r\nmessage-id:m-2\r\n\r\nno length\x00"
	m3 := message("/topic/chat", "m-3", "nul\x00inside\x00", "content-type", "text/plain")
	m4 := message("/topic/a\\cb", "m-4", "你好，世界")
	receipt := "RECEIPT\nreceipt-id:77\n\n\x00"
	stream := connected12 + "\n" + m1 + "\n\n" + "\r\n" + m2 + "\n" + receipt + m3 + m4 + "\n"
	wantRecords := []string{m1, m2, m3, m4}

	check := func(t *testing.T, chunks []string) {
		t.Helper()
		s, _ := open(t, mustNew(t, protocol.Config{}))
		var records, replies []string
		control := 0
		for _, c := range chunks {
			out, err := feed(t, s, c)
			if err != nil {
				t.Fatalf("chunks %q: %v", chunks, err)
			}
			records = append(records, datas(out.Records)...)
			replies = append(replies, datas(out.Replies)...)
			control += len(out.Control)
		}
		if !slices.Equal(records, wantRecords) {
			t.Fatalf("chunks %q: records %q, want %q", chunks, records, wantRecords)
		}
		if len(replies) != 1 || !strings.HasPrefix(replies[0], "SUBSCRIBE\n") {
			t.Fatalf("chunks %q: replies %q", chunks, replies)
		}
		if control < 2 { // CONNECTED and RECEIPT at least
			t.Fatalf("chunks %q: %d control frames", chunks, control)
		}
		if len(s.buf) != 0 && s.off != len(s.buf) {
			t.Fatalf("chunks %q: %d bytes left over", chunks, len(s.buf)-s.off)
		}
	}
	t.Run("whole", func(t *testing.T) { check(t, []string{stream}) })
	t.Run("split in two", func(t *testing.T) {
		for i := 1; i < len(stream); i++ {
			check(t, []string{stream[:i], stream[i:]})
		}
	})
	t.Run("split in three", func(t *testing.T) {
		for i := 1; i < len(stream); i += 7 {
			for j := i + 1; j < len(stream); j += 5 {
				check(t, []string{stream[:i], stream[i:j], stream[j:]})
			}
		}
	})
	t.Run("byte by byte", func(t *testing.T) {
		var chunks []string
		for i := range len(stream) {
			chunks = append(chunks, stream[i:i+1])
		}
		check(t, chunks)
	})
}

func TestHeartBeatsAreControl(t *testing.T) {
	s := connect(t, mustNew(t, protocol.Config{}), connected12)
	for _, hb := range []string{"\n", "\r\n", "\n\n\n"} {
		out, err := feed(t, s, hb)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Records) != 0 || len(out.Control) != 1 || len(out.Replies) != 0 {
			t.Errorf("heart-beat %q gave %+v", hb, out)
		}
	}
	// A lone CR waits for its LF.
	out, err := feed(t, s, "\r")
	if err != nil || len(out.Records)+len(out.Control) != 0 {
		t.Errorf("lone CR: %+v %v", out, err)
	}
	out, err = feed(t, s, "\n"+message("/topic/chat", "1", "x"))
	if err != nil || len(out.Records) != 1 || len(out.Control) != 1 {
		t.Errorf("CR then LF and a message: %+v %v", out, err)
	}
}

func TestBadFrames(t *testing.T) {
	for _, f := range []string{
		"message with spaces\n\n\x00",
		"MESSAGE\nno colon here\n\nx\x00",
		"MESSAGE\ncontent-length:3\n\nabcd\x00",
		"MESSAGE\ncontent-length:-1\n\nabcd\x00",
		"MESSAGE\ncontent-length:99999999999\n\nabcd\x00",
		"\x00\n",
	} {
		s := connect(t, mustNew(t, protocol.Config{}), connected12)
		if _, err := feed(t, s, f); err == nil {
			t.Errorf("%q accepted", f)
		}
	}
}

func TestFrameTooLong(t *testing.T) {
	s := connect(t, mustNew(t, protocol.Config{}), connected12)
	if _, err := feed(t, s, "MESSAGE\ndestination:/topic/a\n\n"); err != nil {
		t.Fatal(err)
	}
	chunk := strings.Repeat("x", 1<<20)
	var err error
	for i := 0; i < 20 && err == nil; i++ {
		_, err = feed(t, s, chunk)
	}
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("a frame over 16 MiB gave %v", err)
	}
	s = connect(t, mustNew(t, protocol.Config{}), connected12)
	if _, err := feed(t, s, "MESSAGE\ncontent-length:16777300\n\n"); err == nil {
		t.Fatal("content-length over 16 MiB accepted")
	}
}

func TestErrorFrames(t *testing.T) {
	tests := []struct {
		name      string
		connected bool
		frame     string
		refusal   bool
		reason    string
	}{
		{"bad login before CONNECTED", false,
			"ERROR\nmessage:Bad CONNECT\ncontent-type:text/plain\ncontent-length:32\n\nAccess refused for user 'guest'\n\x00\n", true,
			"Bad CONNECT: Access refused for user 'guest'"},
		{"anything before CONNECTED", false, "ERROR\nmessage:Whatever\n\n\x00", true, "Whatever"},
		{"unknown destination", true,
			"ERROR\nmessage:Unknown destination\n\n'/foo/bar' is not a valid destination.\nValid destination types are: ...\x00", true,
			"Unknown destination: '/foo/bar' is not a valid destination."},
		{"access refused later", true, "ERROR\nmessage:access_refused\n\n\x00", true, "access_refused"},
		{"body only", false, "ERROR\n\nno entry\x00", true, "no entry"},
		{"transient", true, "ERROR\nmessage:Processing error\n\nconnection_forced\x00", false, "Processing error: connection_forced"},
		{"shutdown", true, "ERROR\nmessage:Server shutdown\n\n\x00", false, "Server shutdown"},
		{"receipt of a SUBSCRIBE", true, "ERROR\nmessage:Processing error\nreceipt-id:sub-0\n\nnope\x00", true,
			`subscription to "/topic/chat" refused: Processing error: nope`},
		{"receipt of nothing we sent", true, "ERROR\nmessage:Processing error\nreceipt-id:sub-7\n\nnope\x00", false, "Processing error: nope"},
		{"receipt id not ours", true, "ERROR\nmessage:Processing error\nreceipt-id:sub-00\n\nnope\x00", false, "Processing error: nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, protocol.Config{})
			var s *session
			if tt.connected {
				s = connect(t, a, connected12)
			} else {
				s, _ = open(t, a)
			}
			out, err := feed(t, s, tt.frame)
			if err == nil {
				t.Fatal("ERROR frame did not end the session")
			}
			var r *protocol.Refusal
			if got := errors.As(err, &r); got != tt.refusal {
				t.Fatalf("error %v: refusal %v, want %v", err, got, tt.refusal)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not contain %q", err, tt.reason)
			}
			if len(out.Control) != 1 || len(out.Records) != 0 {
				t.Errorf("ERROR frame: control %q records %q", datas(out.Control), datas(out.Records))
			}
		})
	}
}

func TestVhostHint(t *testing.T) {
	s, _ := open(t, mustNew(t, protocol.Config{URL: "ws://127.0.0.1:15674/ws"}))
	_, err := feed(t, s, "ERROR\nmessage:Bad CONNECT\n\nVirtual host '127.0.0.1' access denied\x00")
	if err == nil || !strings.Contains(err.Error(), `options.host`) {
		t.Fatalf("error %v gives no hint about options.host", err)
	}
	s, _ = open(t, mustNew(t, protocol.Config{URL: "ws://127.0.0.1:15674/ws", Options: protocol.Options{"host": "/"}}))
	_, err = feed(t, s, "ERROR\nmessage:Bad CONNECT\n\nVirtual host '/' access denied\x00")
	if err == nil || strings.Contains(err.Error(), `options.host`) {
		t.Fatalf("error %v hints at options.host though it was set", err)
	}
}

func TestAcks(t *testing.T) {
	tests := []struct {
		ack, version, want string
	}{
		{"auto", "1.2", ""},
		{"client", "1.2", "ACK\nid:a-1\n\n\x00"},
		{"client-individual", "1.2", "ACK\nid:a-1\n\n\x00"},
		{"client", "1.1", "ACK\nmessage-id:m\\c1\nsubscription:sub-0\n\n\x00"},
		{"client", "1.0", "ACK\nmessage-id:m\\c1\n\n\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.ack+" "+tt.version, func(t *testing.T) {
			a := mustNew(t, protocol.Config{Options: protocol.Options{"ack": tt.ack}})
			s := connect(t, a, "CONNECTED\nversion:"+tt.version+"\n\n\x00")
			if got := s.a.ack; got != tt.ack {
				t.Fatalf("ack mode %q", got)
			}
			out, err := feed(t, s, "MESSAGE\ndestination:/topic/chat\nmessage-id:m\\c1\nsubscription:sub-0\nack:a-1\n\nhello\x00")
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Records) != 1 {
				t.Fatalf("records %q", datas(out.Records))
			}
			got := strings.Join(datas(out.Replies), "")
			if got != tt.want {
				t.Errorf("ack reply %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSubscribeAckHeader(t *testing.T) {
	a := mustNew(t, protocol.Config{Options: protocol.Options{"ack": "client-individual"}})
	s, _ := open(t, a)
	out, err := feed(t, s, connected12)
	if err != nil {
		t.Fatal(err)
	}
	if want := "SUBSCRIBE\nid:sub-0\ndestination:/topic/chat\nack:client-individual\nreceipt:sub-0\n\n\x00"; len(out.Replies) != 1 || string(out.Replies[0].Data) != want {
		t.Errorf("replies %q, want %q", datas(out.Replies), want)
	}
}

func TestTick(t *testing.T) {
	a := mustNew(t, protocol.Config{Options: protocol.Options{"heart_beat": "1000,1000"}})
	s := connect(t, a, "CONNECTED\nversion:1.2\nheart-beat:1000,1000\n\n\x00")
	var out protocol.Output
	now := time.Now()
	if err := s.Tick(now, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Replies) != 1 || string(out.Replies[0].Data) != "\n" || out.Replies[0].Binary {
		t.Fatalf("Tick replies %q, want one EOL text frame", datas(out.Replies))
	}
	// Silent for longer than three server intervals plus the slack: dead.
	out.Reset()
	if err := s.Tick(now.Add(3*time.Second+deadSlack+time.Second), &out); err == nil {
		t.Fatal("a silent server was not noticed")
	}
	// A server that sends no heart-beats is never declared dead by Tick.
	s = connect(t, a, "CONNECTED\nversion:1.2\nheart-beat:0,1000\n\n\x00")
	if err := s.Tick(now.Add(time.Hour), &out); err != nil {
		t.Fatalf("server without heart-beats: %v", err)
	}
}

func TestConcurrentTickAndFeed(t *testing.T) {
	a := mustNew(t, protocol.Config{Options: protocol.Options{"heart_beat": "1000,1000"}})
	s := connect(t, a, "CONNECTED\nversion:1.2\nheart-beat:1000,1000\n\n\x00")
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
	for i := range 200 {
		if _, err := feed(t, s, message("/topic/chat", strconv.Itoa(i), "x")+"\n"); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
}

// tenKB is a 10 KB message body.
var tenKB = strings.Repeat("0123456789", 1024)

// decodeTexts are bodies that must come out of Decode byte for byte.
var decodeTexts = []struct{ name, body string }{
	{"chinese", "你好，世界"},
	{"emoji zwj", "👩‍👩‍👧‍👦 🏳️‍🌈"},
	{"html", "<script>alert(1)</script>&amp;"},
	{"looks like json", `{"type":"fake","user":"mallory"}`},
	{"looks like stomp", "MESSAGE\ndestination:/topic/evil\nmessage-id:9\n\nforged\x00"},
	{"looks like a heart-beat", "\n"},
	{"10 KB", tenKB},
	{"empty", ""},
}

func TestDecode(t *testing.T) {
	a := mustNew(t, protocol.Config{Options: protocol.Options{"user_header": "x-user"}})
	for _, tt := range decodeTexts {
		for _, ct := range []string{"text/plain;charset=UTF-8", "application/json", ""} {
			t.Run(tt.name+" "+ct, func(t *testing.T) {
				extra := []string{"x-user", "ann:nn"}
				if ct != "" {
					extra = append(extra, "content-type", ct)
				}
				rec := []byte(message("/topic/chat", "T-1\n2", tt.body, extra...))
				s := connect(t, a, connected12)
				out, err := feed(t, s, string(rec))
				if err != nil || len(out.Records) != 1 || !bytes.Equal(out.Records[0].Data, rec) {
					t.Fatalf("Feed: %v records %q, want the frame", err, datas(out.Records))
				}
				evs := a.Decode(out.Records[0])
				if len(evs) != 1 {
					t.Fatalf("%d events", len(evs))
				}
				ev := evs[0]
				if string(ev.Payload) != tt.body {
					t.Errorf("Payload %q, want %q", ev.Payload, tt.body)
				}
				if ev.Room != "/topic/chat" || ev.ID != "T-1\n2" || ev.User != "ann:nn" || ev.Name != "" || ev.Reason != "" {
					t.Errorf("event %s", show(ev))
				}
				if ev.Text != strings.HasPrefix(ct, "text/plain") || ev.Binary {
					t.Errorf("Text %v Binary %v for content-type %q", ev.Text, ev.Binary, ct)
				}
				if !bytes.Equal(ev.Raw, rec) {
					t.Errorf("Raw is not the frame")
				}
				again := a.Decode(protocol.Frame{Data: slices.Clone(rec)})
				if fmt.Sprint(again) != fmt.Sprint(evs) {
					t.Errorf("Decode is not deterministic")
				}
			})
		}
	}
}

func TestDecodeDetails(t *testing.T) {
	a := mustNew(t, protocol.Config{})
	tests := []struct {
		name string
		rec  string
		want protocol.Event
	}{
		{"first header wins", "MESSAGE\ndestination:/topic/a\ndestination:/topic/b\nmessage-id:1\nmessage-id:2\n\nhi\x00",
			protocol.Event{Room: "/topic/a", ID: "1", Payload: []byte("hi")}},
		{"no content-length", "MESSAGE\ndestination:/topic/a\n\nhi\x00", protocol.Event{Room: "/topic/a", Payload: []byte("hi")}},
		{"no user header option", "MESSAGE\ndestination:/queue/q\nuser:bob\n\nhi\x00", protocol.Event{Room: "/queue/q", Payload: []byte("hi")}},
		{"undefined escape kept", "MESSAGE\ndestination:/topic/a\\tb\\\n\nhi\x00", protocol.Event{Room: "/topic/a\\tb\\", Payload: []byte("hi")}},
		{"not utf-8", "MESSAGE\ndestination:/topic/a\n\n\xff\xfe\x00", protocol.Event{Room: "/topic/a", Payload: []byte("\xff\xfe"), Binary: true}},
		{"leading EOL", "\nMESSAGE\ndestination:/topic/a\n\nhi\x00", protocol.Event{Room: "/topic/a", Payload: []byte("hi")}},
		{"not a message", "RECEIPT\nreceipt-id:1\n\n\x00", protocol.Event{Payload: []byte("RECEIPT\nreceipt-id:1\n\n\x00"), Reason: ReasonBadFrame}},
		{"garbage", "hello", protocol.Event{Payload: []byte("hello"), Reason: ReasonBadFrame}},
		{"truncated", "MESSAGE\ndestination:/topic/a\n\nhi", protocol.Event{Payload: []byte("MESSAGE\ndestination:/topic/a\n\nhi"), Reason: ReasonBadFrame}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs := a.Decode(protocol.Frame{Data: []byte(tt.rec)})
			if len(evs) != 1 {
				t.Fatalf("%d events", len(evs))
			}
			ev := evs[0]
			if ev.Room != tt.want.Room || ev.ID != tt.want.ID || string(ev.Payload) != string(tt.want.Payload) ||
				ev.Reason != tt.want.Reason || ev.Binary != tt.want.Binary || ev.User != "" || string(ev.Raw) != tt.rec {
				t.Errorf("event %s, want %s", show(ev), show(tt.want))
			}
		})
	}
}

func TestPayloadFormatText(t *testing.T) {
	a := mustNew(t, protocol.Config{Options: protocol.Options{"payload_format": "text"}})
	evs := a.Decode(protocol.Frame{Data: []byte(message("/topic/chat", "1", `{"user":"mallory"}`, "content-type", "application/json"))})
	if len(evs) != 1 || !evs[0].Text {
		t.Errorf("payload_format text: %v", evs)
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "a:b", "a\\b", "l1\nl2", "cr\r", "\\c\\n", "你好:世界"} {
		for _, v := range []string{"1.1", "1.2"} {
			e := escape(v, s)
			if v == "1.1" && strings.Contains(s, "\r") {
				continue // 1.1 cannot escape CR
			}
			if got := unescape([]byte(e)); got != s {
				t.Errorf("%s: unescape(escape(%q)) = %q (escaped %q)", v, s, got, e)
			}
		}
	}
	if escape("1.0", "a:b\\") != "a:b\\" {
		t.Error("1.0 escaped a value")
	}
}

// show prints an event briefly.
func show(ev protocol.Event) string {
	p := string(ev.Payload)
	if len(p) > 80 {
		p = p[:80] + "..."
	}
	return fmt.Sprintf("{Room:%q Name:%q User:%q ID:%q Payload:%q Binary:%v Text:%v Reason:%q}", ev.Room, ev.Name, ev.User, ev.ID, p, ev.Binary, ev.Text, ev.Reason)
}
