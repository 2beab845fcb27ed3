package export

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/search"
	"github.com/wsmon/wsmon/internal/store"
)

// fakeSource pages through msgs (ascending ids) as the store does: newest
// first, below Before, Limit at a time; Search keeps contents containing
// the text. It records the limits asked for.
type fakeSource struct {
	msgs     []message.Message
	limits   []int
	searches int
	failAt   int // fail the failAt-th call (1-based); 0 never
	calls    int
}

func (f *fakeSource) list(q store.MessageQuery, keep func(*message.Message) bool) ([]message.Message, error) {
	f.calls++
	if f.calls == f.failAt {
		return nil, errors.New("database is gone")
	}
	f.limits = append(f.limits, q.Limit)
	var out []message.Message
	for i := len(f.msgs) - 1; i >= 0 && len(out) < q.Limit; i-- {
		m := f.msgs[i]
		if q.Before > 0 && m.ID >= q.Before || q.User != "" && m.User != q.User || keep != nil && !keep(&m) {
			continue
		}
		if !q.Raw {
			m.Raw = nil
		}
		out = append(out, m)
	}
	return out, nil
}

func (f *fakeSource) Messages(_ context.Context, q store.MessageQuery) ([]message.Message, error) {
	return f.list(q, nil)
}

func (f *fakeSource) Search(_ context.Context, text string, q store.MessageQuery) (store.SearchResult, error) {
	f.searches++
	folded := search.Fold(text)
	ms, err := f.list(q, func(m *message.Message) bool { return search.MatchFolded(m.Content, folded) })
	return store.SearchResult{Messages: ms, Total: int64(len(ms))}, err
}

var t0 = time.Date(2026, 1, 2, 15, 4, 5, 123_000_000, time.FixedZone("CST", 8*3600))

// samples are messages with everything a file must carry unchanged.
func samples() []message.Message {
	ms := []message.Message{
		{Target: "demo", SessionID: 3, User: "小明", Room: "游戏大厅", Type: "chat", Content: "今天有紧急情况，请注意"},
		{Target: "demo", SessionID: 3, User: "alice", Room: "lobby", Type: "chat", Content: "a, \"quoted\"\nsecond line"},
		{Target: "demo", SessionID: 3, User: "=HYPERLINK(\"http://x\")", Room: "+room", Type: "chat", Content: "=1+1"},
		{Target: "-t", SessionID: 4, User: "@bob", Room: "\troom", Type: "chat", Content: "-2+3"},
		{Target: "demo", SessionID: 4, User: "eve", Room: "lobby", Type: "chat", Content: "<script>alert(1)</script> & 👍"},
		{Target: "demo", SessionID: 4, User: "", Room: "", Type: "system", Content: "\rcarriage", Reason: "bad_json"},
		{Target: "demo", SessionID: 4, User: "bin", Room: "", Type: "other", Content: "", Reason: "binary", Binary: true, Raw: []byte{0xff, 0x00, '=', 1}},
	}
	for i := range ms {
		ms[i].ID = int64(i + 1)
		ms[i].ReceivedAt = t0.Add(time.Duration(i) * time.Second)
		if i%2 == 0 {
			ms[i].SentAt = ms[i].ReceivedAt.Add(-250 * time.Millisecond)
		}
		if ms[i].Raw == nil {
			ms[i].Raw = []byte(`{"content":` + strconv.Quote(ms[i].Content) + `}`)
		}
	}
	return ms
}

func run(t *testing.T, src Source, req Request) []byte {
	t.Helper()
	s, err := Open(context.Background(), src, req)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var buf bytes.Buffer
	n, err := s.WriteTo(&buf)
	if err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if n != int64(buf.Len()) {
		t.Errorf("WriteTo returned %d bytes, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

func TestNeutralize(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"=1+1", "'=1+1"},
		{"+1", "'+1"},
		{"-1", "'-1"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{`=HYPERLINK("http://evil","x")`, `'=HYPERLINK("http://evil","x")`},
		{"", ""},
		{"hello", "hello"},
		{"1+1", "1+1"},
		{" =1", " =1"},
		{"\n=1", "\n=1"},
		{"'=1", "'=1"},
		{"紧急", "紧急"},
		{"＝1", "＝1"}, // full-width: not a formula
	} {
		if got := Neutralize(c.in); got != c.want {
			t.Errorf("Neutralize(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// readCSV parses an export back with encoding/csv, without the BOM.
func readCSV(t *testing.T, b []byte, wantBOM bool) [][]string {
	t.Helper()
	rest, had := bytes.CutPrefix(b, []byte(bom))
	if had != wantBOM {
		t.Fatalf("BOM present %v, want %v: % x", had, wantBOM, b[:min(len(b), 8)])
	}
	r := csv.NewReader(bytes.NewReader(rest))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("parse CSV: %v\n%s", err, rest)
	}
	return recs
}

// wantCell is what a CSV cell holds for a text value.
func wantCell(s string) string { return Neutralize(s) }

func TestCSV(t *testing.T) {
	ms := samples()
	for _, raw := range []bool{false, true} {
		t.Run(fmt.Sprintf("raw=%v", raw), func(t *testing.T) {
			src := &fakeSource{msgs: ms}
			recs := readCSV(t, run(t, src, Request{Format: CSV, BOM: true, Query: store.MessageQuery{Raw: raw}}), true)
			head := Columns
			if raw {
				head = append(slices.Clone(Columns), RawColumns...)
			}
			if !slices.Equal(recs[0], head) {
				t.Fatalf("header %q, want %q", recs[0], head)
			}
			if len(recs) != len(ms)+1 {
				t.Fatalf("%d records, want %d + header", len(recs)-1, len(ms))
			}
			for i, rec := range recs[1:] {
				m := ms[len(ms)-1-i] // newest first
				sent := ""
				if !m.SentAt.IsZero() {
					sent = m.SentAt.UTC().Format("2006-01-02T15:04:05.000Z")
				}
				want := []string{strconv.FormatInt(m.ID, 10), m.ReceivedAt.UTC().Format("2006-01-02T15:04:05.000Z"), sent,
					wantCell(m.Target), wantCell(m.Room), wantCell(m.User), string(m.Type), wantCell(m.Content), wantCell(m.Reason),
					strconv.FormatInt(m.SessionID, 10)}
				if raw {
					if m.Binary {
						want = append(want, "", "/wA9AQ==")
					} else {
						want = append(want, string(m.Raw), "")
					}
				}
				if !slices.Equal(rec, want) {
					t.Errorf("record %d:\n got %q\nwant %q", i, rec, want)
				}
			}
		})
	}
}

// TestCSVFormulaCells: every text cell starting with a formula character
// is neutralised, whichever column it is in; numbers and times are not
// touched.
func TestCSVFormulaCells(t *testing.T) {
	for _, lead := range []string{"=", "+", "-", "@", "\t", "\r"} {
		t.Run(strconv.Quote(lead), func(t *testing.T) {
			v := lead + "cmd|' /C calc'!A0"
			m := message.Message{ID: 7, SessionID: 1, ReceivedAt: t0, Target: v, Room: v, User: v, Type: "chat", Content: v, Reason: v, Raw: []byte(v)}
			recs := readCSV(t, run(t, &fakeSource{msgs: []message.Message{m}}, Request{Format: CSV, Query: store.MessageQuery{Raw: true}}), false)
			row := recs[1]
			for i, col := range append(slices.Clone(Columns), RawColumns...) {
				switch col {
				case "target", "room", "user", "content", "reason", "raw":
					if want := "'" + v; row[i] != want {
						t.Errorf("%s = %q, want %q", col, row[i], want)
					}
				}
				if c := row[i]; c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
					t.Errorf("%s = %q starts with a formula character", col, c)
				}
			}
		})
	}
}

func TestCSVWithoutBOM(t *testing.T) {
	b := run(t, &fakeSource{msgs: samples()}, Request{Format: CSV, BOM: false})
	readCSV(t, b, false)
	if !bytes.HasPrefix(b, []byte("id,received_at,")) {
		t.Errorf("starts %q", b[:20])
	}
}

// jsonMsg is the decoded object of the JSON formats.
type jsonMsg struct {
	ID         int64   `json:"id"`
	Target     string  `json:"target"`
	ReceivedAt string  `json:"received_at"`
	SentAt     *string `json:"sent_at"`
	User       string  `json:"user"`
	Room       string  `json:"room"`
	Type       string  `json:"type"`
	Content    string  `json:"content"`
	Reason     string  `json:"reason"`
	SessionID  int64   `json:"session_id"`
	Raw        *string `json:"raw"`
	RawBase64  *string `json:"raw_base64"`
}

func checkJSON(t *testing.T, got []jsonMsg, ms []message.Message, raw bool) {
	t.Helper()
	if len(got) != len(ms) {
		t.Fatalf("%d objects, want %d", len(got), len(ms))
	}
	for i, g := range got {
		m := ms[len(ms)-1-i]
		if g.ID != m.ID || g.Target != m.Target || g.User != m.User || g.Room != m.Room || g.Type != string(m.Type) ||
			g.Content != m.Content || g.Reason != m.Reason || g.SessionID != m.SessionID {
			t.Errorf("object %d = %+v, want %+v", i, g, m)
		}
		if g.ReceivedAt != m.ReceivedAt.UTC().Format("2006-01-02T15:04:05.000Z") {
			t.Errorf("object %d received_at %q", i, g.ReceivedAt)
		}
		if m.SentAt.IsZero() != (g.SentAt == nil) || g.SentAt != nil && *g.SentAt != m.SentAt.UTC().Format("2006-01-02T15:04:05.000Z") {
			t.Errorf("object %d sent_at %v, want %v", i, g.SentAt, m.SentAt)
		}
		switch {
		case !raw:
			if g.Raw != nil || g.RawBase64 != nil {
				t.Errorf("object %d has raw without Raw", i)
			}
		case m.Binary:
			if g.Raw != nil || g.RawBase64 == nil || *g.RawBase64 != "/wA9AQ==" {
				t.Errorf("object %d raw %v raw_base64 %v", i, g.Raw, g.RawBase64)
			}
		default:
			if g.Raw == nil || *g.Raw != string(m.Raw) || g.RawBase64 != nil {
				t.Errorf("object %d raw %v, want %q", i, g.Raw, m.Raw)
			}
		}
	}
}

func TestJSON(t *testing.T) {
	ms := samples()
	for _, raw := range []bool{false, true} {
		b := run(t, &fakeSource{msgs: ms}, Request{Format: JSON, BOM: true, Query: store.MessageQuery{Raw: raw}})
		if !bytes.HasPrefix(b, []byte("[\n{")) || !bytes.HasSuffix(b, []byte("}\n]\n")) {
			t.Errorf("raw=%v: not one array of one object per line: %q…%q", raw, b[:10], b[len(b)-10:])
		}
		if bytes.Contains(b, []byte("<script>")) {
			t.Error("markup not escaped as in the API")
		}
		var got []jsonMsg
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("decode: %v\n%s", err, b)
		}
		if dec.More() {
			t.Error("data after the array")
		}
		checkJSON(t, got, ms, raw)
	}
}

func TestNDJSON(t *testing.T) {
	ms := samples()
	for _, raw := range []bool{false, true} {
		b := run(t, &fakeSource{msgs: ms}, Request{Format: NDJSON, BOM: true, Query: store.MessageQuery{Raw: raw}})
		sc := bufio.NewScanner(bytes.NewReader(b))
		var got []jsonMsg
		for sc.Scan() {
			var m jsonMsg
			dec := json.NewDecoder(strings.NewReader(sc.Text()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("line %d: %v: %s", len(got)+1, err, sc.Text())
			}
			got = append(got, m)
		}
		if !bytes.HasSuffix(b, []byte("}\n")) {
			t.Errorf("last line not terminated: %q", b[len(b)-5:])
		}
		checkJSON(t, got, ms, raw)
	}
}

func TestEmpty(t *testing.T) {
	for _, c := range []struct {
		f    Format
		want string
	}{{CSV, bom + strings.Join(Columns, ",") + "\n"}, {JSON, "[]\n"}, {NDJSON, ""}} {
		if got := string(run(t, &fakeSource{}, Request{Format: c.f, BOM: true})); got != c.want {
			t.Errorf("%s: %q, want %q", c.f, got, c.want)
		}
	}
	var v []any
	if err := json.Unmarshal(run(t, &fakeSource{}, Request{Format: JSON}), &v); err != nil || v == nil || len(v) != 0 {
		t.Errorf("empty JSON: %v %v", v, err)
	}
}

// flushCounter counts the flushes between writes.
type flushCounter struct {
	bytes.Buffer
	flushes int
	lens    []int // Len at each flush
}

func (f *flushCounter) Flush() error {
	f.flushes++
	f.lens = append(f.lens, f.Len())
	return nil
}

func many(n, size int) []message.Message {
	ms := make([]message.Message, n)
	for i := range ms {
		ms[i] = message.Message{ID: int64(i + 1), Target: "t", User: fmt.Sprintf("u%d", i%7), Type: "chat",
			ReceivedAt: t0.Add(time.Duration(i) * time.Millisecond), Content: fmt.Sprintf("%d %s", i, strings.Repeat("x", size))}
	}
	return ms
}

// TestPaging: every message once, newest first, read in pages that grow
// to maxPage and no further, each page written and flushed before the
// next is read.
func TestPaging(t *testing.T) {
	ms := many(5000, 20)
	src := &fakeSource{msgs: ms}
	s, err := Open(context.Background(), src, Request{Format: NDJSON})
	if err != nil {
		t.Fatal(err)
	}
	var w flushCounter
	if _, err := s.WriteTo(&w); err != nil {
		t.Fatal(err)
	}
	if s.Count() != 5000 {
		t.Errorf("Count %d", s.Count())
	}
	sc := bufio.NewScanner(&w)
	want := int64(5000)
	for sc.Scan() {
		var m jsonMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil || m.ID != want {
			t.Fatalf("line for id %d: %s (%v)", want, sc.Text(), err)
		}
		want--
	}
	if want != 0 {
		t.Errorf("stopped before id %d", want)
	}
	if src.limits[0] != firstPage || slices.Max(src.limits) != maxPage {
		t.Errorf("page limits %v: want from %d up to %d", src.limits, firstPage, maxPage)
	}
	if w.flushes != len(src.limits) {
		t.Errorf("%d flushes for %d pages", w.flushes, len(src.limits))
	}
}

// TestPagesShrinkForLargeMessages: a page of large messages makes the
// next ones smaller, so a page holds about pageBytes.
func TestPagesShrinkForLargeMessages(t *testing.T) {
	src := &fakeSource{msgs: many(60, 1<<20)}
	b := run(t, src, Request{Format: CSV})
	if n := bytes.Count(b, []byte("\n")); n != 61 {
		t.Errorf("%d lines", n)
	}
	for i, l := range src.limits[1:] {
		if l*(1<<20) > pageBytes {
			t.Errorf("page %d asked for %d messages of 1 MiB (limits %v)", i+2, l, src.limits)
		}
	}
}

func TestSearch(t *testing.T) {
	ms := many(3000, 5)
	for i := range ms {
		if i%3 == 0 {
			ms[i].Content += " 紧急 Needle"
		}
	}
	src := &fakeSource{msgs: ms}
	b := run(t, src, Request{Format: NDJSON, Text: "needle"})
	if src.searches == 0 {
		t.Fatal("Search not used")
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 1000 {
		t.Errorf("%d hits, want 1000", len(lines))
	}
	for _, l := range lines {
		if !strings.Contains(l, "紧急 Needle") {
			t.Fatalf("not a hit: %s", l)
		}
	}
}

func TestErrors(t *testing.T) {
	if _, err := Open(context.Background(), &fakeSource{}, Request{Format: "xml"}); err == nil {
		t.Error("format xml accepted")
	}
	if _, err := Open(context.Background(), &fakeSource{}, Request{}); err == nil {
		t.Error("no format accepted")
	}
	// The first page fails: Open says so, nothing is written.
	if _, err := Open(context.Background(), &fakeSource{msgs: many(10, 1), failAt: 1}, Request{Format: CSV}); err == nil {
		t.Error("first page error not returned by Open")
	}
	// A later page fails: WriteTo returns an error marked incomplete.
	s, err := Open(context.Background(), &fakeSource{msgs: many(100, 1), failAt: 2}, Request{Format: CSV})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := s.WriteTo(&buf); !errors.Is(err, ErrWritten) || !strings.Contains(err.Error(), "database is gone") {
		t.Errorf("WriteTo error %v, want ErrWritten with the cause", err)
	}
	// Cancelled between pages.
	ctx, cancel := context.WithCancel(context.Background())
	s, err = Open(ctx, &fakeSource{msgs: many(100, 1)}, Request{Format: JSON})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := s.WriteTo(&buf); !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v", err)
	}
}

func TestNames(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Format
		ok   bool
	}{{"", CSV, true}, {"csv", CSV, true}, {"json", JSON, true}, {"ndjson", NDJSON, true}, {"CSV", "", false}, {"xlsx", "", false}} {
		f, err := ParseFormat(c.in)
		if f != c.want || (err == nil) != c.ok {
			t.Errorf("ParseFormat(%q) = %q, %v", c.in, f, err)
		}
	}
	if got := FileName(JSON, t0); got != "wsmon-export-20260102-070405.json" {
		t.Errorf("FileName = %q", got)
	}
	for f, want := range map[Format]string{CSV: "text/csv; charset=utf-8", JSON: "application/json; charset=utf-8", NDJSON: "application/x-ndjson; charset=utf-8"} {
		if got := f.ContentType(); got != want {
			t.Errorf("%s: %q", f, got)
		}
	}
}
