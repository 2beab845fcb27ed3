package app

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsmon/wsmon/internal/analysis"
	"github.com/wsmon/wsmon/internal/ingest"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/terms"
	"github.com/wsmon/wsmon/internal/web"
)

// leadTask is work that runs only in the collector holding the index
// lease (on SQLite the one monitor always does): the analyses behind
// ingest and the scheduled reports. set(true) prepares and starts it,
// set(false) stops it and waits, so a collector that takes the lease over
// from one that died or stopped continues the work, and one that loses it
// stops.
//
// Goroutines: set is called by the monitor's lease loop, and at the start
// and end of Run; mu serialises the calls. The work's run func runs on a
// goroutine of its own until its context ends.
type leadTask struct {
	name   string
	parent context.Context
	log    *slog.Logger
	// start prepares the work (synchronously: an error leaves the task
	// stopped) and returns what runs until ctx ends.
	start func(ctx context.Context) (run func(), err error)

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// set starts (lead) or stops the task; it does nothing if the task is
// already so. An error preparing it is returned (and the task stays
// stopped).
func (t *leadTask) set(lead bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if lead == (t.cancel != nil) {
		return nil
	}
	if !lead {
		t.cancel()
		<-t.done
		t.cancel, t.done = nil, nil
		return nil
	}
	ctx, cancel := context.WithCancel(t.parent)
	run, err := t.start(ctx)
	if err != nil {
		cancel()
		return err
	}
	done := make(chan struct{})
	t.cancel, t.done = cancel, done
	go func() {
		defer close(done)
		run()
	}()
	return nil
}

// analyses runs the analyzer (package analysis) as a leadTask and answers
// the analysis queries: from the running analyzer while this collector
// holds the index lease, else from the saved states (analysis.Reader), as
// a separate web process does. It is the pipeline's committer for the
// analyses too (batches go to the running analyzer, or nowhere).
type analyses struct {
	opts   analysis.Options
	reader *analysis.Reader
	task   leadTask
	an     atomic.Pointer[analysis.Analyzer]
}

func newAnalyses(parent context.Context, opts analysis.Options, reader *analysis.Reader, log *slog.Logger) *analyses {
	a := &analyses{opts: opts, reader: reader}
	a.task = leadTask{name: "analyses", parent: parent, log: log, start: func(ctx context.Context) (func(), error) {
		// New loads the saved state and counts what was committed after
		// it (by any collector), so the work continues where the last
		// analyzer saved it.
		an, err := analysis.New(ctx, a.opts)
		if err != nil {
			return nil, err
		}
		a.an.Store(an)
		return func() {
			if err := an.Run(ctx); err != nil && ctx.Err() == nil {
				log.Error("analyses stopped", "error", err)
			}
			// Run saved the state; queries read it from now on.
			a.an.Store(nil)
		}, nil
	}}
	return a
}

// Committed passes a committed batch to the running analyzer
// (ingest.Committer); without one it is counted by whichever collector
// runs the analyses, from the database.
func (a *analyses) Committed(msgs []message.Message) error {
	if an := a.an.Load(); an != nil {
		return an.Committed(msgs)
	}
	return nil
}

// Analyzer is the running analyzer, or nil.
func (a *analyses) Analyzer() *analysis.Analyzer { return a.an.Load() }

func (a *analyses) current() web.Analysis {
	if an := a.an.Load(); an != nil {
		return an
	}
	return a.reader
}

// Terms answers /api/analysis/terms (web.Analysis).
func (a *analyses) Terms(ctx context.Context, day terms.Day, room string, limit int) (analysis.TermsResult, error) {
	return a.current().Terms(ctx, day, room, limit)
}

// Sentiment answers /api/analysis/sentiment (web.Analysis).
func (a *analyses) Sentiment(ctx context.Context, target, room string, from, to terms.Day) (analysis.SentimentResult, error) {
	return a.current().Sentiment(ctx, target, room, from, to)
}

// Anomalies answers /api/analysis/anomalies (web.Analysis).
func (a *analyses) Anomalies(ctx context.Context, q analysis.AnomalyQuery) (analysis.AnomaliesResult, error) {
	return a.current().Anomalies(ctx, q)
}

// Users answers /api/analysis/users (web.Analysis).
func (a *analyses) Users(ctx context.Context, q analysis.UsersQuery) (analysis.UsersResult, error) {
	return a.current().Users(ctx, q)
}

// User answers /api/analysis/users/{name} (web.Analysis).
func (a *analyses) User(ctx context.Context, name string, from, to time.Time) (analysis.UserResult, error) {
	return a.current().User(ctx, name, from, to)
}

// Activity answers /api/analysis/activity (web.Analysis).
func (a *analyses) Activity(ctx context.Context, q analysis.ActivityQuery) (analysis.ActivityResult, error) {
	return a.current().Activity(ctx, q)
}

var (
	_ ingest.Committer = (*analyses)(nil)
	_ web.Analysis     = (*analyses)(nil)
)
