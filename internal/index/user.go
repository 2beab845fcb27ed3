package index

import (
	"context"
	"time"

	"github.com/wsmon/wsmon/internal/store"
)

// activeHoursSample is how many of a user's most recent messages the
// active-hours histogram is drawn from.
const activeHoursSample = 5000

// User answers the user page from the rollups (count, first and last seen,
// exact) and the index (recent messages; the active-hours histogram over
// the user's most recent 5,000 messages).
func (ix *Indexer) User(ctx context.Context, name, target string) (store.UserInfo, error) {
	if err := ix.fresh(ctx); err != nil {
		return store.UserInfo{}, err
	}
	ix.mu.RLock()
	v := ix.roll.u[ukey{target, name}]
	var u store.UserInfo
	if v != nil {
		u = store.UserInfo{User: name, Count: v.count, FirstSeen: time.UnixMilli(v.first), LastSeen: time.UnixMilli(v.last)}
	}
	ix.mu.RUnlock()
	if v == nil || v.count == 0 {
		return store.UserInfo{User: name}, store.ErrNotFound
	}
	recent, err := ix.Messages(ctx, store.MessageQuery{User: name, Target: target, Limit: activeHoursSample})
	if err != nil {
		return u, err
	}
	loc := ix.st.Location()
	for i := range recent {
		u.ActiveHours[recent[i].ReceivedAt.In(loc).Hour()]++
	}
	u.Recent = recent[:min(len(recent), 20)]
	return u, nil
}
