package sentiment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Result is the sentiment of one text and where it came from.
type Result struct {
	Score  float64 // in [-1, 1]
	Label  Label
	Source Source
}

// Source says who scored a Result.
type Source uint8

const (
	// FromLexicon: the embedded lexicon (Score), because no external
	// classifier is configured or it could not answer.
	FromLexicon Source = iota
	// FromRemote: the external classifier.
	FromRemote
)

func (s Source) String() string {
	if s == FromRemote {
		return "remote"
	}
	return "lexicon"
}

// RemoteConfig configures an external classifier. Only URL is required.
type RemoteConfig struct {
	// URL receives POST requests in the contract of docs/analysis.md
	// ("External classifier"): {"texts": [...]} → {"scores": [...]}.
	URL string
	// Header is sent with every request (an Authorization header, say).
	Header http.Header
	// MaxBatch is the most texts in one request (default 64); a batch is
	// sent when it is full or MaxWait (default 20 ms) after its first text
	// was queued, whichever is first.
	MaxBatch int
	MaxWait  time.Duration
	// Timeout bounds one request, connection included (default 2 s).
	Timeout time.Duration
	// Concurrency is the most requests in flight (default 2).
	Concurrency int
	// MaxPending is the most texts waiting for a request (default 4096).
	// When it is reached, Submit scores with the lexicon at once: a slow
	// or dead service never grows a queue or blocks the caller.
	MaxPending int
	// After Failures consecutive failed requests (default 5) the breaker
	// opens: for Cooldown (default 30 s) every text is scored with the
	// lexicon and nothing is sent; then one request is let through as a
	// probe, which closes the breaker if it succeeds and opens it for
	// another Cooldown if not.
	Failures int
	Cooldown time.Duration
	// MaxTextBytes cuts longer texts (at a rune boundary) before they are
	// sent (default 4096).
	MaxTextBytes int
	// Client sends the requests (default: a new http.Client).
	Client *http.Client
	// Lexicon scores what the service does not (default: Default()).
	Lexicon *Lexicon

	now func() time.Time // the breaker's clock; tests set it
}

// Fallback reasons, as counted in RemoteStats.Fallback.
const (
	reasonFull   = iota // MaxPending texts were already waiting
	reasonOpen          // the breaker was open
	reasonFailed        // the request failed (error, status, timeout, malformed answer)
	reasonClosed        // Close was called first
	numReasons
)

// RemoteStats is what a Remote has done so far.
type RemoteStats struct {
	Requests    uint64 `json:"requests"`        // requests sent
	Failed      uint64 `json:"failed_requests"` // of which failed
	Remote      uint64 `json:"remote"`          // texts scored by the service
	Full        uint64 `json:"fallback_full"`   // texts scored by the lexicon because the queue was full
	Open        uint64 `json:"fallback_open"`   // … because the breaker was open
	FailedTexts uint64 `json:"fallback_failed"` // … because their request failed
	Closed      uint64 `json:"fallback_closed"` // … because the Remote was closed
	Breaker     string `json:"breaker"`         // "closed", "open" or "half-open"
	LastError   string `json:"last_error"`      // of the last failed request
}

// Remote scores texts with an external classifier over HTTP, in batches,
// and falls back to the lexicon for every text it cannot get an answer for
// (see RemoteConfig). It is safe for concurrent use.
type Remote struct {
	cfg     RemoteConfig
	client  *http.Client
	in      chan pending
	batches chan []pending
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu     sync.RWMutex // held for reading while queueing; Close takes it to stop that
	closed bool

	br breaker

	requests, failed, remote atomic.Uint64
	fallback                 [numReasons]atomic.Uint64
	lastErr                  atomic.Pointer[string]
}

type pending struct {
	text string
	done func(Result)
}

// NewRemote checks cfg, fills in its defaults and starts the Remote's
// goroutines; Close stops them.
func NewRemote(cfg RemoteConfig) (*Remote, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("sentiment: classifier URL %q: want http:// or https://", cfg.URL)
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.MaxBatch, 64)
	def(&cfg.Concurrency, 2)
	def(&cfg.MaxPending, 4096)
	def(&cfg.Failures, 5)
	def(&cfg.MaxTextBytes, 4096)
	defd(&cfg.MaxWait, 20*time.Millisecond)
	defd(&cfg.Timeout, 2*time.Second)
	defd(&cfg.Cooldown, 30*time.Second)
	if cfg.Lexicon == nil {
		cfg.Lexicon = Default()
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{}
	}
	r := &Remote{
		cfg:     cfg,
		client:  client,
		in:      make(chan pending, cfg.MaxPending),
		batches: make(chan []pending),
		br:      breaker{failures: cfg.Failures, cooldown: cfg.Cooldown, now: cfg.now},
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.wg.Add(1 + cfg.Concurrency)
	go r.batch()
	for range cfg.Concurrency {
		go r.send()
	}
	return r, nil
}

// Submit scores text and calls done exactly once with the result. It never
// blocks: when the text can be queued, done is called later from one of
// the Remote's goroutines (so done must be quick: it holds up the
// requests behind it); when it cannot (queue full, breaker open, closed),
// the lexicon scores it and done is called before Submit returns.
func (r *Remote) Submit(text string, done func(Result)) {
	if r.br.rejecting() {
		r.local(text, done, reasonOpen)
		return
	}
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		r.local(text, done, reasonClosed)
		return
	}
	select {
	case r.in <- pending{text, done}:
		r.mu.RUnlock()
	default:
		r.mu.RUnlock()
		r.local(text, done, reasonFull)
	}
}

// Close stops the Remote: requests in flight are cancelled, and every text
// still waiting is scored with the lexicon, before Close returns. Submit
// after Close scores with the lexicon.
func (r *Remote) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}

// Stats returns the Remote's counters.
func (r *Remote) Stats() RemoteStats {
	s := RemoteStats{
		Requests:    r.requests.Load(),
		Failed:      r.failed.Load(),
		Remote:      r.remote.Load(),
		Full:        r.fallback[reasonFull].Load(),
		Open:        r.fallback[reasonOpen].Load(),
		FailedTexts: r.fallback[reasonFailed].Load(),
		Closed:      r.fallback[reasonClosed].Load(),
		Breaker:     r.br.state(),
	}
	if e := r.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	return s
}

func (r *Remote) local(text string, done func(Result), reason int) {
	r.fallback[reason].Add(1)
	s, l := r.cfg.Lexicon.Score(text)
	done(Result{Score: s, Label: l, Source: FromLexicon})
}

// batch gathers queued texts into batches of up to MaxBatch, each sent at
// most MaxWait after its first text arrived.
func (r *Remote) batch() {
	defer r.wg.Done()
	defer close(r.batches)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var b []pending
	flush := func() bool {
		timer.Stop()
		if len(b) == 0 {
			return true
		}
		select {
		case r.batches <- b:
			b = nil
			return true
		case <-r.ctx.Done():
			return false
		}
	}
	for {
		select {
		case p := <-r.in:
			b = append(b, p)
			if len(b) == 1 {
				timer.Reset(r.cfg.MaxWait)
			}
			if len(b) >= r.cfg.MaxBatch && !flush() {
				r.drain(b)
				return
			}
		case <-timer.C:
			if !flush() {
				r.drain(b)
				return
			}
		case <-r.ctx.Done():
			r.drain(b)
			return
		}
	}
}

// drain scores b and everything still queued with the lexicon. Close has
// set closed under the lock, so nothing more can be queued.
func (r *Remote) drain(b []pending) {
	for _, p := range b {
		r.local(p.text, p.done, reasonClosed)
	}
	for {
		select {
		case p := <-r.in:
			r.local(p.text, p.done, reasonClosed)
		default:
			return
		}
	}
}

func (r *Remote) send() {
	defer r.wg.Done()
	for b := range r.batches {
		if !r.br.allow() {
			for _, p := range b {
				r.local(p.text, p.done, reasonOpen)
			}
			continue
		}
		results, err := r.post(b)
		if r.ctx.Err() != nil && err != nil { // cancelled by Close: not the service's fault
			r.br.cancelProbe()
			for _, p := range b {
				r.local(p.text, p.done, reasonClosed)
			}
			continue
		}
		r.br.record(err == nil)
		if err != nil {
			r.failed.Add(1)
			msg := err.Error()
			r.lastErr.Store(&msg)
			for _, p := range b {
				r.local(p.text, p.done, reasonFailed)
			}
			continue
		}
		r.remote.Add(uint64(len(b)))
		for i, p := range b {
			p.done(results[i])
		}
	}
}

// post sends one batch and returns its results, in order.
func (r *Remote) post(b []pending) ([]Result, error) {
	r.requests.Add(1)
	req := remoteRequest{Texts: make([]string, len(b))}
	for i, p := range b {
		req.Texts[i] = cut(p.text, r.cfg.MaxTextBytes)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.Timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range r.cfg.Header {
		hr.Header[k] = v
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	limit := maxResponseBytes(len(b))
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("response larger than %d bytes", limit)
	}
	return ParseResponse(data, len(b))
}

// maxResponseBytes is the largest answer accepted for n texts: 4 KiB and
// 1 KiB a text, far more than the contract needs.
func maxResponseBytes(n int) int64 { return 4096 + 1024*int64(n) }

// cut returns s shortened to at most n bytes at a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

type remoteRequest struct {
	Texts []string `json:"texts"`
}

type remoteResponse struct {
	Scores []struct {
		Score *float64 `json:"score"`
		Label *string  `json:"label"`
	} `json:"scores"`
}

// ParseResponse decodes an external classifier's answer to a request of
// n texts (the contract is in docs/analysis.md): a JSON object whose
// "scores" holds exactly n objects, in the order of the texts, each with a
// "score" in [-1, 1] and optionally a "label" ("pos", "neg" or "neu";
// without one the label is LabelOf(score)). Other fields are ignored.
// Anything else is an error, and no result is used.
func ParseResponse(data []byte, n int) ([]Result, error) {
	var resp remoteResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, fmt.Errorf("malformed response: %w", err)
	}
	if resp.Scores == nil {
		return nil, errors.New(`malformed response: no "scores"`)
	}
	if len(resp.Scores) != n {
		return nil, fmt.Errorf("malformed response: %d scores for %d texts", len(resp.Scores), n)
	}
	out := make([]Result, n)
	for i, s := range resp.Scores {
		if s.Score == nil {
			return nil, fmt.Errorf(`malformed response: scores[%d] has no "score"`, i)
		}
		v := *s.Score
		if math.IsNaN(v) || v < -1 || v > 1 {
			return nil, fmt.Errorf("malformed response: scores[%d].score %v is outside [-1, 1]", i, v)
		}
		l := LabelOf(v)
		if s.Label != nil {
			var err error
			if l, err = ParseLabel(*s.Label); err != nil {
				return nil, fmt.Errorf("malformed response: scores[%d]: %w", i, err)
			}
		}
		out[i] = Result{Score: v, Label: l, Source: FromRemote}
	}
	return out, nil
}

// breaker is a circuit breaker over consecutive failed requests.
type breaker struct {
	failures int
	cooldown time.Duration
	now      func() time.Time

	mu        sync.Mutex
	run       int       // consecutive failures
	open      bool      // open or half-open
	openUntil time.Time // while open, nothing before this
	probing   bool      // half-open: the probe is in flight
}

// rejecting reports, without changing anything, whether a text would be
// refused now: open within the cool-down, or a probe in flight.
func (b *breaker) rejecting() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open && (b.probing || b.now().Before(b.openUntil))
}

// allow reports whether a request may be sent; after the cool-down the
// first caller becomes the probe.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return true
	}
	if b.probing || b.now().Before(b.openUntil) {
		return false
	}
	b.probing = true
	return true
}

// record counts the outcome of an allowed request.
func (b *breaker) record(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ok {
		b.run, b.open, b.probing = 0, false, false
		return
	}
	b.run++
	if b.probing || b.run >= b.failures {
		b.open, b.probing = true, false
		b.openUntil = b.now().Add(b.cooldown)
	}
}

// cancelProbe forgets a probe that was cancelled rather than answered.
func (b *breaker) cancelProbe() {
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

func (b *breaker) state() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !b.open:
		return "closed"
	case b.probing || !b.now().Before(b.openUntil):
		return "half-open"
	}
	return "open"
}

// Scorer is what a caller scoring messages holds: the Lexicon itself, or
// a Remote in front of it. Submit calls done exactly once with the result.
type Scorer interface {
	Submit(text string, done func(Result))
}

var (
	_ Scorer = (*Lexicon)(nil)
	_ Scorer = (*Remote)(nil)
)

// Submit scores text with the lexicon and calls done before it returns.
func (l *Lexicon) Submit(text string, done func(Result)) {
	s, lb := l.Score(text)
	done(Result{Score: s, Label: lb, Source: FromLexicon})
}
