package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The fuzzers below drive the real handler (New, with its auth layer and
// route table) over the fixture's real SQLite store, so the whole path of
// a parameter is fuzzed: query string and path decoding, the params
// parsers, the store's query and the JSON encoding. Their invariants hold
// for any input: never a panic, never a 5xx, every error is the one JSON
// shape {"error":{"code","message"}} naming what was wrong, and an
// accepted input gives an answer that agrees with it.

// fuzzEndpoints are the GET routes whose parameters FuzzAPIParams fuzzes;
// {} is replaced by the fuzzed path argument.
var fuzzEndpoints = []string{
	"/api/messages",
	"/api/search",
	"/api/stats",
	"/api/sessions",
	"/api/messages/{}",
	"/api/messages/{}/context",
	"/api/users/{}",
	"/api/live",
	"/api/export",
	"/api/analysis/users",
	"/api/analysis/users/{}",
	"/api/analysis/activity",
}

// paramNames are the names a bad_param error may start with.
var paramNames = []string{"limit", "before", "user", "type", "target", "room", "from", "to", "raw", "q", "keyword", "n", "id", "name", "format", "bom", "sort", "order", "cursor", "step"}

// checkErrorShape fails unless body is exactly {"error":{"code","message"}}
// with both non-empty, and a bad_param message names a parameter.
func checkErrorShape(t *testing.T, what string, status int, body []byte) {
	t.Helper()
	var e struct {
		Error map[string]string `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || len(e.Error) != 2 || e.Error["code"] == "" || e.Error["message"] == "" {
		t.Fatalf("%s: status %d with a body that is not the JSON error shape (%v): %q", what, status, err, body)
	}
	if e.Error["code"] == "bad_param" {
		name, _, _ := strings.Cut(e.Error["message"], ": ")
		if !slices.Contains(paramNames, name) && name != "body" {
			t.Fatalf("%s: bad_param message %q does not start with a parameter name", what, e.Error["message"])
		}
	}
}

// FuzzAPIParams fuzzes the query string (and the path argument, and
// Last-Event-ID) of every GET endpoint that takes parameters (the export
// too), on the fixture behind its search index as production serves it,
// in the fixture's zone and in UTC (where a year-1 date is the zero time).
func FuzzAPIParams(f *testing.F) {
	fx := newFixture(f)
	local := fx.server(func(o *Options) { o.Location = fixtureZone })
	utc := fx.server(func(o *Options) { o.Location = time.UTC })
	now := strconv.FormatInt(fx.now.UnixMilli(), 10)
	for _, s := range []struct {
		ep        uint8
		arg, q    string
		lastEvent string
	}{
		{0, "", "", ""},
		{0, "", "limit=500&before=50&user=alice&room=lobby&type=chat&target=alpha&raw=1", ""},
		{0, "", "limit=0", ""}, {0, "", "limit=-1", ""}, {0, "", "limit=9223372036854775808", ""},
		{0, "", "limit=1e3", ""}, {0, "", "limit=%2B5", ""}, {0, "", "limit=0x10", ""},
		{0, "", "before=-9223372036854775808", ""}, {0, "", "before=4611686018427387905", ""},
		{0, "", "from=0&to=" + now, ""}, {0, "", "from=" + now + "&to=0", ""},
		{0, "", "from=1970-01-01T00:00:00Z&to=9999-12-31T23:59:59.999999999Z", ""},
		{0, "", "from=9999-12-31&to=0001-01-01", ""}, {0, "", "to=0001-01-01", ""},
		{0, "", "from=2026-01-02T15:04:05%2B99:59", ""}, {0, "", "from=2026-02-30", ""},
		{0, "", "from=-62135596800000", ""}, {0, "", "to=253402300799999", ""}, {0, "", "to=253402300800000", ""},
		{0, "", "user=%ff%fe", ""}, {0, "", "user=a%00b", ""}, {0, "", "type=CHAT", ""}, {0, "", "raw=yes&raw=no", ""},
		{0, "", "limit=5;user=x", ""}, {0, "", "%zz=1&limit=2", ""}, {0, "", "user=" + strings.Repeat("x", 257), ""},
		{1, "", "q=%E7%B4%A7%E6%80%A5", ""}, {1, "", "keyword=hello&limit=1", ""}, {1, "", "q=%25&limit=500", ""},
		{1, "", "q=%00", ""}, {1, "", "q=%ff", ""}, {1, "", "q=" + strings.Repeat("q", 1025), ""},
		{1, "", "q='%3B+DROP+TABLE+messages%3B+--", ""}, {1, "", "q=a*b+NEAR(c)+%22d", ""}, {1, "", "q=", ""},
		{2, "", "", ""}, {2, "", "from=0001-01-02&to=9999-12-31", ""}, {2, "", "from=1970-01-02", ""},
		{2, "", "from=9999-01-01", ""}, {2, "", "to=1970-01-02", ""}, {2, "", "from=2000-01-01&to=2010-01-01", ""},
		{2, "", "to=9223372036854775807", ""}, {2, "", "target=beta", ""},
		{3, "", "limit=1000&target=alpha", ""}, {3, "", "limit=1001", ""},
		{4, "1", "", ""}, {4, "0", "", ""}, {4, "-1", "", ""}, {4, "9223372036854775807", "", ""},
		{4, "9223372036854775808", "", ""}, {4, "1e3", "", ""}, {4, "%ff", "", ""}, {4, "..", "", ""}, {4, "a/b", "", ""},
		{5, "3", "n=200", ""}, {5, "3", "n=0", ""}, {5, "3", "n=201", ""}, {5, "1", "n=-9223372036854775808", ""},
		{5, "100000", "n=1", ""},
		{6, "alice", "target=alpha", ""}, {6, "小明", "", ""}, {6, "x/y", "", ""}, {6, "\xff", "", ""}, {6, "\x00", "", ""},
		{6, strings.Repeat("u", 257), "", ""},
		{7, "", "user=alice&type=chat", "5"}, {7, "", "type=bogus", ""}, {7, "", "", "-1"}, {7, "", "", "9223372036854775807"},
		{7, "", "", "99999999999999999999"}, {7, "", "room=%ff", "1"},
		{8, "", "", ""}, {8, "", "format=json&q=hello&bom=0", ""}, {8, "", "format=ndjson&user=alice&raw=1", ""},
		{8, "", "format=xml", ""}, {8, "", "format=CSV&bom=maybe", ""}, {8, "", "from=9999-12-31&to=0001-01-01&format=json", ""},
		{8, "", "keyword=%00&format=ndjson", ""}, {8, "", "q=" + strings.Repeat("q", 1025), ""},
		{9, "", "sort=last_seen&order=asc&limit=200&q=u0", ""}, {9, "", "sort=bogus", ""}, {9, "", "order=up", ""},
		{9, "", "cursor=eyJzIjoibWVzc2FnZXMiLCJkIjp0cnVlLCJ2Ijo3LCJ1IjoiYSJ9", ""}, {9, "", "cursor=%ff%00", ""},
		{9, "", "cursor=eyJzIjoibmFtZSJ9&sort=messages", ""}, {9, "", "limit=201", ""},
		{10, "alice", "from=2026-01-01&to=2026-01-31", ""}, {10, "小明", "from=2026-02-01&to=2025-01-01", ""},
		{10, "x/y", "to=9999-12-31&from=1970-01-01", ""},
		{11, "", "step=minute&from=2026-01-01T00:00:00Z&to=2026-01-01T06:00:00Z", ""}, {11, "", "step=second", ""},
		{11, "", "step=hour&from=1970-01-01&to=9999-12-31", ""}, {11, "", "user=alice&room=lobby", ""},
		{11, "", "from=2026-01-02&to=2026-01-01", ""}, {11, "", "room=lobby&target=alpha&step=day", ""},
	} {
		f.Add(s.ep, s.arg, s.q, s.lastEvent, s.ep%2 == 0)
	}
	f.Fuzz(func(t *testing.T, ep uint8, arg, query, lastEvent string, inUTC bool) {
		path := fuzzEndpoints[int(ep)%len(fuzzEndpoints)]
		path = strings.Replace(path, "{}", url.PathEscape(arg), 1)
		u, err := url.ParseRequestURI(path + "?" + query)
		if err != nil {
			return // net/http answers 400 itself; no handler sees it
		}
		h := local
		if inUTC {
			h = utc
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.URL, r.RequestURI = u, u.RequestURI()
		if lastEvent != "" && validHeader(lastEvent) {
			r.Header.Set("Last-Event-ID", lastEvent)
		}
		if strings.HasPrefix(path, "/api/live") {
			// The stream runs until the client goes: this one has gone
			// already, so it ends after its first write.
			ctx, cancel := context.WithCancel(r.Context())
			cancel()
			r = r.WithContext(ctx)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		what := "GET " + u.RequestURI()
		body := w.Body.Bytes()
		switch {
		case w.Code >= 500:
			t.Fatalf("%s: status %d: %s", what, w.Code, body)
		case w.Code >= 300 && w.Code < 400:
			return // the mux's redirect of an unclean path ("..")
		case w.Code >= 400:
			checkErrorShape(t, what, w.Code, body)
			return
		case w.Code != http.StatusOK:
			t.Fatalf("%s: status %d", what, w.Code)
		}
		if strings.HasPrefix(path, "/api/live") {
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") || !bytes.HasPrefix(body, []byte("retry: 2000\n\n")) {
				t.Fatalf("%s: %q %q", what, ct, body)
			}
			return
		}
		if strings.HasPrefix(path, "/api/export") {
			checkExport(t, what, w.Header(), body)
			return
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || !json.Valid(body) {
			t.Fatalf("%s: 200 with Content-Type %q and body %q", what, ct, body)
		}
		checkAccepted(t, h, u, body)
	})
}

// validHeader reports whether net/http would send v as a header value.
func validHeader(v string) bool {
	return !strings.ContainsAny(v, "\r\n\x00") && utf8.ValidString(v)
}

// checkAccepted checks that a 200 answer agrees with the request: the
// filters and the range it asked for hold for every message, pages are no
// longer than the limit, search hits contain the text, and the path's id
// or name comes back. Parameters are read with the server's own parser
// (what the server understood); the check is that the store honoured it.
func checkAccepted(t *testing.T, s *Server, u *url.URL, body []byte) {
	t.Helper()
	what := "GET " + u.RequestURI()
	r := &http.Request{URL: u}
	p := s.params(r)
	switch {
	case u.Path == "/api/messages" || u.Path == "/api/search":
		text := ""
		if u.Path == "/api/search" {
			if text = p.str("q", 1024); text == "" {
				text = p.str("keyword", 1024)
			}
		}
		q := p.messageQuery()
		if p.err != nil {
			t.Fatalf("%s: accepted, but the parser now says %v", what, p.err)
		}
		var pg apiPage
		if err := json.Unmarshal(body, &pg); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(pg.Messages) > q.Limit {
			t.Fatalf("%s: %d messages for limit %d", what, len(pg.Messages), q.Limit)
		}
		for _, m := range pg.Messages {
			at, err := time.Parse(time.RFC3339Nano, m.ReceivedAt)
			if err != nil ||
				(q.User != "" && m.User != q.User) || (q.Type != "" && m.Type != q.Type) ||
				(q.Target != "" && m.Target != q.Target) || (q.Room != "" && m.Room != q.Room) ||
				(q.Before > 0 && m.ID >= q.Before) ||
				(!q.From.IsZero() && at.Before(q.From)) || (!q.To.IsZero() && !at.Before(q.To)) ||
				(u.Path == "/api/search" && !contains(m.Content, text)) ||
				(q.Raw != (m.Raw != nil || m.RawBase64 != nil)) {
				t.Fatalf("%s: message %+v does not match the query %+v (text %q)", what, m, q, text)
			}
		}
		if pg.Next != nil {
			if id, err := strconv.ParseInt(*pg.Next, 10, 64); err != nil || id != pg.Messages[len(pg.Messages)-1].ID {
				t.Fatalf("%s: next %q is not the last id", what, *pg.Next)
			}
		}
		if u.Path == "/api/search" && (pg.Total == nil || *pg.Total < int64(len(pg.Messages))) {
			t.Fatalf("%s: total %v for %d hits", what, pg.Total, len(pg.Messages))
		}
	case u.Path == "/api/stats":
		var st statsResp
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(st.Daily) > maxStatsDays+1 || len(st.Hourly) != 24 || st.TotalMessages < 0 {
			t.Fatalf("%s: %d days, %d hours, total %d", what, len(st.Daily), len(st.Hourly), st.TotalMessages)
		}
	case u.Path == "/api/sessions":
		limit := p.int("limit", 100, 1, 1000)
		var ss struct {
			Sessions []json.RawMessage `json:"sessions"`
		}
		if err := json.Unmarshal(body, &ss); err != nil || int64(len(ss.Sessions)) > limit {
			t.Fatalf("%s: %d sessions for limit %d (%v)", what, len(ss.Sessions), limit, err)
		}
	case strings.HasPrefix(u.Path, "/api/users/"):
		var us struct {
			User string `json:"user"`
		}
		if err := json.Unmarshal(body, &us); err != nil || us.User != strings.TrimPrefix(u.Path, "/api/users/") {
			t.Fatalf("%s: user %q (%v)", what, us.User, err)
		}
	case strings.HasSuffix(u.Path, "/context"):
		id, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(u.Path, "/api/messages/"), "/context"), 10, 64)
		n := p.int("n", 20, 1, 200)
		var c struct {
			Anchor   int64             `json:"anchor"`
			Messages []json.RawMessage `json:"messages"`
		}
		if err := json.Unmarshal(body, &c); err != nil || c.Anchor != id || int64(len(c.Messages)) > 2*n+1 {
			t.Fatalf("%s: anchor %d, %d messages for n %d (%v)", what, c.Anchor, len(c.Messages), n, err)
		}
	case strings.HasPrefix(u.Path, "/api/messages/"):
		id, _ := strconv.ParseInt(strings.TrimPrefix(u.Path, "/api/messages/"), 10, 64)
		var m apiMsg
		if err := json.Unmarshal(body, &m); err != nil || m.ID != id || id <= 0 {
			t.Fatalf("%s: message %d (%v)", what, m.ID, err)
		}
	case u.Path == "/api/analysis/users":
		var us struct {
			Users []json.RawMessage `json:"users"`
		}
		if limit := p.int("limit", 50, 1, 200); json.Unmarshal(body, &us) != nil || int64(len(us.Users)) > limit {
			t.Fatalf("%s: %d users for limit %d", what, len(us.Users), limit)
		}
	case strings.HasPrefix(u.Path, "/api/analysis/users/"):
		var us struct {
			User string `json:"user"`
		}
		if err := json.Unmarshal(body, &us); err != nil || us.User != strings.TrimPrefix(u.Path, "/api/analysis/users/") {
			t.Fatalf("%s: user %q (%v)", what, us.User, err)
		}
	case u.Path == "/api/analysis/activity":
		var a struct {
			Series   []json.RawMessage `json:"series"`
			Previous struct {
				Series []json.RawMessage `json:"series"`
			} `json:"previous"`
		}
		if err := json.Unmarshal(body, &a); err != nil || len(a.Series) == 0 || len(a.Series) != len(a.Previous.Series) {
			t.Fatalf("%s: %d points, previous %d (%v)", what, len(a.Series), len(a.Previous.Series), err)
		}
	default:
		t.Fatalf("%s: unexpected path", what)
	}
}

// checkExport checks a 200 of /api/export: an attachment, JSON that
// parses (one document, or one per line for NDJSON), CSV with a header.
func checkExport(t *testing.T, what string, h http.Header, body []byte) {
	t.Helper()
	ct := h.Get("Content-Type")
	if !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") {
		t.Fatalf("%s: Content-Disposition %q", what, h.Get("Content-Disposition"))
	}
	switch {
	case strings.Contains(ct, "ndjson"):
		for line := range bytes.SplitSeq(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
			if len(line) > 0 && !json.Valid(line) {
				t.Fatalf("%s: NDJSON line %q", what, line)
			}
		}
	case strings.Contains(ct, "json"):
		if !json.Valid(body) {
			t.Fatalf("%s: JSON export does not parse: %.200q", what, body)
		}
	case strings.HasPrefix(ct, "text/csv"):
		if len(body) == 0 {
			t.Fatalf("%s: empty CSV (no header)", what)
		}
	default:
		t.Fatalf("%s: Content-Type %q", what, ct)
	}
}

// Credentials of the fuzzed auth server: long enough for a public bind.
const (
	fuzzToken    = "fuzz-token-0123456789"
	fuzzUser     = "admin"
	fuzzPassword = "correct horse battery staple"
)

// FuzzLoginAndAuth fuzzes what the auth layer parses: the JSON body,
// Content-Type, Origin and Sec-Fetch-Site of POST /api/login, and the
// Authorization, Host and X-Forwarded-For headers of an API request.
// Never a 5xx, errors are the JSON shape, and nobody gets in without the
// right credentials; a login that decodes to the right ones, sent again
// as canonical JSON, succeeds and its cookie lets the browser in.
func FuzzLoginAndAuth(f *testing.F) {
	basicOK := "Basic " + base64.StdEncoding.EncodeToString([]byte(fuzzUser+":"+fuzzPassword))
	for _, s := range []struct {
		ct, origin, site string
		body             string
		authz, host, xff string
	}{
		{"application/json", "", "", `{"token":"` + fuzzToken + `"}`, "Bearer " + fuzzToken, "127.0.0.1:8001", ""},
		{"application/json; charset=utf-8", "http://127.0.0.1:8001", "same-origin", `{"user":"admin","password":"correct horse battery staple"}`, basicOK, "localhost", "10.0.0.1"},
		{"text/plain", "", "", `{"token":"` + fuzzToken + `"}`, "bearer " + fuzzToken, "[::1]:1", ""},
		{"application/x-www-form-urlencoded", "", "", "token=" + fuzzToken, "BEARER   " + fuzzToken, "evil.example", "1.2.3.4, 127.0.0.1"},
		{"application/json", "http://evil.example", "cross-site", `{"token":" "}`, "Bearer ", "127.0.0.1.", "::1"},
		{"application/json", "", "", `{"token":"` + fuzzToken + `"} trailing`, "Bearer " + fuzzToken + " ", "LOCALHOST:80", "x"},
		{"application/json", "", "", `{"token":"` + fuzzToken + `\u0000"}`, "Basic !!!", "a.localhost", ""},
		{"application/json", "", "", `{"token":1}`, "Basic " + base64.StdEncoding.EncodeToString([]byte("admin")), "127.1", ""},
		{"application/json", "", "", `{"user":"admin","password":"correct horse battery staple","token":"x"}`, "Negotiate x", "::ffff:127.0.0.1", ""},
		{"application/json", "", "", "\xff\xfe", "Bearer \xff", "[::ffff:127.0.0.1]:9", "\x00"},
		{"application/json", "", "", strings.Repeat(`{"token":`, 1000), "", "", ""},
		{"application/json", "", "", `{"token":"` + strings.Repeat("a", 5000) + `"}`, "", "", ""},
		{"application/json;;", "%zz", "none", "null", "Bearer", "127.0.0.1:99999", "1.1.1.1,,2.2.2.2"},
	} {
		f.Add(s.ct, s.origin, s.site, []byte(s.body), s.authz, s.host, s.xff)
	}
	f.Fuzz(func(t *testing.T, ct, origin, site string, body []byte, authz, host, xff string) {
		for _, v := range []string{ct, origin, site, authz, xff} {
			if !validHeader(v) {
				return // not sendable as a header
			}
		}
		if strings.ContainsAny(host, " \t\r\n\x00/?#@\\") || !utf8.ValidString(host) {
			return // net/http refuses such a Host itself (400)
		}
		s := New(Options{Logger: discardLogger(), Token: fuzzToken, User: fuzzUser, Password: fuzzPassword})
		s.SetAccess(Access{LoopbackBind: true, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
		req := func(method, path string, body []byte, hdr ...string) *httptest.ResponseRecorder {
			r := httptest.NewRequest(method, path, bytes.NewReader(body))
			r.Host, r.RemoteAddr = host, "127.0.0.1:40000"
			for i := 0; i+1 < len(hdr); i += 2 {
				if hdr[i+1] != "" {
					r.Header.Set(hdr[i], hdr[i+1])
				}
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Fatalf("%s %s: status %d: %s", method, path, w.Code, w.Body)
			}
			if w.Code >= 400 {
				checkErrorShape(t, method+" "+path, w.Code, w.Body.Bytes())
			}
			return w
		}
		hostOK := s.auth.hostAllowed(&http.Request{Host: host})

		// Login.
		var creds struct {
			Token    string `json:"token"`
			User     string `json:"user"`
			Password string `json:"password"`
		}
		decoded := json.NewDecoder(bytes.NewReader(body)).Decode(&creds) == nil
		right := (creds.Token != "" && creds.Token == fuzzToken) || (creds.User == fuzzUser && creds.Password == fuzzPassword)
		w := req("POST", "/api/login", body, "Content-Type", ct, "Origin", origin, "Sec-Fetch-Site", site, "X-Forwarded-For", xff)
		if w.Code == http.StatusOK && (!decoded || !right || !hostOK) {
			t.Fatalf("login with %q (Host %q) answered 200", body, host)
		}
		if w.Code == http.StatusMisdirectedRequest && hostOK {
			t.Fatalf("Host %q is allowed but answered 421", host)
		}
		if decoded && right && hostOK {
			// The same credentials as canonical JSON always log in.
			canon, _ := json.Marshal(creds)
			w := req("POST", "/api/login", canon, "Content-Type", "application/json")
			if w.Code != http.StatusOK {
				t.Fatalf("login with %s: %d %s", canon, w.Code, w.Body)
			}
			c := w.Result().Cookies()
			if len(c) != 1 || c[0].Name != cookieName || len(c[0].Value) != 64 {
				t.Fatalf("login cookie %v", c)
			}
			if w := req("GET", "/api/nothing-here", nil, "Cookie", c[0].Name+"="+c[0].Value); w.Code != http.StatusNotFound {
				t.Fatalf("the login cookie does not authenticate: %d %s", w.Code, w.Body)
			}
		}

		// Credentials on an API request.
		w = req("GET", "/api/nothing-here", nil, "Authorization", authz, "X-Forwarded-For", xff)
		if w.Code == http.StatusNotFound {
			in := false
			if tok, ok := bearer(&http.Request{Header: http.Header{"Authorization": {authz}}}); ok && tok == fuzzToken {
				in = true
			}
			if u, p, ok := (&http.Request{Header: http.Header{"Authorization": {authz}}}).BasicAuth(); ok && u == fuzzUser && p == fuzzPassword {
				in = true
			}
			if !in || !hostOK {
				t.Fatalf("Authorization %q (Host %q) was let in", authz, host)
			}
		}
	})
}
