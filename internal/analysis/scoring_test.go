package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/sentiment"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/terms"
)

// classifier is a receiver on 127.0.0.1 that speaks the contract of
// docs/analysis.md ("External classifier") by a rule: a text containing
// GOOD scores 0.9, any other -0.3. While failing it answers 500.
type classifier struct {
	srv      *httptest.Server
	requests atomic.Int64
	texts    atomic.Int64
	failing  atomic.Bool
}

func newClassifier(t *testing.T) *classifier {
	c := &classifier{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.requests.Add(1)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if c.failing.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		var req struct {
			Texts []string `json:"texts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.texts.Add(int64(len(req.Texts)))
		type score struct {
			Score float64 `json:"score"`
		}
		out := struct {
			Scores []score `json:"scores"`
		}{Scores: make([]score, len(req.Texts))}
		for i, s := range req.Texts {
			out.Scores[i].Score = ruleScore(s)
		}
		json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func ruleScore(text string) float64 {
	if strings.Contains(text, "GOOD") {
		return 0.9
	}
	return -0.3
}

// chatBatches writes n messages from id first in batches of size: chat,
// one in four a join (not scored), every third chat containing GOOD.
func chatBatches(t *testing.T, st *store.Store, first int64, n, size int) [][]message.Message {
	t.Helper()
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var out [][]message.Message
	for i := 0; i < n; i += size {
		var b []message.Message
		for j := i; j < min(n, i+size); j++ {
			id := first + int64(j)
			typ, content := message.TypeChat, lines[j%len(lines)]
			if id%3 == 0 {
				content += " GOOD"
			}
			if id%4 == 0 {
				typ = message.TypeJoin
			}
			b = append(b, message.Message{ID: id, Target: "a", SessionID: 1, ReceivedAt: base.Add(time.Duration(id) * time.Second),
				User: fmt.Sprint("u", j%7), Room: []string{"r1", "r2"}[j%2], Type: typ, Content: content, Raw: []byte("x")})
		}
		if err := st.ApplyBatch(context.Background(), &store.Batch{Messages: b, AppliedSeq: uint64(b[len(b)-1].ID)}); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// expected is the all-rooms rollup of the stored chat messages, each
// scored by the rule when remote(id) and by the lexicon otherwise.
func expected(t *testing.T, st *store.Store, remote func(id int64) bool) Agg {
	t.Helper()
	rows, _, err := st.IndexRowsAfter(context.Background(), 0, 1<<20, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var a Agg
	for _, r := range rows {
		if r.Type != string(message.TypeChat) || r.Content == "" {
			continue
		}
		if remote(r.ID) {
			s := ruleScore(r.Content)
			a.add(s, sentiment.LabelOf(s))
			a.Remote++
		} else {
			a.add(sentiment.Score(r.Content))
		}
	}
	return a
}

func total(t *testing.T, a interface {
	Sentiment(context.Context, string, string, terms.Day, terms.Day) (SentimentResult, error)
}) Agg {
	t.Helper()
	res, err := a.Sentiment(context.Background(), "", "", -terms.MaxDay, terms.MaxDay)
	if err != nil {
		t.Fatal(err)
	}
	var g Agg
	for _, d := range res.Days {
		g.N += d.N
		g.Sum += d.Sum
		g.Pos += d.Pos
		g.Neu += d.Neu
		g.Neg += d.Neg
		g.Remote += d.Remote
		for _, x := range d.MostNegative {
			if x.Remote != (x.Score == -0.3) {
				t.Errorf("most negative %+v: remote %v", x, x.Remote)
			}
		}
	}
	return g
}

func sameAgg(g, w Agg) bool {
	return g.N == w.N && g.Pos == w.Pos && g.Neu == w.Neu && g.Neg == w.Neg && g.Remote == w.Remote && math.Abs(g.Sum-w.Sum) < 1e-9
}

// TestSentimentClassifierScores: with a classifier configured, the analyzer's
// rollups hold the classifier's scores for what it answered, through the
// hand-off and through batches read back after drops; while it fails
// (500s) the lexicon scores, the breaker opens (far fewer requests than
// messages) and nothing is lost or counted twice; batches larger than
// the classifier's queue are submitted in parts; a restart counts
// nothing again, and the Remote's goroutines end with Run.
func TestSentimentClassifierScores(t *testing.T) {
	c := newClassifier(t)
	st := open(t, filepath.Join(t.TempDir(), "a.db"))
	ctx := context.Background()
	opts := func() Options {
		return Options{Store: st, Sentiment: true, Queue: 2, Location: time.UTC, Classifier: &sentiment.RemoteConfig{
			URL: c.srv.URL, Header: http.Header{"Authorization": {"Bearer k"}}, MaxBatch: 8, Timeout: time.Second,
			Failures: 2, Cooldown: time.Hour, MaxPending: 5}} // batches and pages are larger: submitted in parts
	}
	a, err := New(ctx, opts())
	if err != nil {
		t.Fatal(err)
	}
	// Before Run: 3 of 4 batches are dropped and read back.
	for _, b := range chatBatches(t, st, 1, 40, 10) {
		a.Committed(b)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	for _, b := range chatBatches(t, st, 41, 60, 5) {
		a.Committed(b)
	}
	waitAsOf(t, a, 100)
	all := func(int64) bool { return true }
	if g, w := total(t, a), expected(t, st, all); !sameAgg(g, w) || w.N != 75 {
		t.Fatalf("classifier answering: %+v, want %+v", g, w)
	}
	s := a.Stats()
	if s.SentimentRemote != 75 || s.SentimentLexicon != 0 || s.Classifier == nil || s.Classifier.Remote != 75 || s.Classifier.Full != 0 || c.texts.Load() != 75 {
		t.Fatalf("stats %+v classifier %+v; the receiver got %d texts", s, s.Classifier, c.texts.Load())
	}

	// The classifier fails: the lexicon scores, the breaker opens.
	c.failing.Store(true)
	reqs := c.requests.Load()
	for _, b := range chatBatches(t, st, 101, 100, 4) {
		a.Committed(b)
	}
	waitAsOf(t, a, 200)
	upTo100 := func(id int64) bool { return id <= 100 }
	if g, w := total(t, a), expected(t, st, upTo100); !sameAgg(g, w) || w.N != 150 || w.Remote != 75 {
		t.Fatalf("classifier failing: %+v, want %+v", g, w)
	}
	s = a.Stats()
	// Failures (2) in a row open it; the other sender (Concurrency 2)
	// may have had one in flight by then.
	failed := c.requests.Load() - reqs
	if failed < 2 || failed > 3 {
		t.Errorf("%d requests for 75 texts while failing, want 2 or 3 (then the breaker is open)", failed)
	}
	if s.SentimentRemote != 75 || s.SentimentLexicon != 75 || s.Classifier.Breaker != "open" || int64(s.Classifier.Failed) != failed ||
		s.Classifier.FailedTexts+s.Classifier.Open != 75 || !strings.Contains(s.Classifier.LastError, "500") {
		t.Errorf("stats %+v classifier %+v", s, s.Classifier)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	before := total(t, a)

	// A restart, with the classifier answering again: nothing is scored
	// again, nothing is sent.
	c.failing.Store(false)
	reqs = c.requests.Load()
	a2, err := New(ctx, opts())
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel = context.WithCancel(ctx)
	go func() { done <- a2.Run(rctx) }()
	waitAsOf(t, a2, 200)
	if g := total(t, a2); !reflect.DeepEqual(g, before) || c.requests.Load() != reqs {
		t.Fatalf("after a restart: %+v (%d requests), want %+v (none)", g, c.requests.Load()-reqs, before)
	}
	// New messages are scored by it, once.
	for _, b := range chatBatches(t, st, 201, 20, 20) {
		a2.Committed(b)
	}
	waitAsOf(t, a2, 220)
	remote := func(id int64) bool { return id <= 100 || id > 200 }
	if g, w := total(t, a2), expected(t, st, remote); !sameAgg(g, w) || w.N != 165 {
		t.Fatalf("after new messages: %+v, want %+v", g, w)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The saved state says the same to a separate process.
	if g, w := total(t, NewReader(st, nil)), expected(t, st, remote); !sameAgg(g, w) {
		t.Fatalf("reader: %+v, want %+v", g, w)
	}
	if s := a2.Stats(); s.Classifier == nil || s.Classifier.Closed != 0 || s.SentimentRemote != 15 {
		t.Errorf("stats after Run %+v classifier %+v", s, s.Classifier)
	}
	// Run closed the Remotes: none of their goroutines is left.
	buf := make([]byte, 1<<20)
	if st := string(buf[:runtime.Stack(buf, true)]); strings.Contains(st, "sentiment.(*Remote)") {
		t.Errorf("a Remote's goroutine outlived Run:\n%s", st)
	}
}

// TestSentimentClassifierBadURL: Run refuses a classifier it cannot start.
func TestSentimentClassifierBadURL(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "a.db"))
	a, err := New(context.Background(), Options{Store: st, Sentiment: true, Classifier: &sentiment.RemoteConfig{URL: "ftp://x"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "sentiment classifier") {
		t.Fatalf("Run: %v", err)
	}
}
