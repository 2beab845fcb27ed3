package ingest

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

// msgs returns messages from..to-1 (ids and contents), received at at.
func logMsgs(from, to int, at time.Time) []message.Message {
	var out []message.Message
	for i := from; i < to; i++ {
		out = append(out, message.Message{ID: int64(i), Target: "t", ReceivedAt: at, Content: "m" + strconv.Itoa(i), Type: message.TypeChat, Raw: []byte("m" + strconv.Itoa(i))})
	}
	return out
}

// readLog parses every line of a message log file and returns the ids; a
// line that is not one JSON object fails the test.
func readLog(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []int64
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var v struct{ ID int64 }
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %d is not a JSON object: %v: %.80q", n, err, sc.Bytes())
		}
		ids = append(ids, v.ID)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func wantIDs(t *testing.T, got []int64, from, to int) {
	t.Helper()
	if len(got) != to-from {
		t.Fatalf("log holds %d lines, want ids %d..%d: %v", len(got), from, to-1, got)
	}
	for i, id := range got {
		if id != int64(from+i) {
			t.Fatalf("line %d has id %d, want %d", i+1, id, from+i)
		}
	}
}

// TestMessageLogRecoversFromFullDisk: a write that fails part-way (no space
// left on device) leaves a torn line; the log keeps the lines it could not
// write, and once the disk takes writes again it cuts the torn line,
// reopens the file and continues: every message is there once, every line
// is a JSON object. (With bufio's sticky error the log stopped for good.)
func TestMessageLogRecoversFromFullDisk(t *testing.T) {
	dir := t.TempDir()
	l, err := NewMessageLog(dir, time.UTC, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	full := make(chan bool, 1)
	full <- false
	l.write = func(f *os.File, b []byte) (int, error) {
		isFull := <-full
		full <- isFull
		if isFull {
			n, _ := f.Write(b[:len(b)/2+3]) // part of it fits: a torn line
			return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
		}
		return f.Write(b)
	}
	setFull := func(v bool) { <-full; full <- v }
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	path := filepath.Join(dir, "messages_20260304.json")

	l.add(logMsgs(0, 10, at))
	setFull(true)
	l.add(logMsgs(10, 20, at))
	l.add(logMsgs(20, 30, at))
	if l.failing == nil {
		t.Fatal("the write failure was not noticed")
	}
	setFull(false)
	l.add(logMsgs(30, 40, at))
	if l.failing != nil {
		t.Fatalf("still failing after the disk recovered: %v", l.failing)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, readLog(t, path), 0, 40)
}

// TestMessageLogRepairsTornTail: a file left with a torn last line (a crash
// during a write) is cut back to its last complete line when opened, so
// the next line does not run into it.
func TestMessageLogRepairsTornTail(t *testing.T) {
	tests := []struct{ name, before, after string }{
		{"intact", "{\"id\":1}\n", "{\"id\":1}\n"},
		{"torn", "{\"id\":1}\n{\"id\":2,\"con", "{\"id\":1}\n"},
		{"only a torn line", "{\"id\":2,\"con", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(path, []byte(tt.before), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := repairTail(f); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(path); string(b) != tt.after {
				t.Errorf("after repair %q, want %q", b, tt.after)
			}
		})
	}
	// A torn line longer than the read chunk.
	long := "{\"id\":1}\n{\"id\":2,\"content\":\"" + string(make([]byte, 200<<10))
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte(long), 0o644)
	f, _ := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
	defer f.Close()
	if err := repairTail(f); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "{\"id\":1}\n" {
		t.Errorf("after repair %d bytes, want the first line", len(b))
	}
}
