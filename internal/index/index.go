// Package index owns wsmon's search index and statistics rollups, kept
// behind ingest so that they never slow it down, yet always exact:
//
//   - The ingest pipeline hands every committed batch to Committed, which
//     only queues it. The indexer goroutine folds queued messages into an
//     in-memory segment (posting lists of every 1- and 2-rune gram of
//     the folded content, plus field keys for user, type, target and room)
//     and into in-memory rollups (messages per target per 15 minutes, per
//     user counts and first/last seen).
//   - Every FlushMessages messages (or FlushInterval) it writes the memory
//     segment as one new database segment, bucketed by gram hash into a few
//     thousand rows, together with the changed rollup rows and the new
//     indexed id, in one transaction. Small segments are merged.
//   - A query first folds in whatever is still queued, then reads the
//     memory segment and the database segments; so results cover every
//     committed message, and are exactly those of a case-insensitive
//     substring match (candidates for longer queries are verified).
//
// After a crash the indexer re-reads messages newer than the indexed id from
// the database. `wsmon reindex` rebuilds everything from the messages.
package index

import (
	"context"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/search"
	"github.com/wsmon/wsmon/internal/store"
)

// Store is what the indexer needs from the database.
type Store interface {
	IndexState(ctx context.Context) (indexed, deletedBelow int64, err error)
	IndexSegments(ctx context.Context) ([]store.IndexSegment, error)
	MaxSegment(ctx context.Context) (int64, error)
	LoadRollups(ctx context.Context) ([]store.QuarterRow, []store.UserRow, error)
	IndexRowsAfter(ctx context.Context, after int64, limit, maxBytes int) ([]store.IndexRow, bool, error)
	WriteIndexFlush(ctx context.Context, f *store.IndexFlush) error
	BucketBlobs(ctx context.Context, bucket int) ([]store.SegBlob, error)
	IndexList(ctx context.Context, seg int64, gram uint64) ([]byte, error)
	MessagesByIDs(ctx context.Context, ids []int64, q store.MessageQuery) ([]message.Message, error)
	Messages(ctx context.Context, q store.MessageQuery) ([]message.Message, error)
	Message(ctx context.Context, id int64) (message.Message, error)
	StatsScan(ctx context.Context, q store.StatsQuery) (store.Stats, error)
	Location() *time.Location
}

// Options tune an Indexer.
type Options struct {
	FlushMessages int           // write a segment after this many messages (default 25,000)
	FlushInterval time.Duration // or after this long with anything pending (default 2 min)
	Buckets       int           // rows per segment (power of two, default 4096)
	MaxQueued     int           // messages queued before falling back to reading the database (default 25,000)
	// MaxQueuedBytes bounds the content bytes queued as well (default
	// DefaultMaxQueuedBytes); past it the indexer reads from the database.
	MaxQueuedBytes int
	// FlushBytes writes a segment once the memory segment's posting lists
	// take this many bytes, however few messages they hold (default
	// DefaultFlushBytes): large or varied contents do not grow it unbounded.
	FlushBytes int
	// Follow makes a read-only indexer for a web process running apart
	// from the monitor: it never writes, and before each query it reads
	// what the monitor committed (and reloads when the monitor flushed).
	Follow bool
	Logger *slog.Logger
}

// Byte bounds of the indexer's defaults.
const (
	DefaultMaxQueuedBytes = 16 << 20
	DefaultFlushBytes     = 32 << 20
	// readBytes bounds the contents read back from the database at once
	// (catching up, after a queue overflow, in a follower).
	readBytes = 8 << 20
	// gramChunk is how many bytes of a content are turned into grams at a
	// time, so a 16 MiB content costs a few hundred KiB of scratch, not
	// ~20 bytes per byte.
	gramChunk = 16 << 10
)

// Indexer maintains and queries the search index and rollups.
type Indexer struct {
	st   Store
	opts Options
	log  *slog.Logger

	flushMu sync.Mutex // one Flush at a time
	merging sync.Mutex // one merge at a time

	qmu      sync.Mutex
	queue    [][]queuedMsg
	queued   int  // messages in queue
	qbytes   int  // their content bytes
	overflow bool // messages were not queued: read them from the database
	wake     chan struct{}

	mu           sync.RWMutex
	consumed     int64 // highest message id folded into memory state
	indexed      int64 // highest id written to the database
	deletedBelow int64
	mem          *memSegment          // being filled
	flushing     *memSegment          // being written; immutable
	segs         []store.IndexSegment // ascending id ranges
	nextSeg      int64
	roll         *rollups
	lastFlush    time.Time
	scratchG     []search.Gram
	scratchR     []rune
}

// New loads the index state and rollups and folds in messages the database
// holds beyond the indexed id (after a crash or a stop without flush). Call
// it before the ingest pipeline starts committing.
func New(ctx context.Context, st Store, opts Options) (*Indexer, error) {
	if opts.FlushMessages <= 0 {
		opts.FlushMessages = 50_000
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 2 * time.Minute
	}
	if opts.Buckets <= 0 {
		opts.Buckets = 4096
	}
	if opts.MaxQueued <= 0 {
		opts.MaxQueued = 25_000
	}
	if opts.MaxQueuedBytes <= 0 {
		opts.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if opts.FlushBytes <= 0 {
		opts.FlushBytes = DefaultFlushBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ix := &Indexer{st: st, opts: opts, log: opts.Logger.With("component", "index"), wake: make(chan struct{}, 1), lastFlush: time.Now()}
	if err := ix.load(ctx); err != nil {
		return nil, err
	}
	return ix, nil
}

func (ix *Indexer) load(ctx context.Context) error {
	indexed, deleted, err := ix.st.IndexState(ctx)
	if err != nil {
		return err
	}
	segs, err := ix.st.IndexSegments(ctx)
	if err != nil {
		return err
	}
	qs, us, err := ix.st.LoadRollups(ctx)
	if err != nil {
		return err
	}
	if ms, ok := ix.st.(mergeStore); ok && !ix.opts.Follow {
		// Blobs of a merge cut short by a crash.
		if err := ms.DeleteOrphanBlobs(ctx); err != nil {
			return err
		}
	}
	ix.mu.Lock()
	ix.indexed, ix.consumed, ix.deletedBelow, ix.segs = indexed, indexed, deleted, segs
	ix.nextSeg = 1
	for _, sg := range segs {
		ix.nextSeg = max(ix.nextSeg, sg.Seg+1)
	}
	ix.roll = newRollups(qs, us)
	ix.mem = newMemSegment()
	ix.flushing = nil
	ix.mu.Unlock()
	return ix.catchUp(ctx)
}

// catchUp folds in every message the database holds beyond consumed,
// flushing segments on the way (a writer) so memory stays bounded even when
// rebuilding the whole index.
func (ix *Indexer) catchUp(ctx context.Context) error {
	for {
		ix.mu.Lock()
		more, err := ix.readRowsLocked(ctx, 10_000)
		full := ix.memFull()
		ix.mu.Unlock()
		if err != nil {
			return err
		}
		if full && !ix.opts.Follow {
			if err := ix.Flush(ctx); err != nil {
				return err
			}
			if err := ix.maybeMerge(ctx); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
	}
}

// readRowsLocked folds in up to limit messages with id > consumed from the
// database, at most readBytes of content (one message at least); more
// reports that there may be others.
func (ix *Indexer) readRowsLocked(ctx context.Context, limit int) (more bool, err error) {
	rows, more, err := ix.st.IndexRowsAfter(ctx, ix.consumed, limit, readBytes)
	if err != nil {
		return false, err
	}
	for i := range rows {
		r := &rows[i]
		ix.addLocked(r.ID, r.Target, r.ReceivedAt, r.User, r.Room, r.Type, r.Content)
	}
	return more, nil
}

// readAllLocked folds in every message with id > consumed, a bounded
// read at a time.
func (ix *Indexer) readAllLocked(ctx context.Context) error {
	for {
		more, err := ix.readRowsLocked(ctx, 10_000)
		if err != nil || !more {
			return err
		}
	}
}

// memFull reports whether the memory segment is due for a flush by size.
func (ix *Indexer) memFull() bool {
	return ix.mem.count >= ix.opts.FlushMessages || ix.mem.bytes >= ix.opts.FlushBytes
}

// queuedMsg is what the indexer keeps of a committed message until it is
// folded in: not its raw frame.
type queuedMsg struct {
	id                               int64
	at                               time.Time
	target, user, room, typ, content string
}

// Committed queues a committed batch (ingest.Committer). It never blocks:
// past MaxQueued messages or MaxQueuedBytes of content it notes an
// overflow, and the indexer reads the missed messages from the database
// instead. What is queued holds the messages' content, not their raw
// frames.
func (ix *Indexer) Committed(msgs []message.Message) error {
	bytes := 0
	for i := range msgs {
		bytes += len(msgs[i].Content)
	}
	ix.qmu.Lock()
	if ix.queued+len(msgs) > ix.opts.MaxQueued || (ix.queued > 0 && ix.qbytes+bytes > ix.opts.MaxQueuedBytes) {
		ix.overflow = true
	} else if !ix.overflow {
		q := make([]queuedMsg, len(msgs))
		for i := range msgs {
			m := &msgs[i]
			q[i] = queuedMsg{id: m.ID, at: m.ReceivedAt, target: m.Target, user: m.User, room: m.Room, typ: string(m.Type), content: m.Content}
		}
		ix.queue = append(ix.queue, q)
		ix.queued += len(msgs)
		ix.qbytes += bytes
	}
	ix.qmu.Unlock()
	select {
	case ix.wake <- struct{}{}:
	default:
	}
	return nil
}

// drainLocked folds queued batches into memory; after an overflow it reads
// the missed messages from the database instead. Callers hold ix.mu for
// writing.
func (ix *Indexer) drainLocked(ctx context.Context) error {
	ix.qmu.Lock()
	q, overflow := ix.queue, ix.overflow
	ix.queue, ix.queued, ix.qbytes = nil, 0, 0
	ix.qmu.Unlock()
	if overflow {
		// Batches were dropped: the database has them. Read until caught
		// up, then accept batches again, then read once more so that a
		// batch committed in between is not missed (duplicates are skipped
		// by id).
		if err := ix.readAllLocked(ctx); err != nil {
			return err
		}
		ix.qmu.Lock()
		ix.overflow = false
		ix.qmu.Unlock()
		return ix.readAllLocked(ctx)
	}
	for _, msgs := range q {
		for i := range msgs {
			m := &msgs[i]
			if m.id <= ix.consumed {
				continue
			}
			ix.addLocked(m.id, m.target, m.at, m.user, m.room, m.typ, m.content)
		}
	}
	return nil
}

// addLocked folds one message into the memory segment and rollups.
func (ix *Indexer) addLocked(id int64, target string, at time.Time, user, room, typ, content string) {
	if id <= ix.consumed {
		return
	}
	// The content's grams go in gramChunk bytes at a time (cut at rune
	// boundaries); each chunk after the first starts with the last rune of
	// the one before, so the bigram across the cut is kept (a repeated
	// gram of the same message is stored once).
	for len(content) > gramChunk {
		cut := gramChunk
		for cut > 0 && !utf8.RuneStart(content[cut]) {
			cut--
		}
		_, size := utf8.DecodeLastRuneInString(content[:cut])
		var g []search.Gram
		g, ix.scratchR = search.AppendGrams(ix.scratchG[:0], ix.scratchR, content[:cut])
		ix.mem.addGrams(id, g)
		ix.scratchG = g
		content = content[cut-size:]
	}
	g := ix.scratchG[:0]
	g, ix.scratchR = search.AppendGrams(g, ix.scratchR, content)
	if user != "" {
		g = append(g, search.FieldGram(search.FieldUser, user))
	}
	if room != "" {
		g = append(g, search.FieldGram(search.FieldRoom, room))
	}
	g = append(g, search.FieldGram(search.FieldType, typ), search.FieldGram(search.FieldTarget, target))
	ix.mem.add(id, g)
	ix.scratchG = g
	ix.roll.add(id, target, at.UnixMilli(), user)
	ix.consumed = id
}

// Run folds in committed messages as they come and flushes segments, until
// ctx is cancelled; then it flushes what it holds and returns.
func (ix *Indexer) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			ix.merging.Lock() // a merge in progress stops at its next step
			defer ix.merging.Unlock()
			return ix.Flush(context.WithoutCancel(ctx))
		case <-ix.wake:
		case <-tick.C:
		}
		ix.mu.Lock()
		err := ix.drainLocked(ctx)
		due := ix.memFull() ||
			(ix.mem.count > 0 && time.Since(ix.lastFlush) >= ix.opts.FlushInterval)
		ix.mu.Unlock()
		if err != nil {
			ix.log.Warn("index: reading messages", "error", err)
			continue
		}
		if due {
			if err := ix.Flush(ctx); err != nil {
				ix.log.Warn("index flush failed; will retry", "error", err)
				continue
			}
			if ix.merging.TryLock() {
				go func() {
					defer ix.merging.Unlock()
					if err := ix.maybeMerge(ctx); err != nil && ctx.Err() == nil {
						ix.log.Warn("index merge failed; will retry", "error", err)
					}
				}()
			}
		}
	}
}

// Flush writes the memory segment and changed rollups to the database.
// Queries keep working meanwhile: the segment being written stays visible
// from memory until the database has it.
func (ix *Indexer) Flush(ctx context.Context) error {
	ix.flushMu.Lock()
	defer ix.flushMu.Unlock()
	ix.mu.Lock()
	if err := ix.drainLocked(ctx); err != nil {
		ix.mu.Unlock()
		return err
	}
	seg := ix.mem
	if seg.count == 0 && !ix.roll.dirty() {
		ix.mu.Unlock()
		return nil
	}
	ix.flushing, ix.mem = seg, newMemSegment()
	qs, us := ix.roll.takeDirty()
	upTo := ix.consumed
	next := ix.nextSeg
	ix.nextSeg++
	ix.mu.Unlock()

	f := &store.IndexFlush{Quarters: qs, Users: us, IndexedID: upTo}
	if seg.count > 0 {
		f.Segment = store.IndexSegment{Seg: next, Lo: seg.lo, Hi: seg.hi, Messages: int64(seg.count)}
		f.Blobs, f.Lists = seg.encode(ix.opts.Buckets)
	}
	err := ix.st.WriteIndexFlush(ctx, f)

	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err != nil {
		// Put everything back: memory holds the segment, rollups are dirty.
		seg.absorb(ix.mem)
		ix.mem, ix.flushing = seg, nil
		ix.roll.markDirty(qs, us)
		return err
	}
	ix.flushing = nil
	ix.indexed = upTo
	if seg.count > 0 {
		ix.segs = append(ix.segs, f.Segment)
	}
	ix.lastFlush = time.Now()
	return nil
}

// Status of the indexer, for metrics and the benchmark.
type Status struct {
	Consumed, Indexed int64
	Segments          int
	MemMessages       int
}

// Status returns a snapshot.
func (ix *Indexer) Status() Status {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := ix.mem.count
	if ix.flushing != nil {
		n += ix.flushing.count
	}
	return Status{Consumed: ix.consumed, Indexed: ix.indexed, Segments: len(ix.segs), MemMessages: n}
}

// fresh folds in everything queued so a query sees every committed message.
// A follower instead reads what the monitor process committed, reloading
// when the monitor has flushed.
func (ix *Indexer) fresh(ctx context.Context) error {
	if ix.opts.Follow {
		indexed, deleted, err := ix.st.IndexState(ctx)
		if err != nil {
			return err
		}
		maxSeg, err := ix.st.MaxSegment(ctx)
		if err != nil {
			return err
		}
		ix.mu.RLock()
		// The monitor flushed, merged or pruned: start over from its state.
		stale := indexed != ix.indexed || deleted != ix.deletedBelow || maxSeg != ix.nextSeg-1
		ix.mu.RUnlock()
		if stale {
			return ix.load(ctx)
		}
		ix.mu.Lock()
		defer ix.mu.Unlock()
		return ix.readAllLocked(ctx)
	}
	ix.qmu.Lock()
	pending := ix.queued > 0 || ix.overflow
	ix.qmu.Unlock()
	if !pending {
		return nil
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.drainLocked(ctx)
}
