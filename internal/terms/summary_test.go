package terms

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
)

// check verifies the stream summary's structure: buckets in increasing
// count from min, each entry in the bucket of its count, the index and
// the entries agreeing, no more entries than cap.
func (s *summary) check() error {
	if len(s.ents) > s.cap || len(s.idx) != len(s.ents) {
		return fmt.Errorf("%d entries, %d indexed, cap %d", len(s.ents), len(s.idx), s.cap)
	}
	seen := 0
	prev := int32(-1)
	var last uint64
	for b := s.min; b >= 0; b = s.buckets[b].next {
		bk := s.buckets[b]
		if bk.prev != prev || prev >= 0 && bk.count <= last || bk.head < 0 {
			return fmt.Errorf("bucket %d (count %d) out of order or empty", b, bk.count)
		}
		pe := int32(-1)
		for i := bk.head; i >= 0; i = s.ents[i].next {
			e := s.ents[i]
			if e.bucket != b || e.count != bk.count || e.prev != pe || s.idx[e.term] != i || e.err >= e.count {
				return fmt.Errorf("entry %d %q misplaced", i, e.term)
			}
			pe = i
			seen++
		}
		prev, last = b, bk.count
	}
	if seen != len(s.ents) {
		return fmt.Errorf("%d entries in buckets, %d held", seen, len(s.ents))
	}
	return nil
}

// TestSummaryStructure counts random Zipf streams into summaries of
// several sizes, checking the structure as it goes and the bounds
// against the true counts at the end, then cuts them down.
func TestSummaryStructure(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, capacity := range []int{1, 2, 7, 100, 5000} {
		s := newSummary(capacity)
		truth := map[string]uint64{}
		z := rand.NewZipf(rng, 1.2, 1, 3000)
		for i := range 20000 {
			w := strconv.FormatUint(z.Uint64(), 10)
			truth[w]++
			s.message([][]byte{[]byte(w)})
			if i%997 == 0 {
				if err := s.check(); err != nil {
					t.Fatalf("cap %d after %d: %v", capacity, i, err)
				}
			}
		}
		for _, n := range []int{capacity, capacity / 2, 1} {
			s.shrink(max(1, n))
			if err := s.check(); err != nil {
				t.Fatalf("cap %d cut to %d: %v", capacity, n, err)
			}
			for w, c := range truth {
				if lo, hi := s.bounds(w); lo > c || hi < c {
					t.Fatalf("cap %d: %q [%d, %d], true %d", capacity, w, lo, hi, c)
				}
			}
		}
	}
}
