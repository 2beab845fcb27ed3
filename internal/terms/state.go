package terms

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"unicode/utf8"
)

// The saved state: "WSTM", a version byte, the body, and the CRC-32
// (IEEE) of everything before it, little-endian. The body is uvarints
// (Day and counts; Day zig-zag): newest, untracked, late, the number of
// days, then per day, oldest first: day, the all-rooms summary, the number
// of rooms, and per room, by name: name, summary. A summary is: overflow
// (0/1), msgs, adds, the number of entries, then per entry, by count
// (highest first) and term: term, count, err. A string is its length and
// bytes. The same state always encodes to the same bytes.
const (
	stateMagic   = "WSTM"
	stateVersion = 1
	// maxRoomBytes bounds a room name in the saved state.
	maxRoomBytes = 1024
)

// ErrState is wrapped by every error of UnmarshalBinary: the bytes are
// not a state this version wrote (damaged, truncated, or another format).
var ErrState = errors.New("terms: bad saved state")

// MarshalBinary returns the counter's state (encoding.BinaryMarshaler).
func (c *Counter) MarshalBinary() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := append([]byte(stateMagic), stateVersion)
	b = binary.AppendVarint(b, int64(c.newest))
	b = binary.AppendUvarint(b, c.untracked)
	b = binary.AppendUvarint(b, c.late)
	days := make([]Day, 0, len(c.days))
	for d := range c.days {
		days = append(days, d)
	}
	slices.Sort(days)
	b = binary.AppendUvarint(b, uint64(len(days)))
	for _, d := range days {
		dc := c.days[d]
		b = binary.AppendVarint(b, int64(d))
		b = dc.all.append(b)
		rooms := make([]string, 0, len(dc.rooms))
		for r := range dc.rooms {
			rooms = append(rooms, r)
		}
		slices.Sort(rooms)
		b = binary.AppendUvarint(b, uint64(len(rooms)))
		for _, r := range rooms {
			b = appendString(b, r)
			b = dc.rooms[r].append(b)
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b)), nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func (s *summary) append(b []byte) []byte {
	of := byte(0)
	if s.overflow {
		of = 1
	}
	b = append(b, of)
	b = binary.AppendUvarint(b, s.msgs)
	b = binary.AppendUvarint(b, s.adds)
	ents := s.sorted()
	b = binary.AppendUvarint(b, uint64(len(ents)))
	for _, e := range ents {
		b = appendString(b, e.term)
		b = binary.AppendUvarint(b, e.count)
		b = binary.AppendUvarint(b, e.err)
	}
	return b
}

// UnmarshalBinary replaces the counter's state with a saved one
// (encoding.BinaryUnmarshaler). The counter keeps its own options: days
// outside its window are dropped, rooms past its Rooms limit dropped (by
// name order) and summaries cut to its capacities, so a state saved with
// larger options loads within the smaller ones. On error the counter is
// unchanged.
func (c *Counter) UnmarshalBinary(data []byte) error {
	if len(data) < len(stateMagic)+1+4 || string(data[:len(stateMagic)]) != stateMagic {
		return fmt.Errorf("%w: not a terms state", ErrState)
	}
	if v := data[len(stateMagic)]; v != stateVersion {
		return fmt.Errorf("%w: version %d, this build reads %d", ErrState, v, stateVersion)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return fmt.Errorf("%w: checksum mismatch", ErrState)
	}
	st, err := decodeBody(body[len(stateMagic)+1:], c.opt)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.newest, c.untracked, c.late, c.days = st.newest, st.untracked, st.late, st.days
	return nil
}

type decoded struct {
	newest          Day
	untracked, late uint64
	days            map[Day]*dayCounts
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("truncated or overlong number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("truncated or overlong number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) day() Day {
	v := r.varint()
	if v < -MaxDay || v > MaxDay {
		r.fail("day %d out of range", v)
	}
	return Day(v)
}

// count reads a number of items that take at least one byte each, so a
// damaged count cannot make the decoder allocate more than the input.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("count %d beyond the %d bytes left", n, len(r.b))
		return 0
	}
	return int(n)
}

func (r *reader) string(limit int) string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(limit) || n > uint64(len(r.b)) {
		r.fail("string of %d bytes", n)
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	if !utf8.ValidString(s) {
		r.fail("string is not UTF-8")
	}
	return s
}

// maxSavedTerm is the longest term a tokenizer writes: a phrase of two
// words of maxTermBytes and a space.
const maxSavedTerm = 2*maxTermBytes + 1

func (r *reader) summary(capacity int) *summary {
	s := newSummary(capacity)
	switch of := r.byte(); of {
	case 0, 1:
		s.overflow = of == 1
	default:
		r.fail("overflow flag %d", of)
	}
	s.msgs = r.uvarint()
	s.adds = r.uvarint()
	n := r.count()
	ents := make([]entry, 0, min(n, capacity))
	held := make(map[string]bool, min(n, capacity))
	var total uint64
	var prev entry
	for i := range n {
		e := entry{term: r.string(maxSavedTerm), count: r.uvarint(), err: r.uvarint()}
		if r.err != nil {
			return nil
		}
		switch {
		case e.term == "":
			r.fail("empty term")
		case e.count == 0 || e.err >= e.count:
			r.fail("term %q: count %d, error %d", e.term, e.count, e.err)
		case i > 0 && (prev.count < e.count || prev.count == e.count && prev.term >= e.term):
			r.fail("entries out of order at %q", e.term)
		case held[e.term]:
			// Sorted by count, a term listed twice with two counts is in
			// order: FuzzState found this.
			r.fail("term %q listed twice", e.term)
		case e.count > s.msgs:
			r.fail("term %q in %d of %d messages", e.term, e.count, s.msgs)
		}
		total += e.count
		if r.err != nil {
			return nil
		}
		held[e.term] = true
		prev = e
		if len(ents) < capacity {
			ents = append(ents, e)
		} else {
			s.overflow = true
		}
	}
	if total > s.adds {
		r.fail("counts sum to %d, above the %d terms counted", total, s.adds)
	}
	if !s.overflow && slices.ContainsFunc(ents, func(e entry) bool { return e.err != 0 }) {
		r.fail("an error bound in a summary that never overflowed")
	}
	if r.err != nil {
		return nil
	}
	s.rebuild(ents)
	return s
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail("truncated")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// decodeBody decodes the body of a saved state into the options' bounds.
func decodeBody(b []byte, opt CounterOptions) (*decoded, error) {
	r := &reader{b: b}
	st := &decoded{newest: r.day(), untracked: r.uvarint(), late: r.uvarint(), days: map[Day]*dayCounts{}}
	nd := r.count()
	prev := Day(0)
	for i := range nd {
		d := r.day()
		if r.err != nil {
			break
		}
		if i > 0 && d <= prev {
			r.fail("days out of order")
			break
		}
		if d > st.newest {
			r.fail("day %d after the newest, %d", d, st.newest)
			break
		}
		prev = d
		keep := d > st.newest-Day(opt.Days)
		past := d < st.newest-1
		capAll, capRoom := opt.All, opt.Room
		if past {
			capAll, capRoom = opt.PastAll, opt.PastRoom
		}
		dc := &dayCounts{all: r.summary(capAll), rooms: map[string]*summary{}, past: past}
		nr := r.count()
		lastRoom := ""
		for j := range nr {
			name := r.string(maxRoomBytes)
			s := r.summary(capRoom)
			if r.err != nil {
				break
			}
			if name == "" || j > 0 && name <= lastRoom {
				r.fail("rooms out of order or unnamed")
				break
			}
			lastRoom = name
			if len(dc.rooms) < opt.Rooms {
				dc.rooms[name] = s
			}
		}
		if r.err != nil {
			break
		}
		if keep {
			st.days[d] = dc
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d bytes after the state", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return st, nil
}
