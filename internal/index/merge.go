package index

import (
	"context"
	"slices"

	"github.com/wsmon/wsmon/internal/search"
	"github.com/wsmon/wsmon/internal/store"
)

// mergeFanIn is how many adjacent segments of one level are merged into
// one of the next level; merging stops at maxMergeLevel, so each posting
// is rewritten at most once. With 50,000-message flushes, 10 million
// messages stay within about 30 segments instead of 200.
const (
	mergeFanIn    = 10
	maxMergeLevel = 1
	// mergeWriteBytes is how much of the merged segment is held before it
	// is written (one transaction each).
	mergeWriteBytes = 4 << 20
)

// level of a segment: 0 up to mergeFanIn flushes' worth of messages, 1 up
// to mergeFanIn² and so on.
func (ix *Indexer) level(sg store.IndexSegment) int {
	l, size := 0, int64(ix.opts.FlushMessages)*int64(mergeFanIn)/2
	for sg.Messages > size {
		l++
		size *= mergeFanIn
	}
	return l
}

// mergeRun returns the newest run of mergeFanIn adjacent segments of one
// level and one format (all with time blocks or all without: a merged
// segment of both would claim trigrams it lacks for part of its ids), or
// nil.
func (ix *Indexer) mergeRun(segs []store.IndexSegment, hasBlocks map[int64]bool) []store.IndexSegment {
	for end := len(segs); end >= mergeFanIn; end-- {
		run := segs[end-mergeFanIn : end]
		lv := ix.level(run[0])
		if lv >= maxMergeLevel {
			continue
		}
		same := true
		for _, sg := range run[1:] {
			if ix.level(sg) != lv || hasBlocks[sg.Seg] != hasBlocks[run[0].Seg] {
				same = false
				break
			}
		}
		if same {
			return run
		}
	}
	return nil
}

// maybeMerge merges segments while a run is due. Callers hold merging (or
// are the only goroutine, before Run). It reads and writes the database
// without the read-write lock, which it takes only to switch to the merged
// segment, so flushes and queries go on meanwhile (see CommitMerge).
func (ix *Indexer) maybeMerge(ctx context.Context) error {
	for {
		ix.mu.RLock()
		segs := slices.Clone(ix.segs)
		has := make(map[int64]bool, len(segs))
		for _, sg := range segs {
			_, has[sg.Seg] = ix.blocks[sg.Seg]
		}
		ix.mu.RUnlock()
		run := ix.mergeRun(segs, has)
		if run == nil {
			return nil
		}
		if err := ix.merge(ctx, run); err != nil {
			return err
		}
	}
}

// merge writes one segment holding the postings of run (adjacent, ascending
// id ranges), bucket by bucket, then switches to it.
func (ix *Indexer) merge(ctx context.Context, run []store.IndexSegment) error {
	ms := ix.st
	ids := make([]int64, len(run))
	out := store.IndexSegment{Lo: run[0].Lo, Hi: run[len(run)-1].Hi}
	for i, sg := range run {
		ids[i] = sg.Seg
		out.Messages += sg.Messages
	}
	ix.mu.Lock()
	out.Seg = ix.nextSeg
	ix.nextSeg++
	ix.mu.Unlock()

	hiOf := map[int64]int64{}
	loOf := map[int64]int64{}
	for _, sg := range run {
		hiOf[sg.Seg], loOf[sg.Seg] = sg.Hi, sg.Lo
	}
	pending := map[int][]byte{}
	long := map[uint64][]byte{}
	size := 0
	keep := func(g search.Gram, l []byte) { long[uint64(g)] = l; size += len(l) }
	for b := 0; b < ix.opts.Buckets; b++ {
		blobs, err := ms.BucketBlobsOf(ctx, b, ids)
		if err != nil {
			return err
		}
		if len(blobs) == 0 {
			continue
		}
		slices.SortFunc(blobs, func(x, y store.SegBlob) int { return int(loOf[x.Seg] - loOf[y.Seg]) })
		lists := map[search.Gram][]uint32{}
		var order []search.Gram
		var tmp []uint32
		for _, bl := range blobs { // oldest first, so each gram's ids end up ascending
			err := search.DecodeBlob(bl.Data, func(g search.Gram, n int, data []byte) error {
				if data == nil {
					var err error
					if data, err = ms.IndexList(ctx, bl.Seg, uint64(g)); err != nil {
						return err
					}
				}
				it := search.NewIter(data, n, hiOf[bl.Seg])
				tmp = tmp[:0]
				for id, ok := it.Next(); ok; id, ok = it.Next() {
					tmp = append(tmp, uint32(id-out.Lo))
				}
				l, seen := lists[g]
				if !seen {
					order = append(order, g)
				}
				for i := len(tmp) - 1; i >= 0; i-- {
					l = append(l, tmp[i])
				}
				lists[g] = l
				return nil
			})
			if err != nil {
				return err
			}
		}
		entries := make([]search.BlobEntry, 0, len(order))
		for _, g := range order {
			entries = append(entries, search.BlobEntry{Gram: g, Base: out.Lo, Offs: lists[g]})
		}
		data := search.EncodeBlob(nil, entries, out.Hi, keep)
		pending[b] = data
		size += len(data)
		if size > mergeWriteBytes { // write as we go: memory stays small however big the merge
			if err := ms.PutBlobs(ctx, out.Seg, pending, long); err != nil {
				return err
			}
			pending, long, size = map[int][]byte{}, map[uint64][]byte{}, 0
		}
	}
	ix.mu.RLock()
	blocks, withBlocks := ix.concatBlocks(ids)
	ix.mu.RUnlock()
	if withBlocks {
		long[segInfoKey] = encodeSegInfo(blocks)
	}
	if err := ms.PutBlobs(ctx, out.Seg, pending, long); err != nil {
		return err
	}
	if err := ms.CommitMerge(ctx, out, ids); err != nil {
		return err
	}
	// Switch: wait for running queries (they hold the read lock), then use
	// the merged segment; the old blobs can go once nobody reads them.
	ix.mu.Lock()
	var segs []store.IndexSegment
	for _, sg := range ix.segs {
		if !slices.Contains(ids, sg.Seg) {
			segs = append(segs, sg)
		}
	}
	segs = append(segs, out)
	slices.SortFunc(segs, func(x, y store.IndexSegment) int { return int(x.Lo - y.Lo) })
	ix.segs = segs
	for _, id := range ids {
		delete(ix.blocks, id)
	}
	if withBlocks {
		ix.blocks[out.Seg] = blocks
	}
	ix.mu.Unlock()
	return ms.DeleteOrphanBlobs(ctx)
}
