package search

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestFoldAndMatch(t *testing.T) {
	cases := []struct {
		content, query string
		want           bool
	}{
		{"这是紧急通知", "紧急", true},
		{"Hello World", "hello", true},
		{"HELLO", "lO", true},
		{"ÄÖÜ straße", "äöü", true},
		{"100% sure", "%", true},
		{"a_b", "_", true},
		{`say "hi"`, `"hi"`, true},
		{"'; DROP TABLE messages; --", "drop table", true},
		{"👍 ok", "👍", true},
		{"abc", "abd", false},
		{"紧 急", "紧急", false},
		{"anything", "", true},
	}
	for _, c := range cases {
		if got := Match(c.content, c.query); got != c.want {
			t.Errorf("Match(%q, %q) = %v", c.content, c.query, got)
		}
	}
}

func TestGramsMatchFold(t *testing.T) {
	for _, s := range []string{"Hello 世界 ÄB", "bad \xff utf8", "", "x"} {
		grams, _ := AppendGrams(nil, nil, s)
		f := []rune(Fold(s))
		var want []Gram
		for i := range f {
			want = append(want, MakeGram(f[i]))
			if i+1 < len(f) {
				want = append(want, MakeGram(f[i], f[i+1]))
			}
		}
		if !slices.Equal(grams, want) {
			t.Errorf("%q: grams %v, want %v", s, grams, want)
		}
	}
}

func TestPlanQuery(t *testing.T) {
	if p := PlanQuery("紧急"); !p.Exact || len(p.Grams) != 1 || p.Grams[0] != MakeGram('紧', '急') {
		t.Errorf("two runes: %+v", p)
	}
	if p := PlanQuery("Hello"); p.Exact || len(p.Grams) != 4 || p.Folded != "hello" {
		t.Errorf("long: %+v", p)
	}
	if p := PlanQuery("please help fix"); len(p.Grams) != maxPlanGrams || p.Grams[0] != MakeGram('p', 'l') || p.Grams[maxPlanGrams-1] != MakeGram('i', 'x') {
		t.Errorf("long: %+v", p)
	}
	if p := PlanQuery("aaaa"); len(p.Grams) != 1 {
		t.Errorf("repeated bigram kept once: %+v", p)
	}
}

func TestBlobRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base, hi := int64(1000), int64(5000)
	var entries []BlobEntry
	want := map[Gram][]int64{}
	for g := Gram(1); g <= 50; g++ {
		var offs []uint32
		var ids []int64
		for off := uint32(rng.IntN(10)); int64(off)+base <= hi; off += 1 + uint32(rng.IntN(200)) {
			offs = append(offs, off)
			ids = append(ids, base+int64(off))
		}
		entries = append(entries, BlobEntry{Gram: g * 7919, Base: base, Offs: offs})
		slices.Reverse(ids)
		want[g*7919] = ids
	}
	long := map[Gram][]byte{}
	blob := EncodeBlob(nil, entries, hi, func(g Gram, l []byte) { long[g] = l })
	for g, ids := range want {
		n, data, ok, err := FindInBlob(blob, g)
		if err != nil || !ok || n != len(ids) {
			t.Fatalf("gram %d: n %d ok %v err %v", g, n, ok, err)
		}
		if data == nil {
			data = long[g] // stored apart
		}
		it := NewIter(data, n, hi)
		var got []int64
		for id, ok := it.Next(); ok; id, ok = it.Next() {
			got = append(got, id)
		}
		if !slices.Equal(got, ids) {
			t.Fatalf("gram %d: ids differ", g)
		}
	}
	if _, _, ok, err := FindInBlob(blob, 3); ok || err != nil {
		t.Fatal("absent gram found")
	}
}

// FuzzFindInBlob: corrupt index data gives an error, never a panic.
func FuzzFindInBlob(f *testing.F) {
	f.Add(EncodeBlob(nil, []BlobEntry{{Gram: 5, Base: 1, Offs: []uint32{0, 3, 9}}}, 20, nil), uint64(5))
	f.Add([]byte{0xff, 0xff, 0xff}, uint64(1))
	f.Fuzz(func(t *testing.T, blob []byte, g uint64) {
		n, data, ok, err := FindInBlob(blob, Gram(g))
		if err == nil && ok {
			it := NewIter(data, n, 1<<40)
			for _, ok := it.Next(); ok; _, ok = it.Next() {
			}
		}
		DecodeBlob(blob, func(_ Gram, n int, data []byte) error {
			it := NewIter(data, n, 1<<40)
			for _, ok := it.Next(); ok; _, ok = it.Next() {
			}
			return nil
		})
	})
}

// TestSkipTo: jumping with the skip table gives the same ids as reading
// every posting.
func TestSkipTo(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(2000)
		var offs []uint32
		off := uint32(rng.IntN(5))
		for i := 0; i < n; i++ {
			offs = append(offs, off)
			off += 1 + uint32(rng.IntN(30))
		}
		base := int64(100)
		hi := base + int64(off) + 5
		data := AppendPostings(nil, base, offs, hi)
		it := NewIter(data, n, hi)
		bound := hi
		for {
			bound -= int64(rng.IntN(400))
			it.SkipTo(bound)
			id, ok := it.Next()
			// Expected: the largest id <= bound.
			want, wok := int64(0), false
			for i := len(offs) - 1; i >= 0; i-- {
				if v := base + int64(offs[i]); v <= bound {
					want, wok = v, true
					break
				}
			}
			for ok && id > bound { // Next may still return ids above bound between skips
				id, ok = it.Next()
			}
			if ok != wok || id != want {
				t.Fatalf("trial %d: bound %d: got %d %v, want %d %v", trial, bound, id, ok, want, wok)
			}
			if !ok {
				break
			}
			bound = id - 1
		}
	}
}
