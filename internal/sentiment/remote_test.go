package sentiment

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// receiver is a local HTTP server that speaks the classifier contract:
// each text's score is len(text)/100 (so the order can be checked), and
// handle, when set, answers instead.
type receiver struct {
	*httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	batches  [][]string
	handle   func(w http.ResponseWriter, r *http.Request, texts []string) bool
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.requests.Add(1)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want a JSON POST", http.StatusBadRequest)
			return
		}
		var req struct{ Texts []string }
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.batches = append(rc.batches, req.Texts)
		h := rc.handle
		rc.mu.Unlock()
		if h != nil && h(w, r, req.Texts) {
			return
		}
		type score struct {
			Score float64 `json:"score"`
			Label string  `json:"label,omitempty"`
		}
		out := struct {
			Scores []score `json:"scores"`
		}{}
		for _, t := range req.Texts {
			out.Scores = append(out.Scores, score{Score: float64(len(t)) / 100})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) setHandle(h func(w http.ResponseWriter, r *http.Request, texts []string) bool) {
	rc.mu.Lock()
	rc.handle = h
	rc.mu.Unlock()
}

func (rc *receiver) sizes() []int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var n []int
	for _, b := range rc.batches {
		n = append(n, len(b))
	}
	return n
}

// submitWait submits text and waits for its result.
func submitWait(t *testing.T, r *Remote, text string) Result {
	t.Helper()
	ch := make(chan Result, 1)
	r.Submit(text, func(res Result) { ch <- res })
	return <-ch
}

// clock is a breaker clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestRemoteContractAndBatches(t *testing.T) {
	rc := newReceiver(t)
	r, err := NewRemote(RemoteConfig{URL: rc.URL, MaxBatch: 4, MaxWait: time.Hour, Header: http.Header{"Authorization": {"Bearer x"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var auth atomic.Value
	rc.setHandle(func(w http.ResponseWriter, req *http.Request, _ []string) bool {
		auth.Store(req.Header.Get("Authorization"))
		return false
	})
	// 8 texts with MaxBatch 4 and a wait of an hour: exactly two full
	// batches, each answered in order.
	var wg sync.WaitGroup
	results := make([]Result, 8)
	for i := range 8 {
		wg.Add(1)
		r.Submit(strings.Repeat("x", i+1), func(res Result) { results[i] = res; wg.Done() })
	}
	wg.Wait()
	for i, res := range results {
		if want := float64(i+1) / 100; res.Source != FromRemote || res.Score != want || res.Label != LabelOf(want) {
			t.Errorf("text %d: %+v, want remote score %v", i, res, want)
		}
	}
	if got := fmt.Sprint(rc.sizes()); got != "[4 4]" {
		t.Errorf("batches %s, want [4 4]", got)
	}
	if auth.Load() != "Bearer x" {
		t.Errorf("Authorization %q", auth.Load())
	}
	if s := r.Stats(); s.Requests != 2 || s.Remote != 8 || s.Failed != 0 || s.Breaker != "closed" {
		t.Errorf("stats %+v", s)
	}
}

func TestRemoteMaxWaitSendsAPartialBatch(t *testing.T) {
	rc := newReceiver(t)
	r, err := NewRemote(RemoteConfig{URL: rc.URL, MaxBatch: 100, MaxWait: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if res := submitWait(t, r, "hello"); res.Source != FromRemote {
		t.Errorf("%+v: want a remote answer", res)
	}
	if got := fmt.Sprint(rc.sizes()); got != "[1]" {
		t.Errorf("batches %s, want [1]", got)
	}
}

func TestRemoteLabelFromService(t *testing.T) {
	rc := newReceiver(t)
	rc.setHandle(func(w http.ResponseWriter, _ *http.Request, texts []string) bool {
		io.WriteString(w, `{"scores":[{"score":0.02,"label":"neg","extra":1}],"model":"m"}`)
		return true
	})
	r, _ := NewRemote(RemoteConfig{URL: rc.URL, MaxBatch: 1})
	defer r.Close()
	if res := submitWait(t, r, "whatever"); res != (Result{Score: 0.02, Label: Negative, Source: FromRemote}) {
		t.Errorf("%+v: want the service's label", res)
	}
}

// TestRemoteBreaker: K failures open the breaker, while open nothing is
// sent and the lexicon answers at once, after the cool-down one probe goes
// out; a failed probe opens it again, a good one closes it.
func TestRemoteBreaker(t *testing.T) {
	rc := newReceiver(t)
	var failing atomic.Bool
	failing.Store(true)
	rc.setHandle(func(w http.ResponseWriter, _ *http.Request, _ []string) bool {
		if failing.Load() {
			http.Error(w, "model not loaded", http.StatusInternalServerError)
			return true
		}
		return false
	})
	clk := &clock{t: time.Unix(1e9, 0)}
	r, err := NewRemote(RemoteConfig{URL: rc.URL, MaxBatch: 1, Failures: 3, Cooldown: time.Minute, now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	lex, _ := Score("服务太差了")
	for i := range 3 {
		res := submitWait(t, r, "服务太差了")
		if res.Source != FromLexicon || res.Score != lex {
			t.Fatalf("failure %d: %+v, want the lexicon's %v", i, res, lex)
		}
	}
	if n := rc.requests.Load(); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
	if s := r.Stats(); s.Breaker != "open" || s.Failed != 3 || !strings.Contains(s.LastError, "500") {
		t.Fatalf("stats %+v", s)
	}
	for range 5 {
		if res := submitWait(t, r, "hi"); res.Source != FromLexicon {
			t.Fatalf("open: %+v, want the lexicon", res)
		}
	}
	if n, s := rc.requests.Load(), r.Stats(); n != 3 || s.Open != 5 {
		t.Fatalf("open breaker: %d requests, %d texts refused; want 3, 5", n, s.Open)
	}
	clk.add(time.Minute)
	if s := r.Stats(); s.Breaker != "half-open" {
		t.Fatalf("after the cool-down: %s", s.Breaker)
	}
	if res := submitWait(t, r, "probe"); res.Source != FromLexicon {
		t.Fatalf("failed probe: %+v", res)
	}
	if n, s := rc.requests.Load(), r.Stats(); n != 4 || s.Failed != 4 || s.Breaker != "open" {
		t.Fatalf("after a failed probe: %d requests, %+v; want 4 requests, 4 failed, open", n, s)
	}
	clk.add(30 * time.Second)
	submitWait(t, r, "x")
	if n, s := rc.requests.Load(), r.Stats(); n != 4 || s.Open != 6 {
		t.Fatalf("half a cool-down after the probe: %d requests, %d refused; want 4, 6", n, s.Open)
	}
	clk.add(30 * time.Second)
	failing.Store(false)
	if res := submitWait(t, r, "probe"); res.Source != FromRemote {
		t.Fatalf("good probe: %+v", res)
	}
	if s := r.Stats(); s.Breaker != "closed" || s.Open != 6 {
		t.Fatalf("after a good probe: %+v", s)
	}
	if res := submitWait(t, r, "again"); res.Source != FromRemote {
		t.Fatalf("closed again: %+v", res)
	}
}

// TestRemoteSlow: a service slower than Timeout costs each text its
// remote answer, not the caller's time, and counts as a failure.
func TestRemoteSlow(t *testing.T) {
	rc := newReceiver(t)
	release := make(chan struct{})
	defer close(release)
	rc.setHandle(func(w http.ResponseWriter, req *http.Request, _ []string) bool {
		select {
		case <-req.Context().Done():
		case <-release:
		}
		return true
	})
	r, _ := NewRemote(RemoteConfig{URL: rc.URL, MaxBatch: 1, Timeout: 20 * time.Millisecond})
	defer r.Close()
	res := submitWait(t, r, "great")
	if res.Source != FromLexicon || res.Label != Positive {
		t.Errorf("%+v, want the lexicon's answer", res)
	}
	if s := r.Stats(); s.Failed != 1 || s.FailedTexts != 1 || !strings.Contains(s.LastError, "deadline") {
		t.Errorf("stats %+v", s)
	}
}

// TestRemoteMalformed: every answer outside the contract is a failure,
// and the texts are scored by the lexicon.
func TestRemoteMalformed(t *testing.T) {
	for name, answer := range map[string]func(w http.ResponseWriter){
		"not json":  func(w http.ResponseWriter) { io.WriteString(w, "<html>hello</html>") },
		"no scores": func(w http.ResponseWriter) { io.WriteString(w, `{"results":[]}`) },
		"too few":   func(w http.ResponseWriter) { io.WriteString(w, `{"scores":[{"score":0.5}]}`) },
		"too many": func(w http.ResponseWriter) {
			io.WriteString(w, `{"scores":[{"score":0.5},{"score":0.5},{"score":0.5}]}`)
		},
		"out of range": func(w http.ResponseWriter) { io.WriteString(w, `{"scores":[{"score":0.5},{"score":1.5}]}`) },
		"no score":     func(w http.ResponseWriter) { io.WriteString(w, `{"scores":[{"score":0.5},{"label":"pos"}]}`) },
		"bad label": func(w http.ResponseWriter) {
			io.WriteString(w, `{"scores":[{"score":0.5},{"score":0.5,"label":"positive"}]}`)
		},
		"string score": func(w http.ResponseWriter) { io.WriteString(w, `{"scores":[{"score":"0.5"},{"score":0.5}]}`) },
		"truncated":    func(w http.ResponseWriter) { io.WriteString(w, `{"scores":[{"score":0.5},{"sco`) },
		"too large": func(w http.ResponseWriter) {
			io.WriteString(w, `{"scores":[{"score":0.5},{"score":0.5}],"pad":"`+strings.Repeat("a", 7000)+`"}`)
		},
		"status 503": func(w http.ResponseWriter) {
			w.WriteHeader(503)
			io.WriteString(w, `{"scores":[{"score":0.5},{"score":0.5}]}`)
		},
		"status 204":      func(w http.ResponseWriter) { w.WriteHeader(204) },
		"connection drop": nil,
	} {
		t.Run(name, func(t *testing.T) {
			rc := newReceiver(t)
			rc.setHandle(func(w http.ResponseWriter, _ *http.Request, _ []string) bool {
				if answer == nil {
					conn, _, _ := w.(http.Hijacker).Hijack()
					conn.Close()
				} else {
					answer(w)
				}
				return true
			})
			r, _ := NewRemote(RemoteConfig{URL: rc.URL, MaxBatch: 2, MaxWait: time.Hour})
			defer r.Close()
			var wg sync.WaitGroup
			var got [2]Result
			wg.Add(2)
			r.Submit("terrible", func(res Result) { got[0] = res; wg.Done() })
			r.Submit("lovely", func(res Result) { got[1] = res; wg.Done() })
			wg.Wait()
			if got[0].Source != FromLexicon || got[0].Label != Negative || got[1].Source != FromLexicon || got[1].Label != Positive {
				t.Errorf("%+v: want both scored by the lexicon", got)
			}
			if s := r.Stats(); s.Failed != 1 || s.FailedTexts != 2 || s.Remote != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

// TestRemoteDeadServiceDoesNotBlock: a service that never answers holds at
// most MaxPending texts plus the batches in hand; every other Submit is
// answered by the lexicon at once, and Close answers the rest.
func TestRemoteDeadServiceDoesNotBlock(t *testing.T) {
	rc := newReceiver(t)
	rc.setHandle(func(w http.ResponseWriter, req *http.Request, _ []string) bool {
		<-req.Context().Done() // until Close cancels the request
		return true
	})
	const maxPending, maxBatch, conc, n = 10, 2, 1, 200
	r, _ := NewRemote(RemoteConfig{URL: rc.URL, MaxBatch: maxBatch, MaxWait: time.Hour, Concurrency: conc, MaxPending: maxPending, Timeout: time.Hour})
	var calls, immediate atomic.Int64
	for range n {
		var returned atomic.Bool
		r.Submit("hello", func(Result) {
			calls.Add(1)
			if !returned.Load() {
				immediate.Add(1)
			}
		})
		returned.Store(true)
	}
	held := n - immediate.Load()
	if bound := int64(maxPending + (conc+1)*maxBatch); held > bound {
		t.Errorf("%d texts held by a dead service, want at most %d", held, bound)
	}
	if s := r.Stats(); s.Full != uint64(immediate.Load()) {
		t.Errorf("stats %+v: Full != %d", s, immediate.Load())
	}
	r.Close()
	if c := calls.Load(); c != n {
		t.Errorf("after Close, done called %d times for %d texts", c, n)
	}
	if s := r.Stats(); s.Closed != uint64(held) || s.Failed != 0 || s.Breaker != "closed" {
		t.Errorf("stats after Close %+v (held %d)", s, held)
	}
	if res := submitWait(t, r, "good"); res.Source != FromLexicon || r.Stats().Closed != uint64(held)+1 {
		t.Errorf("after Close: %+v, %+v", res, r.Stats())
	}
}

func TestRemoteUnreachable(t *testing.T) {
	rc := newReceiver(t)
	url := rc.URL
	rc.Close() // nothing listens there now
	r, _ := NewRemote(RemoteConfig{URL: url, MaxBatch: 1, Failures: 2})
	defer r.Close()
	for range 2 {
		if res := submitWait(t, r, "bad"); res.Source != FromLexicon || res.Label != Negative {
			t.Fatalf("%+v", res)
		}
	}
	if s := r.Stats(); s.Breaker != "open" || s.Failed != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestRemoteCutsLongTexts(t *testing.T) {
	rc := newReceiver(t)
	r, _ := NewRemote(RemoteConfig{URL: rc.URL, MaxBatch: 1, MaxTextBytes: 10})
	defer r.Close()
	submitWait(t, r, "好好好好") // 12 bytes: cut to 3 runes, 9 bytes
	rc.mu.Lock()
	got := rc.batches[0][0]
	rc.mu.Unlock()
	if got != "好好好" {
		t.Errorf("sent %q", got)
	}
}

func TestNewRemoteChecksURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:9000", "ftp://x/", "http://"} {
		if _, err := NewRemote(RemoteConfig{URL: u}); err == nil {
			t.Errorf("URL %q accepted", u)
		}
	}
}
