package index

import (
	"github.com/wsmon/wsmon/internal/store"
)

const quarterMs = 15 * 60 * 1000

type qkey struct {
	target string // "" = all targets
	bucket int64  // Unix ms / quarterMs
}

type qval struct {
	count, minID, maxID int64
	all                 *qval // the all-targets entry of the same bucket (per-target entries)
	dirty               bool  // changed since the last takeDirty (per-target entries)
}

type ukey struct{ target, user string } // target "" = all targets

type uval struct {
	count, first, last int64
	act, lastAct       int64 // activity messages (message.IsActivity) and the newest one's time
	all                *uval // the all-targets entry of the same user (per-target entries)
	dirty              bool
}

// rollups are the statistics, complete in memory: per target (and for all
// targets under ""), messages per 15 minutes and per-user totals. Only
// per-target rows are stored; the "" aggregates are rebuilt at load. A
// per-target entry points to its aggregate and carries its dirty mark, so
// counting a message costs two map lookups, not six.
type rollups struct {
	q      map[qkey]*qval
	u      map[ukey]*uval
	totals map[string]int64
	dq     []qkey // per-target entries marked dirty
	du     []ukey
}

func newRollups(qs []store.QuarterRow, us []store.UserRow) *rollups {
	r := &rollups{q: map[qkey]*qval{}, u: map[ukey]*uval{}, totals: map[string]int64{}}
	for _, q := range qs {
		r.mergeQ(qkey{"", q.Bucket}, q.Count, q.MinID, q.MaxID)
		r.q[qkey{q.Target, q.Bucket}] = &qval{count: q.Count, minID: q.MinID, maxID: q.MaxID, all: r.q[qkey{"", q.Bucket}]}
		r.totals[q.Target] += q.Count
		r.totals[""] += q.Count
	}
	for _, u := range us {
		r.mergeU(ukey{"", u.User}, u)
		r.u[ukey{u.Target, u.User}] = &uval{count: u.Count, first: u.FirstSeen, last: u.LastSeen, act: u.Activity, lastAct: u.LastActive, all: r.u[ukey{"", u.User}]}
	}
	return r
}

// mergeQ adds to the all-targets entry k.
func (r *rollups) mergeQ(k qkey, n, lo, hi int64) {
	v := r.q[k]
	if v == nil {
		r.q[k] = &qval{count: n, minID: lo, maxID: hi}
		return
	}
	v.count += n
	v.minID, v.maxID = min(v.minID, lo), max(v.maxID, hi)
}

// mergeU adds a per-target row to the all-targets entry k.
func (r *rollups) mergeU(k ukey, u store.UserRow) {
	v := r.u[k]
	if v == nil {
		r.u[k] = &uval{count: u.Count, first: u.FirstSeen, last: u.LastSeen, act: u.Activity, lastAct: u.LastActive}
		return
	}
	v.count += u.Count
	v.first, v.last = min(v.first, u.FirstSeen), max(v.last, u.LastSeen)
	v.act += u.Activity
	v.lastAct = max(v.lastAct, u.LastActive)
}

// add counts one message; activity: message.IsActivity of its type.
func (r *rollups) add(id int64, target string, atMs int64, user string, activity bool) {
	b := atMs / quarterMs
	k := qkey{target, b}
	q := r.q[k]
	if q == nil {
		r.mergeQ(qkey{"", b}, 0, id, id)
		q = &qval{minID: id, maxID: id, all: r.q[qkey{"", b}]}
		r.q[k] = q
	}
	for _, v := range [2]*qval{q, q.all} {
		v.count++
		v.minID, v.maxID = min(v.minID, id), max(v.maxID, id)
	}
	if !q.dirty {
		q.dirty = true
		r.dq = append(r.dq, k)
	}
	r.totals[target]++
	r.totals[""]++
	if user == "" {
		return
	}
	uk := ukey{target, user}
	u := r.u[uk]
	if u == nil {
		r.mergeU(ukey{"", user}, store.UserRow{FirstSeen: atMs, LastSeen: atMs})
		u = &uval{first: atMs, last: atMs, all: r.u[ukey{"", user}]}
		r.u[uk] = u
	}
	for _, v := range [2]*uval{u, u.all} {
		v.count++
		v.first, v.last = min(v.first, atMs), max(v.last, atMs)
		if activity {
			v.act++
			v.lastAct = max(v.lastAct, atMs)
		}
	}
	if !u.dirty {
		u.dirty = true
		r.du = append(r.du, uk)
	}
}

func (r *rollups) dirty() bool { return len(r.dq) > 0 || len(r.du) > 0 }

// takeDirty returns the changed per-target rows (full values; Count 0 means
// delete) and clears the dirty marks.
func (r *rollups) takeDirty() ([]store.QuarterRow, []store.UserRow) {
	qs := make([]store.QuarterRow, 0, len(r.dq))
	for _, k := range r.dq {
		row := store.QuarterRow{Target: k.target, Bucket: k.bucket}
		if v := r.q[k]; v != nil {
			row.Count, row.MinID, row.MaxID = v.count, v.minID, v.maxID
			v.dirty = false
		}
		qs = append(qs, row)
	}
	us := make([]store.UserRow, 0, len(r.du))
	for _, k := range r.du {
		row := store.UserRow{Target: k.target, User: k.user}
		if v := r.u[k]; v != nil {
			row.Count, row.FirstSeen, row.LastSeen = v.count, v.first, v.last
			row.Activity, row.LastActive = v.act, v.lastAct
			v.dirty = false
		}
		us = append(us, row)
	}
	r.dq, r.du = nil, nil
	return qs, us
}

// markDirty re-marks rows whose write failed.
func (r *rollups) markDirty(qs []store.QuarterRow, us []store.UserRow) {
	for _, q := range qs {
		k := qkey{q.Target, q.Bucket}
		if v := r.q[k]; v == nil || !v.dirty {
			if v != nil {
				v.dirty = true
			}
			r.dq = append(r.dq, k)
		}
	}
	for _, u := range us {
		k := ukey{u.Target, u.User}
		if v := r.u[k]; v == nil || !v.dirty {
			if v != nil {
				v.dirty = true
			}
			r.du = append(r.du, k)
		}
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
