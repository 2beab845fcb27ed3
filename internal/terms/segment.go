package terms

import (
	"bufio"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// dictEntry is what the dictionary knows of a string: its log probability
// as a word (0 when it is only a prefix of longer words) and whether longer
// words start with it.
type dictEntry struct {
	logp   float32
	word   bool
	prefix bool
}

// dictionary is a Chinese word list with unigram log probabilities, read
// once from dict/zh.txt. It is immutable after load.
type dictionary struct {
	m map[string]dictEntry
	// unknown is the log probability given to a character that is not a
	// word: below every word's, so a known word is preferred to its
	// characters.
	unknown float32
	// maxRunes is the longest word, in runes.
	maxRunes int
	// single holds the entries of the characters of the main CJK block
	// (U+4E00-U+9FFF, nearly all of chat's), so that the one-character
	// look-up at each position is an array access.
	single []dictEntry
}

// maxWordRunes bounds the words loaded (longer ones are idioms and names
// chat rarely needs, and every extra rune is a lookup at every position).
const maxWordRunes = 8

// chatFrequency is the frequency of a word of dict/chat.txt listed
// without one.
const chatFrequency = 1000

// loadDictionary parses "word freq" lines (a line starting with # is a
// comment) of each text; a word without a frequency has chatFrequency, a
// word listed twice its higher frequency.
func loadDictionary(texts ...string) (*dictionary, error) {
	text := strings.Join(texts, "\n")
	d := &dictionary{m: make(map[string]dictEntry, strings.Count(text, "\n")*5/4)}
	type wf struct {
		w string
		f float64
	}
	var words []wf
	total := 0.0
	sc := bufio.NewScanner(strings.NewReader(text))
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		w, fs, ok := strings.Cut(s, " ")
		f := float64(chatFrequency)
		if ok {
			var err error
			f, err = strconv.ParseFloat(strings.TrimSpace(fs), 64)
			if err != nil || f <= 0 {
				return nil, fmt.Errorf("terms: dictionary line %d: bad frequency %q", line, fs)
			}
		}
		if utf8.RuneCountInString(w) > maxWordRunes {
			continue
		}
		words = append(words, wf{w, f})
		total += f
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if total == 0 {
		return nil, fmt.Errorf("terms: empty dictionary")
	}
	for _, x := range words {
		e := d.m[x.w]
		logp := float32(math.Log(x.f / total))
		if e.word && e.logp >= logp {
			continue
		}
		e.word = true
		e.logp = logp
		d.m[x.w] = e
		n := 0
		for i := range x.w {
			if i > 0 {
				p := d.m[x.w[:i]]
				p.prefix = true
				d.m[x.w[:i]] = p
			}
			n++
		}
		d.maxRunes = max(d.maxRunes, n)
	}
	d.unknown = float32(math.Log(0.5 / total))
	d.single = make([]dictEntry, cjkEnd-cjkStart)
	for r := rune(cjkStart); r < cjkEnd; r++ {
		d.single[r-cjkStart] = d.m[string(r)]
	}
	return d, nil
}

// The main CJK block, which dictionary.single covers.
const (
	cjkStart = 0x4E00
	cjkEnd   = 0xA000
)

// one returns the entry of the character s[lo:hi].
func (d *dictionary) one(s string, lo, hi int) (dictEntry, bool) {
	if r, _ := utf8.DecodeRuneInString(s[lo:hi]); r >= cjkStart && r < cjkEnd {
		e := d.single[r-cjkStart]
		return e, e.word || e.prefix
	}
	e, ok := d.m[s[lo:hi]]
	return e, ok
}

// chunkRunes is the longest run of Han characters segmented at once; a
// longer run is cut into chunks (chat lines rarely have 64 characters
// without punctuation), so segmenting needs no heap memory.
const chunkRunes = 64

// segment cuts a run of Han characters into words, the most probable
// sequence under the dictionary's unigram model (as jieba's DAG mode
// does, without its HMM for unknown words), and hands each word, a
// substring of run, to sc.han.
func (d *dictionary) segment(run string, sc *scan) {
	for len(run) > 0 {
		// Cut a chunk of at most chunkRunes runes.
		var off [chunkRunes + 1]int
		n := 0
		i := 0
		for i < len(run) && n < chunkRunes {
			off[n] = i
			_, sz := utf8.DecodeRuneInString(run[i:])
			i += sz
			n++
		}
		off[n] = i
		d.segmentChunk(run[:i], off[:n+1], sc)
		run = run[i:]
	}
}

func (d *dictionary) segmentChunk(s string, off []int, sc *scan) {
	n := len(off) - 1
	// best[i] is the highest log probability of s[off[i]:], next[i] the end
	// (rune index) of its first word.
	var best [chunkRunes + 1]float32
	var next [chunkRunes + 1]uint8
	for i := n - 1; i >= 0; i-- {
		best[i] = d.unknown + best[i+1]
		next[i] = uint8(i + 1)
		e, ok := d.one(s, off[i], off[i+1])
		if ok && e.word {
			best[i] = e.logp + best[i+1]
		}
		if !e.prefix {
			continue
		}
		for j := i + 2; j <= n && j-i <= d.maxRunes; j++ {
			e, ok := d.m[s[off[i]:off[j]]]
			if !ok {
				break
			}
			if e.word {
				if p := e.logp + best[j]; p > best[i] {
					best[i] = p
					next[i] = uint8(j)
				}
			}
			if !e.prefix {
				break
			}
		}
	}
	for i := 0; i < n; {
		j := int(next[i])
		sc.han(s[off[i]:off[j]], j-i)
		i = j
	}
}
