package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Access configures the checks made on every request before
// authentication. Set it with Server.SetAccess before serving.
type Access struct {
	// LoopbackBind is true when the server listens only on a loopback
	// address: requests must then name a loopback host (localhost,
	// *.localhost, 127.0.0.0/8, [::1]) or one of AllowedHosts in their Host
	// header, so a DNS-rebinding page cannot read the archive.
	LoopbackBind bool
	// AllowedHosts (web_allowed_hosts) are further host names accepted in
	// the Host header, compared without the port and case-insensitively.
	// When set, the Host check also applies to a non-loopback bind.
	AllowedHosts []string
	// TrustedProxies (web_trusted_proxies) are the addresses of reverse
	// proxies whose X-Forwarded-Proto and X-Forwarded-For are believed: the
	// session cookie is then Secure when the proxy says https, and failed
	// attempts are counted against the forwarded client.
	TrustedProxies []netip.Prefix
}

// SetAccess sets the pre-authentication checks; call it before the server
// handles requests.
func (s *Server) SetAccess(a Access) {
	s.auth.access = a
	s.auth.log = s.log
}

// auth checks every request when a token or a user/password is
// configured. Credentials are accepted as a bearer token, as HTTP basic
// auth, or as the session cookie set by POST /api/login (how the browser's
// EventSource, which cannot send headers, is authenticated). Comparisons
// are constant-time; credentials are never logged.
type auth struct {
	token, user, password string
	sessions              sessions
	access                Access
	log                   *slog.Logger
	throttle              *throttle // failed attempts per client address
}

const cookieName = "wsmon_session"

func newAuth(token, user, password string) *auth {
	return &auth{token: token, user: user, password: password, sessions: sessions{m: map[[32]byte]time.Time{}, now: time.Now},
		log: slog.Default().With("component", "web"), throttle: newThrottle()}
}

func (a *auth) enabled() bool { return a.token != "" || a.user != "" }

func eq(a, b string) bool {
	// Hash first so the comparison time does not depend on lengths.
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// Sessions: each login gets a random 256-bit id, valid for sessionTTL or
// until logout or restart. Only its SHA-256 is kept, so the map's timing
// says nothing about valid ids. At most maxSessions live at once; the
// oldest is dropped for a new one.
const (
	sessionTTL  = 24 * time.Hour
	maxSessions = 10_000
)

type sessions struct {
	mu  sync.Mutex
	m   map[[32]byte]time.Time // hash of id -> expiry
	now func() time.Time
}

// create returns a new session id.
func (ss *sessions) create() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	id := hex.EncodeToString(b)
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	if len(ss.m) >= maxSessions {
		var oldest [32]byte
		first := true
		for h, exp := range ss.m {
			if !exp.After(now) {
				delete(ss.m, h)
			} else if first || exp.Before(ss.m[oldest]) {
				oldest, first = h, false
			}
		}
		if len(ss.m) >= maxSessions {
			delete(ss.m, oldest)
		}
	}
	ss.m[sha256.Sum256([]byte(id))] = now.Add(sessionTTL)
	return id
}

// valid reports whether id is a live session; an expired one is removed.
func (ss *sessions) valid(id string) bool {
	h := sha256.Sum256([]byte(id))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	exp, ok := ss.m[h]
	if ok && !exp.After(ss.now()) {
		delete(ss.m, h)
		return false
	}
	return ok
}

func (ss *sessions) end(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, sha256.Sum256([]byte(id)))
}

// cookieOK reports whether the request carries a valid session cookie.
func (a *auth) cookieOK(r *http.Request) bool {
	c, err := r.Cookie(cookieName)
	return err == nil && a.sessions.valid(c.Value)
}

// credentials reports whether the request presents a bearer token or basic
// credentials, and whether they are right.
func (a *auth) credentials(r *http.Request) (presented, ok bool) {
	if tok, has := bearer(r); has {
		presented = true
		ok = a.token != "" && eq(tok, a.token)
	}
	if u, p, has := r.BasicAuth(); has {
		presented = true
		ok = ok || (a.user != "" && eq(u, a.user) && eq(p, a.password))
	}
	return presented, ok
}

// failed records a failed credential check by r's client and logs a
// warning (at most once a minute per client).
func (a *auth) failed(r *http.Request, what string) {
	ip := a.client(r)
	if warn, left := a.throttle.fail(ip); warn {
		a.log.Warn("failed authentication; further failures from this address are limited", "what", what,
			"client", ip.String(), "attempts_left", left, "path", trunc(r.URL.Path, 100))
	}
}

func errTooManyAttempts(w http.ResponseWriter) *apiError {
	w.Header().Set("Retry-After", retryAfterS)
	return &apiError{http.StatusTooManyRequests, "too_many_attempts",
		"too many failed authentication attempts from this address; wait and retry"}
}

// fromProxy reports whether r came from a trusted reverse proxy.
func (a *auth) fromProxy(r *http.Request) bool {
	ip := remoteIP(r)
	for _, p := range a.access.TrustedProxies {
		if ip.IsValid() && p.Contains(ip) {
			return true
		}
	}
	return false
}

// overTLS reports whether the browser's connection is HTTPS: TLS to us,
// or a trusted proxy's X-Forwarded-Proto: https.
func (a *auth) overTLS(r *http.Request) bool {
	return r.TLS != nil || (a.fromProxy(r) && strings.EqualFold(strings.TrimSpace(r.Header.Get("X-Forwarded-Proto")), "https"))
}

// client is the address failed attempts are counted against: the
// connection's, or behind a trusted proxy the last X-Forwarded-For entry
// that is not itself a trusted proxy.
func (a *auth) client(r *http.Request) netip.Addr {
	ip := remoteIP(r)
	if a.fromProxy(r) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break
			}
			ip = h.Unmap()
			trusted := false
			for _, p := range a.access.TrustedProxies {
				trusted = trusted || p.Contains(ip)
			}
			if !trusted {
				break
			}
		}
	}
	return clientKey(ip)
}

// bearer returns the token of an "Authorization: Bearer" header. The
// scheme is case-insensitive (RFC 9110 §11.1) and may be followed by
// several spaces.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimLeft(tok, " ")
	return tok, tok != ""
}

// openPath reports the paths that need no credentials: those the login
// form needs, the health and readiness probes, and the dashboard's files.
func openPath(r *http.Request) bool {
	p := r.URL.Path
	return p == "/api/login" || p == "/api/logout" || p == "/healthz" || p == "/readyz" || p == "/api/ui-config" ||
		(r.Method == http.MethodGet && !strings.HasPrefix(p, "/api/") && p != "/metrics")
}

// hostAllowed reports whether the request's Host header names this server
// under Access: any host unless the bind is loopback or AllowedHosts is
// set; then only loopback names and AllowedHosts.
func (a *auth) hostAllowed(r *http.Request) bool {
	if !a.access.LoopbackBind && len(a.access.AllowedHosts) == 0 {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().IsLoopback() {
		return true
	}
	for _, h := range a.access.AllowedHosts {
		if strings.EqualFold(strings.TrimSuffix(h, "."), host) {
			return true
		}
	}
	return false
}

func (a *auth) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.hostAllowed(r) {
			a.log.Warn("refused a request for an unknown host name (add it to web_allowed_hosts if it is yours)",
				"host", trunc(r.Host, 100), "remote", r.RemoteAddr)
			writeJSON(w, http.StatusMisdirectedRequest, map[string]any{"error": map[string]string{"code": "unknown_host",
				"message": "this server does not answer for that host name; add it to web_allowed_hosts if it is yours"}})
			return
		}
		if !a.enabled() || openPath(r) || a.cookieOK(r) {
			next.ServeHTTP(w, r)
			return
		}
		if presented, _ := a.credentials(r); presented {
			if a.throttle.blocked(a.client(r)) {
				e := errTooManyAttempts(w)
				writeJSON(w, e.Status, map[string]any{"error": map[string]string{"code": e.Code, "message": e.Message}})
				return
			}
			if _, ok := a.credentials(r); ok {
				next.ServeHTTP(w, r)
				return
			}
			a.failed(r, "credentials")
		}
		if a.user != "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="wsmon", charset="UTF-8"`)
		}
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]string{"code": "unauthorized", "message": "authentication required"}})
	})
}

// handleLogin checks {"token"} or {"user","password"}, sent as JSON (a
// form or text/plain body, which another site could post, is refused: login
// CSRF), and sets a new session cookie: HttpOnly, SameSite=Strict, valid
// for sessionTTL, Secure when the browser reached us over HTTPS.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	return sameOrigin(s.login)(w, r)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Token    string `json:"token"`
		User     string `json:"user"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
		return errBadParam("body", "expected JSON {\"token\"} or {\"user\",\"password\"}")
	}
	a := s.auth
	if a.enabled() && a.throttle.blocked(a.client(r)) {
		return errTooManyAttempts(w)
	}
	ok := !a.enabled() ||
		(a.token != "" && body.Token != "" && eq(body.Token, a.token)) ||
		(a.user != "" && eq(body.User, a.user) && eq(body.Password, a.password))
	if !ok {
		a.failed(r, "login")
		return errBadCredentials()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: a.sessions.create(), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: a.overTLS(r), MaxAge: int(sessionTTL.Seconds())})
	return writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// handleLogout ends the request's session, if any, and clears the cookie.
// Route: POST /api/logout (open, like /api/login).
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	return sameOrigin(func(w http.ResponseWriter, r *http.Request) error {
		if c, err := r.Cookie(cookieName); err == nil {
			s.auth.sessions.end(c.Value)
		}
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: s.auth.overTLS(r), MaxAge: -1})
		return writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})(w, r)
}

// trunc cuts s to at most n bytes for a log line.
func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
