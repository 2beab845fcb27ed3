package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/sentiment"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/terms"
)

// contractReceiver is an external sentiment classifier on 127.0.0.1
// speaking the contract of docs/analysis.md ("External classifier"): a
// text containing GOOD scores 0.9, any other -0.4. While hanging it
// answers nothing until the client gives up.
type contractReceiver struct {
	srv      *httptest.Server
	requests atomic.Int64
	texts    atomic.Int64
	hang     atomic.Bool
}

func newContractReceiver(t *testing.T) *contractReceiver {
	c := &contractReceiver{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.requests.Add(1)
		if r.Header.Get("Authorization") != "Bearer model-key" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if c.hang.Load() {
			// Read the body first: only then does the server notice the
			// client hanging up (and cancel the request's context).
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done() // past the client's timeout
			return
		}
		var req struct {
			Texts []string `json:"texts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Texts) == 0 {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		c.texts.Add(int64(len(req.Texts)))
		scores := make([]map[string]any, len(req.Texts))
		for i, s := range req.Texts {
			scores[i] = map[string]any{"score": receiverScore(s)}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"scores": scores})
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func receiverScore(text string) float64 {
	if strings.Contains(text, "GOOD") {
		return 0.9
	}
	return -0.4
}

type sourcedPage struct {
	AsOfID  int64 `json:"as_of_id"`
	Remote  int64 `json:"remote"`
	Lexicon int64 `json:"lexicon"`
	Days    []struct {
		Date         string  `json:"date"`
		N            int64   `json:"n"`
		Pos          int64   `json:"pos"`
		Neu          int64   `json:"neu"`
		Neg          int64   `json:"neg"`
		Average      float64 `json:"average"`
		Remote       int64   `json:"remote"`
		Lexicon      int64   `json:"lexicon"`
		MostNegative []struct {
			ID     int64   `json:"id"`
			Score  float64 `json:"score"`
			Source string  `json:"source"`
		} `json:"most_negative"`
	} `json:"days"`
}

// want is the expected total over the days.
type want struct {
	n, pos, neu, neg, remote, lexicon int64
	sum                               float64
}

func (w *want) add(score float64, l sentiment.Label, remote bool) {
	w.n++
	w.sum += score
	switch l {
	case sentiment.Positive:
		w.pos++
	case sentiment.Negative:
		w.neg++
	default:
		w.neu++
	}
	if remote {
		w.remote++
	} else {
		w.lexicon++
	}
}

// checkPage compares a sentiment page's totals with w, and the most
// negative messages' sources with remote(id).
func checkPage(t *testing.T, what string, p sourcedPage, w want, remote func(int64) bool) {
	t.Helper()
	var g want
	for _, d := range p.Days {
		g.n, g.pos, g.neu, g.neg, g.remote, g.lexicon = g.n+d.N, g.pos+d.Pos, g.neu+d.Neu, g.neg+d.Neg, g.remote+d.Remote, g.lexicon+d.Lexicon
		g.sum += d.Average * float64(d.N)
		if d.Remote+d.Lexicon != d.N {
			t.Errorf("%s: %s: remote %d + lexicon %d != n %d", what, d.Date, d.Remote, d.Lexicon, d.N)
		}
		for _, x := range d.MostNegative {
			if ws := map[bool]string{true: "remote", false: "lexicon"}[remote(x.ID)]; x.Source != ws {
				t.Errorf("%s: most negative %d (score %v) from %q, want %q", what, x.ID, x.Score, x.Source, ws)
			}
		}
	}
	if math.Abs(g.sum-w.sum) > 1e-6 {
		t.Errorf("%s: sum %v, want %v", what, g.sum, w.sum)
	}
	g.sum = w.sum
	if g != w || p.Remote != w.remote || p.Lexicon != w.lexicon {
		t.Errorf("%s: %+v (top remote %d lexicon %d), want %+v", what, g, p.Remote, p.Lexicon, w)
	}
}

// metricValue reads one sample from /metrics: the line that starts with
// name and labels (`wsmon_x{a="b"}`).
func metricValue(t *testing.T, api, series string) float64 {
	t.Helper()
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", series, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", series)
	return 0
}

// TestSentimentClassifierEndToEnd: with analysis_sentiment on and
// sentiment_classifier_url pointing at a receiver that speaks the
// contract, messages sent through the demo server are scored by it, as
// app.Run composes the monitor: /api/analysis/sentiment's figures are the
// receiver's rule's, and say so (remote). Then the receiver hangs past
// sentiment_classifier_timeout: the next messages are scored by the
// lexicon, the breaker opens (far fewer requests than messages), nothing
// is lost or counted twice, and /metrics counts both. A separate web and
// a restart (the receiver answering again) show the same figures and send
// nothing; a new message is scored by the receiver once.
func TestSentimentClassifierEndToEnd(t *testing.T) {
	rc := newContractReceiver(t)
	d := newDemo(t, nil)
	cfg := testConfig(t, d.URL())
	on := true
	cfg.AnalysisSentiment = &on
	cfg.SentimentClassifierURL = rc.srv.URL + "/v1/sentiment"
	cfg.SentimentClassifierHeaders = map[string]string{"Authorization": "Bearer model-key"}
	cfg.SentimentClassifierTimeout = 0.3
	cfg.SentimentClassifierBatch = 8
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := start(t, ModeAll, cfg)
	h.waitConnected()
	waitFor(t, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })
	api := "http://" + h.webAddr
	today := terms.DayOf(time.Now(), cfg.Location())
	q := fmt.Sprintf("/api/analysis/sentiment?from=%s&to=%s", (today - 1).Time().Format("2006-01-02"), (today + 1).Time().Format("2006-01-02"))
	lines := []string{"退款失败，太差了", "great service, thanks!", "this is terrible", "hello there", "love it"}
	send := func(from, n int) {
		for i := from; i < from+n; i++ {
			content := lines[i%len(lines)]
			if i%3 == 0 {
				content += " GOOD"
			}
			d.Inject(fmt.Appendf(nil, `{"type":"chat","user":"u%d","room":"r%d","content":%q}`, i%4, i%2, content), false)
		}
		d.Inject([]byte(`{"type":"join","user":"x","content":"x joined: terrible"}`), false)
	}
	waitCounted := func(api string, p *sourcedPage) {
		t.Helper()
		last := newestID(t, api)
		waitFor(t, 15*time.Second, "sentiment as of the last message", func() bool {
			*p = sourcedPage{}
			analysisGet(t, api+q, p)
			return p.AsOfID >= last
		})
	}

	// The receiver answers.
	send(0, 30)
	h.waitMessages(31, 10*time.Second)
	var p1 sourcedPage
	waitCounted(api, &p1)
	lastRemote := p1.AsOfID
	var w1 want
	for i := range 30 {
		s := receiverScore(lines[i%len(lines)] + map[bool]string{true: " GOOD"}[i%3 == 0])
		w1.add(s, sentiment.LabelOf(s), true)
	}
	checkPage(t, "answering", p1, w1, func(int64) bool { return true })
	if rc.texts.Load() != 30 {
		t.Errorf("the receiver scored %d texts, want 30", rc.texts.Load())
	}

	// The receiver hangs past the timeout: the lexicon scores.
	rc.hang.Store(true)
	reqs := rc.requests.Load()
	send(100, 100) // more than the failed requests can hold (6 × 8)
	h.waitMessages(31+101, 10*time.Second)
	var p2 sourcedPage
	waitCounted(api, &p2)
	failed := rc.requests.Load() - reqs
	// 5 failed requests in a row open the breaker (another may have been
	// in flight, Concurrency 2); then nothing is sent.
	if failed < 5 || failed > 6 {
		t.Errorf("%d requests for 100 texts while the receiver hangs, want 5 or 6", failed)
	}
	w2 := w1
	for i := 100; i < 200; i++ {
		s, l := sentiment.Score(lines[i%len(lines)] + map[bool]string{true: " GOOD"}[i%3 == 0])
		w2.add(s, l, false)
	}
	hung := func(id int64) bool { return id <= lastRemote }
	checkPage(t, "hanging", p2, w2, hung)
	for series, ok := range map[string]func(float64) bool{
		`wsmon_sentiment_scored_total{source="remote"}`:              func(v float64) bool { return v == 30 },
		`wsmon_sentiment_scored_total{source="lexicon"}`:             func(v float64) bool { return v == 100 },
		`wsmon_sentiment_classifier_requests_total{result="failed"}`: func(v float64) bool { return v == float64(failed) },
		`wsmon_sentiment_classifier_requests_total{result="ok"}`:     func(v float64) bool { return v >= 4 && v <= 30 },
		`wsmon_sentiment_classifier_fallback_total{reason="open"}`:   func(v float64) bool { return v > 0 },
		`wsmon_sentiment_classifier_fallback_total{reason="failed"}`: func(v float64) bool { return v > 0 && v <= 6*8 },
		`wsmon_sentiment_classifier_breaker_open`:                    func(v float64) bool { return v == 1 },
	} {
		if v := metricValue(t, api, series); !ok(v) {
			t.Errorf("%s %v", series, v)
		}
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}

	// Recompute from the stored messages: every chat message once, by
	// whoever scored it.
	st, err := store.Open(context.Background(), cfg.StoreOptions(false))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := st.IndexRowsAfter(context.Background(), 0, 1<<20, 1<<30)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	var stored want
	for _, r := range rows {
		if r.Type != "chat" || r.Content == "" {
			continue
		}
		if hung(r.ID) {
			s := receiverScore(r.Content)
			stored.add(s, sentiment.LabelOf(s), true)
		} else {
			s, l := sentiment.Score(r.Content)
			stored.add(s, l, false)
		}
	}
	checkPage(t, "recomputed", p2, stored, hung)

	// A separate web serves the saved state.
	wb := start(t, ModeWeb, cfg)
	var pw sourcedPage
	analysisGet(t, "http://"+wb.webAddr+q, &pw)
	if !reflect.DeepEqual(pw, p2) {
		t.Errorf("separate web: %+v\nwant %+v", pw, p2)
	}
	wb.stop()

	// A restart with the receiver answering: the same figures, nothing
	// sent again.
	rc.hang.Store(false)
	reqs = rc.requests.Load()
	h2 := start(t, ModeAll, cfg)
	api2 := "http://" + h2.webAddr
	var p3 sourcedPage
	analysisGet(t, api2+q, &p3)
	if !reflect.DeepEqual(p3, p2) {
		t.Errorf("after a restart: %+v\nwant %+v", p3, p2)
	}
	h2.waitConnected()
	waitFor(t, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })
	if n := rc.requests.Load() - reqs; n != 0 {
		t.Errorf("%d requests after a restart with nothing new", n)
	}
	// A new message: scored by the receiver, once.
	d.Inject([]byte(`{"type":"chat","user":"z","room":"r1","content":"GOOD again"}`), false)
	waitFor(t, 10*time.Second, "the new message stored", func() bool { return newestID(t, api2) > p2.AsOfID })
	waitCounted(api2, &p3)
	w3 := w2
	w3.add(0.9, sentiment.Positive, true)
	checkPage(t, "after a restart", p3, w3, func(id int64) bool { return id <= lastRemote || id > p2.AsOfID })
	if v := metricValue(t, api2, `wsmon_sentiment_classifier_breaker_open`); v != 0 {
		t.Errorf("breaker open %v after a restart", v)
	}
	if err := h2.stop(); err != nil {
		t.Fatal(err)
	}
}
