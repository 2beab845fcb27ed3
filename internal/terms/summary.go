package terms

import (
	"cmp"
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
type summary struct {
	cap      int
	msgs     uint64 // messages counted (exact)
	adds     uint64 // terms counted, over all messages (exact)
	overflow bool   // a term was evicted or the summary was cut
	ents     []entry
	idx      map[string]int32 // term → index in ents
	heap     []int32          // indices into ents, a min-heap by count
}

type entry struct {
	term       string
	count, err uint64
	pos        int32 // index in heap
}

func newSummary(capacity int) *summary {
	return &summary{cap: capacity, idx: make(map[string]int32)}
}

// message counts one message with the given distinct terms.
func (s *summary) message(terms [][]byte) {
	s.msgs++
	for _, t := range terms {
		s.add(t)
	}
}

func (s *summary) add(t []byte) {
	s.adds++
	if i, ok := s.idx[string(t)]; ok {
		s.ents[i].count++
		s.down(int(s.ents[i].pos))
		return
	}
	if len(s.ents) < s.cap {
		term := string(t)
		i := int32(len(s.ents))
		s.ents = append(s.ents, entry{term: term, count: 1, pos: int32(len(s.heap))})
		s.heap = append(s.heap, i)
		s.idx[term] = i
		s.up(len(s.heap) - 1)
		return
	}
	// Evict the least counted term: the new one takes its place with its
	// count plus one, and that count as its possible error.
	s.overflow = true
	i := s.heap[0]
	e := &s.ents[i]
	delete(s.idx, e.term)
	term := string(t)
	e.term, e.err, e.count = term, e.count, e.count+1
	s.idx[term] = i
	s.down(0)
}

// floor is the most messages a term that is not held can have had.
func (s *summary) floor() uint64 {
	if !s.overflow || len(s.heap) == 0 {
		return 0
	}
	return s.ents[s.heap[0]].count
}

// bounds returns the least and most messages term can have had.
func (s *summary) bounds(term string) (lo, hi uint64) {
	if i, ok := s.idx[term]; ok {
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
	ents := s.sorted()[:n]
	s.rebuild(slices.Clone(ents))
}

// sorted returns the entries by count, highest first, then by term.
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

// rebuild makes ents the summary's entries.
func (s *summary) rebuild(ents []entry) {
	s.ents = ents
	s.idx = make(map[string]int32, len(ents))
	s.heap = make([]int32, len(ents))
	for i := range ents {
		s.idx[ents[i].term] = int32(i)
		s.heap[i] = int32(i)
		ents[i].pos = int32(i)
	}
	for i := len(s.heap)/2 - 1; i >= 0; i-- {
		s.down(i)
	}
}

func (s *summary) less(a, b int) bool {
	return s.ents[s.heap[a]].count < s.ents[s.heap[b]].count
}

func (s *summary) swap(a, b int) {
	s.heap[a], s.heap[b] = s.heap[b], s.heap[a]
	s.ents[s.heap[a]].pos = int32(a)
	s.ents[s.heap[b]].pos = int32(b)
}

func (s *summary) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !s.less(j, i) {
			break
		}
		s.swap(i, j)
		j = i
	}
}

func (s *summary) down(i int) {
	n := len(s.heap)
	for {
		j := 2*i + 1
		if j >= n {
			return
		}
		if r := j + 1; r < n && s.less(r, j) {
			j = r
		}
		if !s.less(j, i) {
			return
		}
		s.swap(i, j)
		i = j
	}
}
