package search

import (
	"unicode"
	"unicode/utf8"
)

// Gram is an index key: a packed n-gram of 1 or 2 runes of folded text, or
// (top bit set) a hash of a field value such as the user name. Every
// substring of 1 or 2 runes of a message's folded content is a gram of that
// message, so:
//
//   - a 1- or 2-rune query (一 character, 紧急, "ok") matches exactly the
//     messages holding its gram;
//   - a longer query can only match messages holding all of its bigrams,
//     which are then verified against the content.
//
// Trigrams would make long queries more selective, but they multiply the
// distinct keys (and so the indexer's memory traffic) by an order of
// magnitude; bigrams keep indexing cheap enough to run behind 50,000
// messages/s.
//
// Runes are stored +1 so that 0 means "no rune" and the packing is unique.
type Gram uint64

const runeBits = 21

// MakeGram packs 1 to 3 runes.
func MakeGram(rs ...rune) Gram {
	var g uint64
	for i, r := range rs {
		g |= uint64(r+1) << (runeBits * (2 - i))
	}
	return Gram(g)
}

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

// AppendGrams appends the grams of text, folded as Fold does, to dst; a
// gram occurring several times is appended several times (callers that
// need distinct grams dedupe, e.g. by message id). scratch is reused to
// hold runes.
func AppendGrams(dst []Gram, scratch []rune, text string) ([]Gram, []rune) {
	rs := scratch[:0]
	for _, r := range text {
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
		} else {
			r = unicode.ToLower(r)
		}
		rs = append(rs, r)
	}
	for i, r := range rs {
		a := uint64(r+1) << (2 * runeBits)
		dst = append(dst, Gram(a))
		if i+1 < len(rs) {
			dst = append(dst, Gram(a|uint64(rs[i+1]+1)<<runeBits))
		}
	}
	return dst, rs
}

// Plan says how to answer a text query from the index.
type Plan struct {
	// Grams must all be present in a matching message.
	Grams []Gram
	// Exact: holding the grams is the same as matching (queries of 1 or 2
	// runes); otherwise candidates are verified against the content.
	Exact bool
	// Folded is the folded query, for verification.
	Folded string
}

// maxPlanGrams bounds the bigrams a long query looks up.
const maxPlanGrams = 5

// PlanQuery returns the grams to look up for query. An empty query has no
// grams (everything matches).
func PlanQuery(query string) Plan {
	f := Fold(query)
	rs := []rune(f)
	p := Plan{Folded: f, Exact: len(rs) <= 2}
	switch {
	case len(rs) == 0:
	case len(rs) <= 2:
		p.Grams = []Gram{MakeGram(rs...)}
	default:
		seen := map[Gram]bool{}
		var all []Gram
		for i := 0; i+2 <= len(rs); i++ {
			g := MakeGram(rs[i], rs[i+1])
			if !seen[g] {
				seen[g] = true
				all = append(all, g)
			}
		}
		// Candidates need only hold some of the bigrams (they are verified
		// against the content anyway): a few spread over the query narrow
		// them almost as well as all, and each costs a lookup per segment.
		if len(all) > maxPlanGrams {
			for k := 0; k < maxPlanGrams; k++ {
				p.Grams = append(p.Grams, all[k*(len(all)-1)/(maxPlanGrams-1)])
			}
		} else {
			p.Grams = all
		}
	}
	return p
}
