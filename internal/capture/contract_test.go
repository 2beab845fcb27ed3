package capture

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmon/wsmon/internal/protocol"
)

// serveFrames upgrades, sends frames in order, then reads until the
// client goes; what the client writes is sent on got.
func serveFrames(t *testing.T, frames []string, got chan<- string, upgrades *atomic.Int32) string {
	t.Helper()
	_, u := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		if upgrades != nil {
			upgrades.Add(1)
		}
		for _, f := range frames {
			c.WriteMessage(websocket.TextMessage, []byte(f))
		}
		for {
			_, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			if got != nil {
				select {
				case got <- string(m):
				default:
				}
			}
		}
	})
	return u
}

// TestRefusalStopsTheTarget: a protocol refusal from Feed ends Run with
// the *protocol.Refusal (no reconnect), and Status says why.
func TestRefusalStopsTheTarget(t *testing.T) {
	var upgrades atomic.Int32
	u := serveFrames(t, []string{"chat", "refuse-me"}, nil, &upgrades)
	sink := &recSink{}
	rn := start(t, Options{URL: u, Adapter: &testAdapter{}}, sink)
	err := rn.wait(t, patience)
	var ref *protocol.Refusal
	if !errors.As(err, &ref) || ref.Reason != "the server said no" {
		t.Fatalf("Run = %v, want the refusal", err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := upgrades.Load(); n != 1 {
		t.Errorf("%d connections, want 1 (no reconnect after a refusal)", n)
	}
	st := rn.r.Status()
	if st.State != StateStopped || !strings.Contains(st.Stopped, "the server said no") {
		t.Errorf("status = %+v", st)
	}
	if f := sink.of("frame"); len(f) != 1 || f[0].data != "chat" {
		t.Errorf("frames = %+v, want the chat frame before the refusal", f)
	}
}

// peekAdapter reads two frames in Open (as auto does); they must reach
// Feed afterwards, in order, before later frames.
type peekAdapter struct{ testAdapter }

func (a *peekAdapter) Open(ctx context.Context, c protocol.Conn) (protocol.Session, error) {
	for range 2 {
		if _, err := c.ReadFrame(ctx); err != nil {
			return nil, err
		}
	}
	// A peek that times out leaves the connection usable.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := c.ReadFrame(short); !errors.Is(err, context.DeadlineExceeded) {
		return nil, errors.New("third peek should have timed out")
	}
	return a.testAdapter.Open(ctx, c)
}

func TestFramesPeekedInOpenAreFed(t *testing.T) {
	got := make(chan string, 10)
	u := serveFrames(t, []string{"one", "two"}, got, nil)
	sink := &recSink{}
	ad := &peekAdapter{}
	rn := start(t, Options{URL: u, Adapter: ad}, sink)
	waitFor(t, patience, "two frames", func() bool { return sink.count("frame") == 2 })
	if f := sink.of("frame"); f[0].data != "one" || f[1].data != "two" {
		t.Errorf("frames = %+v", f)
	}
	// The state follows readiness on the Run goroutine, just after the
	// frames are journaled.
	waitFor(t, patience, "connected", func() bool { return rn.r.Status().State == StateConnected })
}

// TestNotReadyTimesOut: a session that never becomes ready is ended after
// the handshake timeout and retried; it is not counted as established.
func TestNotReadyTimesOut(t *testing.T) {
	var upgrades atomic.Int32
	u := serveFrames(t, nil, nil, &upgrades)
	sink := &recSink{}
	rn := start(t, Options{URL: u, Adapter: &testAdapter{expect: "CONNECTED"}, HandshakeTimeout: 100 * time.Millisecond, MaxReconnectAttempts: 2}, sink)
	err := rn.wait(t, patience)
	var gu *GaveUpError
	if !errors.As(err, &gu) || !strings.Contains(err.Error(), "not ready within 100ms") {
		t.Fatalf("Run = %v, want giving up after handshake timeouts", err)
	}
	if n := upgrades.Load(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
}

// TestControlCountedAndKept: control frames are counted per session, not
// recorded, unless KeepControl; send_on_connect goes out once ready.
func TestControlCountedAndKept(t *testing.T) {
	for _, keep := range []bool{false, true} {
		got := make(chan string, 10)
		u := serveFrames(t, []string{"CONNECTED", "app-ping", "chat", "app-ping"}, got, nil)
		sink := &recSink{}
		rn := start(t, Options{URL: u, Adapter: &testAdapter{expect: "CONNECTED", send: []string{"CONNECT"}},
			KeepControl: keep, SendOnConnect: []string{"join"}}, sink)
		want := 1
		if keep {
			want = 4
		}
		waitFor(t, patience, "frames", func() bool { return sink.count("frame") == want })
		var order []string
		for len(order) < 4 {
			select {
			case m := <-got:
				order = append(order, m)
			case <-time.After(patience):
				t.Fatalf("server got %v", order)
			}
		}
		if order[0] != "CONNECT" || !strings.Contains(strings.Join(order, ","), "join") {
			t.Errorf("server got %v: CONNECT first, then send_on_connect once ready", order)
		}
		if st := rn.r.Status(); st.TotalControl != 3 || st.TotalFrames != 1 {
			t.Errorf("keep %v: status control %d frames %d, want 3 and 1", keep, st.TotalControl, st.TotalFrames)
		}
		rn.cancel()
		rn.wait(t, patience)
		end := sink.of("end")
		if len(end) != 1 || end[0].control != 3 {
			t.Errorf("keep %v: session end %+v, want control 3", keep, end)
		}
		for _, f := range sink.of("frame") {
			if (f.data == "chat") == (f.reason == ReasonControl) {
				t.Errorf("keep %v: frame %q reason %q", keep, f.data, f.reason)
			}
		}
	}
}

// closeAdapter gives close codes its own meaning: 3500 is a refusal, 1008
// a reason to reconnect.
type closeAdapter struct{ testAdapter }

func (*closeAdapter) CloseError(code int, reason string) error {
	switch code {
	case 3500:
		return protocol.Refuse("test", "close %d %s", code, reason)
	case websocket.ClosePolicyViolation:
		return errors.New("slow consumer")
	}
	return nil
}

// TestAdapterClassifiesCloseCodes: the adapter's CloseError decides before
// the runner's own close-code rules.
func TestAdapterClassifiesCloseCodes(t *testing.T) {
	for _, tt := range []struct {
		code     int
		stops    bool
		contains string
	}{
		{3500, true, "close 3500 invalid token"},
		{websocket.ClosePolicyViolation, false, "slow consumer"},
		{4403, true, "4403"}, // nil from the adapter: the runner's rule
	} {
		var upgrades atomic.Int32
		_, u := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
			c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
			if err != nil {
				return
			}
			upgrades.Add(1)
			serverClose(c, tt.code, "invalid token")
		})
		rn := start(t, Options{URL: u, Adapter: &closeAdapter{}, MaxReconnectAttempts: 0}, &recSink{})
		if tt.stops {
			err := rn.wait(t, patience)
			if err == nil || !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("code %d: Run = %v, want %q", tt.code, err, tt.contains)
			}
			continue
		}
		waitFor(t, patience, "reconnects", func() bool { return upgrades.Load() >= 3 })
		if st := rn.r.Status(); !strings.Contains(st.LastError, tt.contains) {
			t.Errorf("code %d: last error %q, want %q", tt.code, st.LastError, tt.contains)
		}
	}
}
