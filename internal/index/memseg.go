package index

import (
	"encoding/binary"
	"slices"
	"sort"

	"github.com/wsmon/wsmon/internal/search"
)

// memSegment is the in-memory part of the index: for each gram, the ids of
// the messages holding it, ascending, varint-delta encoded (about 1.3 bytes
// a posting: memory stays small between flushes).
type memSegment struct {
	idx    gramTable // gram -> index in lists
	lists  []memList
	lo, hi int64
	count  int
	bytes  int        // about what idx, lists and their postings take (see FlushBytes)
	blocks timeBlocks // received times by id
}

// listOverhead is about what a new gram costs the memory segment besides
// its postings: its map entry, its memList and the first buffer.
const listOverhead = 64

type memList struct {
	buf  []byte
	last int64
	n    int32
}

func newMemSegment() *memSegment {
	return &memSegment{idx: newGramTable()}
}

// add folds in message id (greater than every id so far), received at
// (Unix ms), with its grams.
func (m *memSegment) add(id, at int64, grams []search.Gram) {
	m.addGrams(id, grams)
	m.blocks.add(id, at, m.count)
	m.hi = id
	m.count++
}

// addGrams adds grams of message id without counting the message: add
// finishes it (a large content comes in several calls).
func (m *memSegment) addGrams(id int64, grams []search.Gram) {
	if m.count == 0 {
		m.lo = id
	}
	for _, g := range grams {
		m.bytes += m.list(g).push(id)
	}
}

// list returns gram's list, creating it.
func (m *memSegment) list(g search.Gram) *memList {
	i, ok := m.idx.get(g)
	if !ok {
		i = int32(len(m.lists))
		m.idx.put(g, i)
		m.lists = append(m.lists, memList{last: m.lo - 1})
		m.bytes += listOverhead
	}
	return &m.lists[i]
}

// push appends id (>= the last one; a repeat within a message is skipped)
// and returns the bytes it added.
func (l *memList) push(id int64) int {
	if l.last == id {
		return 0
	}
	n := len(l.buf)
	l.buf = binary.AppendUvarint(l.buf, uint64(id-l.last))
	l.last = id
	l.n++
	return len(l.buf) - n
}

// ids decodes a list, ascending, appending to dst.
func (m *memSegment) ids(l *memList, dst []int64) []int64 {
	id := m.lo - 1
	for b := l.buf; len(b) > 0; {
		d, k := binary.Uvarint(b)
		b = b[k:]
		id += int64(d)
		dst = append(dst, id)
	}
	return dst
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
	var tmp []int64
	o.idx.each(func(g search.Gram, oi int32) {
		tmp = o.ids(&o.lists[oi], tmp[:0])
		l := m.list(g)
		for _, id := range tmp {
			m.bytes += l.push(id)
		}
	})
	m.hi = o.hi
	m.count += o.count
	m.blocks = append(m.blocks, o.blocks...)
}

// encode builds the bucket blobs of this segment and its long lists. It
// decodes one bucket's lists at a time (into one reused buffer), so beyond
// its output it needs about a bucket's postings, not the segment's.
func (m *memSegment) encode(buckets int) (map[int][]byte, map[uint64][]byte) {
	type gramList struct {
		g search.Gram
		i int32
	}
	byBucket := make([][]gramList, buckets)
	m.idx.each(func(g search.Gram, i int32) {
		b := search.Bucket(g, buckets)
		byBucket[b] = append(byBucket[b], gramList{g, i})
	})
	out := make(map[int][]byte, buckets)
	lists := map[uint64][]byte{}
	keep := func(g search.Gram, l []byte) { lists[uint64(g)] = l }
	var offs []uint32
	var entries []search.BlobEntry
	for b, gls := range byBucket {
		if len(gls) == 0 {
			continue
		}
		n := 0
		for _, gl := range gls {
			n += int(m.lists[gl.i].n)
		}
		offs = slices.Grow(offs[:0], n) // no reallocation below: entries point into it
		entries = entries[:0]
		for _, gl := range gls {
			start := len(offs)
			id := int64(0)
			for p := m.lists[gl.i].buf; len(p) > 0; {
				d, k := binary.Uvarint(p)
				p = p[k:]
				id += int64(d)
				offs = append(offs, uint32(id-1)) // offsets from m.lo
			}
			entries = append(entries, search.BlobEntry{Gram: gl.g, Base: m.lo, Offs: offs[start:len(offs):len(offs)]})
		}
		out[b] = search.EncodeBlob(nil, entries, m.hi, keep)
	}
	return out, lists
}

// cursor returns gram's ids, newest first, and how many there are.
func (m *memSegment) cursor(g search.Gram) (cursor, int) {
	i, ok := m.idx.get(g)
	if !ok {
		return &memCursor{}, 0
	}
	l := m.ids(&m.lists[i], nil)
	return &memCursor{l: l, i: len(l) - 1}, len(l)
}

// cursor walks ids newest first.
type cursor interface {
	// next returns the next id <= bound (skipping larger ones), or false.
	next(bound int64) (int64, bool)
}

type memCursor struct {
	l []int64
	i int
}

func (c *memCursor) next(bound int64) (int64, bool) {
	if c.i >= 0 && c.l[c.i] > bound {
		// Jump to the last id <= bound (l is ascending).
		c.i = sort.Search(c.i+1, func(k int) bool { return c.l[k] > bound }) - 1
	}
	for c.i >= 0 {
		id := c.l[c.i]
		c.i--
		if id <= bound {
			return id, true
		}
	}
	return 0, false
}

// iterCursor walks an encoded database posting list. A long list is read
// from the database (load) on first use; a load error ends the list and is
// kept in *err for the query to report.
type iterCursor struct {
	it   search.Iter
	load func() ([]byte, error)
	n    int
	hi   int64
	err  *error
}

func (c *iterCursor) next(bound int64) (int64, bool) {
	if c.load != nil {
		data, err := c.load()
		c.load = nil
		if err != nil {
			if *c.err == nil {
				*c.err = err
			}
			c.it = search.Iter{}
			return 0, false
		}
		c.it = search.NewIter(data, c.n, c.hi)
	}
	c.it.SkipTo(bound)
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
