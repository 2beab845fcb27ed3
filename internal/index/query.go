package index

import (
	"context"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/search"
	"github.com/wsmon/wsmon/internal/store"
)

// countCap bounds how many further candidates a query walks past its page
// to give an exact total; beyond it the total is an estimate.
const countCap = 20_000

// verifyBatch is how many candidate rows are fetched at a time.
const verifyBatch = 256

// verifyCap bounds the candidates verified beyond the page for an exact
// total; past it the total is estimated from the verified share.
const verifyCap = 300

// source is one gram's ids across memory and database segments.
type source struct {
	gram  search.Gram
	count int // ids in the list (exact)
	cur   cursor
}

// sourceFor collects gram's list from the memory segments and the database
// segments (newest first). Call with ix.mu held for reading. Errors reading
// long lists later, while walking, land in *lerr.
func (ix *Indexer) sourceFor(ctx context.Context, g search.Gram, lerr *error) (*source, error) {
	s := &source{gram: g}
	var parts []cursor
	for _, m := range []*memSegment{ix.mem, ix.flushing} {
		if m == nil || m.count == 0 {
			continue
		}
		c, n := m.cursor(g)
		if n > 0 {
			parts = append(parts, c)
			s.count += n
		}
	}
	if len(ix.segs) > 0 {
		blobs, err := ix.st.BucketBlobs(ctx, search.Bucket(g, ix.opts.Buckets))
		if err != nil {
			return nil, err
		}
		known := make(map[int64]store.IndexSegment, len(ix.segs))
		for _, sg := range ix.segs {
			known[sg.Seg] = sg
		}
		// Newest id range first (a merged segment has a new number but old ids).
		slices.SortFunc(blobs, func(x, y store.SegBlob) int {
			return int(known[y.Seg].Hi - known[x.Seg].Hi)
		})
		for _, b := range blobs {
			sg, ok := known[b.Seg]
			if !ok {
				continue // a merge in progress, or segments merged away
			}
			n, data, found, err := search.FindInBlob(b.Data, g)
			if err != nil {
				return nil, err
			}
			if !found {
				continue
			}
			seg := sg.Seg
			load := func() ([]byte, error) { return data, nil }
			if data == nil { // a long list, in a row of its own
				load = func() ([]byte, error) { return ix.st.IndexList(ctx, seg, uint64(g)) }
			}
			if sg.Lo < ix.deletedBelow {
				// Partly deleted by retention: count only what is left.
				d, err := load()
				if err != nil {
					return nil, err
				}
				it := search.NewIter(d, n, sg.Hi)
				left := 0
				for id, ok := it.Next(); ok && id >= ix.deletedBelow; id, ok = it.Next() {
					left++
				}
				n, load = left, func() ([]byte, error) { return d, nil }
			}
			parts = append(parts, &iterCursor{load: load, n: n, hi: sg.Hi, err: lerr})
			s.count += n
		}
	}
	s.cur = &chain{parts: parts}
	return s, nil
}

// plan turns a query into gram sources, rarest first. ok is false when
// some gram has no ids at all (nothing can match).
func (ix *Indexer) sources(ctx context.Context, grams []search.Gram, lerr *error) ([]*source, bool, error) {
	srcs := make([]*source, 0, len(grams))
	for _, g := range grams {
		s, err := ix.sourceFor(ctx, g, lerr)
		if err != nil {
			return nil, false, err
		}
		if s.count == 0 {
			return nil, false, nil
		}
		srcs = append(srcs, s)
	}
	sort.Slice(srcs, func(a, b int) bool { return srcs[a].count < srcs[b].count })
	return srcs, true, nil
}

func fieldGrams(q store.MessageQuery) []search.Gram {
	var gs []search.Gram
	if q.User != "" {
		gs = append(gs, search.FieldGram(search.FieldUser, q.User))
	}
	if q.Type != "" {
		gs = append(gs, search.FieldGram(search.FieldType, q.Type))
	}
	if q.Target != "" {
		gs = append(gs, search.FieldGram(search.FieldTarget, q.Target))
	}
	if q.Room != "" {
		gs = append(gs, search.FieldGram(search.FieldRoom, q.Room))
	}
	return gs
}

// bounds returns the id range a query can match.
func (ix *Indexer) bounds(q store.MessageQuery) (lo, hi int64) {
	lo, hi = max(1, ix.deletedBelow), int64(math.MaxInt64)
	if q.Before > 0 {
		hi = q.Before - 1
	}
	if !q.From.IsZero() {
		if id := ix.roll.firstIDFrom("", q.From.UnixMilli()); id > 0 {
			lo = max(lo, id)
		} else {
			lo = math.MaxInt64 // nothing that late
		}
	}
	if !q.To.IsZero() {
		hi = min(hi, ix.roll.lastIDBefore("", q.To.UnixMilli()))
	}
	return lo, hi
}

// Search returns the messages whose content contains text (case-insensitive,
// literal) and that pass q's filters, newest first, a page of q.Limit, with
// the total (exact, or an estimate when marked so).
func (ix *Indexer) Search(ctx context.Context, text string, q store.MessageQuery) (store.SearchResult, error) {
	plan := search.PlanQuery(text)
	if q.Before <= 0 {
		return ix.find(ctx, plan, q, true)
	}
	// A later page: the total counts the matches of every page
	// (docs/api.md), so it is counted without the cursor.
	res, err := ix.find(ctx, plan, q, false)
	if err != nil {
		return res, err
	}
	all := q
	all.Before, all.Limit = 0, 1
	t, err := ix.find(ctx, plan, all, true)
	res.Total, res.Estimate = t.Total, t.Estimate
	return res, err
}

// Messages lists messages newest first with q's filters, using the field
// keys of the index so a filter on a rare user is as fast as on a common one.
func (ix *Indexer) Messages(ctx context.Context, q store.MessageQuery) ([]message.Message, error) {
	if len(fieldGrams(q)) == 0 {
		return ix.st.Messages(ctx, q)
	}
	res, err := ix.find(ctx, search.Plan{Exact: true}, q, false)
	return res.Messages, err
}

func (ix *Indexer) find(ctx context.Context, plan search.Plan, q store.MessageQuery, wantTotal bool) (res store.SearchResult, err error) {
	if err := ix.fresh(ctx); err != nil {
		return store.SearchResult{}, err
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	grams := append(slices.Clone(plan.Grams), fieldGrams(q)...)
	res = store.SearchResult{Messages: []message.Message{}}
	if len(grams) == 0 {
		// No text and no field filter: a plain newest-first listing.
		ms, err := ix.st.Messages(ctx, q)
		res.Messages = ms
		if wantTotal {
			res.Total, res.Estimate = ix.roll.totals[""], !q.From.IsZero() || !q.To.IsZero()
		}
		return res, err
	}
	var lerr error // from reading long lists while walking
	srcs, any, err := ix.sources(ctx, grams, &lerr)
	if err != nil || !any {
		return res, err
	}
	defer func() {
		if lerr != nil && err == nil {
			res, err = store.SearchResult{}, lerr
		}
	}()
	lo, hi := ix.bounds(q)
	driver, others := srcs[0], make([]*peekCursor, 0, len(srcs)-1)
	for _, s := range srcs[1:] {
		others = append(others, &peekCursor{c: s.cur})
	}
	// next returns the next candidate id: in every list, within bounds.
	bound := hi
	next := func() (int64, bool) {
	outer:
		for {
			id, ok := driver.cur.next(bound)
			if !ok || id < lo {
				return 0, false
			}
			bound = id - 1
			for _, o := range others {
				if !o.contains(id) {
					continue outer
				}
			}
			return id, true
		}
	}
	// needRows: the candidates must be checked against the stored row
	// (content for long queries, or filters the grams do not express).
	timeFilter := !q.From.IsZero() || !q.To.IsZero()
	needRows := !plan.Exact || timeFilter || len(fieldGrams(q)) > 0
	checked, hits := 0, 0
	var batch []int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		ms, err := ix.st.MessagesByIDs(ctx, batch, q)
		if err != nil {
			return err
		}
		checked += len(batch)
		for i := range ms {
			if !plan.Exact && !search.MatchFolded(ms[i].Content, plan.Folded) {
				continue
			}
			hits++
			if len(res.Messages) < q.Limit {
				res.Messages = append(res.Messages, ms[i])
			}
		}
		batch = batch[:0]
		return nil
	}
	candidates := 0
	exhausted := false
	for len(res.Messages) < q.Limit {
		id, ok := next()
		if !ok {
			exhausted = true
			break
		}
		candidates++
		if !needRows {
			batch = append(batch, id)
			if len(batch)+len(res.Messages) >= q.Limit {
				if err := flush(); err != nil {
					return res, err
				}
			}
			continue
		}
		batch = append(batch, id)
		if len(batch) >= verifyBatch || len(batch) >= 4*(q.Limit-len(res.Messages)) {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	if err := flush(); err != nil {
		return res, err
	}
	if !wantTotal {
		return res, nil
	}
	// Total: exact when the lists alone decide (or everything was checked).
	if exhausted {
		res.Total = int64(hits)
		return res, nil
	}
	if !needRows && len(others) == 0 && lo <= 1 && hi == math.MaxInt64 {
		res.Total = int64(driver.count)
		return res, nil
	}
	// Walk on through the lists (no rows) up to countCap, or a tenth of it
	// when candidates would need their rows to count.
	limit := countCap
	if needRows {
		limit = countCap / 10
	}
	extra := 0
	for extra < limit {
		id, ok := next()
		if !ok {
			exhausted = true
			break
		}
		extra++
		if needRows {
			batch = append(batch, id)
		}
	}
	if !needRows {
		res.Total = int64(hits + extra)
		res.Estimate = !exhausted
		if !exhausted {
			res.Total = max(res.Total, int64(float64(driver.count)*float64(hits+extra)/float64(max(candidates+extra, 1))))
		}
		return res, nil
	}
	if exhausted && len(batch) <= verifyCap {
		// Every candidate is known and few: verify them, the total is exact.
		rest := batch
		for len(rest) > 0 {
			n := min(len(rest), verifyBatch)
			batch = append([]int64(nil), rest[:n]...)
			rest = rest[n:]
			if err := flush(); err != nil {
				return res, err
			}
		}
		res.Total = int64(hits)
		return res, nil
	}
	ratio := float64(hits) / float64(max(checked, 1))
	res.Total = int64(hits) + int64(ratio*float64(len(batch))) + int64(ratio*float64(max(driver.count-candidates-extra, 0)))
	res.Estimate = true
	return res, nil
}

// Stats answers the dashboard statistics from the rollups; with a from/to
// range it falls back to a scan of the range.
func (ix *Indexer) Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error) {
	if !q.From.IsZero() || !q.To.IsZero() {
		return ix.st.StatsScan(ctx, q)
	}
	if err := ix.fresh(ctx); err != nil {
		return store.Stats{}, err
	}
	loc := ix.st.Location()
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	now := q.Now.In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	dayStart, dayEnd := today.AddDate(0, 0, -29), today.AddDate(0, 0, 1)

	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var st store.Stats
	t := q.Target
	st.Total = ix.roll.totals[t]
	// Quarter buckets over the 30 days, folded into local days and hours.
	idx := map[string]int{}
	for d := dayStart; d.Before(dayEnd); d = d.AddDate(0, 0, 1) {
		key := d.Format("2006-01-02")
		idx[key] = len(st.Daily)
		st.Daily = append(st.Daily, store.DayCount{Date: key})
	}
	b0, b1 := dayStart.UnixMilli()/quarterMs, dayEnd.UnixMilli()/quarterMs
	midnight := today.UnixMilli() / quarterMs
	for b := b0; b < b1; b++ {
		v := ix.roll.q[qkey{t, b}]
		if v == nil {
			continue
		}
		tt := time.UnixMilli(b * quarterMs).In(loc)
		if i, ok := idx[tt.Format("2006-01-02")]; ok {
			st.Daily[i].Count += v.count
			st.Hourly[tt.Hour()] += v.count
		}
		if b >= midnight {
			st.Today += v.count
		}
	}
	// Users: active in the last 24 h, and the leaderboard.
	cut := q.Now.Add(-24 * time.Hour).UnixMilli()
	nowMs := q.Now.UnixMilli()
	var top []store.UserCount
	for k, v := range ix.roll.u {
		if k.target != t || v.count == 0 {
			continue
		}
		if v.last >= cut && v.last <= nowMs {
			st.ActiveUsers++
		}
		if len(top) < 10 || v.count > top[len(top)-1].Count ||
			(v.count == top[len(top)-1].Count && k.user < top[len(top)-1].User) {
			top = insertTop(top, store.UserCount{User: k.user, Count: v.count})
		}
	}
	st.TopUsers = top
	return st, nil
}

// insertTop keeps the 10 largest counts (ties by name).
func insertTop(top []store.UserCount, u store.UserCount) []store.UserCount {
	i := sort.Search(len(top), func(i int) bool {
		return top[i].Count < u.Count || (top[i].Count == u.Count && top[i].User > u.User)
	})
	top = slices.Insert(top, i, u)
	if len(top) > 10 {
		top = top[:10]
	}
	return top
}
