package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/wsmon/wsmon/internal/protocol"
)

// testDone returns a channel closed when the test ends, so handlers of
// upgraded (hijacked) connections can return.
func testDone(t *testing.T) <-chan struct{} {
	d := make(chan struct{})
	t.Cleanup(func() { close(d) })
	return d
}

// newServer starts an httptest server on 127.0.0.1 (never another
// interface). tls selects StartTLS.
func newServer(t *testing.T, tls bool, h http.HandlerFunc) (srv *httptest.Server, wsURL string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv = httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // expected TLS handshake failures
	srv.Listener.Close()
	srv.Listener = l
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, "ws" + strings.TrimPrefix(srv.URL, "http")
}

// closedPortURL returns a ws URL on 127.0.0.1 where nothing listens.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "ws://" + addr + "/"
}

// serverClose sends a close frame and waits briefly for the echo.
func serverClose(c *websocket.Conn, code int, reason string) {
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	c.SetReadDeadline(time.Now().Add(time.Second))
	for {
		if _, _, err := c.NextReader(); err != nil {
			break
		}
	}
	c.Close()
}

// drain reads (and so answers pings and sees closes) until the connection
// ends; it returns the close code the client sent, or 0.
func drain(c *websocket.Conn) int {
	for {
		_, _, err := c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			return 0
		}
	}
}

type event struct {
	kind        string // "start", "frame", "end"
	session     int64
	at          time.Time
	url         string
	data        string
	binary      bool
	reason      string
	code        int
	closeReason string
	errText     string
	frames      int64
	control     int64
	protocol    string
}

// recSink records every call. frameDelay simulates a slow journal;
// failFrame makes the n-th Frame call (1-based) fail; dropFrames makes
// every Frame call from the dropFrames-th on report ErrDropped.
type recSink struct {
	frameDelay time.Duration
	failFrame  int
	dropFrames int

	mu     sync.Mutex
	events []event
	nextID int64
	calls  int
}

func (s *recSink) Frame(target string, session int64, at time.Time, f protocol.Frame, reason string) error {
	if s.frameDelay > 0 {
		time.Sleep(s.frameDelay)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.calls == s.failFrame {
		return errors.New("disk full")
	}
	if s.dropFrames > 0 && s.calls >= s.dropFrames {
		return fmt.Errorf("%w: journal full", ErrDropped)
	}
	s.events = append(s.events, event{kind: "frame", session: session, at: at,
		data: string(f.Data), binary: f.Binary, reason: reason})
	return nil
}

func (s *recSink) SessionStart(target, url, protocol string, at time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.events = append(s.events, event{kind: "start", session: s.nextID, at: at, url: url, protocol: protocol})
	return s.nextID, nil
}

func (s *recSink) SessionEnd(target string, session int64, at time.Time, code int, reason, errText string, frames, control int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, event{kind: "end", session: session, at: at, code: code,
		closeReason: reason, errText: errText, frames: frames, control: control})
	return nil
}

func (s *recSink) of(kind string) []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []event
	for _, e := range s.events {
		if e.kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func (s *recSink) count(kind string) int { return len(s.of(kind)) }

// patience is how long a test waits for what should happen soon: so long
// that a slow or busy machine never fails a test, since waitFor and wait
// return as soon as it happens and only a failing test waits it out.
// Timing itself is asserted with lower bounds only (nothing happens
// early), never upper ones.
const patience = 30 * time.Second

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// running is a Runner started in the background.
type running struct {
	r      *Runner
	cancel context.CancelFunc
	errc   chan error
}

// start runs a Runner for opts until the test ends. Fast defaults are
// filled in for the test.
func start(t *testing.T, opts Options, sink Sink) *running {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "test"
	}
	if opts.ReconnectInterval == 0 {
		opts.ReconnectInterval = 5 * time.Millisecond
	}
	if opts.ReconnectMax == 0 {
		opts.ReconnectMax = 20 * time.Millisecond
	}
	if opts.HandshakeTimeout == 0 {
		opts.HandshakeTimeout = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = testLogger(t, nil)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rn := &running{r: NewRunner(opts, sink), cancel: cancel, errc: make(chan error, 1)}
	go func() { rn.errc <- rn.r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-rn.errc:
		case <-time.After(patience):
			t.Error("Run did not return after cancel")
		}
	})
	return rn
}

// wait returns Run's result, failing the test after d.
func (rn *running) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-rn.errc:
		rn.errc <- err // for the cleanup
		return err
	case <-time.After(d):
		t.Fatalf("Run did not return within %s", d)
		return nil
	}
}

// stop cancels the runner and returns Run's result.
func (rn *running) stop(t *testing.T) error {
	t.Helper()
	rn.cancel()
	return rn.wait(t, patience)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testLogger logs to buf when given, else to t.Log when -v.
func testLogger(t *testing.T, buf *syncBuffer) *slog.Logger {
	if buf != nil {
		return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{t}, nil))
	}
	return nil
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// testAdapter is a scriptable protocol adapter.
type testAdapter struct {
	subprotocols []string
	send         []string // written in order on every Open
	expect       string   // if set, the session is ready only once this frame arrives (control)
	hbEvery      time.Duration
	hbPayload    []byte

	handshakes atomic.Int32
}

func (a *testAdapter) Name() string { return "test" }

func (a *testAdapter) Prepare(_ context.Context, d *protocol.Dial) error {
	d.Subprotocols = append(d.Subprotocols, a.subprotocols...)
	return nil
}

func (a *testAdapter) Open(ctx context.Context, c protocol.Conn) (protocol.Session, error) {
	a.handshakes.Add(1)
	for _, m := range a.send {
		if err := c.Write(ctx, protocol.Frame{Data: []byte(m)}); err != nil {
			return nil, err
		}
	}
	ts := &testSession{a: a}
	ts.ready.Store(a.expect == "")
	return ts, nil
}

func (a *testAdapter) Decode(f protocol.Frame) []protocol.Event { return nil }

// testSession: "app-ping" is answered with "app-pong" and hidden;
// "refuse-me" is a refusal; the expected frame makes it ready.
type testSession struct {
	a     *testAdapter
	ready atomic.Bool
}

func (s *testSession) Protocol() string { return "test" }
func (s *testSession) Ready() bool      { return s.ready.Load() }

func (s *testSession) Feed(f protocol.Frame, out *protocol.Output) error {
	switch {
	case !s.ready.Load() && string(f.Data) == s.a.expect:
		s.ready.Store(true)
		out.Ctrl(f.Binary, f.Data)
	case string(f.Data) == "app-ping":
		out.Reply(f.Binary, []byte("app-pong"))
		out.Ctrl(f.Binary, f.Data)
	case string(f.Data) == "refuse-me":
		return protocol.Refuse("test", "the server said no")
	default:
		out.Record(f.Binary, f.Data)
	}
	return nil
}

func (s *testSession) Heartbeat() time.Duration { return s.a.hbEvery }

func (s *testSession) Tick(_ time.Time, out *protocol.Output) error {
	out.Reply(!utf8.Valid(s.a.hbPayload), s.a.hbPayload)
	return nil
}
