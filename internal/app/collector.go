package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/wsmon/wsmon/internal/capture"
	"github.com/wsmon/wsmon/internal/protocol"
	"github.com/wsmon/wsmon/internal/store"
)

// On PostgreSQL a monitor is one collector among possibly several, on
// other machines, sharing the database. Each collector:
//
//   - has a collector id, registered in the database at its first start
//     and remembered in its journal directory (journal/collector.json),
//     under which its applied journal position is kept and from which its
//     session ids are made ((id-1) << 40 on);
//   - captures only the targets it holds a lease for (store leases): every
//     leaseEvery it renews its leases, counts the live collectors and
//     takes free targets (never held, released, or expired by the
//     database's clock) up to its fair share of the live collectors
//     (running targets are not moved: see leaseStep); a target whose lease a
//     renewal no longer finds was taken by another collector and is
//     stopped at once (leaseGate), and the write path fences off what it
//     received after the new owner's grant (store.fence);
//   - writes the search index, rollups and analyses only while it holds
//     the index lease; the other collectors follow the index read-only, as
//     a separate web process does.
//
// A collector killed or cut off loses its leases after leaseTTL; the
// others take its targets within leaseTTL plus leaseEvery (plus their
// connection time).

// leaseTTL is how long a lease lasts without renewal, by the database's
// clock; leaseEvery is how often a collector renews its leases and looks
// for free targets.
const (
	leaseTTL   = claimStale
	leaseEvery = 2 * time.Second
)

// sessionBits is how many bits of a session id are a collector's own
// journal sequence: collector n's sessions have ids from (n-1) << 40 on,
// well inside JavaScript's exact integers for 8,192 collectors.
const sessionBits = 40

// collector is a Monitor's share of a PostgreSQL database (nil on SQLite).
// Its fields are set by NewMonitor; gates and index are the lease loop's,
// gates read under Monitor.mu.
type collector struct {
	id   int64
	name string
	// gates holds a gate per target this collector has the lease of
	// (under Monitor.mu). A runner's sink passes frames while its gate is
	// open; it is closed when the lease is lost.
	gates map[string]*leaseGate
	index bool // holds the index lease (lease loop only)
	// onIndex is told when this collector starts or stops holding the
	// index lease (the indexer leads or follows).
	onIndex func(lead bool)
}

// sessionBase is the first session id of this collector's range, minus one.
func (c *collector) sessionBase() int64 { return (c.id - 1) << sessionBits }

// leaseGate is open while its collector holds the target's lease.
type leaseGate struct{ open atomic.Bool }

// errLeaseLost ends a session whose target's lease went to another
// collector.
var errLeaseLost = errors.New("another collector took this target over (its lease was not renewed in time): stopped capturing it")

// gatedSink passes a runner's calls to the journal while its gate is open.
type gatedSink struct {
	capture.Sink
	gate *leaseGate
}

func (g gatedSink) Frame(target string, session int64, at time.Time, f protocol.Frame, reason string) error {
	if !g.gate.open.Load() {
		return errLeaseLost
	}
	return g.Sink.Frame(target, session, at, f, reason)
}

func (g gatedSink) SessionStart(target, url, protocol string, at time.Time) (int64, error) {
	if !g.gate.open.Load() {
		return 0, errLeaseLost
	}
	return g.Sink.SessionStart(target, url, protocol, at)
}

// collectorFile is what a journal directory remembers of its collector.
type collectorFile struct {
	Database string `json:"database"` // store.DatabaseUID
	ID       int64  `json:"id"`
}

// register makes this monitor a collector of the PostgreSQL database:
// the id its journal directory remembers for this database, or a new one.
// A process that still reports under that id (its heartbeat fresh: the
// same journal directory copied to a second machine) is waited for, as
// long as claimStale and a little, and then refused.
func (m *Monitor) register(ctx context.Context) error {
	uid, err := m.store.DatabaseUID(ctx)
	if err != nil {
		return err
	}
	path := filepath.Join(m.cfg.JournalDir(), "collector.json")
	var known collectorFile
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &known); err != nil {
			return fmt.Errorf("collector: %s: %w (delete it to register this monitor as a new collector)", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("collector: %w", err)
	}
	id := int64(0)
	if known.Database == uid {
		id = known.ID
	}
	host, _ := os.Hostname()
	dir, _ := filepath.Abs(m.cfg.JournalDir())
	p := store.Collector{Name: host + ":" + filepath.Dir(dir), PID: m.process.PID, Mode: m.process.Mode, Version: m.process.Version,
		StartedAt: m.process.StartedAt}
	deadline := time.Now().Add(claimStale + 5*time.Second)
	for waited := false; ; waited = true {
		p.HeartbeatAt = time.Now()
		got, holder, err := m.store.ClaimCollector(ctx, id, p, p.HeartbeatAt.Add(-claimStale))
		if err == nil {
			id = got
			break
		}
		if !errors.Is(err, store.ErrCollectorBusy) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("another wsmon monitor reports as collector %d of this database (%s, pid %d, heartbeat %s ago): this journal directory was copied or is shared; give each monitor its own data directory",
				id, holder.Name, holder.PID, time.Since(holder.HeartbeatAt).Round(time.Second))
		}
		if !waited {
			m.log.Warn("another process reported as this collector recently; waiting until its heartbeat is stale (killed?) or failing if it goes on",
				"collector", id, "holder", holder.Name, "pid", holder.PID, "stale_after", claimStale.String())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	if id != known.ID || known.Database != uid {
		if err := os.MkdirAll(m.cfg.JournalDir(), 0o755); err != nil {
			return fmt.Errorf("collector: %w", err)
		}
		b, _ := json.Marshal(collectorFile{Database: uid, ID: id})
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			return fmt.Errorf("collector: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("collector: %w", err)
		}
	}
	m.coll = &collector{id: id, name: p.Name, gates: map[string]*leaseGate{}}
	m.store.SetCollector(id)
	m.log.Info("collector registered", "collector", id, "name", p.Name)
	return nil
}

// leases is the lease loop of a collector (see collector), until ctx
// ends; then it releases every lease it holds, after the runners stopped
// (Run calls releaseAll).
//
// The first round is one leaseEvery after the start (the index lease was
// tried at registration): collectors started together have all
// registered by then, so they split the free targets instead of the
// first taking them all.
func (m *Monitor) leases(ctx context.Context) {
	t := time.NewTicker(leaseEvery)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return
	case <-t.C:
	}
	for {
		m.leaseStep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// leaseStep is one round of the lease loop.
func (m *Monitor) leaseStep(ctx context.Context) {
	c := m.coll
	now := time.Now()
	if err := m.store.CollectorHeartbeat(ctx, store.Collector{ID: c.id, HeartbeatAt: now}); err != nil {
		if ctx.Err() == nil {
			m.log.Warn("collector heartbeat failed; will retry (captured frames wait in the journal)", "error", err)
		}
		return
	}
	// Renew what is held; stop what was lost.
	m.mu.RLock()
	var held []string
	for name := range c.gates {
		held = append(held, store.TargetLease(name))
	}
	m.mu.RUnlock()
	if c.index {
		held = append(held, store.IndexLease)
	}
	kept, err := m.store.RenewLeases(ctx, c.id, held, leaseTTL)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("renewing leases failed; capture goes on, and will stop for any target another collector takes meanwhile", "error", err)
		}
		return
	}
	if c.index && !kept[store.IndexLease] {
		c.index = false
		m.log.Warn("index lease lost: another collector writes the index now; following it")
		if c.onIndex != nil {
			c.onIndex(false)
		}
	}
	for _, l := range held {
		if name, ok := targetOfLease(l); ok && !kept[l] {
			m.log.Warn("target lease lost: another collector took this target over; stopped capturing it here", "target", name)
			m.dropTarget(name)
		}
	}
	if !c.index {
		ok, _, err := m.store.AcquireLease(ctx, store.IndexLease, c.id, leaseTTL)
		if err != nil {
			if ctx.Err() == nil {
				m.log.Warn("taking the index lease failed; will retry", "error", err)
			}
		} else if ok {
			c.index = true
			m.log.Info("index lease taken: this collector writes the search index, rollups and analyses")
			if c.onIndex != nil {
				c.onIndex(true)
			}
		}
	}

	// Balance: the fair share of the targets that should run.
	live, err := m.store.LiveCollectors(ctx, now.Add(-leaseTTL))
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("counting collectors failed; will retry", "error", err)
		}
		return
	}
	live = max(live, 1)
	m.mu.RLock()
	var want, mine []string
	for _, name := range m.order {
		t := m.targets[name]
		if t.paused || t.broken != "" {
			if c.gates[name] != nil {
				mine = append(mine, name) // released below
			}
			continue
		}
		want = append(want, name)
	}
	m.mu.RUnlock()
	fair := (len(want) + live - 1) / live
	// Paused and broken targets are released. Running targets are not
	// moved to a collector with fewer: a handover loses what the server
	// sends between the old owner's disconnect and the new owner's
	// connect (a handover with overlap is not built), so a collector that
	// joins takes free targets only: new ones, and those of a collector
	// that stopped or died.
	n := 0
	m.mu.RLock()
	for _, name := range want {
		if c.gates[name] != nil {
			n++
		}
	}
	m.mu.RUnlock()
	for _, name := range mine {
		m.dropTarget(name) // its session ends before another collector may take it
		if err := m.store.ReleaseLeases(ctx, c.id, []string{store.TargetLease(name)}); err != nil && ctx.Err() == nil {
			m.log.Warn("releasing a target lease failed; it expires on its own", "target", name, "error", err)
		}
	}
	if n >= fair {
		return
	}
	// Take free targets, starting at a random one so that collectors
	// starting together do not all try the same first.
	start := rand.IntN(max(len(want), 1))
	for i := range want {
		if n >= fair {
			break
		}
		name := want[(start+i)%len(want)]
		m.mu.RLock()
		mine := c.gates[name] != nil
		m.mu.RUnlock()
		if mine {
			continue
		}
		ok, l, err := m.store.AcquireLease(ctx, store.TargetLease(name), c.id, leaseTTL)
		if err != nil {
			if ctx.Err() == nil {
				m.log.Warn("taking a target lease failed; will retry", "target", name, "error", err)
			}
			return
		}
		if !ok {
			continue
		}
		n++
		if l.PrevOwner != 0 && l.PrevOwner != c.id {
			// What the collector before left open (killed, cut off) is
			// closed at its last message: the time nobody captured the
			// target shows as a gap.
			closed, err := m.store.CloseTargetSessions(ctx, name, c.sessionBase(), c.sessionBase()+1<<sessionBits)
			if err != nil && ctx.Err() == nil {
				m.log.Warn("closing the previous collector's open sessions", "target", name, "error", err)
			}
			for _, se := range closed {
				m.log.Info("closed a session the previous collector left open; the time until this collector connects shows as a gap",
					"target", name, "session", se.ID, "closed_at", se.DisconnectedAt)
			}
		}
		m.log.Info("target lease taken: capturing it", "target", name, "epoch", l.Epoch)
		m.takeTarget(name)
	}
}

// targetOfLease is the target a lease name is of.
func targetOfLease(lease string) (string, bool) {
	const p = "target/"
	if len(lease) > len(p) && lease[:len(p)] == p {
		return lease[len(p):], true
	}
	return "", false
}

// takeTarget opens name's gate and starts its runner (the lease was just
// granted).
func (m *Monitor) takeTarget(name string) {
	m.ops.Lock()
	defer m.ops.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.targets[name]
	if t == nil || m.closed {
		return
	}
	g := &leaseGate{}
	g.open.Store(true)
	m.coll.gates[name] = g
	if t.run == nil && !t.paused && t.broken == "" && m.runCtx != nil {
		m.startLocked(t)
	}
}

// dropTarget closes name's gate and stops its runner (the lease was lost,
// or is about to be released).
func (m *Monitor) dropTarget(name string) {
	m.ops.Lock()
	defer m.ops.Unlock()
	m.mu.Lock()
	g := m.coll.gates[name]
	delete(m.coll.gates, name)
	if g != nil {
		g.open.Store(false)
	}
	var r *runner
	t := m.targets[name]
	if t != nil {
		r = detach(t)
	}
	m.mu.Unlock()
	if t != nil {
		m.stopDetached(t, r)
	}
}

// owns reports whether this process captures target name: always on
// SQLite; on PostgreSQL while it holds the target's lease. m.mu held.
func (m *Monitor) ownsLocked(name string) bool {
	return m.coll == nil || m.coll.gates[name] != nil
}

// releaseAll gives up every target lease this collector holds (a clean
// stop, after the runners stopped and the journal drained): the other
// collectors take the targets at their next look instead of after
// leaseTTL. The index lease is released by ReleaseIndex, once the
// indexer has written its last segment.
func (m *Monitor) releaseAll(ctx context.Context) {
	c := m.coll
	m.mu.Lock()
	names := make([]string, 0, len(c.gates)+1)
	for name, g := range c.gates {
		g.open.Store(false)
		names = append(names, store.TargetLease(name))
	}
	clear(c.gates)
	m.mu.Unlock()
	slices.Sort(names)
	if err := m.store.ReleaseLeases(ctx, c.id, names); err != nil {
		m.log.Warn("releasing leases at stop failed; they expire on their own", "error", err)
	}
	if err := m.store.CollectorHeartbeat(ctx, store.Collector{ID: c.id, HeartbeatAt: time.Now(), StoppedAt: time.Now()}); err != nil {
		m.log.Warn("recording the collector's stop failed", "error", err)
	}
}

// ReleaseIndex gives up the index lease, if this collector holds it (a
// clean stop, after the indexer's final flush), so that another collector
// writes the index at once. A no-op on SQLite.
func (m *Monitor) ReleaseIndex(ctx context.Context) {
	if m.coll == nil || !m.coll.index {
		return
	}
	m.coll.index = false
	if err := m.store.ReleaseLeases(ctx, m.coll.id, []string{store.IndexLease}); err != nil {
		m.log.Warn("releasing the index lease at stop failed; it expires on its own", "error", err)
	}
}

// IndexLead reports whether this process writes the index: always on
// SQLite; on PostgreSQL while it holds the index lease (at start: whether
// it got it when it registered).
func (m *Monitor) IndexLead() bool { return m.coll == nil || m.coll.index }

// takeIndexAtStart tries the index lease once as the collector starts, so
// that the first collector writes the index from the start instead of
// after its first lease round.
func (m *Monitor) takeIndexAtStart(ctx context.Context) error {
	ok, _, err := m.store.AcquireLease(ctx, store.IndexLease, m.coll.id, leaseTTL)
	if err != nil {
		return err
	}
	m.coll.index = ok
	return nil
}
