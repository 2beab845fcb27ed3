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
// long lists later, while walking, land in *lerr; blobs are the gram's
// bucket's blobs (see sources). A segment written before
// trigrams and run grams (no time blocks) has no list of such a gram: it
// contributes every id of its range (the query verifies its candidates).
func (ix *Indexer) sourceFor(ctx context.Context, g search.Gram, blobs []store.SegBlob, lerr *error) (*source, error) {
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
		type part struct {
			hi int64
			c  cursor
		}
		var db []part
		newStyle := g.Bigrams() != nil
		if newStyle {
			for _, sg := range ix.segs {
				if _, ok := ix.blocks[sg.Seg]; !ok && sg.Hi >= ix.deletedBelow {
					lo := max(sg.Lo, ix.deletedBelow)
					db = append(db, part{sg.Hi, &universe{lo: lo, hi: sg.Hi}})
					s.count += int(sg.Hi - lo + 1)
				}
			}
		}
		known := make(map[int64]store.IndexSegment, len(ix.segs))
		for _, sg := range ix.segs {
			known[sg.Seg] = sg
		}
		for _, b := range blobs {
			sg, ok := known[b.Seg]
			if !ok {
				continue // a merge in progress, or segments merged away
			}
			if _, withBlocks := ix.blocks[sg.Seg]; newStyle && !withBlocks {
				continue // see above
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
			db = append(db, part{sg.Hi, &iterCursor{load: load, n: n, hi: sg.Hi, err: lerr}})
			s.count += n
		}
		// Newest id range first (a merged segment has a new number but old ids).
		slices.SortFunc(db, func(x, y part) int {
			switch {
			case x.hi > y.hi:
				return -1
			case x.hi < y.hi:
				return 1
			}
			return 0
		})
		for _, p := range db {
			parts = append(parts, p.c)
		}
	}
	s.cur = &chain{parts: parts}
	return s, nil
}

// universe is every id of lo..hi: the part of a segment that has no list
// for a gram kind it predates.
type universe struct{ lo, hi int64 }

func (u *universe) next(bound int64) (int64, bool) {
	id := min(bound, u.hi)
	if id < u.lo {
		return 0, false
	}
	u.hi = id - 1
	return id, true
}

// sources looks up the grams' sources (their buckets' blobs in one
// query), rarest first. ok is false when some gram has no ids at all
// (nothing can match).
func (ix *Indexer) sources(ctx context.Context, grams []search.Gram, lerr *error) ([]*source, bool, error) {
	var blobs map[int][]store.SegBlob
	if len(ix.segs) > 0 {
		var buckets []int
		for _, g := range grams {
			if b := search.Bucket(g, ix.opts.Buckets); !slices.Contains(buckets, b) {
				buckets = append(buckets, b)
			}
		}
		var err error
		if blobs, err = ix.st.BucketBlobsIn(ctx, buckets); err != nil {
			return nil, false, err
		}
	}
	srcs := make([]*source, 0, len(grams))
	for _, g := range grams {
		s, err := ix.sourceFor(ctx, g, blobs[search.Bucket(g, ix.opts.Buckets)], lerr)
		if err != nil {
			return nil, false, err
		}
		if s.count == 0 {
			return nil, false, nil
		}
		srcs = append(srcs, s)
	}
	sort.SliceStable(srcs, func(a, b int) bool { return srcs[a].count < srcs[b].count })
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

// maxIntersect is how many of a query's sources (the rarest) are
// intersected, field keys first (at least one text gram besides); the
// candidates they leave are few, and checking them against the rows costs
// less than reading more lists.
const maxIntersect = 4

// dropRatio: a source this many times larger than the rarest one is not
// intersected: checking a few candidates against it would read most of its
// lists, where reading the candidates' rows costs less. Measured at 10M
// messages (wsmon bench --reuse --per-query): a room key (6.5 % of the
// messages) intersected with a word-junction trigram cost 20-30 ms at 1024,
// 12-14 ms at 32; below 32 the row reads cost more than they save.
const dropRatio = 32

// find answers Search (plan) and the field-filtered listings (no text) from
// the index: the rarest of the plan's first plan.Lookup grams and the
// field keys drives, the others are intersected, the time filter
// narrows the walk to the id ranges of the time blocks it overlaps, and
// the candidates' rows are read for the page and, where the index alone
// does not decide (a longer query, a field filter, a block partly in the
// time range), checked against q and the query. Callers hold no lock.
func (ix *Indexer) find(ctx context.Context, plan search.Plan, q store.MessageQuery, wantTotal bool) (res store.SearchResult, err error) {
	if err := ix.fresh(ctx); err != nil {
		return store.SearchResult{}, err
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	fields := fieldGrams(q)
	text := plan.Grams[:min(len(plan.Grams), max(plan.Lookup, 1))]
	inexact := !plan.Exact
	if len(ix.blocks) < len(ix.segs) {
		// Segments of an older wsmon have no trigrams or run grams: their
		// bigrams narrow the candidates there, which are all verified.
		for _, g := range text {
			if bs := g.Bigrams(); bs != nil {
				inexact = true
				for _, b := range bs {
					if !slices.Contains(text, b) {
						text = append(slices.Clip(text), b)
					}
				}
			}
		}
	}
	grams := append(slices.Clone(text), fields...)
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
	hi = min(hi, ix.consumed)
	timeFilter := !q.From.IsZero() || !q.To.IsZero()
	var ranges []idRange
	if timeFilter {
		var from, to int64
		if !q.From.IsZero() {
			from = q.From.UnixMilli()
		}
		if !q.To.IsZero() {
			to = q.To.UnixMilli()
		}
		ranges = ix.timeRanges(lo, hi, from, to)
	} else if lo <= hi {
		ranges = []idRange{{lo, hi, false}}
	}
	if len(ranges) == 0 {
		return res, nil
	}
	// The rarest drives; the field keys and the next rarest text grams (up
	// to maxIntersect sources in all) are intersected, unless far larger,
	// or in more than half of all messages (the target of a single-target
	// monitor: it would filter little for all its lists cost).
	all := ix.roll.totals[""]
	driver, others := srcs[0], make([]*peekCursor, 0, len(srcs)-1)
	dropped, textKept := false, 0
	if !slices.Contains(fields, driver.gram) {
		textKept = 1
	}
	for _, s := range srcs[1:] {
		field := slices.Contains(fields, s.gram)
		if s.count > dropRatio*driver.count || int64(s.count) > all/2 || (!field && textKept >= maxIntersect-len(fields)) {
			dropped = true
			if !field {
				inexact = true // the rows' content decides instead
			}
			continue
		}
		if !field {
			textKept++
		}
		others = append(others, &peekCursor{c: s.cur})
	}
	// Candidates need their row checked for a longer query, a field
	// filter (its key is a hash) or a source not intersected; and for a
	// time block partly in the time range.
	rowsAlways := inexact || len(fields) > 0 || dropped
	bound, ri := ranges[0].hi, 0
	// next returns the next candidate id, newest first: in the driver's
	// and every other intersected list, within the ranges; check says
	// whether its row must be checked.
	next := func() (id int64, check, ok bool) {
	outer:
		for {
			id, ok := driver.cur.next(bound)
			if !ok {
				return 0, false, false
			}
			for ri < len(ranges) && ranges[ri].lo > id {
				ri++
			}
			if ri == len(ranges) {
				bound = 0
				return 0, false, false
			}
			if id > ranges[ri].hi {
				bound = ranges[ri].hi
				continue
			}
			bound = id - 1
			for _, o := range others {
				if !o.contains(id) {
					continue outer
				}
			}
			return id, rowsAlways || ranges[ri].check, true
		}
	}
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
			if inexact && !search.MatchFolded(ms[i].Content, plan.Folded) {
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
	exhausted := false
	for len(res.Messages) < q.Limit {
		id, check, ok := next()
		if !ok {
			exhausted = true
			break
		}
		batch = append(batch, id)
		want := q.Limit - len(res.Messages)
		if check {
			want *= 4 // some will not pass
		}
		if len(batch) >= min(verifyBatch, want) {
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
	// Total: exact when every candidate was seen (and those that needed it
	// checked), or when one list alone decides.
	if exhausted {
		res.Total = int64(hits)
		return res, nil
	}
	if !rowsAlways && !timeFilter && len(others) == 0 && lo <= max(1, ix.deletedBelow) && hi == ix.consumed && q.Before <= 0 {
		res.Total = int64(driver.count)
		return res, nil
	}
	// Walk on through the lists up to countCap candidates, a tenth of that
	// of those needing their rows: the ones that need none are hits.
	sure := 0
	var unsure []int64
	for sure+len(unsure) < countCap && len(unsure) < countCap/10 {
		id, check, ok := next()
		if !ok {
			exhausted = true
			break
		}
		if check {
			unsure = append(unsure, id)
		} else {
			sure++
		}
	}
	if exhausted && len(unsure) <= verifyCap {
		for len(unsure) > 0 {
			n := min(len(unsure), verifyBatch)
			batch = append(batch[:0], unsure[:n]...)
			unsure = unsure[n:]
			if err := flush(); err != nil {
				return res, err
			}
		}
		res.Total = int64(hits + sure)
		return res, nil
	}
	// Estimate: the unsure pass at the rate the checked rows did, and the
	// ranges not walked yet hold hits as densely as those walked.
	ratio := 1.0
	if checked > 0 {
		ratio = float64(hits) / float64(checked)
	}
	found := float64(hits+sure) + ratio*float64(len(unsure))
	res.Estimate = true
	if exhausted {
		res.Total = max(int64(len(res.Messages)), int64(found))
		return res, nil
	}
	var walked, span float64
	for _, r := range ranges {
		span += float64(r.hi - r.lo + 1)
		switch {
		case r.lo > bound:
			walked += float64(r.hi - r.lo + 1)
		case r.hi > bound:
			walked += float64(r.hi - bound)
		}
	}
	res.Total = max(int64(len(res.Messages)), int64(found))
	if walked > 0 {
		res.Total = max(res.Total, int64(found*span/walked))
	}
	return res, nil
}

// Stats answers the dashboard statistics from the rollups; with a from/to
// range it falls back to a scan of the range.
func (ix *Indexer) Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error) {
	if !q.From.IsZero() || !q.To.IsZero() || q.Room != "" {
		// No rollups per room or for arbitrary ranges (yet): a scan of
		// the matching rows.
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
	// Only activity counts (message.IsActivity): system, join and leave
	// messages are not something a user did.
	for k, v := range ix.roll.u {
		if k.target != t || v.act <= 0 {
			continue
		}
		if v.lastAct >= cut && v.lastAct <= nowMs {
			st.ActiveUsers++
		}
		if len(top) < 10 || v.act > top[len(top)-1].Count ||
			(v.act == top[len(top)-1].Count && k.user < top[len(top)-1].User) {
			top = insertTop(top, store.UserCount{User: k.user, Count: v.act})
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
