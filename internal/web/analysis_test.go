package web

import (
	"context"
	"testing"

	"github.com/wsmon/wsmon/internal/analysis"
	"github.com/wsmon/wsmon/internal/sentiment"
	"github.com/wsmon/wsmon/internal/terms"
)

// TestAnalysisAPI: an analyzer counts the fixture's messages and saves
// them; the API (over the saved state, as a separate web process serves
// it) gives sentiment per day equal to a recomputation over the fixture,
// the most negative messages with their content, and checks its
// parameters; with the analyses off it answers 409.
func TestAnalysisAPI(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := analysis.New(ctx, analysis.Options{Store: f.st, Location: fixtureZone, Terms: true, Sentiment: true})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	cancel() // counts everything stored, then saves
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	h := f.server(func(o *Options) { o.Location = fixtureZone })

	// Recompute per local day over every chat message.
	type agg struct{ n, pos, neg int }
	want := map[string]agg{}
	var lastID int64
	negative := map[int64]string{}
	for _, m := range f.msgs {
		lastID = max(lastID, m.ID)
		if m.Type != "chat" || m.Content == "" {
			continue
		}
		s, l := sentiment.Score(m.Content)
		d := m.At.In(fixtureZone).Format("2006-01-02")
		x := want[d]
		x.n++
		if l == sentiment.Positive {
			x.pos++
		}
		if l == sentiment.Negative {
			x.neg++
		}
		if s < 0 {
			negative[m.ID] = m.Content
		}
		want[d] = x
	}
	today := terms.DayOf(f.now, fixtureZone)
	from := (today - 14).Time().Format("2006-01-02")
	var res struct {
		AsOfID int64 `json:"as_of_id"`
		Days   []struct {
			Date         string `json:"date"`
			N, Pos, Neg  int
			MostNegative []struct {
				ID      int64  `json:"id"`
				Content string `json:"content"`
			} `json:"most_negative"`
		} `json:"days"`
	}
	getJSON(t, h, "/api/analysis/sentiment?from="+from, 200, &res)
	if res.AsOfID != lastID {
		t.Errorf("as_of_id %d, want %d", res.AsOfID, lastID)
	}
	seen, negs := 0, 0
	for _, d := range res.Days {
		w := want[d.Date]
		if d.N != w.n || d.Pos != w.pos || d.Neg != w.neg {
			t.Errorf("%s: n %d pos %d neg %d, want %+v", d.Date, d.N, d.Pos, d.Neg, w)
		}
		for _, m := range d.MostNegative {
			if negative[m.ID] != m.Content {
				t.Errorf("most negative %d: %q, want %q", m.ID, m.Content, negative[m.ID])
			}
			negs++
		}
		seen++
	}
	wantDays := 0
	for d := range want {
		if d >= from {
			wantDays++
		}
	}
	if seen != wantDays || seen == 0 {
		t.Errorf("%d days, want %d", seen, wantDays)
	}
	_ = negs

	var tr struct {
		Date  string `json:"date"`
		Terms []any  `json:"terms"`
	}
	getJSON(t, h, "/api/analysis/terms?date="+today.Time().Format("2006-01-02")+"&limit=5", 200, &tr)
	if tr.Date != today.Time().Format("2006-01-02") || tr.Terms == nil {
		t.Errorf("terms %+v", tr)
	}
	for _, bad := range []string{"/api/analysis/terms?date=2026-13-01", "/api/analysis/terms?limit=0",
		"/api/analysis/sentiment?from=2026-02-01&to=2026-01-01", "/api/analysis/sentiment?from=2020-01-01&to=2026-01-01"} {
		if w := do(t, h, "GET", bad, nil); w.Code != 400 {
			t.Errorf("%s: %d %s", bad, w.Code, w.Body)
		}
	}
	off := f.server(func(o *Options) { o.Analysis = nil })
	for _, p := range []string{"/api/analysis/terms", "/api/analysis/sentiment"} {
		if w := do(t, off, "GET", p, nil); w.Code != 409 {
			t.Errorf("off %s: %d", p, w.Code)
		}
	}
}
