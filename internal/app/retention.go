package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/store"
)

// Retention runs at start and then every retentionEvery.
const retentionEvery = 10 * time.Minute

// Size-cap pruning deletes at most pruneStep messages at a time (each
// step is one index prune: searches and ingest go on between steps) and
// leaves 10 % headroom under the cap, so it does not run at every check.
const pruneStep = 50_000

// retention deletes messages older than days (0: no age limit) and, while
// the database holds more than maxBytes (0: no cap), the oldest ones, in
// steps, keeping statistics and the search index exact (index.Prune).
func retention(ctx context.Context, ix *index.Indexer, st *store.Store, days int, maxBytes int64, log *slog.Logger) {
	t := time.NewTicker(retentionEvery)
	defer t.Stop()
	for {
		if days > 0 && !ix.Following() { // on PostgreSQL the index writer prunes
			cut := time.Now().AddDate(0, 0, -days)
			if n, err := ix.Prune(ctx, cut); err != nil {
				log.Warn("retention: deleting old messages failed; will retry", "error", err)
			} else if n > 0 {
				log.Info("retention: deleted old messages", "messages", n, "before", cut)
			}
		}
		if maxBytes > 0 {
			if n, err := pruneToSize(ctx, ix, st, maxBytes); err != nil {
				log.Warn("retention: keeping the database under retention_max_bytes failed; will retry", "error", err)
			} else if n > 0 {
				log.Info("retention: deleted the oldest messages to stay under retention_max_bytes", "messages", n, "max_bytes", maxBytes)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pruneToSize deletes the oldest messages until the database's used bytes
// are under 90 % of maxBytes, pruneStep at a time, and returns how many.
func pruneToSize(ctx context.Context, ix *index.Indexer, st *store.Store, maxBytes int64) (int64, error) {
	var deleted int64
	for ctx.Err() == nil {
		used, n, err := st.UsedBytes(ctx)
		if err != nil || used <= maxBytes || n == 0 {
			return deleted, err
		}
		excess := used - maxBytes*9/10
		k := min(excess/max(used/n, 1)+1, pruneStep, n)
		cut, err := st.ReceivedAtAfterOldest(ctx, k)
		if err != nil {
			return deleted, err
		}
		if cut.IsZero() { // fewer than k: delete up to the newest
			cut = time.Now().Add(time.Millisecond)
		}
		d, err := ix.Prune(ctx, cut)
		if err == nil && d == 0 {
			// The oldest messages share the cut's millisecond (a burst
			// stores hundreds per ms): Prune deletes those received
			// before it, none. Take that millisecond too.
			d, err = ix.Prune(ctx, cut.Add(time.Millisecond))
		}
		deleted += d
		if err != nil || d == 0 { // nothing more it may delete (not yet indexed)
			return deleted, err
		}
	}
	return deleted, ctx.Err()
}
