package journal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// located is where a record's bytes are in the journal directory.
type located struct {
	seq  uint64
	path string
	off  int64
	n    int64
	data string
}

// writeJournal appends n records to a new journal in dir and closes it. It
// returns where each record landed.
func writeJournal(t testing.TB, dir string, n int, segSize int64) []located {
	t.Helper()
	j, err := Open(dir, 1, Options{SegmentSize: segSize, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		data := fmt.Sprintf("message %d %s", i, strings.Repeat("x", i%50))
		if _, err := j.Append(Record{Kind: KindFrame, Target: "t", Session: 3, At: time.Unix(0, int64(i)), Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := listSegments(dir)
	var out []located
	for _, s := range segs {
		path := segmentPath(dir, s)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(b); {
			l := headerSize + int(binary.LittleEndian.Uint32(b[off:]))
			var rec Record
			if err := decodePayload(b[off+headerSize:off+l], &rec); err != nil {
				t.Fatal(err)
			}
			out = append(out, located{rec.Seq, path, int64(off), int64(l), string(rec.Data)})
			off += l
		}
	}
	if len(out) != n {
		t.Fatalf("wrote %d records, found %d", n, len(out))
	}
	return out
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// readAll opens the journal and returns every record it holds.
func readAll(t testing.TB, j *Journal) []Record {
	t.Helper()
	r, err := j.NewReader(1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []Record
	for {
		rec, ok, err := r.TryNext()
		if err != nil {
			t.Fatalf("TryNext after %d records: %v", len(out), err)
		}
		if !ok {
			return out
		}
		rec.Data = bytes.Clone(rec.Data)
		out = append(out, rec)
	}
}

// corrupt xors the byte at off of path with x.
func corrupt(t testing.TB, path string, off int64, x byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= x
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func seqs(recs []Record) []uint64 {
	var s []uint64
	for _, r := range recs {
		s = append(s, r.Seq)
	}
	return s
}

func TestCorruptRecordIsSkippedNotTruncated(t *testing.T) {
	const n = 300
	// Byte offsets are relative to the record's start: 0 length, 4 CRC,
	// 8 sequence, 16 kind, 34+ target and data.
	cases := []struct {
		name   string
		damage func(t *testing.T, recs []located) // returns nothing; damages records
		lost   []int                              // indexes into recs
	}{
		{"data byte", func(t *testing.T, r []located) {
			corrupt(t, r[n-20].path, r[n-20].off+40, 0x01)
		}, []int{n - 20}},
		{"length made huge", func(t *testing.T, r []located) {
			corrupt(t, r[n-30].path, r[n-30].off+3, 0x40)
		}, []int{n - 30}},
		{"length made short", func(t *testing.T, r []located) {
			corrupt(t, r[n-31].path, r[n-31].off, 0x20)
		}, []int{n - 31}},
		{"sequence number", func(t *testing.T, r []located) {
			corrupt(t, r[n-40].path, r[n-40].off+9, 0xff)
		}, []int{n - 40}},
		{"checksum", func(t *testing.T, r []located) {
			corrupt(t, r[n-41].path, r[n-41].off+5, 0x10)
		}, []int{n - 41}},
		{"first record of an older segment", func(t *testing.T, r []located) {
			i := firstOfSegment(r, 1)
			corrupt(t, r[i].path, r[i].off+2, 0x80)
		}, nil},
		{"last record of an older segment", func(t *testing.T, r []located) {
			i := firstOfSegment(r, 2) - 1
			corrupt(t, r[i].path, r[i].off+20, 0x04)
		}, nil},
		{"three records zeroed", func(t *testing.T, r []located) {
			i := threeInOneSegment(r)
			b, _ := os.ReadFile(r[i].path)
			clear(b[r[i].off : r[i+2].off+r[i+2].n])
			os.WriteFile(r[i].path, b, 0o644)
		}, nil},
		{"two spans in the last segment", func(t *testing.T, r []located) {
			corrupt(t, r[n-10].path, r[n-10].off+50, 0x01)
			corrupt(t, r[n-5].path, r[n-5].off+1, 0x01)
		}, []int{n - 10, n - 5}},
		{"last record of the last segment", func(t *testing.T, r []located) {
			corrupt(t, r[n-1].path, r[n-1].off+30, 0x01)
		}, []int{n - 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			recs := writeJournal(t, dir, n, 4096)
			lost := tc.lost
			switch tc.name {
			case "first record of an older segment":
				lost = []int{firstOfSegment(recs, 1)}
			case "last record of an older segment":
				lost = []int{firstOfSegment(recs, 2) - 1}
			case "three records zeroed":
				i := threeInOneSegment(recs)
				lost = []int{i, i + 1, i + 2}
			}
			tc.damage(t, recs)
			var damaged [][]byte
			for _, i := range lost {
				b, _ := os.ReadFile(recs[i].path)
				damaged = append(damaged, b[recs[i].off:recs[i].off+recs[i].n])
			}

			var log bytes.Buffer
			j, err := Open(dir, 1, Options{SegmentSize: 4096, Logger: slog.New(slog.NewTextHandler(&log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, j)
			var want []uint64
			for i, r := range recs {
				if !slices.Contains(lost, i) {
					want = append(want, r.seq)
				}
			}
			if !slices.Equal(seqs(got), want) {
				t.Fatalf("read %d records, want %d; missing or extra around %v", len(got), len(want), lost)
			}
			for _, rec := range got {
				if string(rec.Data) != recs[rec.Seq-1].data {
					t.Fatalf("record %d: %q", rec.Seq, rec.Data)
				}
			}
			// The bad bytes are kept aside, and said so.
			q, _ := os.ReadDir(filepath.Join(dir, QuarantineDir))
			var kept []byte
			for _, e := range q {
				b, _ := os.ReadFile(filepath.Join(dir, QuarantineDir, e.Name()))
				kept = append(kept, b...)
			}
			records, nbytes := j.Corrupt()
			if tc.name == "last record of the last segment" {
				// A complete last record with a bad checksum is corruption,
				// not a torn write.
				if records != 1 {
					t.Errorf("Corrupt() = %d records, want 1", records)
				}
			} else if records != int64(len(lost)) || nbytes != int64(len(kept)) {
				t.Errorf("Corrupt() = %d records %d bytes; want %d records, %d bytes (quarantined)", records, nbytes, len(lost), len(kept))
			}
			if len(kept) == 0 || !strings.Contains(log.String(), "skipped corrupt records") || !strings.Contains(log.String(), "offset=") {
				t.Errorf("quarantined %d bytes; log:\n%s", len(kept), log.String())
			}
			for k, d := range damaged {
				if !bytes.Contains(kept, d) {
					t.Errorf("bytes of record %d not in quarantine", lost[k])
				}
			}
			// Appending continues after the last record; a second Open finds
			// nothing more to repair and reads the same records.
			seq, err := j.Append(Record{Kind: KindFrame, Data: []byte("after")})
			if err != nil {
				t.Fatal(err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			j2, err := Open(dir, 1, Options{SegmentSize: 4096, Logger: discard()})
			if err != nil {
				t.Fatal(err)
			}
			defer j2.Close()
			if r, b := j2.Corrupt(); r != 0 || b != 0 {
				t.Errorf("second Open: Corrupt() = %d, %d", r, b)
			}
			again := readAll(t, j2)
			if !slices.Equal(seqs(again), append(want, seq)) {
				t.Errorf("second Open read %v", seqs(again))
			}
		})
	}
}

// threeInOneSegment returns an index i from 100 on such that records i to
// i+2 are in the same segment.
func threeInOneSegment(recs []located) int {
	i := 100
	for recs[i].path != recs[i+2].path {
		i++
	}
	return i
}

// firstOfSegment returns the index of the first record of the k-th segment.
func firstOfSegment(recs []located, k int) int {
	seg := 0
	for i := 1; i < len(recs); i++ {
		if recs[i].path != recs[i-1].path {
			seg++
			if seg == k {
				return i
			}
		}
	}
	panic("not enough segments")
}

func TestTornTailIsCutNotCounted(t *testing.T) {
	dir := t.TempDir()
	recs := writeJournal(t, dir, 20, 1<<20)
	// A crash in the middle of a write: the first 30 bytes of a record.
	b := appendRecord(nil, &Record{Seq: 21, Kind: KindFrame, Data: []byte("never finished")})
	f, _ := os.OpenFile(recs[0].path, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(b[:30])
	f.Close()
	var log bytes.Buffer
	j, err := Open(dir, 1, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if got := readAll(t, j); len(got) != 20 {
		t.Fatalf("read %d records", len(got))
	}
	if r, n := j.Corrupt(); r != 0 || n != 0 {
		t.Errorf("a torn tail counted as corruption: %d, %d", r, n)
	}
	if !strings.Contains(log.String(), "cut torn tail") || !strings.Contains(log.String(), "bytes=30") {
		t.Errorf("log:\n%s", log.String())
	}
	if st, _ := os.Stat(recs[0].path); st.Size() != recs[19].off+recs[19].n {
		t.Errorf("segment is %d bytes", st.Size())
	}
}

// TestRandomFlipsKeepEveryIntactRecord flips bytes at random positions of
// the journal and checks that every record whose bytes were not touched is
// read back, and none of the touched ones.
func TestRandomFlipsKeepEveryIntactRecord(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 4))
	for iter := 0; iter < 60; iter++ {
		dir := t.TempDir()
		recs := writeJournal(t, dir, 400, 8192)
		touched := map[uint64]bool{}
		for k := 1 + rng.IntN(4); k > 0; k-- {
			i := rng.IntN(len(recs))
			pos := rng.Int64N(recs[i].n)
			corrupt(t, recs[i].path, recs[i].off+pos, byte(1+rng.IntN(255)))
			touched[recs[i].seq] = true
		}
		j, err := Open(dir, 1, Options{SegmentSize: 8192, Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t, j)
		var want []uint64
		for _, r := range recs {
			if !touched[r.seq] {
				want = append(want, r.seq)
			}
		}
		if !slices.Equal(seqs(got), want) {
			t.Fatalf("iteration %d: touched %v: read %d records, want %d", iter, touched, len(got), len(want))
		}
		for _, rec := range got {
			if string(rec.Data) != recs[rec.Seq-1].data {
				t.Fatalf("iteration %d: record %d: %q", iter, rec.Seq, rec.Data)
			}
		}
		j.Close()
	}
}

// FuzzJournalRecover opens a journal whose only segment holds arbitrary
// bytes: Open must not fail or panic, the records read must be in sequence
// order, appending must continue after them, and a second Open must find
// nothing left to repair and read the same records.
func FuzzJournalRecover(f *testing.F) {
	var valid []byte
	for i := 0; i < 5; i++ {
		valid = appendRecord(valid, &Record{Seq: uint64(i + 1), Kind: KindFrame, Target: "t", Data: []byte(fmt.Sprintf("m%d", i))})
	}
	f.Add(valid)
	flipped := bytes.Clone(valid)
	flipped[len(valid)/2] ^= 1
	f.Add(flipped)
	f.Add(valid[:len(valid)-3])
	f.Add(append(bytes.Clone(valid[:40]), valid...))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(segmentPath(dir, 1), data, 0o644); err != nil {
			t.Fatal(err)
		}
		j, err := Open(dir, 1, Options{Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t, j)
		for i := 1; i < len(got); i++ {
			if got[i].Seq <= got[i-1].Seq {
				t.Fatalf("sequence goes back: %v", seqs(got))
			}
		}
		seq, err := j.Append(Record{Kind: KindFrame, Data: []byte("after")})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 && seq <= got[len(got)-1].Seq {
			t.Fatalf("appended %d after %d", seq, got[len(got)-1].Seq)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		j2, err := Open(dir, 1, Options{Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		defer j2.Close()
		if r, b := j2.Corrupt(); r != 0 || b != 0 {
			t.Fatalf("second Open found corruption: %d records, %d bytes", r, b)
		}
		again := readAll(t, j2)
		if !slices.Equal(seqs(again), append(seqs(got), seq)) {
			t.Fatalf("second Open read %v, first %v + %d", seqs(again), seqs(got), seq)
		}
	})
}
