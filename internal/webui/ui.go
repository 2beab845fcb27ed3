// Package webui owns the dashboard's static files: the build output of web/
// (npm ci && npm run build), embedded into the binary from dist/.
//
// dist/ is ignored by git except for its .gitignore, so `go build ./...`
// and `go test ./...` work without Node.js; a binary built that way serves
// a short "UI not built" page instead of the dashboard.
package webui

import (
	"embed"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed all:dist
var embedded embed.FS

// notBuilt is the body served, with status 503, when dist/index.html is missing.
const notBuilt = "wsmon UI not built: run `make` (needs Node.js and npm)\n"

// dist is the embedded build output with the "dist/" prefix removed.
func dist() fs.FS {
	sub, err := fs.Sub(embedded, "dist")
	if err != nil { // only possible with an invalid constant path
		panic(err)
	}
	return sub
}

// Built reports whether the UI was built into this binary (dist/index.html
// was present at compile time).
func Built() bool {
	return built(dist())
}

func built(fsys fs.FS) bool {
	st, err := fs.Stat(fsys, "index.html")
	return err == nil && !st.IsDir()
}

// Handler serves the embedded dashboard. Mount it at "/" after the API
// routes; it answers GET and HEAD:
//
//   - /assets/<name>-<hash>.<ext>: the bundled files, cached for a year
//     (names change with content), gzip-encoded when the client accepts it;
//     404 when missing.
//   - /api/...: a JSON 404, so a mistyped API path is not answered with HTML.
//   - any other path: index.html (not cached), so a reload on any URL shows
//     the app, which routes on the URL hash.
//
// When the UI was not built every non-API path answers 503 with a plain
// text page saying how to build it.
func Handler() http.Handler {
	return newHandler(dist())
}

type handler struct {
	fsys  fs.FS
	index []byte // nil when not built
}

func newHandler(fsys fs.FS) http.Handler {
	h := &handler{fsys: fsys}
	if built(fsys) {
		b, err := fs.ReadFile(fsys, "index.html")
		if err == nil {
			h.index = b
		}
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	p := r.URL.Path
	if p == "/api" || strings.HasPrefix(p, "/api/") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":"not_found","message":"no such API endpoint"}}`+"\n")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if h.index == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, notBuilt)
		return
	}
	if strings.HasPrefix(p, "/assets/") {
		h.serveAsset(w, r, path.Clean(strings.TrimPrefix(p, "/")))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(h.index)
	}
}

// serveAsset serves one file under assets/, preferring its precompressed
// .gz twin written by the build when the client accepts gzip.
func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	if !strings.HasPrefix(name, "assets/") || !fs.ValidPath(name) || strings.HasSuffix(name, ".gz") {
		http.NotFound(w, r)
		return
	}
	st, err := fs.Stat(h.fsys, name)
	if err != nil || st.IsDir() {
		http.NotFound(w, r)
		return
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	w.Header().Add("Vary", "Accept-Encoding")
	if acceptsGzip(r) {
		if _, err := fs.Stat(h.fsys, name+".gz"); err == nil {
			w.Header().Set("Content-Encoding", "gzip")
			name += ".gz"
		}
	}
	f, err := h.fsys.Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	rs, ok := f.(io.ReadSeeker)
	if !ok { // embed.FS files are seekable; keep a plain copy for other fs.FS
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			io.Copy(w, f)
		}
		return
	}
	// ServeContent handles Range and HEAD; the zero modtime disables
	// Last-Modified (the names are content-hashed instead).
	http.ServeContent(w, r, name, st.ModTime(), rs)
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip
// (listed, or covered by "*", with a non-zero q value).
func acceptsGzip(r *http.Request) bool {
	ok := false
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(part, ";")
		enc = strings.ToLower(strings.TrimSpace(enc))
		if enc != "gzip" && enc != "*" {
			continue
		}
		q := 1.0
		if k, v, found := strings.Cut(strings.TrimSpace(params), "="); found && strings.TrimSpace(k) == "q" {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				q = f
			}
		}
		if enc == "gzip" {
			return q > 0 // an explicit gzip entry wins over "*"
		}
		ok = q > 0
	}
	return ok
}
