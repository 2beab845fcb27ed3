package web

import (
	"bytes"
	"net/http"
	"time"

	"github.com/wsmon/wsmon/internal/report"
)

// handleReport answers GET /api/reports/daily and /api/reports/weekly
// (?date=YYYY-MM-DD&format=json|html&target=&lang=en|zh): the report of
// the day, or of the Monday–Sunday week containing the date (default
// today), as JSON (report.Report) or as a self-contained HTML page served
// under a policy that allows only its inline style sheet.
func (s *Server) handleReport(kind string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if s.opts.Reports == nil {
			return &apiError{http.StatusConflict, "reports_off", "reports are not available in this process"}
		}
		p := s.params(r)
		date := p.str("date", 16)
		format := p.str("format", 8)
		target := p.str("target", 256)
		lang := p.str("lang", 8)
		if p.err != nil {
			return p.err
		}
		var d report.Date
		if date == "" {
			d = report.DateOf(time.Now(), s.opts.Reports.Location())
		} else {
			var err error
			if d, err = report.ParseDate(date); err != nil {
				return errBadParam("date", "%s", err.Error())
			}
		}
		switch format {
		case "":
			format = "json"
		case "json", "html":
		default:
			return errBadParam("format", "must be json or html, got %q", format)
		}
		switch lang {
		case "":
			lang = report.LangEN
		case report.LangEN, report.LangZH:
		default:
			return errBadParam("lang", "must be en or zh, got %q", lang)
		}
		per := report.Daily(d)
		if kind == report.KindWeekly {
			per = report.Weekly(d)
		}
		rep, err := s.opts.Reports.Build(r.Context(), report.Request{Period: per, Target: target})
		if err != nil {
			return err
		}
		if format == "json" {
			return writeJSON(w, http.StatusOK, rep)
		}
		var buf bytes.Buffer
		if err := report.WriteHTML(&buf, rep, lang); err != nil {
			return err
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", report.ContentSecurityPolicy())
		w.WriteHeader(http.StatusOK)
		_, err = w.Write(buf.Bytes())
		return err
	}
}
