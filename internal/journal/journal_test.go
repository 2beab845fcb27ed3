package journal

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func readN(t *testing.T, r *Reader, n int) []Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []Record
	for len(out) < n {
		rec, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d records: %v", len(out), err)
		}
		rec.Data = bytes.Clone(rec.Data)
		out = append(out, rec)
	}
	return out
}

func TestAppendReadAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir, 1, Options{SegmentSize: 4096, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	r, _ := j.NewReader(1)
	defer r.Close()
	const n = 2000
	go func() {
		for i := 0; i < n; i++ {
			_, err := j.Append(Record{Kind: KindFrame, Target: "t", Session: 7, At: time.Unix(0, int64(i)), Data: []byte(fmt.Sprintf("msg-%d", i))})
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	recs := readN(t, r, n)
	for i, rec := range recs {
		if rec.Seq != uint64(i+1) || string(rec.Data) != fmt.Sprintf("msg-%d", i) || rec.Session != 7 || rec.Target != "t" || rec.At.UnixNano() != int64(i) {
			t.Fatalf("record %d = %+v", i, rec)
		}
	}
	segs, _ := listSegments(dir)
	if len(segs) < 5 {
		t.Fatalf("expected several segments, got %d", len(segs))
	}
	if err := j.Release(1000); err != nil {
		t.Fatal(err)
	}
	left, _ := listSegments(dir)
	if len(left) >= len(segs) || left[0] > 1001 {
		t.Fatalf("release: before %v after %v", segs, left)
	}
	// A new reader from the middle starts exactly there.
	r2, _ := j.NewReader(1500)
	defer r2.Close()
	if got := readN(t, r2, 1); got[0].Seq != 1500 {
		t.Fatalf("reader from 1500 got %d", got[0].Seq)
	}
}

func TestReopenContinuesAndCutsTornTail(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir, 1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := j.Append(Record{Kind: KindFrame, Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	// Simulate a crash mid-write: garbage after the last whole record.
	segs, _ := listSegments(dir)
	f, _ := os.OpenFile(segmentPath(dir, segs[0]), os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{200, 0, 0, 0, 1, 2})
	f.Close()

	j2, err := Open(dir, 1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j2.Close()
	seq, err := j2.Append(Record{Kind: KindFrame, Data: []byte("after")})
	if err != nil || seq != 11 {
		t.Fatalf("append after reopen: seq %d err %v", seq, err)
	}
	r, _ := j2.NewReader(1)
	recs := readN(t, r, 11)
	if string(recs[10].Data) != "after" {
		t.Fatalf("last record %q", recs[10].Data)
	}
}

func TestOpenHonoursMinimumNext(t *testing.T) {
	j, err := Open(filepath.Join(t.TempDir(), "j"), 500, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if seq, _ := j.Append(Record{Kind: KindFrame}); seq != 500 {
		t.Fatalf("seq %d, want 500", seq)
	}
}

func TestConcurrentAppendsAreAllReadOnce(t *testing.T) {
	j, err := Open(t.TempDir(), 1, Options{SegmentSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 2500; i++ {
				j.Append(Record{Kind: KindFrame, Target: fmt.Sprint(w), Data: []byte(fmt.Sprint(i))})
			}
		}(w)
	}
	r, _ := j.NewReader(1)
	recs := readN(t, r, 10000)
	wg.Wait()
	last := map[string]int{"0": -1, "1": -1, "2": -1, "3": -1}
	for i, rec := range recs {
		if rec.Seq != uint64(i+1) {
			t.Fatalf("gap at %d: seq %d", i, rec.Seq)
		}
		var n int
		fmt.Sscan(string(rec.Data), &n)
		if n != last[rec.Target]+1 {
			t.Fatalf("writer %s out of order: %d after %d", rec.Target, n, last[rec.Target])
		}
		last[rec.Target] = n
	}
}

func TestNextTimesOutAndEOFAfterClose(t *testing.T) {
	j, _ := Open(t.TempDir(), 1, Options{})
	r, _ := j.NewReader(1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.Next(ctx); err != context.DeadlineExceeded {
		t.Fatalf("want deadline, got %v", err)
	}
	j.Append(Record{Kind: KindFrame, Data: []byte("last")})
	j.Close()
	if _, err := j.Append(Record{}); err != ErrClosed {
		t.Fatalf("append after close: %v", err)
	}
	rec, err := r.Next(context.Background())
	if err != nil || string(rec.Data) != "last" {
		t.Fatalf("got %q %v", rec.Data, err)
	}
	if _, err := r.Next(context.Background()); err != ErrEOF {
		t.Fatalf("want ErrEOF, got %v", err)
	}
}

func BenchmarkAppend(b *testing.B) {
	j, _ := Open(b.TempDir(), 1, Options{})
	defer j.Close()
	data := bytes.Repeat([]byte("a"), 150)
	b.SetBytes(150)
	for i := 0; i < b.N; i++ {
		j.Append(Record{Kind: KindFrame, Target: "demo", Data: data, At: time.Now()})
	}
}
