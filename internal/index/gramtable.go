package index

import "github.com/wsmon/wsmon/internal/search"

// gramTable maps grams to list indexes for the memory segment: open
// addressing with linear probing on a multiplicative hash, about twice as
// fast as a Go map on the fold's hot path (a lookup per gram of every
// message). Gram 0 marks an empty slot: no gram packs to 0 (a text gram's
// first rune and a field gram's top bit are never zero).
type gramTable struct {
	keys  []search.Gram
	vals  []int32
	n     int
	shift uint
}

func newGramTable() gramTable {
	const size = 1 << 10
	return gramTable{keys: make([]search.Gram, size), vals: make([]int32, size), shift: 64 - 10}
}

func (t *gramTable) slot(g search.Gram) int {
	return int((uint64(g) * 0x9E3779B97F4A7C15) >> t.shift)
}

// get returns g's value.
func (t *gramTable) get(g search.Gram) (int32, bool) {
	mask := len(t.keys) - 1
	for i := t.slot(g); ; i = (i + 1) & mask {
		switch t.keys[i] {
		case g:
			return t.vals[i], true
		case 0:
			return 0, false
		}
	}
}

// put sets g's value (g absent).
func (t *gramTable) put(g search.Gram, v int32) {
	if 2*(t.n+1) > len(t.keys) {
		t.grow()
	}
	mask := len(t.keys) - 1
	i := t.slot(g)
	for t.keys[i] != 0 {
		i = (i + 1) & mask
	}
	t.keys[i], t.vals[i] = g, v
	t.n++
}

func (t *gramTable) grow() {
	old, oldv := t.keys, t.vals
	t.keys, t.vals = make([]search.Gram, 2*len(old)), make([]int32, 2*len(old))
	t.shift--
	t.n = 0
	for i, g := range old {
		if g != 0 {
			t.put(g, oldv[i])
		}
	}
}

// each calls fn for every entry.
func (t *gramTable) each(fn func(g search.Gram, v int32)) {
	for i, g := range t.keys {
		if g != 0 {
			fn(g, t.vals[i])
		}
	}
}
