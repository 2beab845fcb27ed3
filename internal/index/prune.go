package index

import (
	"context"
	"fmt"
	"time"

	"github.com/wsmon/wsmon/internal/store"
)

// Store methods retention needs.
type pruneStore interface {
	FirstIDFrom(ctx context.Context, t time.Time, lo int64) (int64, error)
	PruneDeltas(ctx context.Context, before int64) ([]store.PruneDelta, error)
	ApplyPrune(ctx context.Context, before int64, deltas []store.PruneDelta, dropSegs []int64) (int64, error)
}

// Prune deletes the messages received before cutoff (retention_days) and
// keeps the rollups and the index exact: counts are decremented by what is
// deleted, segments wholly below the cut are dropped, and queries ignore
// ids below it. Users keep their first-seen time. It returns the number of
// messages deleted. If the delete fails, nothing was deleted and the
// in-memory state is reloaded from the database.
func (ix *Indexer) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	n, changed, err := ix.prune(ctx, cutoff)
	if err != nil && changed {
		if lerr := ix.load(ctx); lerr != nil {
			return 0, fmt.Errorf("%w (and reloading the index: %v)", err, lerr)
		}
	}
	return n, err
}

// prune does Prune's work under the locks; changed reports that the
// in-memory rollups were modified.
func (ix *Indexer) prune(ctx context.Context, cutoff time.Time) (n int64, changed bool, err error) {
	ps, ok := ix.st.(pruneStore)
	if !ok {
		return 0, false, fmt.Errorf("index: store cannot prune")
	}
	// The stored rollups must count every message to delete: flush first.
	if err := ix.Flush(ctx); err != nil {
		return 0, false, err
	}
	ix.merging.Lock() // no merge may change the segments meanwhile
	defer ix.merging.Unlock()
	ix.flushMu.Lock() // no flush may write rollups meanwhile
	defer ix.flushMu.Unlock()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	before, err := ps.FirstIDFrom(ctx, cutoff, ix.deletedBelow)
	if err != nil {
		return 0, false, err
	}
	if before == 0 || before > ix.indexed+1 {
		before = ix.indexed + 1 // only what the stored rollups count; the rest next time
	}
	if before <= ix.deletedBelow {
		return 0, false, nil
	}
	deltas, err := ps.PruneDeltas(ctx, before)
	if err != nil {
		return 0, false, err
	}
	ix.roll.subtract(deltas, before)
	var drop []int64
	var keep []store.IndexSegment
	for _, sg := range ix.segs {
		if sg.Hi < before {
			drop = append(drop, sg.Seg)
		} else {
			keep = append(keep, sg)
		}
	}
	n, err = ps.ApplyPrune(ctx, before, deltas, drop)
	if err != nil {
		return 0, true, err
	}
	ix.deletedBelow, ix.segs = before, keep
	return n, false, nil
}

// subtract removes what deltas count.
func (r *rollups) subtract(deltas []store.PruneDelta, before int64) {
	for _, d := range deltas {
		for _, t := range [2]string{d.Target, ""} {
			k := qkey{t, d.Bucket}
			if v := r.q[k]; v != nil {
				v.count -= d.Count
				v.minID = max(v.minID, before)
				if v.count <= 0 {
					delete(r.q, k)
				}
			}
			r.totals[t] -= d.Count
			if d.User != "" {
				uk := ukey{t, d.User}
				if u := r.u[uk]; u != nil {
					u.count -= d.Count
					if u.count <= 0 {
						delete(r.u, uk)
					}
				}
			}
		}
	}
}
