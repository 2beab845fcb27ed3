package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wsmon/wsmon/internal/capture"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/ingest"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/protocol"
	"github.com/wsmon/wsmon/internal/protocol/registry"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/web"
)

// How often the monitor looks at its runners' status, and how often it
// writes the status of every target even when nothing changed (counters,
// and a sign of life for a separate web process).
const (
	statusEvery = 500 * time.Millisecond
	statusFull  = 15 * time.Second
	// A separate web process shows a target whose status is older than
	// this as not reported (the monitor process is gone).
	statusStale = 4 * statusFull
)

// Target states beyond capture's: the API and dashboard show these.
const (
	statePaused  = "paused"
	stateRefused = "refused" // the server refused wsmon (credentials, policy): not reconnecting
	stateGaveUp  = "gave_up" // max_reconnect_attempts consecutive failures
	stateStopped = "stopped" // bad configuration, or the monitor is stopping
	stateStandby = "standby" // PostgreSQL: another collector captures it (this one holds no lease for it)
)

// target is one monitored target of a Monitor.
type target struct {
	cfg    config.Target // resolved
	source string        // store.SourceConfig or store.SourceAPI
	paused bool
	broken string          // why the stored target does not build; "" when it does
	run    *runner         // nil when paused, broken or before Run
	last   *capture.Status // the last runner's final status, kept while paused
	since  time.Time       // when it was paused
}

// runner is one run of a capture.Runner: a target's change stops the run
// and starts a new one.
type runner struct {
	r      *capture.Runner
	cancel context.CancelFunc
	done   chan struct{}
	err    error // Run's error; read only after done is closed
}

// stop cancels the run and waits for its connection to close.
func (r *runner) stop() {
	r.cancel()
	<-r.done
}

// finished reports whether Run returned, and its error.
func (r *runner) finished() (bool, error) {
	select {
	case <-r.done:
		return true, r.err
	default:
		return false, nil
	}
}

// poke wakes Run's loop (status write, exit check) without blocking.
func (m *Monitor) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// decoder is the pipeline's lookup of a target's decoder (ingest.Options.Lookup).
func (m *Monitor) decoder(name string) (ingest.Decoder, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d, ok := m.decoders[name]
	return d, ok
}

// build makes t's decoder (adapter and normaliser).
func (m *Monitor) build(t config.Target) (ingest.Decoder, error) {
	fm, err := message.ParseFieldMap(t.FieldMap)
	if err != nil {
		return ingest.Decoder{}, fmt.Errorf("field_map: %w", err)
	}
	adapter, why, err := registry.New(t.Protocol, t.AdapterConfig())
	if err != nil {
		return ingest.Decoder{}, err
	}
	if why != "" {
		m.log.Info("protocol auto", "target", t.Name, "picked", adapter.Name(), "why", why)
	}
	return ingest.Decoder{Adapter: adapter, Normalizer: message.NewNormalizer(fm, 0)}, nil
}

// loadTargets stores config.json's targets and prepares every stored one.
// config.json is the starting set: its targets are written with source
// "config" at every start (keeping their paused flag), and stored config
// targets it no longer lists are dropped. A config target changed through
// the API became an "api" target and keeps its stored settings. A config
// target removed through the API comes back at the next start while
// config.json still lists it.
func (m *Monitor) loadTargets(ctx context.Context) error {
	rows, err := m.store.Targets(ctx)
	if err != nil {
		return err
	}
	stored := map[string]store.TargetRow{}
	for _, r := range rows {
		stored[r.Name] = r
	}
	cfgTargets := m.cfg.ResolvedTargets()
	inConfig := map[string]bool{}
	for _, t := range cfgTargets {
		inConfig[t.Name] = true
		row, ok := stored[t.Name]
		if ok && row.Source == store.SourceAPI {
			continue
		}
		js, err := json.Marshal(t)
		if err != nil {
			return err
		}
		if err := m.store.PutTarget(ctx, store.TargetRow{Name: t.Name, Config: js, Paused: row.Paused, Source: store.SourceConfig}); err != nil {
			return err
		}
	}
	for _, r := range rows {
		if r.Source == store.SourceConfig && !inConfig[r.Name] {
			if err := m.store.DeleteTarget(ctx, r.Name); err != nil {
				return err
			}
		}
	}
	if rows, err = m.store.Targets(ctx); err != nil {
		return err
	}
	// config.json's order first, then the API's targets by name.
	slices.SortStableFunc(rows, func(a, b store.TargetRow) int {
		ia, ib := slices.IndexFunc(cfgTargets, func(t config.Target) bool { return t.Name == a.Name }), slices.IndexFunc(cfgTargets, func(t config.Target) bool { return t.Name == b.Name })
		if ia < 0 {
			ia = len(cfgTargets)
		}
		if ib < 0 {
			ib = len(cfgTargets)
		}
		return ia - ib
	})
	for _, r := range rows {
		var t config.Target
		if err := json.Unmarshal(r.Config, &t); err != nil {
			m.log.Error("stored target unreadable; skipped", "target", r.Name, "error", err)
			continue
		}
		t.Name = r.Name
		t = m.cfg.ResolveTarget(t)
		tg := &target{cfg: t, source: r.Source, paused: r.Paused, since: r.UpdatedAt}
		dec, err := m.build(t)
		if err != nil {
			if r.Source == store.SourceConfig {
				return fmt.Errorf("target %s: %w", t.Name, err)
			}
			tg.broken = err.Error()
			m.log.Error("stored target does not build; not started (fix it with PUT /api/targets/{name})", "target", t.Name, "error", err)
		} else {
			m.decoders[t.Name] = dec
		}
		m.targets[t.Name] = tg
		m.order = append(m.order, t.Name)
	}
	return nil
}

// startLocked starts a runner for t (m.mu held, Run started), if this
// process captures it: on PostgreSQL only while it holds t's lease (the
// lease loop starts it once it does).
func (m *Monitor) startLocked(t *target) {
	if !m.ownsLocked(t.cfg.Name) {
		return
	}
	var sink capture.Sink = m.sink
	if m.coll != nil {
		sink = gatedSink{Sink: m.sink, gate: m.coll.gates[t.cfg.Name]}
	}
	ctx, cancel := context.WithCancel(m.runCtx)
	r := capture.NewRunner(m.runnerOptions(t.cfg, m.decoders[t.cfg.Name].Adapter), sink)
	run := &runner{r: r, cancel: cancel, done: make(chan struct{})}
	t.run, t.last = run, nil
	name := t.cfg.Name
	go func() {
		defer close(run.done)
		defer m.poke()
		run.err = r.Run(ctx)
		if run.err != nil {
			m.logStop(name, run.err)
		}
	}()
}

// logStop says, once, why target name's runner stopped for good and what
// happens next.
func (m *Monitor) logStop(name string, err error) {
	var gu *capture.GaveUpError
	switch {
	case errors.As(err, &gu) && m.managed:
		m.log.Error("target gave up: max_reconnect_attempts consecutive attempts failed; it is not retried until resumed from the dashboard (set max_reconnect_attempts: 0 to retry forever)",
			"target", name, "error", err)
	case errors.As(err, &gu):
		m.log.Error("target gave up: max_reconnect_attempts consecutive attempts failed; wsmon monitor exits once no target is left running (set max_reconnect_attempts: 0 to retry forever, or let systemd restart it: Restart=on-failure)",
			"target", name, "error", err)
	default:
		m.log.Error("capture stopped; not reconnecting", "target", name, "error", err)
	}
}

// detach takes t's runner away (m.mu held); the caller stops it without
// the lock.
func detach(t *target) *runner {
	r := t.run
	t.run = nil
	return r
}

// stopDetached stops r and keeps its final status on t.
func (m *Monitor) stopDetached(t *target, r *runner) {
	if r == nil {
		return
	}
	r.stop()
	st := r.r.Status()
	m.mu.Lock()
	t.last = &st
	m.mu.Unlock()
}

// prepare resolves and checks a target given through the API and builds
// its decoder. Errors are *config.Error naming the setting.
func (m *Monitor) prepare(t config.Target) (config.Target, ingest.Decoder, error) {
	t = m.cfg.ResolveTarget(t)
	if err := config.CheckTarget(t); err != nil {
		return t, ingest.Decoder{}, err
	}
	dec, err := m.build(t)
	return t, dec, err
}

var errStopping = errors.New("the monitor is stopping")

// AddTarget adds t (source "api") and, once Run has started, connects it.
// Its settings are checked like a config.json targets entry (its empty
// connection fields inherit the top-level ones): a bad one is a
// *config.Error naming the key. A name in use is web.ErrTargetExists.
func (m *Monitor) AddTarget(ctx context.Context, t config.Target) error {
	m.ops.Lock()
	defer m.ops.Unlock()
	given := t
	t, dec, err := m.prepare(t)
	if err != nil {
		return err
	}
	m.mu.RLock()
	_, exists := m.targets[t.Name]
	closed := m.closed
	m.mu.RUnlock()
	if closed {
		return errStopping
	}
	if exists {
		return web.ErrTargetExists
	}
	given.Name = t.Name
	if err := m.put(ctx, given, false); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	tg := &target{cfg: t, source: store.SourceAPI}
	m.targets[t.Name], m.decoders[t.Name] = tg, dec
	m.order = append(m.order, t.Name)
	if m.runCtx != nil {
		m.startLocked(tg)
	}
	m.log.Info("target added", "target", t.Name, "url", t.Redacted().URL, "protocol", t.Protocol)
	return nil
}

// put stores t as an API target.
func (m *Monitor) put(ctx context.Context, t config.Target, paused bool) error {
	js, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return m.store.PutTarget(ctx, store.TargetRow{Name: t.Name, Config: js, Paused: paused, Source: store.SourceAPI})
}

// lookup returns the target name, or web.ErrTargetNotFound.
func (m *Monitor) lookup(name string) (*target, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, errStopping
	}
	t, ok := m.targets[name]
	if !ok {
		return nil, web.ErrTargetNotFound
	}
	return t, nil
}

// UpdateTarget replaces the settings of target name with t (whose name
// must be empty or name): its runner is stopped and a new one started, so
// that target alone reconnects; a paused target stays paused. The target
// becomes an "api" target (config.json no longer overrides it). Errors as
// AddTarget's, and web.ErrTargetNotFound.
func (m *Monitor) UpdateTarget(ctx context.Context, name string, t config.Target) error {
	m.ops.Lock()
	defer m.ops.Unlock()
	tg, err := m.lookup(name)
	if err != nil {
		return err
	}
	if t.Name != "" && t.Name != name {
		return config.Errorf("name", "name: %q does not match the target in the path, %q (a target cannot be renamed)", t.Name, name)
	}
	t.Name = name
	given := t
	t, dec, err := m.prepare(t)
	if err != nil {
		return err
	}
	m.mu.RLock()
	paused := tg.paused
	m.mu.RUnlock()
	if err := m.put(ctx, given, paused); err != nil {
		return err
	}
	m.mu.Lock()
	old := detach(tg)
	m.mu.Unlock()
	m.stopDetached(tg, old)
	m.mu.Lock()
	defer m.mu.Unlock()
	// Records of the old connection still in the journal decode with the
	// new adapter: a protocol change may store a few of them as raw.
	tg.cfg, tg.source, tg.broken = t, store.SourceAPI, ""
	m.decoders[name] = dec
	if !tg.paused && m.runCtx != nil && !m.closed {
		m.startLocked(tg)
	}
	m.log.Info("target updated", "target", name, "url", t.Redacted().URL, "protocol", t.Protocol)
	return nil
}

// PauseTarget stops target name's runner and keeps it stored as paused
// (also across restarts). Pausing a paused target does nothing.
func (m *Monitor) PauseTarget(ctx context.Context, name string) error {
	m.ops.Lock()
	defer m.ops.Unlock()
	tg, err := m.lookup(name)
	if err != nil {
		return err
	}
	if err := m.store.SetTargetPaused(ctx, name, true); err != nil {
		return err
	}
	m.mu.Lock()
	tg.paused, tg.since = true, time.Now()
	r := detach(tg)
	m.mu.Unlock()
	m.stopDetached(tg, r)
	m.poke()
	m.log.Info("target paused", "target", name)
	return nil
}

// ResumeTarget starts target name's runner again with a fresh backoff:
// a paused target, or one that has stopped for good (refused, gave up),
// which is how such a target is retried. A running target is left alone.
func (m *Monitor) ResumeTarget(ctx context.Context, name string) error {
	m.ops.Lock()
	defer m.ops.Unlock()
	tg, err := m.lookup(name)
	if err != nil {
		return err
	}
	if err := m.store.SetTargetPaused(ctx, name, false); err != nil {
		return err
	}
	m.mu.Lock()
	tg.paused = false
	var old *runner
	if tg.run != nil {
		if done, _ := tg.run.finished(); done {
			old = detach(tg)
		}
	}
	m.mu.Unlock()
	m.stopDetached(tg, old) // returns at once: it has finished
	m.mu.Lock()
	defer m.mu.Unlock()
	if tg.run == nil && tg.broken == "" && m.runCtx != nil && !m.closed {
		m.startLocked(tg)
	}
	m.log.Info("target resumed", "target", name)
	return nil
}

// RemoveTarget stops target name's runner and deletes the stored target
// and its status. Its messages and sessions stay in the database. A
// config.json target comes back at the next start unless it is removed
// from config.json too.
func (m *Monitor) RemoveTarget(ctx context.Context, name string) error {
	m.ops.Lock()
	defer m.ops.Unlock()
	tg, err := m.lookup(name)
	if err != nil {
		return err
	}
	m.statusMu.Lock()
	err = m.store.DeleteTarget(ctx, name)
	if err == nil || errors.Is(err, store.ErrNotFound) {
		err = nil
		m.mu.Lock()
		delete(m.targets, name)
		m.order = slices.DeleteFunc(m.order, func(n string) bool { return n == name })
		r := detach(tg)
		m.mu.Unlock()
		delete(m.lastWritten, name)
		m.statusMu.Unlock()
		if r != nil {
			r.stop()
		}
		m.log.Info("target removed", "target", name)
		return nil
	}
	m.statusMu.Unlock()
	return err
}

// Status returns the status of every target that has a runner (not the
// paused ones), in the order the targets were added.
func (m *Monitor) Status() []capture.Status {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []capture.Status
	for _, name := range m.order {
		if t := m.targets[name]; t.run != nil {
			out = append(out, t.run.r.Status())
		}
	}
	return out
}

// statusOf is t's status as stored and shown (m.mu held for reading).
func statusOf(t *target) store.TargetStatus {
	st := store.TargetStatus{Name: t.cfg.Name}
	var cs *capture.Status
	if t.run != nil {
		s := t.run.r.Status()
		cs = &s
	} else {
		cs = t.last
	}
	if cs != nil {
		st.State, st.Protocol, st.LastError, st.Stopped = string(cs.State), cs.Protocol, cs.LastError, cs.Stopped
		st.Since, st.Reconnects, st.Frames, st.LastMessageAt = cs.Since, cs.Reconnects, cs.TotalFrames, cs.LastMessageAt
		st.ErrorCode, st.NextAttemptAt = cs.LastErrorCode, cs.NextAttemptAt
	} else {
		st.State, st.Since = stateStopped, t.since
	}
	switch {
	case t.broken != "":
		st.State, st.Stopped, st.LastError, st.ErrorCode = stateStopped, t.broken, t.broken, capture.CodeConfig
	case t.paused:
		st.State, st.Since, st.NextAttemptAt = statePaused, t.since, time.Time{}
	case t.run != nil:
		if done, err := t.run.finished(); done && err != nil {
			var se *capture.StopError
			var ref *protocol.Refusal
			var gu *capture.GaveUpError
			switch {
			case errors.As(err, &se), errors.As(err, &ref):
				st.State = stateRefused
			case errors.As(err, &gu):
				st.State = stateGaveUp
			default:
				st.State = stateStopped
			}
		}
	}
	return st
}

// TargetInfos lists every target with its settings (secrets redacted) and
// status, for GET /api/targets.
func (m *Monitor) TargetInfos(context.Context) ([]web.TargetInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]web.TargetInfo, 0, len(m.order))
	for _, name := range m.order {
		t := m.targets[name]
		st := statusOf(t)
		if !m.ownsLocked(name) && !t.paused && t.broken == "" {
			st.State = stateStandby
		}
		out = append(out, targetInfo(t.cfg.Redacted(), t.paused, t.source, st))
	}
	return out, nil
}

func targetInfo(cfg config.Target, paused bool, source string, st store.TargetStatus) web.TargetInfo {
	return web.TargetInfo{Config: cfg, Paused: paused, Source: source, State: st.State, ProtocolInUse: st.Protocol,
		LastError: st.LastError, ErrorCode: st.ErrorCode, NextAttemptAt: st.NextAttemptAt, Stopped: st.Stopped, Since: st.Since, Reconnects: st.Reconnects, Frames: st.Frames,
		LastMessageAt: st.LastMessageAt}
}

// writeStatus stores the status of the targets whose state, protocol,
// error or reconnect count changed since the last write, and of every
// target each statusFull (or when all is set). Counters alone never
// cause a write, so the cost does not grow with the message rate.
func (m *Monitor) writeStatus(ctx context.Context, all bool) {
	m.statusMu.Lock()
	defer m.statusMu.Unlock()
	full := all || time.Since(m.lastFull) >= statusFull
	var changed []store.TargetStatus
	m.mu.RLock()
	for _, name := range m.order {
		if !m.ownsLocked(name) {
			continue // the collector capturing it writes its status
		}
		st := statusOf(m.targets[name])
		prev, ok := m.lastWritten[name]
		if full || !ok || prev.State != st.State || prev.Protocol != st.Protocol || prev.LastError != st.LastError ||
			prev.Stopped != st.Stopped || prev.Reconnects != st.Reconnects || !prev.NextAttemptAt.Equal(st.NextAttemptAt) {
			changed = append(changed, st)
		}
	}
	m.mu.RUnlock()
	if err := m.store.PutTargetStatuses(ctx, changed); err != nil {
		if ctx.Err() == nil {
			m.log.Warn("writing target status failed; will retry", "error", err)
		}
		return
	}
	for _, st := range changed {
		m.lastWritten[st.Name] = st
	}
	if full {
		m.lastFull = time.Now()
	}
}

// nothingCanRun reports, for a monitor that is not managed, whether no
// target can run again: none has a live runner. err says so in one line,
// naming each target's state; the reasons themselves were logged when
// each target stopped (logStop), and are not repeated. errors.As finds
// the runners' errors in it.
func (m *Monitor) nothingCanRun() (bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var parts []string
	var errs []error
	for _, name := range m.order {
		t := m.targets[name]
		switch {
		case t.paused:
			parts = append(parts, name+": paused")
		case t.broken != "":
			parts = append(parts, name+": bad configuration")
		case t.run == nil && !m.ownsLocked(name):
			return false, nil // another collector captures it, or this one will once it holds its lease
		case t.run != nil:
			done, err := t.run.finished()
			if !done {
				return false, nil
			}
			if err != nil {
				errs = append(errs, err)
				parts = append(parts, name+": "+statusOf(t).State)
			} else {
				parts = append(parts, name+": stopped")
			}
		}
	}
	if len(parts) == 0 {
		return true, errors.New("no target to monitor")
	}
	return true, &nothingLeftError{summary: strings.Join(parts, ", "), errs: errs}
}

// nothingLeftError is why an unmanaged monitor stopped: no target is left
// running.
type nothingLeftError struct {
	summary string
	errs    []error
}

func (e *nothingLeftError) Error() string {
	return "no target left running (" + e.summary + "); nothing to monitor, so wsmon monitor stops (the log above says why each stopped)"
}

func (e *nothingLeftError) Unwrap() []error { return e.errs }

// storeTargets lists the targets as the monitor process stored them, for
// a separate web process. While the monitor process is not running (its
// heartbeat is older than web.MonitorDeadAfter, or it stopped), a target
// it last reported as connecting, connected or waiting shows as stopped
// with error code monitor_not_running or monitor_stopped; one that had
// given up, been refused or paused keeps that state, which stays true.
func storeTargets(st *store.Store) func(context.Context) ([]web.TargetInfo, error) {
	return func(ctx context.Context) ([]web.TargetInfo, error) {
		rows, err := st.Targets(ctx)
		if err != nil {
			return nil, err
		}
		sts, err := st.TargetStatuses(ctx)
		if err != nil {
			return nil, err
		}
		proc, perr := st.LastMonitorProcess(ctx)
		if perr != nil && !errors.Is(perr, store.ErrNotFound) {
			return nil, perr
		}
		byName := map[string]store.TargetStatus{}
		for _, s := range sts {
			byName[s.Name] = s
		}
		now := time.Now()
		out := make([]web.TargetInfo, 0, len(rows))
		for _, r := range rows {
			var t config.Target
			if err := json.Unmarshal(r.Config, &t); err != nil {
				continue
			}
			t.Name = r.Name
			s, ok := byName[r.Name]
			if !ok {
				s = store.TargetStatus{Name: r.Name, State: stateStopped, ErrorCode: web.CodeNoStatus,
					LastError: "no status reported by the monitor process yet"}
			}
			final := s.State == stateRefused || s.State == stateGaveUp || s.State == statePaused
			switch {
			case final || !ok:
			case perr == nil && processState(proc, now) == web.ProcessStopped:
				s.State, s.ErrorCode, s.NextAttemptAt = stateStopped, web.CodeMonitorStopped, time.Time{}
				s.LastError = fmt.Sprintf("the monitor process (pid %d) stopped at %s", proc.PID, proc.StoppedAt.UTC().Format(time.RFC3339))
			case perr == nil && processState(proc, now) == web.ProcessDead:
				s.State, s.ErrorCode, s.NextAttemptAt = stateStopped, web.CodeMonitorNotRunning, time.Time{}
				s.LastError = fmt.Sprintf("the monitor process (pid %d) is not running: no heartbeat since %s (killed or crashed?)",
					proc.PID, proc.HeartbeatAt.UTC().Format(time.RFC3339))
			case perr != nil && now.Sub(s.UpdatedAt) > statusStale:
				// A monitor from before heartbeats: its status rows are the
				// only sign of life.
				s.State, s.ErrorCode = stateStopped, web.CodeMonitorNotRunning
				s.LastError = "the monitor process has not reported since " + s.UpdatedAt.UTC().Format(time.RFC3339)
			}
			if r.Paused && s.State != statePaused {
				s.State = statePaused
			}
			out = append(out, targetInfo(t.Redacted(), r.Paused, r.Source, s))
		}
		return out, nil
	}
}
