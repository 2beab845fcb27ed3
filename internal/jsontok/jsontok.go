// Package jsontok is wsmon's one fast JSON scanner, shared by message
// normalisation and the protocol adapters: a validator that can report a
// root object's members as it passes them (Validate), token scanning
// (whitespace, strings, numbers, whole values), allocation-free iterators
// over the members of objects and the elements of arrays, string decoding
// and compaction that follow encoding/json byte for byte, and the one JSON
// string escaper (AppendString). It works on byte offsets and never
// recurses, so a hostile document costs linear time and bounded stack.
//
// encoding/json decoding a chat frame into map[string]any costs
// microseconds and dozens of allocations; the ingest hot path needs a
// handful of string values, so it validates once and then walks the
// validated bytes. Code where speed does not matter uses encoding/json.
//
// Two layers, two trust levels:
//   - Validate, Valid, StringEnd and NumberEnd check everything (RFC 8259
//     grammar, like encoding/json: UTF-8 inside strings is not checked).
//   - ValueEnd and the iterators (ObjIter, ArrIter) assume the bytes they
//     walk were accepted by Validate, up to a limit. They stay in bounds and
//     terminate on any input, but give meaningful answers only on validated
//     bytes. Every iterator stops at the first member or element that does
//     not end, delimiter included, before its limit, which is what makes
//     partial extraction from a truncated document safe.
package jsontok

import "encoding/binary"

// IsSpace reports whether c is JSON whitespace.
func IsSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// SkipSpace returns the first offset at or after i that is not JSON
// whitespace, or len(d).
func SkipSpace(d []byte, i int) int {
	for i < len(d) && IsSpace(d[i]) {
		i++
	}
	return i
}

// Trim trims JSON whitespace (not Unicode spaces) from both ends of d.
func Trim(d []byte) []byte {
	i, j := 0, len(d)
	for i < j && IsSpace(d[i]) {
		i++
	}
	for j > i && IsSpace(d[j-1]) {
		j--
	}
	return d[i:j]
}

// StringEnd validates the string whose opening quote is d[i] and returns
// the offset past its closing quote, or -1.
func StringEnd(d []byte, i int) int {
	if e, ok := scanString(d, i); ok {
		return e
	}
	return -1
}

// NumberEnd validates the number starting at d[i] and returns the offset
// past it, or -1.
func NumberEnd(d []byte, i int) int {
	if e, ok := scanNumber(d, i); ok {
		return e
	}
	return -1
}

// scanString validates the string whose opening quote is d[i] and returns
// the offset just past its closing quote, or, when it is bad, the offset of
// the problem.
func scanString(d []byte, i int) (int, bool) {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	j := i + 1
	for {
		// Eight bytes at a time while none is '"', '\\' or a control
		// character (the "has zero byte" / "has byte less than" word tricks).
		for j+8 <= len(d) {
			w := binary.LittleEndian.Uint64(d[j:])
			q := w ^ (ones * '"')
			b := w ^ (ones * '\\')
			if ((w-ones*0x20)&^w|(q-ones)&^q|(b-ones)&^b)&highs != 0 {
				break
			}
			j += 8
		}
		for j < len(d) && d[j] >= 0x20 && d[j] != '"' && d[j] != '\\' {
			j++
		}
		if j >= len(d) {
			return j, false
		}
		switch d[j] {
		case '"':
			return j + 1, true
		case '\\':
			if j+1 >= len(d) {
				return j + 1, false
			}
			switch d[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if _, ok := hex4(d[j+2:]); !ok {
					return j + 2, false
				}
				j += 6
			default:
				return j + 1, false
			}
		default: // control character
			return j, false
		}
	}
}

// scanNumber validates the number starting at d[i] and returns the offset
// just past it, or, when it is bad, the offset of the problem.
func scanNumber(d []byte, i int) (int, bool) {
	j := i
	if j < len(d) && d[j] == '-' {
		j++
	}
	switch {
	case j >= len(d):
		return j, false
	case d[j] == '0':
		j++
	case d[j] >= '1' && d[j] <= '9':
		j = skipDigits(d, j+1)
	default:
		return j, false
	}
	if j < len(d) && d[j] == '.' {
		k := skipDigits(d, j+1)
		if k == j+1 {
			return k, false
		}
		j = k
	}
	if j < len(d) && (d[j] == 'e' || d[j] == 'E') {
		j++
		if j < len(d) && (d[j] == '+' || d[j] == '-') {
			j++
		}
		k := skipDigits(d, j)
		if k == j {
			return k, false
		}
		j = k
	}
	return j, true
}

func skipDigits(d []byte, i int) int {
	for i < len(d) && d[i] >= '0' && d[i] <= '9' {
		i++
	}
	return i
}

// hex4 decodes the four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
