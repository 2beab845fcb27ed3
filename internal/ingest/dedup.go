package ingest

import "time"

// dedup remembers recent keys, each with a value, bounded both by age
// (window) and by count (max), so memory stays flat during a burst of
// unique messages. Keys are evicted oldest first. The pipeline keeps two:
// dedup keys (value unused) and payload-id keys (value: the dedup key of the
// last message with that id, to tell a replay from an id collision).
type dedup struct {
	window time.Duration
	max    int
	set    map[uint64]uint64
	ring   []dedupEntry // FIFO of remembered keys
	head   int          // index of the oldest entry
	n      int          // entries in ring
}

type dedupEntry struct {
	key uint64
	at  int64 // unix ms
}

func newDedup(window time.Duration, max int) *dedup {
	return &dedup{window: window, max: max, set: make(map[uint64]uint64)}
}

// seen reports whether key was seen within the window, and remembers it.
func (d *dedup) seen(key uint64, at time.Time) bool {
	_, ok := d.swap(key, 0, at)
	return ok
}

// swap remembers key with value val and returns the value it had, and
// whether key was seen within the window. A key seen again keeps its place
// (its first time) in the eviction order.
func (d *dedup) swap(key, val uint64, at time.Time) (uint64, bool) {
	now := at.UnixMilli()
	cut := now - d.window.Milliseconds()
	for d.n > 0 && (d.ring[d.head].at < cut || d.n >= d.max) {
		delete(d.set, d.ring[d.head].key)
		d.head = (d.head + 1) % len(d.ring)
		d.n--
	}
	if old, ok := d.set[key]; ok {
		d.set[key] = val
		return old, true
	}
	if d.n == len(d.ring) {
		d.grow()
	}
	d.ring[(d.head+d.n)%len(d.ring)] = dedupEntry{key, now}
	d.n++
	d.set[key] = val
	return 0, false
}

func (d *dedup) grow() {
	size := min(max(2*len(d.ring), 1024), d.max)
	next := make([]dedupEntry, size)
	for i := 0; i < d.n; i++ {
		next[i] = d.ring[(d.head+i)%len(d.ring)]
	}
	d.ring, d.head = next, 0
}
