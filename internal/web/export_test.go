package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/export"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/store"
)

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// exportMsg is a decoded object of the JSON export formats.
type exportMsg struct {
	apiMsg
	SessionID int64 `json:"session_id"`
}

// getExport GETs /api/export?query, wants 200 and an attachment of format.
func getExport(t *testing.T, h http.Handler, query string, format export.Format) []byte {
	t.Helper()
	w := do(t, h, "GET", "/api/export?"+query, nil)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /api/export?%s: %d %s", query, w.Code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != format.ContentType() {
		t.Errorf("Content-Type %q, want %q", ct, format.ContentType())
	}
	disp, params, err := mime.ParseMediaType(w.Header().Get("Content-Disposition"))
	if err != nil || disp != "attachment" || !regexp.MustCompile(`^wsmon-export-\d{8}-\d{6}\.`+string(format)+`$`).MatchString(params["filename"]) {
		t.Errorf("Content-Disposition %q", w.Header().Get("Content-Disposition"))
	}
	if w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", w.Header())
	}
	return w.Body.Bytes()
}

// decodeExport parses a JSON or NDJSON export.
func decodeExport(t *testing.T, b []byte, format export.Format) []exportMsg {
	t.Helper()
	var out []exportMsg
	if format == export.JSON {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("decode JSON export: %v\n%s", err, b)
		}
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m exportMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("decode NDJSON line %d: %v: %s", len(out)+1, err, sc.Bytes())
		}
		out = append(out, m)
	}
	return out
}

func exportIDs(t *testing.T, h http.Handler, query string) []int64 {
	t.Helper()
	var ids []int64
	for _, m := range decodeExport(t, getExport(t, h, "format=ndjson&"+query, export.NDJSON), export.NDJSON) {
		ids = append(ids, m.ID)
	}
	return ids
}

// TestExportFormats: each format holds every message, newest first, with
// the API's fields (JSON objects are /api/messages's plus session_id) and,
// for CSV, the documented columns.
func TestExportFormats(t *testing.T) {
	f := newFixture(t)
	h := f.server(nil)
	want := f.newestFirst(nil)
	var api apiPage
	getJSON(t, h, "/api/messages?limit=500&raw=1", http.StatusOK, &api)

	for _, format := range []export.Format{export.JSON, export.NDJSON} {
		t.Run(string(format), func(t *testing.T) {
			got := decodeExport(t, getExport(t, h, "raw=1&format="+string(format), format), format)
			if len(got) != len(want) {
				t.Fatalf("%d messages, want %d", len(got), len(want))
			}
			for i := range want {
				checkMsg(t, got[i].apiMsg, want[i], true)
				if a, b := mustJSON(t, got[i].apiMsg), mustJSON(t, api.Messages[i]); a != b {
					t.Errorf("message %d differs from /api/messages:\n%s\n%s", want[i].ID, a, b)
				}
				if got[i].SessionID != want[i].Session {
					t.Errorf("message %d session_id %d, want %d", want[i].ID, got[i].SessionID, want[i].Session)
				}
			}
		})
	}
	t.Run("csv", func(t *testing.T) {
		b := getExport(t, h, "", export.CSV) // csv and the BOM are the defaults
		rest, ok := bytes.CutPrefix(b, []byte("\uFEFF"))
		if !ok {
			t.Fatalf("no BOM: %q", b[:10])
		}
		recs, err := csv.NewReader(bytes.NewReader(rest)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(recs[0], export.Columns) || len(recs) != len(want)+1 {
			t.Fatalf("header %q, %d rows, want %q and %d", recs[0], len(recs)-1, export.Columns, len(want))
		}
		for i, m := range want {
			r := recs[i+1]
			wantRec := []string{strconv.FormatInt(m.ID, 10), apiTime(m.At), apiTime(m.Sent), m.Target, m.Room,
				export.Neutralize(m.User), m.Type, export.Neutralize(m.Content), "", strconv.FormatInt(m.Session, 10)}
			if !slices.Equal(r, wantRec) {
				t.Errorf("row %d:\n got %q\nwant %q", i, r, wantRec)
			}
		}
	})
	t.Run("bom", func(t *testing.T) {
		for q, wantBOM := range map[string]bool{"bom=0": false, "bom=false": false, "bom=NO": false, "bom=1": true, "bom=yes": true} {
			if b := getExport(t, h, q+"&target=beta", export.CSV); bytes.HasPrefix(b, []byte("\uFEFF")) != wantBOM {
				t.Errorf("%s: starts %q", q, b[:8])
			}
		}
		if b := getExport(t, h, "format=json&bom=1", export.JSON); !bytes.HasPrefix(b, []byte("[")) {
			t.Errorf("JSON starts %q", b[:8])
		}
	})
}

// TestExportEqualsSearchAndListing: an export selects exactly what paging
// through /api/search (with q) or /api/messages (without) returns, for
// the same parameters, from the index as in production.
func TestExportEqualsSearchAndListing(t *testing.T) {
	f := newFixture(t)
	h := f.server(nil)
	since := ms(f.now.Add(-10 * time.Hour))
	for _, q := range []string{
		"q=紧急", "q=急", "q=hello", "q=WORLD&room=lobby", "q=e&user=alice", "q=a&type=chat&target=alpha",
		"q=filler&from=" + ms(f.now.Add(-20*24*time.Hour)) + "&to=" + ms(f.now.Add(-5*24*time.Hour)),
		qs("q", "'; DROP TABLE messages; --"), qs("q", "a b"), qs("q", "👍"), "q=%25", "q=zzz-nothing", "keyword=紧急",
		"q=e&from=" + since, "q=message&target=beta&room=dev",
	} {
		want, _ := walk(t, h, "/api/search", q+"&limit=7")
		if len(want) == 0 && !strings.Contains(q, "nothing") {
			t.Errorf("%s selects nothing: a weak comparison", q)
		}
		if got := exportIDs(t, h, q); !slices.Equal(got, want) {
			t.Errorf("export?%s: %v\nsearch: %v", q, got, want)
		}
	}
	for _, q := range []string{"", "user=u01", "room=dev", "type=system", "target=beta&room=lobby", "from=" + since, "to=" + since, "user=小明&target=alpha"} {
		want, _ := walk(t, h, "/api/messages", q+"&limit=9")
		if len(want) == 0 && !strings.Contains(q, "nothing") {
			t.Errorf("%s selects nothing: a weak comparison", q)
		}
		if got := exportIDs(t, h, q); !slices.Equal(got, want) {
			t.Errorf("export?%s: %v\nmessages: %v", q, got, want)
		}
	}
}

func TestExportBadParams(t *testing.T) {
	f := newFixture(t)
	h := f.server(nil)
	for q, name := range map[string]string{
		"format=xml":                       "format",
		"format=CSV":                       "format",
		"bom=maybe":                        "bom",
		"from=garbage":                     "from",
		"from=2026-01-02&to=2026-01-01":    "from",
		"type=bogus":                       "type",
		"user=%FF":                         "user",
		"q=" + strings.Repeat("a", 1025):   "q",
		"room=" + strings.Repeat("r", 257): "room",
	} {
		w := do(t, h, "GET", "/api/export?"+q, nil)
		var e apiErr
		if w.Code != http.StatusBadRequest || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error.Code != "bad_param" ||
			!strings.HasPrefix(e.Error.Message, name+": ") {
			t.Errorf("export?%.40s: %d %s, want 400 bad_param naming %s", q, w.Code, w.Body.String(), name)
		}
	}
}

func TestExportNeedsAuth(t *testing.T) {
	f := newFixture(t)
	h := f.server(func(o *Options) { o.Token = testToken })
	if w := do(t, h, "GET", "/api/export?format=csv", nil); w.Code != http.StatusUnauthorized {
		t.Errorf("without credentials: %d", w.Code)
	}
	if w := do(t, h, "GET", "/api/export?format=csv", nil, "Authorization", "Bearer "+testToken); w.Code != http.StatusOK || w.Body.Len() == 0 {
		t.Errorf("with the token: %d", w.Code)
	}
}

// TestExportFailures: a database failing before the file begins is a 500
// JSON error without details; failing later aborts the download.
func TestExportFailures(t *testing.T) {
	h := New(Options{Store: failingStore{}, Logger: discardLogger()})
	w := do(t, h, "GET", "/api/export?q=x", nil)
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "secret") {
		t.Errorf("first page fails: %d %s", w.Code, w.Body.String())
	}
	srv := httptest.NewServer(New(Options{Store: &pagedStore{n: 20_000, failAfter: 3}, Logger: discardLogger()}))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/api/export?format=ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if res.StatusCode != 200 || err == nil {
		t.Errorf("a failure mid-export: status %d, read %d bytes, error %v; want 200 and a read error", res.StatusCode, len(b), err)
	}
}

// TestExportStreams: a large export arrives in chunks as it is produced
// (no Content-Length), complete; HEAD answers the headers only.
func TestExportStreams(t *testing.T) {
	src := &pagedStore{n: 30_000, gate: make(chan struct{})}
	srv := httptest.NewServer(New(Options{Store: src, Logger: discardLogger()}))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/api/export?format=csv&bom=0")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.ContentLength != -1 || !slices.Equal(res.TransferEncoding, []string{"chunked"}) {
		t.Errorf("Content-Length %d, Transfer-Encoding %v: not streamed", res.ContentLength, res.TransferEncoding)
	}
	// The first page arrives while the second is being read: each page
	// is flushed to the client.
	br := bufio.NewReader(res.Body)
	first := make(chan error, 1)
	go func() {
		for range 1 + 16 { // the header and the first page
			if _, err := br.ReadString('\n'); err != nil {
				first <- err
				return
			}
		}
		first <- nil
	}()
	select {
	case err := <-first:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first page was not sent before the second was read")
	}
	close(src.gate)
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(rest, []byte("\n")); n != 30_000-16 {
		t.Errorf("%d rows after the first page, want %d", n, 30_000-16)
	}
	req, _ := http.NewRequest("HEAD", srv.URL+"/api/export?format=json", nil)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != export.JSON.ContentType() {
		t.Errorf("HEAD: %d %v", res.StatusCode, res.Header)
	}
}

// pagedStore has n synthetic messages (ids 1..n) and fails every query
// after failAfter of them (0: never). With gate set, the second query
// waits until gate is closed.
type pagedStore struct {
	failingStore
	n, failAfter int
	gate         chan struct{}
	mu           sync.Mutex
	calls        int
}

func (p *pagedStore) Messages(_ context.Context, q store.MessageQuery) ([]message.Message, error) {
	p.mu.Lock()
	p.calls++
	calls := p.calls
	p.mu.Unlock()
	if p.failAfter > 0 && calls > p.failAfter {
		return nil, errDisk
	}
	if calls == 2 && p.gate != nil {
		<-p.gate
	}
	hi := int64(p.n)
	if q.Before > 0 {
		hi = q.Before - 1
	}
	var out []message.Message
	for id := hi; id >= 1 && len(out) < q.Limit; id-- {
		out = append(out, message.Message{ID: id, Target: "t", User: "u", Type: "chat", Content: "message " + strconv.FormatInt(id, 10),
			ReceivedAt: time.UnixMilli(1_767_000_000_000 + id)})
	}
	return out, nil
}

// TestExportMatchesSpec: the JSON and NDJSON exports conform to the
// schemas openapi.json gives them, and its 400 is the BadParam response.
func TestExportMatchesSpec(t *testing.T) {
	f := newFixture(t)
	h := f.server(nil)
	doc := loadSpec(t)
	content := dig(doc, "paths", "/api/export", "get", "responses", "200", "content")
	for _, raw := range []string{"0", "1"} {
		b := getExport(t, h, "format=json&raw="+raw, export.JSON)
		for _, e := range validate(doc, dig(content, "application/json", "schema"), decodeNumber(t, b), "json raw="+raw) {
			t.Error(e)
		}
		sc := bufio.NewScanner(bytes.NewReader(getExport(t, h, "format=ndjson&raw="+raw, export.NDJSON)))
		for sc.Scan() {
			for _, e := range validate(doc, dig(content, "application/x-ndjson", "schema"), decodeNumber(t, sc.Bytes()), "ndjson raw="+raw) {
				t.Error(e)
			}
		}
	}
	if csv := dig(content, "text/csv"); csv == nil {
		t.Error("no text/csv response in the spec")
	}
	w := do(t, h, "GET", "/api/export?format=xml", nil)
	resp := resolve(doc, dig(doc, "paths", "/api/export", "get", "responses", "400")["$ref"].(string))
	for _, e := range validate(doc, dig(resp, "content", "application/json", "schema"), decodeNumber(t, w.Body.Bytes()), "400") {
		t.Error(e)
	}
}
