package capture

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/gorilla/websocket"
)

// TestLocalResourceErrorsNeverGiveUp: a flood that exhausts this process's
// descriptors (or memory) makes dials fail with EMFILE and friends; those
// attempts must not count toward MaxReconnectAttempts, so the target
// reconnects once the flood is gone. A target-side failure still counts.
func TestLocalResourceErrorsNeverGiveUp(t *testing.T) {
	_, u := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c.WriteMessage(websocket.TextMessage, []byte("hello"))
		drain(c)
	})
	const maxAttempts = 3
	tests := []struct {
		name   string
		errno  syscall.Errno
		op     string
		giveUp bool // the failures count: Run gives up
	}{
		{"EMFILE at socket", syscall.EMFILE, "socket", false},
		{"ENFILE at socket", syscall.ENFILE, "socket", false},
		{"ENOMEM at socket", syscall.ENOMEM, "socket", false},
		{"ENOBUFS at connect", syscall.ENOBUFS, "connect", false},
		{"ECONNREFUSED counts", syscall.ECONNREFUSED, "connect", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fail := int32(maxAttempts * 4) // far more than MaxReconnectAttempts
			var dials atomic.Int32
			dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
				if dials.Add(1) <= fail {
					return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError(tt.op, tt.errno)}
				}
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			}
			sink := &recSink{}
			rn := start(t, Options{URL: u, MaxReconnectAttempts: maxAttempts, NetDialContext: dial}, sink)
			if tt.giveUp {
				err := rn.wait(t, patience)
				var ge *GaveUpError
				if !errors.As(err, &ge) || ge.Attempts != maxAttempts {
					t.Fatalf("Run = %v, want GaveUpError after %d", err, maxAttempts)
				}
				return
			}
			waitFor(t, patience, "a session after the local errors", func() bool { return sink.count("frame") >= 1 })
			if n := dials.Load(); n <= fail {
				t.Errorf("dials = %d, want > %d", n, fail)
			}
			st := rn.r.Status()
			if st.State != StateConnected || st.Stopped != "" {
				t.Errorf("status = %+v, want connected", st)
			}
			if !strings.Contains(st.LastError, tt.errno.Error()) {
				t.Errorf("last error = %q, want the local error shown", st.LastError)
			}
		})
	}
}

// TestLocalResourceErrorsDoNotResetFailures: a local error between two
// target failures neither counts nor clears the count.
func TestLocalResourceErrorsDoNotResetFailures(t *testing.T) {
	var dials atomic.Int32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1)%2 == 0 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("socket", syscall.EMFILE)}
		}
		return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	rn := start(t, Options{URL: "ws://127.0.0.1:1/", MaxReconnectAttempts: 3, NetDialContext: dial}, &recSink{})
	err := rn.wait(t, patience)
	var ge *GaveUpError
	if !errors.As(err, &ge) || ge.Attempts != 3 {
		t.Fatalf("Run = %v, want GaveUpError after 3", err)
	}
	if n := dials.Load(); n != 5 {
		t.Errorf("dials = %d, want 5 (3 refused, 2 EMFILE between them)", n)
	}
}
