// Package journal owns wsmon's on-disk write-ahead queue between the socket
// readers and the database. A capture reader appends each received frame
// here (an in-memory append, flushed to the file every few milliseconds), so
// the reader never waits for the database; the ingest pipeline reads the
// journal in order and records, in the same database transaction as the
// messages, the sequence number it has applied. After a crash or while the
// database is unwritable, unapplied records wait on disk, not in memory.
//
// Layout: a directory of segment files named after the sequence number of
// their first record ("00000000000000000001.wal"). A record is
//
//	u32 length | u32 CRC-32C(payload) | payload
//
// and the payload is a fixed header followed by the frame bytes (see Record).
// Each segment holds consecutive sequence numbers. Open checks every segment
// that holds unapplied records: a torn tail (a crash mid-write) is cut off, and
// a corrupt record in the middle is skipped, resynchronising on the next
// valid record, with its bytes kept in quarantine/ (see recover.go).
package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind tells what a record holds.
type Kind uint8

// Record kinds.
const (
	KindFrame        Kind = 1 // a data frame from the socket
	KindSessionStart Kind = 2 // a connection was established; Data is the URL
	KindSessionEnd   Kind = 3 // a connection ended; Data is a JSON SessionEnd
	KindGap          Kind = 4 // frames of a session were dropped; Data is a JSON Gap
)

// Flag bits of a record.
const (
	FlagBinary   uint8 = 1 << 0 // binary WebSocket frame
	FlagTooLarge uint8 = 1 << 1 // frame exceeded the read limit; Data is a prefix
	FlagControl  uint8 = 1 << 2 // protocol control frame, kept on request (keep_control)
)

// Record is one journal entry. Seq is assigned by Append.
type Record struct {
	Seq     uint64
	Kind    Kind
	Flags   uint8
	At      time.Time // when the frame was read
	Target  string
	Session int64
	Data    []byte
}

const (
	headerSize  = 8                     // length + crc
	fixedSize   = 8 + 1 + 1 + 8 + 8 + 2 // seq, kind, flags, at, session, target length
	maxRecord   = 1 << 30
	segmentExt  = ".wal"
	segmentSize = 64 << 20 // start a new segment past this size
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options tune a Journal. Zero values take the defaults.
type Options struct {
	FlushInterval time.Duration // how often buffered appends are written to the file (default 5 ms)
	SyncInterval  time.Duration // how often the file is fsynced (default 1 s)
	// MaxPending bounds the bytes of frame records held in memory, not yet
	// written (default DefaultMaxPending). Past it, Append waits while the
	// disk is merely slow (up to StallTimeout) and drops the frame, with
	// ErrFull, while writes fail (see Append).
	MaxPending   int
	StallTimeout time.Duration // longest an Append waits for a slow disk before dropping (default 10 s)
	SegmentSize  int64         // default 64 MiB
	Logger       *slog.Logger  // recovery reports, write and fsync failures (default slog.Default())
}

// DefaultMaxPending is Options.MaxPending's default: 32 MiB, a quarter of the default soft memory limit (128 MiB).
const DefaultMaxPending = 32 << 20

// pendingReserve is what session and gap records may add past MaxPending:
// they are small and keep the session history whole while frames are
// dropped.
const pendingReserve = 4 << 20

// Journal is an append-only, crash-safe record queue. Append is safe for
// concurrent use; there is one reader at a time (NewReader).
type Journal struct {
	dir  string
	opts Options

	mu       sync.Mutex
	space    chan struct{} // closed and replaced when pending shrinks (a full Append waits on it)
	pending  []byte        // encoded records not yet written
	nextSeq  uint64
	closed   bool
	finished bool // Close has written everything: readers may report ErrEOF

	// Disk health (under mu): the failing write's or fsync's error, since
	// when, and what was dropped meanwhile, by session (recorded as gap
	// records once a write succeeds again).
	writeErr, syncErr error
	failSince         time.Time
	gaps              map[gapKey]*Gap
	dropped           dropCount // since Open
	droppedNow        dropCount // since the current failure began

	// Written by the flusher only (under wmu), published under mu.
	wmu      sync.Mutex
	file     *os.File
	fileSize int64
	segFirst uint64 // first seq of the current segment

	// Published state for readers (under mu).
	durable  uint64        // highest seq written to the OS (readable by readers)
	notify   chan struct{} // closed and replaced whenever durable advances
	segments []uint64      // first seqs of existing segments, ascending

	// Found corrupt by Open (see Corrupt).
	corruptRecords, corruptBytes atomic.Int64

	flushNow chan struct{} // pending is over 1 MiB: write now
	work     chan struct{} // pending became non-empty: write within FlushInterval
	done     chan struct{}
	stopped  chan struct{}
}

// Open opens (or creates) the journal in dir. next is the lowest sequence
// number the caller will accept for new records (e.g. one past what the
// database has already applied), so sequence numbers never go backwards even
// if the directory was emptied.
func Open(dir string, next uint64, opts Options) (*Journal, error) {
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 5 * time.Millisecond
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = time.Second
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.StallTimeout <= 0 {
		opts.StallTimeout = 10 * time.Second
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = segmentSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if next == 0 {
		next = 1
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("journal: create %s: %w", dir, err)
	}
	j := &Journal{
		dir:      dir,
		opts:     opts,
		notify:   make(chan struct{}),
		flushNow: make(chan struct{}, 1),
		work:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	j.space = make(chan struct{})
	j.gaps = map[gapKey]*Gap{}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	segs, lastSeq, validSize, err := j.recoverSegments(segs, next)
	if err != nil {
		return nil, err
	}
	j.segments = segs
	last := uint64(0)
	if len(segs) > 0 {
		first := segs[len(segs)-1]
		path := segmentPath(dir, first)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("journal: open %s: %w", path, err)
		}
		j.file, j.fileSize, j.segFirst = f, validSize, first
		last = lastSeq
		if last == 0 && first > 0 {
			last = first - 1
		}
		if next > last+1 {
			// Sequence numbers jump (the database is ahead of the journal):
			// start a new segment, so that each segment holds consecutive
			// sequence numbers, which recovery relies on.
			_ = f.Close()
			j.file = nil
		}
	}
	j.nextSeq = max(next, last+1)
	j.durable = j.nextSeq - 1
	go j.flusher()
	return j, nil
}

// Dir returns the journal directory.
func (j *Journal) Dir() string { return j.dir }

// Append assigns the record the next sequence number, encodes it into the
// in-memory buffer and returns the sequence; rec.Data is copied, so the
// caller may reuse it. It does not wait for the disk unless MaxPending bytes
// already wait to be written. Then, for a frame record:
//
//   - while writes or fsyncs fail (disk full, I/O error), Append returns at
//     once an error wrapping ErrFull: the frame is dropped, counted, and
//     recorded in a KindGap record for its session once a write succeeds
//     again (see Health);
//   - while the disk is merely slow, Append waits for space, at most
//     StallTimeout, then drops the frame the same way.
//
// Session and gap records are taken past MaxPending, up to a small reserve,
// so the session history stays whole while frames are dropped.
func (j *Journal) Append(rec Record) (uint64, error) {
	if len(rec.Target) > 0xffff {
		return 0, fmt.Errorf("journal: target name too long")
	}
	size := headerSize + fixedSize + len(rec.Target) + len(rec.Data)
	if size > maxRecord {
		return 0, fmt.Errorf("journal: record of %d bytes too large", size)
	}
	j.mu.Lock()
	limit := j.opts.MaxPending
	if rec.Kind != KindFrame {
		limit += pendingReserve
	}
	var deadline *time.Timer
	for len(j.pending) > limit && !j.closed {
		failing := j.writeErr != nil || j.syncErr != nil
		if !failing && deadline == nil {
			deadline = time.NewTimer(j.opts.StallTimeout)
			defer deadline.Stop()
		}
		if failing {
			logDrop, err := j.dropLocked(&rec, size, j.failure())
			j.mu.Unlock()
			if logDrop != nil {
				logDrop()
			}
			return 0, err
		}
		space := j.space
		j.mu.Unlock()
		select {
		case <-space:
			j.mu.Lock()
		case <-deadline.C:
			j.mu.Lock()
			if len(j.pending) > limit && !j.closed {
				// A write that neither fails nor finishes is a failure
				// too, until a write succeeds.
				after := j.setWriteErrLocked(fmt.Errorf("journal: disk stalled: no write finished in %s", j.opts.StallTimeout))
				logDrop, err := j.dropLocked(&rec, size, j.failure())
				j.mu.Unlock()
				for _, f := range []func(){after, logDrop} {
					if f != nil {
						f()
					}
				}
				return 0, err
			}
		}
	}
	if j.closed {
		j.mu.Unlock()
		return 0, ErrClosed
	}
	wasEmpty := len(j.pending) == 0
	seq := j.appendLocked(&rec)
	big := len(j.pending) > 1<<20
	j.mu.Unlock()
	switch {
	case big:
		select {
		case j.flushNow <- struct{}{}:
		default:
		}
	case wasEmpty:
		select {
		case j.work <- struct{}{}:
		default:
		}
	}
	return seq, nil
}

// appendLocked assigns rec the next sequence number and encodes it into
// pending. j.mu is held.
func (j *Journal) appendLocked(rec *Record) uint64 {
	seq := j.nextSeq
	j.nextSeq++
	rec.Seq = seq
	j.pending = appendRecord(j.pending, rec)
	return seq
}

// ErrFull is wrapped by the error Append returns when it dropped a frame
// because the journal could not write and its memory bound was reached.
var ErrFull = errors.New("journal full: frame dropped")

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("journal: closed")

func appendRecord(b []byte, r *Record) []byte {
	payload := fixedSize + len(r.Target) + len(r.Data)
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(payload))
	b = append(b, 0, 0, 0, 0) // crc placeholder
	p := len(b)
	b = binary.LittleEndian.AppendUint64(b, r.Seq)
	b = append(b, byte(r.Kind), r.Flags)
	b = binary.LittleEndian.AppendUint64(b, uint64(r.At.UnixNano()))
	b = binary.LittleEndian.AppendUint64(b, uint64(r.Session))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(r.Target)))
	b = append(b, r.Target...)
	b = append(b, r.Data...)
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(b[p:], castagnoli))
	return b
}

// decodePayload parses a payload; Data and Target alias buf... Target is
// copied (it is small and long-lived), Data aliases buf.
func decodePayload(buf []byte, r *Record) error {
	if len(buf) < fixedSize {
		return errors.New("short payload")
	}
	r.Seq = binary.LittleEndian.Uint64(buf)
	r.Kind = Kind(buf[8])
	r.Flags = buf[9]
	r.At = time.Unix(0, int64(binary.LittleEndian.Uint64(buf[10:])))
	r.Session = int64(binary.LittleEndian.Uint64(buf[18:]))
	tl := int(binary.LittleEndian.Uint16(buf[26:]))
	if fixedSize+tl > len(buf) {
		return errors.New("bad target length")
	}
	r.Target = string(buf[fixedSize : fixedSize+tl])
	r.Data = buf[fixedSize+tl:]
	return nil
}

// flusher writes pending bytes to the current segment FlushInterval after
// the first append into an empty buffer (at once past 1 MiB), and fsyncs
// SyncInterval after the first write since the last fsync. It is the only
// goroutine touching files for writing. It sleeps while there is nothing
// to do: an idle journal wakes no one.
func (j *Journal) flusher() {
	defer close(j.stopped)
	flushT, syncT := time.NewTimer(time.Hour), time.NewTimer(time.Hour)
	flushT.Stop()
	syncT.Stop()
	flushArmed, syncArmed := false, false
	var lastLog time.Time
	var spare []byte
	for {
		stop := false
		select {
		case <-j.work:
			if !flushArmed {
				flushT.Reset(j.opts.FlushInterval)
				flushArmed = true
			}
			continue
		case <-syncT.C:
			syncArmed = false
			j.sync()
			continue
		case <-flushT.C:
			flushArmed = false
		case <-j.flushNow:
		case <-j.done:
			stop = true
		}
		wrote := false
		spare, wrote = j.flushOnce(spare)
		if wrote && !syncArmed {
			syncT.Reset(j.opts.SyncInterval)
			syncArmed = true
		}
		if stop {
			j.sync()
			return
		}
		// Still failing, or appended to while writing: come back. A failed
		// fsync is retried here too (nothing else would sync again when no
		// write follows).
		retry, pending := j.afterFlush(&lastLog)
		if retry {
			j.sync()
		}
		if !flushArmed && (retry || pending) {
			d := j.opts.FlushInterval
			if retry {
				d = retryInterval
			}
			flushT.Reset(d)
			flushArmed = true
		}
	}
}

// sync fsyncs the current segment and records the outcome.
func (j *Journal) sync() {
	j.wmu.Lock()
	var err error
	if j.file != nil {
		if err = j.file.Sync(); err != nil {
			err = fmt.Errorf("journal: fsync %s: %w", j.file.Name(), err)
		}
	}
	j.wmu.Unlock()
	j.setSyncErr(err)
}

// flushOnce swaps the pending buffer out and writes it. On a write error the
// unwritten bytes are put back in front of newer appends and retried next
// time.
//
// It returns the spare buffer for the next call and whether anything was
// written.
func (j *Journal) flushOnce(spare []byte) ([]byte, bool) {
	j.mu.Lock()
	if len(j.pending) == 0 {
		j.mu.Unlock()
		return spare, false
	}
	buf := j.pending
	j.pending = spare[:0]
	j.mu.Unlock()

	written, err := j.writeRecords(buf)
	var after func() // logs, once j.mu is released
	defer func() {
		if after != nil {
			after()
		}
	}()
	j.mu.Lock()
	defer j.mu.Unlock()
	if written > 0 {
		close(j.space)
		j.space = make(chan struct{})
	}
	if err != nil {
		j.pending = append(buf[written:len(buf):len(buf)], j.pending...)
		after = j.setWriteErrLocked(err)
		return nil, written > 0
	}
	after = j.setWriteErrLocked(nil)
	return buf[:0], true
}

// writeRecords writes whole records, starting a new segment when the current
// one is full, and publishes each written chunk to readers. It returns the
// number of bytes of buf written; a failed write is truncated away so the
// file only ever holds whole records.
func (j *Journal) writeRecords(buf []byte) (int, error) {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	written := 0
	for written < len(buf) {
		rest := buf[written:]
		if j.file == nil || j.fileSize >= j.opts.SegmentSize {
			if err := j.rotate(binary.LittleEndian.Uint64(rest[headerSize:])); err != nil {
				return written, err
			}
		}
		// Take as many whole records as fit the segment (at least one).
		n, lastSeq := 0, uint64(0)
		for n < len(rest) {
			l := headerSize + int(binary.LittleEndian.Uint32(rest[n:]))
			if n > 0 && j.fileSize+int64(n+l) > j.opts.SegmentSize {
				break
			}
			lastSeq = binary.LittleEndian.Uint64(rest[n+headerSize:])
			n += l
		}
		w, err := j.file.Write(rest[:n])
		if err != nil {
			if w > 0 {
				_ = j.file.Truncate(j.fileSize)
			}
			return written, fmt.Errorf("journal: %w", err) // err names the file
		}
		j.fileSize += int64(n)
		written += n
		if n < len(rest) {
			j.fileSize = j.opts.SegmentSize // full: the next chunk rotates
		}
		j.publish(lastSeq)
	}
	return written, nil
}

// publish makes records up to seq visible to readers.
func (j *Journal) publish(seq uint64) {
	j.mu.Lock()
	if seq > j.durable {
		j.durable = seq
		close(j.notify)
		j.notify = make(chan struct{})
	}
	j.mu.Unlock()
}

func (j *Journal) rotate(first uint64) error {
	if j.file != nil {
		_ = j.file.Sync()
		_ = j.file.Close()
		j.file = nil
	}
	path := segmentPath(j.dir, first)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("journal: create segment: %w", err)
	}
	j.file, j.fileSize, j.segFirst = f, 0, first
	j.mu.Lock()
	if n := len(j.segments); n == 0 || j.segments[n-1] != first {
		j.segments = append(j.segments, first)
	}
	j.mu.Unlock()
	return nil
}

// Flush writes everything appended so far to the file before returning.
func (j *Journal) Flush() error {
	for {
		j.mu.Lock()
		n, err := len(j.pending), j.writeErr
		j.mu.Unlock()
		if n == 0 {
			return nil
		}
		j.flushOnce(nil)
		j.mu.Lock()
		n, err = len(j.pending), j.writeErr
		j.mu.Unlock()
		if err != nil && n > 0 {
			return err
		}
	}
}

// LastSeq returns the sequence number of the last appended record.
func (j *Journal) LastSeq() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.nextSeq - 1
}

// Close flushes and syncs everything and closes the files. Appends after
// Close fail with ErrClosed; a blocked Append is released with ErrClosed.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	close(j.space)
	j.space = make(chan struct{})
	j.mu.Unlock()
	close(j.done)
	<-j.stopped
	err := j.Flush()
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if j.file != nil {
		if serr := j.file.Sync(); err == nil {
			err = serr
		}
		if cerr := j.file.Close(); err == nil {
			err = cerr
		}
		j.file = nil
	}
	j.mu.Lock()
	j.finished = true
	close(j.notify)
	j.notify = make(chan struct{})
	j.mu.Unlock()
	return err
}

// Release deletes segments that hold only records with seq <= applied. The
// segment being written is never deleted.
func (j *Journal) Release(applied uint64) error {
	j.mu.Lock()
	segs := append([]uint64(nil), j.segments...)
	j.mu.Unlock()
	j.wmu.Lock()
	current := j.segFirst
	j.wmu.Unlock()
	var removed []uint64
	for i := 0; i+1 < len(segs); i++ {
		// Segment i holds seqs [segs[i], segs[i+1]).
		if segs[i+1]-1 > applied || segs[i] == current {
			break
		}
		if err := os.Remove(segmentPath(j.dir, segs[i])); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("journal: release: %w", err)
		}
		removed = append(removed, segs[i])
	}
	if len(removed) > 0 {
		j.mu.Lock()
		j.segments = j.segments[len(removed):]
		j.mu.Unlock()
	}
	return nil
}

func segmentPath(dir string, first uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", first, segmentExt))
}

func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("journal: list %s: %w", dir, err)
	}
	var segs []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segmentExt) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, segmentExt), 10, 64)
		if err != nil {
			continue
		}
		segs = append(segs, n)
	}
	sort.Slice(segs, func(a, b int) bool { return segs[a] < segs[b] })
	return segs, nil
}
