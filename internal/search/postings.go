package search

import (
	"encoding/binary"
	"errors"
	"slices"
)

// A posting list is the ids of the messages holding a gram, stored newest
// (highest id) first as varints: the first is hi-id, each next is the gap to
// the previous minus one. Reading newest first is what search wants: the
// first page of results comes from the start of the newest lists.

// AppendPostings encodes ids base+offs[i] (ascending, distinct, all <= hi)
// as a descending posting list.
func AppendPostings(dst []byte, base int64, offs []uint32, hi int64) []byte {
	prev := hi + 1
	for i := len(offs) - 1; i >= 0; i-- {
		id := base + int64(offs[i])
		dst = binary.AppendUvarint(dst, uint64(prev-id-1))
		prev = id
	}
	return dst
}

// ErrCorrupt is returned for undecodable index data.
var ErrCorrupt = errors.New("search: corrupt posting list")

// Iter reads a posting list newest first.
type Iter struct {
	data []byte
	prev int64
	n    int // postings left
}

// NewIter iterates a list of n postings encoded against hi.
func NewIter(data []byte, n int, hi int64) Iter {
	return Iter{data: data, prev: hi + 1, n: n}
}

// Next returns the next (lower) id, or false at the end.
func (it *Iter) Next() (int64, bool) {
	if it.n <= 0 || len(it.data) == 0 {
		return 0, false
	}
	d, k := binary.Uvarint(it.data)
	if k <= 0 {
		it.n = 0
		return 0, false
	}
	it.data = it.data[k:]
	it.n--
	it.prev -= int64(d) + 1
	return it.prev, true
}

// Block is the index data of one gram in one segment.
type Block struct {
	Seg   int64 // segment number; higher is newer
	Hi    int64 // highest id the segment may hold
	Count int
	Data  []byte
}

// Block directory: a bucket blob holds the lists of every gram of one
// bucket in one segment:
//
//	uvarint n | n x (gram u64 LE, count uvarint, bytes uvarint) | data...
//
// with grams ascending and their data concatenated in the same order.

// BlobEntry is one gram's list for EncodeBlob: ids Base+Offs[i], ascending.
type BlobEntry struct {
	Gram Gram
	Base int64
	Offs []uint32
}

// EncodeBlob encodes a bucket's lists for a segment whose ids are <= hi.
func EncodeBlob(dst []byte, entries []BlobEntry, hi int64) []byte {
	slices.SortFunc(entries, func(a, b BlobEntry) int {
		switch {
		case a.Gram < b.Gram:
			return -1
		case a.Gram > b.Gram:
			return 1
		}
		return 0
	})
	var data []byte
	dst = binary.AppendUvarint(dst, uint64(len(entries)))
	for _, e := range entries {
		before := len(data)
		data = AppendPostings(data, e.Base, e.Offs, hi)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Gram))
		dst = binary.AppendUvarint(dst, uint64(len(e.Offs)))
		dst = binary.AppendUvarint(dst, uint64(len(data)-before))
	}
	return append(dst, data...)
}

// FindInBlob returns the count and list bytes of gram in a bucket blob.
func FindInBlob(blob []byte, gram Gram) (count int, data []byte, ok bool, err error) {
	n, k := binary.Uvarint(blob)
	if k <= 0 || n > uint64(len(blob))/10 {
		return 0, nil, false, ErrCorrupt
	}
	p := k
	var off uint64
	found := false
	var fcount, flen uint64
	var foff uint64
	for i := uint64(0); i < n; i++ {
		if p+8 > len(blob) {
			return 0, nil, false, ErrCorrupt
		}
		g := Gram(binary.LittleEndian.Uint64(blob[p:]))
		p += 8
		c, k1 := binary.Uvarint(blob[p:])
		if k1 <= 0 {
			return 0, nil, false, ErrCorrupt
		}
		p += k1
		l, k2 := binary.Uvarint(blob[p:])
		if k2 <= 0 {
			return 0, nil, false, ErrCorrupt
		}
		p += k2
		if g == gram {
			found, fcount, flen, foff = true, c, l, off
		}
		off += l
	}
	if !found {
		return 0, nil, false, nil
	}
	if uint64(p)+foff+flen > uint64(len(blob)) {
		return 0, nil, false, ErrCorrupt
	}
	return int(fcount), blob[uint64(p)+foff : uint64(p)+foff+flen], true, nil
}

// DecodeBlob returns every gram's list in a bucket blob (for merging).
func DecodeBlob(blob []byte, hi int64, fn func(g Gram, ids Iter)) error {
	n, k := binary.Uvarint(blob)
	if k <= 0 {
		return ErrCorrupt
	}
	p := k
	if n > uint64(len(blob))/10 { // an entry takes at least 10 bytes
		return ErrCorrupt
	}
	type ent struct {
		g    Gram
		c, l uint64
	}
	ents := make([]ent, 0, n)
	for i := uint64(0); i < n; i++ {
		if p+8 > len(blob) {
			return ErrCorrupt
		}
		var e ent
		e.g = Gram(binary.LittleEndian.Uint64(blob[p:]))
		p += 8
		var k1, k2 int
		e.c, k1 = binary.Uvarint(blob[p:])
		if k1 <= 0 {
			return ErrCorrupt
		}
		p += k1
		e.l, k2 = binary.Uvarint(blob[p:])
		if k2 <= 0 {
			return ErrCorrupt
		}
		p += k2
		ents = append(ents, e)
	}
	for _, e := range ents {
		if uint64(p)+e.l > uint64(len(blob)) {
			return ErrCorrupt
		}
		fn(e.g, NewIter(blob[p:uint64(p)+e.l], int(e.c), hi))
		p += int(e.l)
	}
	return nil
}

// Bucket maps a gram to one of n buckets (n a power of two).
func Bucket(g Gram, n int) int {
	x := uint64(g)
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return int(x & uint64(n-1))
}
