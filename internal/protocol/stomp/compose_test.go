package stomp

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wsmon/wsmon/internal/protocol"
)

// TestCompose: a reply is one SEND frame (exact bytes) to
// reply_destination, else the answered message's destination when it is a
// subscribed one, else the first subscribed destination, with a JSON or
// plain text content-type, its content-length and a reply receipt; header
// values are escaped as the negotiated version wants. The echo is what
// Decode makes of the MESSAGE a broker turns the SEND into.
func TestCompose(t *testing.T) {
	const c10 = "CONNECTED\n\n\x00"
	const c11 = "CONNECTED\nversion:1.1\n\n\x00"
	tests := []struct {
		name      string
		sub       []string
		opts      protocol.Options
		connected string
		room      string
		text      string
		want      string
		textEcho  bool
	}{
		{name: "room is a subscribed destination", sub: []string{"/topic/a", "/topic/b"}, connected: connected12, room: "/topic/b", text: "hi",
			want: "SEND\ndestination:/topic/b\ncontent-type:text/plain;charset=utf-8\ncontent-length:2\nreceipt:reply-1\n\nhi\x00", textEcho: true},
		{name: "JSON body", sub: []string{"/topic/a"}, connected: connected12, room: "/topic/a", text: ` {"user":"bot","text":"收到"}`,
			want: "SEND\ndestination:/topic/a\ncontent-type:application/json;charset=utf-8\ncontent-length:31\nreceipt:reply-1\n\n " + `{"user":"bot","text":"收到"}` + "\x00"},
		{name: "room from content: first destination", sub: []string{"/topic/a", "/topic/b"}, connected: connected12, room: "大厅", text: "x",
			want: "SEND\ndestination:/topic/a\ncontent-type:text/plain;charset=utf-8\ncontent-length:1\nreceipt:reply-1\n\nx\x00", textEcho: true},
		{name: "reply_destination wins", sub: []string{"/topic/a"}, opts: protocol.Options{"reply_destination": "/app/chat:send"}, connected: connected12, room: "/topic/a", text: "x",
			want: "SEND\ndestination:/app/chat\\csend\ncontent-type:text/plain;charset=utf-8\ncontent-length:1\nreceipt:reply-1\n\nx\x00", textEcho: true},
		{name: "1.0 does not escape", sub: []string{"/topic/a"}, opts: protocol.Options{"reply_destination": "/app/chat:send"}, connected: c10, text: "x",
			want: "SEND\ndestination:/app/chat:send\ncontent-type:text/plain;charset=utf-8\ncontent-length:1\nreceipt:reply-1\n\nx\x00", textEcho: true},
		{name: "1.1", sub: []string{"/queue/a"}, connected: c11, text: "a\x00b",
			want: "SEND\ndestination:/queue/a\ncontent-type:text/plain;charset=utf-8\ncontent-length:3\nreceipt:reply-1\n\na\x00b\x00", textEcho: true},
		{name: "payload_format text", sub: []string{"/topic/a"}, opts: protocol.Options{"payload_format": "text"}, connected: connected12, text: "{}",
			want: "SEND\ndestination:/topic/a\ncontent-type:application/json;charset=utf-8\ncontent-length:2\nreceipt:reply-1\n\n{}\x00", textEcho: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, protocol.Config{Subscribe: tt.sub, Options: tt.opts})
			s := connect(t, a, tt.connected)
			var out protocol.Output
			echo, err := s.Compose(tt.text, tt.room, &out)
			if err != nil || len(out.Replies) != 1 || out.Replies[0].Binary || string(out.Replies[0].Data) != tt.want {
				t.Fatalf("Compose = %v, %q; want %q", err, datas(out.Replies), tt.want)
			}
			// The broker's MESSAGE for it, as RabbitMQ sends it.
			dest, _, _ := strings.Cut(strings.TrimPrefix(tt.want, "SEND\ndestination:"), "\n")
			ct := "text/plain;charset=utf-8"
			if strings.Contains(tt.want, "application/json") {
				ct = "application/json;charset=utf-8"
			}
			msg := message(unescape([]byte(dest)), "T_sub-0@@session-x@@1", tt.text, "content-type", ct)
			rec, err := feed(t, s, msg)
			if err != nil || len(rec.Records) != 1 {
				t.Fatalf("MESSAGE: %v %+v", err, rec)
			}
			ev := a.Decode(rec.Records[0])[0]
			if echo.Room != ev.Room || string(echo.Payload) != string(ev.Payload) || echo.Text != ev.Text || echo.Text != tt.textEcho || echo.User != "" {
				t.Errorf("echo %s, the broadcast decodes to %s", show(echo), show(ev))
			}
			// Receipts count up.
			out.Reset()
			s.Compose("y", "", &out)
			if !strings.Contains(string(out.Replies[0].Data), "\nreceipt:reply-2\n") {
				t.Errorf("second reply %q", out.Replies[0].Data)
			}
		})
	}
}

// TestComposeSockJS: through SockJS the SEND is wrapped like every frame.
func TestComposeSockJS(t *testing.T) {
	a := mustNew(t, protocol.Config{URL: "ws://h/stomp/123/abcdefgh/websocket"})
	s, _ := open(t, a)
	if _, err := feed(t, s, "o"); err != nil {
		t.Fatal(err)
	}
	if _, err := feed(t, s, sockjsArrayOf(connected12)); err != nil || !s.Ready() {
		t.Fatalf("CONNECTED: %v", err)
	}
	var out protocol.Output
	if _, err := s.Compose("hi", "", &out); err != nil {
		t.Fatal(err)
	}
	want := `["SEND\ndestination:/topic/chat\ncontent-type:text/plain;charset=utf-8\ncontent-length:2\nreceipt:reply-1\n\nhi\u0000"]`
	if len(out.Replies) != 1 || string(out.Replies[0].Data) != want {
		t.Fatalf("SockJS SEND %q, want %q", datas(out.Replies), want)
	}
}

// TestReplyRefused: an ERROR naming a reply's receipt ends the connection
// (STOMP closes after ERROR) but is no refusal: the target reconnects and
// keeps its subscriptions.
func TestReplyRefused(t *testing.T) {
	a := mustNew(t, protocol.Config{})
	s := connect(t, a, connected12)
	var out protocol.Output
	if _, err := s.Compose("hi", "", &out); err != nil {
		t.Fatal(err)
	}
	_, err := feed(t, s, "ERROR\nmessage:access_refused\nreceipt-id:reply-1\n\nwrite access to /topic/chat refused\x00")
	var ref *protocol.Refusal
	if err == nil || errors.As(err, &ref) || !strings.Contains(err.Error(), "automatic reply") {
		t.Fatalf("ERROR for a reply: %v", err)
	}
}

func TestReplyDestinationOption(t *testing.T) {
	for _, v := range []any{"", " ", "/a\nb", 3.0} {
		_, err := New(protocol.Config{URL: "ws://h/ws", Subscribe: []string{"/topic/a"}, Options: protocol.Options{"reply_destination": v}})
		if err == nil || !strings.HasPrefix(err.Error(), "options.reply_destination: ") {
			t.Errorf("reply_destination %s: %v", fmt.Sprint(v), err)
		}
	}
}
