package bench

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/wsmon/wsmon/internal/analysis"

	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/ingest"
	"github.com/wsmon/wsmon/internal/journal"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/protocol"
	"github.com/wsmon/wsmon/internal/protocol/raw"
	"github.com/wsmon/wsmon/internal/store"
)

// Env is the real write path without the network: journal (in dir),
// ingest pipeline, store and indexer.
type Env struct {
	Dir      string
	Store    *store.Store
	Journal  *journal.Journal
	Pipeline *ingest.Pipeline
	Index    *index.Indexer
	rec      ingest.Recorder
	session  int64
	cancel   context.CancelFunc
	pipeDone chan error
	ixDone   chan error
	runCtx   context.Context
	// an is the analyzer behind ingest (StartAnalysis), or nil.
	an     atomic.Pointer[analysis.Analyzer]
	anDone chan error
}

// anForward hands committed batches to the Env's analyzer, once started.
type anForward struct{ e *Env }

func (f anForward) Committed(msgs []message.Message) error {
	if an := f.e.an.Load(); an != nil {
		return an.Committed(msgs)
	}
	return nil
}

// Target is the target name the corpus is recorded under.
const Target = "bench"

// Open starts the write path with its journal in dir on the database of
// db: the SQLite file dir/chat_monitor.db when db names none (created if
// needed).
func Open(ctx context.Context, dir string, db store.Options, log *slog.Logger, ixOpts index.Options) (*Env, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if db.Driver != "postgres" && db.Path == "" {
		db.Path = filepath.Join(dir, "chat_monitor.db")
	}
	st, err := store.Open(ctx, db)
	if err != nil {
		return nil, err
	}
	ixOpts.Logger = log
	ix, err := index.New(ctx, st, ixOpts)
	if err != nil {
		st.Close()
		return nil, err
	}
	applied, err := st.AppliedSeq(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	j, err := journal.Open(filepath.Join(dir, "journal"), applied+1, journal.Options{})
	if err != nil {
		st.Close()
		return nil, err
	}
	dec := ingest.Decoder{Adapter: raw.Default(), Normalizer: message.NewNormalizer(message.FieldMap{}, 0)}
	e := &Env{}
	p, err := ingest.New(ctx, ingest.Options{Journal: j, Store: st, Decoders: map[string]ingest.Decoder{Target: dec},
		Committers: []ingest.Committer{ix, anForward{e}}, Logger: log})
	if err != nil {
		j.Close()
		st.Close()
		return nil, err
	}
	e.Dir, e.Store, e.Journal, e.Pipeline, e.Index, e.rec = dir, st, j, p, ix, ingest.Recorder{J: j}
	e.pipeDone, e.ixDone = make(chan error, 1), make(chan error, 1)
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.cancel, e.runCtx = cancel, rctx
	go func() { e.pipeDone <- p.Run(rctx) }()
	go func() { e.ixDone <- ix.Run(rctx) }()
	e.session, err = e.rec.SessionStart(Target, "ws://bench/", "raw", time.Now())
	if err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// StartAnalysis runs the analyses of opts (Store is set here) behind
// ingest, as the monitor does: committed batches are handed to the
// analyzer, which loads its saved state and counts what came after it.
func (e *Env) StartAnalysis(ctx context.Context, opts analysis.Options) (*analysis.Analyzer, error) {
	opts.Store = e.Store
	an, err := analysis.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	e.an.Store(an)
	e.anDone = make(chan error, 1)
	go func() { e.anDone <- an.Run(e.runCtx) }()
	return an, nil
}

// Add journals one frame received at at.
func (e *Env) Add(frame []byte, at time.Time) error {
	return e.rec.Frame(Target, e.session, at, protocol.Frame{Data: frame}, "")
}

// WaitCommitted waits until the pipeline has committed n messages since
// Open.
func (e *Env) WaitCommitted(n int64, within time.Duration) error {
	deadline := time.Now().Add(within)
	for e.Pipeline.Stats().Messages < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: %d of %d messages committed after %v", e.Pipeline.Stats().Messages, n, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// Close stops cleanly: the journal drains, the indexer flushes.
func (e *Env) Close() error {
	e.rec.SessionEnd(Target, e.session, time.Now(), 1000, "bench done", "", 0, 0)
	jerr := e.Journal.Close()
	perr := <-e.pipeDone
	e.cancel()
	ierr := <-e.ixDone
	if e.anDone != nil {
		if err := <-e.anDone; err != nil && ierr == nil {
			ierr = err
		}
	}
	serr := e.Store.Close()
	for _, err := range []error{jerr, perr, ierr, serr} {
		if err != nil {
			return err
		}
	}
	return nil
}
