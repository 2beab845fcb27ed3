package config

import (
	"strings"
	"unicode/utf8"
)

// maxSuggestRunes is the longest unknown key for which suggest looks for a
// near match.
const maxSuggestRunes = 64

// distance returns the optimal-string-alignment (restricted Damerau-
// Levenshtein) distance between a and b, counted in runes: insertions,
// deletions, substitutions and transpositions of two adjacent runes each
// cost 1.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rolling rows: two back (for transpositions), previous, current.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d = min(d, prev2[j-2]+1)
			}
			cur[j] = d
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// normalizeKey folds the differences a person is likely to make without
// meaning a different key: letter case and '-' for '_'.
func normalizeKey(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), "-", "_")
}

// suggest returns the known key closest to got, or "" when none is close
// enough to be a plausible typo. A candidate is close enough when its
// distance is at most max(2, len(candidate)/3), or when got (at least three
// characters) is contained in it, as "port" is in "web_port". Ties go to the
// earlier candidate, so callers list keys in a stable order.
//
// Keys longer than maxSuggestRunes get no suggestion, which keeps the cost
// of a pathological input bounded.
func suggest(got string, known []string) string {
	if utf8.RuneCountInString(got) > maxSuggestRunes {
		return ""
	}
	g := normalizeKey(got)
	best, bestD := "", -1
	for _, k := range known {
		d := distance(g, k)
		limit := max(2, len([]rune(k))/3)
		if d > limit && !(len(g) >= 3 && strings.Contains(k, g)) {
			continue
		}
		if bestD < 0 || d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// didYouMean formats the suggestion for got as ` (did you mean "x"?)`, or ""
// when there is none.
func didYouMean(got string, known []string) string {
	if s := suggest(got, known); s != "" {
		return ` (did you mean "` + s + `"?)`
	}
	return ""
}

// Suggest returns the candidate closest to got (a mistyped configuration
// key or command-line flag), or "" when none is a plausible typo. It is the
// one implementation behind config keys' and flags' "did you mean": case
// and '-' for '_' are ignored on both sides, so "--log_level" finds
// "log-level"; the rules are suggest's.
func Suggest(got string, candidates []string) string {
	norm := make([]string, len(candidates))
	for i, c := range candidates {
		norm[i] = normalizeKey(c)
	}
	best := suggest(got, norm)
	for i, n := range norm {
		if best != "" && n == best {
			return candidates[i]
		}
	}
	return ""
}
