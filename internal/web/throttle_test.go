package web

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Failed bearer, basic and login attempts are limited per client address
// with a logged warning; other addresses and valid sessions are unaffected.
func TestFailedAuthIsThrottled(t *testing.T) {
	f := newFixture(t)
	var logs syncBuffer
	s := f.server(func(o *Options) {
		o.Token, o.User, o.Password = testToken, "admin", "pw"
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	s.SetAccess(Access{})
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.auth.throttle.now = func() time.Time { return now }

	req := func(from, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.RemoteAddr = from + ":1234"
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w
	}
	good := []string{"Authorization", "Bearer " + testToken}
	type step = struct {
		name, from, method, path, body string
		hdr                            []string
		want                           int
	}
	var steps []step
	for i := range failBurst {
		steps = append(steps, step{"wrong token " + string(rune('0'+i)), "192.0.2.1", "GET", "/api/stats", "", []string{"Authorization", "Bearer wrong"}, 401})
	}
	steps = append(steps,
		step{"one more wrong token", "192.0.2.1", "GET", "/api/stats", "", []string{"Authorization", "Bearer wrong"}, 429},
		step{"right token while limited", "192.0.2.1", "GET", "/api/stats", "", good, 429},
		step{"right basic while limited", "192.0.2.1", "GET", "/api/stats", "", []string{"Authorization", "Basic " + basic("admin", "pw")}, 429},
		step{"login while limited", "192.0.2.1", "POST", "/api/login", `{"token":"` + testToken + `"}`, nil, 429},
		step{"no credentials: still 401", "192.0.2.1", "GET", "/api/stats", "", nil, 401},
		step{"open path", "192.0.2.1", "GET", "/healthz", "", nil, 200},
		step{"another address", "192.0.2.2", "GET", "/api/stats", "", good, 200},
		step{"an IPv6 client", "[2001:db8::1]", "GET", "/api/stats", "", good, 200},
	)
	for i := range failBurst {
		steps = append(steps, step{"wrong login " + string(rune('0'+i)), "192.0.2.3", "POST", "/api/login", `{"token":"nope"}`, nil, 401})
	}
	steps = append(steps, step{"login after 10 failures", "192.0.2.3", "POST", "/api/login", `{"token":"` + testToken + `"}`, nil, 429})
	for _, st := range steps {
		w := req(st.from, st.method, st.path, st.body, st.hdr...)
		if w.Code != st.want {
			t.Errorf("%s: status %d, want %d: %s", st.name, w.Code, st.want, w.Body.String())
		}
		if w.Code == 429 && (w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"too_many_attempts"`)) {
			t.Errorf("%s: 429 without Retry-After or code: %v %s", st.name, w.Header(), w.Body.String())
		}
	}
	// A session from elsewhere still works from the limited address.
	w := req("192.0.2.2", "POST", "/api/login", `{"token":"`+testToken+`"}`)
	var cookie string
	for _, c := range w.Result().Cookies() {
		if c.Name == cookieName {
			cookie = c.Name + "=" + c.Value
		}
	}
	if w := req("192.0.2.1", "GET", "/api/stats", "", "Cookie", cookie); w.Code != 200 {
		t.Errorf("session cookie from the limited address: %d", w.Code)
	}
	// One attempt is regained after failRefill.
	now = now.Add(failRefill)
	if w := req("192.0.2.1", "GET", "/api/stats", "", good...); w.Code != 200 {
		t.Errorf("right token after %s: %d", failRefill, w.Code)
	}
	if w := req("192.0.2.1", "GET", "/api/stats", "", "Authorization", "Bearer wrong"); w.Code != 401 {
		t.Errorf("wrong token after the wait: %d, want 401", w.Code)
	}
	if w := req("192.0.2.1", "GET", "/api/stats", "", good...); w.Code != 429 {
		t.Errorf("limited again: %d, want 429", w.Code)
	}
	// Warnings: one per address per minute, never the credential.
	out := logs.String()
	if n := strings.Count(out, "failed authentication"); n != 2 {
		t.Errorf("%d warnings, want 2 (one per failing address):\n%s", n, out)
	}
	if !strings.Contains(out, "client=192.0.2.1") || !strings.Contains(out, "client=192.0.2.3") || strings.Contains(out, "wrong") || strings.Contains(out, "nope") {
		t.Errorf("warnings:\n%s", out)
	}
}
