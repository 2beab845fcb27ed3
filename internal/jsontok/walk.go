package jsontok

import "bytes"

// This file holds the trusted layer: it walks bytes Validate accepted (up to
// a limit), without checking them again.

// skipString returns the offset just past the closing quote of the string
// whose opening quote is d[i], or -1 if it is not terminated. It does not
// validate escapes.
func skipString(d []byte, i int) int {
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

// ValueEnd returns the offset just past the JSON value starting at d[i], or
// -1 if it does not end inside d. It counts brackets and skips strings
// without validating them, iteratively: the answer is meaningful for
// validated bytes only.
func ValueEnd(d []byte, i int) int {
	if i < 0 || i >= len(d) {
		return -1
	}
	switch d[i] {
	case '"':
		return skipString(d, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(d); j++ {
			switch d[j] {
			case '"':
				e := skipString(d, j)
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
			if c == ',' || c == '}' || c == ']' || c == ':' || c == '"' || IsSpace(c) {
				break
			}
			j++
		}
		return j
	}
}

// ObjIter walks the members of a validated object: start it with
// NewObjIter, then call Next until it returns false.
type ObjIter struct {
	d     []byte
	i     int // where the next key starts (whitespace allowed); -1 when done
	limit int
}

// NewObjIter starts iterating the object whose '{' is at d[start]. Members
// are only returned when they end, with their trailing ',' or '}', before
// limit (len(d) for a fully validated document, else Validate's errPos).
// When d[start] is not '{' (start -1 included) there are no members.
func NewObjIter(d []byte, start, limit int) ObjIter {
	if limit > len(d) {
		limit = len(d)
	}
	if start < 0 || start >= limit || d[start] != '{' {
		return ObjIter{i: -1}
	}
	return ObjIter{d: d, i: start + 1, limit: limit}
}

// Next returns the next member: key is the raw key text between the quotes
// (escapes not decoded), and d[vs:ve] the value.
func (it *ObjIter) Next() (key []byte, vs, ve int, ok bool) {
	if it.i < 0 {
		return nil, 0, 0, false
	}
	d := it.d
	i := SkipSpace(d, it.i)
	if i >= it.limit || d[i] != '"' {
		it.i = -1
		return nil, 0, 0, false
	}
	ke := skipString(d, i)
	if ke < 0 {
		it.i = -1
		return nil, 0, 0, false
	}
	key = d[i+1 : ke-1]
	j := SkipSpace(d, ke)
	if j >= len(d) || d[j] != ':' {
		it.i = -1
		return nil, 0, 0, false
	}
	vs = SkipSpace(d, j+1)
	ve = ValueEnd(d, vs)
	if ve < 0 {
		it.i = -1
		return nil, 0, 0, false
	}
	j = SkipSpace(d, ve)
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

// ArrIter walks the elements of a validated array, like ObjIter.
type ArrIter struct {
	d     []byte
	i     int
	limit int
}

// NewArrIter starts iterating the array whose '[' is at d[start], with the
// same limit rule as NewObjIter.
func NewArrIter(d []byte, start, limit int) ArrIter {
	if limit > len(d) {
		limit = len(d)
	}
	if start < 0 || start >= limit || d[start] != '[' {
		return ArrIter{i: -1}
	}
	if j := SkipSpace(d, start+1); j < limit && d[j] == ']' {
		return ArrIter{i: -1}
	}
	return ArrIter{d: d, i: start + 1, limit: limit}
}

// Next returns the next element as d[vs:ve].
func (it *ArrIter) Next() (vs, ve int, ok bool) {
	if it.i < 0 {
		return 0, 0, false
	}
	d := it.d
	vs = SkipSpace(d, it.i)
	ve = ValueEnd(d, vs)
	if ve < 0 {
		it.i = -1
		return 0, 0, false
	}
	j := SkipSpace(d, ve)
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
