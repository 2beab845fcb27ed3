package journal

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// shrinkAbove is the record size past which a record is read into a
// buffer of its own that the reader does not keep.
const shrinkAbove = 4 << 20

// Reader reads records in sequence order, waiting for new ones. Records are
// visible to it once the journal has written them to the file (within
// FlushInterval of Append).
type Reader struct {
	j    *Journal
	seg  uint64 // first seq of the open segment
	f    *os.File
	br   *bufio.Reader
	next uint64 // lowest seq to return next
	buf  []byte
}

// NewReader returns a reader positioned at the first record with seq >= from.
func (j *Journal) NewReader(from uint64) (*Reader, error) {
	r := &Reader{j: j, next: from, br: bufio.NewReaderSize(nil, 1<<20)}
	return r, nil
}

// Close closes the reader's file.
func (r *Reader) Close() error {
	if r.f != nil {
		err := r.f.Close()
		r.f = nil
		return err
	}
	return nil
}

// ErrEOF is returned by Next when the journal is closed and every written
// record has been read.
var ErrEOF = errors.New("journal: end of closed journal")

// Next returns the next record, waiting up to ctx's deadline for one to be
// written. Record.Data is only valid until the next call. A reader holds
// one record at a time (and a 1 MiB read buffer), never a whole segment. It returns
// ctx.Err() on timeout or cancellation and ErrEOF after the journal closed.
func (r *Reader) Next(ctx context.Context) (Record, error) {
	for {
		rec, ok, err := r.TryNext()
		if err != nil || ok {
			return rec, err
		}
		r.j.mu.Lock()
		ch, finished, durable := r.j.notify, r.j.finished, r.j.durable
		r.j.mu.Unlock()
		if r.next <= durable {
			continue // written meanwhile
		}
		if finished {
			// Close wrote everything before setting finished, and nothing is
			// appended after: every record has been read.
			return Record{}, ErrEOF
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return Record{}, ctx.Err()
		}
	}
}

// TryNext returns the next record if one has been written, without waiting.
func (r *Reader) TryNext() (Record, bool, error) {
	r.j.mu.Lock()
	durable := r.j.durable
	segs := r.j.segments
	r.j.mu.Unlock()
	for r.next <= durable {
		if r.f == nil && r.seg == 0 {
			if err := r.open(segs); err != nil {
				return Record{}, false, err
			}
			if r.f == nil {
				return Record{}, false, nil
			}
		}
		rec, err := r.read()
		if err == io.EOF {
			// End of this segment: move to the one holding r.next.
			if !r.hasLaterSegment(segs) {
				return Record{}, false, nil
			}
			r.Close()
			if err := r.open(segs); err != nil {
				return Record{}, false, err
			}
			continue
		}
		if err != nil {
			return Record{}, false, err
		}
		if rec.Seq < r.next {
			continue // before the requested start
		}
		r.next = rec.Seq + 1
		return rec, true, nil
	}
	return Record{}, false, nil
}

func (r *Reader) hasLaterSegment(segs []uint64) bool {
	for _, s := range segs {
		if s > r.seg {
			return true
		}
	}
	return false
}

// open opens the segment to read next: at first the last segment starting
// at or before r.next, afterwards the one following the segment just read.
func (r *Reader) open(segs []uint64) error {
	first, found := uint64(0), false
	for _, s := range segs {
		if r.seg == 0 {
			if s <= r.next || !found {
				first, found = s, true
			}
		} else if s > r.seg {
			first, found = s, true
			break
		}
	}
	if !found {
		return nil
	}
	f, err := os.Open(segmentPath(r.j.dir, first))
	if err != nil {
		return fmt.Errorf("journal: open segment: %w", err)
	}
	r.f, r.seg = f, first
	r.br.Reset(f)
	return nil
}

func (r *Reader) read() (Record, error) {
	var hdr [headerSize]byte
	if _, err := io.ReadFull(r.br, hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return Record{}, fmt.Errorf("journal: torn record header in segment %d", r.seg)
		}
		return Record{}, err
	}
	l := int(binary.LittleEndian.Uint32(hdr[:]))
	if l < fixedSize || l > maxRecord {
		return Record{}, fmt.Errorf("journal: corrupt record length %d in segment %d", l, r.seg)
	}
	switch {
	case l > shrinkAbove:
		// A large record gets a buffer of its own, not kept: the caller
		// copies what it keeps, and the reader does not pin 16 MiB.
		r.buf = make([]byte, l)
	case cap(r.buf) < l || cap(r.buf) > shrinkAbove:
		r.buf = make([]byte, l, max(l, 64<<10))
	}
	r.buf = r.buf[:l]
	if _, err := io.ReadFull(r.br, r.buf); err != nil {
		return Record{}, fmt.Errorf("journal: torn record in segment %d: %w", r.seg, err)
	}
	if crc32.Checksum(r.buf, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
		return Record{}, fmt.Errorf("journal: checksum mismatch in segment %d", r.seg)
	}
	var rec Record
	if err := decodePayload(r.buf, &rec); err != nil {
		return Record{}, fmt.Errorf("journal: segment %d: %w", r.seg, err)
	}
	return rec, nil
}
