package anomaly

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"time"
)

// The state encoding: magic, version, then varints (zig-zag for signed),
// float64s as 8 little-endian bytes, float32s as 4, strings as a length
// and bytes; a CRC-32C of everything before it at the end. Keys are
// written sorted, so equal states encode to equal bytes.
const (
	stateMagic   = "WSMONAN"
	stateVersion = 1
	maxStateStr  = 1 << 16 // longest target, room, user or parameter
	maxParams    = 32
	// maxMinute bounds minutes in a state (about the year 4000 either way
	// of 1970), so that arithmetic on them cannot overflow.
	maxMinute = 1 << 40
	// maxRate bounds the averages and expectations in a state (messages a
	// minute; no chat comes near), so that arithmetic on a damaged or
	// crafted state stays finite.
	maxRate = 1e9
	maxID   = 1 << 62
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrState is wrapped by every error of Load about the data itself (not
// the options): the caller should start afresh and say so.
var ErrState = errors.New("anomaly: bad state")

// MarshalBinary encodes the detector's whole state: every key's baseline,
// windows, running averages and pending minute, the history and the open
// anomalies, the next id and the counters. Load restores it. It is a few
// KiB per key (docs/analysis-anomaly.md) and safe to call while the
// detector is fed (it holds the lock while encoding).
func (d *Detector) MarshalBinary() ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w := &stateWriter{b: make([]byte, 0, 64+len(d.keys)*1024)}
	w.b = append(w.b, stateMagic...)
	w.b = append(w.b, stateVersion)
	w.u(uint64(d.o.Weeks))
	w.u(d.nextID)
	w.u(d.st.DroppedObservations)
	w.u(d.st.Late)
	w.u(d.st.HistoryEvicted)
	w.u(d.st.Minutes)
	listed := map[uint64]bool{}
	n := len(d.hist)
	w.u(uint64(n))
	for i := range n {
		a := d.hist[(d.hhead+i)%n]
		listed[a.ID] = true
		w.anomaly(a)
	}
	keys := d.order
	// Open anomalies that the history no longer holds (MaxHistory).
	var extra []*Anomaly
	for _, ks := range keys {
		for _, a := range ks.open {
			if a != nil && !listed[a.ID] {
				extra = append(extra, a)
			}
		}
	}
	w.u(uint64(len(extra)))
	for _, a := range extra {
		w.anomaly(a)
	}
	w.u(uint64(len(keys)))
	for _, ks := range keys {
		w.key(ks, d.o.Weeks)
	}
	w.b = binary.LittleEndian.AppendUint32(w.b, crc32.Checksum(w.b, crcTable))
	return w.b, nil
}

type stateWriter struct{ b []byte }

func (w *stateWriter) u(v uint64)  { w.b = binary.AppendUvarint(w.b, v) }
func (w *stateWriter) i(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *stateWriter) f(v float64) { w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(v)) }
func (w *stateWriter) f32(v float32) {
	w.b = binary.LittleEndian.AppendUint32(w.b, math.Float32bits(v))
}
func (w *stateWriter) s(v string) { w.u(uint64(len(v))); w.b = append(w.b, v...) }
func (w *stateWriter) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

func (w *stateWriter) anomaly(a *Anomaly) {
	w.u(a.ID)
	w.b = append(w.b, byte(a.Kind))
	w.s(a.Key.Target)
	w.s(a.Key.Room)
	w.s(a.User)
	w.f(a.Score)
	w.i(a.Start.Unix())
	w.bool(a.Open)
	if !a.Open {
		w.i(a.End.Unix())
	}
	names := make([]string, 0, len(a.Params))
	for k := range a.Params {
		names = append(names, k)
	}
	slices.Sort(names)
	w.u(uint64(len(names)))
	for _, k := range names {
		w.s(k)
		w.s(a.Params[k])
	}
}

func (w *stateWriter) users(us []UserCount) {
	w.u(uint64(len(us)))
	for _, u := range us {
		w.s(u.User)
		w.u(uint64(u.Count))
	}
}

func (w *stateWriter) key(ks *keyState, weeks int) {
	w.s(ks.key.Target)
	w.s(ks.key.Room)
	w.i(ks.last)
	w.bool(ks.hasPend)
	if ks.hasPend {
		w.i(ks.pend)
		p := &ks.pc
		w.u(uint64(p.msgs))
		w.u(uint64(p.newu))
		for _, t := range p.types {
			w.u(uint64(t))
		}
		w.users(p.users[:p.nu])
	}
	w.u(uint64(ks.observed))
	for i := range ks.ring {
		r := &ks.ring[i]
		w.u(uint64(r.msgs))
		w.u(uint64(r.newu))
		for _, t := range r.types {
			w.u(uint64(t))
		}
		w.f32(r.exp)
		w.f32(r.spr)
		n := 0
		for n < topUsers && r.users[n].Count > 0 {
			n++
		}
		w.users(r.users[:n])
	}
	for s := range slots {
		n := int(ks.sn[s])
		w.b = append(w.b, byte(n))
		first := 0 // oldest cell
		if n == weeks {
			first = int(ks.sh[s])
		}
		for j := range n {
			w.u(uint64(ks.season[s*weeks+(first+j)%weeks]))
		}
	}
	w.i(ks.hour)
	w.u(uint64(ks.hourCount))
	w.u(uint64(ks.hourMins))
	w.f(ks.ewmaRate)
	w.f(ks.ewmaMsgs)
	w.f(ks.ewmaNew)
	w.f(ks.ewmaTop)
	for _, e := range ks.ewmaTypes {
		w.f(e)
	}
	w.f(ks.disp)
	w.i(ks.silRun)
	w.i(ks.silStart)
	w.f(ks.silE)
	for k := Kind(1); k <= numKinds; k++ {
		if a := ks.open[k]; a != nil {
			w.u(a.ID)
			w.i(ks.hot[k])
		} else {
			w.u(0)
		}
	}
}

// Load returns a Detector with options o and the state data (from
// MarshalBinary, possibly of a detector with other options: weekly samples
// beyond o.Weeks are dropped, the oldest first, and the history is cut to
// o.MaxHistory, the newest kept). An error wrapping ErrState means the data
// is not a state this version can read (corrupt, truncated, another
// version, more keys than o.MaxKeys); nothing of it is used.
func Load(o Options, data []byte) (*Detector, error) {
	d, err := New(o)
	if err != nil {
		return nil, err
	}
	if len(data) < len(stateMagic)+1+4 {
		return nil, fmt.Errorf("%w: %d bytes", ErrState, len(data))
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrState)
	}
	if err := d.decode(body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrState, err)
	}
	return d, nil
}

type stateReader struct {
	b   []byte
	err error
}

func (r *stateReader) fail(format string, a ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, a...)
	}
}

func (r *stateReader) u() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

// u32 reads a varint that must fit in 32 bits.
func (r *stateReader) u32() uint32 {
	v := r.u()
	if v > math.MaxUint32 {
		r.fail("count %d out of range", v)
		return 0
	}
	return uint32(v)
}

// n reads a count of at most max items of at least size bytes each.
func (r *stateReader) n(max, size int) int {
	v := r.u()
	if v > uint64(max) || v*uint64(size) > uint64(len(r.b)) {
		r.fail("count %d out of range", v)
		return 0
	}
	return int(v)
}

func (r *stateReader) i() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

// minute reads a minute (or second) within ±maxMinute·60.
func (r *stateReader) minute() int64 {
	v := r.i()
	if v < -maxMinute*60 || v > maxMinute*60 {
		r.fail("time %d out of range", v)
		return 0
	}
	return v
}

func (r *stateReader) byte() byte {
	if len(r.b) < 1 {
		r.fail("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *stateReader) bool() bool {
	switch r.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail("bad flag")
	return false
}

// fany reads a float64 that must be finite.
func (r *stateReader) fany() float64 {
	if len(r.b) < 8 {
		r.fail("truncated")
		r.b = nil
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	if math.IsNaN(v) || math.IsInf(v, 0) {
		r.fail("number %v out of range", v)
		return 0
	}
	return v
}

// f reads a float64 in [0, maxRate].
func (r *stateReader) f() float64 {
	v := r.fany()
	if v < 0 || v > maxRate {
		r.fail("number %v out of range", v)
		return 0
	}
	return v
}

func (r *stateReader) f32() float32 {
	if len(r.b) < 4 {
		r.fail("truncated")
		r.b = nil
		return 0
	}
	v := math.Float32frombits(binary.LittleEndian.Uint32(r.b))
	r.b = r.b[4:]
	if !(v >= 0) || v > maxRate {
		r.fail("number %v out of range", v)
		return 0
	}
	return v
}

func (r *stateReader) s() string {
	n := r.u()
	if n > maxStateStr || n > uint64(len(r.b)) {
		r.fail("string of %d bytes", n)
		r.b = nil
		return ""
	}
	v := string(r.b[:n])
	r.b = r.b[n:]
	return v
}

func (r *stateReader) anomaly() *Anomaly {
	a := &Anomaly{ID: r.u(), Kind: Kind(r.byte())}
	if a.ID == 0 || a.Kind < 1 || a.Kind > numKinds {
		r.fail("bad anomaly id %d or kind %d", a.ID, a.Kind)
		return a
	}
	a.Code = a.Kind.String()
	a.Key = Key{Target: r.s(), Room: r.s()}
	a.User = r.s()
	a.Score = r.fany()
	a.Start = time.Unix(r.minute(), 0).UTC()
	a.Open = r.bool()
	if !a.Open {
		a.End = time.Unix(r.minute(), 0).UTC()
		if a.End.Before(a.Start) {
			r.fail("anomaly %d ends before it starts", a.ID)
		}
	}
	np := r.n(maxParams, 2)
	a.Params = make(map[string]string, np)
	for range np {
		k := r.s()
		if _, dup := a.Params[k]; dup {
			r.fail("parameter %q twice", k)
		}
		a.Params[k] = r.s()
	}
	a.Explanation = explain(a)
	return a
}

// users reads at most max user counts, each with a count > 0.
func (r *stateReader) users(dst []UserCount) int {
	n := r.n(len(dst), 2)
	for i := range n {
		dst[i] = UserCount{User: r.s(), Count: r.u32()}
		if dst[i].Count == 0 {
			r.fail("user count 0")
		}
	}
	return n
}

func (d *Detector) decode(body []byte) error {
	if !bytes.HasPrefix(body, []byte(stateMagic)) {
		return errors.New("not an anomaly state")
	}
	r := &stateReader{b: body[len(stateMagic):]}
	if v := r.byte(); v != stateVersion {
		return fmt.Errorf("version %d, this wsmon reads %d", v, stateVersion)
	}
	weeks := int(r.u())
	if weeks < 1 || weeks > maxWeeks {
		return fmt.Errorf("weeks %d", weeks)
	}
	if d.nextID = r.u(); d.nextID == 0 || d.nextID > maxID {
		return fmt.Errorf("next id %d", d.nextID)
	}
	d.st.DroppedObservations = r.u()
	d.st.Late = r.u()
	d.st.HistoryEvicted = r.u()
	d.st.Minutes = r.u()
	byID := map[uint64]*Anomaly{}
	add := func(a *Anomaly) {
		if byID[a.ID] != nil {
			r.fail("anomaly %d twice", a.ID)
		}
		if a.ID >= d.nextID {
			r.fail("anomaly %d not below the next id %d", a.ID, d.nextID)
		}
		byID[a.ID] = a
	}
	nh := r.n(math.MaxInt32, 20)
	hist := make([]*Anomaly, 0, nh)
	for range nh {
		a := r.anomaly()
		if r.err != nil {
			return r.err
		}
		add(a)
		hist = append(hist, a)
	}
	if drop := len(hist) - d.o.MaxHistory; drop > 0 {
		d.st.HistoryEvicted += uint64(drop)
		hist = hist[drop:]
	}
	d.hist = hist
	ne := r.n(numKinds*math.MaxInt32, 20)
	for range ne {
		a := r.anomaly()
		if r.err != nil {
			return r.err
		}
		if !a.Open {
			r.fail("unlisted anomaly %d is not open", a.ID)
		}
		add(a)
	}
	nk := r.n(math.MaxInt32, 100)
	if nk > d.o.MaxKeys {
		return fmt.Errorf("%d keys, MaxKeys is %d", nk, d.o.MaxKeys)
	}
	used := map[uint64]bool{}
	for range nk {
		ks := d.decodeKey(r, weeks, byID, used)
		if r.err != nil {
			return r.err
		}
		if d.keys[ks.key] != nil {
			return fmt.Errorf("key %v twice", ks.key)
		}
		d.addKey(ks)
	}
	if r.err != nil {
		return r.err
	}
	for id, a := range byID {
		if a.Open && !used[id] {
			return fmt.Errorf("anomaly %d is open but no key holds it", id)
		}
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%d bytes after the state", len(r.b))
	}
	return nil
}

func (d *Detector) decodeKey(r *stateReader, weeks int, byID map[uint64]*Anomaly, used map[uint64]bool) *keyState {
	W := d.o.Weeks
	ks := &keyState{key: Key{Target: r.s(), Room: r.s()}, season: make([]uint32, slots*W)}
	ks.last = r.minute()
	if ks.last > maxMinute || ks.last < -maxMinute {
		r.fail("minute %d out of range", ks.last)
	}
	ks.hasPend = r.bool()
	if ks.hasPend {
		ks.pend = r.minute()
		if ks.pend <= ks.last || ks.pend > maxMinute {
			r.fail("pending minute %d not after %d", ks.pend, ks.last)
		}
		p := &ks.pc
		p.msgs, p.newu = r.u32(), r.u32()
		for j := range p.types {
			p.types[j] = r.u32()
		}
		p.nu = r.users(p.users[:])
	}
	ks.observed = r.u32()
	for i := range ks.ring {
		rec := &ks.ring[i]
		rec.msgs, rec.newu = r.u32(), r.u32()
		for j := range rec.types {
			rec.types[j] = r.u32()
		}
		rec.exp, rec.spr = r.f32(), r.f32()
		r.users(rec.users[:])
	}
	for s := range slots {
		n := int(r.byte())
		if n > weeks {
			r.fail("%d samples in a slot of %d weeks", n, weeks)
			return ks
		}
		var v [maxWeeks]uint32
		for j := range n {
			v[j] = r.u32()
		}
		keep := v[max(0, n-W):n] // the newest W
		copy(ks.season[s*W:], keep)
		ks.sn[s] = uint8(len(keep))
		ks.sh[s] = uint8(len(keep) % W)
	}
	ks.hour = r.minute()
	ks.hourCount = r.u32()
	if hm := r.u(); hm > math.MaxUint16 {
		r.fail("hour minutes %d", hm)
	} else {
		ks.hourMins = uint16(hm)
	}
	ks.ewmaRate, ks.ewmaMsgs, ks.ewmaNew, ks.ewmaTop = r.f(), r.f(), r.f(), r.f()
	for j := range ks.ewmaTypes {
		ks.ewmaTypes[j] = r.f()
	}
	ks.disp = r.f()
	if ks.disp > 1 {
		r.fail("dispersion %v", ks.disp)
	}
	ks.silRun, ks.silStart = r.i(), r.minute()
	if ks.silRun < 0 || ks.silRun > maxMinute {
		r.fail("silent run %d", ks.silRun)
	}
	ks.silE = r.fany()
	if ks.silE < 0 || ks.silE > maxRate*maxMinute {
		r.fail("silence expectation %v", ks.silE)
	}
	for k := Kind(1); k <= numKinds; k++ {
		id := r.u()
		if id == 0 {
			continue
		}
		a := byID[id]
		switch {
		case a == nil:
			r.fail("open anomaly %d unknown", id)
		case !a.Open || a.Kind != k || a.Key != ks.key || used[id]:
			r.fail("anomaly %d is not the open %s of %v", id, k, ks.key)
		}
		used[id] = true
		ks.open[k] = a
		ks.hot[k] = r.minute()
	}
	return ks
}
