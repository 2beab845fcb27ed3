package ingest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/jsontok"
	"github.com/wsmon/wsmon/internal/message"
)

// MessageLog writes every committed message to logs/messages_YYYYMMDD.json,
// one JSON object per line, a new file each day (in loc).
// It implements Committer: Committed queues the batch and returns; a
// goroutine of its own encodes and writes, so the log costs the database
// writer nothing. The queue is bounded: a stuck disk eventually slows the
// writer rather than growing memory.
//
// A failed write (a full disk) does not stop the log: the file is closed,
// the lines not written are kept (up to msglogMaxPending bytes, then
// dropped and counted; they are in the database) and written with the next
// batch, after the file is reopened and a torn last line, if the failure
// left one, is cut. The first failure is logged, and the recovery.
type MessageLog struct {
	dir   string
	loc   *time.Location
	log   *slog.Logger
	queue chan queuedBatch
	done  chan struct{}
	// queued is the bytes of the batches in queue (content and raw), at
	// most msglogMaxQueued but for a lone batch larger than that;
	// Committed waits on qcond while it is full.
	qmu    sync.Mutex
	qcond  *sync.Cond
	queued int
	day    string
	f      *os.File
	// pending holds complete lines not yet in the file: a batch being
	// encoded, or what a failed write left.
	pending  []byte
	pendingN int   // messages in pending
	failing  error // the write error of the current outage, nil when writing
	dropped  int64 // messages dropped from the log during the current outage
	// write writes to the file (tests inject failures).
	write func(f *os.File, b []byte) (int, error)
}

// msglogMaxPending bounds the lines kept while the log cannot be written,
// and how much is encoded before a write.
const (
	msglogMaxPending = 8 << 20
	msglogChunk      = 256 << 10
	// msglogMaxQueued bounds the messages queued for the log by bytes:
	// the pipeline counts a batch as released once Committed returns, so
	// what waits here must stay small (a stream of 16 MiB frames would
	// otherwise wait four batches deep).
	msglogMaxQueued = 16 << 20
)

// queuedBatch is a batch waiting for the log, with its size.
type queuedBatch struct {
	msgs  []message.Message
	bytes int
}

// NewMessageLog creates the directory if needed and starts the writer
// goroutine; Close stops it.
func NewMessageLog(dir string, loc *time.Location, log *slog.Logger) (*MessageLog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("message log: create %s: %w", dir, err)
	}
	if loc == nil {
		loc = time.Local
	}
	if log == nil {
		log = slog.Default()
	}
	l := &MessageLog{dir: dir, loc: loc, log: log, queue: make(chan queuedBatch, 4), done: make(chan struct{}),
		write: (*os.File).Write}
	l.qcond = sync.NewCond(&l.qmu)
	go l.run()
	return l, nil
}

// Committed queues msgs for the log; it waits while msglogMaxQueued bytes
// are queued already (the writer is busy with big messages). It must not
// be called after Close.
func (l *MessageLog) Committed(msgs []message.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	n := 0
	for i := range msgs {
		n += len(msgs[i].Content) + len(msgs[i].Raw)
	}
	l.qmu.Lock()
	for l.queued > 0 && l.queued+n > msglogMaxQueued {
		l.qcond.Wait()
	}
	l.queued += n
	l.qmu.Unlock()
	l.queue <- queuedBatch{msgs, n}
	return nil
}

func (l *MessageLog) run() {
	defer close(l.done)
	for b := range l.queue {
		l.add(b.msgs)
		l.qmu.Lock()
		l.queued -= b.bytes
		l.qcond.Broadcast()
		l.qmu.Unlock()
	}
}

// add encodes the messages and writes them.
func (l *MessageLog) add(msgs []message.Message) {
	for i := range msgs {
		m := &msgs[i]
		if day := m.ReceivedAt.In(l.loc).Format("20060102"); day != l.day {
			l.flush()
			l.drop() // lines of the previous day that could not be written
			l.closeFile()
			l.day = day
		}
		l.pending = appendMessageJSON(l.pending, m)
		l.pending = append(l.pending, '\n')
		l.pendingN++
		switch {
		case len(l.pending) < msglogChunk:
		case l.failing == nil:
			l.flush()
		case len(l.pending) > msglogMaxPending:
			l.drop()
		}
	}
	l.flush()
	if len(l.pending) > msglogMaxPending {
		l.drop()
	}
}

// flush writes the pending lines, opening (and repairing) the file first if
// needed. On failure it closes the file and keeps the lines not written.
func (l *MessageLog) flush() {
	if len(l.pending) == 0 {
		return
	}
	if l.f == nil {
		if err := l.open(); err != nil {
			l.fail(err)
			return
		}
	}
	n, err := l.write(l.f, l.pending)
	if err != nil {
		// The complete lines written are kept; the rest, including a
		// line torn at n, is written again after the reopen cuts it.
		k := bytes.LastIndexByte(l.pending[:n], '\n') + 1
		l.pendingN -= bytes.Count(l.pending[:k], []byte{'\n'})
		l.pending = l.pending[:copy(l.pending, l.pending[k:])]
		l.closeFile()
		l.fail(fmt.Errorf("message log: write: %w", err))
		return
	}
	l.pending, l.pendingN = l.pending[:0], 0
	if cap(l.pending) > 4*msglogChunk {
		l.pending = nil // grown by a large message: do not keep it
	}
	if l.failing != nil {
		l.log.Info("message log writes again", "file", l.f.Name(), "dropped_messages", l.dropped)
		l.failing, l.dropped = nil, 0
	}
}

// fail records a write failure, logged once per outage.
func (l *MessageLog) fail(err error) {
	if l.failing == nil {
		l.log.Error("message log write failed; the messages are in the database, the log retries with the next batch",
			"error", err, "pending_messages", l.pendingN)
	}
	l.failing = err
}

// drop gives up the pending lines (counted, and logged at the recovery).
func (l *MessageLog) drop() {
	if l.pendingN > 0 {
		l.dropped += int64(l.pendingN)
		l.log.Warn("message log: lines dropped (the messages are in the database)", "messages", l.pendingN, "error", l.failing)
	}
	l.pending, l.pendingN = l.pending[:0], 0
}

// open opens the day's file for appending. A last line without its
// newline (torn by a failed write or a crash) is cut, or, if it cannot be
// cut, terminated, so every line of the file stays one JSON object.
func (l *MessageLog) open() error {
	path := filepath.Join(l.dir, "messages_"+l.day+".json")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("message log: open %s: %w", path, err)
	}
	if err := repairTail(f); err != nil {
		f.Close()
		return fmt.Errorf("message log: repair %s: %w", path, err)
	}
	l.f = f
	return nil
}

// repairTail cuts f after its last newline when its last byte is not one.
func repairTail(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	var buf [64 << 10]byte
	end := size
	for end > 0 {
		start := max(end-int64(len(buf)), 0)
		b := buf[:end-start]
		if _, err := f.ReadAt(b, start); err != nil {
			return err
		}
		if end == size && b[len(b)-1] == '\n' {
			return nil // intact
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			end = start + int64(i) + 1
			break
		}
		end = start
	}
	if end == size {
		return nil // empty
	}
	if err := f.Truncate(end); err != nil {
		// Cannot cut it: end it, so the next line starts on a line of its own.
		_, werr := f.Write([]byte{'\n'})
		return werr
	}
	return nil
}

// Close writes what is queued, then closes the file.
func (l *MessageLog) Close() error {
	close(l.queue)
	<-l.done
	err := l.failing
	l.drop()
	if cerr := l.closeFile(); err == nil {
		err = cerr
	}
	return err
}

func (l *MessageLog) closeFile() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// appendMessageJSON encodes a message as one JSON object without
// reflection (this runs for every message).
func appendMessageJSON(b []byte, m *message.Message) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, m.ID, 10)
	b = append(b, `,"target":`...)
	b = jsontok.AppendString(b, m.Target)
	b = append(b, `,"received_at":"`...)
	b = m.ReceivedAt.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, '"')
	if !m.SentAt.IsZero() {
		b = append(b, `,"sent_at":"`...)
		b = m.SentAt.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		b = append(b, '"')
	}
	b = append(b, `,"user":`...)
	b = jsontok.AppendString(b, m.User)
	b = append(b, `,"room":`...)
	b = jsontok.AppendString(b, m.Room)
	b = append(b, `,"type":`...)
	b = jsontok.AppendString(b, m.Type)
	b = append(b, `,"content":`...)
	b = jsontok.AppendString(b, m.Content)
	if m.Reason != "" {
		b = append(b, `,"reason":`...)
		b = jsontok.AppendString(b, m.Reason)
	}
	if rawIsJSON(m) {
		// A frame that parsed as JSON is embedded as is: no escaping cost,
		// and the log line stays one line since it has no raw newlines.
		b = append(b, `,"raw":`...)
		b = append(b, m.Raw...)
	} else if m.Binary || !utf8.Valid(m.Raw) {
		b = append(b, `,"raw_base64":"`...)
		b = base64.StdEncoding.AppendEncode(b, m.Raw)
		b = append(b, '"')
	} else {
		b = append(b, `,"raw":`...)
		b = jsontok.AppendString(b, m.Raw)
	}
	return append(b, '}')
}

// rawIsJSON reports whether m.Raw is a JSON object or array that the
// normaliser parsed without complaint and that holds no line breaks.
func rawIsJSON(m *message.Message) bool {
	r := m.Raw
	return m.Reason == "" && !m.Binary && len(r) > 1 && (r[0] == '{' || r[0] == '[') &&
		bytes.IndexByte(r, '\n') < 0 && bytes.IndexByte(r, '\r') < 0
}
