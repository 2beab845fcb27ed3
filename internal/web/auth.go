package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
)

// auth checks every request when a token or a user/password is
// configured. Credentials are accepted as a bearer token, as HTTP basic
// auth, or as the session cookie set by POST /api/login (how the browser's
// EventSource, which cannot send headers, is authenticated). Comparisons
// are constant-time; credentials are never logged.
type auth struct {
	token, user, password string
	cookieKey             []byte // HMAC key for the session cookie, random per process
}

const cookieName = "wsmon_session"

func newAuth(token, user, password string) *auth {
	a := &auth{token: token, user: user, password: password, cookieKey: make([]byte, 32)}
	if _, err := rand.Read(a.cookieKey); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return a
}

func (a *auth) enabled() bool { return a.token != "" || a.user != "" }

func eq(a, b string) bool {
	// Hash first so the comparison time does not depend on lengths.
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// cookieValue is HMAC(key, "session"): valid for this process's life.
func (a *auth) cookieValue() string {
	m := hmac.New(sha256.New, a.cookieKey)
	m.Write([]byte("wsmon session"))
	return hex.EncodeToString(m.Sum(nil))
}

func (a *auth) check(r *http.Request) bool {
	if !a.enabled() {
		return true
	}
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok && a.token != "" && eq(tok, a.token) {
			return true
		}
	}
	if u, p, ok := r.BasicAuth(); ok && a.user != "" && eq(u, a.user) && eq(p, a.password) {
		return true
	}
	if c, err := r.Cookie(cookieName); err == nil && eq(c.Value, a.cookieValue()) {
		return true
	}
	return false
}

// open paths needed to show the login form.
func openPath(r *http.Request) bool {
	p := r.URL.Path
	return p == "/api/login" || p == "/healthz" || p == "/api/ui-config" ||
		(r.Method == http.MethodGet && !strings.HasPrefix(p, "/api/"))
}

func (a *auth) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.check(r) || openPath(r) {
			next.ServeHTTP(w, r)
			return
		}
		if a.user != "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="wsmon", charset="UTF-8"`)
		}
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]string{"code": "unauthorized", "message": "authentication required"}})
	})
}

// handleLogin checks {"token"} or {"user","password"} and sets the session
// cookie (HttpOnly, SameSite=Strict).
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Token    string `json:"token"`
		User     string `json:"user"`
		Password string `json:"password"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
		return errBadParam("body", "expected JSON {\"token\"} or {\"user\",\"password\"}")
	}
	a := s.auth
	ok := !a.enabled() ||
		(a.token != "" && body.Token != "" && eq(body.Token, a.token)) ||
		(a.user != "" && eq(body.User, a.user) && eq(body.Password, a.password))
	if !ok {
		return errUnauthorized()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: a.cookieValue(), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	return writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}
