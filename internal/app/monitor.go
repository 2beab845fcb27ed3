// Package app assembles wsmon's parts into its run modes (monitor, web,
// all): it builds the store, journal, ingest pipeline,
// capture runners, live hub and web server from a Config and runs them
// under one context with an orderly shutdown. It holds no logic of its
// own beyond wiring and lifecycle.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/wsmon/wsmon/internal/capture"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/ingest"
	"github.com/wsmon/wsmon/internal/journal"
	"github.com/wsmon/wsmon/internal/live"
	"github.com/wsmon/wsmon/internal/metrics"
	"github.com/wsmon/wsmon/internal/notify"
	"github.com/wsmon/wsmon/internal/protocol"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/web"
)

// Monitor is the capture side of wsmon: runners -> journal -> pipeline ->
// store, with live publishing and notifications. Its set of targets is
// dynamic: config.json's targets are the starting set, and targets are
// added, changed, paused, resumed and removed at runtime (targets.go), each
// with its own runner, backoff, sessions and status.
type Monitor struct {
	cfg      config.Config
	log      *slog.Logger
	store    *store.Store
	journal  *journal.Journal
	pipeline *ingest.Pipeline
	msglog   *ingest.MessageLog
	notifier *notify.Dispatcher // delivers alerts (nil: enable_notifications off or no notifier)
	alerts   *alerting
	backupMu sync.Mutex // one backup at a time
	sink     ingest.Recorder
	version  string
	managed  bool
	// orphansUpTo is the journal's last sequence at open: sessions up to
	// it belong to earlier runs, and those still open once it is applied
	// were cut by a crash.
	orphansUpTo uint64

	// ops serialises the management operations (which wait for runners to
	// stop); mu guards the fields below and is never held while waiting.
	ops      sync.Mutex
	mu       sync.RWMutex
	targets  map[string]*target
	order    []string                  // target names, in the order they were added
	decoders map[string]ingest.Decoder // read by the pipeline; kept after a removal so journaled records still decode
	runCtx   context.Context           // nil until Run starts the runners
	closed   bool                      // Run is stopping: no more runners
	wake     chan struct{}             // something changed: write the status now

	statusMu    sync.Mutex // one status writer at a time; a removal waits for it
	lastWritten map[string]store.TargetStatus
	lastFull    time.Time

	// Failed connection attempts wait here for the status writer (a
	// runner never waits for the database).
	attemptsMu      sync.Mutex
	attempts        []store.Attempt
	attemptsDropped int

	// The heartbeat a separate web process reads (monitor_process).
	process  store.MonitorProcess
	lastBeat time.Time

	// coll is this monitor's share of a PostgreSQL database with other
	// collectors (collector.go); nil on SQLite.
	coll *collector
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
	// Managed says targets can be added and resumed while the monitor
	// runs (the API is served by this process). Run then keeps running
	// when every target has stopped; otherwise it returns.
	Managed bool
	// Mode is the run mode, recorded with the heartbeat.
	Mode Mode
	// OnIndexLease is told, on PostgreSQL, when this collector starts
	// (true) or stops holding the index lease: the indexer then writes
	// the index, or follows the one that does.
	OnIndexLease func(lead bool)
}

// NewMonitor builds (but does not start) the capture side. It opens the
// journal next to the database and loads the targets: config.json's are
// stored (source "config"), and every stored target is prepared, paused
// ones without a runner. A bad config.json target is an error; a stored
// API target that no longer builds (a protocol setting this version
// rejects) is kept, stopped with the reason, so that it can be fixed.
func NewMonitor(ctx context.Context, cfg config.Config, o MonitorOptions) (*Monitor, error) {
	m := &Monitor{cfg: cfg, log: o.Logger, store: o.Store, version: o.Version, managed: o.Managed,
		targets: map[string]*target{}, decoders: map[string]ingest.Decoder{}, wake: make(chan struct{}, 1),
		lastWritten: map[string]store.TargetStatus{},
		process:     store.MonitorProcess{PID: os.Getpid(), Mode: string(o.Mode), Version: o.Version, StartedAt: time.Now()}}
	if cfg.Postgres() {
		if err := m.register(ctx); err != nil {
			return nil, err
		}
		if err := m.takeIndexAtStart(ctx); err != nil {
			return nil, err
		}
		m.coll.onIndex = o.OnIndexLease
	}
	if err := m.loadTargets(ctx); err != nil {
		return nil, err
	}

	// The journal continues after what the database has applied.
	applied, err := o.Store.AppliedSeq(ctx)
	if err != nil {
		return nil, err
	}
	j, err := journal.Open(cfg.JournalDir(), applied+1, journal.Options{Logger: o.Logger, MaxPending: int(cfg.JournalMemoryLimitBytes)})
	if err != nil {
		return nil, err
	}
	m.journal = j
	m.orphansUpTo = j.LastSeq()
	var pubs []ingest.Publisher
	if o.Hub != nil {
		pubs = append(pubs, o.Hub)
	}
	// Rules are evaluated on committed messages (a committer), so a
	// journal replay never alerts twice.
	al, err := newAlerting(ctx, cfg, o.Store, o.Logger)
	if err != nil {
		j.Close()
		return nil, err
	}
	m.alerts = al
	if ns := cfg.EffectiveNotifiers(); cfg.EnableNotifications && len(ns) > 0 {
		st := o.Store
		d, err := notify.NewDispatcher(ns, notify.Options{Logger: o.Logger,
			Outcome: func(a notify.Alert, sink, outcome string, err error) {
				text := sink + ": " + outcome
				if err != nil {
					text += ": " + err.Error()
				}
				if err := st.AddAlertDelivery(context.Background(), a.ID, text); err != nil {
					o.Logger.Warn("recording an alert's delivery", "alert", a.ID, "error", err)
				}
			}})
		if err != nil {
			j.Close()
			return nil, err
		}
		m.notifier = d
		al.deliver = func(a store.Alert, sinks []string) {
			d.Send(notify.Alert{ID: a.ID, Rule: a.Rule, RuleType: a.RuleType, Target: a.Target, Room: a.Room, User: a.User,
				Content: a.Content, MessageID: a.MessageID, Detail: a.Detail, At: a.At}, sinks)
		}
	}
	al.checkNotify = cfg.CheckNotify
	al.reply = m.sendReply
	commits := append([]ingest.Committer(nil), o.Committers...)
	commits = append(commits, al)
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
	var base int64
	if m.coll != nil {
		base = m.coll.sessionBase()
	}
	m.pipeline, err = ingest.New(ctx, ingest.Options{Journal: j, Store: ist, Lookup: m.decoder,
		BatchSize: cfg.BatchSize, DedupWindow: cfg.DedupWindow.Duration(), Logger: o.Logger,
		Publishers: pubs, Committers: commits, SessionBase: base, PublishAfterCommit: cfg.Postgres()})
	if err != nil {
		j.Close()
		return nil, err
	}
	m.sink = ingest.Recorder{J: j}
	return m, nil
}

// runnerOptions are the capture options of target t.
func (m *Monitor) runnerOptions(t config.Target, adapter protocol.Adapter) capture.Options {
	cfg := m.cfg
	return capture.Options{
		Name:                 t.Name,
		URL:                  t.URL,
		Headers:              t.Headers,
		Subprotocols:         t.Subprotocols,
		CAFile:               t.CAFile,
		InsecureSkipVerify:   t.InsecureSkipVerify,
		ReadLimit:            t.ReadLimitBytes,
		Adapter:              adapter,
		SendOnConnect:        t.SendOnConnect,
		KeepControl:          t.KeepControl,
		Version:              strings.ReplaceAll(m.version, " ", "-"), // User-Agent: wsmon/dev-a1cc8ca
		ReconnectInterval:    cfg.ReconnectInterval.Duration(),
		FixedInterval:        !cfg.BackoffEnabled(),
		ReconnectMax:         cfg.ReconnectMaxInterval.Duration(),
		StableAfter:          cfg.StableAfter.Duration(),
		MaxReconnectAttempts: cfg.MaxReconnectAttempts,
		PingInterval:         cfg.PingInterval.Duration(),
		PongTimeout:          cfg.PongTimeout.Duration(),
		Logger:               m.log,
		OnAttempt:            func(a capture.Attempt) { m.queueAttempt(t.Name, a) },
	}
}

// maxQueuedAttempts bounds the failed attempts waiting for the status
// writer while the database cannot take them; more are counted, not kept.
const maxQueuedAttempts = 10_000

// queueAttempt keeps a failed attempt of target name for the next status
// write.
func (m *Monitor) queueAttempt(name string, a capture.Attempt) {
	m.attemptsMu.Lock()
	defer m.attemptsMu.Unlock()
	if len(m.attempts) >= maxQueuedAttempts {
		m.attemptsDropped++
		return
	}
	m.attempts = append(m.attempts, store.Attempt{Target: name, URL: a.URL, At: a.At, Step: a.Reason, Error: a.Error,
		Code: a.Code, HTTPStatus: a.HTTPStatus})
	if a.Final {
		m.poke()
	}
}

// writeAttempts stores the queued failed attempts; on failure they stay
// queued for the next try.
func (m *Monitor) writeAttempts(ctx context.Context) {
	m.attemptsMu.Lock()
	as, dropped := m.attempts, m.attemptsDropped
	m.attempts, m.attemptsDropped = nil, 0
	m.attemptsMu.Unlock()
	if dropped > 0 {
		m.log.Warn("connection attempts not recorded: the database did not take them in time", "attempts", dropped)
	}
	if len(as) == 0 {
		return
	}
	if err := m.store.AddAttempts(ctx, as); err != nil {
		if ctx.Err() == nil {
			m.log.Warn("recording connection attempts failed; will retry", "error", err)
		}
		m.attemptsMu.Lock()
		m.attempts = append(as, m.attempts...)
		if n := len(m.attempts) - maxQueuedAttempts; n > 0 {
			m.attempts, m.attemptsDropped = m.attempts[n:], m.attemptsDropped+n
		}
		m.attemptsMu.Unlock()
	}
}

// heartbeatEvery is how often the monitor tells a separate web process it
// is alive; web.MonitorDeadAfter is how stale that may get.
const heartbeatEvery = 2 * time.Second

// claimStale is how old another process's heartbeat must be before this
// one takes its collector id over (it was killed, or its machine or
// network is gone): several heartbeats missed.
const claimStale = 15 * time.Second

// heartbeat writes the process's sign of life when heartbeatEvery has
// passed (or at once with stopped set, the last one).
func (m *Monitor) heartbeat(ctx context.Context, stopped bool) {
	now := time.Now()
	if !stopped && now.Sub(m.lastBeat) < heartbeatEvery {
		return
	}
	p := m.process
	p.HeartbeatAt = now
	if stopped {
		p.StoppedAt = now
	}
	if err := m.store.Heartbeat(ctx, p); err != nil {
		if ctx.Err() == nil {
			m.log.Warn("writing the monitor heartbeat failed; will retry", "error", err)
		}
		return
	}
	m.lastBeat = now
}

// Pipeline exposes the ingest counters.
func (m *Monitor) Pipeline() *ingest.Pipeline { return m.pipeline }

// IngestCounters are what /api/stats shows of the pipeline's and the
// journal's counters.
func (m *Monitor) IngestCounters() web.IngestCounters {
	st := m.pipeline.Stats()
	recs, bytes := m.journal.Corrupt()
	h := m.journal.Health()
	c := web.IngestCounters{Duplicates: st.Duplicates, IDCollisions: st.IDCollisions,
		JournalCorruptRecords: recs, JournalCorruptBytes: bytes,
		JournalPendingBytes: int64(h.PendingBytes), JournalMemoryLimitBytes: int64(h.MaxPending),
		DroppedFrames: h.DroppedFrames, DroppedBytes: h.DroppedBytes, DatabaseError: st.LastError, Backlog: st.Backlog}
	if h.Err != nil {
		c.JournalError = h.Err.Error()
		c.JournalErrorSince = &h.Since
	}
	return c
}

// Ready reports the monitor's readiness checks (GET /readyz): the journal
// writes to disk, and the database accepts the pipeline's writes.
func (m *Monitor) Ready(ctx context.Context) []web.Check {
	h := m.journal.Health()
	j := web.Check{Name: "journal", OK: h.Err == nil}
	if h.Err != nil {
		j.Detail = fmt.Sprintf("writes failing since %s: %s", h.Since.UTC().Format(time.RFC3339), cause(h.Err))
	}
	st := m.pipeline.Stats()
	d := web.Check{Name: "database", OK: st.LastError == ""}
	if !d.OK {
		d.Detail = "writes failing; records wait in the journal"
	}
	// Targets: informational (a target that is down does not make the
	// process unready); counts only, no names.
	byState := map[string]int{}
	for _, t := range m.metricTargets() {
		byState[t.State]++
	}
	var parts []string
	for _, st := range metrics.States {
		if n := byState[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	tc := web.Check{Name: "targets", OK: true, Detail: strings.Join(parts, ", ")}
	return []web.Check{j, d, tc}
}

// cause is the innermost error: the system's reason (no space left on
// device), without the file names a readiness probe has no business
// seeing.
func cause(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

// Run captures until ctx is cancelled, then stops cleanly: every runner
// closes its connection, the journal is closed and the pipeline writes
// everything it holds. Runners come and go while it runs (targets.go).
//
// When the monitor is not managed (`wsmon monitor`: no API in this process
// can add or resume a target, and a separate `wsmon web` refuses target
// writes), no target can ever run again once every runner has stopped for
// good (refused, gave up, bad configuration) or is paused; Run then stops
// and returns why (the runners' errors, or that every target is paused). A
// managed monitor (`wsmon all`) keeps running: a target can be resumed or
// added from the dashboard. Run also returns the final flush's error;
// records that could not be written stay in the journal for the next start.
func (m *Monitor) Run(ctx context.Context) error {
	pipeCtx, cancelPipe := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelPipe()
	pipeDone := make(chan error, 1)
	go func() { pipeDone <- m.pipeline.Run(pipeCtx) }()

	aux, cancelAux := context.WithCancel(ctx)
	defer cancelAux()
	orphansDone := make(chan struct{})
	go func() { defer close(orphansDone); m.closeOrphans(aux) }()
	defer func() { cancelAux(); <-orphansDone }()
	var auxRun sync.WaitGroup
	defer func() { cancelAux(); auxRun.Wait() }()
	if m.notifier != nil {
		auxRun.Go(func() { m.notifier.Run(aux) })
	}
	auxRun.Go(func() { m.alerts.run(aux, m.targetStates) })
	if m.coll != nil {
		auxRun.Go(func() { m.leases(aux) })
	}
	switch {
	case m.cfg.AutoBackupHours > 0 && m.cfg.Postgres():
		m.log.Info("no automatic backups of a PostgreSQL database (auto_backup_hours): back it up with pg_dump or a replica")
	case m.cfg.AutoBackupHours > 0:
		auxRun.Go(func() { m.backups(aux, time.Duration(m.cfg.AutoBackupHours*float64(time.Hour))) })
	}

	// The first heartbeat before any status: a separate web process never
	// sees this run's targets without knowing the process is alive.
	m.heartbeat(ctx, false)
	m.mu.Lock()
	m.runCtx = ctx
	for _, name := range m.order {
		if t := m.targets[name]; !t.paused && t.broken == "" {
			m.startLocked(t)
		}
	}
	m.mu.Unlock()

	var runErr error
	tick := time.NewTicker(statusEvery)
	defer tick.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-tick.C:
		case <-m.wake:
		}
		m.heartbeat(ctx, false)
		m.writeStatus(ctx, false)
		m.writeAttempts(ctx)
		if !m.managed {
			if over, err := m.nothingCanRun(); over {
				runErr = err
				break wait
			}
		}
	}
	cancelAux()

	// Stop every runner (each ends its session), then write their final
	// status for a separate web process.
	m.ops.Lock()
	m.mu.Lock()
	m.closed = true
	var runs []*runner
	for _, t := range m.targets {
		if t.run != nil {
			runs = append(runs, t.run)
		}
	}
	m.mu.Unlock()
	m.ops.Unlock()
	for _, r := range runs {
		r.stop()
	}
	m.writeStatus(context.WithoutCancel(ctx), true)
	m.writeAttempts(context.WithoutCancel(ctx))

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
	if m.coll != nil {
		m.releaseAll(context.WithoutCancel(ctx))
	}
	m.heartbeat(context.WithoutCancel(ctx), true)
	st := m.pipeline.Stats()
	m.log.Info("monitor stopped", "messages", st.Messages, "duplicates", st.Duplicates, "applied_seq", st.AppliedSeq)
	if perr != nil {
		return perr
	}
	if ctx.Err() == nil {
		return runErr
	}
	return nil
}

// firstBackupAfter is how long after start the first automatic backup is
// written (then every auto_backup_hours).
const firstBackupAfter = time.Minute

// backups writes data/backups/backup_YYYYMMDD_HHMMSS.db a minute after
// start and then every interval, and keeps the newest backup_keep.
func (m *Monitor) backups(ctx context.Context, every time.Duration) {
	t := time.NewTimer(min(firstBackupAfter, every))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			t.Reset(every)
			if _, err := m.Backup(ctx); err != nil {
				m.log.Error("automatic backup failed", "error", err)
				continue
			}
			if err := m.store.PruneBackups(max(m.cfg.BackupKeep, 1)); err != nil {
				m.log.Warn("pruning backups", "error", err)
			}
		}
	}
}

// Backup writes a consistent online backup now (VACUUM INTO, while ingest
// goes on) and returns it; one backup at a time.
func (m *Monitor) Backup(ctx context.Context) (web.BackupInfo, error) {
	m.backupMu.Lock()
	defer m.backupMu.Unlock()
	path := m.store.BackupName(time.Now())
	if _, err := os.Stat(path); err == nil { // two within one second
		path = m.store.BackupName(time.Now().Add(time.Second))
	}
	t0 := time.Now()
	if err := m.store.Backup(ctx, path); err != nil {
		return web.BackupInfo{}, err
	}
	info := web.BackupInfo{Path: path, Took: time.Since(t0)}
	if fi, err := os.Stat(path); err == nil {
		info.Bytes = fi.Size()
	}
	m.log.Info("backup written", "path", path, "bytes", info.Bytes, "took", info.Took.Round(time.Millisecond))
	return info, nil
}

// closeOrphans closes the sessions an earlier run left open (it was killed
// or crashed before their end records), at their last message, once the
// pipeline has applied every record journaled before this start: then no
// record of theirs can still come. Until then they may still get messages
// or their end from the journal. Sessions of this run are never touched
// (their ids are above the journal's position at start). Stopped early by
// ctx, the next start does it.
func (m *Monitor) closeOrphans(ctx context.Context) {
	for m.pipeline.AppliedSeq() < m.orphansUpTo {
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	var base int64
	if m.coll != nil {
		base = m.coll.sessionBase()
	}
	closed, err := m.store.CloseOrphanSessions(ctx, base, base+int64(m.orphansUpTo))
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("closing sessions left open by the previous run", "error", err)
		}
		return
	}
	for _, se := range closed {
		m.log.Info("closed a session left open by the previous run (crash or kill); the outage shows as a gap",
			"target", se.Target, "session", se.ID, "closed_at", se.DisconnectedAt)
	}
}
