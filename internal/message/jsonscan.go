package message

import (
	"bytes"
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is a small purpose-built JSON scanner. encoding/json decoding a
// chat frame into map[string]any costs microseconds and a dozen allocations;
// normalisation only needs a handful of string values, so it validates the
// document once (validateJSON), which also reports the root object's members
// as it passes them, and walks nested parts of the validated bytes with
// allocation-free iterators (objIter, arrIter) that hand out sub-slices.
// Decoding a string (appendUnescaped) follows encoding/json byte for byte;
// FuzzScanner holds the scanner to that.
//
// Nothing here recurses: validateJSON keeps its container stack in a bit
// stack, and the skipping helpers count brackets, so deep input cannot grow
// the goroutine stack.
//
// Two layers, two trust levels:
//   - validateJSON checks everything (RFC 8259 grammar, like encoding/json: it
//     does not check UTF-8 inside strings).
//   - the iterators and skipping helpers assume the bytes they walk were
//     accepted by validateJSON, up to a limit. They stay in bounds and
//     terminate on any input, but only give meaningful answers on validated
//     bytes. Every iterator stops at the first member or element that does not
//     end, delimiter included, before its limit, which is what makes partial
//     extraction from a truncated document safe.

// scanResult is validateJSON's verdict.
type scanResult uint8

const (
	scanOK      scanResult = iota // one valid JSON value, surrounded by optional whitespace
	scanBad                       // syntax error
	scanTooDeep                   // containers nested deeper than the limit
)

// smallStackWords is how many 64-bit words of container bits live inline in
// depthStack: 256 levels before it allocates.
const smallStackWords = 4

// depthStack is a stack of bits, one per open container: 1 for an object, 0
// for an array.
type depthStack struct {
	small [smallStackWords]uint64
	big   []uint64
	n     int
}

func (s *depthStack) word(w int) *uint64 {
	if w < smallStackWords {
		return &s.small[w]
	}
	return &s.big[w-smallStackWords]
}

func (s *depthStack) push(obj bool) {
	w := s.n >> 6
	for w-smallStackWords >= len(s.big) {
		s.big = append(s.big, 0)
	}
	bit := uint64(1) << uint(s.n&63)
	if p := s.word(w); obj {
		*p |= bit
	} else {
		*p &^= bit
	}
	s.n++
}

func (s *depthStack) pop() { s.n-- }

func (s *depthStack) topIsObject() bool {
	n := s.n - 1
	return *s.word(n >> 6)&(uint64(1)<<uint(n&63)) != 0
}

// isSpace reports whether c is JSON insignificant whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// skipSpace returns the index of the first non-whitespace byte at or after i,
// or len(d).
func skipSpace(d []byte, i int) int {
	for i < len(d) && isSpace(d[i]) {
		i++
	}
	return i
}

// validateJSON reports whether d holds exactly one JSON value, optionally
// surrounded by whitespace, with containers nested at most maxDepth deep
// (maxDepth < 1 allows no container at all). On failure errPos is the offset
// where the problem was found: every byte before it is a valid prefix of some
// JSON document, so members that end before errPos can still be read.
//
// It accepts exactly what encoding/json.Valid accepts when maxDepth is 10000
// (encoding/json's own limit), and never recurses.
//
// When the root is an object and onMember is not nil, onMember is called, in
// document order, for each root member whose value is complete and followed
// by ',' or '}' (also in a document that turns out bad): key is the raw key
// text between the quotes, d[vs:ve] the value. This lets the caller pick
// fields in the same pass.
func validateJSON(d []byte, maxDepth int, onMember func(key []byte, vs, ve int)) (res scanResult, errPos int) {
	var st depthStack
	i := skipSpace(d, 0)
	rootObj := i < len(d) && d[i] == '{' && onMember != nil
	var key []byte // the root member being read
	vs := -1       // where its value starts
	for {
		// A value starts at i.
		if i >= len(d) {
			return scanBad, i
		}
		switch c := d[i]; c {
		case '{', '[':
			if st.n >= maxDepth {
				return scanTooDeep, i
			}
			i = skipSpace(d, i+1)
			if i < len(d) && d[i] == c+2 { // '{'+2 is '}', '['+2 is ']'
				i++
				break
			}
			st.push(c == '{')
			if c == '{' {
				ks := i
				ke, ok := 0, false
				if i, ke, ok = scanKey(d, i); !ok {
					return scanBad, i
				}
				if rootObj && st.n == 1 {
					key, vs = d[ks+1:ke-1], i
				}
			}
			continue
		case '"':
			j, ok := scanString(d, i)
			if !ok {
				return scanBad, j
			}
			i = j
		case 't':
			if !bytes.HasPrefix(d[i:], []byte("true")) {
				return scanBad, i
			}
			i += 4
		case 'f':
			if !bytes.HasPrefix(d[i:], []byte("false")) {
				return scanBad, i
			}
			i += 5
		case 'n':
			if !bytes.HasPrefix(d[i:], []byte("null")) {
				return scanBad, i
			}
			i += 4
		default:
			j, ok := scanNumber(d, i)
			if !ok {
				return scanBad, j
			}
			i = j
		}
		// After a value: close containers until a ',' asks for the next one.
		for {
			ve := -1 // end of a root member's value
			if rootObj && st.n == 1 {
				ve = i
			}
			i = skipSpace(d, i)
			if st.n == 0 {
				if i == len(d) {
					return scanOK, i
				}
				return scanBad, i
			}
			if i >= len(d) {
				return scanBad, i
			}
			obj := st.topIsObject()
			c := d[i]
			if c == ',' {
				if ve >= 0 {
					onMember(key, vs, ve)
				}
				i = skipSpace(d, i+1)
				if obj {
					ks := i
					ke, ok := 0, false
					if i, ke, ok = scanKey(d, i); !ok {
						return scanBad, i
					}
					if ve >= 0 {
						key, vs = d[ks+1:ke-1], i
					}
				}
				break
			}
			if (obj && c == '}') || (!obj && c == ']') {
				if ve >= 0 {
					onMember(key, vs, ve)
				}
				st.pop()
				i++
				continue
			}
			return scanBad, i
		}
	}
}

// scanKey validates `"key" :` at d[i] and returns the offset of the value
// after the colon (whitespace skipped) and the offset just past the key's
// closing quote.
func scanKey(d []byte, i int) (vs, ke int, ok bool) {
	if i >= len(d) || d[i] != '"' {
		return i, 0, false
	}
	ke, ok = scanString(d, i)
	if !ok {
		return ke, 0, false
	}
	j := skipSpace(d, ke)
	if j >= len(d) || d[j] != ':' {
		return j, 0, false
	}
	return skipSpace(d, j+1), ke, true
}

// scanString validates the string whose opening quote is d[i] and returns the
// offset just past its closing quote.
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
// just past it.
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

// stringEnd returns the offset just past the closing quote of the string
// whose opening quote is d[i], or -1 if it is not terminated. Trusted: it does
// not validate escapes.
func stringEnd(d []byte, i int) int {
	j := i + 1
	for j <= len(d) {
		// Most strings are short keys: look at a few bytes before paying for
		// the IndexByte call.
		for n := 0; n < 16 && j < len(d) && d[j] != '"'; n++ {
			j++
		}
		if j >= len(d) {
			return -1
		}
		if d[j] != '"' {
			k := bytes.IndexByte(d[j:], '"')
			if k < 0 {
				return -1
			}
			j += k
		}
		// The quote is escaped when preceded by an odd run of backslashes.
		p := j - 1
		for p > i && d[p] == '\\' {
			p--
		}
		if (j-1-p)%2 == 0 {
			return j + 1
		}
		j++
	}
	return -1
}

// valueEnd returns the offset just past the JSON value starting at d[i], or
// -1 if it does not end inside d. Trusted: it counts brackets and skips
// strings without validating them, iteratively.
func valueEnd(d []byte, i int) int {
	if i < 0 || i >= len(d) {
		return -1
	}
	switch d[i] {
	case '"':
		return stringEnd(d, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(d); j++ {
			switch d[j] {
			case '"':
				e := stringEnd(d, j)
				if e < 0 {
					return -1
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	case ',', ':', '}', ']':
		return -1
	default:
		j := i
		for j < len(d) {
			c := d[j]
			if c == ',' || c == '}' || c == ']' || c == ':' || c == '"' || isSpace(c) {
				break
			}
			j++
		}
		return j
	}
}

// objIter walks the members of a validated object. Use newObjIter, then call
// next until it returns false.
type objIter struct {
	d     []byte
	i     int // where the next key starts (whitespace allowed); -1 when done
	limit int
}

// newObjIter starts iterating the object whose '{' is at d[start]. Members
// are only returned when they end, with their trailing ',' or '}', before
// limit (len(d) for a fully validated document).
func newObjIter(d []byte, start, limit int) objIter {
	if limit > len(d) {
		limit = len(d)
	}
	if start < 0 || start >= limit || d[start] != '{' {
		return objIter{i: -1}
	}
	return objIter{d: d, i: start + 1, limit: limit}
}

// next returns the next member: key is the raw key text between the quotes
// (escapes not decoded), and d[vs:ve] the value.
func (it *objIter) next() (key []byte, vs, ve int, ok bool) {
	if it.i < 0 {
		return nil, 0, 0, false
	}
	d := it.d
	i := skipSpace(d, it.i)
	if i >= it.limit || d[i] != '"' {
		it.i = -1
		return nil, 0, 0, false
	}
	ke := stringEnd(d, i)
	if ke < 0 {
		it.i = -1
		return nil, 0, 0, false
	}
	key = d[i+1 : ke-1]
	j := skipSpace(d, ke)
	if j >= len(d) || d[j] != ':' {
		it.i = -1
		return nil, 0, 0, false
	}
	vs = skipSpace(d, j+1)
	ve = valueEnd(d, vs)
	if ve < 0 {
		it.i = -1
		return nil, 0, 0, false
	}
	j = skipSpace(d, ve)
	switch {
	case j >= it.limit:
		it.i = -1
		return nil, 0, 0, false
	case d[j] == ',':
		it.i = j + 1
	case d[j] == '}':
		it.i = -1
	default:
		it.i = -1
		return nil, 0, 0, false
	}
	return key, vs, ve, true
}

// arrIter walks the elements of a validated array, like objIter.
type arrIter struct {
	d     []byte
	i     int
	limit int
}

// newArrIter starts iterating the array whose '[' is at d[start].
func newArrIter(d []byte, start, limit int) arrIter {
	if limit > len(d) {
		limit = len(d)
	}
	if start < 0 || start >= limit || d[start] != '[' {
		return arrIter{i: -1}
	}
	if j := skipSpace(d, start+1); j < limit && d[j] == ']' {
		return arrIter{i: -1}
	}
	return arrIter{d: d, i: start + 1, limit: limit}
}

// next returns the next element as d[vs:ve].
func (it *arrIter) next() (vs, ve int, ok bool) {
	if it.i < 0 {
		return 0, 0, false
	}
	d := it.d
	vs = skipSpace(d, it.i)
	ve = valueEnd(d, vs)
	if ve < 0 {
		it.i = -1
		return 0, 0, false
	}
	j := skipSpace(d, ve)
	switch {
	case j >= it.limit:
		it.i = -1
		return 0, 0, false
	case d[j] == ',':
		it.i = j + 1
	case d[j] == ']':
		it.i = -1
	default:
		it.i = -1
		return 0, 0, false
	}
	return vs, ve, true
}

// hasBackslash reports whether b contains a backslash: whether a JSON
// string body has escapes.
func hasBackslash(b []byte) bool {
	if len(b) > 16 {
		return bytes.IndexByte(b, '\\') >= 0
	}
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

// appendUnescaped appends the decoded text of a JSON string body s (the bytes
// between the quotes) to dst. It decodes exactly like encoding/json: each
// invalid UTF-8 byte and each unpaired surrogate escape becomes U+FFFD, so the
// result is always valid UTF-8. nul reports whether the text contains U+0000
// (from a \u0000 escape or a raw NUL byte).
func appendUnescaped(dst, s []byte) (out []byte, nul bool) {
	if !hasBackslash(s) && utf8.Valid(s) {
		return append(dst, s...), bytes.IndexByte(s, 0) >= 0
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				dst = append(dst, e)
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r, ok := hex4(s[i+2:])
				if !ok { // not valid JSON; keep the bytes
					dst = append(dst, c)
					i++
					continue
				}
				i += 6
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if v, ok := hex4(s[i+2:]); ok {
							r2 = v
						}
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				if r == 0 {
					nul = true
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // not valid JSON; keep the bytes
				dst = append(dst, c)
				i++
				continue
			}
			i += 2
			continue
		}
		if c < utf8.RuneSelf {
			if c == 0 {
				nul = true
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst, nul
}

// appendCompact appends the validated JSON value v to dst without
// insignificant whitespace, as encoding/json.Compact does.
func appendCompact(dst, v []byte) []byte {
	for i := 0; i < len(v); {
		c := v[i]
		if c == '"' {
			e := stringEnd(v, i)
			if e < 0 {
				e = len(v)
			}
			dst = append(dst, v[i:e]...)
			i = e
			continue
		}
		if !isSpace(c) {
			dst = append(dst, c)
		}
		i++
	}
	return dst
}
