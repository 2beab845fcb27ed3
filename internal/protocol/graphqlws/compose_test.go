package graphqlws

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wsmon/wsmon/internal/protocol"
)

const sendMutation = "mutation Send($text: String!, $room: String) { send(text: $text, room: $room) { id } }"

// acked opens a session over subprotocol sub and acknowledges it.
func acked(t *testing.T, a *Adapter, sub string) *session {
	t.Helper()
	ps, err := a.Open(context.Background(), &fakeConn{sub: sub})
	if err != nil {
		t.Fatal(err)
	}
	s := ps.(*session)
	var out protocol.Output
	if err := s.Feed(protocol.Frame{Data: []byte(`{"type":"connection_ack"}`)}, &out); err != nil || !s.Ready() {
		t.Fatalf("ack: %v", err)
	}
	return s
}

// TestCompose: with reply_mutation a reply is one subscribe (start for
// legacy servers) of the mutation with the text (and room) as variables,
// exact bytes, ids "reply-N"; its result, errors and completion are
// control, never records or refusals. Without it Compose cannot send.
func TestCompose(t *testing.T) {
	tests := []struct {
		name, sub, mutation, room, text, want string
	}{
		{name: "transport", sub: SubprotocolTransport, mutation: sendMutation, room: "lobby", text: `收到 "a"`,
			want: `{"id":"reply-1","type":"subscribe","payload":{"query":"mutation Send($text: String!, $room: String) { send(text: $text, room: $room) { id } }","variables":{"room":"lobby","text":"收到 \"a\""}}}`},
		{name: "legacy, no $room", sub: SubprotocolLegacy, mutation: "mutation($text: String!) { send(text: $text) }", room: "lobby", text: "hi",
			want: `{"id":"reply-1","type":"start","payload":{"query":"mutation($text: String!) { send(text: $text) }","variables":{"text":"hi"}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, protocol.Config{Subscribe: []string{sub1}, Options: protocol.Options{"reply_mutation": tt.mutation}})
			s := acked(t, a, tt.sub)
			var out protocol.Output
			echo, err := s.Compose(tt.text, tt.room, &out)
			if err != nil || len(out.Replies) != 1 || string(out.Replies[0].Data) != tt.want {
				t.Fatalf("Compose = %v, %+v;\nwant %s", err, out.Replies, tt.want)
			}
			if string(echo.Payload) != tt.text || !echo.Text {
				t.Errorf("echo %+v", echo)
			}
			next := "next"
			if s.legacy {
				next = "data"
			}
			for _, f := range []string{
				`{"id":"reply-1","type":"` + next + `","payload":{"data":{"send":{"id":"9"}}}}`,
				`{"id":"reply-1","type":"` + next + `","payload":{"errors":[{"message":"denied"}]}}`,
				`{"id":"reply-1","type":"error","payload":[{"message":"Cannot query field"}]}`,
				`{"id":"reply-1","type":"complete"}`,
			} {
				out.Reset()
				if err := s.Feed(protocol.Frame{Data: []byte(f)}, &out); err != nil || len(out.Control) != 1 || len(out.Records) != 0 {
					t.Errorf("%s: %v %+v", f, err, out)
				}
			}
			out.Reset()
			s.Compose("again", "", &out)
			if !strings.HasPrefix(string(out.Replies[0].Data), `{"id":"reply-2",`) {
				t.Errorf("second reply %s", out.Replies[0].Data)
			}
		})
	}

	a := mustNew(t, protocol.Config{Subscribe: []string{sub1}})
	s := acked(t, a, SubprotocolTransport)
	var out protocol.Output
	if _, err := s.Compose("hi", "", &out); !errors.Is(err, protocol.ErrCannotSend) || !strings.Contains(err.Error(), "reply_mutation") || len(out.Replies) != 0 {
		t.Errorf("without reply_mutation: %v", err)
	}
}

func TestReplyMutationOption(t *testing.T) {
	for _, m := range []any{"", "query { a }", "mutation { send(text: \"x\") }", "mutation($text: String!) { a(t: $text) } mutation B { b }", "mutation($text: String!) { a(", 1.0} {
		_, err := New(protocol.Config{Subscribe: []string{sub1}, Options: protocol.Options{"reply_mutation": m}})
		if err == nil || !strings.HasPrefix(err.Error(), "options.reply_mutation: ") {
			t.Errorf("%q: %v", m, err)
		}
	}
}
