package phoenix

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/wsmon/wsmon/internal/protocol"
)

// joined opens a session and answers every join ok.
func joined(t *testing.T, a *Adapter) *session {
	t.Helper()
	ps, err := a.Open(context.Background(), &fakeConn{})
	if err != nil {
		t.Fatal(err)
	}
	s := ps.(*session)
	for i, topic := range a.topics {
		ref := fmt.Sprint(i + 1)
		msg := fmt.Sprintf(`[%q,%q,%q,"phx_reply",{"status":"ok","response":{}}]`, ref, ref, topic)
		if a.v1 {
			msg = fmt.Sprintf(`{"topic":%q,"event":"phx_reply","payload":{"status":"ok","response":{}},"ref":%q,"join_ref":%q}`, topic, ref, ref)
		}
		var out protocol.Output
		if err := s.Feed(protocol.Frame{Data: []byte(msg)}, &out); err != nil {
			t.Fatal(err)
		}
	}
	if !s.Ready() {
		t.Fatal("not ready")
	}
	return s
}

// TestCompose: a reply is one push (exact bytes) of reply_event on the
// answered message's topic when joined, else on the first, with the
// topic's join_ref and a new ref; the echo is what a channel broadcasting
// the same event and payload delivers.
func TestCompose(t *testing.T) {
	tests := []struct {
		name, room, text string
		topics           []string
		opts             protocol.Options
		want             string
		echoTopic, body  string
		err              string
	}{
		{name: "v2 joined topic", topics: []string{"room:lobby", "room:b"}, room: "room:b", text: `收到 "a"`,
			want: `["2","3","room:b","new_msg",{"body":"收到 \"a\""}]`, echoTopic: "room:b", body: `{"body":"收到 \"a\""}`},
		{name: "room from content: first topic", topics: []string{"room:lobby"}, room: "大厅", text: "hi",
			want: `["1","2","room:lobby","new_msg",{"body":"hi"}]`, echoTopic: "room:lobby", body: `{"body":"hi"}`},
		{name: "v1", topics: []string{"room:lobby"}, opts: protocol.Options{"vsn": "1.0.0"}, text: "hi",
			want: `{"topic":"room:lobby","event":"new_msg","payload":{"body":"hi"},"ref":"2","join_ref":"1"}`, echoTopic: "room:lobby", body: `{"body":"hi"}`},
		{name: "reply_event and json", topics: []string{"room:lobby"}, opts: protocol.Options{"reply_event": "shout", "reply_format": "json"}, text: ` {"name":"bot","message":"hi"} `,
			want: `["1","2","room:lobby","shout",{"name":"bot","message":"hi"}]`, echoTopic: "room:lobby", body: `{"name":"bot","message":"hi"}`},
		{name: "json not an object", topics: []string{"room:lobby"}, opts: protocol.Options{"reply_format": "json"}, text: `"hi"`, err: "must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, protocol.Config{Subscribe: tt.topics, Options: tt.opts})
			s := joined(t, a)
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
			if echo.Room != tt.echoTopic || string(echo.Payload) != tt.body || echo.Name != a.replyEvent || echo.Reason != "" {
				t.Errorf("echo %+v", echo)
			}
			// The channel's broadcast of it.
			bc := fmt.Sprintf(`[null,null,%q,%q,%s]`, tt.echoTopic, a.replyEvent, tt.body)
			if a.v1 {
				bc = fmt.Sprintf(`{"topic":%q,"event":%q,"payload":%s,"ref":null}`, tt.echoTopic, a.replyEvent, tt.body)
			}
			ev := a.Decode(protocol.Frame{Data: []byte(bc)})[0]
			if ev.Room != echo.Room || string(ev.Payload) != string(echo.Payload) || ev.Name != echo.Name || ev.Text != echo.Text {
				t.Errorf("broadcast decodes to %+v, echo %+v", ev, echo)
			}
		})
	}
}

// TestComposeWhileRejoining: a topic the server closed is not pushed to
// until it is joined again.
func TestComposeWhileRejoining(t *testing.T) {
	a := mustNew(t, protocol.Config{Subscribe: []string{"room:lobby"}})
	s := joined(t, a)
	var out protocol.Output
	if err := s.Feed(protocol.Frame{Data: []byte(`["1","1","room:lobby","phx_close",{}]`)}, &out); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if _, err := s.Compose("hi", "room:lobby", &out); err == nil || len(out.Replies) != 0 {
		t.Fatalf("Compose while rejoining: %v, %d frames", err, len(out.Replies))
	}
}

func TestReplyOptions(t *testing.T) {
	for _, o := range []protocol.Options{{"reply_event": ""}, {"reply_event": "phx_join"}, {"reply_format": "text/plain"}} {
		_, err := New(protocol.Config{Subscribe: []string{"room:lobby"}, Options: o})
		if err == nil || !strings.HasPrefix(err.Error(), "options.reply_") {
			t.Errorf("%v: %v", o, err)
		}
	}
}
