package notify

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// testAlert is a keyword hit with hostile content: quotes, newlines,
// template syntax, mention markup of every platform, CR/LF header
// injection and non-ASCII text.
func testAlert() Alert {
	return Alert{
		ID: 42, Rule: "urgent", RuleType: "keyword", Target: "demo", Room: "lobby", User: "mallory",
		Content:   "紧急 \"quoted\" {{.Rule}} <!channel> <@U123> <at user_id=\"all\">所有人</at> & done\r\nBcc: victim@example.com\n.\nlast",
		MessageID: 7,
		Detail:    `keyword "紧急" from mallory in #lobby`,
		At:        time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC),
	}
}

// quietLogger discards everything; the tests assert on Stats.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startDispatcher builds a dispatcher and runs it until the test ends,
// then checks that Run returned.
func startDispatcher(t *testing.T, cfgs []Config, opts Options) *Dispatcher {
	t.Helper()
	d := newDispatcher(t, cfgs, opts)
	runDispatcher(t, d)
	return d
}

func newDispatcher(t *testing.T, cfgs []Config, opts Options) *Dispatcher {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	if opts.RetryMin == 0 {
		opts.RetryMin = time.Millisecond
	}
	if opts.RetryMax == 0 {
		opts.RetryMax = 5 * time.Millisecond
	}
	d, err := NewDispatcher(cfgs, opts)
	if err != nil {
		t.Fatalf("NewDispatcher: %v", err)
	}
	return d
}

func runDispatcher(t *testing.T, d *Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context was cancelled")
		}
	})
}

// waitStats waits until cond holds for the named sink's stats.
func waitStats(t *testing.T, d *Dispatcher, name string, cond func(SinkStats) bool) SinkStats {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := statsOf(t, d, name)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink %q: condition not reached; stats %+v", name, s)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func statsOf(t *testing.T, d *Dispatcher, name string) SinkStats {
	t.Helper()
	for _, s := range d.Stats() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no stats for sink %q", name)
	return SinkStats{}
}

// recorder is an httptest server whose handler answers with the next of
// its responses (the last one repeats) and records every request.
type recorder struct {
	srv *httptest.Server

	mu        sync.Mutex
	requests  []recorded
	responses []response
}

type recorded struct {
	at     time.Time
	url    string
	header http.Header
	body   []byte
}

type response struct {
	status int
	header map[string]string
	body   string
}

func newRecorder(t *testing.T, responses ...response) *recorder {
	t.Helper()
	r := &recorder{responses: responses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.requests)
		r.requests = append(r.requests, recorded{at: time.Now(), url: req.URL.String(), header: req.Header.Clone(), body: body})
		resp := response{status: 200, body: "ok"}
		if len(r.responses) > 0 {
			resp = r.responses[min(n, len(r.responses)-1)]
		}
		r.mu.Unlock()
		for k, v := range resp.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(resp.status)
		io.WriteString(w, resp.body)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) got() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.requests...)
}

// closedURL is an http URL on 127.0.0.1 where nothing listens.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/hook"
}
