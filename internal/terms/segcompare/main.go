// Command segcompare measures Chinese segmenters for trending terms on
// chat lines and writes the embedded dictionary of package terms. It is a
// module of its own so that gse, which it measures, is not a dependency of
// wsmon. docs/analysis-terms.md has its figures and how to run it:
//
//	go run . gen -src $(go env GOMODCACHE)/github.com/go-ego/gse@v0.80.3/data/dict/zh/s_1.txt -n 60000 > ../dict/zh.txt
//	go run . measure -mode ours|gse|gse-hmm|bigram [-corpus ../testdata/chat.txt]
//	go run . agree
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-ego/gse"
	"github.com/wsmon/wsmon/internal/terms"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: segcompare gen|measure|agree [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "measure":
		err = measure(os.Args[2:])
	case "agree":
		err = agree(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "segcompare:", err)
		os.Exit(1)
	}
}

var han = regexp.MustCompile(`^\p{Han}+$`)

// gen writes the n most frequent Chinese words (Han characters only, at
// most 8) of a jieba-format dictionary ("word freq tag" lines).
func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	src := fs.String("src", "", "jieba-format dictionary (gse's data/dict/zh/s_1.txt)")
	n := fs.Int("n", 60000, "words to keep")
	fs.Parse(args)
	f, err := os.Open(*src)
	if err != nil {
		return err
	}
	defer f.Close()
	type wf struct {
		w string
		f int
	}
	var words []wf
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || !han.MatchString(fields[0]) || utf8.RuneCountInString(fields[0]) > 8 || seen[fields[0]] {
			continue
		}
		fr, err := strconv.Atoi(fields[1])
		if err != nil || fr <= 0 {
			continue
		}
		seen[fields[0]] = true
		words = append(words, wf{fields[0], fr})
	}
	if err := sc.Err(); err != nil {
		return err
	}
	sort.SliceStable(words, func(i, j int) bool {
		if words[i].f != words[j].f {
			return words[i].f > words[j].f
		}
		return words[i].w < words[j].w
	})
	words = words[:min(*n, len(words))]
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(w, "# The %d most frequent Chinese words of jieba's dictionary (as shipped by\n", len(words))
	fmt.Fprintf(w, "# github.com/go-ego/gse v0.80.3, data/dict/zh/s_1.txt; MIT licence, see\n")
	fmt.Fprintf(w, "# README.md here), Han characters only, at most 8: \"word frequency\".\n")
	fmt.Fprintf(w, "# Written by internal/terms/segcompare: go run . gen -n %d\n", len(words))
	for _, x := range words {
		fmt.Fprintf(w, "%s %d\n", x.w, x.f)
	}
	return w.Flush()
}

func readCorpus(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var lines []string
	for l := range strings.Lines(string(b)) {
		if l = strings.TrimRight(l, "\n"); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// bigrams is the simplest fallback: every pair of adjacent Han characters
// and every lower-cased word of other scripts.
func bigrams(dst []string, s string) []string {
	var prev rune = -1
	wordStart := -1
	for i, r := range s {
		if isWord(r) && !unicode.Is(unicode.Han, r) {
			if wordStart < 0 {
				wordStart = i
			}
		} else if wordStart >= 0 {
			dst = append(dst, strings.ToLower(s[wordStart:i]))
			wordStart = -1
		}
		if unicode.Is(unicode.Han, r) {
			if prev >= 0 {
				dst = append(dst, string([]rune{prev, r}))
			}
			prev = r
		} else {
			prev = -1
		}
	}
	if wordStart >= 0 {
		dst = append(dst, strings.ToLower(s[wordStart:]))
	}
	return dst
}

func isWord(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func status() (rss, hwm string) {
	b, _ := os.ReadFile("/proc/self/status")
	for l := range strings.Lines(string(b)) {
		if strings.HasPrefix(l, "VmRSS:") {
			rss = strings.TrimSpace(l[6:])
		}
		if strings.HasPrefix(l, "VmHWM:") {
			hwm = strings.TrimSpace(l[6:])
		}
	}
	return
}

func heap() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

// measure loads one segmenter in a fresh process and reports its load
// time and memory, then its time and allocations per chat line.
func measure(args []string) error {
	fs := flag.NewFlagSet("measure", flag.ExitOnError)
	mode := fs.String("mode", "ours", "ours, ours-phrases, gse (DAG, no HMM), gse-hmm, gse-small (gse over our word list), bigram")
	corpus := fs.String("corpus", "../testdata/chat.txt", "chat lines, one a line")
	rounds := fs.Int("rounds", 200, "passes over the corpus")
	fs.Parse(args)
	lines, err := readCorpus(*corpus)
	if err != nil {
		return err
	}
	h0 := heap()
	start := time.Now()
	var cut func(dst []string, s string) []string
	switch *mode {
	case "ours", "ours-phrases":
		t, err := terms.New(terms.Options{Phrases: *mode == "ours-phrases"})
		if err != nil {
			return err
		}
		var ts terms.Terms
		cut = func(dst []string, s string) []string {
			ts.Reset()
			t.Append(&ts, s)
			for i := range ts.Len() {
				_ = ts.At(i)
			}
			return dst
		}
	case "gse", "gse-hmm":
		seg, err := gse.NewEmbed("zh")
		if err != nil {
			return err
		}
		hmm := *mode == "gse-hmm"
		cut = func(dst []string, s string) []string { return append(dst, seg.Cut(s, hmm)...) }
	case "gse-small":
		// gse's algorithm over our embedded word list instead of its own
		// dictionary (build with -tags ne so its dictionaries are not
		// linked in).
		b, err := os.ReadFile("../dict/zh.txt")
		if err != nil {
			return err
		}
		var seg gse.Segmenter
		if err := seg.LoadDictStr(string(b)); err != nil {
			return err
		}
		cut = func(dst []string, s string) []string { return append(dst, seg.Cut(s, false)...) }
	case "bigram":
		cut = bigrams
	default:
		return fmt.Errorf("unknown mode %q", *mode)
	}
	load := time.Since(start)
	cut(nil, "预热")
	h1 := heap()
	rss, hwm := status()
	fmt.Printf("mode %s: load %v, heap after load %.1f MiB (+%.1f), VmRSS %s, VmHWM %s\n", *mode, load.Round(time.Millisecond), h1, h1-h0, rss, hwm)

	var ms0, ms1 runtime.MemStats
	var dst []string
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	t0 := time.Now()
	n := 0
	for range *rounds {
		for _, l := range lines {
			dst = cut(dst[:0], l)
			n++
		}
	}
	el := time.Since(t0)
	runtime.ReadMemStats(&ms1)
	_, hwm = status()
	fmt.Printf("mode %s: %d lines, %.0f ns/line, %.1f allocs/line, %.0f B/line, VmHWM after %s\n", *mode, n,
		float64(el.Nanoseconds())/float64(n), float64(ms1.Mallocs-ms0.Mallocs)/float64(n), float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(n), hwm)
	return nil
}

// agree compares the Chinese terms our tokenizer finds with gse's (full
// dictionary; without and with its HMM for unknown words), after the same
// filter (two characters or more, not a stop word): precision and recall
// of ours against gse's, as multisets over the corpus.
func agree(args []string) error {
	fs := flag.NewFlagSet("agree", flag.ExitOnError)
	corpus := fs.String("corpus", "../testdata/chat.txt", "chat lines, one a line")
	show := fs.Int("show", 15, "lines that differ to print")
	fs.Parse(args)
	lines, err := readCorpus(*corpus)
	if err != nil {
		return err
	}
	stop := map[string]bool{}
	b, err := os.ReadFile("../stop/zh.txt")
	if err != nil {
		return err
	}
	for l := range strings.Lines(string(b)) {
		stop[strings.TrimSpace(l)] = true
	}
	seg, err := gse.NewEmbed("zh")
	if err != nil {
		return err
	}
	t, err := terms.New(terms.Options{})
	if err != nil {
		return err
	}
	for _, hmm := range []bool{false, true} {
		match, ours, theirs := 0, 0, 0
		shown := 0
		for _, l := range lines {
			var g []string
			for _, w := range seg.Cut(l, hmm) {
				if han.MatchString(w) && utf8.RuneCountInString(w) >= 2 && !stop[w] {
					g = append(g, w)
				}
			}
			var o []string
			for _, w := range t.Tokenize(l) {
				if han.MatchString(w) {
					o = append(o, w)
				}
			}
			cnt := map[string]int{}
			for _, w := range g {
				cnt[w]++
			}
			m := 0
			for _, w := range o {
				if cnt[w] > 0 {
					cnt[w]--
					m++
				}
			}
			match += m
			ours += len(o)
			theirs += len(g)
			if (m != len(o) || m != len(g)) && shown < *show && !hmm {
				shown++
				fmt.Printf("  %s\n    gse:  %v\n    ours: %v\n", l, g, o)
			}
		}
		fmt.Printf("gse hmm=%v: gse terms %d, ours %d, same %d: precision %.1f %%, recall %.1f %%\n", hmm, theirs, ours, match,
			100*float64(match)/float64(ours), 100*float64(match)/float64(theirs))
	}
	return nil
}
