package webui

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestNotBuiltFallback(t *testing.T) {
	h := newHandler(fstest.MapFS{".gitignore": {Data: []byte("*\n!.gitignore\n")}})
	for _, p := range []string{"/", "/index.html", "/sessions", "/assets/app.js"} {
		rec := get(t, h, http.MethodGet, p, nil)
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("GET %s: status %d, want 503", p, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("GET %s: Content-Type %q, want text/plain", p, ct)
		}
		if body := rec.Body.String(); !strings.Contains(body, "wsmon UI not built: run `make` (needs Node.js and npm)") {
			t.Errorf("GET %s: body %q", p, body)
		}
	}
	if rec := get(t, h, http.MethodGet, "/api/nope", nil); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"not_found"`) {
		t.Errorf("GET /api/nope: %d %q, want JSON 404", rec.Code, rec.Body.String())
	}
}

func TestEmbeddedPlaceholder(t *testing.T) {
	// The .gitignore placeholder keeps dist/ in git so go:embed compiles
	// in a fresh checkout; it must be embedded (all: prefix).
	if _, err := embedded.ReadFile("dist/.gitignore"); err != nil {
		t.Fatalf("dist/.gitignore not embedded: %v", err)
	}
	if Built() {
		if _, err := embedded.ReadFile("dist/index.html"); err != nil {
			t.Fatalf("Built() but no index.html: %v", err)
		}
	}
}

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	io.WriteString(w, s)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestServesBuiltFiles(t *testing.T) {
	const index = `<!doctype html><div id="app"></div>`
	const js = `console.log("wsmon")`
	h := newHandler(fstest.MapFS{
		".gitignore":              {Data: []byte("*\n")},
		"index.html":              {Data: []byte(index)},
		"assets/app-ABC123.js":    {Data: []byte(js)},
		"assets/app-ABC123.js.gz": {Data: gz(t, js)},
		"assets/app-DEF456.css":   {Data: []byte("body{}")},
	})

	for _, p := range []string{"/", "/index.html", "/search", "/user/%E5%B0%8F%E6%98%8E", "/deep/client/route"} {
		rec := get(t, h, http.MethodGet, p, nil)
		if rec.Code != http.StatusOK || rec.Body.String() != index {
			t.Errorf("GET %s: %d %q, want index.html", p, rec.Code, rec.Body.String())
		}
		if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", p, cc)
		}
	}

	rec := get(t, h, http.MethodGet, "/assets/app-ABC123.js", nil)
	if rec.Code != http.StatusOK || rec.Body.String() != js || rec.Header().Get("Content-Encoding") != "" {
		t.Errorf("plain asset: %d %q enc=%q", rec.Code, rec.Body.String(), rec.Header().Get("Content-Encoding"))
	}
	if ct := rec.Header().Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("asset Content-Type %q", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("asset Cache-Control %q", cc)
	}

	rec = get(t, h, http.MethodGet, "/assets/app-ABC123.js", map[string]string{"Accept-Encoding": "br, gzip"})
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip asset: Content-Encoding %q", rec.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(zr); string(b) != js {
		t.Errorf("gzip asset decodes to %q", b)
	}
	if rec := get(t, h, http.MethodGet, "/assets/app-ABC123.js", map[string]string{"Accept-Encoding": "gzip;q=0"}); rec.Header().Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 still got gzip")
	}
	if rec := get(t, h, http.MethodGet, "/assets/app-DEF456.css", map[string]string{"Accept-Encoding": "gzip"}); rec.Code != 200 || rec.Header().Get("Content-Encoding") != "" || rec.Body.String() != "body{}" {
		t.Errorf("css without .gz twin: %d enc=%q", rec.Code, rec.Header().Get("Content-Encoding"))
	}

	for _, p := range []string{"/assets/missing.js", "/assets/app-ABC123.js.gz", "/assets/../index.html", "/assets/"} {
		if rec := get(t, h, http.MethodGet, p, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, rec.Code)
		}
	}
	if rec := get(t, h, http.MethodGet, "/api/unknown", nil); rec.Code != http.StatusNotFound || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Errorf("GET /api/unknown: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec := get(t, h, http.MethodPost, "/", nil); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", rec.Code)
	}
	if rec := get(t, h, http.MethodHead, "/", nil); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD /: %d, %d bytes", rec.Code, rec.Body.Len())
	}
}

func TestAcceptsGzip(t *testing.T) {
	for hdr, want := range map[string]bool{
		"":                    false,
		"gzip":                true,
		"GZIP":                true,
		"deflate, gzip;q=1.0": true,
		"gzip;q=0":            false,
		"gzip; q=0.5":         true,
		"*":                   true,
		"*;q=0":               false,
		"gzip;q=0, *":         false,
		"br":                  false,
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept-Encoding", hdr)
		if got := acceptsGzip(r); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", hdr, got, want)
		}
	}
}

// TestEmbeddedIndex checks the real build output, when present.
func TestEmbeddedIndex(t *testing.T) {
	h := Handler()
	if !Built() {
		if rec := get(t, h, http.MethodGet, "/", nil); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("not built: GET / = %d, want 503", rec.Code)
		}
		t.Skip("UI not built (run `cd web && npm ci && npm run build`)")
	}
	rec := get(t, h, http.MethodGet, "/", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /: %d", rec.Code)
	}
	body := rec.Body.String()
	if !strings.Contains(body, `<div id="app">`) {
		t.Errorf("index.html has no #app: %q", body)
	}
	// The CSP forbids inline scripts and styles: index.html must only
	// reference bundled files.
	if regexp.MustCompile(`<script(\s[^>]*)?>[^<]+</script>|<style|\sstyle=`).MatchString(body) {
		t.Errorf("index.html has inline script or style: %q", body)
	}
	refs := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(refs) < 2 {
		t.Fatalf("index.html references %d assets, want the JS and the CSS", len(refs))
	}
	for _, m := range refs {
		rec := get(t, h, http.MethodGet, m[1], map[string]string{"Accept-Encoding": "gzip"})
		if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			t.Errorf("GET %s: %d, %d bytes", m[1], rec.Code, rec.Body.Len())
		}
	}
}
