package socketio

import (
	"github.com/wsmon/wsmon/internal/jsontok"

	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"
)

// maxDepth bounds the nesting of the JSON this package walks, so that a
// hostile record costs linear time and bounded stack.
const maxDepth = 512

var (
	errBadJSON = errors.New("bad JSON")
	errTooDeep = errors.New("JSON nested too deep")
)

// scanner walks one JSON value in d, validating it, and copies it to out
// (when out is non-nil) with every Socket.IO binary placeholder
// ({"_placeholder":true,"num":k}) replaced by attachment k. It is a single
// pass: an object is copied as it is read and, if it turns out to be a
// placeholder, the copy is cut back and the replacement appended.
type scanner struct {
	d    []byte
	out  []byte
	copy bool
	atts [][]byte
	used int // placeholders replaced
}

// value reads the value at d[i] (no leading space) and returns its end.
func (s *scanner) value(i, depth int) (int, error) {
	if i >= len(s.d) {
		return 0, errBadJSON
	}
	switch c := s.d[i]; {
	case c == '{':
		return s.object(i, depth+1)
	case c == '[':
		return s.array(i, depth+1)
	case c == '"':
		return s.str(i)
	case c == 't':
		return s.lit(i, "true")
	case c == 'f':
		return s.lit(i, "false")
	case c == 'n':
		return s.lit(i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return s.num(i)
	}
	return 0, errBadJSON
}

func (s *scanner) emit(b []byte) {
	if s.copy {
		s.out = append(s.out, b...)
	}
}

func (s *scanner) lit(i int, w string) (int, error) {
	if len(s.d)-i < len(w) || string(s.d[i:i+len(w)]) != w {
		return 0, errBadJSON
	}
	s.emit(s.d[i : i+len(w)])
	return i + len(w), nil
}

func (s *scanner) num(i int) (int, error) {
	e := jsontok.NumberEnd(s.d, i)
	if e < 0 {
		return 0, errBadJSON
	}
	s.emit(s.d[i:e])
	return e, nil
}

func (s *scanner) str(i int) (int, error) {
	e := jsontok.StringEnd(s.d, i)
	if e < 0 {
		return 0, errBadJSON
	}
	s.emit(s.d[i:e])
	return e, nil
}

func (s *scanner) array(i, depth int) (int, error) {
	if depth > maxDepth {
		return 0, errTooDeep
	}
	s.emit(s.d[i : i+1])
	j := s.space(i + 1)
	if j < len(s.d) && s.d[j] == ']' {
		s.emit(s.d[j : j+1])
		return j + 1, nil
	}
	for {
		e, err := s.value(j, depth)
		if err != nil {
			return 0, err
		}
		j = s.space(e)
		if j >= len(s.d) {
			return 0, errBadJSON
		}
		switch s.d[j] {
		case ']':
			s.emit(s.d[j : j+1])
			return j + 1, nil
		case ',':
			s.emit(s.d[j : j+1])
			j = s.space(j + 1)
		default:
			return 0, errBadJSON
		}
	}
}

// space copies the whitespace at d[i:] and returns its end.
func (s *scanner) space(i int) int {
	e := jsontok.SkipSpace(s.d, i)
	s.emit(s.d[i:e])
	return e
}

// object reads an object. While copying with attachments, it notes whether
// the object has exactly the members _placeholder:true and num:<integer>.
func (s *scanner) object(i, depth int) (int, error) {
	if depth > maxDepth {
		return 0, errTooDeep
	}
	start := len(s.out)
	s.emit(s.d[i : i+1])
	members, placeholder, num := 0, false, -1
	j := s.space(i + 1)
	if j < len(s.d) && s.d[j] == '}' {
		s.emit(s.d[j : j+1])
		return j + 1, nil
	}
	for {
		if j >= len(s.d) || s.d[j] != '"' {
			return 0, errBadJSON
		}
		ke, err := s.str(j)
		if err != nil {
			return 0, err
		}
		key := s.d[j:ke]
		j = s.space(ke)
		if j >= len(s.d) || s.d[j] != ':' {
			return 0, errBadJSON
		}
		s.emit(s.d[j : j+1])
		vs := s.space(j + 1)
		ve, err := s.value(vs, depth)
		if err != nil {
			return 0, err
		}
		members++
		if len(s.atts) > 0 {
			switch string(key) {
			case `"_placeholder"`:
				placeholder = string(s.d[vs:ve]) == "true"
			case `"num"`:
				num = -1
				if n, err := strconv.Atoi(string(s.d[vs:ve])); err == nil {
					num = n
				}
			}
		}
		j = s.space(ve)
		if j >= len(s.d) {
			return 0, errBadJSON
		}
		switch s.d[j] {
		case '}':
			s.emit(s.d[j : j+1])
			if members == 2 && placeholder && num >= 0 && num < len(s.atts) && s.copy {
				s.out = appendAttachment(s.out[:start], s.atts[num])
				s.used++
			}
			return j + 1, nil
		case ',':
			s.emit(s.d[j : j+1])
			j = s.space(j + 1)
		default:
			return 0, errBadJSON
		}
	}
}

// appendAttachment appends the JSON form of a binary attachment: a string
// when it is UTF-8 text without control characters (other than tab, CR,
// LF), else {"_binary":true,"size":N,"base64":"..."}.
func appendAttachment(out, att []byte) []byte {
	if isText(att) {
		return jsontok.AppendString(out, att)
	}
	out = append(out, `{"_binary":true,"size":`...)
	out = strconv.AppendInt(out, int64(len(att)), 10)
	out = append(out, `,"base64":"`...)
	out = base64.StdEncoding.AppendEncode(out, att)
	return append(out, `"}`...)
}

// isText reports whether b is valid UTF-8 with no control characters but
// tab, CR and LF.
func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return utf8.Valid(b)
}

// splitArray validates the JSON array d (surrounding space allowed, nothing
// else) and returns the byte ranges of its elements.
func splitArray(d []byte) ([][2]int, error) {
	s := scanner{d: d}
	i := jsontok.SkipSpace(d, 0)
	if i >= len(d) || d[i] != '[' {
		return nil, errBadJSON
	}
	var elems [][2]int
	j := jsontok.SkipSpace(d, i+1)
	if j < len(d) && d[j] == ']' {
		j++
	} else {
		for {
			e, err := s.value(j, 1)
			if err != nil {
				return nil, err
			}
			elems = append(elems, [2]int{j, e})
			j = jsontok.SkipSpace(d, e)
			if j >= len(d) {
				return nil, errBadJSON
			}
			if d[j] == ']' {
				j++
				break
			}
			if d[j] != ',' {
				return nil, errBadJSON
			}
			j = jsontok.SkipSpace(d, j+1)
		}
	}
	if jsontok.SkipSpace(d, j) != len(d) {
		return nil, errBadJSON
	}
	return elems, nil
}

// replacePlaceholders returns the JSON value v with its binary placeholders
// replaced by atts, and how many it replaced.
func replacePlaceholders(v []byte, atts [][]byte) ([]byte, int, error) {
	s := scanner{d: v, copy: true, atts: atts, out: make([]byte, 0, len(v))}
	e, err := s.value(0, 0)
	if err != nil {
		return nil, 0, err
	}
	if e != len(v) {
		return nil, 0, errBadJSON
	}
	return s.out, s.used, nil
}

// unquote decodes the JSON string token t exactly once.
func unquote(t []byte) (string, bool) {
	var s string
	if err := json.Unmarshal(t, &s); err != nil {
		return "", false
	}
	return s, true
}

// firstString returns the first element of the JSON array d when it is a
// string (decoded) or a number (as written), without validating the rest.
func firstString(d []byte) (string, bool) {
	i := jsontok.SkipSpace(d, 0)
	if i >= len(d) || d[i] != '[' {
		return "", false
	}
	i = jsontok.SkipSpace(d, i+1)
	if i >= len(d) {
		return "", false
	}
	if d[i] == '"' {
		e := jsontok.StringEnd(d, i)
		if e < 0 {
			return "", false
		}
		return unquote(d[i:e])
	}
	if e := jsontok.NumberEnd(d, i); e > 0 {
		return string(d[i:e]), true
	}
	return "", false
}
