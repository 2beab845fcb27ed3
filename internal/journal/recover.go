package journal

// Recovery at Open.
//
// Open checks, record by record (length, CRC-32C, kind, sequence), every
// segment that may hold records the caller has not applied. Records do not
// depend on each other, so a bad span in the middle is skipped rather than
// taken as the end of the journal (unlike a WAL whose records build on each
// other, such as Prometheus's):
//
//   - the bytes from the bad record up to the next record that validates are
//     copied to quarantine/<segment>-<offset>.bad, logged (segment, offset,
//     bytes, records lost) and counted (Journal.Corrupt);
//   - the valid records after the span move to a segment file of their own,
//     named after their first sequence, and the original is cut before the
//     span; so every segment file holds consecutive sequence numbers, which
//     is what makes resynchronisation reliable;
//   - a torn tail (an incomplete last record of the last segment, as a crash
//     in the middle of a write leaves) is quarantined and cut, logged, and not
//     counted as corruption.
//
// Resynchronisation scans forward one byte at a time for an offset where a
// whole record validates: a plausible length that fits the file, a known
// kind, a target length that fits the payload, a sequence number in the
// window the lost bytes allow (at least the one expected, at most one more
// per 34 bytes skipped, since no record is shorter), and a matching CRC-32C.
// On random bytes a false match needs the 64-bit sequence to fall in that
// window and the 32-bit checksum to match: below 2^-32 × w/2^64 per offset
// for a window of w sequences, i.e. never in practice. A false match on
// bytes crafted by a sender (a chat message that contains a well-formed
// record with the right sequence number) is possible only when the record
// holding it is itself corrupt, and costs at most the records its length
// spans. Only when the strict window finds nothing does a second pass allow
// sequence jumps of up to 2^32 (a journal whose database was ahead of it).
//
// Bit rot appearing while wsmon runs is not repaired on the fly: Reader.Next
// returns an error naming the segment, and the next Open repairs it.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
)

// minRecordSize is the size of a record with an empty target and no data.
const minRecordSize = headerSize + fixedSize

// QuarantineDir is the subdirectory of the journal directory where the bytes
// of corrupt records and torn tails are kept for inspection.
const QuarantineDir = "quarantine"

// Corrupt reports what Open found corrupt in the middle of the journal and
// skipped: the number of records lost (from the gap in sequence numbers;
// at least one per bad span) and the number of bytes moved to the quarantine
// directory. Torn tails are not counted. The counts are those of this Open:
// the spans were cut from the segments, so the next Open finds none of them.
func (j *Journal) Corrupt() (records, bytes int64) {
	return j.corruptRecords.Load(), j.corruptBytes.Load()
}

// span is a range of a segment file.
type span struct {
	off, n      int64
	first, last uint64 // sequence numbers of a run of valid records
}

// badSpan is a range of bytes that holds no valid record.
type badSpan struct {
	off, n int64
	lost   uint64 // records lost; 0 for a torn tail
	torn   bool
}

// window reads a segment through a buffer that moves forward (and, rarely,
// back) with the scan.
type window struct {
	r    io.ReaderAt
	size int64
	buf  []byte
	base int64 // buf holds bytes [base, base+len(buf))
}

// at returns n bytes at off (n at most the buffer's capacity), or nil when
// the file ends first.
func (w *window) at(off int64, n int) ([]byte, error) {
	if off < 0 || off+int64(n) > w.size {
		return nil, nil
	}
	if off >= w.base && off+int64(n) <= w.base+int64(len(w.buf)) {
		return w.buf[off-w.base : off-w.base+int64(n)], nil
	}
	m := int(min(int64(cap(w.buf)), w.size-off))
	w.buf = w.buf[:m]
	if _, err := w.r.ReadAt(w.buf, off); err != nil && !errors.Is(err, io.EOF) {
		w.buf = w.buf[:0]
		return nil, err
	}
	w.base = off
	return w.buf[:n], nil
}

// crc computes the CRC-32C of n bytes at off.
func (w *window) crc(off, n int64) (uint32, error) {
	var sum uint32
	for n > 0 {
		k := min(n, int64(cap(w.buf)))
		b, err := w.at(off, int(k))
		if err != nil || b == nil {
			return 0, errors.Join(err, io.ErrUnexpectedEOF)
		}
		sum = crc32.Update(sum, castagnoli, b)
		off += k
		n -= k
	}
	return sum, nil
}

// check reports whether a whole valid record with a sequence number in
// [lo, hi] starts at off, and returns its size and sequence.
func (w *window) check(off int64, lo, hi uint64) (size int64, seq uint64, ok bool, err error) {
	h, err := w.at(off, minRecordSize)
	if err != nil || h == nil {
		return 0, 0, false, err
	}
	l := int64(binary.LittleEndian.Uint32(h))
	if l < fixedSize || l > maxRecord || off+headerSize+l > w.size {
		return 0, 0, false, nil
	}
	seq = binary.LittleEndian.Uint64(h[headerSize:])
	if seq < lo || seq > hi {
		return 0, 0, false, nil
	}
	if k := Kind(h[headerSize+8]); k < KindFrame || k > KindSessionEnd {
		return 0, 0, false, nil
	}
	if tl := int64(binary.LittleEndian.Uint16(h[headerSize+26:])); fixedSize+tl > l {
		return 0, 0, false, nil
	}
	want := binary.LittleEndian.Uint32(h[4:])
	sum, err := w.crc(off+headerSize, l)
	if err != nil || sum != want {
		return 0, 0, false, err
	}
	return headerSize + l, seq, true, nil
}

// resync returns the offset of the first valid record after the bad record
// at start, or -1 if there is none.
func (w *window) resync(start int64, expected uint64) (int64, uint64, error) {
	for pass := 0; pass < 2; pass++ {
		for cand := start + 1; cand+minRecordSize <= w.size; cand++ {
			hi := expected + uint64(cand-start)/minRecordSize + 1
			if pass == 1 {
				hi = expected + 1<<32
			}
			_, seq, ok, err := w.check(cand, expected, hi)
			if err != nil {
				return 0, 0, err
			}
			if ok {
				return cand, seq, nil
			}
		}
	}
	return -1, 0, nil
}

// incomplete reports whether the record at off runs past the end of the
// file (or its length is implausible, as in a zero-filled tail): a torn
// write rather than a complete record with bad contents.
func (w *window) incomplete(off int64) bool {
	h, _ := w.at(off, headerSize)
	if h == nil {
		return true
	}
	l := int64(binary.LittleEndian.Uint32(h))
	return l < fixedSize || l > maxRecord || off+headerSize+l > w.size
}

// scanRecords splits a segment into runs of valid records and bad spans.
// first is the sequence number the segment is named after; nextFirst that
// of the following segment (0 for the last segment).
func scanRecords(ra io.ReaderAt, size int64, first, nextFirst uint64) ([]span, []badSpan, error) {
	w := &window{r: ra, size: size, buf: make([]byte, 0, 1<<20)}
	var runs []span
	var bad []badSpan
	off, expected, inRun := int64(0), first, false
	for off < size {
		l, seq, ok, err := w.check(off, expected, math.MaxUint64)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			if !inRun {
				runs = append(runs, span{off: off, first: seq})
				inRun = true
			}
			r := &runs[len(runs)-1]
			r.n += l
			r.last = seq
			off += l
			expected = seq + 1
			continue
		}
		inRun = false
		next, seq, err := w.resync(off, expected)
		if err != nil {
			return nil, nil, err
		}
		if next < 0 {
			b := badSpan{off: off, n: size - off, lost: 1}
			switch {
			case nextFirst == 0 && w.incomplete(off):
				b.torn, b.lost = true, 0
			case nextFirst > expected:
				b.lost = nextFirst - expected
			}
			bad = append(bad, b)
			break
		}
		bad = append(bad, badSpan{off: off, n: next - off, lost: max(seq-expected, 1)})
		off = next
	}
	return runs, bad, nil
}

// recoverSegments checks and repairs every segment that may hold records at
// or after next (see the comment at the top of this file). It returns the
// segments afterwards, and the last sequence number and size of the last.
func (j *Journal) recoverSegments(segs []uint64, next uint64) (out []uint64, lastSeq uint64, lastSize int64, err error) {
	changed := false
	for i, first := range segs {
		nextFirst := uint64(0)
		if i+1 < len(segs) {
			nextFirst = segs[i+1]
			if nextFirst-1 < next {
				continue // every record applied already
			}
		}
		runs, bad, err := j.repairSegment(first, nextFirst)
		if err != nil {
			return nil, 0, 0, err
		}
		changed = changed || len(bad) > 0
		if nextFirst == 0 {
			if len(runs) > 0 {
				lastSeq, lastSize = runs[len(runs)-1].last, runs[len(runs)-1].n
			}
		}
	}
	if !changed {
		return segs, lastSeq, lastSize, nil
	}
	out, err = listSegments(j.dir)
	return out, lastSeq, lastSize, err
}

// repairSegment scans one segment and, if it holds bad spans, quarantines
// them and rewrites the segment as one file per run of valid records.
func (j *Journal) repairSegment(first, nextFirst uint64) ([]span, []badSpan, error) {
	path := segmentPath(j.dir, first)
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("journal: open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	runs, bad, err := scanRecords(f, st.Size(), first, nextFirst)
	if err != nil {
		return nil, nil, fmt.Errorf("journal: scan %s: %w", path, err)
	}
	if len(bad) == 0 {
		return runs, nil, nil
	}
	qdir := filepath.Join(j.dir, QuarantineDir)
	if err := os.MkdirAll(qdir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("journal: create %s: %w", qdir, err)
	}
	for _, b := range bad {
		qpath := filepath.Join(qdir, fmt.Sprintf("%020d-%012d.bad", first, b.off))
		if err := copyToFile(qpath, io.NewSectionReader(f, b.off, b.n)); err != nil {
			return nil, nil, err
		}
		if b.torn {
			j.opts.Logger.Warn("journal: cut torn tail", "segment", filepath.Base(path),
				"offset", b.off, "bytes", b.n, "quarantine", qpath)
			continue
		}
		j.opts.Logger.Warn("journal: skipped corrupt records", "segment", filepath.Base(path),
			"offset", b.off, "bytes", b.n, "records_lost", b.lost, "quarantine", qpath)
		j.corruptRecords.Add(int64(b.lost))
		j.corruptBytes.Add(b.n)
	}
	// Runs after the first bad span get segment files of their own, written
	// before the original is cut: a crash in between repeats the repair.
	keep, replaced := int64(0), false
	for i, r := range runs {
		if i == 0 && r.off == 0 {
			keep = r.n
			continue
		}
		tmp := segmentPath(j.dir, r.first) + ".tmp"
		if err := copyToFile(tmp, io.NewSectionReader(f, r.off, r.n)); err != nil {
			return nil, nil, err
		}
		if err := os.Rename(tmp, segmentPath(j.dir, r.first)); err != nil {
			return nil, nil, fmt.Errorf("journal: %w", err)
		}
		replaced = replaced || r.first == first // garbage before the first record
	}
	if err := syncDir(j.dir); err != nil {
		return nil, nil, err
	}
	switch {
	case replaced:
	case keep == 0 && len(runs) > 0:
		err = os.Remove(path)
	default:
		err = os.Truncate(path, keep)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("journal: repair %s: %w", path, err)
	}
	return runs, bad, syncDir(j.dir)
}

// copyToFile writes r to path and fsyncs it.
func copyToFile(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	_, err = io.Copy(f, r)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("journal: write %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("journal: sync %s: %w", dir, err)
	}
	return nil
}
