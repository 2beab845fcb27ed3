package app

import (
	"context"
	"time"

	"github.com/wsmon/wsmon/internal/capture"
	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/ingest"
	"github.com/wsmon/wsmon/internal/metrics"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/web"
)

// metricTargets is every target's status for /metrics.
func (m *Monitor) metricTargets() []metrics.Target {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]metrics.Target, 0, len(m.order))
	for _, name := range m.order {
		t := m.targets[name]
		st := statusOf(t)
		mt := metrics.Target{Name: name, State: st.State, Reconnects: st.Reconnects, LastMessageAt: st.LastMessageAt, Frames: st.Frames}
		var cs *capture.Status
		if t.run != nil {
			s := t.run.r.Status()
			cs = &s
		} else {
			cs = t.last
		}
		if cs != nil {
			mt.Control, mt.Dropped, mt.ReconnectsByReason = cs.TotalControl, cs.TotalDropped, cs.ReconnectsByReason
		}
		out = append(out, mt)
	}
	return out
}

// metricIngest is the pipeline's and the journal's state for /metrics.
func (m *Monitor) metricIngest() *metrics.Ingest {
	st := m.pipeline.Stats()
	h := m.journal.Health()
	corrupt, _ := m.journal.Corrupt()
	return &metrics.Ingest{
		Messages: st.Messages, Duplicates: st.Duplicates, IDCollisions: st.IDCollisions, Batches: st.Batches,
		DatabaseWriteErrors: st.FailedWrites, Backlog: st.Backlog, JournalHealthy: h.Err == nil,
		JournalPendingBytes: int64(h.PendingBytes), JournalDroppedFrames: h.DroppedFrames, JournalDroppedBytes: h.DroppedBytes,
		JournalCorrupt: corrupt,
	}
}

// snapshot gathers what one /metrics scrape reports: from the monitor
// when it runs in this process, else (wsmon web) the targets' stored
// status; the index's lag behind the database; the open live streams.
func snapshot(mon *Monitor, st *store.Store, ix *index.Indexer, handler **web.Server, an *analyses) func() metrics.Snapshot {
	status := storeStatus(st)
	return func() metrics.Snapshot {
		var s metrics.Snapshot
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if mon != nil {
			s.Targets, s.Ingest = mon.metricTargets(), mon.metricIngest()
			if d := mon.notifier; d != nil {
				s.Notifiers = d.Stats()
			}
		} else {
			for _, t := range status(ctx) {
				s.Targets = append(s.Targets, metrics.Target{Name: t.Target, State: t.State, Reconnects: t.Reconnects, LastMessageAt: t.LastMessageAt})
			}
		}
		ixs := ix.Status()
		s.Segments = ixs.Segments
		if maxID, err := st.MaxMessageID(ctx); err == nil && maxID > ixs.Consumed {
			s.IndexLag = maxID - ixs.Consumed
		}
		if h := *handler; h != nil {
			s.LiveClients = h.LiveClients()
		}
		s.Sentiment = an.sentimentMetrics()
		return s
	}
}

// timedStore is the ingest store with each batch write timed for
// /metrics.
type timedStore struct {
	ingest.Store
	observe func(time.Duration)
}

func (t timedStore) ApplyBatch(ctx context.Context, b *store.Batch) error {
	start := time.Now()
	err := t.Store.ApplyBatch(ctx, b)
	t.observe(time.Since(start))
	return err
}
