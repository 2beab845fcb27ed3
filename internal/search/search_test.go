package search

import (
	"math/rand/v2"
	"slices"
	"testing"
	"unicode"
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
	for _, s := range []string{"Hello 世界 ÄB", "bad \xff utf8", "", "x", "aaa b#77", "please help fix"} {
		grams, _ := AppendGrams(nil, nil, s)
		f := []rune(Fold(s))
		var want []Gram
		for i := range f {
			want = append(want, MakeGram(f[i]))
			if i+1 < len(f) {
				want = append(want, MakeGram(f[i], f[i+1]))
				if i+2 < len(f) && trigram(f[i], f[i+1], f[i+2]) {
					want = append(want, MakeGram(f[i], f[i+1], f[i+2]))
				}
			}
		}
		if !slices.Equal(grams, want) {
			t.Errorf("%q: grams %v, want %v", s, grams, want)
		}
	}
}

func TestRuns(t *testing.T) {
	got := AppendRuns(nil, "xAAAAb哈哈哈6666666666!!")
	want := []Gram{RunGram('a', 3), RunGram('a', 4), RunGram('哈', 3)}
	for k := 3; k <= MaxRun; k++ {
		want = append(want, RunGram('6', k))
	}
	if !slices.Equal(got, want) {
		t.Errorf("runs %v, want %v", got, want)
	}
	got = AppendRuns(nil, "x你好你好你 1212")
	want = []Gram{AltGram('你', '好', 4), AltGram('你', '好', 5), AltGram('好', '你', 4), AltGram('1', '2', 4)}
	if !slices.Equal(got, want) {
		t.Errorf("alternations %v, want %v", got, want)
	}
	if bs := AltGram('你', '好', 4).Bigrams(); !slices.Equal(bs, []Gram{MakeGram('你', '好'), MakeGram('好', '你')}) {
		t.Errorf("alternation bigrams %v", bs)
	}
	if bs := RunGram('7', 5).Bigrams(); !slices.Equal(bs, []Gram{MakeGram('7', '7')}) {
		t.Errorf("run bigrams %v", bs)
	}
	if bs := MakeGram('a', '1', 'c').Bigrams(); !slices.Equal(bs, []Gram{MakeGram('a', '1'), MakeGram('1', 'c')}) {
		t.Errorf("trigram bigrams %v", bs)
	}
	for _, g := range []Gram{MakeGram('a'), MakeGram('a', 'b'), FieldGram(FieldUser, "x")} {
		if g.Bigrams() != nil {
			t.Errorf("%x has no bigrams", g)
		}
	}
}

func TestPlanQuery(t *testing.T) {
	exact := map[string]Gram{
		"紧急":       MakeGram('紧', '急'),
		"x":        MakeGram('x'),
		"A#c":      MakeGram('a', '#', 'c'),
		"e h":      MakeGram('e', ' ', 'h'),
		"单 s":      MakeGram('单', ' ', 's'),
		"aaa":      RunGram('a', 3),
		"哈哈哈哈":     RunGram('哈', 4),
		"66666666": RunGram('6', 8),
		"你好你好":     AltGram('你', '好', 4),
		"ABABA":    AltGram('a', 'b', 5),
	}
	for q, g := range exact {
		if p := PlanQuery(q); !p.Exact || len(p.Grams) != 1 || p.Grams[0] != g {
			t.Errorf("%q: %+v, want exactly %x", q, p, g)
		}
	}
	if p := PlanQuery("666666666"); p.Exact || p.Grams[0] != RunGram('6', MaxRun) {
		t.Errorf("a run longer than MaxRun: %+v", p)
	}
	if p := PlanQuery("#777777"); p.Exact || p.Grams[0] != RunGram('7', 6) || p.Folded != "#777777" {
		t.Errorf("a run first: %+v", p)
	}
	if p := PlanQuery("紧急通知"); p.Exact || len(p.Grams) != 3 {
		t.Errorf("CJK: bigrams: %+v", p)
	}
	if p := PlanQuery("abc"); p.Exact || len(p.Grams) != 2 {
		t.Errorf("letters of a word: bigrams: %+v", p)
	}
}

// TestPlanGramsAreNecessary: every gram of a query's plan is a gram of
// every content that contains the query (the property the index relies
// on), and a plan marked exact holds exactly for the contents that match.
func TestPlanGramsAreNecessary(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	alphabet := []rune("aAb7#6  哈好.İK")
	randText := func(n int) string {
		rs := make([]rune, n)
		for i := range rs {
			rs[i] = alphabet[rng.IntN(len(alphabet))]
			switch {
			case rng.IntN(4) == 0 && i > 0:
				rs[i] = rs[i-1] // runs
			case rng.IntN(3) == 0 && i > 1:
				rs[i] = rs[i-2] // alternations
			}
		}
		return string(rs)
	}
	for trial := 0; trial < 100000; trial++ {
		content := randText(1 + rng.IntN(40))
		grams, _ := AppendGrams(nil, nil, content)
		grams = AppendRuns(grams, content)
		has := map[Gram]bool{}
		for _, g := range grams {
			has[g] = true
		}
		var query string
		if rng.IntN(2) == 0 {
			rs := []rune(content)
			i := rng.IntN(len(rs))
			query = string(rs[i : i+1+rng.IntN(len(rs)-i)])
		} else {
			query = randText(1 + rng.IntN(10))
		}
		p := PlanQuery(query)
		match := Match(content, query)
		all := true
		for _, g := range p.Grams {
			all = all && has[g]
		}
		if match && !all {
			t.Fatalf("content %q matches %q but lacks a gram of its plan %+v", content, query, p)
		}
		if p.Exact && all != match {
			t.Fatalf("exact plan %+v of %q: holds %v, matches %v (content %q)", p, query, all, match, content)
		}
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

// TestCaselessBlocks: the blocks fold skips have no case.
func TestCaselessBlocks(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if caseless(r) && unicode.ToLower(r) != r {
			t.Fatalf("%U has a lower case", r)
		}
	}
}
