package index

import (
	"github.com/wsmon/wsmon/internal/store"
)

const quarterMs = 15 * 60 * 1000

type qkey struct {
	target string // "" = all targets
	bucket int64  // Unix ms / quarterMs
}

type qval struct{ count, minID, maxID int64 }

type ukey struct{ target, user string } // target "" = all targets

type uval struct{ count, first, last int64 }

// rollups are the statistics, complete in memory: per target (and for all
// targets under ""), messages per 15 minutes and per-user totals. Only
// per-target rows are stored; the "" aggregates are rebuilt at load.
type rollups struct {
	q      map[qkey]*qval
	u      map[ukey]*uval
	totals map[string]int64
	dq     map[qkey]struct{}
	du     map[ukey]struct{}
}

func newRollups(qs []store.QuarterRow, us []store.UserRow) *rollups {
	r := &rollups{q: map[qkey]*qval{}, u: map[ukey]*uval{}, totals: map[string]int64{},
		dq: map[qkey]struct{}{}, du: map[ukey]struct{}{}}
	for _, q := range qs {
		r.q[qkey{q.Target, q.Bucket}] = &qval{q.Count, q.MinID, q.MaxID}
		r.mergeQ(qkey{"", q.Bucket}, q.Count, q.MinID, q.MaxID)
		r.totals[q.Target] += q.Count
		r.totals[""] += q.Count
	}
	for _, u := range us {
		r.u[ukey{u.Target, u.User}] = &uval{u.Count, u.FirstSeen, u.LastSeen}
		r.mergeU(ukey{"", u.User}, u.Count, u.FirstSeen, u.LastSeen)
	}
	return r
}

func (r *rollups) mergeQ(k qkey, n, lo, hi int64) {
	v := r.q[k]
	if v == nil {
		r.q[k] = &qval{n, lo, hi}
		return
	}
	v.count += n
	v.minID, v.maxID = min(v.minID, lo), max(v.maxID, hi)
}

func (r *rollups) mergeU(k ukey, n, first, last int64) {
	v := r.u[k]
	if v == nil {
		r.u[k] = &uval{n, first, last}
		return
	}
	v.count += n
	v.first, v.last = min(v.first, first), max(v.last, last)
}

// add counts one message.
func (r *rollups) add(id int64, target string, atMs int64, user string) {
	b := atMs / quarterMs
	for _, t := range [2]string{target, ""} {
		r.mergeQ(qkey{t, b}, 1, id, id)
		r.totals[t]++
		if user != "" {
			r.mergeU(ukey{t, user}, 1, atMs, atMs)
		}
	}
	r.dq[qkey{target, b}] = struct{}{}
	if user != "" {
		r.du[ukey{target, user}] = struct{}{}
	}
}

func (r *rollups) dirty() bool { return len(r.dq) > 0 || len(r.du) > 0 }

// takeDirty returns the changed per-target rows (full values; Count 0 means
// delete) and clears the dirty sets.
func (r *rollups) takeDirty() ([]store.QuarterRow, []store.UserRow) {
	qs := make([]store.QuarterRow, 0, len(r.dq))
	for k := range r.dq {
		row := store.QuarterRow{Target: k.target, Bucket: k.bucket}
		if v := r.q[k]; v != nil {
			row.Count, row.MinID, row.MaxID = v.count, v.minID, v.maxID
		}
		qs = append(qs, row)
	}
	us := make([]store.UserRow, 0, len(r.du))
	for k := range r.du {
		row := store.UserRow{Target: k.target, User: k.user}
		if v := r.u[k]; v != nil {
			row.Count, row.FirstSeen, row.LastSeen = v.count, v.first, v.last
		}
		us = append(us, row)
	}
	clear(r.dq)
	clear(r.du)
	return qs, us
}

// markDirty re-marks rows whose write failed.
func (r *rollups) markDirty(qs []store.QuarterRow, us []store.UserRow) {
	for _, q := range qs {
		r.dq[qkey{q.Target, q.Bucket}] = struct{}{}
	}
	for _, u := range us {
		r.du[ukey{u.Target, u.User}] = struct{}{}
	}
}

// firstIDFrom returns the smallest id in buckets at or after fromMs's
// bucket (0 if none), for target ("" = all).
func (r *rollups) firstIDFrom(target string, fromMs int64) int64 {
	b0 := fromMs / quarterMs
	best := int64(0)
	for k, v := range r.q {
		if k.target == target && k.bucket >= b0 && (best == 0 || v.minID < best) {
			best = v.minID
		}
	}
	return best
}

// lastIDBefore returns the largest id in buckets at or before toMs's
// bucket (0 if none).
func (r *rollups) lastIDBefore(target string, toMs int64) int64 {
	b1 := toMs / quarterMs
	best := int64(0)
	for k, v := range r.q {
		if k.target == target && k.bucket <= b1 && v.maxID > best {
			best = v.maxID
		}
	}
	return best
}
