package sentiment

import (
	"bufio"
	"embed"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// lexiconFiles are our own word lists (see lexicon/README.md for the
// format and how the weights were chosen).
//
//go:embed lexicon/*.txt
var lexiconFiles embed.FS

// kind says what a lexicon entry does when the scanner meets it.
type kind uint8

const (
	kindWord     kind = 1 << iota // a sentiment word or phrase (weight, may be 0)
	kindModifier                  // negator, intensifier or diminisher (mult)
	kindContrast                  // but / 但是: what follows outweighs what came before
	kindEmoji                     // emoji or emoticon (weight), never modified
)

// entry is the value of one lexicon term. A term can be both a word and a
// modifier (好 is "good" and also "so" in 好卡, 好开心): it is a modifier
// when a sentiment word follows it at once, a word otherwise.
type entry struct {
	kind   kind
	weight float32 // kindWord, kindEmoji: -4 … +4; 0 marks a neutral phrase
	mult   float32 // kindModifier: >1 intensifies, <1 diminishes, <0 negates
}

// trie is a rune trie frozen into flat arrays: node i's children are
// edges[nodes[i].lo:nodes[i].hi], sorted by rune, found by binary search.
// Nothing in it is a pointer or a map, so a lookup allocates nothing.
type trie struct {
	nodes []trieNode
	edges []trieEdge
	// The root has a child for most runes a term starts with (thousands
	// of Chinese characters), and Score asks it at every character, so
	// its children are also in an open-addressed hash table: rootKeys[h]
	// is a rune (0: empty), rootVals[h] its child.
	rootKeys []rune
	rootVals []int32
}

// rootChild returns child(0, r) through the hash table.
func (t *trie) rootChild(r rune) int32 {
	mask := uint32(len(t.rootKeys) - 1)
	for h := (uint32(r) * 0x9E3779B1) >> 7 & mask; ; h = (h + 1) & mask {
		switch t.rootKeys[h] {
		case r:
			return t.rootVals[h]
		case 0:
			return -1
		}
	}
}

type trieNode struct {
	lo, hi int32
	val    int32 // index into Lexicon.entries, -1 if no term ends here
}

type trieEdge struct {
	r  rune
	to int32
}

// child returns the node reached from n by rune r, or -1.
func (t *trie) child(n int32, r rune) int32 {
	nd := &t.nodes[n]
	lo, hi := nd.lo, nd.hi
	for lo < hi {
		m := int32(uint32(lo+hi) >> 1)
		e := t.edges[m]
		if e.r == r {
			return e.to
		}
		if e.r < r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return -1
}

// Lexicon is a parsed, immutable set of lexicon files, safe for concurrent
// use by any number of Scorers.
type Lexicon struct {
	trie    trie
	entries []entry
	terms   int
}

// Terms returns the number of distinct terms in the lexicon.
func (l *Lexicon) Terms() int { return l.terms }

// The files of a lexicon directory, and what each line of each means. A
// line is a term, then optionally whitespace and a number; '#' starts a
// comment line. Terms are folded as the text is (see fold), so case,
// full-width forms and emoji variation selectors do not matter.
var lexiconKinds = []struct {
	file     string
	kind     kind
	def      float64 // value when the line has no number
	min, max float64
}{
	{"words_en.txt", kindWord, math.NaN(), -4, 4},
	{"words_zh.txt", kindWord, math.NaN(), -4, 4},
	{"emoji.txt", kindEmoji, math.NaN(), -4, 4},
	{"negators.txt", kindModifier, 0.75, 0.1, 2}, // stored as -value
	{"intensifiers.txt", kindModifier, 1.5, 1, 3},
	{"diminishers.txt", kindModifier, 0.6, 0.1, 1},
	{"contrast.txt", kindContrast, 0, 0, 0},
}

// ParseLexicon reads a lexicon from the files named in lexicon/README.md
// at the root of fsys (every file must be there). A term listed twice with
// the same role is an error, so is a number out of its file's range; a
// term may be both a word and a modifier, nothing else may be combined.
func ParseLexicon(fsys fs.FS) (*Lexicon, error) {
	b := newTrieBuilder()
	var entries []entry
	index := map[string]int{}
	for _, k := range lexiconKinds {
		f, err := fsys.Open(k.file)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		line := 0
		for sc.Scan() {
			line++
			text := strings.TrimSpace(sc.Text())
			if text == "" || strings.HasPrefix(text, "#") {
				continue
			}
			term, val, err := parseLexiconLine(text, k.def, k.min, k.max)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s:%d: %w", k.file, line, err)
			}
			if k.file == "negators.txt" {
				val = -val
			}
			term = foldString(term)
			i, seen := index[term]
			if !seen {
				i = len(entries)
				index[term] = i
				entries = append(entries, entry{})
				b.insert(term, int32(i))
			}
			e := &entries[i]
			if e.kind&k.kind != 0 || (e.kind != 0 && (e.kind|k.kind) != kindWord|kindModifier) {
				f.Close()
				return nil, fmt.Errorf("%s:%d: %q is already in the lexicon", k.file, line, term)
			}
			e.kind |= k.kind
			switch k.kind {
			case kindWord, kindEmoji:
				e.weight = float32(val)
			case kindModifier:
				e.mult = float32(val)
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k.file, err)
		}
	}
	return &Lexicon{trie: b.freeze(), entries: entries, terms: len(entries)}, nil
}

func parseLexiconLine(text string, def, min, max float64) (string, float64, error) {
	term, num := text, ""
	if i := strings.LastIndexAny(text, " \t"); i >= 0 {
		if _, err := strconv.ParseFloat(strings.TrimSpace(text[i+1:]), 64); err == nil {
			term, num = strings.TrimSpace(text[:i]), strings.TrimSpace(text[i+1:])
		}
	}
	if !utf8.ValidString(term) || term == "" {
		return "", 0, fmt.Errorf("bad term %q", term)
	}
	if strings.Contains(term, "  ") || strings.ContainsAny(term, "\t") {
		return "", 0, fmt.Errorf("term %q: words are separated by one space", term)
	}
	val := def
	if num != "" {
		val, _ = strconv.ParseFloat(num, 64)
	}
	if math.IsNaN(val) {
		return "", 0, fmt.Errorf("term %q needs a weight", term)
	}
	if min != max && (val < min || val > max) {
		return "", 0, fmt.Errorf("term %q: %v is outside [%v, %v]", term, val, min, max)
	}
	return term, val, nil
}

// trieBuilder grows a pointer trie, then freezes it into flat arrays.
type trieBuilder struct {
	nodes []map[rune]int32
	vals  []int32
}

func newTrieBuilder() *trieBuilder {
	return &trieBuilder{nodes: []map[rune]int32{{}}, vals: []int32{-1}}
}

func (b *trieBuilder) insert(term string, val int32) {
	n := int32(0)
	for _, r := range term {
		next, ok := b.nodes[n][r]
		if !ok {
			next = int32(len(b.nodes))
			b.nodes = append(b.nodes, map[rune]int32{})
			b.vals = append(b.vals, -1)
			b.nodes[n][r] = next
		}
		n = next
	}
	b.vals[n] = val
}

func (b *trieBuilder) freeze() trie {
	t := trie{nodes: make([]trieNode, len(b.nodes))}
	for i, m := range b.nodes {
		lo := int32(len(t.edges))
		keys := make([]rune, 0, len(m))
		for r := range m {
			keys = append(keys, r)
		}
		slices.Sort(keys)
		for _, r := range keys {
			t.edges = append(t.edges, trieEdge{r: r, to: m[r]})
		}
		t.nodes[i] = trieNode{lo: lo, hi: int32(len(t.edges)), val: b.vals[i]}
	}
	size := 16
	for size < 2*len(b.nodes[0])+1 {
		size *= 2
	}
	t.rootKeys, t.rootVals = make([]rune, size), make([]int32, size)
	mask := uint32(size - 1)
	for r, to := range b.nodes[0] {
		if r == 0 {
			continue // NUL starts no term worth finding; 0 marks empty
		}
		h := (uint32(r) * 0x9E3779B1) >> 7 & mask
		for t.rootKeys[h] != 0 {
			h = (h + 1) & mask
		}
		t.rootKeys[h], t.rootVals[h] = r, to
	}
	return t
}
