package journal

import (
	"encoding/json"
	"fmt"
	"time"
)

// Disk-failure policy. When a write or an fsync of the journal fails (a
// full disk, an I/O error), the journal:
//
//  1. logs the error at once (and again every minute while it lasts, with
//     what is held and dropped), and reports it in Health;
//  2. keeps what it could not write in memory, up to MaxPending bytes of
//     frames, and retries the write every retryInterval;
//  3. past that bound drops new frames at once (Append returns ErrFull, so
//     a capture reader never blocks and keeps answering pings), counting
//     them per session;
//  4. when a write and an fsync succeed again, writes what it held, appends
//     one KindGap record per session that lost frames (when, how many, how
//     many bytes, why), logs the recovery, and clears the error.
//
// Nothing acknowledged by Append is lost by a failing disk unless the
// process dies before the disk recovers: what is held in memory is not
// durable, and Health says so for as long as it lasts.

// retryInterval spaces write retries while the disk fails.
const retryInterval = 250 * time.Millisecond

// failureLogEvery spaces the repeated error log while the disk fails.
const failureLogEvery = time.Minute

// Gap is the data of a KindGap record: frames of one session that the
// journal dropped because it could not write them and its memory bound was
// reached.
type Gap struct {
	From   time.Time `json:"from"`   // when the first was dropped
	To     time.Time `json:"to"`     // when the last was dropped
	Frames int64     `json:"frames"` // how many frames
	Bytes  int64     `json:"bytes"`  // their bytes
	Error  string    `json:"error"`  // why: the write error of the time
}

// DecodeGap parses a KindGap record's data.
func DecodeGap(data []byte) (Gap, error) {
	var g Gap
	if err := json.Unmarshal(data, &g); err != nil {
		return Gap{}, fmt.Errorf("journal: bad gap record: %w", err)
	}
	return g, nil
}

type gapKey struct {
	target  string
	session int64
}

type dropCount struct{ frames, bytes int64 }

// Health is the journal's disk state, for /api/stats and /readyz.
type Health struct {
	Err           error     // the failing write's or fsync's error; nil when healthy
	Since         time.Time // when the current failure began; zero when healthy
	PendingBytes  int       // bytes held in memory, not yet written
	MaxPending    int       // the memory bound for frames (Options.MaxPending)
	DroppedFrames int64     // frames dropped since Open
	DroppedBytes  int64     // their bytes
}

// Health reports whether the journal's writes succeed, what it holds in
// memory and what it has dropped.
func (j *Journal) Health() Health {
	j.mu.Lock()
	defer j.mu.Unlock()
	return Health{Err: j.failure(), Since: j.failSince, PendingBytes: len(j.pending), MaxPending: j.opts.MaxPending,
		DroppedFrames: j.dropped.frames, DroppedBytes: j.dropped.bytes}
}

// failure is the current write or fsync error. j.mu is held.
func (j *Journal) failure() error {
	if j.writeErr != nil {
		return j.writeErr
	}
	return j.syncErr
}

// dropLocked counts a frame Append could not keep and returns the error
// Append reports. j.mu is held; the returned function, if any, logs and
// must be called after unlocking.
func (j *Journal) dropLocked(rec *Record, size int, cause error) (func(), error) {
	if rec.Kind != KindFrame {
		return nil, fmt.Errorf("journal: %s record not kept (%d bytes waiting to be written): %w", kindName(rec.Kind), len(j.pending), cause)
	}
	first := j.droppedNow.frames == 0
	j.dropped.frames++
	j.dropped.bytes += int64(len(rec.Data))
	j.droppedNow.frames++
	j.droppedNow.bytes += int64(len(rec.Data))
	k := gapKey{rec.Target, rec.Session}
	g := j.gaps[k]
	if g == nil {
		g = &Gap{From: rec.At, Error: cause.Error()}
		j.gaps[k] = g
	}
	g.To = rec.At
	g.Frames++
	g.Bytes += int64(len(rec.Data))
	err := fmt.Errorf("%w (%d bytes): %v", ErrFull, size, cause)
	if !first {
		return nil, err
	}
	pending, limit, log := len(j.pending), j.opts.MaxPending, j.opts.Logger
	return func() {
		log.Error("journal memory limit reached: dropping frames until the disk accepts writes again",
			"pending_bytes", pending, "limit_bytes", limit, "error", cause)
	}, err
}

func kindName(k Kind) string {
	switch k {
	case KindSessionStart:
		return "session start"
	case KindSessionEnd:
		return "session end"
	case KindGap:
		return "gap"
	}
	return "frame"
}

// setWriteErrLocked records the outcome of a write attempt. j.mu is held;
// the returned function, if any, logs and must be called after unlocking.
func (j *Journal) setWriteErrLocked(err error) func() {
	was := j.failure()
	j.writeErr = err
	return j.transitionLocked(was)
}

// setSyncErr records the outcome of an fsync.
func (j *Journal) setSyncErr(err error) {
	j.mu.Lock()
	was := j.failure()
	j.syncErr = err
	after := j.transitionLocked(was)
	j.mu.Unlock()
	if after != nil {
		after()
	}
}

// transitionLocked acts on a change of health: a new failure starts the
// clock and is logged; a recovery writes the gap records and is logged.
// j.mu is held; the returned function logs and is called after unlocking.
func (j *Journal) transitionLocked(was error) func() {
	now := j.failure()
	log := j.opts.Logger
	switch {
	case was == nil && now != nil:
		j.failSince = time.Now()
		pending := len(j.pending)
		return func() {
			log.Error("journal write failed: frames are held in memory and the write retried; they are not durable until it succeeds",
				"error", now, "pending_bytes", pending, "limit_bytes", j.opts.MaxPending)
		}
	case was != nil && now == nil:
		down := time.Since(j.failSince)
		dropped := j.droppedNow
		for k, g := range j.gaps {
			data, _ := json.Marshal(g)
			j.appendLocked(&Record{Kind: KindGap, At: g.From, Target: k.target, Session: k.session, Data: data})
		}
		clear(j.gaps)
		j.failSince, j.droppedNow = time.Time{}, dropCount{}
		return func() {
			log.Warn("journal writes succeed again", "failed_for", down.Round(time.Millisecond),
				"dropped_frames", dropped.frames, "dropped_bytes", dropped.bytes, "was", was)
		}
	}
	return nil
}

// afterFlush tells the flusher whether to come back: retry while the disk
// fails (every retryInterval; the failure is logged again every
// failureLogEvery, lastLog being the flusher's note of the last such log),
// or pending, when records wait to be written.
func (j *Journal) afterFlush(lastLog *time.Time) (retry, pending bool) {
	j.mu.Lock()
	err, since, n, dropped := j.failure(), j.failSince, len(j.pending), j.droppedNow
	j.mu.Unlock()
	if err == nil {
		return false, n > 0
	}
	if lastLog.Before(since) {
		*lastLog = since
	}
	if time.Since(*lastLog) >= failureLogEvery {
		*lastLog = time.Now()
		j.opts.Logger.Error("journal still failing", "error", err, "for", time.Since(since).Round(time.Second),
			"pending_bytes", n, "dropped_frames", dropped.frames, "dropped_bytes", dropped.bytes)
	}
	return true, n > 0
}
