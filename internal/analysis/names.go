package analysis

import (
	"bytes"
	"cmp"
	"context"
	"sort"
	"strings"
	"sync"

	"github.com/wsmon/wsmon/internal/store"
)

// The users list's name filter (`q`, a case-sensitive substring). The
// store answers it by walking the list's order and checking each name, so
// a substring that few names hold walks every row (885 ms at 1,000,000
// users). nameIndex keeps a copy of every name in memory, concatenated,
// and finds the few that hold a rare substring by searching that buffer
// (bytes.Index: a few milliseconds for 1,000,000 names); their rows are
// then read by id. A substring that many names hold is left to the walk,
// which finds a page of them in a few rows.

// sparseNames is the most names a filter reads by id; a filter that more
// names hold walks the list (a page of them is within a few thousand rows
// of any cursor).
const sparseNames = 5000

// namesPage is how many names a refresh reads per query.
const namesPage = 100_000

// nameIndex is every user name of the behaviour rollups, in row id order.
// Its methods are safe for concurrent use (mu held throughout, including
// the store reads of a refresh).
type nameIndex struct {
	mu   sync.Mutex
	buf  []byte  // the names, one after another, no separator
	ends []int   // ends[i]: the end of name i in buf
	ids  []int64 // ids[i]: its row id, ascending
	st   *store.Store
	max  int // the most names read by id (0: sparseNames; tests lower it)
}

// refresh reads the names written since the last one held; when that one
// is no longer the row it was (the rollups were emptied and rebuilt in
// another order), it starts over.
func (x *nameIndex) refresh(ctx context.Context) error {
	if n := len(x.ids); n > 0 {
		name, ok, err := x.st.BehaviourNameOf(ctx, x.ids[n-1])
		if err != nil {
			return err
		}
		if !ok || name != string(x.buf[x.start(n-1):x.ends[n-1]]) {
			x.buf, x.ends, x.ids = nil, nil, nil
		}
	}
	for {
		after := int64(0)
		if n := len(x.ids); n > 0 {
			after = x.ids[n-1]
		}
		page, err := x.st.BehaviourNamesAfter(ctx, after, namesPage)
		if err != nil {
			return err
		}
		for _, r := range page {
			x.buf = append(x.buf, r.Name...)
			x.ends = append(x.ends, len(x.buf))
			x.ids = append(x.ids, r.ID)
		}
		if len(page) < namesPage {
			return nil
		}
	}
}

func (x *nameIndex) start(i int) int {
	if i == 0 {
		return 0
	}
	return x.ends[i-1]
}

// holding returns the ids of the names that contain sub, after bringing
// the copy up to date; sparse is false (and ids nil) when more than
// sparseNames hold it.
func (x *nameIndex) holding(ctx context.Context, sub string) (ids []int64, sparse bool, err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.refresh(ctx); err != nil {
		return nil, false, err
	}
	q := []byte(sub)
	for from := 0; from < len(x.buf); {
		i := bytes.Index(x.buf[from:], q)
		if i < 0 {
			break
		}
		at := from + i
		k := sort.SearchInts(x.ends, at+1) // the name holding byte at
		if at+len(q) <= x.ends[k] {
			if len(ids) == cmp.Or(x.max, sparseNames) {
				return nil, false, nil
			}
			ids = append(ids, x.ids[k])
			from = x.ends[k] // one hit per name
		} else {
			from = at + 1 // across two names: not a hit
		}
	}
	return ids, true, nil
}

// filterUsers answers a users page for a filter few names hold: the rows
// of the names holding sq.Contains in sq's order, after its cursor, at
// most sq.Limit, as the store's walk would give them.
func filterUsers(rows []store.BehaviourUser, sq store.BehaviourUsersQuery) []store.BehaviourUser {
	key := func(u *store.BehaviourUser) int64 {
		switch sq.Sort {
		case store.SortMessages:
			return u.Messages
		case store.SortLastSeen:
			return u.LastSeen.UnixMilli()
		case store.SortFirstSeen:
			return u.FirstSeen.UnixMilli()
		}
		return 0
	}
	// less is the ascending order: the sort value, then the name.
	less := func(av int64, an string, bv int64, bn string) bool {
		if av != bv {
			return av < bv
		}
		return an < bn
	}
	out := rows[:0]
	for i := range rows {
		u := &rows[i]
		if !strings.Contains(u.User, sq.Contains) {
			continue
		}
		if sq.After {
			v := key(u)
			if sq.Desc && !less(v, u.User, sq.AfterValue, sq.AfterUser) ||
				!sq.Desc && !less(sq.AfterValue, sq.AfterUser, v, u.User) {
				continue
			}
		}
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if sq.Desc {
			return less(key(b), b.User, key(a), a.User)
		}
		return less(key(a), a.User, key(b), b.User)
	})
	if len(out) > sq.Limit {
		out = out[:sq.Limit]
	}
	return out
}
