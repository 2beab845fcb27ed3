package index

import (
	"github.com/wsmon/wsmon/internal/search"
)

// memSegment is the in-memory part of the index: for each gram, the ids of
// the messages holding it, ascending, as offsets from base.
type memSegment struct {
	lists  map[search.Gram][]uint32
	base   int64
	lo, hi int64
	count  int
}

func newMemSegment() *memSegment {
	return &memSegment{lists: make(map[search.Gram][]uint32)}
}

func (m *memSegment) add(id int64, grams []search.Gram) {
	if m.count == 0 {
		m.base, m.lo = id, id
	}
	off := uint32(id - m.base)
	for _, g := range grams {
		m.lists[g] = append(m.lists[g], off)
	}
	m.hi = id
	m.count++
}

// absorb appends the (newer) contents of o.
func (m *memSegment) absorb(o *memSegment) {
	if o.count == 0 {
		return
	}
	if m.count == 0 {
		*m = *o
		return
	}
	shift := uint32(o.base - m.base)
	for g, l := range o.lists {
		dst := m.lists[g]
		for _, off := range l {
			dst = append(dst, off+shift)
		}
		m.lists[g] = dst
	}
	m.hi = o.hi
	m.count += o.count
}

// encode builds the bucket blobs of this segment.
func (m *memSegment) encode(buckets int) map[int][]byte {
	byBucket := make(map[int][]search.BlobEntry)
	for g, l := range m.lists {
		b := search.Bucket(g, buckets)
		byBucket[b] = append(byBucket[b], search.BlobEntry{Gram: g, Base: m.base, Offs: l})
	}
	out := make(map[int][]byte, len(byBucket))
	for b, es := range byBucket {
		out[b] = search.EncodeBlob(nil, es, m.hi)
	}
	return out
}

// ids returns gram's ids, newest first, as a cursor.
func (m *memSegment) cursor(g search.Gram) (cursor, int) {
	l := m.lists[g]
	return &memCursor{base: m.base, l: l, i: len(l) - 1}, len(l)
}

// cursor walks ids newest first.
type cursor interface {
	// next returns the next id <= bound (skipping larger ones), or false.
	next(bound int64) (int64, bool)
}

type memCursor struct {
	base int64
	l    []uint32
	i    int
}

func (c *memCursor) next(bound int64) (int64, bool) {
	// Binary search would do too; lists are short-lived and the common call
	// moves one step.
	for c.i >= 0 {
		id := c.base + int64(c.l[c.i])
		c.i--
		if id <= bound {
			return id, true
		}
	}
	return 0, false
}

// iterCursor walks an encoded database posting list.
type iterCursor struct {
	it search.Iter
}

func (c *iterCursor) next(bound int64) (int64, bool) {
	for {
		id, ok := c.it.Next()
		if !ok {
			return 0, false
		}
		if id <= bound {
			return id, true
		}
	}
}

// chain walks several cursors over disjoint id ranges, newest range first.
type chain struct {
	parts []cursor
	i     int
}

func (c *chain) next(bound int64) (int64, bool) {
	for c.i < len(c.parts) {
		if id, ok := c.parts[c.i].next(bound); ok {
			return id, true
		}
		c.i++
	}
	return 0, false
}

// peekCursor remembers the last id returned so intersection can ask "is id
// in this list" while walking down.
type peekCursor struct {
	c    cursor
	last int64 // last id taken; 0 = none yet
	done bool
}

// contains reports whether id is in the list; ids must be asked in
// descending order.
func (p *peekCursor) contains(id int64) bool {
	for !p.done && (p.last == 0 || p.last > id) {
		v, ok := p.c.next(id)
		if !ok {
			p.done = true
			return false
		}
		p.last = v
	}
	return p.last == id
}
