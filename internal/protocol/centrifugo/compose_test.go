package centrifugo

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wsmon/wsmon/internal/protocol"
)

// TestCompose: a reply is one publish command (exact bytes, ids from
// 2^31) to reply_channel, else the answered message's channel when
// subscribed, else the first; the echo is the event of the publication
// push the server sends every subscriber; the publish reply is control.
func TestCompose(t *testing.T) {
	tests := []struct {
		name, room, text string
		channels         []string
		opts             protocol.Options
		want             string
		channel, body    string
		textEcho         bool
		err              string
	}{
		{name: "subscribed channel", channels: []string{"chat", "news"}, room: "news", text: `收到 "a"`,
			want: `{"id":2147483649,"publish":{"channel":"news","data":"收到 \"a\""}}`, channel: "news", body: `收到 "a"`, textEcho: true},
		{name: "room from content: first", channels: []string{"chat"}, room: "大厅", text: "hi",
			want: `{"id":2147483649,"publish":{"channel":"chat","data":"hi"}}`, channel: "chat", body: "hi", textEcho: true},
		{name: "reply_channel and json", channels: []string{"chat"}, opts: protocol.Options{"reply_channel": "bots:out", "reply_format": "json"}, room: "chat", text: ` {"input":"hi"}`,
			want: `{"id":2147483649,"publish":{"channel":"bots:out","data":{"input":"hi"}}}`, channel: "bots:out", body: `{"input":"hi"}`},
		{name: "json string", channels: []string{"chat"}, opts: protocol.Options{"reply_format": "json"}, text: `"hi"`,
			want: `{"id":2147483649,"publish":{"channel":"chat","data":"hi"}}`, channel: "chat", body: "hi", textEcho: true},
		{name: "no channel", text: "hi", err: "set options.reply_channel"},
		{name: "json invalid", channels: []string{"chat"}, opts: protocol.Options{"reply_format": "json"}, text: `{`, err: "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, protocol.Config{Subscribe: tt.channels, Options: tt.opts})
			s, _ := open(t, a)
			if _, err := feed(t, s, connectOK); err != nil || !s.Ready() {
				t.Fatalf("connect: %v", err)
			}
			var out protocol.Output
			echo, err := s.Compose(tt.text, tt.room, &out)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || len(out.Replies) != 0 {
					t.Fatalf("Compose = %v, want error %q", err, tt.err)
				}
				return
			}
			if err != nil || len(out.Replies) != 1 || out.Replies[0].Binary || string(out.Replies[0].Data) != tt.want {
				t.Fatalf("Compose = %v, %+v; want %s", err, out.Replies, tt.want)
			}
			if echo.Room != tt.channel || string(echo.Payload) != tt.body || echo.Text != tt.textEcho || echo.User != "" {
				t.Errorf("echo %+v", echo)
			}
			data := tt.want[strings.Index(tt.want, `"data":`)+7 : len(tt.want)-2]
			got, err := feed(t, s, `{"id":2147483649,"publish":{}}`,
				fmt.Sprintf(`{"push":{"channel":%q,"pub":{"data":%s,"info":{"user":"wsmon","client":"c-1"},"offset":3}}}`, tt.channel, data))
			if err != nil || len(got.control) != 1 || len(got.records) != 1 {
				t.Fatalf("publish reply and push: %v %+v", err, got)
			}
			ev := a.Decode(protocol.Frame{Data: []byte(got.records[0])})[0]
			if ev.Room != echo.Room || string(ev.Payload) != string(echo.Payload) || ev.Text != echo.Text {
				t.Errorf("push decodes to %+v, echo %+v", ev, echo)
			}
			out.Reset()
			s.Compose(tt.text, tt.room, &out)
			if !strings.HasPrefix(string(out.Replies[0].Data), `{"id":2147483650,`) {
				t.Errorf("second reply %s", out.Replies[0].Data)
			}
		})
	}
	for _, o := range []protocol.Options{{"reply_channel": ""}, {"reply_channel": " a"}, {"reply_format": "x"}} {
		if _, err := New(protocol.Config{URL: testURL, Options: o}); err == nil || !strings.HasPrefix(err.Error(), "options.reply_") {
			t.Errorf("%v: %v", o, err)
		}
	}
}
