// Package search owns what wsmon means by "a message matches a query": a
// case-insensitive substring match over the message content, where the
// query is always literal text (quotes, *, -, :, AND, NEAR, SQL quotes and
// emoji are just characters), plus the tokenisation the search index uses
// to find candidates fast in Chinese as well as English. Both database
// dialects use these definitions, so results are the same everywhere.
package search

import (
	"strings"
	"unicode/utf8"
)

// Fold maps text to its case-folded form for matching: each rune is
// lower-cased with unicode.ToLower (simple case mapping, one rune to one
// rune, so positions and lengths in runes are kept). Invalid UTF-8 bytes
// become U+FFFD.
func Fold(s string) string {
	// Fast path: ASCII without upper case is already folded.
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		b.WriteRune(fold(r))
	}
	return b.String()
}

// Match reports whether content contains the query, ignoring case. An empty
// query matches everything.
func Match(content, query string) bool {
	return strings.Contains(Fold(content), Fold(query))
}

// MatchFolded is Match for a query already passed through Fold.
func MatchFolded(content, foldedQuery string) bool {
	return strings.Contains(Fold(content), foldedQuery)
}
