package registry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
)

// fakeConn is a connection whose server accepted sub and speaks first
// with frames (then stays silent).
type fakeConn struct {
	sub    string
	frames []protocol.Frame
	wrote  []protocol.Frame
}

func (c *fakeConn) Write(_ context.Context, f protocol.Frame) error {
	c.wrote = append(c.wrote, f)
	return nil
}

func (c *fakeConn) ReadFrame(ctx context.Context) (protocol.Frame, error) {
	if len(c.frames) > 0 {
		f := c.frames[0]
		c.frames = c.frames[1:]
		return f, nil
	}
	<-ctx.Done()
	return protocol.Frame{}, ctx.Err()
}

func (c *fakeConn) Subprotocol() string { return c.sub }

// TestAutoPicks: auto decides from the URL path, the accepted
// subprotocol, the first frame, or falls back to raw, and says why.
func TestAutoPicks(t *testing.T) {
	tests := []struct {
		name      string
		url       string
		subscribe []string
		conn      *fakeConn
		want      string // protocol of the session
		why       string
	}{
		{"socket.io path", "ws://h/socket.io/", nil, &fakeConn{}, "socketio", "/socket.io/"},
		{"centrifugo path", "ws://h/connection/websocket", []string{"chat"}, &fakeConn{}, "centrifugo", "/connection/websocket"},
		{"mqtt subprotocol", "ws://h/ws", []string{"chat/#"}, &fakeConn{sub: "mqtt"}, "mqtt", "subprotocol mqtt"},
		{"stomp subprotocol", "ws://h/ws", []string{"/topic/chat"}, &fakeConn{sub: "v12.stomp"}, "stomp", "subprotocol v12.stomp"},
		{"graphql subprotocol", "ws://h/api/subscriptions", []string{"subscription { m { text } }"}, &fakeConn{sub: "graphql-transport-ws"}, "graphql-ws", "subprotocol graphql-transport-ws"},
		{"nats first frame", "ws://h/", []string{"chat.>"}, &fakeConn{frames: []protocol.Frame{{Binary: true, Data: []byte("INFO {\"server_id\":\"x\",\"max_payload\":1048576}\r\n")}}}, "nats", "first frame"},
		{"engine.io first frame", "ws://h/ws", nil, &fakeConn{frames: []protocol.Frame{{Data: []byte(`0{"sid":"a","upgrades":[],"pingInterval":25000,"pingTimeout":20000}`)}}}, "socketio", "first frame"},
		{"json chat is raw", "ws://h/ws/chat", nil, &fakeConn{frames: []protocol.Frame{{Data: []byte(`{"user":"a","text":"INFO {"}`)}}}, "raw", "matched no protocol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, why, err := New(Auto, protocol.Config{Target: "t", URL: tt.url, Subscribe: tt.subscribe})
			if err != nil {
				t.Fatal(err)
			}
			s, err := a.Open(context.Background(), tt.conn)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if s.Protocol() != tt.want {
				t.Fatalf("picked %s, want %s", s.Protocol(), tt.want)
			}
			if w, ok := s.(interface{ Why() string }); ok {
				why = w.Why()
			}
			if !strings.Contains(why, tt.why) {
				t.Errorf("why = %q, want it to mention %q", why, tt.why)
			}
		})
	}
}

// TestAutoQuietServer: a server that says nothing is raw after SniffWait;
// with subscribe set, that is a refusal asking for protocol.
func TestAutoQuietServer(t *testing.T) {
	if testing.Short() {
		t.Skip("waits SniffWait")
	}
	a, _, err := New(Auto, protocol.Config{URL: "ws://h/ws"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s, err := a.Open(context.Background(), &fakeConn{})
	if err != nil || s.Protocol() != "raw" || time.Since(start) < SniffWait {
		t.Fatalf("Open = %v, %v after %v", s, err, time.Since(start))
	}
	a, _, _ = New(Auto, protocol.Config{URL: "ws://h/ws", Subscribe: []string{"x"}})
	_, err = a.Open(context.Background(), &fakeConn{})
	var ref *protocol.Refusal
	if !errors.As(err, &ref) || !strings.Contains(err.Error(), "set protocol") {
		t.Fatalf("Open = %v, want a refusal asking for protocol", err)
	}
}

// TestForSession: records of a session decode with the adapter its
// protocol names.
func TestForSession(t *testing.T) {
	a, _, _ := New(Auto, protocol.Config{URL: "ws://h/ws", Subscribe: []string{"chat.>"}})
	if got := ForSession(a, "raw").Name(); got != "raw" {
		t.Errorf("ForSession(raw) = %s", got)
	}
	if got := ForSession(a, "nats").Name(); got != "nats" {
		t.Errorf("ForSession(nats) = %s", got)
	}
	if got := ForSession(a, "").Name(); got != Auto {
		t.Errorf("ForSession(\"\") = %s", got)
	}
}

func TestUnknownProtocol(t *testing.T) {
	_, _, err := New("socketioo", protocol.Config{})
	if err == nil || !strings.HasPrefix(err.Error(), "protocol: unknown protocol") || !strings.Contains(err.Error(), "socketio") {
		t.Errorf("err = %v", err)
	}
}

func TestPathMatchWholeSegments(t *testing.T) {
	for path, want := range map[string]string{
		"/socket.io/": "socketio", "/socket.io": "socketio", "/app/socket.io/x": "socketio",
		"/cable": "actioncable", "/cables": "", "/mqtt": "mqtt", "/mqttchat": "", "/ws/chat": "",
		"/connection/websocket": "centrifugo", "/connection/websockets": "",
	} {
		s, _, ok := pathMatch(path)
		if got := s.Name; !ok && want != "" || ok && got != want {
			t.Errorf("pathMatch(%q) = %q %v, want %q", path, got, ok, want)
		}
	}
}

// TestAutoCompose: a session auto picked sends replies as its protocol
// does (protocol.Composer), a raw one included.
func TestAutoCompose(t *testing.T) {
	a, _, err := New(Auto, protocol.Config{Target: "t", URL: "ws://h/", Subscribe: []string{"chat.room"}})
	if err != nil {
		t.Fatal(err)
	}
	conn := &fakeConn{frames: []protocol.Frame{{Binary: true, Data: []byte("INFO {\"server_id\":\"x\"}\r\n")}}}
	s, err := a.Open(context.Background(), conn)
	if err != nil || s.Protocol() != "nats" {
		t.Fatalf("Open = %v, %v", s, err)
	}
	var out protocol.Output
	for _, f := range []string{"INFO {\"server_id\":\"x\"}\r\n", "PONG\r\n"} {
		if err := s.Feed(protocol.Frame{Binary: true, Data: []byte(f)}, &out); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	c, ok := s.(protocol.Composer)
	if !ok {
		t.Fatal("auto's session is no Composer")
	}
	echo, err := c.Compose("hi", "", &out)
	if err != nil || len(out.Replies) != 1 || string(out.Replies[0].Data) != "PUB chat.room 2\r\nhi\r\n" || echo.Room != "chat.room" {
		t.Fatalf("Compose = %+v, %v, %+v", echo, err, out.Replies)
	}
	if _, err := (picked{Session: quietSession{}}).Compose("hi", "", &out); !errors.Is(err, protocol.ErrCannotSend) {
		t.Errorf("a session that cannot send: %v", err)
	}
}

// quietSession is a protocol.Session without Compose.
type quietSession struct{}

func (quietSession) Protocol() string                            { return "quiet" }
func (quietSession) Feed(protocol.Frame, *protocol.Output) error { return nil }
func (quietSession) Ready() bool                                 { return true }
func (quietSession) Heartbeat() time.Duration                    { return 0 }
func (quietSession) Tick(time.Time, *protocol.Output) error      { return nil }
