package index

import (
	"encoding/binary"
	"errors"
	"slices"
)

// blockSize is how many consecutive messages (in id order) a time block
// covers.
const blockSize = 256

// timeBlock says that the messages with ids from first up to the next
// block's first (or the segment's end) were received between minAt and
// maxAt (Unix ms, inclusive). Received times need not rise with ids (two
// targets, a clock step), so a time range's messages are exactly those of
// the blocks it overlaps, and of those only the blocks it covers in part
// need their rows checked: a time filter costs no row reads for the
// blocks inside it (the rollups' 15-minute buckets are too coarse for
// that).
type timeBlock struct{ first, minAt, maxAt int64 }

// timeBlocks of one segment, ascending.
type timeBlocks []timeBlock

// add records message id (above every id so far) received at; n is how
// many messages the segment held before it.
func (tb *timeBlocks) add(id, at int64, n int) {
	if n%blockSize == 0 || len(*tb) == 0 {
		*tb = append(*tb, timeBlock{id, at, at})
		return
	}
	b := &(*tb)[len(*tb)-1]
	b.minAt, b.maxAt = min(b.minAt, at), max(b.maxAt, at)
}

// segInfoVersion is the first byte of a segment's info (see
// search.SegmentInfoGram): segments with an info hold trigrams and run
// grams and have time blocks.
const segInfoVersion = 2

var errSegInfo = errors.New("index: corrupt segment info")

// encodeSegInfo encodes a segment's time blocks:
//
//	version | n uvarint | n x (first gap uvarint, minAt delta varint, maxAt-minAt uvarint)
func encodeSegInfo(tb timeBlocks) []byte {
	b := []byte{segInfoVersion}
	b = binary.AppendUvarint(b, uint64(len(tb)))
	var first, at int64
	for _, x := range tb {
		b = binary.AppendUvarint(b, uint64(x.first-first))
		b = binary.AppendVarint(b, x.minAt-at)
		b = binary.AppendUvarint(b, uint64(x.maxAt-x.minAt))
		first, at = x.first, x.minAt
	}
	return b
}

// decodeSegInfo decodes what encodeSegInfo wrote.
func decodeSegInfo(b []byte) (timeBlocks, error) {
	if len(b) == 0 || b[0] != segInfoVersion {
		return nil, errSegInfo
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errSegInfo
	}
	b = b[k:]
	tb := make(timeBlocks, 0, n)
	var first, at int64
	for range n {
		d, k1 := binary.Uvarint(b)
		if k1 <= 0 {
			return nil, errSegInfo
		}
		b = b[k1:]
		m, k2 := binary.Varint(b)
		if k2 <= 0 {
			return nil, errSegInfo
		}
		b = b[k2:]
		w, k3 := binary.Uvarint(b)
		if k3 <= 0 {
			return nil, errSegInfo
		}
		b = b[k3:]
		first, at = first+int64(d), at+m
		tb = append(tb, timeBlock{first, at, at + int64(w)})
	}
	return tb, nil
}

// idRange is a range of ids a query walks; check: its messages' received
// times must be read from their rows (its block is only partly in the
// query's time range, or its segment has no time blocks).
type idRange struct {
	lo, hi int64
	check  bool
}

// timeRanges returns the id ranges, within lo..hi and newest first, whose
// messages may have been received in [from, to) (Unix ms; 0: open). The
// memory segments and the segments with time blocks contribute their
// blocks; a segment without (written before them) its whole range, to be
// checked. Callers hold mu for reading.
func (ix *Indexer) timeRanges(lo, hi, from, to int64) []idRange {
	var out []idRange
	addBlocks := func(segHi int64, tb timeBlocks) {
		for i, b := range tb {
			bhi := segHi
			if i+1 < len(tb) {
				bhi = tb[i+1].first - 1
			}
			if bhi < lo || b.first > hi || (to > 0 && b.minAt >= to) || (from > 0 && b.maxAt < from) {
				continue
			}
			inside := (from == 0 || b.minAt >= from) && (to == 0 || b.maxAt < to)
			out = append(out, idRange{max(b.first, lo), min(bhi, hi), !inside})
		}
	}
	for _, sg := range ix.segs {
		if sg.Hi < lo || sg.Lo > hi {
			continue
		}
		if tb, ok := ix.blocks[sg.Seg]; ok {
			addBlocks(sg.Hi, tb)
		} else {
			out = append(out, idRange{max(sg.Lo, lo), min(sg.Hi, hi), true})
		}
	}
	for _, m := range []*memSegment{ix.flushing, ix.mem} {
		if m != nil && m.count > 0 {
			addBlocks(m.hi, m.blocks)
		}
	}
	slices.SortFunc(out, func(a, b idRange) int {
		switch {
		case a.hi > b.hi:
			return -1
		case a.hi < b.hi:
			return 1
		}
		return 0
	})
	// Adjacent ranges alike are one.
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && merged[n-1].check == r.check && merged[n-1].lo == r.hi+1 {
			merged[n-1].lo = r.lo
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// concatBlocks returns the time blocks of adjacent segments (ascending),
// or false when one of them has none.
func (ix *Indexer) concatBlocks(run []int64) (timeBlocks, bool) {
	var out timeBlocks
	for _, s := range run {
		tb, ok := ix.blocks[s]
		if !ok {
			return nil, false
		}
		out = append(out, tb...)
	}
	return out, true
}
