package jsontok

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// HasEscapes reports whether the JSON string body b (the bytes between the
// quotes) holds an escape, that is, a backslash.
func HasEscapes(b []byte) bool {
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

// AppendUnescaped appends the decoded text of a JSON string body s (the
// bytes between the quotes) to dst. It decodes exactly like encoding/json:
// each invalid UTF-8 byte and each unpaired surrogate escape becomes
// U+FFFD, so the result is always valid UTF-8. nul reports whether the text
// contains U+0000 (from a \u0000 escape or a raw NUL byte).
func AppendUnescaped(dst, s []byte) (out []byte, nul bool) {
	if !HasEscapes(s) && utf8.Valid(s) {
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

// AppendCompact appends the validated JSON value v to dst without
// insignificant whitespace, as encoding/json.Compact does.
func AppendCompact(dst, v []byte) []byte {
	for i := 0; i < len(v); {
		c := v[i]
		if c == '"' {
			e := skipString(v, i)
			if e < 0 {
				e = len(v)
			}
			dst = append(dst, v[i:e]...)
			i = e
			continue
		}
		if !IsSpace(c) {
			dst = append(dst, c)
		}
		i++
	}
	return dst
}

// AppendString appends s to dst as a JSON string, quotes included, escaped
// exactly as encoding/json escapes it with HTML escaping off (an Encoder
// after SetEscapeHTML(false)): quote, backslash and control characters are
// escaped (\n, \r, \t, \b, \f, else \u00XX), U+2028 and U+2029 become
// \u2028 and \u2029 (JavaScript line terminators), each invalid UTF-8 byte
// becomes \ufffd, and everything else is copied as it is.
func AppendString[S ~string | ~[]byte](dst []byte, s S) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		// At most 4 bytes: for a []byte the conversion stays on the stack.
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
