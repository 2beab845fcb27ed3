package capture

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// attempts collects what Options.OnAttempt receives.
type attempts struct {
	mu  sync.Mutex
	got []Attempt
}

func (a *attempts) add(x Attempt) { a.mu.Lock(); a.got = append(a.got, x); a.mu.Unlock() }
func (a *attempts) all() []Attempt {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Attempt(nil), a.got...)
}

// TestFailedAttemptsAreReported: every attempt that opened no session
// reaches OnAttempt with its time, error, stable code and HTTP status, the
// last one before a refusal marked final; the status carries the code.
func TestFailedAttemptsAreReported(t *testing.T) {
	_, http500 := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	_, http401 := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized)
	})
	tests := []struct {
		name       string
		url        string
		max        int
		wantN      int
		code       string
		httpStatus int
		final      bool
		runCode    string
	}{
		{"closed port", closedPortURL(t), 3, 3, CodeConnectionRefused, 0, false, CodeGaveUp},
		{"HTTP 500", http500, 2, 2, CodeUpgradeRejected, 500, false, CodeGaveUp},
		{"HTTP 401", http401, 5, 1, CodeUnauthorized, 401, true, CodeUnauthorized},
		{"unknown host", "ws://wsmon-no-such-host.invalid/ws", 1, 1, CodeHostNotFound, 0, false, CodeGaveUp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got attempts
			before := time.Now()
			rn := start(t, Options{URL: tt.url, MaxReconnectAttempts: tt.max, OnAttempt: got.add}, &recSink{})
			err := rn.wait(t, patience)
			if err == nil {
				t.Fatal("Run returned nil")
			}
			if c := ErrorCode(err); c != tt.runCode {
				t.Errorf("ErrorCode(%v) = %q, want %q", err, c, tt.runCode)
			}
			if st := rn.r.Status(); st.LastErrorCode != tt.runCode || !st.NextAttemptAt.IsZero() {
				t.Errorf("status code %q next %v, want %q and no next attempt", st.LastErrorCode, st.NextAttemptAt, tt.runCode)
			}
			as := got.all()
			if len(as) != tt.wantN {
				t.Fatalf("%d attempts reported, want %d: %+v", len(as), tt.wantN, as)
			}
			for i, a := range as {
				if a.Code != tt.code || a.HTTPStatus != tt.httpStatus || a.Error == "" || a.At.Before(before) || a.Reason != ReasonDial {
					t.Errorf("attempt %d = %+v, want code %q status %d", i, a, tt.code, tt.httpStatus)
				}
				if a.Final != (tt.final && i == len(as)-1) {
					t.Errorf("attempt %d final = %v", i, a.Final)
				}
				if i > 0 && !a.At.After(as[i-1].At) {
					t.Errorf("attempt %d at %v, not after the one before", i, a.At)
				}
			}
		})
	}
}

// TestSessionsAreNotAttempts: a connection that opened a session is
// recorded by the sink, not reported as a failed attempt.
func TestSessionsAreNotAttempts(t *testing.T) {
	_, u := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		serverClose(c, 1000, "bye")
	})
	var got attempts
	sink := &recSink{}
	start(t, Options{URL: u, OnAttempt: got.add}, sink)
	waitFor(t, patience, "two sessions", func() bool { return sink.count("end") >= 2 })
	if as := got.all(); len(as) != 0 {
		t.Errorf("sessions reported as failed attempts: %+v", as)
	}
}

// TestNextAttemptAtWhileWaiting: while a runner waits to reconnect, its
// status says when the next attempt is due, within the backoff's bounds.
func TestNextAttemptAtWhileWaiting(t *testing.T) {
	for _, fixed := range []bool{false, true} {
		rn := start(t, Options{URL: closedPortURL(t), ReconnectInterval: 10 * time.Second, ReconnectMax: 60 * time.Second, FixedInterval: fixed}, &recSink{})
		waitFor(t, patience, "disconnected", func() bool { return rn.r.Status().State == StateDisconnected })
		st := rn.r.Status()
		wait := time.Until(st.NextAttemptAt)
		// At most the interval away; at least half of it (equal jitter,
		// or the fixed interval), less what the machine took to get here.
		if wait < 4*time.Second || wait > 10*time.Second {
			t.Errorf("fixed=%v: next attempt in %v, want within [4s, 10s]", fixed, wait)
		}
		if st.LastErrorCode != CodeConnectionRefused || !strings.Contains(st.LastError, "refused") {
			t.Errorf("fixed=%v: last error %q code %q", fixed, st.LastError, st.LastErrorCode)
		}
		rn.stop(t)
	}
}

// TestFixedIntervalDoesNotGrow: reconnect_backoff false waits the interval
// before every attempt (the n-th attempt does not wait longer).
func TestFixedIntervalDoesNotGrow(t *testing.T) {
	b := backoff{base: time.Second, max: time.Minute, stableAfter: time.Minute, fixed: true}
	for i := range 10 {
		if d := b.next(false); d != time.Second {
			t.Fatalf("delay %d = %v, want 1s", i, d)
		}
	}
	if d := b.next(true); d < 30*time.Second {
		t.Errorf("a slow-down request waited %v, want the cap's range", d)
	}
	g := backoff{base: time.Second, max: time.Minute, stableAfter: time.Minute, randN: func(n int64) int64 { return n - 1 }}
	var last time.Duration
	for range 5 {
		last = g.next(false)
	}
	if last != 16*time.Second {
		t.Errorf("growing backoff's 5th delay = %v, want 16s (the default grows)", last)
	}
}

func TestErrorCodeOfStops(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&StopError{HTTPStatus: 403}, CodeForbidden},
		{&StopError{Code: 4401}, CodeRefused},
		{&GaveUpError{Attempts: 2, Last: errors.New("x")}, CodeGaveUp},
		{errors.New("capture: bad URL"), CodeConfig},
		{nil, ""},
	}
	for _, c := range cases {
		if got := ErrorCode(c.err); got != c.want {
			t.Errorf("ErrorCode(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
