package terms

import (
	"cmp"
	"hash/maphash"
	"slices"
)

// summary is a space-saving summary (Metwally, Agrawal and El Abbadi,
// "Efficient computation of frequent and top-k elements in data streams",
// 2005) of the messages each term appears in, holding at most cap terms.
//
// A held term's count is at least its true count and at most err above
// it. A term that is not held has a true count of at most floor(): 0 while
// nothing was ever evicted or cut, else the smallest held count, which is
// at most adds/cap (the held counts sum to at most adds). So every term in
// more than adds/cap messages is held, and every err is at most adds/cap.
// Exact while overflow is false.
//
// The terms are kept in the paper's "stream summary": buckets of equal
// count in a list by count, each with a list of its terms, so that
// counting a term and evicting the least counted one take constant time.
// They are found through a hash table of our own (open addressing, linear
// probing, at most half full, deletion by backward shift: no tombstones
// to accumulate as terms are evicted), keyed by a hash the Counter
// computes once per term and message for both the day's total and the
// room.
type summary struct {
	cap      int
	msgs     uint64 // messages counted (exact)
	adds     uint64 // terms counted, over all messages (exact)
	overflow bool   // a term was evicted or the summary was cut
	ents     []entry
	slots    []int32 // the hash table: index in ents + 1, 0 if empty
	buckets  []bucket
	free     int32 // a free bucket, chained through next; none if < 0
	min      int32 // the bucket of the smallest count; none if < 0
}

type entry struct {
	term       string
	hash       uint64
	count, err uint64
	bucket     int32
	prev, next int32 // in the bucket's list; none if < 0
}

type bucket struct {
	count      uint64
	head       int32 // first entry
	prev, next int32 // buckets of the next smaller and larger counts
}

func newSummary(capacity int) *summary {
	return &summary{cap: capacity, free: -1, min: -1}
}

// hashSeed seeds the terms' hashes; they are not saved.
var hashSeed = maphash.MakeSeed()

func hashTerm(t []byte) uint64 { return maphash.Bytes(hashSeed, t) }

// message counts one message with the given distinct terms and their
// hashes (hashTerm).
func (s *summary) message(terms [][]byte, hashes []uint64) {
	s.msgs++
	for i, t := range terms {
		s.add(t, hashes[i])
	}
}

// find returns the index in ents of term t with hash h, if it is held.
func find[T string | []byte](s *summary, t T, h uint64) (int32, bool) {
	if len(s.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(s.slots) - 1)
	for j := h & mask; ; j = (j + 1) & mask {
		v := s.slots[j]
		if v == 0 {
			return 0, false
		}
		if e := &s.ents[v-1]; e.hash == h && e.term == string(t) {
			return v - 1, true
		}
	}
}

// slotOf returns the slot of entry i.
func (s *summary) slotOf(i int32) int {
	mask := uint64(len(s.slots) - 1)
	j := s.ents[i].hash & mask
	for s.slots[j] != i+1 {
		j = (j + 1) & mask
	}
	return int(j)
}

// insert puts entry i, which is not in the table, in it.
func (s *summary) insert(i int32) {
	if 2*len(s.ents) > len(s.slots) {
		s.grow() // which puts every entry in, i too
		return
	}
	mask := uint64(len(s.slots) - 1)
	j := s.ents[i].hash & mask
	for s.slots[j] != 0 {
		j = (j + 1) & mask
	}
	s.slots[j] = i + 1
}

// grow makes the table at least twice the entries, and puts them in.
func (s *summary) grow() {
	n := max(16, len(s.slots))
	for 2*len(s.ents) > n {
		n *= 2
	}
	s.slots = make([]int32, n)
	mask := uint64(n - 1)
	for i := range s.ents {
		j := s.ents[i].hash & mask
		for s.slots[j] != 0 {
			j = (j + 1) & mask
		}
		s.slots[j] = int32(i) + 1
	}
}

// remove takes the entry at slot j out of the table, shifting back the
// entries after it that would otherwise no longer be found.
func (s *summary) remove(j int) {
	mask := len(s.slots) - 1
	for k := (j + 1) & mask; s.slots[k] != 0; k = (k + 1) & mask {
		home := int(s.ents[s.slots[k]-1].hash) & mask
		// The entry at k may move to j if its home is not in (j, k]
		// (cyclically).
		if (k > j && (home <= j || home > k)) || (k < j && home <= j && home > k) {
			s.slots[j] = s.slots[k]
			j = k
		}
	}
	s.slots[j] = 0
}

func (s *summary) add(t []byte, h uint64) {
	s.adds++
	i, ok := find(s, t, h)
	if ok {
		s.incr(i)
		return
	}
	if len(s.ents) < s.cap {
		i := int32(len(s.ents))
		s.ents = append(s.ents, entry{term: string(t), hash: h, count: 1})
		s.insert(i)
		b := s.min
		if b < 0 || s.buckets[b].count != 1 {
			b = s.newBucket(1, -1, s.min)
		}
		s.push(b, i)
		return
	}
	// Evict a least counted term: the new one takes its place with its
	// count plus one, and that count as its possible error.
	s.overflow = true
	i = s.buckets[s.min].head
	e := &s.ents[i]
	s.remove(s.slotOf(i))
	e.term, e.hash, e.err = string(t), h, e.count
	s.insert(i)
	s.incr(i)
}

// incr adds one to entry i's count, moving it to the next bucket.
func (s *summary) incr(i int32) {
	e := &s.ents[i]
	b := e.bucket
	e.count++
	nb := s.buckets[b].next
	if nb < 0 || s.buckets[nb].count != e.count {
		nb = s.newBucket(e.count, b, nb)
	}
	s.unlink(i)
	s.push(nb, i)
}

// newBucket makes a bucket of count between buckets prev and next.
func (s *summary) newBucket(count uint64, prev, next int32) int32 {
	var b int32
	if s.free >= 0 {
		b = s.free
		s.free = s.buckets[b].next
	} else {
		b = int32(len(s.buckets))
		s.buckets = append(s.buckets, bucket{})
	}
	s.buckets[b] = bucket{count: count, head: -1, prev: prev, next: next}
	if prev >= 0 {
		s.buckets[prev].next = b
	} else {
		s.min = b
	}
	if next >= 0 {
		s.buckets[next].prev = b
	}
	return b
}

// push puts entry i first in bucket b.
func (s *summary) push(b, i int32) {
	e := &s.ents[i]
	e.bucket, e.prev, e.next = b, -1, s.buckets[b].head
	if e.next >= 0 {
		s.ents[e.next].prev = i
	}
	s.buckets[b].head = i
}

// unlink takes entry i out of its bucket, freeing the bucket if empty.
func (s *summary) unlink(i int32) {
	e := &s.ents[i]
	b := e.bucket
	if e.prev >= 0 {
		s.ents[e.prev].next = e.next
	} else {
		s.buckets[b].head = e.next
	}
	if e.next >= 0 {
		s.ents[e.next].prev = e.prev
	}
	if s.buckets[b].head >= 0 {
		return
	}
	bk := s.buckets[b]
	if bk.prev >= 0 {
		s.buckets[bk.prev].next = bk.next
	} else {
		s.min = bk.next
	}
	if bk.next >= 0 {
		s.buckets[bk.next].prev = bk.prev
	}
	s.buckets[b].next = s.free
	s.free = b
}

// floor is the most messages a term that is not held can have had.
func (s *summary) floor() uint64 {
	if !s.overflow || s.min < 0 {
		return 0
	}
	return s.buckets[s.min].count
}

// bounds returns the least and most messages term can have had.
func (s *summary) bounds(term string) (lo, hi uint64) {
	if i, ok := find(s, term, maphash.String(hashSeed, term)); ok {
		e := &s.ents[i]
		return e.count - e.err, e.count
	}
	return 0, s.floor()
}

// upper returns the most messages term can have had.
func (s *summary) upper(term string) uint64 {
	_, hi := s.bounds(term)
	return hi
}

// shrink keeps the n most counted terms. Those dropped had counts of at
// most the smallest kept, so floor stays a bound for every term not held.
func (s *summary) shrink(n int) {
	s.cap = n
	if len(s.ents) <= n {
		return
	}
	s.overflow = true
	// A copy, so that the larger array is freed.
	s.rebuild(slices.Clone(s.sorted()[:n]))
}

// sorted returns a copy of the entries by count, highest first, then by
// term.
func (s *summary) sorted() []entry {
	ents := slices.Clone(s.ents)
	slices.SortFunc(ents, func(a, b entry) int {
		if c := cmp.Compare(b.count, a.count); c != 0 {
			return c
		}
		return cmp.Compare(a.term, b.term)
	})
	return ents
}

// rebuild makes ents, sorted by count from highest, the summary's entries.
func (s *summary) rebuild(ents []entry) {
	s.ents = ents
	s.slots = nil
	s.buckets, s.free, s.min = nil, -1, -1
	top := int32(-1) // the bucket of the largest count so far
	for i := range ents {
		ents[i].hash = maphash.String(hashSeed, ents[i].term)
	}
	s.grow()
	for i := len(ents) - 1; i >= 0; i-- {
		if top < 0 || s.buckets[top].count != ents[i].count {
			top = s.newBucket(ents[i].count, top, -1)
		}
		s.push(top, int32(i))
	}
}
