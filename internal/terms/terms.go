// Package terms owns what wsmon means by the terms of a chat message and
// which of them are trending: tokenisation (Chinese segmented into words
// by our own dictionary segmenter over an embedded word list, other
// scripts split into lower-cased words, stop words of both languages and
// the operator's own dropped, optionally two-word phrases), a Counter that
// keeps term counts per day and per room incrementally in bounded memory
// (space-saving summaries, with their error bounds), its ranking of terms
// by rise against their usual rate (Trending), the Counter's state as
// bytes for restarts (MarshalBinary, UnmarshalBinary), and a Feeder that
// counts on a goroutine of its own behind a bounded queue that never
// blocks its sender.
//
// docs/analysis-terms.md says why the segmenter is ours and not gse
// (measured), what the counts' error bounds are, and how the score is
// made.
package terms

import (
	"embed"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

//go:embed dict/zh.txt dict/chat.txt stop/zh.txt stop/en.txt
var files embed.FS

// Options configure a Tokenizer. The zero value is usable: the embedded
// stop words, no phrases.
type Options struct {
	// Stop are the operator's own stop words, added to the embedded ones.
	// Each is folded as text is (lower case, full-width forms to ASCII);
	// a phrase ("wsmon bot", "客服 在吗") stops that phrase.
	Stop []string
	// Phrases adds a two-word phrase for every two words that follow each
	// other in the text with nothing but spaces between them (订单 + 支付
	// gives 订单支付, "refund" + "failed" gives "refund failed"). Stop words,
	// punctuation, numbers, links and emoji break a phrase.
	Phrases bool
}

// Tokenizer cuts chat text into terms. It is immutable and safe for
// concurrent use.
type Tokenizer struct {
	dict    *dictionary
	stop    map[string]struct{}
	phrases bool
}

var loadDict = sync.OnceValues(func() (*dictionary, error) {
	zh, err := files.ReadFile("dict/zh.txt")
	if err != nil {
		return nil, err
	}
	chat, err := files.ReadFile("dict/chat.txt")
	if err != nil {
		return nil, err
	}
	return loadDictionary(string(zh), string(chat))
})

var loadStop = sync.OnceValues(func() ([]string, error) {
	var words []string
	for _, name := range []string{"stop/zh.txt", "stop/en.txt"} {
		b, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		for line := range strings.Lines(string(b)) {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '#' {
				continue
			}
			words = append(words, line)
		}
	}
	return words, nil
})

// New returns a tokenizer. The embedded dictionary and stop lists are read
// once per process (the first call takes a few milliseconds); an error
// means they are broken, a bug of the build.
func New(opts Options) (*Tokenizer, error) {
	d, err := loadDict()
	if err != nil {
		return nil, err
	}
	stops, err := loadStop()
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{dict: d, stop: make(map[string]struct{}, len(stops)+len(opts.Stop)), phrases: opts.Phrases}
	// A stop entry is stored as the tokenizer would produce it: a word
	// folded, a phrase as its two words joined the way phrases are.
	raw := &Tokenizer{dict: d, phrases: true}
	var ts Terms
	for _, list := range [][]string{stops, opts.Stop} {
		for _, w := range list {
			ts.Reset()
			raw.append(&ts, w, true)
			switch ts.Len() {
			case 0:
				// Never a term (a number, one Chinese character,
				// punctuation): nothing to stop.
			case 1:
				t.stop[string(ts.At(0))] = struct{}{}
			case 3:
				if len(ts.At(2)) < len(ts.At(0))+len(ts.At(1)) {
					return nil, fmt.Errorf("terms: stop word %q: want one word or two words with only spaces between them", w)
				}
				t.stop[string(ts.At(2))] = struct{}{}
			default:
				return nil, fmt.Errorf("terms: stop word %q: want one word or two words with only spaces between them", w)
			}
		}
	}
	return t, nil
}

var defaultTokenizer = sync.OnceValues(func() (*Tokenizer, error) { return New(Options{}) })

// Tokenize returns the terms of text with the default options (embedded
// stop words, no phrases). It panics only if the embedded lists are
// broken, which the package's tests rule out.
func Tokenize(text string) []string {
	t, err := defaultTokenizer()
	if err != nil {
		panic(fmt.Sprintf("terms: %v", err))
	}
	return t.Tokenize(text)
}

// Tokenize returns the terms of text, in the order they appear (a phrase
// right after its second word).
func (t *Tokenizer) Tokenize(text string) []string {
	var ts Terms
	t.Append(&ts, text)
	out := make([]string, ts.Len())
	for i := range out {
		out[i] = string(ts.At(i))
	}
	return out
}

// Terms is a reusable list of terms, each a byte slice into one buffer, so
// that tokenising a message allocates nothing once the buffer has grown.
type Terms struct {
	buf []byte
	end []int32
}

// Reset empties the list, keeping its memory.
func (ts *Terms) Reset() { ts.buf, ts.end = ts.buf[:0], ts.end[:0] }

// Len is the number of terms.
func (ts *Terms) Len() int { return len(ts.end) }

// At returns term i. It aliases the list's buffer: valid until the next
// Reset or Append.
func (ts *Terms) At(i int) []byte {
	start := int32(0)
	if i > 0 {
		start = ts.end[i-1]
	}
	return ts.buf[start:ts.end[i]]
}

// Append adds the terms of text to ts.
func (t *Tokenizer) Append(ts *Terms, text string) { t.append(ts, text, false) }

// maxTermBytes bounds a word: longer "words" are junk (hashes, base64,
// keyboard mashing), dropped.
const maxTermBytes = 48

// scan is the state of one Append: where the previous word is in the
// output buffer, for phrases.
type scan struct {
	t       *Tokenizer
	ts      *Terms
	raw     bool // keep stop words (used to fold stop lists)
	prevLo  int  // the previous word in ts.buf, if prevOK
	prevHi  int
	prevHan bool
	prevOK  bool
}

// brk ends a phrase: the next word does not pair with the previous one.
func (sc *scan) brk() { sc.prevOK = false }

// keep is called with a word just written at ts.buf[lo:]: it drops a stop
// word, or records it and adds the phrase with the previous word.
func (sc *scan) keep(lo int, han bool) {
	ts := sc.ts
	if !sc.raw {
		if _, stop := sc.t.stop[string(ts.buf[lo:])]; stop {
			ts.buf = ts.buf[:lo]
			sc.brk()
			return
		}
	}
	ts.end = append(ts.end, int32(len(ts.buf)))
	hi := len(ts.buf)
	if sc.t.phrases && sc.prevOK {
		plo := len(ts.buf)
		ts.buf = append(ts.buf, ts.buf[sc.prevLo:sc.prevHi]...)
		if !(han && sc.prevHan) {
			ts.buf = append(ts.buf, ' ')
		}
		ts.buf = append(ts.buf, ts.buf[lo:hi]...)
		if _, stop := sc.t.stop[string(ts.buf[plo:])]; stop && !sc.raw {
			ts.buf = ts.buf[:plo]
		} else {
			ts.end = append(ts.end, int32(len(ts.buf)))
		}
	}
	sc.prevLo, sc.prevHi, sc.prevHan, sc.prevOK = lo, hi, han, true
}

// han takes one segmented Chinese word of n runes.
func (sc *scan) han(w string, n int) {
	if n < 2 {
		// A single character is a particle, a pronoun or a piece of a
		// word the dictionary does not know: not a term.
		sc.brk()
		return
	}
	lo := len(sc.ts.buf)
	sc.ts.buf = append(sc.ts.buf, w...)
	sc.keep(lo, true)
}

func (t *Tokenizer) append(ts *Terms, text string, raw bool) {
	sc := scan{t: t, ts: ts, raw: raw}
	for i := 0; i < len(text); {
		r, sz := utf8.DecodeRuneInString(text[i:])
		switch {
		case r == ' ' || r == '\t' || r == '\u3000':
			// Spaces do not break a phrase.
			i += sz
		case unicode.Is(unicode.Han, r):
			j := i + sz
			for j < len(text) {
				r2, sz2 := utf8.DecodeRuneInString(text[j:])
				if !unicode.Is(unicode.Han, r2) {
					break
				}
				j += sz2
			}
			t.dict.segment(text[i:j], &sc)
			i = j
		case r == '@' && !raw:
			// A mention: the name up to the next space is a user, not a
			// term.
			i = skipToSpace(text, i+sz)
			sc.brk()
		case isWordRune(r):
			if !raw && isLinkStart(text[i:]) {
				i = skipLink(text, i)
				sc.brk()
				continue
			}
			i = sc.word(text, i)
		default:
			// Punctuation, symbols, emoji, controls.
			i += sz
			sc.brk()
		}
	}
}

// word reads a word starting at text[i] (letters and digits of any script
// but Han, with inner apostrophes), writes it folded to ts.buf and keeps
// it unless it is junk. It returns the index after the word.
func (sc *scan) word(text string, i int) int {
	ts := sc.ts
	lo := len(ts.buf)
	letters, digits := 0, 0
	for i < len(text) {
		r, sz := utf8.DecodeRuneInString(text[i:])
		if r == '\'' || r == '\u2019' {
			// An apostrophe inside a word (don't, it's) is part of it.
			if letters > 0 && i+sz < len(text) {
				if r2, _ := utf8.DecodeRuneInString(text[i+sz:]); isWordRune(r2) && !unicode.IsDigit(r2) {
					ts.buf = append(ts.buf, '\'')
					i += sz
					continue
				}
			}
			break
		}
		if !isWordRune(r) {
			break
		}
		r = foldRune(r)
		if unicode.IsDigit(r) {
			digits++
		} else {
			letters++
		}
		ts.buf = utf8.AppendRune(ts.buf, r)
		i += sz
	}
	n := len(ts.buf) - lo
	switch {
	case letters == 0, // a number
		digits > letters, // an order number, a phone number, a code
		letters == 1 && digits == 0 && n == 1 && !sc.raw, // a, I, x
		n > maxTermBytes:
		ts.buf = ts.buf[:lo]
		sc.brk()
		return i
	}
	sc.keep(lo, false)
	return i
}

// isWordRune reports whether r is part of a non-Chinese word.
func isWordRune(r rune) bool {
	return (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)) && !unicode.Is(unicode.Han, r)
}

// foldRune maps full-width ASCII to ASCII and letters to lower case.
func foldRune(r rune) rune {
	if r >= 0xFF01 && r <= 0xFF5E {
		r -= 0xFEE0
	}
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	return unicode.ToLower(r)
}

// fold folds a whole string as words are folded.
func fold(s string) string {
	s = strings.TrimSpace(s)
	return strings.Map(foldRune, s)
}

func isLinkStart(s string) bool {
	return hasPrefixFold(s, "http://") || hasPrefixFold(s, "https://") || hasPrefixFold(s, "www.")
}

func hasPrefixFold(s, p string) bool { return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) }

// skipLink skips a link: everything up to a space or a non-ASCII
// character (a Chinese sentence often goes on right after a link).
func skipLink(text string, i int) int {
	for i < len(text) && text[i] > ' ' && text[i] < utf8.RuneSelf {
		i++
	}
	return i
}

func skipToSpace(text string, i int) int {
	for i < len(text) {
		r, sz := utf8.DecodeRuneInString(text[i:])
		if unicode.IsSpace(r) || r == '\u3000' {
			break
		}
		i += sz
	}
	return i
}
