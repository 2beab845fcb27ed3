package web

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/analysis"
	"github.com/wsmon/wsmon/internal/anomaly"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/sentiment"
	"github.com/wsmon/wsmon/internal/store"
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

// anomalyStream stores a day of a third target's messages after the
// fixture's, about 3 a minute in rooms r1 and r2, with a burst of 300 in
// r1 at 12:00 and 40 new users in r2 at 18:00.
func anomalyStream(t *testing.T, st *store.Store, start time.Time) {
	t.Helper()
	ctx := context.Background()
	id, err := st.MaxMessageID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var b []message.Message
	add := func(at time.Time, room, user string) {
		id++
		b = append(b, message.Message{ID: id, Target: "gamma", SessionID: 1, ReceivedAt: at, User: user, Room: room,
			Type: message.TypeChat, Content: "hi", Raw: []byte("x")})
	}
	for m := range 1440 {
		at := start.Add(time.Duration(m) * time.Minute)
		for i := range 1 + rng.IntN(5) {
			add(at.Add(time.Duration(i)*5*time.Second), []string{"r1", "r2"}[rng.IntN(2)], fmt.Sprint("u", rng.IntN(20)))
		}
		switch m {
		case 720:
			for i := range 300 {
				add(at.Add(time.Duration(i)*100*time.Millisecond), "r1", fmt.Sprint("u", i%20))
			}
		case 1080:
			for i := range 40 {
				add(at.Add(time.Duration(i)*time.Second), "r2", fmt.Sprint("new", i))
			}
		}
	}
	if err := st.ApplyBatch(ctx, &store.Batch{Messages: b, AppliedSeq: 1 << 40}); err != nil {
		t.Fatal(err)
	}
}

type anomalyOut struct {
	ID          uint64            `json:"id"`
	Kind        string            `json:"kind"`
	Target      string            `json:"target"`
	Room        string            `json:"room"`
	User        string            `json:"user"`
	Score       float64           `json:"score"`
	Start       time.Time         `json:"start"`
	End         *time.Time        `json:"end"`
	Open        bool              `json:"open"`
	Code        string            `json:"code"`
	Params      map[string]string `json:"params"`
	Explanation string            `json:"explanation"`
}

// TestAnomaliesAPI: GET /api/analysis/anomalies over a separate process's
// reader lists what the analyzer found (every field, and each filter as
// the detector's own query selects), conforms to the OpenAPI schema,
// refuses bad parameters with 400 bad_param, answers 409 analysis_off when
// turned off; an anomaly event reaches the live stream.
func TestAnomaliesAPI(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	start := f.now.Add(time.Hour).Truncate(time.Minute)
	anomalyStream(t, f.st, start)
	a, err := analysis.New(ctx, analysis.Options{Store: f.st, Location: fixtureZone, Anomalies: true,
		Anomaly: anomaly.Options{WarmUp: 30}, AdvanceEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	cancel() // counts everything stored, then saves
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	h := f.server(nil) // the reader of the saved state
	doc := loadSpec(t)
	get := func(path string) ([]anomalyOut, int64) {
		t.Helper()
		w := do(t, h, "GET", path, nil)
		if w.Code != 200 {
			t.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
		schema := dig(doc, "paths", "/api/analysis/anomalies", "get", "responses", "200", "content", "application/json", "schema")
		for _, e := range validate(doc, schema, decodeNumber(t, w.Body.Bytes()), path) {
			t.Error(e)
		}
		var res struct {
			Anomalies []anomalyOut `json:"anomalies"`
			AsOfID    int64        `json:"as_of_id"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
		return res.Anomalies, res.AsOfID
	}
	want := func(q analysis.AnomalyQuery) []uint64 {
		res, err := a.Anomalies(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		ids := []uint64{}
		for _, x := range res.Anomalies {
			ids = append(ids, x.ID)
		}
		return ids
	}
	ids := func(as []anomalyOut) []uint64 {
		out := []uint64{}
		for _, x := range as {
			out = append(out, x.ID)
		}
		return out
	}

	all, asOf := get("/api/analysis/anomalies?limit=1000")
	last, _ := f.st.MaxMessageID(context.Background())
	if asOf != last {
		t.Errorf("as_of_id %d, want %d", asOf, last)
	}
	full, _ := a.Anomalies(context.Background(), analysis.AnomalyQuery{})
	if len(all) != len(full.Anomalies) || len(all) == 0 {
		t.Fatalf("%d anomalies listed, the analyzer has %d", len(all), len(full.Anomalies))
	}
	kinds := map[string]bool{}
	for i, x := range all {
		w := full.Anomalies[i]
		end := (*time.Time)(nil)
		if !w.Open {
			e := w.End
			end = &e
		}
		if x.ID != w.ID || x.Kind != w.Kind.String() || x.Code != w.Code || x.Target != w.Key.Target || x.Room != w.Key.Room ||
			x.User != w.User || x.Score != w.Score || !x.Start.Equal(w.Start) || x.Open != w.Open ||
			(end == nil) != (x.End == nil) || (end != nil && !end.Equal(*x.End)) || x.Explanation != w.Explanation || !reflect.DeepEqual(x.Params, w.Params) {
			t.Errorf("listed %+v\nwant %+v", x, w)
		}
		kinds[x.Kind] = true
	}
	if !kinds["rate_spike"] || !kinds["new_user_flood"] {
		t.Fatalf("the burst and the flood are not listed: %+v", all)
	}
	mid := start.Add(15 * time.Hour)
	for _, c := range []struct {
		path string
		q    analysis.AnomalyQuery
	}{
		{"?target=gamma", analysis.AnomalyQuery{Query: anomaly.Query{Target: "gamma", Limit: 100}}},
		{"?target=alpha", analysis.AnomalyQuery{Query: anomaly.Query{Target: "alpha", Limit: 100}}},
		{"?room=r1", analysis.AnomalyQuery{Query: anomaly.Query{Room: "r1", Limit: 100}}},
		{"?kind=rate_spike", analysis.AnomalyQuery{Query: anomaly.Query{Kinds: []anomaly.Kind{anomaly.KindSpike}, Limit: 100}}},
		{"?kind=rate_spike,%20new_user_flood", analysis.AnomalyQuery{Query: anomaly.Query{Kinds: []anomaly.Kind{anomaly.KindSpike, anomaly.KindNewUsers}, Limit: 100}}},
		{"?open=1", analysis.AnomalyQuery{Query: anomaly.Query{OpenOnly: true, Limit: 100}}},
		{"?open=no", analysis.AnomalyQuery{ClosedOnly: true, Query: anomaly.Query{Limit: 100}}},
		{"?from=" + mid.UTC().Format(time.RFC3339), analysis.AnomalyQuery{Query: anomaly.Query{From: mid, Limit: 100}}},
		{"?to=" + mid.UTC().Format(time.RFC3339), analysis.AnomalyQuery{Query: anomaly.Query{To: mid, Limit: 100}}},
		{"?limit=1", analysis.AnomalyQuery{Query: anomaly.Query{Limit: 1}}},
	} {
		got, _ := get("/api/analysis/anomalies" + c.path)
		if w := want(c.q); !reflect.DeepEqual(ids(got), w) {
			t.Errorf("%s: ids %v, want %v", c.path, ids(got), w)
		}
	}
	if got, _ := get("/api/analysis/anomalies?to=" + mid.UTC().Format(time.RFC3339)); len(got) == 0 || len(got) == len(all) {
		t.Errorf("to= selects %d of %d: the filter is not exercised", len(got), len(all))
	}

	for _, bad := range []string{"kind=spike", "kind=rate_spike,", "limit=0", "limit=1001", "limit=x", "from=garbage",
		"open=maybe", "from=2026-01-02&to=2026-01-01", "target=" + strings.Repeat("x", 257)} {
		w := do(t, h, "GET", "/api/analysis/anomalies?"+bad, nil)
		if w.Code != 400 || !strings.Contains(w.Body.String(), `"bad_param"`) {
			t.Errorf("%s: %d %s", bad, w.Code, w.Body)
		}
	}
	for _, off := range []*Server{
		f.server(func(o *Options) { o.Analysis = nil }),
		f.server(func(o *Options) { o.Analysis = analysis.NewReader(f.st, nil).Off(analysis.NameAnomaly) }),
	} {
		if w := do(t, off, "GET", "/api/analysis/anomalies", nil); w.Code != 409 || !strings.Contains(w.Body.String(), `"analysis_off"`) {
			t.Errorf("off: %d %s", w.Code, w.Body)
		}
	}
	// The monitor's own analyzer with detection off says so too.
	termsOnly, err := analysis.New(context.Background(), analysis.Options{Store: f.st, Terms: true})
	if err != nil {
		t.Fatal(err)
	}
	if w := do(t, f.server(func(o *Options) { o.Analysis = termsOnly }), "GET", "/api/analysis/anomalies", nil); w.Code != 409 {
		t.Errorf("terms only: %d %s", w.Code, w.Body)
	}

	// Live: an anomaly event, as the schema says.
	srv := httptest.NewServer(h)
	defer srv.Close()
	s := openLive(t, srv, "/api/live")
	defer s.close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		h.alertFeed.mu.Lock()
		n := len(h.alertFeed.subs)
		h.alertFeed.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the live stream did not subscribe to the feed")
		}
	}
	h.PublishAnomaly(anomaly.Event{Type: anomaly.Opened, Anomaly: full.Anomalies[0]})
	events := dig(doc, "paths", "/api/live", "get", "responses", "200", "content", "text/event-stream", "x-sse-events")
	for {
		ev := s.next()
		if ev.name != "anomaly" {
			continue
		}
		for _, e := range validate(doc, obj(events["anomaly"]), decodeNumber(t, []byte(ev.data)), "event anomaly") {
			t.Error(e)
		}
		var got struct {
			Event   string     `json:"event"`
			Anomaly anomalyOut `json:"anomaly"`
		}
		if err := json.Unmarshal([]byte(ev.data), &got); err != nil || got.Event != "opened" || got.Anomaly.ID != full.Anomalies[0].ID {
			t.Fatalf("event %s: %+v %v", ev.data, got, err)
		}
		break
	}
}
