package nats

import (
	"strings"
	"testing"

	"github.com/wsmon/wsmon/internal/protocol"
)

// ready opens a session and runs the handshake.
func ready(t *testing.T, a *Adapter) *session {
	t.Helper()
	s, _ := open(t, a)
	if _, err := feed(t, s, info, "PONG\r\n"); err != nil || !s.Ready() {
		t.Fatalf("handshake: %v, ready %v", err, s.Ready())
	}
	return s
}

// TestCompose: a reply is one PUB (exact bytes, binary frame) to
// reply_subject, else the answered message's subject when a subscription
// matches it, else the first subscription's literal subject; the echo is
// the event of the MSG the server delivers for it.
func TestCompose(t *testing.T) {
	tests := []struct {
		name, room, text string
		sub              []string
		opts             protocol.Options
		want             string
		err              string
	}{
		{name: "room matches >", sub: []string{"chat.>"}, room: "chat.room1", text: "hi", want: "PUB chat.room1 2\r\nhi\r\n"},
		{name: "room matches *", sub: []string{"x", "chat.*"}, room: "chat.r", text: `{"text":"收到"}`, want: "PUB chat.r 17\r\n{\"text\":\"收到\"}\r\n"},
		{name: "queue group subscription", sub: []string{"chat.room1 workers"}, room: "chat.room1", text: "", want: "PUB chat.room1 0\r\n\r\n"},
		{name: "room from content: first subject", sub: []string{"chat.lobby", "chat.>"}, room: "大厅", text: "x", want: "PUB chat.lobby 1\r\nx\r\n"},
		{name: "reply_subject wins", sub: []string{"chat.>"}, opts: protocol.Options{"reply_subject": "bots.out"}, room: "chat.a", text: "x", want: "PUB bots.out 1\r\nx\r\n"},
		{name: "text with CRLF", sub: []string{"a"}, text: "a\r\nPUB b 1", want: "PUB a 10\r\na\r\nPUB b 1\r\n"},
		{name: "room with a space", sub: []string{"chat.>"}, room: "chat.a b", text: "x", err: "set options.reply_subject"},
		{name: "wildcard room", sub: []string{"chat.>"}, room: "chat.*", text: "x", err: "set options.reply_subject"},
		{name: "> needs a token", sub: []string{"chat.>"}, room: "chat", text: "x", err: "set options.reply_subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, protocol.Config{Subscribe: tt.sub, Options: tt.opts})
			s := ready(t, a)
			var out protocol.Output
			echo, err := s.Compose(tt.text, tt.room, &out)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || len(out.Replies) != 0 {
					t.Fatalf("Compose = %v, want error %q", err, tt.err)
				}
				return
			}
			if err != nil || len(out.Replies) != 1 || !out.Replies[0].Binary || string(out.Replies[0].Data) != tt.want {
				t.Fatalf("Compose = %v, %+v; want %q", err, out.Replies, tt.want)
			}
			// nats-server's MSG for it: the PUB's subject and payload.
			subject, rest, _ := strings.Cut(strings.TrimPrefix(tt.want, "PUB "), " ")
			size, payload, _ := strings.Cut(rest, "\r\n")
			got, err := feed(t, s, "MSG "+subject+" 1 "+size+"\r\n"+payload)
			if err != nil || len(got.records) != 1 {
				t.Fatalf("MSG: %v %+v", err, got)
			}
			ev := a.Decode(protocol.Frame{Binary: true, Data: []byte(got.records[0])})[0]
			if echo.Room != ev.Room || string(echo.Payload) != string(ev.Payload) || echo.Text != ev.Text || echo.Binary != ev.Binary || string(echo.Payload) != tt.text {
				t.Errorf("echo %+v, the MSG decodes to %+v", echo, ev)
			}
		})
	}
}

func TestReplySubjectOption(t *testing.T) {
	for _, v := range []string{"", "a.*", "a.>", "a b", "a..b"} {
		_, err := New(protocol.Config{URL: "ws://h/", Subscribe: []string{"a"}, Options: protocol.Options{"reply_subject": v}})
		if err == nil || !strings.HasPrefix(err.Error(), "options.reply_subject: ") {
			t.Errorf("reply_subject %q: %v", v, err)
		}
	}
}

func TestMatchSubject(t *testing.T) {
	tests := []struct {
		f, s string
		want bool
	}{
		{"a.b", "a.b", true}, {"a.*", "a.b", true}, {"a.*", "a.b.c", false}, {"a.>", "a.b.c", true},
		{"a.>", "a", false}, {">", "a", true}, {"*.b", "a.b", true}, {"a", "a.b", false}, {"a*b", "a*b", true},
	}
	for _, tt := range tests {
		if got := matchSubject(tt.f, tt.s); got != tt.want {
			t.Errorf("matchSubject(%q, %q) = %v", tt.f, tt.s, got)
		}
	}
}
