package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/analysis"
	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/notify"
	"github.com/wsmon/wsmon/internal/query"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/store/storetest"
)

var zone = time.FixedZone("UTC+08", 8*3600)

type env struct {
	st   *store.Store
	b    *Builder
	msgs []message.Message
	path string
}

// newEnv stores msgs (ids assigned in order) in a real database (SQLite,
// or PostgreSQL with WSMON_TEST_PG_DSN), indexes and flushes them as a
// running monitor does within two minutes, and returns a builder over
// the query path.
func newEnv(t *testing.T, msgs []message.Message, sessions []store.SessionStart, ends []store.SessionEnd) *env {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wsmon.db")
	st, err := store.Open(ctx, storetest.Options(t, path, zone))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for i := range msgs {
		msgs[i].ID = int64(i + 1)
		msgs[i].Raw = []byte(msgs[i].Content)
	}
	if err := st.ApplyBatch(ctx, &store.Batch{Messages: msgs, Starts: sessions, Ends: ends, AppliedSeq: 1}); err != nil {
		t.Fatal(err)
	}
	ix, err := index.New(ctx, st, index.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := NewBuilder(Options{Store: st, Source: query.New(st, ix), Location: zone,
		Now: func() time.Time { return time.Date(2026, 3, 20, 0, 0, 0, 0, zone) }})
	if err != nil {
		t.Fatal(err)
	}
	return &env{st: st, b: b, msgs: msgs, path: path}
}

// corpus: messages over 2026-03-01 .. 2026-03-17 local on two targets,
// deterministic, with busy hours and users first seen on various days.
func corpus() []message.Message {
	var out []message.Message
	users := []string{"alice", "bob", "小明", "carol", "dave", "<script>alert(1)</script>"}
	for day := 1; day <= 17; day++ {
		for i := 0; i < 20+day*3; i++ {
			hour := (i * 7) % 24
			if i%3 == 0 {
				hour = 14 // the busy hour
			}
			u := users[(i+day)%min(len(users), 2+day/3)]
			typ := message.TypeChat
			if i%11 == 0 {
				typ = message.TypeJoin
			}
			target := "alpha"
			if i%4 == 0 {
				target = "beta"
			}
			at := time.Date(2026, 3, day, hour, (i*13)%60, 0, 0, zone)
			out = append(out, message.Message{Target: target, SessionID: 1, ReceivedAt: at, User: u, Room: "lobby", Type: typ,
				Content: fmt.Sprintf("msg %d of day %d <b>hi</b>", i, day)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ReceivedAt.Before(out[j].ReceivedAt) })
	return out
}

// expect recomputes the figures from the messages.
type expect struct {
	volume, previous int64
	hours            [24]int64
	peakDate         string
	peakHour         int
	peakCount        int64
	newUsers         int64
	top              []string // users seen in the period, by all-time activity
}

func recompute(msgs []message.Message, target string, p Period) expect {
	var e expect
	start, end := p.From.Start(zone), p.To.AddDays(1).Start(zone)
	prev := p.Previous()
	ps, pe := prev.From.Start(zone), prev.To.AddDays(1).Start(zone)
	type hk struct {
		d string
		h int
	}
	per := map[hk]int64{}
	first, last, act := map[string]time.Time{}, map[string]time.Time{}, map[string]int64{}
	for _, m := range msgs {
		if target != "" && m.Target != target {
			continue
		}
		at := m.ReceivedAt
		if m.User != "" {
			if f, ok := first[m.User]; !ok || at.Before(f) {
				first[m.User] = at
			}
			if l, ok := last[m.User]; !ok || at.After(l) {
				last[m.User] = at
			}
			if message.IsActivity(m.Type) {
				act[m.User]++
			}
		}
		if !at.Before(ps) && at.Before(pe) {
			e.previous++
		}
		if at.Before(start) || !at.Before(end) {
			continue
		}
		e.volume++
		l := at.In(zone)
		e.hours[l.Hour()]++
		per[hk{l.Format("2006-01-02"), l.Hour()}]++
	}
	for k, n := range per {
		if n > e.peakCount || n == e.peakCount && (k.d < e.peakDate || k.d == e.peakDate && k.h < e.peakHour) {
			e.peakDate, e.peakHour, e.peakCount = k.d, k.h, n
		}
	}
	var seen []string
	for u, f := range first {
		if !f.Before(start) && f.Before(end) {
			e.newUsers++
		}
		if f.Before(end) && !last[u].Before(start) && act[u] > 0 {
			seen = append(seen, u)
		}
	}
	sort.Slice(seen, func(i, j int) bool {
		return act[seen[i]] > act[seen[j]] || act[seen[i]] == act[seen[j]] && seen[i] < seen[j]
	})
	e.top = seen[:min(10, len(seen))]
	return e
}

func date(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestReportFiguresMatchRecomputation(t *testing.T) {
	e := newEnv(t, corpus(), nil, nil)
	rng, _ := Range(date("2026-03-02"), date("2026-03-12"))
	for _, c := range []struct {
		name   string
		p      Period
		target string
	}{
		{"daily all", Daily(date("2026-03-10")), ""},
		{"daily alpha", Daily(date("2026-03-10")), "alpha"},
		{"daily first day", Daily(date("2026-03-01")), ""},
		{"daily empty", Daily(date("2026-03-25")), "beta"},
		{"weekly all", Weekly(date("2026-03-11")), ""},
		{"weekly beta", Weekly(date("2026-03-15")), "beta"},
		{"range", rng, "alpha"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := e.b.Build(context.Background(), Request{Period: c.p, Target: c.target})
			if err != nil {
				t.Fatal(err)
			}
			want := recompute(e.msgs, c.target, c.p)
			if r.Volume.Messages != want.volume || r.Volume.Previous != want.previous {
				t.Errorf("volume %d previous %d, want %d %d", r.Volume.Messages, r.Volume.Previous, want.volume, want.previous)
			}
			if r.Hours != want.hours {
				t.Errorf("hours %v, want %v", r.Hours, want.hours)
			}
			if !r.RollupsComplete {
				t.Error("rollups_complete false after a flush")
			}
			if want.volume == 0 {
				if r.Peak != nil {
					t.Errorf("peak %+v without messages", r.Peak)
				}
			} else if r.Peak == nil || r.Peak.Date != want.peakDate || r.Peak.Hour != want.peakHour || r.Peak.Count != want.peakCount {
				t.Errorf("peak %+v, want %s %d:00 %d", r.Peak, want.peakDate, want.peakHour, want.peakCount)
			}
			if r.NewUsers.Count != want.newUsers {
				t.Errorf("new users %d, want %d", r.NewUsers.Count, want.newUsers)
			}
			var top []string
			for _, u := range r.TopUsers {
				top = append(top, u.User)
			}
			if strings.Join(top, ",") != strings.Join(want.top, ",") {
				t.Errorf("top users %v, want %v", top, want.top)
			}
			if n := c.p.From.Days(c.p.To); len(r.Days) != n {
				t.Errorf("%d days, want %d", len(r.Days), n)
			}
			if len(r.Unavailable) != 4 {
				t.Errorf("unavailable %v, want the four analyses (none given)", r.Unavailable)
			}
		})
	}
}

func TestPeriods(t *testing.T) {
	for _, c := range []struct {
		p            Period
		from, to     string
		prevF, prevT string
	}{
		{Daily(date("2026-03-01")), "2026-03-01", "2026-03-01", "2026-02-28", "2026-02-28"},
		{Weekly(date("2026-03-11")), "2026-03-09", "2026-03-15", "2026-03-02", "2026-03-08"}, // a Wednesday
		{Weekly(date("2026-03-15")), "2026-03-09", "2026-03-15", "2026-03-02", "2026-03-08"}, // a Sunday
		{Weekly(date("2026-03-09")), "2026-03-09", "2026-03-15", "2026-03-02", "2026-03-08"}, // a Monday
	} {
		pr := c.p.Previous()
		if c.p.From.String() != c.from || c.p.To.String() != c.to || pr.From.String() != c.prevF || pr.To.String() != c.prevT {
			t.Errorf("%+v prev %+v", c.p, pr)
		}
	}
	if _, err := Range(date("2026-03-02"), date("2026-03-01")); err == nil {
		t.Error("a backwards range is accepted")
	}
	if p, _ := Range(date("2026-03-02"), date("2026-03-02")); p.Kind != KindDaily {
		t.Errorf("one-day range is %s", p.Kind)
	}
}

func TestHTMLEscapesChatContent(t *testing.T) {
	evil := "<script>alert(1)</script>"
	msgs := []message.Message{
		{Target: "alpha", SessionID: 1, ReceivedAt: time.Date(2026, 3, 10, 9, 0, 0, 0, zone), User: evil, Room: "lobby", Type: message.TypeChat, Content: evil},
		{Target: "alpha", SessionID: 1, ReceivedAt: time.Date(2026, 3, 10, 9, 5, 0, 0, zone), User: evil, Room: "lobby", Type: message.TypeChat, Content: "x"},
	}
	e := newEnv(t, msgs, nil, nil)
	r, err := e.b.Build(context.Background(), Request{Period: Daily(date("2026-03-10"))})
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{LangEN, LangZH} {
		var buf bytes.Buffer
		if err := WriteHTML(&buf, r, lang); err != nil {
			t.Fatal(err)
		}
		page := buf.String()
		if strings.Contains(page, "<script") {
			t.Errorf("%s: the page contains <script", lang)
		}
		if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: the escaped user name is missing", lang)
		}
		if strings.Contains(page, "http://") && !strings.Contains(page, `xmlns="http://www.w3.org/2000/svg"`) || strings.Contains(page, "src=") || strings.Contains(page, "href=") {
			t.Errorf("%s: the page refers to something outside itself", lang)
		}
		if !strings.Contains(page, "<svg") || !strings.Contains(page, "<rect") {
			t.Errorf("%s: no inline chart", lang)
		}
	}
	var zh bytes.Buffer
	WriteHTML(&zh, r, LangZH)
	if !strings.Contains(zh.String(), "日报") {
		t.Error("zh page has no Chinese title")
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(js.String(), "<script") {
		t.Error("JSON carries a raw <script")
	}
	var back map[string]any
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "kind", "volume", "peak", "hours", "new_users", "top_users", "terms", "anomalies", "alerts", "connection", "unavailable"} {
		if _, ok := back[k]; !ok {
			t.Errorf("JSON has no %q", k)
		}
	}
}

func TestConnectionGapsAndErrors(t *testing.T) {
	d := func(h, m int) time.Time { return time.Date(2026, 3, 10, h, m, 0, 0, zone) }
	starts := []store.SessionStart{{ID: 1, Target: "alpha", URL: "ws://x", At: d(1, 0)}, {ID: 2, Target: "alpha", URL: "ws://x", At: d(3, 0)}}
	ends := []store.SessionEnd{{ID: 1, At: d(2, 0), Error: "read: connection reset"}, {ID: 2, At: d(23, 0)}}
	msgs := []message.Message{{Target: "alpha", SessionID: 1, ReceivedAt: d(1, 30), User: "a", Type: message.TypeChat, Content: "x"}}
	e := newEnv(t, msgs, starts, ends)
	r, err := e.b.Build(context.Background(), Request{Period: Daily(date("2026-03-10")), Target: "alpha"})
	if err != nil {
		t.Fatal(err)
	}
	c := r.Connection
	if c.Sessions != 2 || c.EndedWithError != 1 || len(c.Errors) != 1 || c.Errors[0].Error != "read: connection reset" {
		t.Errorf("connection %+v", c)
	}
	// Gaps: 00:00-01:00 is not counted (nothing known before the first
	// session), 02:00-03:00 between the sessions, 23:00-24:00 after.
	if c.GapSeconds != 7200 || len(c.Gaps) != 2 {
		t.Errorf("gaps %v (%v s), want two hours", c.Gaps, c.GapSeconds)
	}
}

// receiver is a local webhook receiver counting report deliveries.
type receiver struct {
	mu  sync.Mutex
	ids []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body struct{ Kind, ID, Text string }
	json.Unmarshal(b, &body)
	rc.mu.Lock()
	if body.Kind == "report" && r.Header.Get(notify.HeaderReportID) == body.ID {
		rc.ids = append(rc.ids, body.ID)
	}
	rc.mu.Unlock()
}

func (rc *receiver) got() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.ids...)
}

func TestSchedulerSendsOncePerPeriodAcrossRestarts(t *testing.T) {
	e := newEnv(t, corpus(), nil, nil)
	rc := &receiver{}
	srv := httptest.NewServer(rc) // 127.0.0.1
	defer srv.Close()
	clock := time.Date(2026, 3, 16, 7, 0, 0, 0, zone) // a Monday, before 08:00
	newSched := func() *Scheduler {
		d, err := notify.NewDispatcher([]notify.Config{{Name: "hook", Type: notify.TypeWebhook, URL: srv.URL}}, notify.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return NewScheduler(ScheduleOptions{Builder: e.b, Sender: d, State: e.st, Daily: true, Weekly: true, Hour: 8,
			Notifiers: []string{"hook"}, Lang: LangEN, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return clock }})
	}
	ctx := context.Background()
	s := newSched()
	for _, step := range []struct {
		at      time.Time
		want    []string
		restart bool
	}{
		// Before 08:00 on Monday: the report of Saturday and the week before last are due (first start).
		{time.Date(2026, 3, 16, 7, 0, 0, 0, zone), []string{"daily:2026-03-14:", "weekly:2026-03-02:"}, false},
		{time.Date(2026, 3, 16, 7, 30, 0, 0, zone), nil, true},
		{time.Date(2026, 3, 16, 8, 0, 0, 0, zone), []string{"daily:2026-03-15:", "weekly:2026-03-09:"}, false},
		{time.Date(2026, 3, 16, 8, 1, 0, 0, zone), nil, true},
		{time.Date(2026, 3, 16, 23, 0, 0, 0, zone), nil, true},
		{time.Date(2026, 3, 17, 9, 0, 0, 0, zone), []string{"daily:2026-03-16:"}, true},
		{time.Date(2026, 3, 17, 9, 1, 0, 0, zone), nil, false},
	} {
		if step.restart {
			s = newSched()
		}
		clock = step.at
		before := len(rc.got())
		if err := s.Check(ctx); err != nil {
			t.Fatalf("%v: %v", step.at, err)
		}
		got := rc.got()[before:]
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(step.want, " ") {
			t.Errorf("%v: sent %v, want %v", step.at, got, step.want)
		}
	}
}

// TestReportRoomsFromBehaviour: with the behaviour rollups on, a report's
// busiest rooms are the period's messages per room of the target,
// recomputed; without them the section is listed as unavailable.
func TestReportRoomsFromBehaviour(t *testing.T) {
	msgs := corpus()
	for i := range msgs {
		msgs[i].Room = []string{"lobby", "游戏大厅", "vip", "<i>x</i>"}[(i*i)%4]
	}
	e := newEnv(t, msgs, nil, nil)
	ctx := context.Background()
	an, err := analysis.New(ctx, analysis.Options{Store: e.st, Behaviour: true, Location: zone, BehaviourWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- an.Run(rctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for an.Stats().BehaviourWritten < int64(len(msgs)) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	b, err := NewBuilder(Options{Store: e.st, Source: e.b.o.Source, Location: zone, Analysis: an,
		Now: func() time.Time { return time.Date(2026, 3, 20, 0, 0, 0, 0, zone) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		p      Period
		target string
	}{{Daily(date("2026-03-10")), ""}, {Weekly(date("2026-03-11")), "alpha"}} {
		r, err := b.Build(ctx, Request{Period: c.p, Target: c.target})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{}
		start, end := c.p.From.Start(zone), c.p.To.AddDays(1).Start(zone)
		for _, m := range msgs {
			if (c.target == "" || m.Target == c.target) && !m.ReceivedAt.Before(start) && m.ReceivedAt.Before(end) {
				want[m.Target+"/"+m.Room]++
			}
		}
		got := map[string]int64{}
		for i, x := range r.Rooms {
			got[x.Target+"/"+x.Room] = x.Messages
			if i > 0 && r.Rooms[i-1].Messages < x.Messages {
				t.Errorf("rooms out of order: %+v", r.Rooms)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || len(want) == 0 {
			t.Errorf("%s %q rooms %v, want %v", c.p.ID(c.target), c.target, got, want)
		}
		for _, u := range r.Unavailable {
			if u == "rooms" {
				t.Errorf("rooms listed unavailable with behaviour on")
			}
		}
		var html bytes.Buffer
		if err := WriteHTML(&html, r, LangZH); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(html.String(), "最活跃的房间") || strings.Contains(html.String(), "<i>x</i>") {
			t.Errorf("html rooms section missing or a room name not escaped")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
