package app

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/sentiment"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/terms"
)

type sentimentDay struct {
	Date         string  `json:"date"`
	N            uint64  `json:"n"`
	Pos          uint64  `json:"pos"`
	Neu          uint64  `json:"neu"`
	Neg          uint64  `json:"neg"`
	Average      float64 `json:"average"`
	MostNegative []struct {
		ID      int64   `json:"id"`
		Score   float64 `json:"score"`
		Content string  `json:"content"`
	} `json:"most_negative"`
}

type sentimentPage struct {
	AsOfID int64          `json:"as_of_id"`
	Days   []sentimentDay `json:"days"`
}

type termsPage struct {
	AsOfID int64 `json:"as_of_id"`
	Terms  []struct {
		Term  string `json:"term"`
		Count uint64 `json:"count"`
	} `json:"terms"`
}

func analysisGet(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// newestID is the newest stored message's id, through the API.
func newestID(t *testing.T, api string) int64 {
	var page struct {
		Messages []struct {
			ID int64 `json:"id"`
		} `json:"messages"`
	}
	analysisGet(t, api+"/api/messages?limit=1", &page)
	if len(page.Messages) == 0 {
		return 0
	}
	return page.Messages[0].ID
}

// TestAnalysisEndToEnd: chat messages sent through the demo server are
// counted behind ingest as app.Run composes it: /api/analysis/terms ranks
// the injected term first, /api/analysis/sentiment's per-day counts equal
// a recomputation with sentiment.Score over the stored messages; after a
// restart the figures are identical (nothing counted twice), and new
// messages are counted once; a separate `wsmon web` serves the saved state
// with its as_of_id.
func TestAnalysisEndToEnd(t *testing.T) {
	d := newDemo(t, nil)
	cfg := testConfig(t, d.URL())
	on := true
	cfg.AnalysisTerms, cfg.AnalysisSentiment = &on, &on // off by default
	cfg.TermsStopWords = []string{"filler"}
	h := start(t, ModeAll, cfg)
	h.waitConnected()
	waitFor(t, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })
	api := "http://" + h.webAddr
	lines := []string{"退款失败，太差了", "great service, thanks!", "this is terrible", "今天天气不错", "hello there", "not good at all", "love it"}
	sent := 0
	for i := range 60 {
		content := lines[i%len(lines)]
		if i%2 == 0 {
			content += " zebracorn"
		}
		if i%3 == 0 {
			content += " filler"
		}
		d.Inject(fmt.Appendf(nil, `{"type":"chat","user":"u%d","room":"r%d","content":%q}`, i%5, i%3, content), false)
		sent++
	}
	d.Inject([]byte(`{"type":"join","user":"x","content":"x joined: terrible"}`), false)
	sent++
	h.waitMessages(int64(sent), 10*time.Second)
	last := newestID(t, api)
	today := terms.DayOf(time.Now(), cfg.Location())
	q := fmt.Sprintf("/api/analysis/sentiment?from=%s&to=%s", (today - 1).Time().Format("2006-01-02"), (today + 1).Time().Format("2006-01-02"))
	var sp sentimentPage
	waitFor(t, 10*time.Second, "sentiment as of the last message", func() bool {
		analysisGet(t, api+q, &sp)
		return sp.AsOfID >= last
	})
	var tp termsPage
	tq := "/api/analysis/terms?limit=10&date=" + today.Time().Format("2006-01-02")
	analysisGet(t, api+tq, &tp)
	if len(tp.Terms) == 0 || tp.Terms[0].Term != "zebracorn" || tp.Terms[0].Count != 30 {
		t.Fatalf("trending %+v, want zebracorn first with 30", tp.Terms)
	}
	for _, x := range tp.Terms {
		if x.Term == "filler" {
			t.Errorf("the stop word filler is ranked: %+v", tp.Terms)
		}
	}
	var rp termsPage
	analysisGet(t, api+tq+"&room=r0", &rp)
	if len(rp.Terms) == 0 || rp.Terms[0].Term != "zebracorn" || rp.Terms[0].Count != 10 {
		t.Errorf("room r0 trending %+v, want zebracorn with 10", rp.Terms)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}

	// Recompute from the stored messages.
	st, err := store.Open(context.Background(), cfg.StoreOptions(false))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := st.IndexRowsAfter(context.Background(), 0, 1<<20, 1<<30)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]sentimentDay{}
	for _, r := range rows {
		if r.Type != "chat" || r.Content == "" {
			continue
		}
		day := terms.DayOf(r.ReceivedAt, cfg.Location()).Time().Format("2006-01-02")
		w := want[day]
		s, l := sentiment.Score(r.Content)
		w.N++
		w.Average += s // the sum, until divided
		switch l {
		case sentiment.Positive:
			w.Pos++
		case sentiment.Negative:
			w.Neg++
		default:
			w.Neu++
		}
		want[day] = w
	}
	if len(sp.Days) != len(want) {
		t.Fatalf("days %+v, want %+v", sp.Days, want)
	}
	for _, g := range sp.Days {
		w := want[g.Date]
		if g.N != w.N || g.Pos != w.Pos || g.Neu != w.Neu || g.Neg != w.Neg || math.Abs(g.Average-w.Average/float64(w.N)) > 1e-9 {
			t.Errorf("%s: %+v, want n %d pos %d neu %d neg %d average %v", g.Date, g, w.N, w.Pos, w.Neu, w.Neg, w.Average/float64(w.N))
		}
		if len(g.MostNegative) == 0 || g.MostNegative[0].Content == "" || g.MostNegative[0].Score >= 0 {
			t.Errorf("%s: most negative %+v", g.Date, g.MostNegative)
		}
	}

	// A separate web process serves the saved state.
	w := start(t, ModeWeb, cfg)
	var wsp sentimentPage
	analysisGet(t, "http://"+w.webAddr+q, &wsp)
	if !reflect.DeepEqual(wsp, sp) {
		t.Errorf("separate web: %+v\nwant %+v", wsp, sp)
	}
	w.stop()

	// Restart: the same figures, nothing counted twice.
	h2 := start(t, ModeAll, cfg)
	api2 := "http://" + h2.webAddr
	var sp2 sentimentPage
	analysisGet(t, api2+q, &sp2)
	var tp2 termsPage
	analysisGet(t, api2+tq, &tp2)
	if !reflect.DeepEqual(sp2, sp) || !reflect.DeepEqual(tp2, tp) {
		t.Errorf("after a restart:\n%+v\n%+v\nwant\n%+v\n%+v", sp2, tp2, sp, tp)
	}
	// New messages are counted once more each.
	h2.waitConnected()
	waitFor(t, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })
	for range 3 {
		d.Inject([]byte(`{"type":"chat","user":"z","room":"r1","content":"zebracorn again"}`), false)
	}
	waitFor(t, 10*time.Second, "the new messages counted", func() bool {
		analysisGet(t, api2+tq, &tp2)
		return len(tp2.Terms) > 0 && tp2.Terms[0].Count == 33
	})
	analysisGet(t, api2+q, &sp2)
	var n, n0 uint64
	for _, x := range sp2.Days {
		n += x.N
	}
	for _, x := range sp.Days {
		n0 += x.N
	}
	if n != n0+3 {
		t.Errorf("after 3 more: %d scored, want %d", n, n0+3)
	}
	h2.stop()
}

// TestAnalysisOff: with both analyses off nothing is counted and the
// endpoints say so (409).
func TestAnalysisOff(t *testing.T) {
	d := newDemo(t, nil)
	cfg := testConfig(t, d.URL())
	off := false
	cfg.AnalysisTerms, cfg.AnalysisSentiment = &off, &off
	h := start(t, ModeAll, cfg)
	defer h.stop()
	for _, p := range []string{"/api/analysis/terms", "/api/analysis/sentiment"} {
		resp, err := http.Get("http://" + h.webAddr + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict {
			t.Errorf("%s: %s, want 409", p, resp.Status)
		}
	}
}
