//go:build linux

package ingest

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMessageLogOnFullTmpfs runs the message log on a real 64 KiB tmpfs
// (root only): the disk fills up in the middle of a batch (a torn line),
// then space comes back; the log must continue with every message, each
// line one JSON object.
func TestMessageLogOnFullTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	l, err := NewMessageLog(dir, time.UTC, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	pad := strings.Repeat("x", 300)
	batch := func(from, to int) {
		ms := logMsgs(from, to, at)
		for i := range ms {
			ms[i].Content += pad
		}
		l.Committed(ms)
		time.Sleep(100 * time.Millisecond) // let the log's goroutine write it
	}
	batch(0, 1)
	// Fill the filesystem.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(bytes.Repeat([]byte{0}, 1024)); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()
	batch(1, 40) // ~13 KB: only part of it fits (what was left of a page)
	batch(40, 50)
	os.Remove(filler)
	batch(50, 60)
	if err := l.Close(); err != nil {
		t.Fatalf("Close after the disk recovered: %v", err)
	}
	wantIDs(t, readLog(t, filepath.Join(dir, "messages_20260304.json")), 0, 60)
}
