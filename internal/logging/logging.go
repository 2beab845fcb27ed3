// Package logging owns wsmon's runtime log: a log/slog logger that writes
// to stderr and to logs/monitor.log, at the configured level, in text or
// JSON, with the file rotated by size.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// Options configure the logger.
type Options struct {
	Level    slog.Level
	JSON     bool
	Dir      string    // directory of monitor.log; "" = no file
	Stderr   io.Writer // default os.Stderr
	MaxBytes int64     // rotate monitor.log past this size (default 10 MiB)
	Keep     int       // rotated files kept: monitor.log.1 .. .N (default 5)
}

// New returns the logger and a closer for its file.
func New(opts Options) (*slog.Logger, io.Closer, error) {
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	var w io.Writer = opts.Stderr
	var closer io.Closer = nopCloser{}
	if opts.Dir != "" {
		rf, err := OpenRotating(filepath.Join(opts.Dir, "monitor.log"), opts.MaxBytes, opts.Keep)
		if err != nil {
			return nil, nil, err
		}
		w, closer = io.MultiWriter(opts.Stderr, rf), rf
	}
	ho := &slog.HandlerOptions{Level: opts.Level}
	var h slog.Handler
	if opts.JSON {
		h = slog.NewJSONHandler(w, ho)
	} else {
		h = slog.NewTextHandler(w, ho)
	}
	return slog.New(h), closer, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// Rotating is an append-only file that renames itself to path.1 (shifting
// older ones up to path.keep) when it grows past maxBytes. Safe for
// concurrent use.
type Rotating struct {
	mu       sync.Mutex
	path     string
	maxBytes int64
	keep     int
	f        *os.File
	size     int64
}

// OpenRotating opens path for appending, creating its directory.
func OpenRotating(path string, maxBytes int64, keep int) (*Rotating, error) {
	if maxBytes <= 0 {
		maxBytes = 10 << 20
	}
	if keep <= 0 {
		keep = 5
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log: create %s: %w", filepath.Dir(path), err)
	}
	r := &Rotating{path: path, maxBytes: maxBytes, keep: keep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Rotating) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("log: open %s: %w", r.path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("log: stat %s: %w", r.path, err)
	}
	r.f, r.size = f, st.Size()
	return nil
}

// Write appends p, rotating first if the file is full.
func (r *Rotating) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, os.ErrClosed
	}
	if r.size > 0 && r.size+int64(len(p)) > r.maxBytes {
		r.rotate()
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

func (r *Rotating) rotate() {
	r.f.Close()
	for i := r.keep - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", r.path, i), fmt.Sprintf("%s.%d", r.path, i+1))
	}
	os.Rename(r.path, r.path+".1")
	if err := r.open(); err != nil {
		// Keep logging to stderr only; the next Write reports the error.
		r.f = nil
	}
}

// Close closes the file.
func (r *Rotating) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
