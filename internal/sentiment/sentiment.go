// Package sentiment owns what wsmon means by the sentiment of a chat
// message: a score in [-1, 1] and a label (pos, neg, neu) from our own
// Chinese and English lexicon (embedded from lexicon/), with negation,
// intensifiers, diminishers, "but" clauses and emoji handled, and a client
// for an external classifier over HTTP (Remote) that falls back to the
// lexicon whenever the service is slow, failing or unreachable.
//
// The scorer is a lexicon and a few rules, not a model: it knows the words
// in its files and nothing else. docs/analysis.md records its accuracy on
// our labelled chat lines (testdata/zh.tsv, testdata/en.tsv) and its
// limits: sarcasm, irony, words it does not list, questions, domain
// meaning.
package sentiment

import (
	"fmt"
	"io/fs"
	"math"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Label is the class of a score: Negative, Neutral or Positive.
type Label int8

// The labels. Their text forms ("neg", "neu", "pos") are used in the
// labelled sets, the external classifier contract and the API.
const (
	Negative Label = -1
	Neutral  Label = 0
	Positive Label = 1
)

// String returns "neg", "neu" or "pos".
func (l Label) String() string {
	switch l {
	case Negative:
		return "neg"
	case Positive:
		return "pos"
	}
	return "neu"
}

// ParseLabel is the inverse of String.
func ParseLabel(s string) (Label, error) {
	switch s {
	case "neg":
		return Negative, nil
	case "neu":
		return Neutral, nil
	case "pos":
		return Positive, nil
	}
	return Neutral, fmt.Errorf("sentiment: label %q is not pos, neg or neu", s)
}

// MarshalText encodes a label as its String form.
func (l Label) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText decodes "pos", "neg" or "neu".
func (l *Label) UnmarshalText(b []byte) error {
	v, err := ParseLabel(string(b))
	*l = v
	return err
}

// Threshold is the smallest |score| labelled Positive or Negative; scores
// closer to 0 are Neutral. LabelOf applies it.
const Threshold = 0.1

// LabelOf returns the label of a score.
func LabelOf(score float64) Label {
	switch {
	case score >= Threshold:
		return Positive
	case score <= -Threshold:
		return Negative
	}
	return Neutral
}

var defaultLexicon = sync.OnceValue(func() *Lexicon {
	sub, err := fs.Sub(lexiconFiles, "lexicon")
	if err == nil {
		var l *Lexicon
		if l, err = ParseLexicon(sub); err == nil {
			return l
		}
	}
	// The files are embedded and TestDefaultLexicon parses them, so this
	// is a build that was never tested.
	panic("sentiment: embedded lexicon: " + err.Error())
})

// Default returns the lexicon embedded in the binary, parsed on first use.
func Default() *Lexicon { return defaultLexicon() }

// Score scores text with the embedded lexicon; see Lexicon.Score.
func Score(text string) (float64, Label) { return Default().Score(text) }

// Scoring constants. A word's weight is -4 … +4 (most are ±1 … ±3).
const (
	negationScope = 4    // a modifier reaches a word at most this many tokens later
	contrastDamp  = 0.5  // what came before "but" counts this much …
	contrastBoost = 1.5  // … and what follows it this much
	exclaimBoost  = 0.25 // each of up to 3 '!' adds this to |sum|
	normAlpha     = 8    // score = sum / sqrt(sum² + normAlpha)
)

// Score returns the sentiment of text, in [-1, 1], and its label. It is
// safe for concurrent use and allocates nothing.
//
// The text is folded (ASCII and full-width letters to lower case, curly
// apostrophes to ', variation selectors, zero-width joiners and skin tones
// dropped) and scanned left to right. At each position the longest
// lexicon term starting there is taken (forward maximum matching, which
// is how Chinese words are found without a segmenter: 不错 and 不好意思
// are terms of their own, so 不 does not negate 错 or 好); an English or
// other Latin-script term must also start and end at a word boundary.
// Text matching no term counts as tokens: one per word, one per CJK
// character.
//
// A negator (不, 没, not, never, …) multiplies the next sentiment word by
// -0.75 (so "not good" is milder than "bad"), an intensifier (很, 非常,
// very, …) by 1.5 or so, a diminisher (有点, a bit, …) by about 0.6; they
// combine ("很不好" is very not-good; "不是很好", where the intensifier
// follows the negator, is only somewhat bad) and lapse after
// negationScope tokens or at punctuation. A contrast word (但是, but)
// halves what came before and weighs what follows 1.5 times. Emoji and
// emoticons add their weight and are never negated. Exclamation marks
// strengthen a non-zero sum a little. The sum s becomes s/√(s²+8).
func (l *Lexicon) Score(text string) (float64, Label) {
	st := scan{lex: l, clause: 1, mult: 1}
	s := text
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if invisible(r) {
			i += size
			continue
		}
		f := fold(r)
		if v, end := l.match(s, i, f, size); v >= 0 {
			st.entry(l.entries[v])
			i = end
			continue
		}
		switch {
		case isWordStart(f):
			i += size
			for i < len(s) {
				r, size := utf8.DecodeRuneInString(s[i:])
				if !invisible(r) && !isWordRune(fold(r)) {
					break
				}
				i += size
			}
			st.token()
		case isCJK(f):
			i += size
			st.token()
		default:
			if isBoundary(f) {
				st.boundary(f)
			}
			i += size
		}
	}
	score := st.finish()
	return score, LabelOf(score)
}

// match returns the entry of the longest term starting at byte i of s,
// whose first rune, folded, is r and takes size bytes, and the byte offset
// just past the term, or -1. A term whose last rune is a word rune matches
// only where the word ends too ("no" is not found in "now"). Score calls
// it only where a word may start: after a non-word rune, or after a term
// or word it took whole.
func (l *Lexicon) match(s string, i int, r rune, size int) (int32, int) {
	t := &l.trie
	n := t.rootChild(r)
	best, bestEnd := int32(-1), i
	for j := i + size; n >= 0; {
		if v := t.nodes[n].val; v >= 0 && (!isWordRune(r) || !wordAt(s, j)) {
			best, bestEnd = v, j
		}
		if j >= len(s) {
			break
		}
		var size int
		r, size = utf8.DecodeRuneInString(s[j:])
		j += size
		if invisible(r) {
			continue
		}
		r = fold(r)
		n = t.child(n, r)
	}
	return best, bestEnd
}

// wordAt reports whether a word rune begins at byte j of s (skipping
// invisible runes).
func wordAt(s string, j int) bool {
	for j < len(s) {
		r, size := utf8.DecodeRuneInString(s[j:])
		if !invisible(r) {
			return isWordRune(fold(r))
		}
		j += size
	}
	return false
}

// scan is the state of one Score call; it lives on the stack.
type scan struct {
	lex    *Lexicon
	sum    float64 // contributions so far
	clause float64 // weight of the current clause (contrast)
	mult   float64 // product of the pending modifiers
	modded bool    // some modifier is pending
	gap    int     // tokens since the last modifier
	held   entry   // a word that may be a modifier, waiting for what follows
	hold   bool
	excl   int
}

func (st *scan) entry(e entry) {
	switch {
	case e.kind == kindWord|kindModifier:
		if st.hold {
			st.modifier(float64(st.held.mult)) // 好好吃: the first is "so"
		}
		st.held, st.hold = e, true
	case e.kind == kindWord:
		if e.weight == 0 { // a neutral phrase is one token
			st.token()
			return
		}
		if st.hold {
			st.modifier(float64(st.held.mult))
			st.hold = false
		}
		st.word(float64(e.weight))
	case e.kind == kindModifier:
		st.flush()
		st.modifier(float64(e.mult))
	case e.kind == kindContrast:
		st.flush()
		st.sum *= contrastDamp
		st.clause = contrastBoost
		st.reset()
	case e.kind == kindEmoji:
		st.flush()
		st.sum += float64(e.weight) * st.clause
	}
}

func (st *scan) word(w float64) {
	if st.modded {
		w *= st.mult
	}
	st.sum += w * st.clause
	st.reset()
}

func (st *scan) modifier(m float64) {
	if st.modded && st.mult < 0 && m > 1 {
		m = 1 / m // 不是很好: not very good is only somewhat bad
	}
	st.mult *= m
	st.modded = true
	st.gap = 0
}

func (st *scan) reset() { st.mult, st.modded, st.gap = 1, false, 0 }

// flush takes a held word as a word: nothing sentimental followed it.
func (st *scan) flush() {
	if st.hold {
		st.hold = false
		st.word(float64(st.held.weight))
	}
}

func (st *scan) token() {
	st.flush()
	if st.modded {
		if st.gap++; st.gap > negationScope {
			st.reset()
		}
	}
}

func (st *scan) boundary(r rune) {
	st.flush()
	st.reset()
	if r == '!' {
		st.excl++
	}
}

func (st *scan) finish() float64 {
	st.flush()
	s := st.sum
	if s != 0 && st.excl > 0 {
		s += math.Copysign(exclaimBoost*float64(min(st.excl, 3)), s)
	}
	return s / math.Sqrt(s*s+normAlpha)
}

// fold maps a rune to the form lexicon terms are written in: ASCII and
// full-width Latin letters lower-cased, full-width punctuation and digits
// to ASCII, curly apostrophes to ', the ideographic space to a space, and
// other letters through unicode.ToLower.
func fold(r rune) rune {
	switch {
	case r < utf8.RuneSelf:
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	case 0xFF01 <= r && r <= 0xFF5E:
		return fold(r - 0xFEE0)
	case r == 0x3000:
		return ' '
	case r == '‘' || r == '’' || r == 'ʼ':
		return '\''
	case r == '…':
		return '.'
	case r >= 0x2E80 && (r < 0xA000 || 0xAC00 <= r && r < 0xD800 || r >= 0x1F000):
		return r // CJK, Hangul, emoji: no case (the fast path for Chinese)
	}
	return unicode.ToLower(r)
}

// foldString folds every rune of s and drops the invisible ones.
func foldString(s string) string {
	b := make([]rune, 0, len(s))
	for _, r := range s {
		if !invisible(r) {
			b = append(b, fold(r))
		}
	}
	return string(b)
}

// invisible reports runes that change how an emoji looks, not what it
// says: variation selectors, the zero-width joiner and space, skin tones.
func invisible(r rune) bool {
	return r == 0xFE0F || r == 0xFE0E || r == 0x200D || r == 0x200B ||
		(0x1F3FB <= r && r <= 0x1F3FF)
}

// isCJK reports a rune of a script written without spaces between words
// (Han, kana, Hangul): each is a token of its own.
func isCJK(r rune) bool {
	switch {
	case r < 0x2E80:
		return false
	case 0x4E00 <= r && r <= 0x9FFF, 0x3400 <= r && r <= 0x4DBF, 0x3040 <= r && r <= 0x30FF,
		0xAC00 <= r && r <= 0xD7A3, 0x20000 <= r && r <= 0x3FFFF:
		return true
	}
	return unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) ||
		unicode.Is(unicode.Katakana, r) || unicode.Is(unicode.Hangul, r)
}

// isWordStart reports a rune that starts a word: a letter or digit of a
// script written with spaces between words.
func isWordStart(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || '0' <= r && r <= '9'
	}
	if 0x3000 <= r && r <= 0x303F || r >= 0x1F000 || isCJK(r) {
		return false // CJK punctuation, emoji, CJK
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// isWordRune reports a rune that continues a word (an apostrophe too:
// don't, it's).
func isWordRune(r rune) bool { return r == '\'' || isWordStart(r) }

// isBoundary reports the punctuation that ends a clause (after folding,
// so full-width forms are included).
func isBoundary(r rune) bool {
	switch r {
	case '.', ',', ';', ':', '!', '?', '\n', '。', '，', '；', '、', '：':
		return true
	}
	return false
}
