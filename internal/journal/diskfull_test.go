//go:build linux

package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs of size bytes on a new temp dir (root only).
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fillDisk writes a filler file in dir until the filesystem is full.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return filler
		}
	}
}

// syncLog is a concurrency-safe log sink.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestDiskFullPolicy runs the journal on a real 1 MiB tmpfs and fills it:
// the write failure must be reported at once (log and Health), frames held
// in memory up to MaxPending and then dropped with ErrFull without
// blocking, session records still taken; once space returns every
// accepted record is read exactly once, in order, and each session's
// dropped frames are recorded as one gap record.
func TestDiskFullPolicy(t *testing.T) {
	dir := mountTmpfs(t, 1<<20)
	logs := &syncLog{}
	j, err := Open(filepath.Join(dir, "journal"), 1, Options{
		FlushInterval: time.Millisecond, MaxPending: 64 << 10,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	r, err := j.NewReader(1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	payload := bytes.Repeat([]byte("x"), 1000)
	at := time.Unix(1_700_000_000, 0)
	var accepted []uint64
	appendFrame := func(session int64, i int) error {
		seq, err := j.Append(Record{Kind: KindFrame, Target: "t", Session: session, At: at.Add(time.Duration(i) * time.Millisecond), Data: payload})
		if err == nil {
			accepted = append(accepted, seq)
		}
		return err
	}
	for i := range 10 {
		if err := appendFrame(1, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Flush(); err != nil {
		t.Fatal(err)
	}
	filler := fillDisk(t, dir)

	// Step 1: the failure is seen at the first write that does not fit
	// (the segment's last page had room for a few), logged and reported.
	i := 10
	for ; j.Health().Err == nil; i++ {
		if i > 40 {
			t.Fatal("Health reports no write failure on a full disk")
		}
		if err := appendFrame(1, i); err != nil {
			t.Fatalf("append %d on a full disk: %v (must be held in memory)", i, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	h := j.Health()
	if !errors.Is(h.Err, syscall.ENOSPC) || h.Since.IsZero() || h.PendingBytes == 0 {
		t.Fatalf("Health on a full disk = %+v", h)
	}
	if !strings.Contains(logs.String(), "journal write failed") {
		t.Fatalf("no log line for the failed write:\n%s", logs)
	}

	// Step 2: frames are held up to MaxPending, then dropped at once.
	var dropped1, dropped2 int64
	for ; i < 300; i++ {
		session := int64(1 + i%2)
		start := time.Now()
		err := appendFrame(session, i)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Append blocked %v on a full disk", d)
		}
		switch {
		case err == nil:
		case errors.Is(err, ErrFull):
			if session == 1 {
				dropped1++
			} else {
				dropped2++
			}
		default:
			t.Fatalf("append %d: %v", i, err)
		}
	}
	h = j.Health()
	if dropped1 == 0 || dropped2 == 0 || h.DroppedFrames != dropped1+dropped2 || h.DroppedBytes != h.DroppedFrames*int64(len(payload)) {
		t.Fatalf("dropped %d+%d, Health %+v", dropped1, dropped2, h)
	}
	if h.PendingBytes > h.MaxPending+2*len(payload) {
		t.Fatalf("held %d bytes in memory, bound %d", h.PendingBytes, h.MaxPending)
	}
	if !strings.Contains(logs.String(), "journal memory limit reached") {
		t.Fatalf("no log line for dropping:\n%s", logs)
	}
	// Session records are still taken (the reserve).
	endSeq, err := j.Append(Record{Kind: KindSessionEnd, Target: "t", Session: 2, At: at.Add(time.Second), Data: []byte(`{"code":1000}`)})
	if err != nil {
		t.Fatalf("session end on a full disk: %v", err)
	}
	accepted = append(accepted, endSeq)
	t.Logf("full disk: %d frames held (%d bytes), %d dropped", len(accepted)-10, h.PendingBytes, h.DroppedFrames)

	// Step 3: space returns; everything held is written, the gaps recorded.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the journal to recover", func() bool { return j.Health().Err == nil })
	if !strings.Contains(logs.String(), "journal writes succeed again") {
		t.Fatalf("no recovery log line:\n%s", logs)
	}
	// New appends go through again.
	if err := appendFrame(1, 400); err != nil {
		t.Fatal(err)
	}
	want := len(accepted) + 2 // and two gap records
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []uint64
	gaps := map[int64]Gap{}
	for len(got)+len(gaps) < want {
		rec, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("read after %d records: %v", len(got), err)
		}
		if rec.Kind == KindGap {
			g, err := DecodeGap(rec.Data)
			if err != nil {
				t.Fatal(err)
			}
			gaps[rec.Session] = g
			continue
		}
		got = append(got, rec.Seq)
	}
	if fmt.Sprint(got) != fmt.Sprint(accepted) {
		t.Fatalf("read %v\nwant %v", got, accepted)
	}
	if gaps[1].Frames != dropped1 || gaps[2].Frames != dropped2 || gaps[1].Bytes != dropped1*int64(len(payload)) ||
		!strings.Contains(gaps[1].Error, "no space left") || gaps[1].From.After(gaps[1].To) {
		t.Fatalf("gap records %+v, dropped %d and %d", gaps, dropped1, dropped2)
	}
	if h := j.Health(); h.DroppedFrames != dropped1+dropped2 || !h.Since.IsZero() {
		t.Fatalf("Health after recovery = %+v", h)
	}
}

// TestStalledDiskDropsAfterTimeout: with writes that neither fail nor
// finish (a stalled disk, simulated by holding the writer's lock), a full
// buffer makes Append wait at most StallTimeout, then drop.
func TestStalledDiskDropsAfterTimeout(t *testing.T) {
	j, err := Open(t.TempDir(), 1, Options{FlushInterval: time.Millisecond, MaxPending: 4 << 10, StallTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	j.wmu.Lock() // the flusher's writes now hang
	payload := bytes.Repeat([]byte("y"), 1024)
	var full error
	for i := 0; i < 20 && full == nil; i++ {
		_, full = j.Append(Record{Kind: KindFrame, Target: "t", Session: 1, At: time.Now(), Data: payload})
	}
	h := j.Health()
	j.wmu.Unlock()
	if !errors.Is(full, ErrFull) || !strings.Contains(full.Error(), "stalled") {
		t.Fatalf("Append on a stalled disk: %v", full)
	}
	if h.DroppedFrames != 1 || h.Err == nil {
		t.Fatalf("Health while stalled = %+v", h)
	}
	// The stalled write finishes: the drop is recorded as a gap.
	waitUntil(t, "the journal to recover", func() bool { return j.Health().Err == nil })
	r, err := j.NewReader(1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		rec, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("no gap record: %v", err)
		}
		if rec.Kind == KindGap {
			if g, _ := DecodeGap(rec.Data); g.Frames != 1 || !strings.Contains(g.Error, "stalled") {
				t.Fatalf("gap %+v", g)
			}
			return
		}
	}
}
