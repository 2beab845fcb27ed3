package search

import (
	"encoding/binary"
	"errors"
	"slices"
)

// A posting list is the ids of the messages holding a gram, stored newest
// (highest id) first as varints: the first is hi-id, each next is the gap to
// the previous minus one. Reading newest first is what search wants: the
// first page of results comes from the start of the newest lists. Long
// lists start with a skip table (every skipEvery postings: the id reached
// and the byte offset after it), so an intersection can jump down a long
// list to the ids of a short one without decoding everything between:
//
//	nskip uvarint | nskip x (id gap uvarint, offset gap uvarint) | postings

// skipEvery is the skip table's stride, in postings.
const skipEvery = 128

// AppendPostings encodes ids base+offs[i] (ascending, distinct, all <= hi)
// as a descending posting list with its skip table.
func AppendPostings(dst []byte, base int64, offs []uint32, hi int64) []byte {
	var body []byte
	type skip struct{ id, off int64 }
	var skips []skip
	prev := hi + 1
	for k, i := 0, len(offs)-1; i >= 0; k, i = k+1, i-1 {
		id := base + int64(offs[i])
		body = binary.AppendUvarint(body, uint64(prev-id-1))
		prev = id
		if (k+1)%skipEvery == 0 && i > 0 {
			skips = append(skips, skip{id, int64(len(body))})
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(skips)))
	pid, poff := hi+1, int64(0)
	for _, sk := range skips {
		dst = binary.AppendUvarint(dst, uint64(pid-sk.id))
		dst = binary.AppendUvarint(dst, uint64(sk.off-poff))
		pid, poff = sk.id, sk.off
	}
	return append(dst, body...)
}

// ErrCorrupt is returned for undecodable index data.
var ErrCorrupt = errors.New("search: corrupt posting list")

// Iter reads a posting list newest first.
type Iter struct {
	data  []byte // postings not yet read
	prev  int64
	n     int // postings left
	total int
	skips []byte
	// skip table position: next entry's id and absolute offset
	skipID, skipOff int64
	skipK, nskip    int
	body            []byte // all postings (offsets are relative to it)
}

// NewIter iterates a list of n postings encoded against hi.
func NewIter(data []byte, n int, hi int64) Iter {
	nskip, k := binary.Uvarint(data)
	if k <= 0 || nskip > uint64(len(data)) {
		return Iter{}
	}
	p := k
	start := p
	for i := uint64(0); i < nskip; i++ {
		for j := 0; j < 2; j++ {
			_, k := binary.Uvarint(data[p:])
			if k <= 0 {
				return Iter{}
			}
			p += k
		}
	}
	it := Iter{data: data[p:], body: data[p:], prev: hi + 1, n: n, total: n, skips: data[start:p], nskip: int(nskip), skipID: hi + 1}
	it.loadSkip()
	return it
}

// loadSkip reads the next skip entry into skipID/skipOff (skipK < nskip).
func (it *Iter) loadSkip() {
	if it.skipK >= it.nskip {
		return
	}
	d, k := binary.Uvarint(it.skips)
	if k <= 0 {
		it.nskip = 0
		return
	}
	o, k2 := binary.Uvarint(it.skips[k:])
	if k2 <= 0 {
		it.nskip = 0
		return
	}
	it.skips = it.skips[k+k2:]
	it.skipID -= int64(d)
	it.skipOff += int64(o)
}

// SkipTo moves past postings whose id is above bound, using the skip
// table; Next then returns the remaining ids as usual.
func (it *Iter) SkipTo(bound int64) {
	for it.skipK < it.nskip && it.skipID > bound {
		// Every posting up to and including this entry's is above bound.
		consumed := int64(len(it.body) - len(it.data))
		if it.skipOff > consumed && it.skipOff <= int64(len(it.body)) {
			it.data = it.body[it.skipOff:]
			it.prev = it.skipID
			it.n = it.total - skipEvery*(it.skipK+1)
		}
		it.skipK++
		it.loadSkip()
	}
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

// ExternalList is the encoded size above which a list is not kept in its
// bucket blob but handed to EncodeBlob's external function (stored in a row
// of its own): a query then reads a frequent gram's list only when it walks
// it, and counts it from the directory alone.
const ExternalList = 4096

// EncodeBlob encodes a bucket's lists for a segment whose ids are <= hi.
// Lists longer than ExternalList bytes go to external (when not nil); their
// directory entry has length 0.
func EncodeBlob(dst []byte, entries []BlobEntry, hi int64, external func(g Gram, list []byte)) []byte {
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
		if external != nil && len(data)-before > ExternalList {
			external(e.Gram, slices.Clone(data[before:]))
			data = data[:before]
		}
		dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Gram))
		dst = binary.AppendUvarint(dst, uint64(len(e.Offs)))
		dst = binary.AppendUvarint(dst, uint64(len(data)-before))
	}
	return append(dst, data...)
}

// FindInBlob returns the count and list bytes of gram in a bucket blob;
// data is nil for a list stored externally.
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
	if flen == 0 {
		return int(fcount), nil, true, nil
	}
	return int(fcount), blob[uint64(p)+foff : uint64(p)+foff+flen], true, nil
}

// DecodeBlob returns every gram's count and list bytes in a bucket blob
// (for merging); data is nil for an external list.
func DecodeBlob(blob []byte, fn func(g Gram, n int, data []byte) error) error {
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
		var data []byte
		if e.l > 0 {
			data = blob[p : uint64(p)+e.l]
		}
		if err := fn(e.g, int(e.c), data); err != nil {
			return err
		}
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
