package ingest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/message"
)

// MessageLog writes every committed message to logs/messages_YYYYMMDD.json,
// one JSON object per line, a new file each day (in loc), as in the brief.
// It implements Committer: Committed queues the batch and returns; a
// goroutine of its own encodes and writes, so the log costs the database
// writer nothing. The queue is bounded: a stuck disk eventually slows the
// writer rather than growing memory.
type MessageLog struct {
	dir   string
	loc   *time.Location
	log   *slog.Logger
	queue chan []message.Message
	done  chan struct{}
	day   string
	f     *os.File
	w     *bufio.Writer
	buf   []byte
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
	l := &MessageLog{dir: dir, loc: loc, log: log, queue: make(chan []message.Message, 4), done: make(chan struct{})}
	go l.run()
	return l, nil
}

// Committed queues msgs for the log. It must not be called after Close.
func (l *MessageLog) Committed(msgs []message.Message) error {
	if len(msgs) > 0 {
		l.queue <- msgs
	}
	return nil
}

func (l *MessageLog) run() {
	defer close(l.done)
	for msgs := range l.queue {
		if err := l.write(msgs); err != nil {
			l.log.Error("message log write failed; the messages are in the database", "error", err, "messages", len(msgs))
		}
	}
}

// write appends the messages and flushes the file buffer.
func (l *MessageLog) write(msgs []message.Message) error {
	for i := range msgs {
		m := &msgs[i]
		day := m.ReceivedAt.In(l.loc).Format("20060102")
		if day != l.day || l.f == nil {
			if err := l.open(day); err != nil {
				return err
			}
		}
		l.buf = appendMessageJSON(l.buf[:0], m)
		l.buf = append(l.buf, '\n')
		if _, err := l.w.Write(l.buf); err != nil {
			return fmt.Errorf("message log: write: %w", err)
		}
	}
	if l.w != nil {
		if err := l.w.Flush(); err != nil {
			return fmt.Errorf("message log: write: %w", err)
		}
	}
	return nil
}

func (l *MessageLog) open(day string) error {
	if err := l.closeFile(); err != nil {
		return err
	}
	path := filepath.Join(l.dir, "messages_"+day+".json")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("message log: open %s: %w", path, err)
	}
	l.f, l.w, l.day = f, bufio.NewWriterSize(f, 256<<10), day
	return nil
}

// Close writes what is queued, then closes the file.
func (l *MessageLog) Close() error {
	close(l.queue)
	<-l.done
	return l.closeFile()
}

func (l *MessageLog) closeFile() error {
	if l.f == nil {
		return nil
	}
	err := l.w.Flush()
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f, l.w = nil, nil
	return err
}

// appendMessageJSON encodes a message as one JSON object without
// reflection (this runs for every message).
func appendMessageJSON(b []byte, m *message.Message) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, m.ID, 10)
	b = append(b, `,"target":`...)
	b = AppendJSONString(b, m.Target)
	b = append(b, `,"received_at":"`...)
	b = m.ReceivedAt.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, '"')
	if !m.SentAt.IsZero() {
		b = append(b, `,"sent_at":"`...)
		b = m.SentAt.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		b = append(b, '"')
	}
	b = append(b, `,"user":`...)
	b = AppendJSONString(b, m.User)
	b = append(b, `,"room":`...)
	b = AppendJSONString(b, m.Room)
	b = append(b, `,"type":`...)
	b = AppendJSONString(b, string(m.Type))
	b = append(b, `,"content":`...)
	b = AppendJSONString(b, m.Content)
	if m.Reason != "" {
		b = append(b, `,"reason":`...)
		b = AppendJSONString(b, m.Reason)
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
		b = AppendJSONString(b, string(m.Raw))
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

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// <, > and & are escaped so the output is safe to embed anywhere.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
