package search

import (
	"sort"
	"unicode"
	"unicode/utf8"
)

// Gram is an index key over the folded content of a message, or (top bit
// set) a hash of a field value such as the user name. A message holds:
//
//   - every 1- and 2-rune substring of its folded content, so a query of
//     1 or 2 runes (一 character, 紧急, "ok") matches exactly the messages
//     holding its gram;
//   - every 3-rune substring that is a word junction (a space between two
//     other runes) or of ASCII runes, not all the same, holding a digit or
//     punctuation (see trigram): bigrams say least about the small
//     alphabet (" t", "e ", "77") and nothing about which words meet at a
//     space, so junctions ("e h" of "please help", "单 s" of "订单
//     shipped") and numbers ("#42", "380") become selective, while CJK
//     text run together, whose bigrams already are, adds no keys;
//   - a run gram RunGram(r, k) for each k from 3 up to MaxRun and the
//     length of every maximal run of one rune r (666666, 哈哈哈哈, aaaa,
//     !!!), and alternation grams AltGram(a, b, k) for every stretch of two
//     runes alternating (你好你好, abab, 1212; see AppendRuns): the bigrams
//     of a run are one gram repeated, of an alternation two, which says
//     nothing about its length.
//
// So a longer query can only match messages holding all of its grams (its
// bigrams, trigrams, and the run or alternation gram of each run or
// alternation in it), which are then verified against the content; a
// query that one gram describes exactly (1 or 2 runes, 3 runes that make a
// trigram, one run or alternation of up to MaxRun runes) is answered from
// that gram's list alone.
//
// Runes are stored +1 so that 0 means "no rune" and the packing is unique;
// a run or alternation gram's third rune is runMark+k or altMark+k, above
// every Unicode code point.
type Gram uint64

const runeBits = 21

// MaxRun is the longest length a run or alternation gram states exactly: a
// run of more runes holds RunGram(r, MaxRun) ("at least MaxRun").
const MaxRun = 8

// runMark+k is the third "rune" of a run gram: above unicode.MaxRune, so it
// never packs a real trigram.
const runMark = unicode.MaxRune + 1

// MakeGram packs 1 to 3 runes.
func MakeGram(rs ...rune) Gram {
	var g uint64
	for i, r := range rs {
		g |= uint64(r+1) << (runeBits * (2 - i))
	}
	return Gram(g)
}

// RunGram is the key of the messages whose folded content holds a run of
// at least k (3 <= k <= MaxRun) consecutive runes r.
func RunGram(r rune, k int) Gram { return MakeGram(r, r, runMark+rune(k)) }

// altMark+k is the third "rune" of an alternation gram.
const altMark = runMark + 16

// AltGram is the key of the messages whose folded content holds at least
// k (4 <= k <= MaxRun) runes alternating a, b, a, b … (a != b) starting
// with a: 你好你好, abab, 1212, whose bigrams are two grams repeated.
func AltGram(a, b rune, k int) Gram { return MakeGram(a, b, altMark+rune(k)) }

// Field kinds for FieldGram.
const (
	FieldUser   byte = 'u'
	FieldType   byte = 't'
	FieldTarget byte = 'g'
	FieldRoom   byte = 'r'
)

// FieldGram is the key of all messages whose field equals value exactly.
// It is a 63-bit FNV-1a hash: collisions are possible, so matches are
// always confirmed against the stored row.
func FieldGram(field byte, value string) Gram {
	h := uint64(14695981039346656037)
	h = (h ^ uint64(field)) * 1099511628211
	for i := 0; i < len(value); i++ {
		h = (h ^ uint64(value[i])) * 1099511628211
	}
	return Gram(1<<63 | h>>1)
}

// fold is one rune of Fold: unicode.ToLower, with the ASCII letters and
// the caseless CJK blocks (radicals, punctuation, kana, ideographs,
// Hangul syllables: most of a Chinese chat) decided without its tables.
func fold(r rune) rune {
	switch {
	case r < utf8.RuneSelf:
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	case caseless(r):
		return r
	}
	return unicode.ToLower(r)
}

// caseless reports that r is in a block without case (see fold).
func caseless(r rune) bool {
	return (r >= 0x2E80 && r <= 0x9FFF) || (r >= 0xAC00 && r <= 0xD7A3)
}

// trigram reports whether a, b, c get a trigram: a word junction (a space
// between two other runes, in any script: "e h" of "please help", "单 s"
// of "订单 shipped"), or three ASCII runes, not all equal (that is the run
// gram RunGram(a, 3)), holding a digit or punctuation ("#42", "380",
// "@a."). Letters within a word keep to bigrams: their trigrams would be
// most of the trigrams of English text and narrow a word little more than
// its bigrams do.
func trigram(a, b, c rune) bool {
	if b == ' ' {
		return a != ' ' && c != ' '
	}
	if a >= utf8.RuneSelf || b >= utf8.RuneSelf || c >= utf8.RuneSelf || (a == b && b == c) {
		return false
	}
	return isDigitOrPunct(a) || isDigitOrPunct(b) || isDigitOrPunct(c)
}

// AppendGrams appends the 1-, 2- and 3-rune grams of text, folded as Fold
// does, to dst (not the run grams: see AppendRuns); a gram occurring
// several times is appended several times (callers that need distinct
// grams dedupe, e.g. by message id). scratch is reused to hold runes. A
// long text may be passed in pieces that overlap by two runes.
func AppendGrams(dst []Gram, scratch []rune, text string) ([]Gram, []rune) {
	rs := scratch[:0]
	for _, r := range text {
		rs = append(rs, fold(r))
	}
	for i, r := range rs {
		a := uint64(r+1) << (2 * runeBits)
		dst = append(dst, Gram(a))
		if i+1 < len(rs) {
			ab := a | uint64(rs[i+1]+1)<<runeBits
			dst = append(dst, Gram(ab))
			if i+2 < len(rs) && trigram(r, rs[i+1], rs[i+2]) {
				dst = append(dst, Gram(ab|uint64(rs[i+2]+1)))
			}
		}
	}
	return dst, rs
}

// AppendRuns appends the run and alternation grams of text (folded): for
// each maximal run of one rune of length n >= 3, RunGram(r, k) for k = 3 ..
// min(n, MaxRun); for each maximal stretch of two runes alternating (a, b,
// a, b …) of length n >= 4, AltGram(a, b, k) for k = 4 .. min(n, MaxRun)
// and AltGram(b, a, k) for k = 4 .. min(n-1, MaxRun) (the stretch seen from
// its second rune). It reads text once and needs no scratch, however long
// the text.
func AppendRuns(dst []Gram, text string) []Gram {
	var p1, p2 rune = -1, -1 // the previous rune and the one before
	run, alt := 0, 0         // length of the current run, alternation
	var altA, altB rune      // the alternation's first two runes
	endRun := func() {
		for k := 3; k <= min(run, MaxRun); k++ {
			dst = append(dst, RunGram(p1, k))
		}
	}
	endAlt := func() {
		for k := 4; k <= min(alt, MaxRun); k++ {
			dst = append(dst, AltGram(altA, altB, k))
		}
		for k := 4; k <= min(alt-1, MaxRun); k++ {
			dst = append(dst, AltGram(altB, altA, k))
		}
	}
	for _, r := range text {
		r = fold(r)
		if r == p1 {
			run++
		} else {
			endRun()
			run = 1
		}
		switch {
		case r == p2 && r != p1:
			alt++
		case alt >= 4:
			endAlt()
			fallthrough
		default:
			alt = 0
			if p1 >= 0 && r != p1 {
				alt, altA, altB = 2, p1, r // a new stretch may start here
			}
		}
		p2, p1 = p1, r
	}
	endRun()
	if alt >= 4 {
		endAlt()
	}
	return dst
}

// Plan says how to answer a text query from the index.
type Plan struct {
	// Grams must all be present in a matching message. They are ordered
	// by how selective they are likely to be, best first (run grams, then
	// trigrams of digits and punctuation, word junctions, then bigrams),
	// spread over the query: an index looks up the first Lookup and
	// intersects the rarest.
	Grams []Gram
	// Exact: holding Grams[0] is the same as matching (a query of 1 or 2
	// runes, of 3 runes that make a trigram, or one run or alternation of
	// up to MaxRun runes);
	// otherwise candidates are verified against the content.
	Exact bool
	// Folded is the folded query, for verification.
	Folded string
	// Lookup is how many of Grams an index should look up: LookupGrams,
	// or fewer when the first few are trigrams or run grams (selective
	// enough by themselves).
	Lookup int
}

// LookupGrams is how many of a plan's grams an index looks up at most, to
// intersect the rarest of them: a long query has hundreds, the rarest few
// of which (a CJK word junction, a number) narrow the candidates as much
// as all, and each costs a blob per segment (see Plan.Lookup).
const LookupGrams = 16

// PlanQuery returns the grams to look up for query. An empty query has no
// grams (everything matches).
func PlanQuery(query string) Plan {
	f := Fold(query)
	rs := []rune(f)
	p := Plan{Folded: f}
	switch {
	case len(rs) == 0:
		return p
	case len(rs) <= 2:
		p.Grams, p.Exact, p.Lookup = []Gram{MakeGram(rs...)}, true, 1
		return p
	case len(rs) <= MaxRun && allSame(rs):
		p.Grams, p.Exact, p.Lookup = []Gram{RunGram(rs[0], len(rs))}, true, 1
		return p
	case len(rs) == 3 && trigram(rs[0], rs[1], rs[2]):
		p.Grams, p.Exact, p.Lookup = []Gram{MakeGram(rs...)}, true, 1
		return p
	case len(rs) >= 4 && len(rs) <= MaxRun && alternates(rs):
		p.Grams, p.Exact, p.Lookup = []Gram{AltGram(rs[0], rs[1], len(rs))}, true, 1
		return p
	}
	// Every gram the query implies, with a score (higher: likely rarer)
	// and its position.
	type cand struct {
		g     Gram
		score int
		pos   int
	}
	var cs []cand
	seen := map[Gram]bool{}
	add := func(g Gram, score, pos int) {
		if !seen[g] {
			seen[g] = true
			cs = append(cs, cand{g, score, pos})
		}
	}
	inRun := make([]bool, len(rs)) // a bigram inside a run says nothing more than its run gram
	for i := 0; i < len(rs); {
		j := i + 1
		for j < len(rs) && rs[j] == rs[i] {
			j++
		}
		if j-i >= 3 {
			add(RunGram(rs[i], min(j-i, MaxRun)), 100+min(j-i, MaxRun), i)
			for k := i; k < j-1; k++ {
				inRun[k] = true
			}
		}
		i = j
	}
	for i := 0; i+1 < len(rs); {
		j := i + 2
		for j < len(rs) && rs[j] == rs[j-2] && rs[j] != rs[j-1] {
			j++
		}
		if rs[i] != rs[i+1] && j-i >= 4 {
			add(AltGram(rs[i], rs[i+1], min(j-i, MaxRun)), 100+min(j-i, MaxRun), i)
			for k := i + 2; k < j-1; k++ {
				inRun[k] = true // the first two bigrams say the rest
			}
			i = j - 1
			continue
		}
		i++
	}
	for i := 0; i+1 < len(rs); i++ {
		a, b := rs[i], rs[i+1]
		if i+2 < len(rs) && trigram(a, b, rs[i+2]) {
			score := 55 // a word junction
			if c := rs[i+2]; isDigitOrPunct(a) || isDigitOrPunct(b) || isDigitOrPunct(c) {
				score = 60
			}
			add(MakeGram(a, b, rs[i+2]), score, i)
		}
		if inRun[i] {
			continue
		}
		score := 10 // ASCII
		switch {
		case a >= utf8.RuneSelf && b >= utf8.RuneSelf && !unicode.IsSpace(a) && !unicode.IsSpace(b):
			score = 40
		case a >= utf8.RuneSelf || b >= utf8.RuneSelf:
			score = 30
		}
		add(MakeGram(a, b), score, i)
	}
	// Best first, spread over the query: the best gram of each of
	// LookupGrams stretches first (best first among them), then the rest
	// by score; equal scores keep query order.
	n := LookupGrams
	picked := make([]bool, len(cs))
	var first, rest []cand
	for s := 0; s < n; s++ {
		lo, hi := s*len(rs)/n, (s+1)*len(rs)/n
		best := -1
		for i, c := range cs {
			if !picked[i] && c.pos >= lo && c.pos < hi && (best < 0 || c.score > cs[best].score) {
				best = i
			}
		}
		if best >= 0 {
			picked[best] = true
			first = append(first, cs[best])
		}
	}
	for i, c := range cs {
		if !picked[i] {
			rest = append(rest, c)
		}
	}
	byScore := func(x []cand) {
		sort.SliceStable(x, func(i, j int) bool { return x[i].score > x[j].score })
	}
	byScore(first)
	byScore(rest)
	for _, c := range append(first, rest...) {
		p.Grams = append(p.Grams, c.g)
	}
	p.Lookup = min(len(p.Grams), LookupGrams)
	selective := 0
	for _, c := range first {
		if c.score >= 50 {
			selective++
		}
	}
	if selective >= 3 {
		p.Lookup = min(len(p.Grams), fewLookups)
	}
	return p
}

// fewLookups is how many grams a plan whose spread picks are mostly
// trigrams or run grams looks up.
const fewLookups = 6

// alternates reports whether rs is a, b, a, b … with a != b.
func alternates(rs []rune) bool {
	if rs[0] == rs[1] {
		return false
	}
	for i := 2; i < len(rs); i++ {
		if rs[i] != rs[i-2] {
			return false
		}
	}
	return true
}

func allSame(rs []rune) bool {
	for _, r := range rs[1:] {
		if r != rs[0] {
			return false
		}
	}
	return true
}

func isDigitOrPunct(r rune) bool {
	return r < utf8.RuneSelf && r != ' ' && !('a' <= r && r <= 'z')
}

// Bigrams returns the bigrams that a trigram, run or alternation gram implies (a
// message holding g holds them): what stands in for g where an index has
// no lists of its kind. It is nil for every other gram.
func (g Gram) Bigrams() []Gram {
	const mask = 1<<runeBits - 1
	if g>>63 != 0 || g&mask == 0 {
		return nil // a field gram, or of 1 or 2 runes
	}
	a, b, c := rune(g>>(2*runeBits)&mask)-1, rune(g>>runeBits&mask)-1, rune(g&mask)-1
	switch {
	case c >= altMark:
		return []Gram{MakeGram(a, b), MakeGram(b, a)}
	case c > unicode.MaxRune:
		return []Gram{MakeGram(a, a)}
	}
	return []Gram{MakeGram(a, b), MakeGram(b, c)}
}
