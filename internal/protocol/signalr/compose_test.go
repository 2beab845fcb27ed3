package signalr

import (
	"context"
	"strings"
	"testing"

	"github.com/wsmon/wsmon/internal/protocol"
)

// handshook opens a session and feeds it the handshake response.
func handshook(t *testing.T, a *Adapter) *session {
	t.Helper()
	ps, err := a.Open(context.Background(), &fakeConn{})
	if err != nil {
		t.Fatal(err)
	}
	s := ps.(*session)
	var out protocol.Output
	if err := s.Feed(protocol.Frame{Data: []byte("{}\x1e")}, &out); err != nil || !s.Ready() {
		t.Fatalf("handshake: %v", err)
	}
	return s
}

// TestCompose: a reply is one non-blocking invocation (no invocationId) of
// reply_method, exact bytes; the echo is its arguments read as a received
// invocation's.
func TestCompose(t *testing.T) {
	tests := []struct {
		name, text string
		opts       protocol.Options
		want       string
		user, body string
		text2      bool
		err        string
	}{
		{name: "default", text: `收到 "a"`, want: "{\"type\":1,\"target\":\"SendMessage\",\"arguments\":[\"收到 \\\"a\\\"\"]}\x1e", body: `收到 "a"`, text2: true},
		{name: "reply_method", opts: protocol.Options{"reply_method": "Broadcast"}, text: "hi", want: "{\"type\":1,\"target\":\"Broadcast\",\"arguments\":[\"hi\"]}\x1e", body: "hi", text2: true},
		{name: "json: the sample's user and message", opts: protocol.Options{"reply_format": "json"}, text: `["wsmon-bot","收到"]`,
			want: "{\"type\":1,\"target\":\"SendMessage\",\"arguments\":[\"wsmon-bot\",\"收到\"]}\x1e", user: "wsmon-bot", body: "收到", text2: true},
		{name: "json object", opts: protocol.Options{"reply_format": "json"}, text: ` [{"text":"hi"}]`,
			want: "{\"type\":1,\"target\":\"SendMessage\",\"arguments\":[{\"text\":\"hi\"}]}\x1e", body: `{"text":"hi"}`},
		{name: "json not an array", opts: protocol.Options{"reply_format": "json"}, text: `{"text":"hi"}`, err: "must be a JSON array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := mustNew(t, protocol.Config{Options: tt.opts})
			s := handshook(t, a)
			var out protocol.Output
			echo, err := s.Compose(tt.text, "room", &out)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || len(out.Replies) != 0 {
					t.Fatalf("Compose = %v, want error %q", err, tt.err)
				}
				return
			}
			if err != nil || len(out.Replies) != 1 || out.Replies[0].Binary || string(out.Replies[0].Data) != tt.want {
				t.Fatalf("Compose = %v, %+v; want %q", err, out.Replies, tt.want)
			}
			if echo.User != tt.user || string(echo.Payload) != tt.body || echo.Text != tt.text2 || echo.Reason != "" || echo.Room != "" {
				t.Errorf("echo %+v", echo)
			}
		})
	}
	if _, err := New(protocol.Config{Options: protocol.Options{"reply_method": " "}}); err == nil || !strings.HasPrefix(err.Error(), "options.reply_method: ") {
		t.Errorf("blank reply_method: %v", err)
	}
	if _, err := New(protocol.Config{Options: protocol.Options{"reply_format": "xml"}}); err == nil || !strings.HasPrefix(err.Error(), "options.reply_format: ") {
		t.Errorf("reply_format xml: %v", err)
	}
}
