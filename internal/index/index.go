// Package index owns wsmon's search index and statistics rollups, kept
// behind ingest so that they never slow it down, yet always exact:
//
//   - The ingest pipeline hands every committed batch to Committed, which
//     only queues it. The indexer goroutine folds queued messages into an
//     in-memory segment (posting lists of the grams of the folded content
//     — 1 and 2 runes, word junctions, 3 ASCII runes with a digit or
//     punctuation, runs and alternations: search.Gram — plus
//     field keys for user, type, target and room, and time blocks: the
//     received times of every 256 messages) and into in-memory rollups
//     (messages per target per 15 minutes, per user counts and first/last
//     seen).
//   - Every FlushMessages messages (or FlushBytes of posting lists, or
//     FlushInterval) it writes the memory segment as one new database
//     segment, bucketed by gram hash into a few thousand rows, together
//     with the changed rollup rows and the new indexed id, in one
//     transaction. Small segments are merged.
//   - When it falls behind (the queue is full) it reads the messages back
//     from the database a bounded chunk at a time, flushing as it goes, so
//     the memory it holds is bounded by its Options, not by the backlog.
//   - A query first folds in whatever is still queued, then reads the
//     memory segment and the database segments; so results cover every
//     committed message, and are exactly those of a case-insensitive
//     substring match (candidates for longer queries are verified). It
//     intersects the rarest of its grams and walks only the time blocks a
//     time filter overlaps (query.go).
//
// After a crash the indexer re-reads messages newer than the indexed id from
// the database. `wsmon reindex` rebuilds everything from the messages.
package index

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/search"
	"github.com/wsmon/wsmon/internal/store"
)

// Store is what the indexer needs from the database: the messages (read
// back, listed, verified), the segments and rollups it writes, merging
// and retention. *store.Store implements it.
type Store interface {
	IndexState(ctx context.Context) (indexed, deletedBelow int64, err error)
	IndexSegments(ctx context.Context) ([]store.IndexSegment, error)
	MaxSegment(ctx context.Context) (int64, error)
	LoadRollups(ctx context.Context) ([]store.QuarterRow, []store.UserRow, error)
	IndexRowsAfter(ctx context.Context, after int64, limit, maxBytes int) ([]store.IndexRow, bool, error)
	MaxMessageID(ctx context.Context) (int64, error)
	WriteIndexFlush(ctx context.Context, f *store.IndexFlush) error
	BucketBlobsIn(ctx context.Context, buckets []int) (map[int][]store.SegBlob, error)
	IndexList(ctx context.Context, seg int64, gram uint64) ([]byte, error)
	ListsOf(ctx context.Context, gram uint64, segs []int64) (map[int64][]byte, error)
	MessagesByIDs(ctx context.Context, ids []int64, q store.MessageQuery) ([]message.Message, error)
	Messages(ctx context.Context, q store.MessageQuery) ([]message.Message, error)
	StatsScan(ctx context.Context, q store.StatsQuery) (store.Stats, error)
	Location() *time.Location

	// Merging (merge.go).
	BucketBlobsOf(ctx context.Context, bucket int, segs []int64) ([]store.SegBlob, error)
	PutBlobs(ctx context.Context, seg int64, blobs map[int][]byte, lists map[uint64][]byte) error
	CommitMerge(ctx context.Context, seg store.IndexSegment, drop []int64) error
	DeleteOrphanBlobs(ctx context.Context) error

	// Retention (prune.go).
	FirstIDFrom(ctx context.Context, t time.Time, lo int64) (int64, error)
	PruneDeltas(ctx context.Context, before int64) ([]store.PruneDelta, error)
	ApplyPrune(ctx context.Context, before int64, deltas []store.PruneDelta, dropSegs []int64) (int64, error)
}

// Options tune an Indexer. Together they bound the memory it holds,
// however far it falls behind ingest: the queue (MaxQueued messages,
// MaxQueuedBytes of content), the memory segment being filled and the one
// being written (each FlushMessages messages or FlushBytes of posting
// lists, plus one read chunk of ReadRows rows or 8 MiB of content), the
// encoding of the one being written, and the rollups (one entry per
// target and 15 minutes and per user, not per message).
type Options struct {
	FlushMessages int           // write a segment after this many messages (default 50,000)
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
	// ReadRows is how many messages are read back from the database at a
	// time when the queue overflowed, at start and in a follower (default
	// 10,000; at most 8 MiB of content either way).
	ReadRows int
	// Follow makes a read-only indexer for a web process running apart
	// from the monitor: it never writes, and before each query it reads
	// what the monitor committed (and reloads when the monitor flushed).
	// It holds at most twice the writer's memory segment: past that it
	// waits (up to FollowWait, default 10 s) for the monitor to flush, and
	// if the monitor does not, it reads on regardless, so that results stay
	// exact, and says so in the log.
	Follow     bool
	FollowWait time.Duration
	Logger     *slog.Logger
}

// segInfoKey is the gram under which a segment's info (its time blocks) is
// stored among its long lists. No text or field has it (a text gram's
// first rune is never empty, a field gram has the top bit set), and
// segments written before trigrams, run grams and time blocks lack it.
const segInfoKey uint64 = 1

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
	// foldChunk is how many messages are folded in per hold of the write
	// lock, so a query waits for at most that many (a few milliseconds).
	foldChunk = 1000
)

// Indexer maintains and queries the search index and rollups.
//
// Locks, in the order they may be taken (a goroutine holding one takes
// only locks further down the list, and never holds fold and flushMu at
// once, except SetLead, which takes merging, fold and flushMu in this
// order and waits for nothing else while it holds them):
//
//	merging  one merge at a time; Prune and Run's final flush hold it so
//	         that the segment list does not change under them.
//	fold     one goroutine at a time (Run's loop, a query bringing the
//	         index up to date, a follower's refresh) folds messages in:
//	         it alone changes consumed, mem's contents and the catch-up
//	         state, so it reads the database (rows after consumed) holding
//	         fold but not mu.
//	flushMu  one flush or prune writes at a time (a prune must not
//	         interleave with a flush's rollup rows).
//	qmu      the queue; Committed takes only this one.
//	mu       the state queries read (consumed, indexed, deletedBelow, mem,
//	         flushing, segs, nextSeg, roll). Held for writing only for
//	         in-memory changes (a chunk of messages folded in, a segment
//	         or state swapped), never across database I/O; queries hold it
//	         for reading across their database reads, which is what lets a
//	         merge or prune delete the blobs it replaced once it has taken
//	         it for writing.
type Indexer struct {
	st   Store
	opts Options
	log  *slog.Logger

	merging sync.Mutex
	running atomic.Bool // Run is running: merges go on a goroutine of their own
	// follow: this indexer only reads what another process writes
	// (Options.Follow, or a collector without the index lease: SetLead).
	follow atomic.Bool
	// checkDB: another process committed messages (Notify): look whether
	// the database has messages after the last committed batch.
	checkDB atomic.Bool

	fold     sync.Mutex
	reread   bool // under fold: rows after consumed may be in the database only (read them)
	scratchG []search.Gram
	scratchR []rune
	unbound  bool // under fold: a follower waited for the monitor in vain and reads past its bound until it reloads

	warnedOld bool // said once that old-format segments are there

	flushMu sync.Mutex

	qmu       sync.Mutex
	queue     [][]store.IndexRow
	queued    int  // messages in queue
	qbytes    int  // their content bytes
	overflow  bool // messages were not queued: read them from the database
	committed int64
	wake      chan struct{}

	mu           sync.RWMutex
	consumed     int64 // highest message id folded into memory state
	indexed      int64 // highest id written to the database
	deletedBelow int64
	mem          *memSegment          // being filled
	flushing     *memSegment          // being written; immutable
	segs         []store.IndexSegment // ascending id ranges
	blocks       map[int64]timeBlocks // segments' time blocks; absent: written before them (see segInfoKey)
	nextSeg      int64
	roll         *rollups
	lastFlush    time.Time
	peakMem      int // most messages mem and flushing held at once
}

// New loads the index state and rollups and folds in messages the database
// holds beyond the indexed id (after a crash or a stop without flush),
// flushing segments as it goes. Call it before the ingest pipeline starts
// committing.
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
	if opts.ReadRows <= 0 {
		opts.ReadRows = 10_000
	}
	if opts.FollowWait <= 0 {
		opts.FollowWait = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ix := &Indexer{st: st, opts: opts, log: opts.Logger.With("component", "index"), wake: make(chan struct{}, 1), lastFlush: time.Now()}
	ix.follow.Store(opts.Follow)
	if opts.Follow {
		return ix, ix.followUp(ctx)
	}
	// Blobs of a merge or prune cut short by a crash.
	if err := st.DeleteOrphanBlobs(ctx); err != nil {
		return nil, err
	}
	ix.fold.Lock()
	err := ix.loadLocked(ctx)
	ix.fold.Unlock()
	if err != nil {
		return nil, err
	}
	if err := ix.advance(ctx, 0); err != nil {
		return nil, err
	}
	return ix, nil
}

// loadLocked reads the index state, segments and rollups from the database
// and starts over from them with an empty memory segment; the messages
// after the indexed id are to be read back (reread). Callers hold fold.
func (ix *Indexer) loadLocked(ctx context.Context) error {
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
	roll := newRollups(qs, us)
	next := int64(1)
	ids := make([]int64, len(segs))
	for i, sg := range segs {
		next = max(next, sg.Seg+1)
		ids[i] = sg.Seg
	}
	infos, err := ix.st.ListsOf(ctx, segInfoKey, ids)
	if err != nil {
		return err
	}
	blocks := make(map[int64]timeBlocks, len(infos))
	for seg, data := range infos {
		tb, err := decodeSegInfo(data)
		if err != nil {
			return fmt.Errorf("%w (segment %d)", err, seg)
		}
		blocks[seg] = tb
	}
	if old := len(segs) - len(blocks); old > 0 && !ix.warnedOld {
		ix.warnedOld = true
		ix.log.Warn("index: segments written by an older wsmon have no trigrams, run grams or time blocks; queries on them verify every candidate (slower, still exact) until `wsmon reindex`",
			"segments", old, "of", len(segs))
	}
	ix.mu.Lock()
	ix.indexed, ix.consumed, ix.deletedBelow, ix.segs = indexed, indexed, deleted, segs
	ix.blocks = blocks
	ix.nextSeg = next
	ix.roll = roll
	ix.mem = newMemSegment()
	ix.flushing = nil
	ix.mu.Unlock()
	ix.reread = true
	ix.unbound = false
	ix.qmu.Lock()
	ix.committed = max(ix.committed, indexed)
	ix.qmu.Unlock()
	return nil
}

// memFull reports whether the memory segment is due for a flush by size.
// Callers hold fold or mu.
func (ix *Indexer) memFull() bool {
	return ix.mem.count >= ix.opts.FlushMessages || ix.mem.bytes >= ix.opts.FlushBytes
}

// Committed queues a committed batch (ingest.Committer). It never blocks:
// past MaxQueued messages or MaxQueuedBytes of content it notes an
// overflow, and the indexer reads the missed messages from the database
// instead. What is queued holds the messages' content, not their raw
// frames.
func (ix *Indexer) Committed(msgs []message.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if ix.follow.Load() {
		return nil // the index lease holder indexes them, from the database
	}
	bytes := 0
	for i := range msgs {
		bytes += len(msgs[i].Content)
	}
	ix.qmu.Lock()
	// A batch that does not follow the last one: another collector's
	// messages are between them (PostgreSQL), in the database only.
	gap := msgs[0].ID != ix.committed+1
	ix.committed = max(ix.committed, msgs[len(msgs)-1].ID)
	if gap || ix.queued+len(msgs) > ix.opts.MaxQueued || (ix.queued > 0 && ix.qbytes+bytes > ix.opts.MaxQueuedBytes) {
		if !ix.overflow {
			// The database has every message: what is queued is read
			// again from there, so let it go now.
			ix.overflow = true
			ix.queue, ix.queued, ix.qbytes = nil, 0, 0
		}
	} else if !ix.overflow {
		q := make([]store.IndexRow, len(msgs))
		for i := range msgs {
			m := &msgs[i]
			q[i] = store.IndexRow{ID: m.ID, Target: m.Target, ReceivedAt: m.ReceivedAt, User: m.User, Room: m.Room, Type: string(m.Type), Content: m.Content}
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

// stepResult says what one fold step did.
type stepResult int

const (
	stepIdle stepResult = iota // nothing was pending
	stepDone                   // folded some messages in
	stepFull                   // the memory segment is full: flush before folding more
)

// step folds in one bounded amount of what is pending: after an overflow
// (or at start) one chunk read back from the database, else the queued
// batches. Callers hold fold.
func (ix *Indexer) step(ctx context.Context) (stepResult, error) {
	ix.mu.RLock()
	full := ix.memFull()
	ix.mu.RUnlock()
	if full {
		return stepFull, nil
	}
	if ix.checkDB.Swap(false) {
		last, err := ix.st.MaxMessageID(ctx)
		if err != nil {
			ix.checkDB.Store(true)
			return stepIdle, err
		}
		ix.qmu.Lock()
		if last > ix.committed {
			// Another collector's messages: read them (and what is
			// queued) from the database.
			ix.committed = last
			ix.overflow = true
			ix.queue, ix.queued, ix.qbytes = nil, 0, 0
		}
		ix.qmu.Unlock()
	}
	ix.qmu.Lock()
	overflow := ix.overflow
	ix.qmu.Unlock()
	if overflow || ix.reread {
		rows, more, err := ix.st.IndexRowsAfter(ctx, ix.consumed, ix.opts.ReadRows, readBytes)
		if err != nil {
			return stepIdle, err
		}
		ix.foldRows(rows)
		if !more {
			// Caught up with the database. After an overflow, accept
			// batches again and read once more, so that a batch committed
			// before the queue took batches again is not missed (what both
			// hold is folded in once: ids up to consumed are skipped).
			ix.qmu.Lock()
			ix.reread = ix.overflow
			ix.overflow = false
			ix.qmu.Unlock()
			if len(rows) == 0 && !ix.reread {
				return ix.step(ctx) // what was queued meanwhile
			}
		}
		return stepDone, nil
	}
	ix.qmu.Lock()
	q := ix.queue
	ix.queue, ix.queued, ix.qbytes = nil, 0, 0
	ix.qmu.Unlock()
	if len(q) == 0 {
		return stepIdle, nil
	}
	for _, rows := range q {
		ix.foldRows(rows)
	}
	return stepDone, nil
}

// foldRows folds messages (ascending ids; those up to consumed are
// skipped) into the memory segment and rollups, foldChunk at a time under
// the write lock. Callers hold fold.
func (ix *Indexer) foldRows(rows []store.IndexRow) {
	for len(rows) > 0 {
		n := min(len(rows), foldChunk)
		ix.mu.Lock()
		for i := range rows[:n] {
			ix.addLocked(&rows[i])
		}
		held := ix.mem.count
		if ix.flushing != nil {
			held += ix.flushing.count
		}
		ix.peakMem = max(ix.peakMem, held)
		ix.mu.Unlock()
		rows = rows[n:]
	}
}

// addLocked folds one message into the memory segment and rollups.
// Callers hold fold and mu.
func (ix *Indexer) addLocked(r *store.IndexRow) {
	id := r.ID
	if id <= ix.consumed {
		return
	}
	content := r.Content
	// The content's grams go in gramChunk bytes at a time (cut at rune
	// boundaries); each chunk after the first starts with the last two
	// runes of the one before, so the bigrams and trigrams across the cut
	// are kept (a repeated gram of the same message is stored once). Run
	// grams are made in one pass over the whole content.
	for len(content) > gramChunk {
		cut := gramChunk
		for cut > 0 && !utf8.RuneStart(content[cut]) {
			cut--
		}
		_, s1 := utf8.DecodeLastRuneInString(content[:cut])
		_, s2 := utf8.DecodeLastRuneInString(content[:cut-s1])
		var g []search.Gram
		g, ix.scratchR = search.AppendGrams(ix.scratchG[:0], ix.scratchR, content[:cut])
		ix.mem.addGrams(id, g)
		ix.scratchG = g
		content = content[cut-s1-s2:]
	}
	g := ix.scratchG[:0]
	g, ix.scratchR = search.AppendGrams(g, ix.scratchR, content)
	g = search.AppendRuns(g, r.Content)
	if r.User != "" {
		g = append(g, search.FieldGram(search.FieldUser, r.User))
	}
	if r.Room != "" {
		g = append(g, search.FieldGram(search.FieldRoom, r.Room))
	}
	g = append(g, search.FieldGram(search.FieldType, r.Type), search.FieldGram(search.FieldTarget, r.Target))
	at := r.ReceivedAt.UnixMilli()
	ix.mem.add(id, at, g)
	ix.scratchG = g
	ix.roll.add(id, r.Target, at, r.User, message.IsActivity(message.Type(r.Type)))
	ix.consumed = id
}

// advance folds in what is pending until nothing is (upTo 0) or every
// message up to id upTo is in, writing the memory segment whenever it is
// full. It holds fold one step at a time, and not while it flushes, so a
// query can fold the queue in while a flush writes.
func (ix *Indexer) advance(ctx context.Context, upTo int64) error {
	for {
		ix.fold.Lock()
		res, err := ix.step(ctx)
		consumed := ix.consumed
		ix.fold.Unlock()
		if err != nil {
			return err
		}
		switch res {
		case stepIdle:
			return nil
		case stepFull:
			if err := ix.flushMem(ctx, false); err != nil {
				return err
			}
			ix.afterFlush(ctx)
			continue
		}
		if upTo > 0 && consumed >= upTo {
			return nil
		}
	}
}

// afterFlush merges segments when a run is due: on a goroutine of its own
// while Run runs (one at a time), else at once.
func (ix *Indexer) afterFlush(ctx context.Context) {
	if !ix.running.Load() {
		ix.merging.Lock()
		defer ix.merging.Unlock()
		if err := ix.maybeMerge(ctx); err != nil {
			ix.log.Warn("index merge failed; will retry", "error", err)
		}
		return
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

// Run folds in committed messages as they come and flushes segments, until
// ctx is cancelled; then it flushes what it holds and returns.
func (ix *Indexer) Run(ctx context.Context) error {
	ix.running.Store(true)
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
		if ix.follow.Load() {
			continue // a collector without the index lease: queries follow the writer
		}
		if err := ix.advance(ctx, 0); err != nil {
			if ctx.Err() == nil {
				ix.log.Warn("index: reading messages failed; will retry", "error", err)
			}
			continue
		}
		ix.mu.RLock()
		due := ix.mem.count > 0 && time.Since(ix.lastFlush) >= ix.opts.FlushInterval
		ix.mu.RUnlock()
		if due {
			if err := ix.flushMem(ctx, true); err != nil {
				ix.log.Warn("index flush failed; will retry", "error", err)
				continue
			}
			ix.afterFlush(ctx)
		}
	}
}

// Flush folds in every committed message (flushing on the way when the
// memory segment fills), then writes the memory segment and changed
// rollups to the database. Queries keep working meanwhile: the segment
// being written stays visible from memory until the database has it. A
// follower does nothing.
func (ix *Indexer) Flush(ctx context.Context) error {
	if ix.follow.Load() {
		return nil
	}
	if err := ix.advance(ctx, 0); err != nil {
		return err
	}
	return ix.flushMem(ctx, true)
}

// flushMem writes the memory segment (when it is full, or whatever it
// holds with force) and the changed rollups. It takes flushMu, and mu only
// to swap the segment in and out: folding goes on into a new memory
// segment while the old one is encoded and written.
func (ix *Indexer) flushMem(ctx context.Context, force bool) error {
	ix.flushMu.Lock()
	defer ix.flushMu.Unlock()
	ix.mu.Lock()
	seg := ix.mem
	if (!force && !ix.memFull()) || (seg.count == 0 && !ix.roll.dirty()) {
		ix.mu.Unlock()
		return nil // another goroutine flushed it meanwhile, or nothing to write
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
		f.Lists[segInfoKey] = encodeSegInfo(seg.blocks)
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
		ix.blocks[f.Segment.Seg] = seg.blocks
	}
	ix.lastFlush = time.Now()
	return nil
}

// Notify tells the indexer that another process committed messages
// (PostgreSQL's commit notifications, several collectors): the writer
// reads them from the database; a follower reads before its next query
// anyway.
func (ix *Indexer) Notify() {
	ix.checkDB.Store(true)
	select {
	case ix.wake <- struct{}{}:
	default:
	}
}

// Following reports whether the indexer follows another process's index
// (Options.Follow, or SetLead(false)) instead of writing it.
func (ix *Indexer) Following() bool { return ix.follow.Load() }

// SetLead makes the indexer the one writing the index (lead, a collector
// that took the index lease) or a follower of the one that does (a
// collector that lost it). Either way it reloads the index state from the
// database: a new writer continues from what the last one wrote (reading
// the messages after it back), and what a former writer held in memory
// and had not written is dropped, the new writer indexes it.
func (ix *Indexer) SetLead(ctx context.Context, lead bool) error {
	if ix.follow.Load() == !lead {
		return nil
	}
	ix.merging.Lock() // no merge runs across the switch
	defer ix.merging.Unlock()
	ix.fold.Lock()
	ix.flushMu.Lock()
	ix.follow.Store(!lead)
	var err error
	if lead {
		// Blobs of a merge or prune the former writer did not finish.
		err = ix.st.DeleteOrphanBlobs(ctx)
	}
	if err == nil {
		err = ix.loadLocked(ctx)
	}
	ix.qmu.Lock()
	ix.queue, ix.queued, ix.qbytes, ix.overflow = nil, 0, 0, false
	ix.qmu.Unlock()
	ix.flushMu.Unlock()
	ix.fold.Unlock()
	if err != nil {
		return err
	}
	if lead {
		ix.Notify()
	}
	return nil
}

// Status of the indexer, for metrics and the benchmark.
type Status struct {
	Consumed, Indexed int64
	Segments          int
	MemMessages       int // messages in the memory segments (being filled and being written)
	Queued            int // messages queued, not folded in yet
	// PeakMemMessages is the most messages the memory segments held at
	// once since the start: bounded by FlushMessages plus one read chunk
	// or queue, however far the indexer fell behind.
	PeakMemMessages int
}

// Status returns a snapshot.
func (ix *Indexer) Status() Status {
	ix.qmu.Lock()
	queued := ix.queued
	ix.qmu.Unlock()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := ix.mem.count
	if ix.flushing != nil {
		n += ix.flushing.count
	}
	return Status{Consumed: ix.consumed, Indexed: ix.indexed, Segments: len(ix.segs), MemMessages: n, Queued: queued, PeakMemMessages: ix.peakMem}
}

// fresh brings the index up to every message committed before the call,
// so a query sees them all: it folds in what is queued (and after an
// overflow reads the database, flushing as it goes). A follower instead
// reads what the monitor process committed, reloading when the monitor
// has flushed.
func (ix *Indexer) fresh(ctx context.Context) error {
	if ix.follow.Load() {
		return ix.followUp(ctx)
	}
	ix.qmu.Lock()
	upTo := ix.committed
	ix.qmu.Unlock()
	ix.mu.RLock()
	behind := ix.consumed < upTo
	ix.mu.RUnlock()
	if !behind {
		return nil
	}
	// The work is the indexer's own: a cancelled request does not undo it.
	return ix.advance(context.WithoutCancel(ctx), upTo)
}

// followUp brings a follower up to what the monitor committed: it reloads
// when the monitor flushed, merged or pruned, then reads the rows after
// consumed. Past twice the writer's memory segment it waits for the
// monitor to flush (see Options.Follow).
func (ix *Indexer) followUp(ctx context.Context) error {
	ix.fold.Lock()
	defer ix.fold.Unlock()
	var waitUntil time.Time
	for {
		indexed, deleted, err := ix.st.IndexState(ctx)
		if err != nil {
			return err
		}
		maxSeg, err := ix.st.MaxSegment(ctx)
		if err != nil {
			return err
		}
		ix.mu.RLock()
		stale := ix.roll == nil || indexed != ix.indexed || deleted != ix.deletedBelow || maxSeg != ix.nextSeg-1
		ix.mu.RUnlock()
		if stale {
			if err := ix.loadLocked(ctx); err != nil {
				return err
			}
		}
		ix.mu.RLock()
		full := ix.mem.count >= 2*ix.opts.FlushMessages || ix.mem.bytes >= 2*ix.opts.FlushBytes
		held := ix.mem.count
		ix.mu.RUnlock()
		if full && !ix.unbound {
			if waitUntil.IsZero() {
				waitUntil = time.Now().Add(ix.opts.FollowWait)
			}
			if time.Now().Before(waitUntil) {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(50 * time.Millisecond):
				}
				continue
			}
			ix.unbound = true
			ix.log.Warn("index: the monitor has not written its index for a while; reading its messages anyway (memory grows with them)",
				"messages", held)
		}
		rows, more, err := ix.st.IndexRowsAfter(ctx, ix.consumed, ix.opts.ReadRows, readBytes)
		if err != nil {
			return err
		}
		ix.foldRows(rows)
		if !more {
			ix.reread = false
			return nil
		}
	}
}
