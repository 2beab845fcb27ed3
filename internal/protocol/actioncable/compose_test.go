package actioncable

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wsmon/wsmon/internal/protocol"
)

// confirmed opens a session, welcomes it and confirms every subscription.
func confirmed(t *testing.T, a *Adapter) *session {
	t.Helper()
	ps, err := a.Open(context.Background(), &fakeConn{})
	if err != nil {
		t.Fatal(err)
	}
	s := ps.(*session)
	frames := []string{`{"type":"welcome"}`}
	for _, id := range a.identifiers {
		b, _ := json.Marshal(map[string]string{"type": "confirm_subscription", "identifier": id})
		frames = append(frames, string(b))
	}
	for _, f := range frames {
		var out protocol.Output
		if err := s.Feed(protocol.Frame{Data: []byte(f)}, &out); err != nil {
			t.Fatal(err)
		}
	}
	if !s.Ready() {
		t.Fatal("not ready")
	}
	return s
}

// TestCompose: a reply is one command (exact bytes) on the subscription
// of the answered message's room, else the first: perform (command
// "message", data a JSON string with the action) or AnyCable's whisper
// (data an object). The echo is the data document.
func TestCompose(t *testing.T) {
	lobby := `{"channel":"ChatChannel","room":"lobby"}`
	side := `{"channel":"ChatChannel","room":"side"}`
	tests := []struct {
		name, room, text string
		sub              []string
		opts             protocol.Options
		want             string
		echoRoom, doc    string
		err              string
	}{
		{name: "perform speak", sub: []string{lobby, side}, room: "side", text: `收到 "a"`,
			want:     `{"command":"message","identifier":"{\"channel\":\"ChatChannel\",\"room\":\"side\"}","data":"{\"action\":\"speak\",\"message\":\"收到 \\\"a\\\"\"}"}`,
			echoRoom: "side", doc: `{"action":"speak","message":"收到 \"a\""}`},
		{name: "room from content: first", sub: []string{lobby, side}, room: "大厅", text: "hi",
			want:     `{"command":"message","identifier":"{\"channel\":\"ChatChannel\",\"room\":\"lobby\"}","data":"{\"action\":\"speak\",\"message\":\"hi\"}"}`,
			echoRoom: "lobby", doc: `{"action":"speak","message":"hi"}`},
		{name: "reply_action and json", sub: []string{"ChatChannel"}, opts: protocol.Options{"reply_action": "receive", "reply_format": "json"}, text: ` {"user":"bot","body":"hi"} `,
			want:     `{"command":"message","identifier":"{\"channel\":\"ChatChannel\"}","data":"{\"action\":\"receive\",\"user\":\"bot\",\"body\":\"hi\"}"}`,
			echoRoom: "ChatChannel", doc: `{"action":"receive","user":"bot","body":"hi"}`},
		{name: "json empty object", sub: []string{"ChatChannel"}, opts: protocol.Options{"reply_format": "json"}, text: `{ }`,
			want:     `{"command":"message","identifier":"{\"channel\":\"ChatChannel\"}","data":"{\"action\":\"speak\"}"}`,
			echoRoom: "ChatChannel", doc: `{"action":"speak"}`},
		{name: "whisper", sub: []string{`{"channel":"$pubsub","stream_name":"chat"}`}, opts: protocol.Options{"reply_command": "whisper"}, text: "hi",
			want:     `{"command":"whisper","identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"chat\"}","data":{"message":"hi"}}`,
			echoRoom: "chat", doc: `{"message":"hi"}`},
		{name: "json sets action", sub: []string{"ChatChannel"}, opts: protocol.Options{"reply_format": "json"}, text: `{"action":"x"}`, err: `must not set "action"`},
		{name: "json not an object", sub: []string{"ChatChannel"}, opts: protocol.Options{"reply_format": "json"}, text: `["x"]`, err: "must be a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, protocol.Config{Subscribe: tt.sub, Options: tt.opts})
			s := confirmed(t, a)
			var out protocol.Output
			echo, err := s.Compose(tt.text, tt.room, &out)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || len(out.Replies) != 0 {
					t.Fatalf("Compose = %v, want error %q", err, tt.err)
				}
				return
			}
			if err != nil || len(out.Replies) != 1 || out.Replies[0].Binary || string(out.Replies[0].Data) != tt.want {
				t.Fatalf("Compose = %v, %+v;\nwant %s", err, out.Replies, tt.want)
			}
			if !json.Valid(out.Replies[0].Data) || echo.Room != tt.echoRoom || string(echo.Payload) != tt.doc || echo.Text {
				t.Errorf("echo %+v", echo)
			}
			// A broadcast of the document decodes to the echo.
			id, _ := json.Marshal(a.identifiers[0])
			for _, c := range a.identifiers {
				if roomOf(c) == tt.echoRoom {
					id, _ = json.Marshal(c)
				}
			}
			ev := a.Decode(protocol.Frame{Data: []byte(`{"identifier":` + string(id) + `,"message":` + tt.doc + `}`)})[0]
			if ev.Room != echo.Room || string(ev.Payload) != string(echo.Payload) || ev.Text != echo.Text {
				t.Errorf("broadcast decodes to %+v, echo %+v", ev, echo)
			}
		})
	}
}

func TestReplyOptions(t *testing.T) {
	for _, o := range []protocol.Options{{"reply_action": " "}, {"reply_command": "perform"}, {"reply_format": "yaml"}} {
		_, err := New(protocol.Config{Subscribe: []string{"ChatChannel"}, Options: o})
		if err == nil || !strings.HasPrefix(err.Error(), "options.reply_") {
			t.Errorf("%v: %v", o, err)
		}
	}
}
