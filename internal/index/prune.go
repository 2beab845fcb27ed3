package index

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/wsmon/wsmon/internal/store"
)

// Prune deletes the messages received before cutoff (retention_days) and
// keeps the rollups and the index exact: counts are decremented by what is
// deleted, segments wholly below the cut are dropped, and queries ignore
// ids below it. Users keep their first-seen time. It returns the number of
// messages deleted. If the delete fails, nothing was deleted and nothing
// changed.
//
// The database work (finding the cut, counting what goes, the delete)
// runs without the indexer's read-write lock: searches and statistics go
// on meanwhile from the state before the prune, and see it once it is
// swapped in, under a short hold of the lock. Meanwhile flushes wait (a
// flush must not write rollup rows between the delete's subtraction in
// the database and the same subtraction in memory), and so do merges.
func (ix *Indexer) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	if ix.follow.Load() {
		return 0, fmt.Errorf("index: a follower cannot prune")
	}
	// The stored rollups must count every message to delete: flush first.
	if err := ix.Flush(ctx); err != nil {
		return 0, err
	}
	ix.merging.Lock() // no merge may change the segments meanwhile
	defer ix.merging.Unlock()
	ix.flushMu.Lock() // no flush may write rollups meanwhile
	defer ix.flushMu.Unlock()
	ix.mu.RLock()
	deletedBelow, indexed := ix.deletedBelow, ix.indexed
	segs := slices.Clone(ix.segs)
	ix.mu.RUnlock()
	before, err := ix.st.FirstIDFrom(ctx, cutoff, deletedBelow)
	if err != nil {
		return 0, err
	}
	if before == 0 || before > indexed+1 {
		before = indexed + 1 // only what the stored rollups count; the rest next time
	}
	if before <= deletedBelow {
		return 0, nil
	}
	deltas, err := ix.st.PruneDeltas(ctx, before)
	if err != nil {
		return 0, err
	}
	var drop []int64
	for _, sg := range segs {
		if sg.Hi < before {
			drop = append(drop, sg.Seg)
		}
	}
	n, err := ix.st.ApplyPrune(ctx, before, deltas, drop)
	if err != nil {
		return 0, err
	}
	// Swap: wait for running queries, then the new state. Segments listed
	// meanwhile (flushes wait, merges too) are all kept.
	ix.mu.Lock()
	ix.roll.subtract(deltas, before)
	ix.deletedBelow = before
	ix.segs = slices.DeleteFunc(ix.segs, func(sg store.IndexSegment) bool { return slices.Contains(drop, sg.Seg) })
	for _, seg := range drop {
		delete(ix.blocks, seg)
	}
	ix.mu.Unlock()
	// No query reads the dropped segments' blobs any more.
	if err := ix.st.DeleteOrphanBlobs(ctx); err != nil {
		ix.log.Warn("index: deleting the blobs of pruned segments failed; they go at the next start", "error", err)
	}
	return n, nil
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
					u.act -= d.Activity
					if u.count <= 0 {
						delete(r.u, uk)
					}
				}
			}
		}
	}
}
