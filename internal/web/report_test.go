package web

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wsmon/wsmon/internal/query"
	"github.com/wsmon/wsmon/internal/report"
)

func (f *fixture) reportServer(t *testing.T) *Server {
	t.Helper()
	b, err := report.NewBuilder(report.Options{Store: f.st, Source: query.New(f.st, f.ix), Location: fixtureZone})
	if err != nil {
		t.Fatal(err)
	}
	return f.server(func(o *Options) { o.Reports = b })
}

// TestReportAPI: the daily and weekly reports answer as JSON (the
// fixture's day counts) and as a self-contained HTML page under its own
// policy; bad parameters are 400 bad_param naming the parameter; without
// a builder, 409.
func TestReportAPI(t *testing.T) {
	f := newFixture(t)
	h := f.reportServer(t)
	day := f.msgs[len(f.msgs)-1].At.In(fixtureZone).Format("2006-01-02")
	var want int64
	for _, m := range f.msgs {
		if m.At.In(fixtureZone).Format("2006-01-02") == day {
			want++
		}
	}
	var rep report.Report
	getJSON(t, h, "/api/reports/daily?date="+day, 200, &rep)
	if rep.Kind != "daily" || rep.From != day || rep.Volume.Messages != want {
		t.Errorf("daily %s: kind %s from %s messages %d, want %d", day, rep.Kind, rep.From, rep.Volume.Messages, want)
	}
	getJSON(t, h, "/api/reports/weekly?date="+day+"&target=alpha", 200, &rep)
	if rep.Kind != "weekly" || rep.Target != "alpha" || len(rep.Days) != 7 {
		t.Errorf("weekly: %+v", rep)
	}
	w := do(t, h, "GET", "/api/reports/daily?date="+day+"&format=html&lang=zh", nil)
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("html: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, report.StyleCSP()) {
		t.Errorf("CSP %q", csp)
	}
	if body := w.Body.String(); strings.Contains(body, "<script") || !strings.Contains(body, "日报") {
		t.Errorf("html body: %.300s", body)
	}
	for _, c := range []struct{ path, param string }{
		{"/api/reports/daily?date=2026-02-30", "date"},
		{"/api/reports/daily?date=yesterday", "date"},
		{"/api/reports/weekly?date=1969-12-31", "date"},
		{"/api/reports/daily?format=pdf", "format"},
		{"/api/reports/weekly?lang=fr", "lang"},
		{"/api/reports/daily?target=" + strings.Repeat("x", 300), "target"},
	} {
		w := do(t, h, "GET", c.path, nil)
		var e struct {
			Error struct{ Code, Message string }
		}
		json.Unmarshal(w.Body.Bytes(), &e)
		if w.Code != 400 || e.Error.Code != "bad_param" || !strings.HasPrefix(e.Error.Message, c.param+":") {
			t.Errorf("%s: %d %s", c.path, w.Code, w.Body.String())
		}
	}
	if w := do(t, f.server(nil), "GET", "/api/reports/daily", nil); w.Code != 409 {
		t.Errorf("without reports: %d", w.Code)
	}
}
