// Package jsontok owns the JSON token scanning the protocol adapters share:
// whitespace, strings, numbers, whole values and a validator, working on
// byte offsets without allocating or decoding. Nothing here recurses, so a
// hostile document costs linear time and bounded stack. (internal/message
// keeps its own scanner, fused with field detection on the ingest hot
// path.)
package jsontok

import "bytes"

// MaxDepth is the deepest nesting Valid can check; deeper documents are
// reported invalid.
const MaxDepth = 512

// IsSpace reports whether c is JSON whitespace.
func IsSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// SkipSpace returns the first offset at or after i that is not JSON
// whitespace.
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

// Valid reports whether d is exactly one valid JSON value (surrounding
// whitespace allowed) nested at most maxDepth (capped at MaxDepth) deep. It
// agrees with encoding/json.Valid below that depth.
func Valid(d []byte, maxDepth int) bool {
	maxDepth = min(maxDepth, MaxDepth)
	var stack [MaxDepth / 64]uint64 // 1 bit per open container: 1 = object
	depth := 0
	isObj := func() bool { return stack[(depth-1)>>6]&(1<<uint((depth-1)&63)) != 0 }
	i := SkipSpace(d, 0)
	for {
		if i >= len(d) {
			return false
		}
		switch c := d[i]; c {
		case '{', '[':
			if depth >= maxDepth {
				return false
			}
			i = SkipSpace(d, i+1)
			if i < len(d) && d[i] == c+2 { // the matching '}' or ']'
				i++
				break
			}
			w, bit := depth>>6, uint64(1)<<uint(depth&63)
			if c == '{' {
				stack[w] |= bit
			} else {
				stack[w] &^= bit
			}
			depth++
			if c == '{' {
				if i = key(d, i); i < 0 {
					return false
				}
			}
			continue
		case '"':
			if i = StringEnd(d, i); i < 0 {
				return false
			}
		case 't', 'f', 'n':
			var lit []byte
			switch c {
			case 't':
				lit = []byte("true")
			case 'f':
				lit = []byte("false")
			default:
				lit = []byte("null")
			}
			if !bytes.HasPrefix(d[i:], lit) {
				return false
			}
			i += len(lit)
		default:
			if i = NumberEnd(d, i); i < 0 {
				return false
			}
		}
		for {
			i = SkipSpace(d, i)
			if depth == 0 {
				return i == len(d)
			}
			if i >= len(d) {
				return false
			}
			obj := isObj()
			if c := d[i]; c == ',' {
				i = SkipSpace(d, i+1)
				if obj {
					if i = key(d, i); i < 0 {
						return false
					}
				}
				break
			} else if (obj && c == '}') || (!obj && c == ']') {
				depth--
				i++
				continue
			}
			return false
		}
	}
}

// key validates `"key":` at d[i] and returns where the value starts, or -1.
func key(d []byte, i int) int {
	if i >= len(d) || d[i] != '"' {
		return -1
	}
	if i = StringEnd(d, i); i < 0 {
		return -1
	}
	if i = SkipSpace(d, i); i >= len(d) || d[i] != ':' {
		return -1
	}
	return SkipSpace(d, i+1)
}

// StringEnd validates the string opening at d[i] and returns the offset past
// its closing quote, or -1.
func StringEnd(d []byte, i int) int {
	for j := i + 1; j < len(d); {
		for j < len(d) && d[j] >= 0x20 && d[j] != '"' && d[j] != '\\' {
			j++
		}
		if j >= len(d) {
			return -1
		}
		switch c := d[j]; {
		case c == '"':
			return j + 1
		case c == '\\':
			if j+1 >= len(d) {
				return -1
			}
			switch d[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(d) {
					return -1
				}
				for _, h := range d[j+2 : j+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1
					}
				}
				j += 6
			default:
				return -1
			}
		case c < 0x20:
			return -1
		default:
			j++
		}
	}
	return -1
}

// NumberEnd validates the number at d[i] and returns the offset past it, or
// -1.
func NumberEnd(d []byte, i int) int {
	digits := func(j int) int {
		for j < len(d) && d[j] >= '0' && d[j] <= '9' {
			j++
		}
		return j
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i >= len(d):
		return -1
	case d[i] == '0':
		i++
	case d[i] >= '1' && d[i] <= '9':
		i = digits(i + 1)
	default:
		return -1
	}
	if i < len(d) && d[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

// stringEndValid returns the offset past the closing quote of the string
// opening at d[i] in a document Valid accepted, or len(d).
func stringEndValid(d []byte, i int) int {
	for j := i + 1; j < len(d); j++ {
		// Short strings (keys) are cheaper to walk than to IndexByte.
		for n := 0; n < 16 && j < len(d) && d[j] != '"'; n++ {
			j++
		}
		if j >= len(d) {
			break
		}
		if d[j] != '"' {
			k := bytes.IndexByte(d[j:], '"')
			if k < 0 {
				break
			}
			j += k
		}
		p := j - 1 // the quote is escaped after an odd run of backslashes
		for p > i && d[p] == '\\' {
			p--
		}
		if (j-1-p)%2 == 0 {
			return j + 1
		}
	}
	return len(d)
}

// ValueEnd returns the offset past the value starting at d[i] of a
// document Valid accepted (len(d) if it runs off the end).
func ValueEnd(d []byte, i int) int {
	switch d[i] {
	case '"':
		return stringEndValid(d, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(d); j++ {
			switch d[j] {
			case '"':
				j = stringEndValid(d, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(d)
	}
	j := i
	for j < len(d) && d[j] != ',' && d[j] != '}' && d[j] != ']' && !IsSpace(d[j]) {
		j++
	}
	return j
}
