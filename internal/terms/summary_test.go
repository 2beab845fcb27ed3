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
	if len(s.ents) > s.cap || 2*len(s.ents) > len(s.slots) && len(s.ents) > 0 {
		return fmt.Errorf("%d entries, %d slots, cap %d", len(s.ents), len(s.slots), s.cap)
	}
	used := 0
	for _, v := range s.slots {
		if v != 0 {
			used++
			if i, ok := find(s, s.ents[v-1].term, s.ents[v-1].hash); !ok || i != v-1 {
				return fmt.Errorf("entry %d %q not found through the table", v-1, s.ents[v-1].term)
			}
		}
	}
	if used != len(s.ents) {
		return fmt.Errorf("%d entries, %d in the table", len(s.ents), used)
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
			if e.bucket != b || e.count != bk.count || e.prev != pe || e.err >= e.count || e.hash != hashTerm([]byte(e.term)) {
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
			s.message([][]byte{[]byte(w)}, []uint64{hashTerm([]byte(w))})
			if i%997 == 0 || capacity < 10 {
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
