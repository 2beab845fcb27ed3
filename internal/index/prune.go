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
// messages deleted.
func (ix *Indexer) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	ps, ok := ix.st.(pruneStore)
	if !ok {
		return 0, fmt.Errorf("index: store cannot prune")
	}
	// The stored rollups must count every message to delete: flush first.
	if err := ix.Flush(ctx); err != nil {
		return 0, err
	}
	ix.merging.Lock() // no merge may change the segments meanwhile
	defer ix.merging.Unlock()
	ix.flushMu.Lock() // no flush may write rollups meanwhile
	defer ix.flushMu.Unlock()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	before, err := ps.FirstIDFrom(ctx, cutoff, ix.deletedBelow)
	if err != nil {
		return 0, err
	}
	if before == 0 || before > ix.indexed+1 {
		before = ix.indexed + 1 // only what the stored rollups count; the rest next time
	}
	if before <= ix.deletedBelow {
		return 0, nil
	}
	deltas, err := ps.PruneDeltas(ctx, before)
	if err != nil {
		return 0, err
	}
	ix.roll.subtract(deltas, before, 1)
	var drop []int64
	var keep []store.IndexSegment
	for _, sg := range ix.segs {
		if sg.Hi < before {
			drop = append(drop, sg.Seg)
		} else {
			keep = append(keep, sg)
		}
	}
	n, err := ps.ApplyPrune(ctx, before, deltas, drop)
	if err != nil {
		ix.roll.subtract(deltas, before, -1) // nothing was deleted: undo
		return 0, err
	}
	ix.deletedBelow, ix.segs = before, keep
	return n, nil
}

// subtract removes (sign 1) or restores (sign -1) what deltas count.
func (r *rollups) subtract(deltas []store.PruneDelta, before int64, sign int64) {
	for _, d := range deltas {
		n := sign * d.Count
		for _, t := range [2]string{d.Target, ""} {
			k := qkey{t, d.Bucket}
			v := r.q[k]
			if v == nil {
				v = &qval{minID: before, maxID: before}
				r.q[k] = v
			}
			v.count -= n
			v.minID = max(v.minID, before)
			if v.count <= 0 {
				delete(r.q, k)
			}
			r.totals[t] -= n
			if d.User != "" {
				uk := ukey{t, d.User}
				u := r.u[uk]
				if u == nil {
					u = &uval{}
					r.u[uk] = u
				}
				u.count -= n
				if u.count <= 0 {
					delete(r.u, uk)
				}
			}
		}
	}
}
