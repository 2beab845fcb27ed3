package logging

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
