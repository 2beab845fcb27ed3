// Package datadir owns wsmon's claim on its data directories: one process
// at a time may write a directory's journal, database and index. A writer
// (monitor, all, reindex) takes an exclusive lock on a lock file in each
// directory it writes, held for its whole life and released by the kernel
// if it dies; a second writer fails at once with an error naming the
// holder. Readers (`wsmon web`) take no lock.
package datadir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// LockName is the lock file's name in a data directory.
const LockName = "wsmon.lock"

// Holder is what a lock file says about the process holding it.
type Holder struct {
	PID   int       `json:"pid"`
	Mode  string    `json:"mode"`
	Since time.Time `json:"since"`
}

// HeldError is returned by Acquire when another process holds a lock.
type HeldError struct {
	Dir    string
	Holder Holder // zero when the lock file could not be read
}

func (e *HeldError) Error() string {
	if e.Holder.PID == 0 {
		return fmt.Sprintf("data directory %s is in use by another wsmon process: stop it first, or give this one another data_dir and database_path", e.Dir)
	}
	return fmt.Sprintf("data directory %s is in use by another wsmon (pid %d, %s, since %s): stop it first, or give this one another data_dir and database_path",
		e.Dir, e.Holder.PID, e.Holder.Mode, e.Holder.Since.Format(time.RFC3339))
}

// Lock is a set of held directory locks.
type Lock struct {
	files []*os.File
}

// Acquire locks every directory in dirs (created if missing; duplicates
// and equal paths are locked once) for a process running mode, and
// records this process as the holder. It locks all or none: on an error
// the locks taken so far are released. When another process holds one,
// the error is a *HeldError.
func Acquire(mode string, dirs ...string) (*Lock, error) {
	var abs []string
	for _, d := range dirs {
		a, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("datadir: %w", err)
		}
		if !slices.Contains(abs, a) {
			abs = append(abs, a)
		}
	}
	l := &Lock{}
	for _, d := range abs {
		f, err := lockDir(d, mode)
		if err != nil {
			l.Release()
			return nil, err
		}
		l.files = append(l.files, f)
	}
	return l, nil
}

func lockDir(dir, mode string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("datadir: create %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("datadir: open lock file: %w", err)
	}
	if err := tryLock(f); err != nil {
		defer f.Close()
		if errors.Is(err, errLocked) {
			held := &HeldError{Dir: dir}
			if b, rerr := os.ReadFile(path); rerr == nil {
				_ = json.Unmarshal(b, &held.Holder)
			}
			return nil, held
		}
		return nil, fmt.Errorf("datadir: lock %s: %w", path, err)
	}
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Mode: mode, Since: time.Now().UTC().Truncate(time.Second)})
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(b, '\n'), 0)
	}
	return f, nil
}

// Release gives the locks up. The lock files stay (removing them would
// race with a process about to lock them).
func (l *Lock) Release() {
	if l == nil {
		return
	}
	for _, f := range l.files {
		_ = unlock(f)
		_ = f.Close()
	}
	l.files = nil
}

var errLocked = errors.New("locked")
