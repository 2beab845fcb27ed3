package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/wsmon/wsmon/internal/analysis"
	"github.com/wsmon/wsmon/internal/anomaly"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/datadir"
	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/ingest"
	"github.com/wsmon/wsmon/internal/live"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/metrics"
	"github.com/wsmon/wsmon/internal/notify"
	"github.com/wsmon/wsmon/internal/query"
	"github.com/wsmon/wsmon/internal/report"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/web"
	"github.com/wsmon/wsmon/internal/webui"
)

// Mode is a run mode: monitor, web or all.
type Mode string

// Run modes.
const (
	ModeMonitor Mode = "monitor"
	ModeWeb     Mode = "web"
	ModeAll     Mode = "all"
)

// Options carry process-level parts into Run.
type Options struct {
	Logger  *slog.Logger
	Version string
	// Listener, when set, is used for the web server instead of listening
	// on web_host:web_port (tests pass a 127.0.0.1:0 listener).
	Listener net.Listener
	// WrapIngestStore, when set, wraps the store the pipeline writes
	// through (fault-injection tests).
	WrapIngestStore func(ingest.Store) ingest.Store
	// AnalysisQueue, when set, is the analyzer's hand-off capacity in
	// batches (tests); 0: analysis.DefaultQueue.
	AnalysisQueue int
	// Analysis, when set, adjusts the analyzer's options before it is
	// made (tests: a faster clock for the anomaly detector).
	Analysis func(*analysis.Options)
	// Started, when set, is called once everything is running.
	Started func(Running)
}

// Running describes a started wsmon, for tests and embedding.
type Running struct {
	Monitor *Monitor  // nil in web mode
	WebAddr string    // "" in monitor mode
	Hub     *live.Hub // the live fan-out
	Index   *index.Indexer
	// Analyzer counts the analyses behind ingest; nil in web mode or
	// with analysis_terms, analysis_sentiment and anomaly_detection all
	// false.
	Analyzer *analysis.Analyzer
}

// ConfigError marks an error caused by the configuration rather than the
// environment (the CLI exits with the usage code).
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Run runs wsmon in the given mode until ctx is cancelled, then shuts down
// in order: web server, capture, pipeline flush, database.
func Run(ctx context.Context, mode Mode, cfg config.Config, o Options) error {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	readOnly := false
	if mode == ModeMonitor || mode == ModeAll {
		if err := checkWritable(cfg); err != nil {
			return err
		}
		// One writer per data directory: a second monitor would append to
		// the same journal and database.
		lock, err := datadir.Acquire(string(mode), cfg.WriterDirs()...)
		if err != nil {
			return err
		}
		defer lock.Release()
	} else if !cfg.Postgres() {
		// A web process never creates the database: an empty one would
		// show an empty dashboard instead of saying that nothing writes
		// here. One it cannot write (a backup copy) is served read-only.
		ro, err := webReadOnly(cfg.DatabasePath)
		if err != nil {
			return err
		}
		readOnly = ro
	}
	so := cfg.StoreOptions(readOnly)
	so.Logger = log
	st, err := store.Open(ctx, so)
	if err != nil {
		return err
	}
	defer st.Close()
	if readOnly {
		log.Warn("the database cannot be written by this user: serving it read-only (alert acknowledgements and other writes fail)", "database", cfg.DatabasePath)
	}
	// Every goroutine started below is waited for before the database
	// closes; runCtx ends them when Run returns for any reason.
	var bg sync.WaitGroup
	defer bg.Wait()
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	hub := live.NewHub(cfg.MaxMessagesInMemory, web.EncodeEvent)

	// Listen first: a taken port fails before anything else is started.
	var ln net.Listener
	if mode == ModeWeb || mode == ModeAll {
		ln = o.Listener
		if ln == nil {
			addr := net.JoinHostPort(cfg.WebHost, strconv.Itoa(cfg.WebPort))
			ln, err = net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("web: listen on %s: %w (is another program using port %d? set web_port or --port)", addr, err, cfg.WebPort)
			}
		}
		defer ln.Close() // Serve closes it too; this covers an error before Serve
	}

	// The index and rollups: written behind ingest by the monitor process
	// (on PostgreSQL by the collector holding the index lease), followed
	// read-only by a separate web process and the other collectors. Made
	// once the monitor knows whether it leads; the pipeline commits to it
	// only once the monitor runs.
	var ix *index.Indexer
	ixCommits := &lateCommitter{}
	ixDone := make(chan error, 1)
	ixCtx, stopIx := context.WithCancel(context.WithoutCancel(ctx))
	defer stopIx()

	// Metrics are served with the dashboard (GET /metrics); what a scrape
	// reads is set once the monitor and the web server exist.
	var met *metrics.Metrics
	var handler *web.Server
	snap := func() metrics.Snapshot { return metrics.Snapshot{} }
	var mon *Monitor
	// The analyses behind ingest (trending terms, sentiment, anomalies):
	// counted by the monitor process (on PostgreSQL by the collector
	// holding the index lease, see leadTask), read from their saved state
	// by a separate web.
	var anSet *analyses
	var anQuery web.Analysis
	// Work only the index lease holder does (the analyses, the reports):
	// started and stopped with the lease. Complete before mon.Run.
	var leadTasks []*leadTask
	anOn := cfg.AnalysisTermsEnabled() || cfg.AnalysisSentimentEnabled() || cfg.AnomalyDetectionEnabled() || cfg.AnalysisBehaviourEnabled()
	var analyses []string // what /api/ui-config lists as on
	if cfg.AnalysisTermsEnabled() {
		analyses = append(analyses, "terms")
	}
	if cfg.AnalysisSentimentEnabled() {
		analyses = append(analyses, "sentiment")
	}
	if cfg.AnomalyDetectionEnabled() {
		analyses = append(analyses, "anomalies")
	}
	if cfg.AnalysisBehaviourEnabled() {
		analyses = append(analyses, "behaviour")
	}
	if mode == ModeMonitor || mode == ModeAll {
		mo := MonitorOptions{Store: st, Hub: hub, Logger: log, Version: o.Version, Committers: []ingest.Committer{ixCommits}, Managed: mode == ModeAll, Mode: mode,
			OnIndexLease: func(lead bool) {
				if err := ix.SetLead(ixCtx, lead); err != nil {
					log.Error("index: switching between writing and following the index failed", "lead", lead, "error", err)
				}
				for _, t := range leadTasks {
					if err := t.set(lead); err != nil {
						log.Error(t.name+": starting failed; they run again when this collector next takes the index lease", "error", err)
					}
				}
			}}
		if anOn {
			ao := analysis.Options{Store: st, Location: cfg.Location(), Logger: log,
				Terms: cfg.AnalysisTermsEnabled(), Sentiment: cfg.AnalysisSentimentEnabled(), StopWords: cfg.TermsStopWords,
				Anomalies: cfg.AnomalyDetectionEnabled(), Anomaly: anomaly.Options{MaxKeys: cfg.AnomalyKeys()},
				Behaviour: cfg.AnalysisBehaviourEnabled(),
				Queue:     o.AnalysisQueue, Classifier: classifierConfig(cfg),
				// mon and handler are set below, before the analyzer runs.
				Backlog: func() uint64 { return mon.Pipeline().Stats().Backlog },
				OnAnomaly: func(e anomaly.Event) {
					mon.alerts.anomaly(e)
					if handler != nil {
						handler.PublishAnomaly(e)
					}
				}}
			if o.Analysis != nil {
				o.Analysis(&ao)
			}
			// Stopped with the indexer, after the monitor's last commit.
			anSet = newAnalyses(ixCtx, ao, AnalysisReader(st, cfg, log), log)
			anQuery = anSet
			leadTasks = append(leadTasks, &anSet.task)
			mo.Committers = append(mo.Committers, anSet)
		}
		var ist ingest.Store = st
		if o.WrapIngestStore != nil {
			ist = o.WrapIngestStore(st)
		}
		if ln != nil {
			met = metrics.New(func() metrics.Snapshot { return snap() })
			mo.Committers = append(mo.Committers, met)
			ist = timedStore{ist, met.ObserveBatch}
		}
		mo.IngestStore = ist
		mon, err = NewMonitor(ctx, cfg, mo)
		if err != nil {
			return err
		}
	}
	ix, err = index.New(ctx, st, index.Options{Follow: mon == nil || !mon.IndexLead(), Logger: log})
	if err != nil {
		return err
	}
	ixCommits.c = ix
	if mon != nil && mon.coll != nil {
		// Other collectors' commits: the index writer reads them.
		if wake := st.Commits(runCtx); wake != nil {
			bg.Go(func() {
				for range wake {
					if runCtx.Err() != nil {
						return
					}
					ix.Notify()
				}
			})
		}
	}

	if anOn && anSet == nil {
		anQuery = AnalysisReader(st, cfg, log)
	}

	// Reports (package report): read through the same query path and
	// analyses as the API; sent on a schedule by the monitor process.
	reports, err := report.NewBuilder(report.Options{Store: st, Source: query.New(st, ix), Analysis: reportAnalysis(anQuery), Location: cfg.Location()})
	if err != nil {
		return err
	}

	var srv *http.Server
	serveErr := make(chan error, 1)
	if ln != nil {
		status := storeStatus(st)
		targets := storeTargets(st)
		process := storeProcess(st)
		var manager web.TargetManager // none in a separate web process: target writes answer 409
		var busy func() bool
		var ingest func() web.IngestCounters
		var ready func(context.Context) []web.Check
		var ruleMgr web.RuleManager                  // none in a separate web process: rule writes answer 409
		var ruleList web.RuleLister = storeRules{st} // a separate web process lists the monitor's stored rules
		var backup web.Backuper
		var sinks func() []notify.SinkStats
		if mon != nil {
			ruleMgr, backup = mon.alerts, mon
			if d := mon.notifier; d != nil {
				sinks = d.Stats
			}
			status, targets, manager = monitorStatus(mon), mon.TargetInfos, mon
			process = mon.processStatus
			// More than a few batches waiting in the journal: a burst.
			busy = func() bool { return mon.Pipeline().Stats().Backlog > 20_000 }
			ingest, ready = mon.IngestCounters, mon.Ready
		}
		if met == nil {
			met = metrics.New(func() metrics.Snapshot { return snap() })
		}
		handler = web.New(web.Options{
			Store: query.New(st, ix), Hub: hub, Status: status, Process: process, Targets: targets, Manager: manager, Logger: log, Version: o.Version, UI: webui.Handler(),
			RefreshInterval: cfg.WebRefreshInterval.Duration(), MaxInMemory: cfg.MaxMessagesInMemory,
			TimeZone: zoneName(cfg.Location()), Location: cfg.Location(),
			Token: cfg.WebToken, User: cfg.WebUser, Password: cfg.WebPassword, Busy: busy, Ingest: ingest, Ready: ready, Metrics: met.Handler(),
			Alerts: st, Rules: ruleMgr, RuleList: ruleList, Backup: backup, Notifiers: sinks, Analysis: anQuery, Analyses: analyses, Reports: reports,
			Limits: web.Limits{MaxConnections: cfg.WebMaxConnections, MaxLiveClients: cfg.LiveMaxClients},
		})
		handler.SetAccess(web.Access{LoopbackBind: isLoopbackAddr(ln.Addr()), AllowedHosts: cfg.WebAllowedHosts,
			TrustedProxies: cfg.TrustedProxyPrefixes()})
		snap = snapshot(mon, st, ix, &handler, anSet)
		if mon != nil {
			mon.alerts.publish = handler.PublishAlert // before mon.Run starts the pipeline
		}
		srv = handler.HTTPServer(slog.NewLogLogger(log.Handler(), slog.LevelWarn))
		limited := handler.Listener(ln)
		go func() { serveErr <- srv.Serve(limited) }()
		lim := handler.Limits()
		log.Debug("dashboard listening", "url", "http://"+ln.Addr().String(),
			"max_connections", lim.MaxConnections, "live_max_clients", lim.MaxLiveClients)
		for _, w := range cfg.Warnings() {
			log.Warn(w)
		}
		if !webui.Built() {
			log.Warn("dashboard UI not built into this binary: run `make` (needs Node.js and npm); the API works")
		}
	}
	if mode == ModeWeb {
		// A separate process: follow what the monitor writes.
		// On PostgreSQL the monitor's commits are notified (LISTEN/NOTIFY):
		// the tailer reads at each, and polls only as a safety net.
		every, wake := 200*time.Millisecond, st.Commits(runCtx)
		if wake != nil {
			every = time.Second
		}
		tail := live.NewTailer(st, hub, every, log)
		tail.Wake = wake
		bg.Go(func() { tail.Run(runCtx) })
	}
	// On PostgreSQL one collector sends the reports: the one holding the
	// index lease (as for the analyses).
	if mon != nil && (cfg.ReportDaily || cfg.ReportWeekly) {
		d, err := notify.NewDispatcher(cfg.EffectiveNotifiers(), notify.Options{Logger: log})
		if err != nil {
			return fmt.Errorf("reports: %w", err)
		}
		h, m := cfg.ReportTime()
		lang := cfg.ReportLang
		if lang == "" {
			lang = report.LangEN
		}
		sched := report.NewScheduler(report.ScheduleOptions{Builder: reports, Sender: d, State: st, Daily: cfg.ReportDaily, Weekly: cfg.ReportWeekly,
			Hour: h, Min: m, Notifiers: cfg.ReportNotifiers, Lang: lang, Logger: log})
		leadTasks = append(leadTasks, &leadTask{name: "scheduled reports", parent: runCtx, log: log,
			start: func(ctx context.Context) (func(), error) { return func() { sched.Run(ctx) }, nil }})
	}
	if mon != nil {
		// PostgreSQL upkeep of the tables the index churns (store.Tidy;
		// nothing on SQLite), by one collector.
		leadTasks = append(leadTasks, &leadTask{name: "database upkeep", parent: runCtx, log: log,
			start: func(ctx context.Context) (func(), error) { return func() { tidy(ctx, st, time.Minute, log) }, nil }})
	}
	if mon != nil && mon.IndexLead() {
		for _, t := range leadTasks {
			if err := t.set(true); err != nil {
				return err
			}
		}
	}
	// Stopped after the indexer's final flush (the analyses count every
	// committed message and save their state); idempotent.
	stopLeadTasks := func() {
		for _, t := range leadTasks {
			t.set(false)
		}
	}
	defer stopLeadTasks()
	if o.Started != nil {
		addr := ""
		if ln != nil {
			addr = ln.Addr().String()
		}
		var an *analysis.Analyzer
		if anSet != nil {
			an = anSet.Analyzer()
		}
		o.Started(Running{Monitor: mon, WebAddr: addr, Hub: hub, Index: ix, Analyzer: an})
	}

	monDone := make(chan error, 1)
	if mon != nil && (cfg.RetentionDays > 0 || cfg.RetentionMaxBytes > 0) {
		bg.Go(func() { retention(ixCtx, ix, st, cfg.RetentionDays, cfg.RetentionMaxBytes, log) })
	}
	if mon != nil {
		go func() { ixDone <- ix.Run(ixCtx) }()
		go func() { monDone <- mon.Run(runCtx) }()
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("web server: %w", err)
	case err := <-monDone:
		monDone <- err
		if mode == ModeMonitor {
			// Monitor alone has nothing left to do once capture stopped.
			stopIx()
			<-ixDone
			stopLeadTasks()
			return err
		}
		if err != nil {
			log.Error("capture stopped; the dashboard keeps serving what was recorded", "error", err)
		}
		select {
		case <-ctx.Done():
		case err := <-serveErr:
			runErr = fmt.Errorf("web server: %w", err)
		}
	}
	if srv != nil {
		// Shutdown ends the live streams and waits for other requests.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
		cancel()
	}
	cancelRun() // the web server may have failed while ctx still runs
	if mon != nil {
		if err := <-monDone; err != nil && runErr == nil && !errors.Is(err, context.Canceled) && mode == ModeMonitor {
			runErr = err
		}
		// Everything is committed: the indexer writes its last segment.
		stopIx()
		if err := <-ixDone; err != nil {
			log.Error("index: final flush failed; it is rebuilt from the messages at the next start", "error", err)
		}
		stopLeadTasks() // the analyses save their state
		mon.ReleaseIndex(context.WithoutCancel(ctx))
	}
	return runErr
}

// lateCommitter passes committed batches to c, set before the pipeline
// runs (the index and the analyses are made once the monitor knows
// whether this collector writes them); nil c takes nothing.
type lateCommitter struct{ c ingest.Committer }

func (l *lateCommitter) Committed(msgs []message.Message) error {
	if l.c == nil {
		return nil
	}
	return l.c.Committed(msgs)
}

// monitorStatus reports the in-process targets' states (URLs redacted).
func monitorStatus(m *Monitor) func(context.Context) []web.TargetStatus {
	return func(ctx context.Context) []web.TargetStatus {
		ts, _ := m.TargetInfos(ctx)
		out := make([]web.TargetStatus, 0, len(ts))
		for _, t := range ts {
			out = append(out, web.TargetStatus{Target: t.Config.Name, URL: t.Config.URL, State: t.State, Since: t.Since,
				Reconnects: t.Reconnects, LastMessageAt: t.LastMessageAt, LastError: t.LastError, ErrorCode: t.ErrorCode,
				NextAttemptAt: t.NextAttemptAt, Protocol: t.ProtocolInUse})
		}
		return out
	}
}

// storeStatus reports the targets' states as the monitor process stored
// them, for a web process that does not run the capture itself (see
// storeTargets: a dead or stopped monitor shows as such).
func storeStatus(st *store.Store) func(context.Context) []web.TargetStatus {
	targets := storeTargets(st)
	return func(ctx context.Context) []web.TargetStatus {
		ts, err := targets(ctx)
		if err != nil {
			return nil
		}
		out := make([]web.TargetStatus, 0, len(ts))
		for _, t := range ts {
			out = append(out, web.TargetStatus{Target: t.Config.Name, URL: t.Config.URL, State: t.State, Since: t.Since,
				Reconnects: t.Reconnects, LastMessageAt: t.LastMessageAt, LastError: t.LastError, ErrorCode: t.ErrorCode,
				NextAttemptAt: t.NextAttemptAt, Protocol: t.ProtocolInUse})
		}
		return out
	}
}

// storeProcess reports the capturing process from its heartbeat, for a
// separate web process: dead once the heartbeat is older than
// web.MonitorDeadAfter.
func storeProcess(st *store.Store) func(context.Context) web.ProcessStatus {
	return func(ctx context.Context) web.ProcessStatus {
		p, err := st.LastMonitorProcess(ctx)
		if err != nil {
			return web.ProcessStatus{State: web.ProcessNone}
		}
		return web.ProcessStatus{State: processState(p, time.Now()), PID: p.PID, Mode: p.Mode, Version: p.Version,
			StartedAt: p.StartedAt, HeartbeatAt: p.HeartbeatAt, StoppedAt: p.StoppedAt}
	}
}

// processState is running, stopped or dead (heartbeat too old) at now.
func processState(p store.MonitorProcess, now time.Time) string {
	switch {
	case !p.StoppedAt.IsZero():
		return web.ProcessStopped
	case now.Sub(p.HeartbeatAt) > web.MonitorDeadAfter:
		return web.ProcessDead
	}
	return web.ProcessRunning
}

// processStatus is this process, capturing (GET /api/stats of wsmon all).
func (m *Monitor) processStatus(context.Context) web.ProcessStatus {
	p := m.process
	return web.ProcessStatus{State: web.ProcessRunning, PID: p.PID, Mode: p.Mode, Version: p.Version, StartedAt: p.StartedAt, HeartbeatAt: time.Now()}
}

// zoneName names a time zone for people: the IANA name, or for the
// machine's zone ("Local") its abbreviation, such as CST or UTC.
func zoneName(loc *time.Location) string {
	if loc.String() != "Local" {
		return loc.String()
	}
	abbr, _ := time.Now().In(loc).Zone()
	return abbr
}

// isLoopbackAddr reports whether a listener's address accepts connections
// from this machine only.
func isLoopbackAddr(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// reportAnalysis is the analyses for reports: nil when none runs.
func reportAnalysis(a web.Analysis) report.Analysis {
	if a == nil {
		return nil
	}
	return a
}

// AnalysisReader reads the analyses' saved states (a process that does
// not run them: a separate web, a collector without the index lease,
// wsmon report), answering for those turned off as off.
func AnalysisReader(st *store.Store, cfg config.Config, log *slog.Logger) *analysis.Reader {
	r := analysis.NewReader(st, log)
	for name, on := range map[string]bool{analysis.NameTerms: cfg.AnalysisTermsEnabled(),
		analysis.NameSentiment: cfg.AnalysisSentimentEnabled(), analysis.NameAnomaly: cfg.AnomalyDetectionEnabled()} {
		if !on {
			r.Off(name)
		}
	}
	if cfg.AnalysisBehaviourEnabled() {
		r.WithBehaviour(cfg.Location(), 0, 0)
	}
	return r
}

// tidy runs st.Tidy every interval until ctx ends.
func tidy(ctx context.Context, st *store.Store, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := st.Tidy(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("database upkeep failed; will retry", "error", err)
		case len(res.Vacuumed) > 0:
			log.Info("database upkeep: vacuumed tables with many dead rows", "tables", res.Vacuumed, "took", res.Took.Round(time.Millisecond))
		}
	}
}
