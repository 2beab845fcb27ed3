package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/webui"
)

func TestMessagesShapeAndOrder(t *testing.T) {
	f := newFixture(t)
	h := f.server(nil)

	var all apiPage
	getJSON(t, h, "/api/messages?limit=500", http.StatusOK, &all)
	want := f.newestFirst(nil)
	if len(all.Messages) != len(want) {
		t.Fatalf("got %d messages, want %d", len(all.Messages), len(want))
	}
	for i := range want {
		checkMsg(t, all.Messages[i], want[i], false)
	}
	if all.Next != nil {
		t.Errorf("next = %q on the last page, want null", *all.Next)
	}
	if all.Total != nil || all.TotalIsEstimate != nil {
		t.Errorf("/api/messages has total fields")
	}

	// Default limit is 50 and a full page has a cursor: the last id.
	var def apiPage
	getJSON(t, h, "/api/messages", http.StatusOK, &def)
	if len(def.Messages) != 50 {
		t.Fatalf("default page has %d messages, want 50", len(def.Messages))
	}
	if def.Next == nil || *def.Next != strconv.FormatInt(def.Messages[49].ID, 10) {
		t.Errorf("next = %v, want %d", def.Next, def.Messages[49].ID)
	}

	// Single message: raw included.
	m := want[3]
	var one apiMsg
	getJSON(t, h, fmt.Sprintf("/api/messages/%d", m.ID), http.StatusOK, &one)
	checkMsg(t, one, m, true)
}

// walk pages through path (with a query) following next, and returns all
// ids in order and the totals seen.
func walk(t *testing.T, h http.Handler, path, query string) (ids []int64, totals []int64) {
	t.Helper()
	before := ""
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		target := path + "?" + query
		if before != "" {
			target += "&before=" + before
		}
		var p apiPage
		getJSON(t, h, target, http.StatusOK, &p)
		for _, m := range p.Messages {
			ids = append(ids, m.ID)
		}
		if p.Total != nil {
			totals = append(totals, *p.Total)
		}
		if p.Next == nil {
			return ids, totals
		}
		before = *p.Next
	}
}

func idsOf(ms []fmsg) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func TestMessagesPagingWalksAllOnce(t *testing.T) {
	f := newFixture(t)
	h := f.server(nil)
	for _, c := range []struct {
		query string
		keep  func(fmsg) bool
	}{
		{"limit=1", nil},
		{"limit=7", nil},
		{"limit=8", nil}, // 104 = 13*8: the last full page is followed by an empty one
		{"limit=50", nil},
		{"limit=500", nil},
		{"limit=3&user=u01", func(m fmsg) bool { return m.User == "u01" }},
		{"limit=5&target=beta&room=dev", func(m fmsg) bool { return m.Target == "beta" && m.Room == "dev" }},
	} {
		t.Run(c.query, func(t *testing.T) {
			got, _ := walk(t, h, "/api/messages", c.query)
			want := idsOf(f.newestFirst(c.keep))
			if !slices.Equal(got, want) {
				t.Errorf("walked ids %v,\nwant %v", got, want)
			}
		})
	}
}

func TestMessagesFilters(t *testing.T) {
	f := newFixture(t)
	h := f.server(nil)
	t3 := f.now.Add(-3 * 24 * time.Hour).Truncate(time.Millisecond)
	t1 := f.now.Add(-10 * time.Hour).Truncate(time.Millisecond)
	local := f.now.In(time.Local).AddDate(0, 0, -5)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.Local)
	exact := f.msgs[40].At // from is inclusive, to exclusive
	cases := []struct {
		name  string
		query string
		keep  func(fmsg) bool
		raw   bool
	}{
		{"user", qs("user", "alice"), func(m fmsg) bool { return m.User == "alice" }, false},
		{"user chinese", qs("user", "小明"), func(m fmsg) bool { return m.User == "小明" }, false},
		{"user with slash", qs("user", "x/y"), func(m fmsg) bool { return m.User == "x/y" }, false},
		{"user unknown", qs("user", "nobody"), func(m fmsg) bool { return false }, false},
		{"type system", qs("type", "system"), func(m fmsg) bool { return m.Type == "system" }, false},
		{"type join", qs("type", "join"), func(m fmsg) bool { return m.Type == "join" }, false},
		{"type leave", qs("type", "leave"), func(m fmsg) bool { return m.Type == "leave" }, false},
		{"type chat", qs("type", "chat"), func(m fmsg) bool { return m.Type == "chat" }, false},
		{"target", qs("target", "beta"), func(m fmsg) bool { return m.Target == "beta" }, false},
		{"room", qs("room", "dev"), func(m fmsg) bool { return m.Room == "dev" }, false},
		{"from ms", qs("from", ms(t3)), func(m fmsg) bool { return !m.At.Before(t3) }, false},
		{"to ms", qs("to", ms(t3)), func(m fmsg) bool { return m.At.Before(t3) }, false},
		{"from to rfc3339", qs("from", apiTime(t3), "to", apiTime(t1)), func(m fmsg) bool { return !m.At.Before(t3) && m.At.Before(t1) }, false},
		{"from rfc3339 offset", qs("from", t3.In(fixtureZone).Format(time.RFC3339Nano)), func(m fmsg) bool { return !m.At.Before(t3) }, false},
		{"from local date", qs("from", day.Format("2006-01-02")), func(m fmsg) bool { return !m.At.Before(day) }, false},
		{"from inclusive", qs("from", ms(exact)), func(m fmsg) bool { return !m.At.Before(exact) }, false},
		{"to exclusive", qs("to", ms(exact)), func(m fmsg) bool { return m.At.Before(exact) }, false},
		{"combined", qs("user", "u01", "target", "alpha", "room", "dev", "from", ms(f.now.Add(-20*24*time.Hour))),
			func(m fmsg) bool {
				return m.User == "u01" && m.Target == "alpha" && m.Room == "dev" && !m.At.Before(f.now.Add(-20*24*time.Hour).Truncate(time.Millisecond))
			}, false},
		{"raw=1", qs("raw", "1", "room", "lobby"), func(m fmsg) bool { return m.Room == "lobby" }, true},
		{"raw=true", qs("raw", "TRUE", "user", "bob"), func(m fmsg) bool { return m.User == "bob" }, true},
		{"raw=0", qs("raw", "0", "user", "bob"), func(m fmsg) bool { return m.User == "bob" }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p apiPage
			getJSON(t, h, "/api/messages?limit=500&"+c.query, http.StatusOK, &p)
			want := f.newestFirst(c.keep)
			if len(p.Messages) != len(want) {
				t.Fatalf("got %d messages, want %d", len(p.Messages), len(want))
			}
			for i := range want {
				checkMsg(t, p.Messages[i], want[i], c.raw)
			}
		})
	}
}

// contains is the documented search semantics, written independently.
func contains(content, q string) bool {
	return strings.Contains(strings.ToLower(content), strings.ToLower(q))
}

func TestSearch(t *testing.T) {
	f := newFixture(t)
	h := f.server(nil)
	cases := []struct {
		name    string
		query   string
		text    string // what must be contained
		keep    func(fmsg) bool
		minHits int
	}{
		{"chinese two characters", qs("q", "紧急"), "紧急", nil, 2},
		{"chinese one character", qs("q", "急"), "急", nil, 4},
		{"keyword alias", qs("keyword", "紧急"), "紧急", nil, 2},
		{"case-insensitive lower", qs("q", "hello"), "hello", nil, 2},
		{"case-insensitive upper", qs("q", "WORLD"), "world", nil, 2},
		{"case-insensitive mixed", qs("q", "HeLLo WoRlD"), "hello world", nil, 1},
		{"double quote", qs("q", `"`), `"`, nil, 1},
		{"single quote", qs("q", `'`), `'`, nil, 2},
		{"percent", qs("q", `%`), `%`, nil, 1},
		{"underscore", qs("q", `_`), `_`, nil, 1},
		{"star", qs("q", `*`), `*`, nil, 1},
		{"minus prefix", qs("q", `-x`), `-x`, nil, 1},
		{"colon", qs("q", `a:b`), `a:b`, nil, 1},
		{"NEAR", qs("q", `NEAR(a b)`), `NEAR(a b)`, nil, 1},
		{"AND", qs("q", `a AND b`), `a AND b`, nil, 1},
		{"sql injection", qs("q", `'; DROP TABLE messages; --`), `'; DROP TABLE messages; --`, nil, 1},
		{"emoji", qs("q", "👍"), "👍", nil, 1},
		{"backslash", qs("q", `\`), `\`, nil, 1},
		{"html", qs("q", "<script>"), "<script>", nil, 1},
		{"space", qs("q", " "), " ", nil, 20},
		{"no match", qs("q", "zzz-no-such-text"), "zzz-no-such-text", nil, 0},
		{"q wins over keyword", qs("q", "hello", "keyword", "紧急"), "hello", nil, 2},
		{"with user", qs("q", "filler", "user", "u02"), "filler", func(m fmsg) bool { return m.User == "u02" }, 1},
		{"with target and room", qs("q", "filler", "target", "alpha", "room", "dev"), "filler",
			func(m fmsg) bool { return m.Target == "alpha" && m.Room == "dev" }, 1},
		{"with type", qs("q", "carol", "type", "join"), "carol", func(m fmsg) bool { return m.Type == "join" }, 1},
		{"with from/to", qs("q", "filler", "from", ms(f.now.Add(-10*24*time.Hour)), "to", ms(f.now.Add(-5*24*time.Hour))), "filler",
			func(m fmsg) bool {
				return !m.At.Before(f.now.Add(-10*24*time.Hour).Truncate(time.Millisecond)) && m.At.Before(f.now.Add(-5*24*time.Hour).Truncate(time.Millisecond))
			}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p apiPage
			getJSON(t, h, "/api/search?limit=500&"+c.query, http.StatusOK, &p)
			want := f.newestFirst(func(m fmsg) bool { return contains(m.Content, c.text) && (c.keep == nil || c.keep(m)) })
			if len(want) < c.minHits {
				t.Fatalf("fixture: %d messages contain %q, want at least %d", len(want), c.text, c.minHits)
			}
			if p.Total == nil || *p.Total != int64(len(want)) || p.TotalIsEstimate == nil || *p.TotalIsEstimate {
				t.Errorf("total %v (estimate %v), want %d exact", p.Total, p.TotalIsEstimate, len(want))
			}
			if len(p.Messages) != len(want) {
				var got []string
				for _, m := range p.Messages {
					got = append(got, m.Content)
				}
				t.Fatalf("got %d hits %q, want %d", len(p.Messages), got, len(want))
			}
			for i := range want {
				checkMsg(t, p.Messages[i], want[i], false)
			}
		})
	}

	// The hostile queries changed nothing.
	var all apiPage
	getJSON(t, h, "/api/messages?limit=500", http.StatusOK, &all)
	if len(all.Messages) != len(f.msgs) {
		t.Errorf("after the searches %d messages remain, want %d", len(all.Messages), len(f.msgs))
	}
}

// searchPagingCases are searches over several pages.
var searchPagingCases = []struct {
	query string
	keep  func(fmsg) bool
}{
	{qs("q", "FILLER", "limit", "7"), func(m fmsg) bool { return contains(m.Content, "filler") }},
	{qs("q", "message #0", "limit", "3"), func(m fmsg) bool { return contains(m.Content, "message #0") }},
	{qs("keyword", "e", "limit", "10", "room", "lobby"), func(m fmsg) bool { return contains(m.Content, "e") && m.Room == "lobby" }},
}

func TestSearchPaging(t *testing.T) {
	f := newFixture(t)
	h := f.server(nil)
	for _, c := range searchPagingCases {
		t.Run(c.query, func(t *testing.T) {
			ids, totals := walk(t, h, "/api/search", c.query)
			want := idsOf(f.newestFirst(c.keep))
			if !slices.Equal(ids, want) {
				t.Errorf("walked %v,\nwant %v", ids, want)
			}
			if len(totals) == 0 || totals[0] != int64(len(want)) {
				t.Errorf("the first page reported totals %v, want %d", totals, len(want))
			}
		})
	}
}

// TestSearchTotalOnEveryPage: total is the number of matches over all
// pages, the same on every page (docs/api.md).
func TestSearchTotalOnEveryPage(t *testing.T) {
	f := newFixture(t)
	h := f.server(nil)
	for _, c := range searchPagingCases {
		t.Run(c.query, func(t *testing.T) {
			_, totals := walk(t, h, "/api/search", c.query)
			want := len(f.newestFirst(c.keep))
			for i, n := range totals {
				if n != int64(want) {
					t.Errorf("page %d reported total %d, want %d on every page", i+1, n, want)
				}
			}
		})
	}
}

func TestContext(t *testing.T) {
	f := newFixture(t)
	h := f.server(nil)
	type ctxResp struct {
		Anchor   int64    `json:"anchor"`
		Messages []apiMsg `json:"messages"`
	}
	sameTarget := func(target string) []fmsg {
		var out []fmsg
		for _, m := range f.msgs {
			if m.Target == target {
				out = append(out, m)
			}
		}
		return out
	}
	alpha, beta := sameTarget("alpha"), sameTarget("beta")
	for _, c := range []struct {
		name   string
		list   []fmsg
		idx, n int
		query  string
	}{
		{"middle n=3", alpha, 20, 3, "?n=3"},
		{"default n=20", beta, 30, 20, ""},
		{"first of target", alpha, 0, 5, "?n=5"},
		{"last of target", beta, len(beta) - 1, 4, "?n=4"},
		{"n larger than history", beta, 2, 200, "?n=200"},
	} {
		t.Run(c.name, func(t *testing.T) {
			anchor := c.list[c.idx]
			var r ctxResp
			getJSON(t, h, fmt.Sprintf("/api/messages/%d/context%s", anchor.ID, c.query), http.StatusOK, &r)
			want := c.list[max(0, c.idx-c.n):min(len(c.list), c.idx+c.n+1)]
			if r.Anchor != anchor.ID {
				t.Errorf("anchor = %d, want %d", r.Anchor, anchor.ID)
			}
			if len(r.Messages) != len(want) {
				t.Fatalf("got %d messages, want %d", len(r.Messages), len(want))
			}
			for i := range want { // oldest first, anchor included
				checkMsg(t, r.Messages[i], want[i], false)
			}
		})
	}
	for _, c := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/messages/999999/context", 404, "not_found"},
		{"/api/messages/999999", 404, "not_found"},
		{"/api/messages/abc/context", 400, "bad_param"},
		{"/api/messages/0/context", 400, "bad_param"},
		{"/api/messages/-3/context", 400, "bad_param"},
		{"/api/messages/1.5/context", 400, "bad_param"},
		{"/api/messages/99999999999999999999/context", 400, "bad_param"},
		{"/api/messages/abc", 400, "bad_param"},
		{"/api/messages/1/context?n=0", 400, "bad_param"},
		{"/api/messages/1/context?n=201", 400, "bad_param"},
		{"/api/messages/1/context?n=x", 400, "bad_param"},
	} {
		var e apiErr
		getJSON(t, h, c.path, c.status, &e)
		if e.Error.Code != c.code || e.Error.Message == "" {
			t.Errorf("%s: error %+v, want code %s", c.path, e.Error, c.code)
		}
		if c.code == "bad_param" {
			want := "id: "
			if strings.Contains(c.path, "n=") {
				want = "n: "
			}
			if !strings.HasPrefix(e.Error.Message, want) {
				t.Errorf("%s: message %q does not name the parameter (%q)", c.path, e.Error.Message, want)
			}
		}
	}
}

func TestUser(t *testing.T) {
	f := newFixture(t)
	h := f.server(nil)
	type userResp struct {
		User         string   `json:"user"`
		FirstSeen    *string  `json:"first_seen"`
		LastSeen     *string  `json:"last_seen"`
		MessageCount int64    `json:"message_count"`
		ActiveHours  []int64  `json:"active_hours"`
		Recent       []apiMsg `json:"recent"`
	}
	for _, c := range []struct{ name, path, target string }{
		{"alice", "alice", ""},
		{"小明", "%E5%B0%8F%E6%98%8E", ""},
		{"u01", "u01", ""}, // more than 20 messages: recent is capped
		{"u01", "u01", "alpha"},
		{"x/y", "x%2Fy", ""},
		{"old-timer", "old-timer", ""},
	} {
		t.Run(c.name+"/"+c.target, func(t *testing.T) {
			path := "/api/users/" + c.path
			if c.target != "" {
				path += "?target=" + c.target
			}
			var u userResp
			getJSON(t, h, path, http.StatusOK, &u)
			ms := f.newestFirst(func(m fmsg) bool { return m.User == c.name && (c.target == "" || m.Target == c.target) })
			if u.User != c.name || u.MessageCount != int64(len(ms)) {
				t.Errorf("user %q count %d, want %q %d", u.User, u.MessageCount, c.name, len(ms))
			}
			first, last := ms[len(ms)-1].At, ms[0].At
			if u.FirstSeen == nil || *u.FirstSeen != apiTime(first) || u.LastSeen == nil || *u.LastSeen != apiTime(last) {
				t.Errorf("first/last seen %v %v, want %s %s", u.FirstSeen, u.LastSeen, apiTime(first), apiTime(last))
			}
			if len(u.ActiveHours) != 24 {
				t.Fatalf("active_hours has %d entries", len(u.ActiveHours))
			}
			var want [24]int64
			var sum int64
			for _, m := range ms {
				want[m.At.In(fixtureZone).Hour()]++
			}
			for hr, n := range u.ActiveHours {
				sum += n
				if n != want[hr] {
					t.Errorf("active_hours[%d] = %d, want %d (hours in the statistics time zone)", hr, n, want[hr])
				}
			}
			if sum != u.MessageCount {
				t.Errorf("active_hours sum to %d, want %d", sum, u.MessageCount)
			}
			wantRecent := ms[:min(20, len(ms))]
			if len(u.Recent) != len(wantRecent) {
				t.Fatalf("recent has %d, want %d", len(u.Recent), len(wantRecent))
			}
			for i := range wantRecent {
				checkMsg(t, u.Recent[i], wantRecent[i], false)
			}
		})
	}
	var e apiErr
	getJSON(t, h, "/api/users/nobody", http.StatusNotFound, &e)
	if e.Error.Code != "not_found" {
		t.Errorf("unknown user: %+v", e)
	}
	getJSON(t, h, "/api/users/alice?target=gamma", http.StatusNotFound, &e)
	getJSON(t, h, "/api/users/"+strings.Repeat("n", 257), http.StatusBadRequest, &e)
	if e.Error.Code != "bad_param" || !strings.HasPrefix(e.Error.Message, "name: ") {
		t.Errorf("long name: %+v", e)
	}
}

func TestSessions(t *testing.T) {
	f := newFixture(t)
	h := f.server(nil)
	type sessResp struct {
		Sessions []struct {
			ID             int64   `json:"id"`
			Target         string  `json:"target"`
			URL            string  `json:"url"`
			ConnectedAt    string  `json:"connected_at"`
			DisconnectedAt *string `json:"disconnected_at"`
			CloseCode      int     `json:"close_code"`
			CloseReason    string  `json:"close_reason"`
			Messages       int64   `json:"messages"`
			Error          string  `json:"error"`
		} `json:"sessions"`
		Gaps []struct {
			Target  string  `json:"target"`
			From    string  `json:"from"`
			To      string  `json:"to"`
			Seconds float64 `json:"seconds"`
		} `json:"gaps"`
	}
	check := func(query string, keep func(fsession) bool, wantGaps int) sessResp {
		t.Helper()
		var r sessResp
		getJSON(t, h, "/api/sessions"+query, http.StatusOK, &r)
		var want []fsession
		for i := len(f.sessions) - 1; i >= 0; i-- { // newest first
			if keep(f.sessions[i]) {
				want = append(want, f.sessions[i])
			}
		}
		if len(r.Sessions) != len(want) {
			t.Fatalf("%s: %d sessions, want %d", query, len(r.Sessions), len(want))
		}
		for i, w := range want {
			g := r.Sessions[i]
			if g.ID != w.ID || g.Target != w.Target || g.URL != w.URL || g.ConnectedAt != apiTime(w.Start) ||
				g.CloseCode != w.Code || g.CloseReason != w.Reason || g.Error != w.Error || g.Messages != w.Messages {
				t.Errorf("%s: session %+v, want %+v", query, g, w)
			}
			if w.End.IsZero() != (g.DisconnectedAt == nil) || (g.DisconnectedAt != nil && *g.DisconnectedAt != apiTime(w.End)) {
				t.Errorf("%s: session %d disconnected_at %v, want %v", query, w.ID, g.DisconnectedAt, w.End)
			}
		}
		if len(r.Gaps) != wantGaps {
			t.Fatalf("%s: %d gaps %+v, want %d", query, len(r.Gaps), r.Gaps, wantGaps)
		}
		return r
	}
	r := check("", func(fsession) bool { return true }, 1)
	// alpha's first session ended, the second started an hour later.
	var s1, s2 fsession
	for _, s := range f.sessions {
		if s.Target == "alpha" && s1.ID == 0 {
			s1 = s
		} else if s.Target == "alpha" {
			s2 = s
		}
	}
	g := r.Gaps[0]
	if g.Target != "alpha" || g.From != apiTime(s1.End) || g.To != apiTime(s2.Start) || g.Seconds != s2.Start.Sub(s1.End).Seconds() {
		t.Errorf("gap %+v, want alpha %s..%s", g, apiTime(s1.End), apiTime(s2.Start))
	}
	check("?target=alpha", func(s fsession) bool { return s.Target == "alpha" }, 1)
	check("?target=beta", func(s fsession) bool { return s.Target == "beta" }, 0)
	check("?target=nothing", func(s fsession) bool { return false }, 0)
	check("?limit=1", func(s fsession) bool { return s.ID == f.sessions[len(f.sessions)-1].ID }, 0)
	var total int64
	for _, s := range f.sessions {
		total += s.Messages
	}
	if total != int64(len(f.msgs)) {
		t.Errorf("session message counts sum to %d, want %d", total, len(f.msgs))
	}
}

type statsResp struct {
	TotalMessages int64 `json:"total_messages"`
	TodayMessages int64 `json:"today_messages"`
	ActiveUsers   int64 `json:"active_users"`
	Daily         []struct {
		Date  string `json:"date"`
		Count int64  `json:"count"`
	} `json:"daily"`
	Hourly []struct {
		Hour  int   `json:"hour"`
		Count int64 `json:"count"`
	} `json:"hourly"`
	TopUsers []struct {
		User  string `json:"user"`
		Count int64  `json:"count"`
	} `json:"top_users"`
	Monitor []struct {
		Target        string  `json:"target"`
		URL           string  `json:"url"`
		State         string  `json:"state"`
		Since         *string `json:"since"`
		Reconnects    int     `json:"reconnects"`
		LastMessageAt *string `json:"last_message_at"`
		LastError     string  `json:"last_error"`
	} `json:"monitor"`
	TimeZone string `json:"time_zone"`
}

// expectStats computes the statistics of the messages kept, the way
// store.Stats documents them, in fixtureZone.
//
// total and top_users count the messages kept (target and from/to);
// daily and hourly count whole local days from dayStart to dayEnd of the
// target's messages, even when from/to cut a day.
func (f *fixture) expectStats(t *testing.T, got statsResp, keep func(fmsg) bool, target string, dayStart, dayEnd time.Time) {
	t.Helper()
	var total int64
	daily := map[string]int64{}
	var hourly [24]int64
	users := map[string]int64{}
	for _, m := range f.msgs {
		if target != "" && m.Target != target {
			continue
		}
		if !m.At.Before(dayStart) && m.At.Before(dayEnd) {
			daily[m.At.In(fixtureZone).Format("2006-01-02")]++
			hourly[m.At.In(fixtureZone).Hour()]++
		}
		if !keep(m) {
			continue
		}
		total++
		if m.User != "" && message.IsActivity(message.Type(m.Type)) { // the leaderboard counts user activity only
			users[m.User]++
		}
	}
	if got.TotalMessages != total {
		t.Errorf("total_messages = %d, want %d", got.TotalMessages, total)
	}
	var days []string
	for d := dayStart; d.Before(dayEnd); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format("2006-01-02"))
	}
	if len(got.Daily) != len(days) {
		t.Fatalf("daily has %d entries, want %d", len(got.Daily), len(days))
	}
	for i, d := range days {
		if got.Daily[i].Date != d || got.Daily[i].Count != daily[d] {
			t.Errorf("daily[%d] = %+v, want %s %d", i, got.Daily[i], d, daily[d])
		}
	}
	if len(got.Hourly) != 24 {
		t.Fatalf("hourly has %d entries", len(got.Hourly))
	}
	for hr := range 24 {
		if got.Hourly[hr].Hour != hr || got.Hourly[hr].Count != hourly[hr] {
			t.Errorf("hourly[%d] = %+v, want %d", hr, got.Hourly[hr], hourly[hr])
		}
	}
	type uc struct {
		u string
		n int64
	}
	var top []uc
	for u, n := range users {
		top = append(top, uc{u, n})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].n > top[j].n || top[i].n == top[j].n && top[i].u < top[j].u })
	top = top[:min(10, len(top))]
	if len(got.TopUsers) != len(top) {
		t.Fatalf("top_users %+v, want %+v", got.TopUsers, top)
	}
	for i := range top {
		if got.TopUsers[i].User != top[i].u || got.TopUsers[i].Count != top[i].n {
			t.Errorf("top_users[%d] = %+v, want %+v", i, got.TopUsers[i], top[i])
		}
	}
}

func TestStats(t *testing.T) {
	f := newFixture(t)
	since := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	h := f.server(func(o *Options) {
		o.Status = func(context.Context) []TargetStatus {
			return []TargetStatus{{Target: "alpha", URL: "ws://127.0.0.1:9/alpha", State: "connected", Since: since, Reconnects: 2}}
		}
	})
	var st statsResp
	getJSON(t, h, "/api/stats", http.StatusOK, &st)

	now := time.Now().In(fixtureZone)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, fixtureZone)
	f.expectStats(t, st, func(fmsg) bool { return true }, "", today.AddDate(0, 0, -29), today.AddDate(0, 0, 1))
	if len(st.Daily) != 30 {
		t.Errorf("daily has %d entries, want 30", len(st.Daily))
	}
	var wantToday int64
	active := map[string]bool{}
	for _, m := range f.msgs {
		if !m.At.Before(today) {
			wantToday++
		}
		if m.User != "" && message.IsActivity(message.Type(m.Type)) && m.At.After(time.Now().Add(-24*time.Hour)) {
			active[m.User] = true
		}
	}
	if st.TodayMessages != wantToday {
		t.Errorf("today_messages = %d, want %d", st.TodayMessages, wantToday)
	}
	if st.ActiveUsers != int64(len(active)) {
		t.Errorf("active_users = %d, want %d", st.ActiveUsers, len(active))
	}
	if st.TimeZone != fixtureZoneName {
		t.Errorf("time_zone = %q", st.TimeZone)
	}
	if len(st.Monitor) != 1 || st.Monitor[0].State != "connected" || st.Monitor[0].Since == nil ||
		*st.Monitor[0].Since != "2026-01-02T03:04:05.006Z" || st.Monitor[0].LastMessageAt != nil || st.Monitor[0].Reconnects != 2 {
		t.Errorf("monitor = %+v", st.Monitor)
	}

	// Bounded by from/to: totals and top users within, days of the range.
	from, to := f.now.Add(-3*24*time.Hour), f.now.Add(-time.Hour)
	getJSON(t, h, "/api/stats?"+qs("from", ms(from), "to", ms(to)), http.StatusOK, &st)
	fl, tl := from.In(fixtureZone), to.In(fixtureZone)
	dayStart := time.Date(fl.Year(), fl.Month(), fl.Day(), 0, 0, 0, 0, fixtureZone)
	dayEnd := time.Date(tl.Year(), tl.Month(), tl.Day(), 0, 0, 0, 0, fixtureZone).AddDate(0, 0, 1)
	fromMs, toMs := from.Truncate(time.Millisecond), to.Truncate(time.Millisecond)
	inRange := func(m fmsg) bool { return !m.At.Before(fromMs) && m.At.Before(toMs) }
	// daily/hourly cover whole local days of the range, not just from..to.
	f.expectStats(t, st, inRange, "", dayStart, dayEnd)

	// One target.
	getJSON(t, h, "/api/stats?target=beta", http.StatusOK, &st)
	f.expectStats(t, st, func(m fmsg) bool { return m.Target == "beta" }, "beta", today.AddDate(0, 0, -29), today.AddDate(0, 0, 1))
}

func TestBadParams(t *testing.T) {
	f := newFixture(t)
	h := f.server(nil)
	long := strings.Repeat("x", 257)
	cases := []struct {
		path, param string
	}{
		{"/api/messages?limit=0", "limit"},
		{"/api/messages?limit=abc", "limit"},
		{"/api/messages?limit=501", "limit"},
		{"/api/messages?limit=-1", "limit"},
		{"/api/messages?limit=1.5", "limit"},
		{"/api/messages?before=-1", "before"},
		{"/api/messages?before=x", "before"},
		{"/api/messages?type=bogus", "type"},
		{"/api/messages?type=CHAT", "type"},
		{"/api/messages?from=garbage", "from"},
		{"/api/messages?to=garbage", "to"},
		{"/api/messages?from=2026-13-01", "from"},
		{"/api/messages?from=2026-01-02&to=2026-01-01", "from"},
		{"/api/messages?from=2026-01-02&to=2026-01-02", "from"},
		{"/api/messages?user=" + long, "user"},
		{"/api/messages?user=%ff", "user"},
		{"/api/messages?room=" + long, "room"},
		{"/api/messages?target=" + long, "target"},
		{"/api/messages?raw=123456789", "raw"},
		{"/api/search", "q"},
		{"/api/search?q=", "q"},
		{"/api/search?q=" + strings.Repeat("q", 1025), "q"},
		{"/api/search?keyword=" + strings.Repeat("q", 1025), "keyword"},
		{"/api/search?q=a&limit=0", "limit"},
		{"/api/search?q=a&type=bogus", "type"},
		{"/api/search?q=a&from=garbage", "from"},
		{"/api/search?q=a&from=2026-01-02&to=2026-01-01", "from"},
		{"/api/stats?from=garbage", "from"},
		{"/api/stats?to=garbage", "to"},
		{"/api/stats?from=2026-01-02&to=2026-01-01", "from"},
		{"/api/stats?from=9999-12-31&to=0001-01-01", "to"},
		{"/api/messages?from=9999-12-31&to=0001-01-01", "to"},
		{"/api/stats?to=0001-01-01", "to"},
		{"/api/stats?from=0001-01-02", "from"},
		{"/api/stats?from=1969-12-31T23:59:59Z", "from"},
		{"/api/stats?from=-1", "from"},
		{"/api/stats?to=253402300800000", "to"}, // 10000-01-01
		{"/api/stats?to=9223372036854775807", "to"},
		// One daily entry per day: the range is capped (issue: 117 MB, 8.7 s).
		{"/api/stats?from=1970-01-02&to=9999-12-31", "from"},
		{"/api/stats?from=1970-01-02", "from"},
		{"/api/stats?to=9999-12-31", "to"},
		{"/api/stats?from=2000-01-01&to=2011-01-01", "from"},
		{"/api/stats?target=" + long, "target"},
		{"/api/sessions?limit=0", "limit"},
		{"/api/sessions?limit=1001", "limit"},
		{"/api/sessions?limit=abc", "limit"},
		{"/api/users/alice?target=" + long, "target"},
		{"/api/live?type=bogus", "type"},
		{"/api/live?user=" + long, "user"},
	}
	// In UTC, to=0001-01-01 is the zero time.Time the store reads as "no
	// bound": every case is also run there.
	utc := f.server(func(o *Options) { o.Location = time.UTC })
	for _, c := range cases {
		t.Run(c.path[:min(len(c.path), 60)], func(t *testing.T) {
			for _, h := range []http.Handler{h, utc} {
				var e apiErr
				getJSON(t, h, c.path, http.StatusBadRequest, &e)
				if e.Error.Code != "bad_param" || !strings.HasPrefix(e.Error.Message, c.param+": ") {
					t.Errorf("error %+v, want bad_param naming %q", e.Error, c.param)
				}
			}
		})
	}
	// Limits at their bounds are accepted.
	for _, p := range []string{"/api/messages?limit=1", "/api/messages?limit=500", "/api/search?q=a&limit=500",
		"/api/sessions?limit=1000", "/api/messages/1/context?n=200", "/api/messages?before=0",
		"/api/messages?from=2026-01-02T15:04", "/api/messages?from=2026-01-02T15:04:05.123456789%2B08:00",
		"/api/messages?from=1970-01-01T00:00:00Z&to=9999-12-31T23:59:59Z", "/api/messages?from=0",
		"/api/stats?from=2000-01-01&to=2010-01-01"} {
		getJSON(t, h, p, http.StatusOK, nil)
	}
	// Unknown API paths are JSON 404s.
	for _, p := range []string{"/api/x", "/api/", "/api/messages/1/other", "/api/users/"} {
		var e apiErr
		getJSON(t, h, p, http.StatusNotFound, &e)
		if e.Error.Code != "not_found" {
			t.Errorf("%s: %+v", p, e)
		}
	}
}

// failingStore fails every call, as a broken database would.
type failingStore struct{}

var errDisk = errors.New("disk I/O error: /secret/path/wsmon.db")

func (failingStore) Messages(context.Context, store.MessageQuery) ([]message.Message, error) {
	return nil, errDisk
}
func (failingStore) Message(context.Context, int64) (message.Message, error) {
	return message.Message{}, errDisk
}
func (failingStore) Context(context.Context, int64, int) ([]message.Message, error) {
	return nil, errDisk
}
func (failingStore) Search(context.Context, string, store.MessageQuery) (store.SearchResult, error) {
	return store.SearchResult{}, errDisk
}
func (failingStore) Stats(context.Context, store.StatsQuery) (store.Stats, error) {
	return store.Stats{}, errDisk
}
func (failingStore) User(context.Context, string, string) (store.UserInfo, error) {
	return store.UserInfo{}, errDisk
}
func (failingStore) Sessions(context.Context, string, int) ([]store.Session, error) {
	return nil, errDisk
}
func (failingStore) Attempts(context.Context, string, int) ([]store.Attempt, error) {
	return nil, errDisk
}

func TestInternalErrorsHideDetails(t *testing.T) {
	h := New(Options{Store: failingStore{}, Logger: discardLogger()})
	for _, p := range []string{"/api/stats", "/api/messages", "/api/messages/1", "/api/messages/1/context",
		"/api/search?q=a", "/api/users/a", "/api/sessions"} {
		var e apiErr
		getJSON(t, h, p, http.StatusInternalServerError, &e)
		if e.Error.Code != "internal" || strings.Contains(e.Error.Message, "secret") {
			t.Errorf("%s: %+v", p, e)
		}
	}
	// Without a hub the live stream is unavailable, as JSON.
	var e apiErr
	getJSON(t, h, "/api/live", http.StatusServiceUnavailable, &e)
	if e.Error.Code != "unavailable" {
		t.Errorf("/api/live without hub: %+v", e)
	}
}

func checkCSP(t *testing.T, what string, hdr http.Header) {
	t.Helper()
	csp := hdr.Get("Content-Security-Policy")
	if csp == "" {
		t.Errorf("%s: no Content-Security-Policy", what)
		return
	}
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		d = strings.TrimSpace(d)
		name, val, _ := strings.Cut(d, " ")
		directives[name] = val
	}
	for name, want := range map[string]string{"default-src": "'self'", "script-src": "'self'", "object-src": "'none'",
		"frame-ancestors": "'none'", "base-uri": "'none'"} {
		if directives[name] != want {
			t.Errorf("%s: CSP %s = %q, want %q (CSP %q)", what, name, directives[name], want, csp)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*", "data: 'self'"} {
		if strings.Contains(directives["script-src"]+" "+directives["default-src"]+" "+directives["style-src"], bad) {
			t.Errorf("%s: CSP allows %s: %q", what, bad, csp)
		}
	}
	if hdr.Get("X-Content-Type-Options") != "nosniff" || hdr.Get("X-Frame-Options") != "DENY" {
		t.Errorf("%s: X-Content-Type-Options %q, X-Frame-Options %q", what, hdr.Get("X-Content-Type-Options"), hdr.Get("X-Frame-Options"))
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	for _, auth := range []bool{false, true} {
		h := f.server(func(o *Options) {
			o.UI = webui.Handler()
			if auth {
				o.Token = "tok"
			}
		})
		for _, p := range []string{"/", "/index.html", "/api/stats", "/api/messages?limit=0", "/api/x", "/healthz",
			"/api/ui-config", "/api/openapi.json", "/api/messages/999999"} {
			w := do(t, h, "GET", p, nil)
			checkCSP(t, fmt.Sprintf("GET %s (auth %v, status %d)", p, auth, w.Code), w.Header())
			if strings.HasPrefix(p, "/api/") && !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
				t.Errorf("GET %s: Content-Type %q", p, w.Header().Get("Content-Type"))
			}
		}
		w := do(t, h, "POST", "/api/login", strings.NewReader(`{"token":"tok"}`))
		checkCSP(t, "POST /api/login", w.Header())
	}
}

// JSON output escapes HTML so a message can never be sniffed as markup.
func TestJSONEscapesHTML(t *testing.T) {
	f := newFixture(t)
	h := f.server(nil)
	w := do(t, h, "GET", "/api/search?q=%3Cscript%3E", nil)
	if w.Code != 200 || strings.Contains(w.Body.String(), "<script>") || !strings.Contains(w.Body.String(), `\u003cscript\u003e`) {
		t.Errorf("body %s", w.Body.String())
	}
}

// TestReadyz: /readyz needs no credentials, answers 200 when every check
// passes and 503 with the failing check otherwise; without a monitor it
// checks that the database can be read.
func TestReadyz(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name   string
		checks []Check
		code   int
		body   string
	}{
		{"healthy", []Check{{Name: "journal", OK: true}, {Name: "database", OK: true}}, 200, `"status":"ready"`},
		{"journal failing", []Check{{Name: "journal", Detail: "no space left on device"}, {Name: "database", OK: true}}, 503,
			`{"status":"not_ready","checks":[{"name":"journal","ok":false,"detail":"no space left on device"},{"name":"database","ok":true}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := f.server(func(o *Options) {
				o.Token = "a-token-long-enough-1"
				o.Ready = func(context.Context) []Check { return tc.checks }
			})
			w := do(t, h, "GET", "/readyz", nil)
			if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.body) {
				t.Errorf("%d %s", w.Code, w.Body.String())
			}
		})
	}
	w := do(t, f.server(nil), "GET", "/readyz", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `{"name":"database","ok":true}`) {
		t.Errorf("without a monitor: %d %s", w.Code, w.Body.String())
	}
}

// TestHealthPlainText: /healthz and /readyz answer plain text when asked
// (?format=text, or Accept: text/plain without JSON), JSON otherwise, with
// the same status codes.
func TestHealthPlainText(t *testing.T) {
	f := newFixture(t)
	failing := f.server(func(o *Options) {
		o.Ready = func(context.Context) []Check {
			return []Check{{Name: "journal", Detail: "no space left on device"}, {Name: "database", OK: true}}
		}
	})
	for _, tc := range []struct {
		name, target string
		hdr          []string
		code         int
		ctype, body  string
	}{
		{"healthz text", "/healthz?format=text", nil, 200, "text/plain", "ok\n"},
		{"healthz accept", "/healthz", []string{"Accept", "text/plain"}, 200, "text/plain", "ok\n"},
		{"healthz json", "/healthz", []string{"Accept", "application/json, text/plain"}, 200, "application/json", `{"status":"ok"}`},
		{"readyz text", "/readyz?format=text", nil, 503, "text/plain", "not_ready\nfail journal: no space left on device\nok database\n"},
		{"readyz json", "/readyz?format=json", []string{"Accept", "text/plain"}, 503, "application/json", `"status":"not_ready"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(t, failing, "GET", tc.target, nil, tc.hdr...)
			if w.Code != tc.code || !strings.HasPrefix(w.Header().Get("Content-Type"), tc.ctype) || !strings.Contains(w.Body.String(), tc.body) {
				t.Errorf("%d %s %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
			}
		})
	}
}

// TestStatsIngestCounters: /api/stats shows the monitor's ingest counters
// when it has a monitor, and no "ingest" without one.
func TestStatsIngestCounters(t *testing.T) {
	f := newFixture(t)
	with := f.server(func(o *Options) {
		o.Ingest = func() IngestCounters {
			return IngestCounters{Duplicates: 3, IDCollisions: 1, JournalCorruptRecords: 2, JournalCorruptBytes: 70}
		}
	})
	w := do(t, with, "GET", "/api/stats", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"ingest":{"duplicates":3,"id_collisions":1,"journal_corrupt_records":2,"journal_corrupt_bytes":70,`) {
		t.Errorf("with a monitor: %d %s", w.Code, w.Body.String())
	}
	w = do(t, f.server(nil), "GET", "/api/stats", nil)
	if w.Code != 200 || strings.Contains(w.Body.String(), `"ingest"`) {
		t.Errorf("without a monitor: %d %s", w.Code, w.Body.String())
	}
}

// TestStatsPerRoom: /api/stats?room= counts one room's messages only (the
// dashboard's room selector), alone and with a target.
func TestStatsPerRoom(t *testing.T) {
	f := newFixture(t)
	h := f.server(nil)
	rooms := map[string]int64{}
	byTarget := map[[2]string]int64{}
	for _, m := range f.msgs {
		if m.Room != "" {
			rooms[m.Room]++
			byTarget[[2]string{m.Target, m.Room}]++
		}
	}
	if len(rooms) < 2 {
		t.Fatalf("fixture has %d rooms", len(rooms))
	}
	for room, n := range rooms {
		var st struct {
			Total int64 `json:"total_messages"`
		}
		getJSON(t, h, "/api/stats?room="+url.QueryEscape(room), 200, &st)
		if st.Total != n {
			t.Errorf("room %q: total %d, want %d", room, st.Total, n)
		}
	}
	for k, n := range byTarget {
		var st struct {
			Total int64 `json:"total_messages"`
		}
		getJSON(t, h, "/api/stats?target="+url.QueryEscape(k[0])+"&room="+url.QueryEscape(k[1]), 200, &st)
		if st.Total != n {
			t.Errorf("target %q room %q: total %d, want %d", k[0], k[1], st.Total, n)
		}
	}
}
