// Package app assembles wsmon's parts into the running modes of the brief
// (monitor, web, all): it builds the store, journal, ingest pipeline,
// capture runners, live hub and web server from a Config and runs them
// under one context with an orderly shutdown. It holds no logic of its
// own beyond wiring and lifecycle.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/wsmon/wsmon/internal/alert"
	"github.com/wsmon/wsmon/internal/capture"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/ingest"
	"github.com/wsmon/wsmon/internal/journal"
	"github.com/wsmon/wsmon/internal/live"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/protocol/registry"
	"github.com/wsmon/wsmon/internal/store"
)

// Monitor is the capture side of wsmon: runners -> journal -> pipeline ->
// store, with live publishing and notifications.
type Monitor struct {
	cfg      config.Config
	log      *slog.Logger
	store    *store.Store
	journal  *journal.Journal
	pipeline *ingest.Pipeline
	msglog   *ingest.MessageLog
	notifier *alert.Notifier
	runners  []*capture.Runner
	version  string
}

// MonitorOptions are the parts a Monitor shares with the rest of the
// process.
type MonitorOptions struct {
	Store   *store.Store
	Hub     *live.Hub // may be nil
	Logger  *slog.Logger
	Version string
	// Committers are told about every committed batch (the indexer).
	Committers []ingest.Committer
	// IngestStore, when set, is what the pipeline writes through instead
	// of Store (fault injection: a slow, locked or full database).
	IngestStore ingest.Store
}

// NewMonitor builds (but does not start) the capture side. It opens the
// journal next to the database and prepares one runner per target.
func NewMonitor(ctx context.Context, cfg config.Config, o MonitorOptions) (*Monitor, error) {
	m := &Monitor{cfg: cfg, log: o.Logger, store: o.Store, version: o.Version}
	decoders := map[string]ingest.Decoder{}
	targets := cfg.ResolvedTargets()
	for _, t := range targets {
		fm, err := message.ParseFieldMap(t.FieldMap)
		if err != nil {
			return nil, fmt.Errorf("target %s: field_map: %w", t.Name, err)
		}
		adapter, why, err := registry.New(t.Protocol, t.AdapterConfig())
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", t.Name, err)
		}
		if why != "" {
			o.Logger.Info("protocol auto", "target", t.Name, "picked", adapter.Name(), "why", why)
		}
		decoders[t.Name] = ingest.Decoder{Adapter: adapter, Normalizer: message.NewNormalizer(fm, 0)}
	}

	// The journal continues after what the database has applied.
	applied, err := o.Store.AppliedSeq(ctx)
	if err != nil {
		return nil, err
	}
	jdir := cfg.DataDir
	if jdir == "" {
		jdir = filepath.Dir(cfg.DatabasePath)
	}
	j, err := journal.Open(filepath.Join(jdir, "journal"), applied+1, journal.Options{})
	if err != nil {
		return nil, err
	}
	m.journal = j
	var pubs []ingest.Publisher
	if o.Hub != nil {
		pubs = append(pubs, o.Hub)
	}
	if cfg.EnableNotifications {
		m.notifier = alert.New(cfg.NotificationKeywords, cfg.NotifyWebhook, o.Logger)
		pubs = append(pubs, m.notifier)
	}
	commits := append([]ingest.Committer(nil), o.Committers...)
	if cfg.MessageLogEnabled() {
		ml, err := ingest.NewMessageLog(cfg.LogDir, cfg.Location(), o.Logger)
		if err != nil {
			j.Close()
			return nil, err
		}
		m.msglog = ml
		commits = append(commits, ml)
	}
	var ist ingest.Store = o.Store
	if o.IngestStore != nil {
		ist = o.IngestStore
	}
	m.pipeline, err = ingest.New(ctx, ingest.Options{Journal: j, Store: ist, Decoders: decoders,
		BatchSize: cfg.BatchSize, DedupWindow: cfg.DedupWindow.Duration(), Logger: o.Logger,
		Publishers: pubs, Committers: commits})
	if err != nil {
		j.Close()
		return nil, err
	}
	sink := ingest.Recorder{J: j}
	for _, t := range targets {
		m.runners = append(m.runners, capture.NewRunner(capture.Options{
			Name:                 t.Name,
			URL:                  t.URL,
			Headers:              t.Headers,
			Subprotocols:         t.Subprotocols,
			CAFile:               t.CAFile,
			InsecureSkipVerify:   t.InsecureSkipVerify,
			ReadLimit:            t.ReadLimitBytes,
			Adapter:              decoders[t.Name].Adapter,
			SendOnConnect:        t.SendOnConnect,
			KeepControl:          t.KeepControl,
			Version:              o.Version,
			ReconnectInterval:    cfg.ReconnectInterval.Duration(),
			ReconnectMax:         cfg.ReconnectMaxInterval.Duration(),
			StableAfter:          cfg.StableAfter.Duration(),
			MaxReconnectAttempts: cfg.MaxReconnectAttempts,
			PingInterval:         cfg.PingInterval.Duration(),
			PongTimeout:          cfg.PongTimeout.Duration(),
			Logger:               o.Logger,
		}, sink))
	}
	return m, nil
}

// Status returns every runner's status.
func (m *Monitor) Status() []capture.Status {
	out := make([]capture.Status, len(m.runners))
	for i, r := range m.runners {
		out[i] = r.Status()
	}
	return out
}

// URLs returns each target's URL by name (for the dashboard's status card).
func (m *Monitor) URLs() map[string]string {
	out := map[string]string{}
	for _, t := range m.cfg.ResolvedTargets() {
		out[t.Name] = t.URL
	}
	return out
}

// Pipeline exposes the ingest counters.
func (m *Monitor) Pipeline() *ingest.Pipeline { return m.pipeline }

// Run captures until ctx is cancelled, then stops cleanly: runners close
// their connections, the journal is closed and the pipeline writes
// everything it holds. It returns an error when every runner gave up (the
// error says why) or when the final flush failed; records that could not be
// written stay in the journal for the next start.
func (m *Monitor) Run(ctx context.Context) error {
	pipeCtx, cancelPipe := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPipe()
	pipeDone := make(chan error, 1)
	go func() { pipeDone <- m.pipeline.Run(pipeCtx) }()

	aux, cancelAux := context.WithCancel(ctx)
	defer cancelAux()
	if m.notifier != nil {
		go m.notifier.Run(aux)
	}
	if m.cfg.AutoBackupHours > 0 {
		go m.backups(aux, time.Duration(m.cfg.AutoBackupHours*float64(time.Hour)))
	}

	var wg sync.WaitGroup
	errs := make([]error, len(m.runners))
	for i, r := range m.runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx); err != nil {
				errs[i] = err
				m.log.Error("capture stopped", "target", r.Status().Target, "error", err)
			}
		}()
	}
	wg.Wait() // all runners returned: ctx cancelled, or every one gave up
	cancelAux()

	// Clean stop: no more appends; the pipeline drains the journal.
	if err := m.journal.Close(); err != nil {
		m.log.Error("journal close", "error", err)
	}
	var perr error
	select {
	case perr = <-pipeDone:
	case <-time.After(30 * time.Second):
		m.log.Error("database did not take the last records within 30 s; they stay in the journal for the next start")
		cancelPipe()
		perr = <-pipeDone
	}
	if m.msglog != nil {
		if err := m.msglog.Close(); err != nil {
			m.log.Warn("message log close", "error", err)
		}
	}
	st := m.pipeline.Stats()
	m.log.Info("monitor stopped", "messages", st.Messages, "duplicates", st.Duplicates, "applied_seq", st.AppliedSeq)
	if perr != nil {
		return perr
	}
	if ctx.Err() == nil {
		return errors.Join(errs...)
	}
	return nil
}

// backups writes data/backup_YYYYMMDD_HHMMSS.db every interval and keeps
// the newest backup_keep.
func (m *Monitor) backups(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			path := m.store.BackupName(now)
			if err := m.store.Backup(ctx, path); err != nil {
				m.log.Error("automatic backup failed", "error", err)
				continue
			}
			m.log.Info("backup written", "path", path)
			if err := m.store.PruneBackups(max(m.cfg.BackupKeep, 1)); err != nil {
				m.log.Warn("pruning backups", "error", err)
			}
		}
	}
}
