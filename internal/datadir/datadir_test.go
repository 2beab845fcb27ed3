package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestSecondWriterIsRefusedWithTheHolder(t *testing.T) {
	a, b := t.TempDir(), filepath.Join(t.TempDir(), "new")
	first, err := Acquire("all", a, b, a+"/.") // duplicates locked once
	if err != nil {
		t.Fatal(err)
	}
	for _, dirs := range [][]string{{a}, {b}, {t.TempDir(), b}} {
		_, err := Acquire("monitor", dirs...)
		var held *HeldError
		if !errors.As(err, &held) || held.Holder.PID != os.Getpid() || held.Holder.Mode != "all" || held.Holder.Since.IsZero() {
			t.Fatalf("second Acquire(%v) = %v", dirs, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "in use by another wsmon (pid "+strconv.Itoa(os.Getpid())+", all, since ") {
			t.Fatalf("message %q", msg)
		}
	}
	// A refused Acquire took none of its locks: the third dir is free.
	free := t.TempDir()
	if _, err := Acquire("monitor", free, a); err == nil {
		t.Fatal("Acquire succeeded on a held dir")
	}
	l, err := Acquire("reindex", free)
	if err != nil {
		t.Fatalf("the refused Acquire kept a lock: %v", err)
	}
	l.Release()

	first.Release()
	again, err := Acquire("monitor", a, b)
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	again.Release()
}
