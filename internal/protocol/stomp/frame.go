package stomp

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// maxFrame is the largest STOMP frame a session reassembles (16 MiB, the
// capture runner's default read limit); a longer one ends the connection.
const maxFrame = 16 << 20

// maxHeaders bounds the header lines of one frame, so a hostile frame
// cannot make Decode allocate without bound.
const maxHeaders = 1000

// header is one header line, its name and value still escaped as on the
// wire.
type header struct{ name, value []byte }

// frame is one parsed STOMP frame. Its slices alias the bytes it was parsed
// from.
type frame struct {
	command []byte
	headers []header
	body    []byte
}

// errIncomplete is parseFrame's answer for bytes that are the start of a
// frame but not all of it.
var errIncomplete = errors.New("incomplete frame")

// parseFrame parses the frame at the start of b (no leading EOLs). It
// returns the frame and its length including the terminating NUL; or
// errIncomplete with need, the length b must reach before a retry can
// succeed (0 when unknown: retry once a NUL arrives); or another error for
// bytes that are not a STOMP frame.
//
// The grammar is STOMP 1.2's: a command line, header lines, an empty line,
// the body and a NUL, every EOL either LF or CRLF. The body ends at the
// first NUL unless the first content-length header gives its length in
// bytes (the body may then hold NULs). Header names and values are split
// at the first colon and not unescaped here (see unescape).
func parseFrame(b []byte) (f frame, n int, need int, err error) {
	line, next, ok := cutLine(b, 0)
	if !ok {
		return f, 0, 0, errIncomplete
	}
	if len(line) == 0 || !validCommand(line) {
		return f, 0, 0, fmt.Errorf("stomp: bad command line %q", clip(line))
	}
	f.command = line
	clen := -1
	for {
		line, next2, ok := cutLine(b, next)
		if !ok {
			return f, 0, 0, errIncomplete
		}
		next = next2
		if len(line) == 0 {
			break
		}
		name, value, found := bytes.Cut(line, []byte{':'})
		if !found {
			return f, 0, 0, fmt.Errorf("stomp: %s header line without a colon: %q", f.command, clip(line))
		}
		if len(f.headers) >= maxHeaders {
			return f, 0, 0, fmt.Errorf("stomp: %s frame with more than %d headers", f.command, maxHeaders)
		}
		f.headers = append(f.headers, header{name, value})
		if clen < 0 && string(name) == "content-length" {
			v, perr := strconv.ParseUint(string(bytes.TrimSpace(value)), 10, 31)
			if perr != nil || v > maxFrame {
				return f, 0, 0, fmt.Errorf("stomp: %s frame with bad content-length %q", f.command, clip(value))
			}
			clen = int(v)
		}
	}
	if clen >= 0 {
		end := next + clen
		if len(b) <= end {
			return f, 0, end + 1, errIncomplete
		}
		if b[end] != 0 {
			return f, 0, 0, fmt.Errorf("stomp: %s frame body longer than its content-length %d", f.command, clen)
		}
		f.body = b[next:end]
		return f, end + 1, 0, nil
	}
	i := bytes.IndexByte(b[next:], 0)
	if i < 0 {
		return f, 0, 0, errIncomplete
	}
	f.body = b[next : next+i]
	return f, next + i + 1, 0, nil
}

// cutLine returns the line of b starting at from, without its LF or CRLF,
// and the offset after it; ok is false when no LF follows yet.
func cutLine(b []byte, from int) (line []byte, next int, ok bool) {
	i := bytes.IndexByte(b[from:], '\n')
	if i < 0 {
		return nil, 0, false
	}
	line = b[from : from+i]
	line = bytes.TrimSuffix(line, []byte{'\r'})
	return line, from + i + 1, true
}

// validCommand reports whether line can be a command: ASCII letters only
// (every STOMP command is upper case; lower case is tolerated).
func validCommand(line []byte) bool {
	if len(line) > 32 {
		return false
	}
	for _, c := range line {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// skipEOLs returns the number of EOLs (LF or CRLF) at the start of b and
// the bytes they take; a lone CR at the very end is left for more input.
func skipEOLs(b []byte) (count, n int) {
	for n < len(b) {
		switch {
		case b[n] == '\n':
			n++
		case b[n] == '\r' && n+1 < len(b) && b[n+1] == '\n':
			n += 2
		default:
			return count, n
		}
		count++
	}
	return count, n
}

// get returns the value of the first header named name (the first wins
// when a header is repeated, as STOMP 1.2 says), unescaped for version,
// and whether there is one.
func (f *frame) get(name, version string) (string, bool) {
	for _, h := range f.headers {
		if escapes(version, f.command) {
			if unescape(h.name) == name {
				return unescape(h.value), true
			}
		} else if string(h.name) == name {
			return string(h.value), true
		}
	}
	return "", false
}

// escapes reports whether header values are escaped in a frame with this
// command under the negotiated version: from 1.1 on, except in CONNECT and
// CONNECTED frames. "" (not yet known: Decode) counts as 1.2.
func escapes(version string, command []byte) bool {
	if version == "1.0" {
		return false
	}
	c := string(command)
	return c != "CONNECTED" && c != "CONNECT"
}

// unescape undoes STOMP 1.1/1.2 header escaping: \n, \c, \\ and (1.2) \r.
// An undefined escape is a fatal error for the spec; wsmon keeps it as it
// is, so a record from a sloppy server (or a 1.0 server's backslash) still
// decodes to something close to what was sent.
func unescape(b []byte) string {
	i := bytes.IndexByte(b, '\\')
	if i < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:i]...)
	for ; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 == len(b) {
			out = append(out, c)
			continue
		}
		switch b[i+1] {
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 'c':
			out = append(out, ':')
		case '\\':
			out = append(out, '\\')
		default:
			out = append(out, c, b[i+1])
		}
		i++
	}
	return string(out)
}

// escape applies the header escaping of version to s (none in 1.0; \r only
// from 1.2 on).
func escape(version, s string) string {
	if version == "1.0" {
		return s
	}
	var out []byte
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case '\\':
			rep = `\\`
		case '\n':
			rep = `\n`
		case ':':
			rep = `\c`
		case '\r':
			if version != "1.1" {
				rep = `\r`
			}
		}
		if rep == "" {
			if out != nil {
				out = append(out, s[i])
			}
			continue
		}
		if out == nil {
			out = append(make([]byte, 0, len(s)+8), s[:i]...)
		}
		out = append(out, rep...)
	}
	if out == nil {
		return s
	}
	return string(out)
}

// encode writes a frame: command, headers in order (values escaped for
// version), an empty line, body and NUL.
func encode(version, command string, headers [][2]string, body []byte) []byte {
	var b bytes.Buffer
	b.WriteString(command)
	b.WriteByte('\n')
	for _, h := range headers {
		if command == "CONNECT" {
			b.WriteString(h[0])
			b.WriteByte(':')
			b.WriteString(h[1])
		} else {
			b.WriteString(escape(version, h[0]))
			b.WriteByte(':')
			b.WriteString(escape(version, h[1]))
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(body)
	b.WriteByte(0)
	return b.Bytes()
}

// clip shortens b for an error message.
func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "..."
	}
	return string(b)
}
