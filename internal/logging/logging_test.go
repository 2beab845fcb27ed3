package logging

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRotationAndLevel(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	log, closer, err := New(Options{Level: slog.LevelWarn, Dir: dir, Stderr: &stderr, MaxBytes: 2000, Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		log.Info("hidden")
		log.Warn("shown", "i", i)
	}
	closer.Close()
	if strings.Contains(stderr.String(), "hidden") || !strings.Contains(stderr.String(), "shown") {
		t.Fatal("level not honoured")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "monitor.log*"))
	if len(files) != 3 { // monitor.log, .1, .2
		t.Fatalf("files %v", files)
	}
	for _, f := range files {
		if fi, _ := os.Stat(f); fi.Size() > 2000 {
			t.Fatalf("%s is %d bytes, over the limit", f, fi.Size())
		}
	}
}

// failingLogger is a text logger on dir/monitor.log whose Rotating uses the
// clock *now.
func failingLogger(t *testing.T, dir string, maxBytes int64, now *time.Time) (*slog.Logger, *Rotating, *bytes.Buffer) {
	t.Helper()
	var stderr bytes.Buffer
	log, closer, err := New(Options{Level: slog.LevelInfo, Dir: dir, Stderr: &stderr, MaxBytes: maxBytes, Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closer.Close() })
	rf := closer.(*Rotating)
	rf.now = func() time.Time { return *now }
	return log, rf, &stderr
}

// TestReopenFailsThenResumes: the log directory is replaced by a regular
// file, so rotation cannot reopen monitor.log. File logging fails (said
// once on stderr), every line still reaches stderr, a reopen is tried at
// most every second, and once the directory can be created again the file
// is written again, starting with a line that says how many lines it
// missed. (Before, the first failed reopen stopped file logging for good,
// silently.)
func TestReopenFailsThenResumes(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "logs")
	now := time.Unix(1700000000, 0)
	log, _, stderr := failingLogger(t, dir, 600, &now)
	log.Info("before", "i", 0)

	if err := os.Rename(dir, dir+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 20 { // past 600 bytes: rotation, and the reopen fails
		log.Info("while broken", "i", i)
	}
	if n := strings.Count(stderr.String(), "log file failed"); n != 1 {
		t.Fatalf("stderr says %d times that the log file failed, want once:\n%s", n, stderr)
	}
	if n := strings.Count(stderr.String(), "while broken"); n != 20 {
		t.Fatalf("stderr has %d of the 20 lines", n)
	}

	// The cause goes; within the retry interval nothing is tried, after it
	// the file is written again.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	log.Info("too soon")
	if _, err := os.Stat(filepath.Join(dir, "monitor.log")); err == nil {
		t.Fatal("reopened before the retry interval")
	}
	now = now.Add(retryEvery)
	log.Info("after", "i", 1)
	log.Info("after", "i", 2)

	got, err := os.ReadFile(filepath.Join(dir, "monitor.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "log file written again") || !strings.Contains(lines[0], "missed_lines=") ||
		!strings.Contains(lines[1], "after i=1") || !strings.Contains(lines[2], "after i=2") {
		t.Fatalf("monitor.log after recovery:\n%s", got)
	}
	if !strings.Contains(stderr.String(), "log file written again") {
		t.Fatalf("stderr does not say the file is written again:\n%s", stderr)
	}
	if n := strings.Count(stderr.String(), "log file failed"); n != 1 {
		t.Fatalf("stderr says %d times that the log file failed", n)
	}
}

// TestWriteFailsThenResumes: writes fail (monitor.log is a link to
// /dev/full: no space left on device); stderr says so once and keeps every
// line; once monitor.log is a regular file again the log writes it.
func TestWriteFailsThenResumes(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "monitor.log")
	if err := os.Symlink("/dev/full", path); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	log, rf, stderr := failingLogger(t, dir, 1<<20, &now)
	for i := range 5 {
		log.Info("disk full", "i", i)
	}
	if n := strings.Count(stderr.String(), "log file failed"); n != 1 || !strings.Contains(stderr.String(), "no space left on device") {
		t.Fatalf("stderr:\n%s", stderr)
	}
	if n := strings.Count(stderr.String(), "disk full"); n != 5 {
		t.Fatalf("stderr has %d of the 5 lines", n)
	}
	if _, err := rf.Write([]byte("x\n")); !errors.Is(err, ErrFailing) {
		t.Fatalf("Write while failing = %v, want ErrFailing", err)
	}

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	now = now.Add(retryEvery)
	log.Info("space again")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), "log file written again") || !strings.Contains(string(got), "missed_lines=6") ||
		!strings.HasSuffix(string(got), "msg=\"space again\"\n") {
		t.Fatalf("monitor.log after recovery:\n%s", got)
	}
}
