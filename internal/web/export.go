package web

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wsmon/wsmon/internal/export"
)

// ParseExport reads an export request from query parameters, as GET
// /api/export takes them and `wsmon export` passes its flags: format (csv,
// json or ndjson; default csv), q or keyword (a search, as /api/search),
// the filters of /api/messages (user, type, target, room, from, to), raw,
// and bom (CSV byte-order mark, default on). Parsing and limits are those
// of /api/messages and /api/search; loc reads dates and times without an
// offset. An error is a bad_param error whose text is "bad_param: " and a
// message starting with the parameter's name.
func ParseExport(v url.Values, loc *time.Location) (export.Request, error) {
	p := &params{q: v, loc: loc}
	format := p.str("format", 16)
	text := p.searchText()
	q := p.filters()
	bom := p.yesNo("bom", true)
	if p.err != nil {
		return export.Request{}, p.err
	}
	f, err := export.ParseFormat(format)
	if err != nil {
		return export.Request{}, errBadParam("format", "%v", err)
	}
	return export.Request{Format: f, Text: text, Query: q, BOM: bom}, nil
}

// yesNo reads a yes/no parameter: 1, true or yes; 0, false or no (any
// case); def when absent or empty, an error otherwise.
func (p *params) yesNo(name string, def bool) bool {
	switch strings.ToLower(p.str(name, 8)) {
	case "":
		return def
	case "1", "true", "yes":
		return true
	case "0", "false", "no":
		return false
	}
	if p.err == nil {
		p.err = errBadParam(name, "must be 1, true, yes, 0, false or no")
	}
	return def
}

// handleExport streams the messages a listing or a search selects as a
// CSV, JSON or NDJSON download (package export), newest first, flushing
// after every page. Errors in the parameters or in the first page's query
// are answered as JSON; once the file has begun, a failure aborts the
// response, so the client sees an incomplete download, never a clean end.
// The export also ends when the server shuts down.
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) error {
	req, err := ParseExport(r.URL.Query(), s.opts.Location)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.streams, cancel)()
	st, err := export.Open(ctx, s.opts.Store, req)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", req.Format.ContentType())
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": export.FileName(req.Format, time.Now())}))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	t0 := time.Now()
	n, err := st.WriteTo(&exportWriter{w: w, rc: http.NewResponseController(w), timeout: s.opts.Limits.WriteTimeout})
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("export failed", "format", req.Format, "messages", st.Count(), "bytes", n, "error", err)
		} else {
			s.log.Info("export cut short", "format", req.Format, "messages", st.Count(), "bytes", n, "error", err)
		}
		panic(http.ErrAbortHandler)
	}
	s.log.Info("export done", "format", req.Format, "search", req.Text != "", "messages", st.Count(), "bytes", n,
		"duration", time.Since(t0).Round(time.Millisecond))
	return nil
}

// exportWriter gives every write of an export the server's write timeout
// afresh: a download may last longer than one response is allowed, but a
// client that takes nothing for that long is cut off.
type exportWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (e *exportWriter) Write(p []byte) (int, error) {
	if err := e.rc.SetWriteDeadline(time.Now().Add(e.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	return e.w.Write(p)
}

func (e *exportWriter) Flush() error {
	if err := e.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}
