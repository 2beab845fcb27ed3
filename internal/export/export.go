// Package export owns wsmon's exports: the file formats (CSV, JSON,
// NDJSON), their columns and encoding, and streaming the messages a
// filtered listing or a search selects from the production query path to
// a writer, one page at a time, so memory stays constant whatever the
// number of messages. `wsmon export` and GET /api/export both use it.
//
// Messages are read exactly as GET /api/messages and GET /api/search read
// them (Source is the index-backed query path the API answers from), newest
// first, paging with the same id cursor (MessageQuery.Before): the export
// is a stable snapshot of the messages stored when it began, and messages
// arriving during it are not included.
//
// Formats:
//
//   - csv: encoding/csv with a header row, UTF-8 with a byte-order mark by
//     default (so Excel reads Chinese text correctly). Columns are Columns,
//     plus RawColumns with Request.Query.Raw. A text cell starting with
//     '=', '+', '-', '@', a tab or a carriage return gets a leading single
//     quote, so a spreadsheet never evaluates it as a formula (the OWASP
//     rule against CSV injection); JSON and NDJSON are never altered.
//   - json: one JSON array, streamed, of message objects.
//   - ndjson: one message object per line.
//
// A message object is the API's (id, target, received_at, sent_at, user,
// room, type, content, reason, with raw or raw_base64 when asked) plus
// session_id. Times are RFC 3339 in UTC with milliseconds, as in the API
// ("2026-01-02T15:04:05.123Z"); an unknown sent_at is null in JSON and an
// empty cell in CSV.
package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/store"
)

// Format is an export file format.
type Format string

// The formats.
const (
	CSV    Format = "csv"
	JSON   Format = "json"
	NDJSON Format = "ndjson"
)

// Formats lists every format, in the order help texts name them.
var Formats = []Format{CSV, JSON, NDJSON}

// ParseFormat returns the format named s ("" is CSV).
func ParseFormat(s string) (Format, error) {
	if s == "" {
		return CSV, nil
	}
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("must be csv, json or ndjson, got %q", s)
}

// ContentType is the HTTP media type of a file in this format.
func (f Format) ContentType() string {
	switch f {
	case JSON:
		return "application/json; charset=utf-8"
	case NDJSON:
		return "application/x-ndjson; charset=utf-8"
	default:
		return "text/csv; charset=utf-8"
	}
}

// FileName is the name an export made at now is offered under:
// wsmon-export-20260102-150405.csv (UTC).
func FileName(f Format, now time.Time) string {
	return "wsmon-export-" + now.UTC().Format("20060102-150405") + "." + string(f)
}

// Columns are the CSV columns, in order.
var Columns = []string{"id", "received_at", "sent_at", "target", "room", "user", "type", "content", "reason", "session_id"}

// RawColumns follow Columns when the raw frames are exported: raw holds a
// UTF-8 text frame as received, raw_base64 a binary or non-UTF-8 one (the
// other is empty).
var RawColumns = []string{"raw", "raw_base64"}

// bom is the UTF-8 byte-order mark.
const bom = "\uFEFF"

// Source is the query path exports read from: the one the API answers
// from (app's queries, an *index.Indexer, or a *store.Store).
type Source interface {
	// Messages lists messages newest first with q's filters, q.Limit of
	// them, below q.Before.
	Messages(ctx context.Context, q store.MessageQuery) ([]message.Message, error)
	// Search is Messages restricted to content containing text
	// (case-insensitive, literal).
	Search(ctx context.Context, text string, q store.MessageQuery) (store.SearchResult, error)
}

// Request says what to export.
type Request struct {
	Format Format
	// Text, when not empty, exports the messages whose content contains it
	// (as GET /api/search?q=); else the filtered listing (GET /api/messages).
	Text string
	// Query holds the filters (User, Type, Target, Room, From, To) and Raw
	// (export the frames as received too). Limit and Before are ignored.
	Query store.MessageQuery
	// BOM starts a CSV file with a UTF-8 byte-order mark (ignored for the
	// JSON formats).
	BOM bool
}

// Paging: pages start small and double up to maxPage while a page stays
// under pageBytes, and shrink when one holds more, so large messages (up
// to read_limit_bytes each) cannot make a page of a thousand of them.
const (
	firstPage = 16
	maxPage   = 1000
	pageBytes = 4 << 20
	bufSize   = 64 << 10
)

// Stream is an export in progress. Open reads its first page; WriteTo
// writes the file.
type Stream struct {
	ctx  context.Context
	src  Source
	req  Request
	q    store.MessageQuery
	page []message.Message
	done bool // page is the last one
	n    int64
}

// ErrWritten is wrapped by WriteTo's errors that happened after bytes were
// written: the output is incomplete.
var ErrWritten = errors.New("export incomplete")

// Open starts an export: it checks req and reads the first page, so an
// error in the query (or the database) is returned before anything is
// written.
func Open(ctx context.Context, src Source, req Request) (*Stream, error) {
	if _, err := ParseFormat(string(req.Format)); err != nil || req.Format == "" {
		return nil, fmt.Errorf("export: format %q: must be csv, json or ndjson", req.Format)
	}
	q := req.Query
	q.Before, q.Limit = 0, firstPage
	s := &Stream{ctx: ctx, src: src, req: req, q: q}
	if err := s.fetch(); err != nil {
		return nil, err
	}
	return s, nil
}

// Count is the number of messages written so far.
func (s *Stream) Count() int64 { return s.n }

// fetch reads the next page into s.page and sizes the one after it.
func (s *Stream) fetch() error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	var ms []message.Message
	if s.req.Text != "" {
		res, err := s.src.Search(s.ctx, s.req.Text, s.q)
		if err != nil {
			return err
		}
		ms = res.Messages
	} else {
		var err error
		if ms, err = s.src.Messages(s.ctx, s.q); err != nil {
			return err
		}
	}
	s.page, s.done = ms, len(ms) < s.q.Limit
	if len(ms) == 0 {
		s.done = true
		return nil
	}
	s.q.Before = ms[len(ms)-1].ID
	size := 0
	for i := range ms {
		m := &ms[i]
		size += 128 + len(m.Content) + len(m.Raw) + len(m.User) + len(m.Room) + len(m.Target) + len(m.Reason)
	}
	switch {
	case size > pageBytes:
		s.q.Limit = max(1, int(int64(s.q.Limit)*pageBytes/int64(size)))
	case size < pageBytes/2:
		s.q.Limit = min(maxPage, 2*s.q.Limit)
	}
	return nil
}

// WriteTo writes the whole export to w, page by page: after each page
// what was buffered is written to w, and w is flushed when it has a Flush
// method (an http.ResponseWriter, a *bufio.Writer). It returns the bytes
// written. An error after the first byte wraps ErrWritten.
func (s *Stream) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, bufSize)
	enc := newEncoder(s.req, bw)
	fail := func(err error) (int64, error) {
		if cw.n > 0 {
			err = fmt.Errorf("%w after %d messages: %w", ErrWritten, s.n, err)
		}
		return cw.n, err
	}
	if err := enc.begin(); err != nil {
		return fail(err)
	}
	for {
		for i := range s.page {
			if err := enc.message(&s.page[i]); err != nil {
				return fail(err)
			}
			s.n++
		}
		s.page = nil
		if !s.done {
			// Send what this page produced before reading the next one.
			if err := flush(enc, bw, w); err != nil {
				return fail(err)
			}
			if err := s.fetch(); err != nil {
				return fail(err)
			}
			continue
		}
		if err := enc.end(); err != nil {
			return fail(err)
		}
		if err := flush(enc, bw, w); err != nil {
			return fail(err)
		}
		return cw.n, nil
	}
}

func flush(enc encoder, bw *bufio.Writer, w io.Writer) error {
	if err := enc.flush(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	switch f := w.(type) {
	case interface{ Flush() error }:
		return f.Flush()
	case interface{ Flush() }:
		f.Flush()
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// encoder writes one format.
type encoder interface {
	begin() error
	message(m *message.Message) error
	end() error
	flush() error // hands buffered bytes to the bufio.Writer
}

func newEncoder(req Request, w *bufio.Writer) encoder {
	switch req.Format {
	case JSON:
		return newJSONEncoder(w, req.Query.Raw, true)
	case NDJSON:
		return newJSONEncoder(w, req.Query.Raw, false)
	default:
		return &csvEncoder{w: w, cw: csv.NewWriter(w), raw: req.Query.Raw, bom: req.BOM}
	}
}

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// formatTime is RFC 3339 UTC with milliseconds, "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// rawFrame returns the frame as text (ok) or base64 (!ok), as the API does.
func rawFrame(m *message.Message) (text string, ok bool) {
	if !m.Binary && utf8.Valid(m.Raw) {
		return string(m.Raw), true
	}
	return base64.StdEncoding.EncodeToString(m.Raw), false
}

// ---- CSV --------------------------------------------------------------------

// Neutralize returns a CSV cell that no spreadsheet evaluates: a value
// starting with '=', '+', '-', '@', a tab or a carriage return gets a
// leading single quote (OWASP, "CSV Injection"); any other is unchanged.
func Neutralize(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

type csvEncoder struct {
	w   *bufio.Writer
	cw  *csv.Writer
	raw bool
	bom bool
	rec []string
}

func (e *csvEncoder) begin() error {
	if e.bom {
		if _, err := e.w.WriteString(bom); err != nil {
			return err
		}
	}
	head := Columns
	if e.raw {
		head = append(append([]string{}, Columns...), RawColumns...)
	}
	return e.cw.Write(head)
}

func (e *csvEncoder) message(m *message.Message) error {
	r := append(e.rec[:0],
		strconv.FormatInt(m.ID, 10),
		formatTime(m.ReceivedAt),
		formatTime(m.SentAt),
		Neutralize(m.Target),
		Neutralize(m.Room),
		Neutralize(m.User),
		Neutralize(string(m.Type)),
		Neutralize(m.Content),
		Neutralize(m.Reason),
		strconv.FormatInt(m.SessionID, 10),
	)
	if e.raw {
		text, ok := rawFrame(m)
		if ok {
			r = append(r, Neutralize(text), "")
		} else {
			r = append(r, "", Neutralize(text))
		}
	}
	e.rec = r
	return e.cw.Write(r)
}

func (e *csvEncoder) end() error { return nil }

func (e *csvEncoder) flush() error {
	e.cw.Flush()
	return e.cw.Error()
}

// ---- JSON and NDJSON ----------------------------------------------------------

// jsonTime renders as RFC 3339 UTC with milliseconds, or null when zero.
type jsonTime time.Time

func (t jsonTime) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + formatTime(time.Time(t)) + `"`), nil
}

// object is the JSON shape of an exported message: the API's message
// object plus session_id.
type object struct {
	ID         int64    `json:"id"`
	Target     string   `json:"target"`
	ReceivedAt jsonTime `json:"received_at"`
	SentAt     jsonTime `json:"sent_at"`
	User       string   `json:"user"`
	Room       string   `json:"room"`
	Type       string   `json:"type"`
	Content    string   `json:"content"`
	Reason     string   `json:"reason"`
	SessionID  int64    `json:"session_id"`
	Raw        *string  `json:"raw,omitempty"`
	RawBase64  *string  `json:"raw_base64,omitempty"`
}

type jsonEncoder struct {
	w     *bufio.Writer
	buf   bytes.Buffer
	enc   *json.Encoder
	raw   bool
	array bool
	n     int
}

func newJSONEncoder(w *bufio.Writer, raw, array bool) *jsonEncoder {
	e := &jsonEncoder{w: w, raw: raw, array: array}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(true) // as the API: <, > and & as \u003c, \u003e, \u0026
	return e
}

func (e *jsonEncoder) begin() error {
	if e.array {
		_, err := e.w.WriteString("[")
		return err
	}
	return nil
}

func (e *jsonEncoder) message(m *message.Message) error {
	o := object{ID: m.ID, Target: m.Target, ReceivedAt: jsonTime(m.ReceivedAt), SentAt: jsonTime(m.SentAt),
		User: m.User, Room: m.Room, Type: string(m.Type), Content: m.Content, Reason: m.Reason, SessionID: m.SessionID}
	if e.raw {
		text, ok := rawFrame(m)
		if ok {
			o.Raw = &text
		} else {
			o.RawBase64 = &text
		}
	}
	e.buf.Reset()
	if err := e.enc.Encode(&o); err != nil { // appends '\n'
		return err
	}
	if e.array {
		sep := ",\n"
		if e.n == 0 {
			sep = "\n"
		}
		if _, err := e.w.WriteString(sep); err != nil {
			return err
		}
		e.buf.Truncate(e.buf.Len() - 1)
	}
	e.n++
	_, err := e.w.Write(e.buf.Bytes())
	if e.buf.Cap() > 1<<20 {
		e.buf = bytes.Buffer{} // one huge message does not keep its buffer (enc writes to &e.buf)
	}
	return err
}

func (e *jsonEncoder) end() error {
	if !e.array {
		return nil
	}
	s := "\n]\n"
	if e.n == 0 {
		s = "]\n"
	}
	_, err := e.w.WriteString(s)
	return err
}

func (e *jsonEncoder) flush() error { return nil }
