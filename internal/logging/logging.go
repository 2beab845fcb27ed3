// Package logging owns wsmon's runtime log: a log/slog logger that writes
// to stderr and to logs/monitor.log, at the configured level, in text or
// JSON, with the file rotated by size. When the file cannot be written
// (its directory gone or read-only, a full disk) the log says so on stderr,
// goes on on stderr alone, and writes the file again once it can.
package logging

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
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

// New returns the logger and a closer for its file. It fails when the file
// cannot be opened at start; later failures are reported on stderr and
// retried (see Rotating).
func New(opts Options) (*slog.Logger, io.Closer, error) {
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	ho := &slog.HandlerOptions{Level: opts.Level}
	handler := func(w io.Writer) slog.Handler {
		if opts.JSON {
			return slog.NewJSONHandler(w, ho)
		}
		return slog.NewTextHandler(w, ho)
	}
	var w io.Writer = opts.Stderr
	var closer io.Closer = nopCloser{}
	if opts.Dir != "" {
		rf, err := OpenRotating(filepath.Join(opts.Dir, "monitor.log"), opts.MaxBytes, opts.Keep)
		if err != nil {
			return nil, nil, err
		}
		rf.stderr, rf.handler = opts.Stderr, handler
		w, closer = io.MultiWriter(opts.Stderr, rf), rf
	}
	return slog.New(handler(w)), closer, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// retryEvery is how often a failing log file is tried again.
const retryEvery = time.Second

// Rotating is an append-only file that renames itself to path.1 (shifting
// older ones up to path.keep) when it grows past maxBytes. Safe for
// concurrent use.
//
// A failed write or reopen does not stop it for good: the file is closed,
// the failure is reported on stderr (one line, then nothing more until it
// recovers), Write returns an error wrapping ErrFailing, and at most every
// second a Write tries to open the file again (recreating its directory).
// When that works the recovery and the number of lines the file missed
// are reported on stderr and in the file. A rotation whose rename fails
// leaves the file in use past its size (reported once) and is tried again
// a second later; when the file was moved or deleted underneath it, it is
// reopened at its path.
type Rotating struct {
	mu       sync.Mutex
	path     string
	maxBytes int64
	keep     int
	f        *os.File
	size     int64
	closed   bool

	failure error     // why lines are not reaching the file; nil while they are
	since   time.Time // when that began
	missed  int       // lines the file missed since then
	torn    bool      // a failed write may have left part of a line
	nextTry time.Time // earliest reopen after a failure
	rotErr  error     // why the last rotation failed (the file is still written)
	rotNext time.Time // earliest rotation retry

	retry   time.Duration
	now     func() time.Time
	stderr  io.Writer
	handler func(io.Writer) slog.Handler // formats the notices in the logger's format
}

// ErrFailing is wrapped by the error Write returns while the file cannot
// be written.
var ErrFailing = errors.New("log file not writable")

// OpenRotating opens path for appending, creating its directory.
func OpenRotating(path string, maxBytes int64, keep int) (*Rotating, error) {
	if maxBytes <= 0 {
		maxBytes = 10 << 20
	}
	if keep <= 0 {
		keep = 5
	}
	r := &Rotating{path: path, maxBytes: maxBytes, keep: keep, retry: retryEvery, now: time.Now, stderr: os.Stderr,
		handler: func(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) }}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Rotating) open() error {
	if err := os.MkdirAll(filepath.Dir(r.path), 0o755); err != nil {
		return fmt.Errorf("log: create %s: %w", filepath.Dir(r.path), err)
	}
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

// Write appends p, rotating first if the file is full. While the file
// cannot be written it returns an error wrapping ErrFailing (the logger's
// other writer, stderr, has the line).
func (r *Rotating) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, os.ErrClosed
	}
	if r.f == nil {
		if r.now().Before(r.nextTry) {
			return r.miss()
		}
		if err := r.open(); err != nil {
			r.fail(err)
			return r.miss()
		}
		r.torn = r.torn && r.size > 0 // a new file has no torn line
	}
	if r.size > 0 && r.size+int64(len(p)) > r.maxBytes && !r.now().Before(r.rotNext) {
		if r.rotate(); r.f == nil {
			return r.miss()
		}
	}
	if r.torn {
		// The failed write may have ended the file mid-line.
		if _, err := r.f.Write([]byte{'\n'}); err != nil {
			r.fail(fmt.Errorf("log: write %s: %w", r.path, err))
			return r.miss()
		}
		r.torn = false
		r.size++
	}
	if r.failure != nil && !r.recovered() {
		return r.miss()
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	if err != nil {
		r.fail(fmt.Errorf("log: write %s: %w", r.path, err))
		return r.miss()
	}
	return n, nil
}

// miss counts a line the file did not get and returns Write's error.
func (r *Rotating) miss() (int, error) {
	r.missed++
	return 0, fmt.Errorf("%w: %w", ErrFailing, r.failure)
}

// rotate shifts the files and opens a new one; on failure r.f is nil.
func (r *Rotating) rotate() {
	for i := r.keep - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", r.path, i), fmt.Sprintf("%s.%d", r.path, i+1)) // a gap in the numbers is harmless
	}
	err := os.Rename(r.path, r.path+".1")
	if err != nil && r.atPath() {
		// The file is still there but cannot be renamed: keep writing it.
		if r.rotErr == nil {
			r.notify(r.stderr, "log rotation failed, the log file grows past its size limit", "file", r.path, "error", err)
		}
		r.rotErr, r.rotNext = err, r.now().Add(r.retry)
		return
	}
	if err == nil && r.rotErr != nil {
		r.notify(r.stderr, "log rotation works again", "file", r.path)
	}
	r.rotErr = nil
	r.f.Close() // renamed, or moved or deleted underneath us: open the path
	r.f = nil
	if err := r.open(); err != nil {
		r.fail(err)
	}
}

// atPath reports whether the open file is still the one at r.path.
func (r *Rotating) atPath() bool {
	a, err1 := r.f.Stat()
	b, err2 := os.Stat(r.path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// fail closes the file after err; the first failure of a run is reported
// on stderr.
func (r *Rotating) fail(err error) {
	if r.f != nil {
		r.f.Close()
		r.f = nil
		r.torn = true
	}
	if r.failure == nil {
		r.since = r.now()
		r.notify(r.stderr, "log file failed, logging to stderr only until it can be written again", "file", r.path, "error", err)
	}
	r.failure = err
	r.nextTry = r.now().Add(r.retry)
}

// recovered writes to the file that it is written again and how many
// lines it missed, then, when that worked, says so on stderr.
func (r *Rotating) recovered() bool {
	args := []any{"file", r.path, "failed_since", r.since.Format(time.RFC3339), "missed_lines", r.missed, "error", r.failure}
	cw := countWriter{w: r.f}
	r.notify(&cw, "log file written again", args...)
	r.size += cw.n
	if cw.err != nil {
		r.fail(fmt.Errorf("log: write %s: %w", r.path, cw.err))
		return false
	}
	r.failure, r.missed = nil, 0
	r.notify(r.stderr, "log file written again", args...)
	return true
}

// notify writes one warning line to w in the logger's format.
func (r *Rotating) notify(w io.Writer, msg string, args ...any) {
	slog.New(r.handler(w)).Warn(msg, args...)
}

// countWriter counts what it writes and keeps the first error.
type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.err == nil {
		c.err = err
	}
	return n, err
}

// Close closes the file.
func (r *Rotating) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
