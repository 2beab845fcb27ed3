package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/webui"
)

const testToken = "s3cret-token"

type endpoint struct {
	method, path, body string
	status             int // with valid credentials
}

// apiEndpoints lists one valid request per API route.
func apiEndpoints(f *fixture) []endpoint {
	id := f.msgs[len(f.msgs)/2].ID
	return []endpoint{
		{"GET", "/api/stats", "", 200},
		{"GET", "/api/messages", "", 200},
		{"GET", fmt.Sprintf("/api/messages/%d", id), "", 200},
		{"GET", fmt.Sprintf("/api/messages/%d/context", id), "", 200},
		{"GET", "/api/search?q=hello", "", 200},
		{"GET", "/api/search?keyword=hello", "", 200},
		{"GET", "/api/users/alice", "", 200},
		{"GET", "/api/sessions", "", 200},
		{"GET", "/api/live", "", 200},
		{"GET", "/api/openapi.json", "", 200},
		{"GET", "/api/no-such-endpoint", "", 404},
		{"GET", "/api/messages?limit=0", "", 400},
	}
}

// send does one request against a live server; SSE bodies are not read.
func send(t *testing.T, c *http.Client, base string, e endpoint, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var body io.Reader
	if e.body != "" {
		body = strings.NewReader(e.body)
	}
	req, err := http.NewRequestWithContext(ctx, e.method, base+e.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", e.method, e.path, err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp, nil // a stream: closing the body ends it
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", e.method, e.path, err)
	}
	return resp, b
}

func expectUnauthorized(t *testing.T, what string, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("%s: status %d, want 401", what, resp.StatusCode)
		return
	}
	var e apiErr
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != "unauthorized" {
		t.Errorf("%s: body %s, want a JSON unauthorized error", what, body)
	}
}

func TestAuthBearerToken(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(unthrottled(f.server(func(o *Options) { o.Token = testToken; o.UI = webui.Handler() })))
	defer srv.Close()
	c := srv.Client()
	for _, e := range apiEndpoints(f) {
		what := e.method + " " + e.path
		resp, body := send(t, c, srv.URL, e)
		expectUnauthorized(t, what+" without credentials", resp, body)
		if resp.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s: WWW-Authenticate %q without basic auth configured", what, resp.Header.Get("WWW-Authenticate"))
		}
		for _, bad := range [][]string{
			{"Authorization", "Bearer wrong"},
			{"Authorization", "Bearer " + testToken + "x"},
			{"Authorization", "Bearer "},
			{"Authorization", testToken},
			{"Authorization", "Basic " + basic("admin", testToken)},
			{"Cookie", cookieName + "=" + testToken},
		} {
			resp, body := send(t, c, srv.URL, e, bad...)
			expectUnauthorized(t, what+" with "+bad[1], resp, body)
		}
		// The scheme is case-insensitive (RFC 9110 §11.1).
		for _, scheme := range []string{"Bearer ", "bearer ", "BEARER ", "Bearer  "} {
			resp, _ = send(t, c, srv.URL, e, "Authorization", scheme+testToken)
			if resp.StatusCode != e.status {
				t.Errorf("%s with %q + the token: status %d, want %d", what, scheme, resp.StatusCode, e.status)
			}
		}
	}
	// Open without credentials: what the login form needs.
	for _, e := range []endpoint{{"GET", "/api/ui-config", "", 200}, {"GET", "/healthz", "", 200}, {"GET", "/", "", 0}} {
		resp, body := send(t, c, srv.URL, e)
		if resp.StatusCode == http.StatusUnauthorized || (e.status != 0 && resp.StatusCode != e.status) {
			t.Errorf("%s without credentials: status %d %s", e.path, resp.StatusCode, body)
		}
	}
	var cfg struct {
		Auth bool `json:"auth"`
	}
	_, body := send(t, c, srv.URL, endpoint{"GET", "/api/ui-config", "", 200})
	if err := json.Unmarshal(body, &cfg); err != nil || !cfg.Auth {
		t.Errorf("ui-config %s: want auth true", body)
	}
}

// unthrottled lifts the limit on failed attempts, for tests that fail on
// purpose many times from one address.
func unthrottled(s *Server) *Server {
	s.auth.throttle.burst = 1e9
	return s
}

func basic(user, pass string) string {
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func TestAuthBasic(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(unthrottled(f.server(func(o *Options) { o.User = "admin"; o.Password = "pa:ss wörd" })))
	defer srv.Close()
	c := srv.Client()
	for _, e := range apiEndpoints(f) {
		what := e.method + " " + e.path
		resp, body := send(t, c, srv.URL, e)
		expectUnauthorized(t, what+" without credentials", resp, body)
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Basic realm="wsmon"`) {
			t.Errorf("%s: WWW-Authenticate %q", what, resp.Header.Get("WWW-Authenticate"))
		}
		for _, bad := range []string{basic("admin", "wrong"), basic("Admin", "pa:ss wörd"), basic("admin", ""), basic("", "")} {
			resp, body := send(t, c, srv.URL, e, "Authorization", "Basic "+bad)
			expectUnauthorized(t, what+" with bad basic auth", resp, body)
		}
		resp, body = send(t, c, srv.URL, e, "Authorization", "Bearer pa:ss wörd")
		expectUnauthorized(t, what+" with a bearer token but none configured", resp, body)
		resp, _ = send(t, c, srv.URL, e, "Authorization", "Basic "+basic("admin", "pa:ss wörd"))
		if resp.StatusCode != e.status {
			t.Errorf("%s with basic auth: status %d, want %d", what, resp.StatusCode, e.status)
		}
	}
}

func TestLoginCookie(t *testing.T) {
	f := newFixture(t)
	h := f.server(func(o *Options) { o.Token = testToken; o.User = "admin"; o.Password = "pw" })
	srv := httptest.NewServer(h)
	defer srv.Close()
	other := httptest.NewServer(f.server(func(o *Options) { o.Token = testToken }))
	defer other.Close()

	for _, c := range []struct {
		name, body string
		status     int
	}{
		{"token", `{"token":"` + testToken + `"}`, 200},
		{"user and password", `{"user":"admin","password":"pw"}`, 200},
		{"wrong token", `{"token":"nope"}`, 401},
		{"wrong password", `{"user":"admin","password":"nope"}`, 401},
		{"empty object", `{}`, 401},
		{"empty token", `{"token":""}`, 401},
		{"not JSON", `token=` + testToken, 400},
		{"empty body", ``, 400},
		// Only JSON: a form or text/plain body is what another site can
		// post without a preflight (login CSRF).
		{"form body", `token=` + testToken, 415},
		{"text/plain JSON", `{"token":"` + testToken + `"}`, 415},
		{"no content type", `{"token":"` + testToken + `"}`, 415},
		{"JSON from another site", `{"token":"` + testToken + `"}`, 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			jar, _ := cookiejar.New(nil)
			cl := &http.Client{Jar: jar, Transport: srv.Client().Transport}
			hdr := []string{"Content-Type", "application/json"}
			switch c.name {
			case "form body":
				hdr = []string{"Content-Type", "application/x-www-form-urlencoded"}
			case "text/plain JSON":
				hdr = []string{"Content-Type", "text/plain"}
			case "no content type":
				hdr = nil
			case "JSON from another site":
				hdr = append(hdr, "Origin", "https://evil.example")
			}
			resp, body := send(t, cl, srv.URL, endpoint{method: "POST", path: "/api/login", body: c.body}, hdr...)
			if resp.StatusCode != c.status {
				t.Fatalf("login: status %d %s, want %d", resp.StatusCode, body, c.status)
			}
			var session *http.Cookie
			for _, ck := range resp.Cookies() {
				if ck.Name == cookieName {
					session = ck
				}
			}
			if c.status != 200 {
				if session != nil {
					t.Errorf("failed login set a session cookie")
				}
				var e apiErr
				if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
					t.Errorf("failed login body %s", body)
				}
				if c.status == 400 && (e.Error.Code != "bad_param" || !strings.HasPrefix(e.Error.Message, "body: ")) {
					t.Errorf("bad login body: %+v", e.Error)
				}
				// Wrong credentials have their own code, which the dashboard
				// translates (not "authentication required").
				if c.status == 401 && e.Error.Code != "bad_credentials" {
					t.Errorf("failed login code %q, want bad_credentials", e.Error.Code)
				}
				return
			}
			if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/" || session.Value == "" ||
				session.MaxAge != int(sessionTTL.Seconds()) || session.Secure {
				t.Fatalf("session cookie %+v, want HttpOnly SameSite=Strict Path=/ Max-Age=%v, not Secure over plain HTTP", session, sessionTTL)
			}
			if strings.Contains(session.Value, testToken) || strings.Contains(session.Value, "pw") {
				t.Errorf("cookie carries the credential")
			}
			for _, e := range apiEndpoints(f) {
				resp, _ := send(t, cl, srv.URL, e)
				if resp.StatusCode != e.status {
					t.Errorf("%s with the session cookie: status %d, want %d", e.path, resp.StatusCode, e.status)
				}
			}
			// The cookie is tied to this server process (random key).
			resp, body = send(t, srv.Client(), other.URL, endpoint{"GET", "/api/stats", "", 200}, "Cookie", cookieName+"="+session.Value)
			expectUnauthorized(t, "another server's cookie", resp, body)
			last := "a"
			if strings.HasSuffix(session.Value, "a") {
				last = "b"
			}
			resp, body = send(t, srv.Client(), srv.URL, endpoint{"GET", "/api/stats", "", 200}, "Cookie", cookieName+"="+session.Value[:len(session.Value)-1]+last)
			expectUnauthorized(t, "tampered cookie", resp, body)
		})
	}
}

func TestNoAuthConfigured(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.server(nil))
	defer srv.Close()
	for _, e := range apiEndpoints(f) {
		resp, _ := send(t, srv.Client(), srv.URL, e)
		if resp.StatusCode != e.status {
			t.Errorf("%s: status %d, want %d", e.path, resp.StatusCode, e.status)
		}
	}
	_, body := send(t, srv.Client(), srv.URL, endpoint{"GET", "/api/ui-config", "", 200})
	var cfg map[string]any
	if err := json.Unmarshal(body, &cfg); err != nil || cfg["auth"] != false || cfg["version"] != "test" ||
		cfg["time_zone"] != fixtureZoneName || cfg["max_messages_in_memory"] != float64(1000) || cfg["web_refresh_interval"] != float64(1) ||
		fmt.Sprint(cfg["analyses"]) != "[]" {
		t.Errorf("ui-config %s", body)
	}
	_, body = send(t, srv.Client(), srv.URL, endpoint{"GET", "/healthz", "", 200})
	if strings.TrimSpace(string(body)) != `{"status":"ok"}` {
		t.Errorf("healthz %s", body)
	}
}

// Paths that are not in canonical form, or that spell /api/ differently,
// never reach an API handler without credentials.
func TestAuthOddPaths(t *testing.T) {
	f := newFixture(t)
	h := f.server(func(o *Options) { o.Token = testToken; o.UI = webui.Handler() })
	for _, p := range []string{"/x/../api/stats", "//api/stats", "/api/./stats", "/%61pi/stats", "/api//stats",
		"/healthz/../api/stats", "/api/ui-config/../stats", "/api/login/../messages", "/API/stats"} {
		r := httptest.NewRequest("GET", "http://127.0.0.1"+p, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusOK && strings.Contains(w.Body.String(), "total_messages") {
			t.Errorf("GET %s without credentials served the API: %d %.100s", p, w.Code, w.Body.String())
		}
		if w.Code >= 300 && w.Code < 400 {
			// Follow the redirect once: the canonical path needs credentials.
			loc := w.Header().Get("Location")
			w2 := do(t, h, "GET", loc, nil)
			if w2.Code != http.StatusUnauthorized && w2.Code != http.StatusNotFound && !strings.HasPrefix(w2.Header().Get("Content-Type"), "text/html") {
				t.Errorf("GET %s -> %s: %d", p, loc, w2.Code)
			}
		}
	}
}

// A loopback bind answers only requests that name a loopback host or an
// allowed one: a DNS-rebinding page (Host: evil.example) reads nothing.
func TestHostCheck(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name   string
		access Access
		host   string
		want   int
	}{
		{"loopback name", Access{LoopbackBind: true}, "localhost:8001", 200},
		{"loopback name, no port", Access{LoopbackBind: true}, "LOCALHOST", 200},
		{"sub.localhost", Access{LoopbackBind: true}, "app.localhost:8001", 200},
		{"127.0.0.1", Access{LoopbackBind: true}, "127.0.0.1:8001", 200},
		{"127.1.2.3", Access{LoopbackBind: true}, "127.1.2.3", 200},
		{"[::1]", Access{LoopbackBind: true}, "[::1]:8001", 200},
		{"rebinding", Access{LoopbackBind: true}, "evil.example:8001", 421},
		{"rebinding, no port", Access{LoopbackBind: true}, "evil.example", 421},
		{"localhost lookalike", Access{LoopbackBind: true}, "localhost.evil.example", 421},
		{"other IP", Access{LoopbackBind: true}, "192.168.1.5:8001", 421},
		{"empty Host", Access{LoopbackBind: true}, "", 421},
		{"allowed host", Access{LoopbackBind: true, AllowedHosts: []string{"Monitor.lan"}}, "monitor.lan:8001", 200},
		{"allowed host, others refused", Access{LoopbackBind: true, AllowedHosts: []string{"monitor.lan"}}, "evil.example", 421},
		{"public bind: any host", Access{}, "evil.example", 200},
		{"public bind with allowed_hosts", Access{AllowedHosts: []string{"chat.example.com"}}, "evil.example", 421},
		{"public bind with allowed_hosts, match", Access{AllowedHosts: []string{"chat.example.com"}}, "chat.example.com", 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := f.server(nil)
			s.SetAccess(c.access)
			for _, path := range []string{"/api/stats", "/healthz", "/api/ui-config"} {
				r := httptest.NewRequest("GET", path, nil)
				r.Host = c.host
				w := httptest.NewRecorder()
				s.ServeHTTP(w, r)
				if w.Code != c.want {
					t.Errorf("GET %s Host %q: status %d, want %d: %.200s", path, c.host, w.Code, c.want, w.Body.String())
				}
				if c.want == 421 && (strings.Contains(w.Body.String(), "total_messages") || !strings.Contains(w.Body.String(), `"unknown_host"`)) {
					t.Errorf("refused body %.200s", w.Body.String())
				}
			}
		})
	}
}

// Each login gets its own random session, which expires after sessionTTL
// and ends at logout; the cookie is Secure over TLS or when a trusted proxy
// says the browser used https.
func TestLoginSessions(t *testing.T) {
	f := newFixture(t)
	s := f.server(func(o *Options) { o.Token = testToken })
	s.SetAccess(Access{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.auth.sessions.now = func() time.Time { return now }
	login := func(from string, hdr ...string) *http.Cookie {
		t.Helper()
		r := httptest.NewRequest("POST", "/api/login", strings.NewReader(`{"token":"`+testToken+`"}`))
		r.RemoteAddr = from + ":1234"
		r.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		for _, c := range w.Result().Cookies() {
			if c.Name == cookieName {
				return c
			}
		}
		t.Fatalf("login: %d %s, no cookie", w.Code, w.Body.String())
		return nil
	}
	status := func(c *http.Cookie) int {
		return do(t, s, "GET", "/api/stats", nil, "Cookie", c.Name+"="+c.Value).Code
	}
	a, b := login("192.0.2.1"), login("192.0.2.1")
	if a.Value == b.Value || len(a.Value) < 64 {
		t.Errorf("two logins gave %q and %q: want distinct random ids", a.Value, b.Value)
	}
	if status(a) != 200 || status(b) != 200 {
		t.Fatalf("fresh sessions refused")
	}
	// Logout ends that session only.
	r := httptest.NewRequest("POST", "/api/logout", strings.NewReader("{}"))
	r.Header.Set("Content-Type", "application/json")
	r.AddCookie(a)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r) // through the route table, as a browser reaches it
	if w.Code != 200 || !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("logout: %d %v", w.Code, w.Header())
	}
	if status(a) != 401 || status(b) != 200 {
		t.Errorf("after logout: a %d (want 401), b %d (want 200)", status(a), status(b))
	}
	now = now.Add(sessionTTL - time.Second)
	if status(b) != 200 {
		t.Errorf("session refused before its expiry")
	}
	now = now.Add(time.Second)
	if status(b) != 401 {
		t.Errorf("session accepted after %v", sessionTTL)
	}
	for _, c := range []struct {
		name   string
		from   string
		hdr    []string
		secure bool
	}{
		{"plain HTTP", "192.0.2.1", nil, false},
		{"untrusted X-Forwarded-Proto", "192.0.2.1", []string{"X-Forwarded-Proto", "https"}, false},
		{"trusted proxy, https", "10.1.2.3", []string{"X-Forwarded-Proto", "https"}, true},
		{"trusted proxy, http", "10.1.2.3", []string{"X-Forwarded-Proto", "http"}, false},
	} {
		if got := login(c.from, c.hdr...).Secure; got != c.secure {
			t.Errorf("%s: Secure %v, want %v", c.name, got, c.secure)
		}
	}
	// Behind a trusted proxy, failures count against the forwarded client.
	for range failBurst {
		r := httptest.NewRequest("GET", "/api/stats", nil)
		r.RemoteAddr = "10.1.2.3:1234"
		r.Header.Set("X-Forwarded-For", "198.51.100.7, 10.9.9.9")
		r.Header.Set("Authorization", "Bearer wrong")
		s.ServeHTTP(httptest.NewRecorder(), r)
	}
	r = httptest.NewRequest("GET", "/api/stats", nil)
	r.RemoteAddr = "10.1.2.3:1234"
	r.Header.Set("X-Forwarded-For", "198.51.100.8")
	r.Header.Set("Authorization", "Bearer "+testToken)
	if w := do2(s, r); w.Code != 200 {
		t.Errorf("another client behind the same proxy: %d, want 200", w.Code)
	}
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	if w := do2(s, r); w.Code != 429 {
		t.Errorf("the failing client behind the proxy: %d, want 429", w.Code)
	}
}

func do2(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
