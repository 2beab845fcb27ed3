package jsontok

import "bytes"

// Result is Validate's verdict.
type Result uint8

const (
	OK      Result = iota // one valid JSON value, surrounded by optional whitespace
	Bad                   // syntax error
	TooDeep               // containers nested deeper than the limit
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

// Valid reports whether d is exactly one valid JSON value (surrounding
// whitespace allowed) with containers nested at most maxDepth deep. It
// agrees with encoding/json.Valid when maxDepth is 10000, encoding/json's
// own limit.
func Valid(d []byte, maxDepth int) bool {
	res, _ := Validate(d, maxDepth, nil)
	return res == OK
}

// Validate reports whether d holds exactly one JSON value, optionally
// surrounded by whitespace, with containers nested at most maxDepth deep
// (maxDepth < 1 allows no container at all). On failure errPos is the
// offset where the problem was found: every byte before it is a valid
// prefix of some JSON document, so members that end before errPos can still
// be read (errPos is the limit to give the iterators).
//
// When the root is an object and onMember is not nil, onMember is called, in
// document order, for each root member whose value is complete and followed
// by ',' or '}' (also in a document that turns out bad): key is the raw key
// text between the quotes (escapes not decoded), d[vs:ve] the value. This
// lets the caller pick fields in the same pass.
func Validate(d []byte, maxDepth int, onMember func(key []byte, vs, ve int)) (res Result, errPos int) {
	var st depthStack
	i := SkipSpace(d, 0)
	rootObj := i < len(d) && d[i] == '{' && onMember != nil
	var key []byte // the root member being read
	vs := -1       // where its value starts
	for {
		// A value starts at i.
		if i >= len(d) {
			return Bad, i
		}
		switch c := d[i]; c {
		case '{', '[':
			if st.n >= maxDepth {
				return TooDeep, i
			}
			i = SkipSpace(d, i+1)
			if i < len(d) && d[i] == c+2 { // '{'+2 is '}', '['+2 is ']'
				i++
				break
			}
			st.push(c == '{')
			if c == '{' {
				ks := i
				ke, ok := 0, false
				if i, ke, ok = scanKey(d, i); !ok {
					return Bad, i
				}
				if rootObj && st.n == 1 {
					key, vs = d[ks+1:ke-1], i
				}
			}
			continue
		case '"':
			j, ok := scanString(d, i)
			if !ok {
				return Bad, j
			}
			i = j
		case 't':
			if !bytes.HasPrefix(d[i:], []byte("true")) {
				return Bad, i
			}
			i += 4
		case 'f':
			if !bytes.HasPrefix(d[i:], []byte("false")) {
				return Bad, i
			}
			i += 5
		case 'n':
			if !bytes.HasPrefix(d[i:], []byte("null")) {
				return Bad, i
			}
			i += 4
		default:
			j, ok := scanNumber(d, i)
			if !ok {
				return Bad, j
			}
			i = j
		}
		// After a value: close containers until a ',' asks for the next one.
		for {
			ve := -1 // end of a root member's value
			if rootObj && st.n == 1 {
				ve = i
			}
			i = SkipSpace(d, i)
			if st.n == 0 {
				if i == len(d) {
					return OK, i
				}
				return Bad, i
			}
			if i >= len(d) {
				return Bad, i
			}
			obj := st.topIsObject()
			c := d[i]
			if c == ',' {
				if ve >= 0 {
					onMember(key, vs, ve)
				}
				i = SkipSpace(d, i+1)
				if obj {
					ks := i
					ke, ok := 0, false
					if i, ke, ok = scanKey(d, i); !ok {
						return Bad, i
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
			return Bad, i
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
	j := SkipSpace(d, ke)
	if j >= len(d) || d[j] != ':' {
		return j, 0, false
	}
	return SkipSpace(d, j+1), ke, true
}
