package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Options tune a Dispatcher; the zero value gives the defaults.
type Options struct {
	// Logger receives delivery failures (Warn when an alert is given up,
	// Info per retry); nil: slog.Default().
	Logger *slog.Logger
	// Client makes the HTTP requests; nil: a client with a 10 s timeout
	// that does not follow redirects.
	Client *http.Client
	// TLSConfig is used for email over TLS (RootCAs, for a private CA);
	// nil: the system roots. ServerName defaults to the SMTP host.
	TLSConfig *tls.Config
	// QueueSize bounds each sink's queue of undelivered alerts (default
	// 1000); an alert that does not fit is dropped and counted.
	QueueSize int
	// MaxAttempts is how often an alert is tried before it is given up
	// and counted as failed (default 5).
	MaxAttempts int
	// RetryMin and RetryMax bound the wait before a retry (defaults 1 s
	// and 5 min): RetryMin doubled per attempt, with jitter, at most
	// RetryMax. A server's Retry-After (or a platform's known throttle
	// time) is waited for when longer, but never more than RetryMax.
	RetryMin, RetryMax time.Duration
	// Outcome, when set, is told each alert's final outcome per sink
	// (OutcomeSent, OutcomeFailed with the error, OutcomeDropped), on the
	// sink's goroutine (Send's for a drop); it must not block for long.
	Outcome func(a Alert, sink, outcome string, err error)
}

// Defaults of Options.
const (
	DefaultQueueSize   = 1000
	DefaultMaxAttempts = 5
	DefaultRetryMin    = time.Second
	DefaultRetryMax    = 5 * time.Minute
	DefaultHTTPTimeout = 10 * time.Second
)

// Delivery outcomes, as counted in SinkStats and named in metrics.
const (
	OutcomeSent    = "sent"    // delivered
	OutcomeFailed  = "failed"  // given up: a permanent error or MaxAttempts attempts
	OutcomeRetried = "retried" // an attempt failed and another follows
	OutcomeDropped = "dropped" // the sink's queue was full
)

// SinkStats is the delivery state of one sink.
type SinkStats struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Queued  int    `json:"queued"`  // alerts waiting now (not counting the one being delivered)
	Sent    int64  `json:"sent"`    // alerts delivered
	Failed  int64  `json:"failed"`  // alerts given up (permanent error, or MaxAttempts attempts)
	Retried int64  `json:"retried"` // failed attempts that were retried
	Dropped int64  `json:"dropped"` // alerts not queued because the queue was full
	// LastError is the error of the latest failed attempt, retried or
	// not; it stays after a later success (compare LastErrorAt with
	// LastSentAt). It names no URL path or query: those hold tokens.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	LastSentAt  time.Time `json:"last_sent_at,omitzero"` // latest delivery
}

// Dispatcher delivers alerts to sinks by name, asynchronously. It owns
// one goroutine per sink, started by Run; Send, Stats and Names may be
// called from any goroutine, before, during or after Run.
type Dispatcher struct {
	log     *slog.Logger
	opts    Options
	sinks   []*sink
	byName  map[string]*sink
	running atomic.Bool
}

// sink is one configured sink: its queue, its deliverer and its counters.
type sink struct {
	name, typ string
	queue     chan *Alert
	d         deliverer

	sent, failed, retried, dropped atomic.Int64

	mu          sync.Mutex
	lastErr     string
	lastErrAt   time.Time
	lastSentAt  time.Time
	loggedDrops int64
}

// deliverer makes one delivery attempt. An error that is not a *failure
// is retried.
type deliverer interface {
	deliver(ctx context.Context, a *Alert) error
}

// failure is a failed attempt whose handling is known: permanent ones
// are given up at once; others wait at least after before the retry.
type failure struct {
	err       error
	permanent bool
	after     time.Duration
}

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func permanent(err error) error { return &failure{err: err, permanent: true} }

// NewDispatcher validates cfgs (ValidateAll) and returns a dispatcher for
// them; nothing is delivered until Run.
func NewDispatcher(cfgs []Config, opts Options) (*Dispatcher, error) {
	if err := ValidateAll(cfgs); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Client == nil {
		opts.Client = &http.Client{
			Timeout:       DefaultHTTPTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = DefaultRetryMin
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = DefaultRetryMax
	}
	opts.RetryMax = max(opts.RetryMax, opts.RetryMin)
	hostname, _ := os.Hostname()
	if hostname == "" {
		hostname = "localhost"
	}
	d := &Dispatcher{log: opts.Logger.With("component", "notify"), opts: opts, byName: make(map[string]*sink, len(cfgs))}
	for _, c := range cfgs {
		r, err := newRenderer(c)
		if err != nil { // Validate parsed it already
			return nil, fmt.Errorf("notifier %q: template: %w", c.Name, err)
		}
		s := &sink{name: c.Name, typ: c.Type, queue: make(chan *Alert, opts.QueueSize)}
		if c.Type == TypeEmail {
			if s.d, err = newEmailSink(c, r, opts.TLSConfig, hostname); err != nil {
				return nil, fmt.Errorf("notifier %q: %w", c.Name, err)
			}
		} else {
			s.d = &httpSink{cfg: c, r: r, client: opts.Client}
		}
		d.sinks = append(d.sinks, s)
		d.byName[c.Name] = s
	}
	return d, nil
}

// Names returns the sinks' names in configuration order.
func (d *Dispatcher) Names() []string {
	names := make([]string, len(d.sinks))
	for i, s := range d.sinks {
		names[i] = s.name
	}
	return names
}

// Send queues a for each named sink and returns at once; it never blocks.
// A sink whose queue is full drops a and counts it (OutcomeDropped); an
// unknown name is logged and skipped; a name listed twice gets a once.
// Content longer than MaxContent is cut first. The alert is copied: the
// caller may reuse a.
func (d *Dispatcher) Send(a Alert, sinks []string) {
	if len(sinks) == 0 {
		return
	}
	a.Content = cutBytes(a.Content, MaxContent)
	p := &a // shared, read-only, by every sink's queue
	for i, name := range sinks {
		if i > 0 && containsBefore(sinks, i) {
			continue
		}
		s := d.byName[name]
		if s == nil {
			d.log.Warn("alert for an unknown notifier not sent", "notifier", name, "alert", a.ID)
			continue
		}
		select {
		case s.queue <- p:
		default:
			n := s.dropped.Add(1)
			s.mu.Lock()
			// One log line per power of two of drops, not one per alert.
			logIt := n >= 2*s.loggedDrops || s.loggedDrops == 0
			if logIt {
				s.loggedDrops = n
			}
			s.mu.Unlock()
			if logIt {
				d.log.Warn("notifier queue full; alert dropped", "notifier", name, "alert", a.ID, "dropped_total", n, "queue_size", cap(s.queue))
			}
			d.outcome(p, name, OutcomeDropped, nil)
		}
	}
}

func containsBefore(names []string, i int) bool {
	for _, n := range names[:i] {
		if n == names[i] {
			return true
		}
	}
	return false
}

// Run delivers queued alerts, one goroutine per sink, until ctx ends,
// then returns once every goroutine has stopped: an attempt in flight is
// cancelled with ctx, alerts still queued stay undelivered (they are in
// the alert history; the count is logged). Run may be called once; a
// second call returns at once.
func (d *Dispatcher) Run(ctx context.Context) {
	if !d.running.CompareAndSwap(false, true) {
		d.log.Error("notify: Run called twice")
		return
	}
	var wg sync.WaitGroup
	for _, s := range d.sinks {
		wg.Go(func() { d.runSink(ctx, s) })
	}
	<-ctx.Done()
	wg.Wait()
	for _, s := range d.sinks {
		if n := len(s.queue); n > 0 {
			d.log.Warn("stopping with alerts undelivered", "notifier", s.name, "queued", n)
		}
	}
}

func (d *Dispatcher) runSink(ctx context.Context, s *sink) {
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case a := <-s.queue:
			if ctx.Err() != nil {
				// Stopping (select picks at random among ready cases):
				// leave it queued, so the undelivered count is right.
				select {
				case s.queue <- a:
				default:
				}
				return
			}
			d.deliver(ctx, s, a)
		}
	}
}

// deliver tries a on s up to MaxAttempts times and counts the outcome.
func (d *Dispatcher) deliver(ctx context.Context, s *sink, a *Alert) {
	for attempt := 1; ; attempt++ {
		err := s.d.deliver(ctx, a)
		if err == nil {
			s.sent.Add(1)
			s.mu.Lock()
			s.lastSentAt = time.Now()
			s.mu.Unlock()
			d.outcome(a, s.name, OutcomeSent, nil)
			return
		}
		if ctx.Err() != nil {
			return // stopping: neither sent nor given up
		}
		var f *failure
		isFailure := errors.As(err, &f)
		if (isFailure && f.permanent) || attempt >= d.opts.MaxAttempts {
			s.failed.Add(1)
			s.setError(err)
			d.log.Warn("alert not delivered", "notifier", s.name, "type", s.typ, "alert", a.ID, "attempts", attempt, "error", err)
			d.outcome(a, s.name, OutcomeFailed, err)
			return
		}
		var after time.Duration
		if isFailure {
			after = f.after
		}
		wait := d.backoff(attempt, after)
		s.retried.Add(1)
		s.setError(err)
		d.log.Info("alert delivery failed; retrying", "notifier", s.name, "alert", a.ID, "attempt", attempt, "retry_in", wait.String(), "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// outcome tells Options.Outcome, if set.
func (d *Dispatcher) outcome(a *Alert, sink, outcome string, err error) {
	if d.opts.Outcome != nil {
		d.opts.Outcome(*a, sink, outcome, err)
	}
}

// backoff is the wait after failed attempt n (1-based): RetryMin·2^(n-1)
// at most RetryMax, jittered to between half and all of it, and at least
// after (the server's Retry-After), but never more than RetryMax.
func (d *Dispatcher) backoff(n int, after time.Duration) time.Duration {
	b := d.opts.RetryMax
	if n-1 < 62 {
		if e := d.opts.RetryMin << (n - 1); e > 0 && e < b && e>>(n-1) == d.opts.RetryMin {
			b = e
		}
	}
	w := b/2 + rand.N(b/2+1)
	return min(max(w, after), d.opts.RetryMax)
}

func (s *sink) setError(err error) {
	s.mu.Lock()
	s.lastErr = err.Error()
	s.lastErrAt = time.Now()
	s.mu.Unlock()
}

// Stats returns every sink's counters and last error, in configuration
// order.
func (d *Dispatcher) Stats() []SinkStats {
	out := make([]SinkStats, len(d.sinks))
	for i, s := range d.sinks {
		s.mu.Lock()
		out[i] = SinkStats{Name: s.name, Type: s.typ, Queued: len(s.queue),
			Sent: s.sent.Load(), Failed: s.failed.Load(), Retried: s.retried.Load(), Dropped: s.dropped.Load(),
			LastError: s.lastErr, LastErrorAt: s.lastErrAt, LastSentAt: s.lastSentAt}
		s.mu.Unlock()
	}
	return out
}
