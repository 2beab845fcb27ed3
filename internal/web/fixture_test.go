package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/analysis"
	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/ingest"
	"github.com/wsmon/wsmon/internal/journal"
	"github.com/wsmon/wsmon/internal/live"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/protocol"
	"github.com/wsmon/wsmon/internal/protocol/raw"
	"github.com/wsmon/wsmon/internal/query"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/store/storetest"
)

// The web package's Store interface is what production reads through:
// the query path over the store and the search index.
var _ Store = (*query.Source)(nil)

// fixtureZone is the statistics time zone of the fixture store: not UTC, so
// that local days and hours differ from UTC ones.
var fixtureZone = time.FixedZone("UTC+08", 8*3600)

const fixtureZoneName = "UTC+08"

// fmsg is one message the fixture inserted, as it must come back.
type fmsg struct {
	ID      int64
	Target  string
	Session int64
	At      time.Time // received_at (ms precision)
	Sent    time.Time // timestamp in the frame
	User    string
	Room    string
	Type    string
	Content string
	Raw     string // the frame as sent
}

// fsession is one session the fixture recorded.
type fsession struct {
	ID         int64
	Target     string
	URL        string
	Start, End time.Time // End zero: still open
	Code       int
	Reason     string
	Error      string
	Messages   int64
}

// fixture is a real SQLite store filled through the real journal and
// ingest pipeline, with the search index behind it as app.Run builds them,
// plus a model of what went in. The API tests read it through the query
// path production serves (query.Source), never through store-only scans.
type fixture struct {
	st       *store.Store
	ix       *index.Indexer
	now      time.Time
	msgs     []fmsg // in id order (oldest first)
	sessions []fsession
	byID     map[int64]fmsg
}

// specials are the messages whose content the search tests look for.
var specials = []struct{ user, room, typ, content string }{
	{"小明", "lobby", "chat", "今天有紧急情况，请注意"},
	{"alice", "lobby", "chat", "Hello World"},
	{"bob", "dev", "chat", "hello again, WORLD"},
	{"alice", "dev", "chat", `he said "hi"`},
	{"bob", "lobby", "chat", "it's fine"},
	{"carol", "lobby", "chat", "100% sure"},
	{"carol", "dev", "chat", "snake_case_name"},
	{"dave", "lobby", "chat", "wild*card"},
	{"dave", "dev", "chat", "pre -x post"},
	{"alice", "lobby", "chat", "key a:b value"},
	{"bob", "dev", "chat", "NEAR(a b) literal"},
	{"carol", "lobby", "chat", "a AND b together"},
	{"eve", "dev", "chat", "'; DROP TABLE messages; --"},
	{"小明", "lobby", "chat", "nice 👍"},
	{"eve", "lobby", "chat", `back\slash`},
	{"小明", "dev", "chat", "紧张但不急"},
	{"小红", "lobby", "chat", "急紧 reversed"},
	{"小红", "dev", "chat", "a b"},
	{"", "lobby", "system", "server restarting"},
	{"carol", "lobby", "join", "carol joined"},
	{"carol", "lobby", "leave", "carol left"},
	{"x/y", "dev", "chat", "slash user says 紧急!"},
	{"alice", "lobby", "chat", "<script>alert(1)</script>"},
}

var fillerUsers = []string{"u01", "u01", "u01", "u01", "u02", "u02", "u02", "u03", "u03", "u04"}

// newFixture builds the fixture store and its index. Messages are spread
// over the last ~40 days (some older than the 30-day statistics window), on
// two targets: alpha has two sessions with a gap between them, beta one
// open session. The index is built as app.Run builds it (index.New before
// the pipeline starts, told of every committed batch) and holds what a
// running monitor's index does: the older messages (the filler) flushed
// into a database segment, the recent ones (the specials) committed and
// queued, folded in by the first query as in production.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.Options(t, filepath.Join(dir, "data", "wsmon.db"), fixtureZone))
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	ix, err := index.New(ctx, st, index.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatalf("index.New: %v", err)
	}
	told := &countingCommitter{c: ix}
	applied, err := st.AppliedSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(filepath.Join(dir, "journal"), applied+1, journal.Options{})
	if err != nil {
		t.Fatalf("journal.Open: %v", err)
	}
	dec := ingest.Decoder{Adapter: raw.Default(), Normalizer: message.NewNormalizer(message.FieldMap{}, 0)}
	p, err := ingest.New(ctx, ingest.Options{Journal: j, Store: st,
		Decoders: map[string]ingest.Decoder{"alpha": dec, "beta": dec}, Committers: []ingest.Committer{told}, Logger: discardLogger()})
	if err != nil {
		j.Close()
		t.Fatalf("ingest.New: %v", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()

	f := &fixture{st: st, ix: ix, now: time.Now(), byID: map[int64]fmsg{}}
	now := f.now.Truncate(time.Millisecond)

	// Plan: (age, target, user, room, type, content), appended oldest first.
	type plan struct {
		age                              time.Duration
		target, user, room, typ, content string
	}
	var plans []plan
	for i, s := range specials {
		target := "alpha"
		if i%3 == 2 {
			target = "beta"
		}
		// Within the last ~20 hours, one every 50 minutes.
		plans = append(plans, plan{time.Duration(len(specials)-i)*50*time.Minute + 7*time.Second, target, s.user, s.room, s.typ, s.content})
	}
	for i := range 80 {
		// From ~36.7 days ago to ~1 day ago, every 11 hours: some fall
		// outside the 30-day window, all are older than the specials.
		age := time.Duration(80-i)*11*time.Hour + 23*time.Hour + time.Duration(i)*time.Second
		target := "beta"
		if i%2 == 0 {
			target = "alpha"
		}
		room := "lobby"
		if i%4 < 2 {
			room = "dev"
		}
		plans = append(plans, plan{age, target, fillerUsers[i%len(fillerUsers)], room, "chat", fmt.Sprintf("filler message #%02d", i)})
	}
	plans = append(plans, plan{40 * 24 * time.Hour, "beta", "old-timer", "lobby", "chat", "ancient history"})
	// Sort oldest first.
	for i := 1; i < len(plans); i++ {
		for k := i; k > 0 && plans[k].age > plans[k-1].age; k-- {
			plans[k], plans[k-1] = plans[k-1], plans[k]
		}
	}

	// alpha: session 1 until 2d+1h ago, gap, session 2 from 2d ago, ended
	// 1 min ago (abnormally); beta: one session, still open. Alpha messages
	// that would fall in the gap move to session 2's start.
	rec := ingest.Recorder{J: j}
	gapStart, gapEnd := now.Add(-(49 * time.Hour)), now.Add(-48*time.Hour)
	start := func(target string, at time.Time) *fsession {
		url := "ws://127.0.0.1:9/" + target
		id, err := rec.SessionStart(target, url, "raw", at)
		if err != nil {
			t.Fatalf("SessionStart: %v", err)
		}
		f.sessions = append(f.sessions, fsession{ID: id, Target: target, URL: url, Start: at})
		return &f.sessions[len(f.sessions)-1]
	}
	end := func(s *fsession, at time.Time, code int, reason, errText string) {
		if err := rec.SessionEnd(s.Target, s.ID, at, code, reason, errText, s.Messages, 0); err != nil {
			t.Fatalf("SessionEnd: %v", err)
		}
		s.End, s.Code, s.Reason, s.Error = at, code, reason, errText
	}
	// reached waits until the pipeline has applied every record so far and
	// handed every message to the index (the pipeline tells its
	// committers after it counts a batch applied).
	reached := func() {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for p.AppliedSeq() < j.LastSeq() || told.n.Load() != int64(len(f.msgs)) {
			if time.Now().After(deadline) {
				t.Fatalf("within 60 s: pipeline applied %d of %d journal records, the index was told of %d of %d messages",
					p.AppliedSeq(), j.LastSeq(), told.n.Load(), len(f.msgs))
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	first := now.Add(-41 * 24 * time.Hour)
	alphaIdx := len(f.sessions)
	start("alpha", first)
	betaIdx := len(f.sessions)
	start("beta", first.Add(time.Second))
	alphaEnded := false
	var nextID int64 = 1
	for n, pl := range plans {
		if n == len(plans)-len(specials) {
			// The filler is committed: write it as the index's first
			// database segment (as a monitor does when its memory segment
			// is full), so queries read segments and memory both.
			reached()
			if err := ix.Flush(ctx); err != nil {
				t.Fatalf("index flush: %v", err)
			}
			if s := ix.Status(); s.Indexed != int64(len(f.msgs)) || s.Segments != 1 {
				t.Fatalf("index after flush: %+v, want %d messages in 1 segment", s, len(f.msgs))
			}
		}
		at := now.Add(-pl.age)
		if pl.target == "alpha" && !alphaEnded && !at.Before(gapStart) {
			end(&f.sessions[alphaIdx], gapStart, 1000, "going away", "")
			alphaIdx = len(f.sessions)
			start("alpha", gapEnd)
			alphaEnded = true
		}
		if pl.target == "alpha" && alphaEnded && at.Before(gapEnd) {
			at = gapEnd.Add(time.Duration(n) * time.Millisecond)
		}
		sess := &f.sessions[betaIdx]
		if pl.target == "alpha" {
			sess = &f.sessions[alphaIdx]
		}
		sent := at.Add(-250 * time.Millisecond)
		frame := map[string]any{"id": fmt.Sprintf("m-%d", n+1), "type": pl.typ, "room": pl.room, "content": pl.content, "timestamp": sent.UnixMilli()}
		if pl.user != "" {
			frame["user"] = pl.user
		}
		data, err := json.Marshal(frame)
		if err != nil {
			t.Fatal(err)
		}
		if err := rec.Frame(pl.target, sess.ID, at, protocol.Frame{Data: data}, ""); err != nil {
			t.Fatalf("Frame: %v", err)
		}
		sess.Messages++
		m := fmsg{ID: nextID, Target: pl.target, Session: sess.ID, At: at, Sent: sent, User: pl.user, Room: pl.room,
			Type: pl.typ, Content: pl.content, Raw: string(data)}
		nextID++
		f.msgs = append(f.msgs, m)
		f.byID[m.ID] = m
	}
	end(&f.sessions[alphaIdx], now.Add(-time.Minute), 1006, "", "unexpected EOF")

	// Wait until the pipeline has applied every record, then stop cleanly
	// (as app.Monitor does): close the journal and wait for Run. Waiting
	// first works around the journal race TestCleanStopCommitsEverything
	// exposes (Run may return before reading the last records).
	reached()
	if err := j.Close(); err != nil {
		t.Fatalf("journal close: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("pipeline: %v", err)
		}
	case <-time.After(60 * time.Second):
		cancel()
		<-done
		t.Fatal("pipeline did not drain the journal within 60 s")
	}
	if got := p.Stats().Messages; got != int64(len(f.msgs)) {
		t.Fatalf("pipeline committed %d messages, want %d", got, len(f.msgs))
	}
	return f
}

// countingCommitter hands committed batches on to c and counts their
// messages.
type countingCommitter struct {
	c ingest.Committer
	n atomic.Int64
}

func (c *countingCommitter) Committed(msgs []message.Message) error {
	err := c.c.Committed(msgs)
	c.n.Add(int64(len(msgs)))
	return err
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newestFirst returns the fixture messages matching keep, newest first.
func (f *fixture) newestFirst(keep func(m fmsg) bool) []fmsg {
	var out []fmsg
	for i := len(f.msgs) - 1; i >= 0; i-- {
		if keep == nil || keep(f.msgs[i]) {
			out = append(out, f.msgs[i])
		}
	}
	return out
}

// server returns a web server over the fixture as app.Run composes it:
// the query path over the store and the index.
func (f *fixture) server(mod func(o *Options)) *Server {
	o := Options{Store: query.New(f.st, f.ix), Hub: newTestHub(1000), Logger: discardLogger(), Version: "test", TimeZone: fixtureZoneName,
		MaxInMemory: 1000, RefreshInterval: time.Second, Analysis: analysis.NewReader(f.st, nil).WithBehaviour(nil, 0, 0)}
	if mod != nil {
		mod(&o)
	}
	return New(o)
}

// apiMsg is the decoded JSON of a message.
type apiMsg struct {
	ID         int64   `json:"id"`
	Target     string  `json:"target"`
	ReceivedAt string  `json:"received_at"`
	SentAt     *string `json:"sent_at"`
	User       string  `json:"user"`
	Room       string  `json:"room"`
	Type       string  `json:"type"`
	Content    string  `json:"content"`
	Reason     string  `json:"reason"`
	Raw        *string `json:"raw"`
	RawBase64  *string `json:"raw_base64"`
}

type apiPage struct {
	Messages        []apiMsg `json:"messages"`
	Next            *string  `json:"next"`
	Total           *int64   `json:"total"`
	TotalIsEstimate *bool    `json:"total_is_estimate"`
}

type apiErr struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// do sends a request to h and returns the recorder.
func do(t testing.TB, h http.Handler, method, target string, body io.Reader, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// getJSON GETs target, requires want status and JSON, and decodes into v.
func getJSON(t testing.TB, h http.Handler, target string, want int, v any) {
	t.Helper()
	w := do(t, h, "GET", target, nil)
	if w.Code != want {
		t.Fatalf("GET %s: status %d, want %d; body %s", target, w.Code, want, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("GET %s: Content-Type %q, want application/json", target, ct)
	}
	if v != nil {
		if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
			t.Fatalf("GET %s: decode %s: %v", target, w.Body.String(), err)
		}
	}
}

// ms renders t as the Unix milliseconds the API accepts in from/to.
func ms(t time.Time) string { return fmt.Sprint(t.UnixMilli()) }

// qs builds a query string.
func qs(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

// apiTime renders t as the API does.
func apiTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// checkMsg compares one API message with the model.
func checkMsg(t testing.TB, got apiMsg, want fmsg, withRaw bool) {
	t.Helper()
	if got.ID != want.ID || got.Target != want.Target || got.User != want.User || got.Room != want.Room ||
		got.Type != want.Type || got.Content != want.Content || got.Reason != "" {
		t.Errorf("message %d = %+v, want %+v", want.ID, got, want)
	}
	if got.ReceivedAt != apiTime(want.At) {
		t.Errorf("message %d received_at %q, want %q", want.ID, got.ReceivedAt, apiTime(want.At))
	}
	if got.SentAt == nil || *got.SentAt != apiTime(want.Sent) {
		t.Errorf("message %d sent_at %v, want %q", want.ID, got.SentAt, apiTime(want.Sent))
	}
	if withRaw {
		if got.Raw == nil || *got.Raw != want.Raw || got.RawBase64 != nil {
			t.Errorf("message %d raw = %v, want %q", want.ID, got.Raw, want.Raw)
		}
	} else if got.Raw != nil || got.RawBase64 != nil {
		t.Errorf("message %d has raw without raw=1", want.ID)
	}
}

// newTestHub returns a live hub remembering the last recent messages, as
// the application builds it.
func newTestHub(recent int) *live.Hub { return live.NewHub(recent, EncodeEvent) }
