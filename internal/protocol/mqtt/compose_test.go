package mqtt

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wsmon/wsmon/internal/protocol"
)

// TestCompose: a reply is one QoS 0 PUBLISH (first byte 0x30, no packet
// id; MQTT 5 with an empty property list) to reply_topic, else to the
// answered message's topic when a subscription matches it, else to the
// first subscription when it has no wildcards; the echo is the packet read
// back as a record.
func TestCompose(t *testing.T) {
	tests := []struct {
		name     string
		sub      []string
		opts     protocol.Options
		room     string
		text     string
		want     []byte // "" when err
		topic    string
		err      string
		textEcho bool
	}{
		{name: "room matches filter", sub: []string{"chat/#"}, room: "chat/lobby", text: "hi",
			want: []byte("\x30\x0e\x00\x0achat/lobbyhi"), topic: "chat/lobby"},
		{name: "mqtt 5 has empty properties", sub: []string{"chat/+"}, opts: protocol.Options{"version": 5.0}, room: "chat/lobby", text: "hi",
			want: []byte("\x30\x0f\x00\x0achat/lobby\x00hi"), topic: "chat/lobby"},
		{name: "mqtt 3.1", sub: []string{"chat/+"}, opts: protocol.Options{"version": 3.0}, room: "chat/lobby", text: "{\"a\":1}",
			want: []byte("\x30\x13\x00\x0achat/lobby{\"a\":1}"), topic: "chat/lobby"},
		{name: "room from content: first subscription", sub: []string{"chat/lobby", "chat/#"}, room: "大厅", text: "x",
			want: []byte("\x30\x0d\x00\x0achat/lobbyx"), topic: "chat/lobby"},
		{name: "no room: first subscription", sub: []string{"news"}, text: "收到",
			want: append([]byte("\x30\x0c\x00\x04news"), "收到"...), topic: "news"},
		{name: "reply_topic wins", sub: []string{"chat/#"}, opts: protocol.Options{"reply_topic": "bots/out"}, room: "chat/lobby", text: "x",
			want: []byte("\x30\x0b\x00\x08bots/outx"), topic: "bots/out"},
		{name: "shared subscription matches", sub: []string{"$share/g/chat/#"}, room: "chat/a", text: "x",
			want: []byte("\x30\x09\x00\x06chat/ax"), topic: "chat/a"},
		{name: "payload_format text", sub: []string{"chat/#"}, opts: protocol.Options{"payload_format": "text"}, room: "chat/a", text: "{}",
			want: []byte("\x30\x0a\x00\x06chat/a{}"), topic: "chat/a", textEcho: true},
		{name: "wildcard room is no topic", sub: []string{"chat/#"}, room: "chat/+", text: "x", err: "no topic to publish the reply to"},
		{name: "only wildcards", sub: []string{"chat/#"}, room: "other/a", text: "x", err: "set options.reply_topic"},
		{name: "only wildcards, no room", sub: []string{"+/lobby"}, text: "x", err: "set options.reply_topic"},
		{name: "$SYS not matched by #", sub: []string{"#"}, room: "$SYS/x", text: "x", err: "set options.reply_topic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, protocol.Config{Subscribe: tt.sub, Options: tt.opts})
			s := connect(t, a)
			var out protocol.Output
			echo, err := s.Compose(tt.text, tt.room, &out)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || len(out.Replies) != 0 {
					t.Fatalf("Compose = %v, %d frames; want error %q", err, len(out.Replies), tt.err)
				}
				return
			}
			if err != nil || len(out.Replies) != 1 || !out.Replies[0].Binary || !bytes.Equal(out.Replies[0].Data, tt.want) {
				t.Fatalf("Compose = %v, %q; want % x", err, hexes(out.Replies), tt.want)
			}
			if echo.Room != tt.topic || string(echo.Payload) != tt.text || echo.Text != tt.textEcho || echo.Reason != "" {
				t.Errorf("echo %+v, want room %q payload %q", echo, tt.topic, tt.text)
			}
			// The broker forwards the packet as it is: it is a record.
			rec, err := feed(t, s, out.Replies[0].Data)
			if err != nil || len(rec.Records) != 1 {
				t.Errorf("the PUBLISH fed back: %v %+v", err, rec)
			}
		})
	}
}

func TestReplyTopicOption(t *testing.T) {
	for _, v := range []any{"", "a/+", "a/#", "a\x00"} {
		_, err := New(protocol.Config{URL: "ws://h/mqtt", Subscribe: []string{"chat/#"}, Options: protocol.Options{"reply_topic": v}})
		if err == nil || !strings.HasPrefix(err.Error(), "options.reply_topic: ") {
			t.Errorf("reply_topic %q: %v", v, err)
		}
	}
}

func TestMatchTopic(t *testing.T) {
	tests := []struct {
		f, t string
		want bool
	}{
		{"a/b", "a/b", true}, {"a/b", "a/c", false}, {"a/+", "a/b", true}, {"a/+", "a/b/c", false},
		{"a/#", "a", true}, {"a/#", "a/b/c", true}, {"#", "a/b", true}, {"+/+", "a/b", true},
		{"+", "a/b", false}, {"a/+/c", "a//c", true}, {"#", "$SYS/a", false}, {"$SYS/#", "$SYS/a", true},
		{"$share/g/a/+", "a/b", true}, {"a", "a/b", false},
	}
	for _, tt := range tests {
		if got := matchTopic(tt.f, tt.t); got != tt.want {
			t.Errorf("matchTopic(%q, %q) = %v", tt.f, tt.t, got)
		}
	}
}
