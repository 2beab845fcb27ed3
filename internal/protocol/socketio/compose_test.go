package socketio

import (
	"context"
	"strings"
	"testing"

	"github.com/wsmon/wsmon/internal/protocol"
)

// readySession opens a session and connects its namespaces.
func readySession(t *testing.T, a *Adapter) *session {
	t.Helper()
	ps, err := a.Open(context.Background(), &fakeConn{})
	if err != nil {
		t.Fatal(err)
	}
	s := ps.(*session)
	var out protocol.Output
	open := open4
	if a.eio == 3 {
		open = open3
	}
	frames := []string{open}
	for _, ns := range a.namespaces {
		if ns == "/" {
			frames = append(frames, `40{"sid":"s"}`)
			if a.eio == 3 {
				frames[len(frames)-1] = "40"
			}
		} else {
			frames = append(frames, `40`+ns+`,{"sid":"s"}`)
			if a.eio == 3 {
				frames[len(frames)-1] = "40" + ns
			}
		}
	}
	for _, f := range frames {
		out.Reset()
		if err := s.Feed(protocol.Frame{Data: []byte(f)}, &out); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if !s.Ready() {
		t.Fatal("not ready")
	}
	return s
}

// TestCompose: a reply is one EVENT packet (exact text frame) emitting
// reply_event in the answered message's namespace when subscribed (the
// main one for a message without room), else in the first; its argument is
// the text as a string, or with reply_format json the given arguments. A
// server relaying it sends the same packet: the echo is its event.
func TestCompose(t *testing.T) {
	tests := []struct {
		name, room, text string
		sub              []string
		opts             protocol.Options
		want             string
		echoPayload      string
		echoRoom         string
		echoText         bool
		err              string
	}{
		{name: "main namespace", sub: []string{"/chat", "/"}, text: `收到 "a"`, want: `42["message","收到 \"a\""]`, echoPayload: `收到 "a"`, echoText: true},
		{name: "room is a namespace", sub: []string{"/", "/chat"}, room: "/chat", text: "hi", want: `42/chat,["message","hi"]`, echoPayload: "hi", echoRoom: "/chat", echoText: true},
		{name: "room from content: first namespace", sub: []string{"/chat"}, room: "ops", text: "hi", want: `42/chat,["message","hi"]`, echoPayload: "hi", echoRoom: "/chat", echoText: true},
		{name: "reply_event", sub: []string{"/"}, opts: protocol.Options{"reply_event": "chat message"}, text: "{\"x\":1}\n", want: `42["chat message","{\"x\":1}\n"]`, echoPayload: "{\"x\":1}\n", echoText: true},
		{name: "json object argument", sub: []string{"/"}, opts: protocol.Options{"reply_format": "json"}, text: ` [{"user":"bot","text":"hi"}] `,
			want: `42["message",{"user":"bot","text":"hi"}]`, echoPayload: `{"user":"bot","text":"hi"}`},
		{name: "json two arguments", sub: []string{"/"}, opts: protocol.Options{"reply_format": "json"}, text: `["bot", "hi"]`,
			want: `42["message","bot", "hi"]`, echoPayload: `bot hi`, echoText: true},
		{name: "json no arguments", sub: []string{"/"}, opts: protocol.Options{"reply_format": "json"}, text: `[]`, want: `42["message"]`, echoText: true},
		{name: "eio 3", sub: []string{"/", "/chat"}, opts: protocol.Options{"eio": 3.0}, room: "/chat", text: "hi", want: `42/chat,["message","hi"]`, echoPayload: "hi", echoRoom: "/chat", echoText: true},
		{name: "json not an array", sub: []string{"/"}, opts: protocol.Options{"reply_format": "json"}, text: `{"a":1}`, err: "must be a JSON array"},
		{name: "json not JSON", sub: []string{"/"}, opts: protocol.Options{"reply_format": "json"}, text: `hi`, err: "not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, protocol.Config{Subscribe: tt.sub, Options: tt.opts})
			s := readySession(t, a)
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
			if string(echo.Payload) != tt.echoPayload || echo.Room != tt.echoRoom || echo.Text != tt.echoText || echo.Reason != "" || echo.Name != a.replyEvent {
				t.Errorf("echo %+v", echo)
			}
			// The relayed packet is a record decoding to the echo.
			var back protocol.Output
			if err := s.Feed(out.Replies[0], &back); err != nil || len(back.Records) != 1 {
				t.Fatalf("relayed: %v %+v", err, back)
			}
			if ev := a.Decode(back.Records[0])[0]; string(ev.Payload) != string(echo.Payload) || ev.Room != echo.Room || ev.Text != echo.Text {
				t.Errorf("relayed packet decodes to %+v, echo %+v", ev, echo)
			}
		})
	}
}

func TestReplyOptions(t *testing.T) {
	for _, o := range []protocol.Options{{"reply_event": ""}, {"reply_event": "disconnect"}, {"reply_format": "xml"}, {"reply_event": 1.0}} {
		_, err := New(protocol.Config{URL: "ws://h/", Options: o})
		if err == nil || !strings.HasPrefix(err.Error(), "options.reply_") {
			t.Errorf("%v: %v", o, err)
		}
	}
}
