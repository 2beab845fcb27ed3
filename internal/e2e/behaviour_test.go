package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/webui"
)

// TestBehaviour: the users page, the behaviour part of the user page and
// the activity and reports tabs of the analysis view, against a wsmon with
// analysis_behaviour on and traffic from 57 users: the users page lists
// the API's users in the API's order (default, sorted by name, searched,
// and the second page through "More"), a user page shows the API's
// figures (messages, sessions, days active, rooms, who speaks before and
// after, whose links open their pages), the activity tab draws the series
// with the previous period and shows the API's totals (whole chat and one
// room), the reports tab shows the JSON's volume and opens the HTML report
// in a new tab; in English and Chinese; no view scrolls sideways at a
// phone's width (a screenshot of the user page is saved as an artifact).
// With analysis_behaviour off each view names the key, without asking the
// API (no 409 in the console).
func TestBehaviour(t *testing.T) {
	if !webui.Built() {
		skipOrFail(t, "UI not built: run make (or cd web && npm ci && npm run build)")
	}
	b := startBrowser(t)
	t.Run("On", func(t *testing.T) {
		w := startWsmon(t, func(c *config.Config) {
			yes := true
			c.AnalysisBehaviour = &yes
		})
		if got := uiAnalyses(t, w); !slices.Contains(got, "behaviour") {
			t.Fatalf("/api/ui-config analyses %q: want behaviour listed with analysis_behaviour on", got)
		}
		// The reports tab checks "today" and "yesterday" against messages
		// sent now: not across a local midnight (the views take about a
		// minute).
		now := time.Now().In(w.cfg.Location())
		if wait := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, now.Location()).Sub(now); wait < 5*time.Minute {
			t.Logf("waiting %v for local midnight to pass", wait.Round(time.Second))
			time.Sleep(wait + 2*time.Second)
		}
		feedBehaviour(t, w)
		testUsersPage(t, b, w)
		testUserBehaviour(t, b, w)
		testActivityTab(t, b, w)
		testReportsTab(t, b, w)
		testBehaviourWidth(t, b, w)
	})
	t.Run("Off", func(t *testing.T) { testBehaviourOff(t, b) })
}

type behaviourUsersJSON struct {
	Users []struct {
		User     string `json:"user"`
		Messages int64  `json:"messages"`
		Sessions int64  `json:"sessions"`
	} `json:"users"`
	Total      int64   `json:"total"`
	NextCursor *string `json:"next_cursor"`
}

func (u behaviourUsersJSON) names() []string {
	out := make([]string, len(u.Users))
	for i, x := range u.Users {
		out[i] = x.User
	}
	return out
}

type userBehaviourJSON struct {
	User       string `json:"user"`
	Messages   int64  `json:"messages"`
	DaysActive int64  `json:"days_active"`
	Sessions   struct {
		Count int64 `json:"count"`
	} `json:"sessions"`
	Heatmap [][]int64 `json:"heatmap"`
	Rooms   []struct {
		Target   string `json:"target"`
		Room     string `json:"room"`
		Messages int64  `json:"messages"`
	} `json:"rooms"`
	Before []struct {
		User  string `json:"user"`
		Count int64  `json:"count"`
	} `json:"before"`
	After []struct {
		User  string `json:"user"`
		Count int64  `json:"count"`
	} `json:"after"`
}

type activityJSON struct {
	Step     string                  `json:"step"`
	Series   []struct{ Count int64 } `json:"series"`
	Total    int64                   `json:"total"`
	Previous struct {
		Total int64 `json:"total"`
	} `json:"previous"`
	Heatmap [][]int64 `json:"heatmap"`
	Users   *struct {
		Retention []struct {
			Date string `json:"date"`
		} `json:"retention"`
	} `json:"users"`
}

func heatSum(hm [][]int64) int64 {
	var n int64
	for _, r := range hm {
		for _, v := range r {
			n += v
		}
	}
	return n
}

// behaviourNames are the users of feedBehaviour: u00 … u54, a name that is
// markup and a Chinese one.
func behaviourNames() []string {
	names := make([]string, 0, 57)
	for i := range 55 {
		names = append(names, fmt.Sprintf("u%02d", i))
	}
	return append(names, `<img src=x onerror=alert(1)>`, "张三")
}

// feedBehaviour sends chat in rooms r0–r2, round after round, user i
// speaking in the first (i % 7) + 1 rounds, so the counts differ and
// users follow one another in the rooms; it waits until the behaviour
// rollups hold every message.
func feedBehaviour(t *testing.T, w *wsmon) {
	t.Helper()
	names := behaviourNames()
	want := map[string]int64{}
	var sent int64
	for round := range 7 {
		for i, u := range names {
			if round > i%7 {
				continue
			}
			w.inject(map[string]string{"type": "chat", "user": u, "room": fmt.Sprintf("r%d", (i+round)%3), "content": fmt.Sprintf("round %d from %s", round, u)})
			want[u]++
			sent++
		}
	}
	w.committed(sent)
	waitFor(t, "the behaviour rollups to hold every message", func() bool {
		var p behaviourUsersJSON
		getJSON(t, w.base, "/api/analysis/users?limit=200", &p)
		got := map[string]int64{}
		for _, u := range p.Users {
			got[u.User] = u.Messages
		}
		for u, n := range want {
			if got[u] != n {
				return false
			}
		}
		// The total comes from the saved state, which the server reads
		// again at most once a second.
		return p.Total == int64(len(p.Users))
	})
}

// jsUsersShown lists the user names of the users table, in order.
const jsUsersShown = `[...document.querySelectorAll('#users-table tbody tr.user-row')].map((r) => r.dataset.user)`

// waitUsers waits until the users table shows exactly want.
func (tb *tab) waitUsers(what string, want []string) {
	tb.t.Helper()
	tb.waitJS(what, jsCall(`(want) => JSON.stringify(`+jsUsersShown+`) === JSON.stringify(want)`, want),
		jsUsersShown+`.join(',') + ' | ' + (document.querySelector('#users-summary')?.textContent ?? '')`)
}

func testUsersPage(t *testing.T, b *browser, w *wsmon) {
	var first, second, byName, search behaviourUsersJSON
	getJSON(t, w.base, "/api/analysis/users?limit=50", &first)
	if first.NextCursor == nil || *first.NextCursor == "" || first.Total < 57 {
		t.Fatalf("API users: total %d, next_cursor %v: want 57+ users over two pages", first.Total, first.NextCursor)
	}
	getJSON(t, w.base, "/api/analysis/users?limit=50&cursor="+url.QueryEscape(*first.NextCursor), &second)
	getJSON(t, w.base, "/api/analysis/users?limit=50&sort=name&order=asc", &byName)
	getJSON(t, w.base, "/api/analysis/users?limit=50&q=u1", &search)

	tb := b.newTab(t)
	tb.open(w.base+"/#/users", "#users-filter")
	if got := eval[string](tb, `document.querySelector('#nav-users.active')?.textContent ?? ''`); got != "Users" {
		t.Errorf("active nav entry %q, want Users", got)
	}
	tb.waitUsers("the API's first page", first.names())
	if got := eval[string](tb, `document.querySelector('#users-summary').dataset.total`); got != fmt.Sprint(first.Total) {
		t.Errorf("summary total %s, want the API's %d", got, first.Total)
	}
	wantSessions := make([]string, len(first.Users))
	for i, u := range first.Users {
		wantSessions[i] = fmt.Sprintf("%d/%d", u.Messages, u.Sessions)
	}
	if got := eval[[]string](tb, `[...document.querySelectorAll('#users-table tbody tr.user-row')].map((r) => r.dataset.messages + '/' + r.dataset.sessions)`); !slices.Equal(got, wantSessions) {
		t.Errorf("messages/sessions shown %q, want the API's %q", got, wantSessions)
	}
	// The markup name is text, and links to its page.
	if n := eval[int](tb, `document.querySelectorAll('#users-table img').length`); n > 0 {
		t.Errorf("%d img elements in the users table: a name was parsed as HTML", n)
	}
	tb.do("more", chromedp.Click(chromedp.ID("users-more")))
	tb.waitUsers("both pages", append(first.names(), second.names()...))
	if eval[bool](tb, `!document.querySelector('#users-more').classList.contains('d-none')`) != (second.NextCursor != nil && *second.NextCursor != "") {
		t.Errorf("the More button's visibility does not follow next_cursor %v", second.NextCursor)
	}

	tb.do("sort by name", chromedp.SetValue(chromedp.ID("users-sort"), "name"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#users-sort').dispatchEvent(new Event('change'))`))
	tb.do("ascending", chromedp.SetValue(chromedp.ID("users-order"), "asc"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#users-order').dispatchEvent(new Event('change'))`))
	tb.waitUsers("sorted by name, ascending", byName.names())
	if h := eval[string](tb, `location.hash`); !strings.Contains(h, "sort=name") || !strings.Contains(h, "order=asc") {
		t.Errorf("hash %q, want sort=name and order=asc in it", h)
	}

	tb.do("search u1", chromedp.Click(chromedp.ID("users-q")), chromedp.SendKeys(chromedp.ID("users-q"), "u1"))
	var sorted behaviourUsersJSON
	getJSON(t, w.base, "/api/analysis/users?limit=50&q=u1&sort=name&order=asc", &sorted)
	tb.waitUsers("the search (typed, debounced)", sorted.names())
	if len(sorted.Users) != 10 {
		t.Errorf("API: %d users contain u1, want 10 (u10–u19)", len(sorted.Users))
	}
	// A column header sorts too: messages, descending.
	tb.do("sort by messages", chromedp.Click(chromedp.CSS(`#users-table thead button[data-sort="messages"]`)))
	tb.waitUsers("the search by messages", search.names())

	// A name opens its user page.
	name := search.Users[0].User
	tb.do("open "+name, chromedp.Click(chromedp.CSS(`#users-table tbody tr.user-row a.user-link`)))
	tb.waitJS("the user page of "+name, jsCall(`(n) => location.hash === '#/user/' + encodeURIComponent(n) && document.querySelector('#user-behaviour-body')?.dataset.messages !== undefined`, name),
		`location.hash + ' ' + (document.querySelector('#view')?.textContent ?? '')`)

	// Chinese.
	tb.open(w.base+"/#/users", "#users-filter")
	tb.waitUsers("the first page", first.names())
	tb.do("switch to Chinese", chromedp.Click(chromedp.ID("lang-switch")))
	tb.waitJS("the users page in Chinese", `document.querySelector('#users-title')?.textContent === '用户' && document.querySelector('#nav-users')?.textContent === '用户' &&
		(document.querySelector('#users-table thead')?.textContent ?? '').includes('消息数')`, `document.querySelector('#view')?.textContent`)
	tb.waitUsers("the first page in Chinese", first.names())
	tb.do("back to English", chromedp.Click(chromedp.ID("lang-switch")))
}

func testUserBehaviour(t *testing.T, b *browser, w *wsmon) {
	var top behaviourUsersJSON
	getJSON(t, w.base, "/api/analysis/users?limit=1", &top)
	name := top.Users[0].User
	var u userBehaviourJSON
	getJSON(t, w.base, "/api/analysis/users/"+url.PathEscape(name), &u)
	if len(u.Rooms) == 0 || len(u.Before) == 0 || len(u.After) == 0 {
		t.Fatalf("API behaviour of %s: %+v; want rooms and users before and after", name, u)
	}

	tb := b.newTab(t)
	tb.open(w.base+"/#/user/"+url.PathEscape(name), "#user-name")
	body := `document.querySelector('#user-behaviour-body')`
	tb.waitJS("the behaviour figures", jsCall(`(n) => `+body+`?.dataset.messages === n`, fmt.Sprint(u.Messages)),
		body+`?.textContent ?? document.querySelector('#user-behaviour')?.textContent`)
	text := func(sel string) string {
		return eval[string](tb, jsCall(`(sel) => document.querySelector(sel)?.textContent ?? ''`, sel))
	}
	if got := text("#user-sessions .stat-value"); got != fmt.Sprint(u.Sessions.Count) {
		t.Errorf("sessions %q, want the API's %d", got, u.Sessions.Count)
	}
	if got := text("#user-days-active .stat-value"); got != fmt.Sprint(u.DaysActive) {
		t.Errorf("days active %q, want the API's %d", got, u.DaysActive)
	}
	if got := text("#user-behaviour-messages .stat-value"); got != fmt.Sprint(u.Messages) {
		t.Errorf("messages %q, want the API's %d", got, u.Messages)
	}
	type room struct{ Target, Room, Messages string }
	var wantRooms []room
	for _, r := range u.Rooms {
		wantRooms = append(wantRooms, room{r.Target, r.Room, fmt.Sprint(r.Messages)})
	}
	if got := eval[[]room](tb, `[...document.querySelectorAll('#user-rooms tbody tr')].map((r) => ({ target: r.dataset.target, room: r.dataset.room, messages: r.dataset.messages }))`); !slices.Equal(got, wantRooms) {
		t.Errorf("rooms %v, want the API's %v", got, wantRooms)
	}
	peers := func(id string) []string {
		return eval[[]string](tb, jsCall(`(id) => [...document.querySelectorAll('#' + id + ' li.peer')].map((r) => r.dataset.user + ':' + r.dataset.count)`, id))
	}
	var wantBefore, wantAfter []string
	for _, p := range u.Before {
		wantBefore = append(wantBefore, fmt.Sprintf("%s:%d", p.User, p.Count))
	}
	for _, p := range u.After {
		wantAfter = append(wantAfter, fmt.Sprintf("%s:%d", p.User, p.Count))
	}
	if got := peers("user-before"); !slices.Equal(got, wantBefore) {
		t.Errorf("speaks before %q, want the API's %q", got, wantBefore)
	}
	if got := peers("user-after"); !slices.Equal(got, wantAfter) {
		t.Errorf("speaks after %q, want the API's %q", got, wantAfter)
	}
	if got := eval[string](tb, `document.querySelector('#user-heatmap').dataset.total`); got != fmt.Sprint(heatSum(u.Heatmap)) {
		t.Errorf("heatmap total %s, want the API's %d", got, heatSum(u.Heatmap))
	}
	if got := eval[int](tb, `document.querySelectorAll('#user-heatmap tbody tr').length * 100 + document.querySelectorAll('#user-heatmap tbody tr:first-child td').length`); got != 724 {
		t.Errorf("heatmap %d rows × %d cells, want 7 × 24", got/100, got%100)
	}
	if got := eval[[]string](tb, `[...document.querySelectorAll('#user-heatmap tbody th')].map((x) => x.textContent)`); len(got) != 7 || got[0] != "Mon" || got[6] != "Sun" {
		t.Errorf("heatmap days %q, want Mon … Sun", got)
	}
	tb.waitJS("the per-day chart drawn", jsCall(jsCanvasDrawn, "chart-user-daily"), "")

	// Chinese: the weekday names and the section.
	tb.do("switch to Chinese", chromedp.Click(chromedp.ID("lang-switch")))
	tb.waitJS("the behaviour in Chinese", `document.querySelector('#user-behaviour-title')?.textContent === '行为分析' &&
		document.querySelector('#user-heatmap tbody th')?.textContent === '周一'`, `document.querySelector('#user-behaviour')?.textContent`)
	if got := eval[string](tb, `document.querySelector('#user-sessions .stat-value')?.textContent`); got != fmt.Sprint(u.Sessions.Count) {
		t.Errorf("Chinese: sessions %q, want %d", got, u.Sessions.Count)
	}
	tb.do("back to English", chromedp.Click(chromedp.ID("lang-switch")))
	tb.waitJS("English", `document.querySelector('#user-behaviour-title')?.textContent === 'Behaviour'`, "")

	// The first user before them opens their page.
	next := u.Before[0].User
	tb.do("open "+next, chromedp.Click(chromedp.CSS(`#user-before li.peer a`)))
	tb.waitJS("the page of "+next, jsCall(`(n) => location.hash === '#/user/' + encodeURIComponent(n) && document.querySelector('#user-behaviour-body')?.dataset.messages !== undefined`, next),
		`location.hash + ' ' + (document.querySelector('#user-name')?.textContent ?? '')`)
}

func testActivityTab(t *testing.T, b *browser, w *wsmon) {
	var all, r1 activityJSON
	getJSON(t, w.base, "/api/analysis/activity", &all)
	getJSON(t, w.base, "/api/analysis/activity?room=r1", &r1)
	if all.Total == 0 || r1.Total == 0 || r1.Total >= all.Total || all.Users == nil {
		t.Fatalf("API activity: total %d, room r1 %d, users part %v", all.Total, r1.Total, all.Users != nil)
	}

	tb := b.newTab(t)
	tb.open(w.base+"/#/analysis/activity", "#activity-filter")
	if got := eval[string](tb, `document.querySelector('#tab-activity.active')?.textContent ?? ''`); got != "Activity" {
		t.Errorf("active tab %q, want Activity", got)
	}
	totals := `document.querySelector('#activity-totals')`
	tb.waitJS("the totals", jsCall(`(n) => `+totals+`?.dataset.total === n`, fmt.Sprint(all.Total)), `document.querySelector('#analysis-activity')?.textContent`)
	got := eval[map[string]string](tb, `({...`+totals+`.dataset})`)
	if got["previous"] != fmt.Sprint(all.Previous.Total) || got["points"] != fmt.Sprint(len(all.Series)) || got["step"] != all.Step {
		t.Errorf("totals %v, want previous %d, %d points of %s", got, all.Previous.Total, len(all.Series), all.Step)
	}
	if txt := eval[string](tb, `document.querySelector('#activity-total').textContent`); txt != fmt.Sprint(all.Total) && txt != addCommas(all.Total) {
		t.Errorf("total shown %q, want %d", txt, all.Total)
	}
	tb.waitJS("the series drawn", jsCall(jsCanvasDrawn, "activity-chart"), "")
	tb.waitJS("the new/returning chart drawn", jsCall(jsCanvasDrawn, "activity-users-chart"), "")
	if got := eval[string](tb, `document.querySelector('#activity-heatmap').dataset.total`); got != fmt.Sprint(heatSum(all.Heatmap)) {
		t.Errorf("heatmap total %s, want the API's %d", got, heatSum(all.Heatmap))
	}
	if got := eval[int](tb, `document.querySelectorAll('#activity-retention tbody tr').length`); got != len(all.Users.Retention) {
		t.Errorf("retention rows %d, want the API's %d", got, len(all.Users.Retention))
	}
	if n := eval[int](tb, `document.querySelectorAll('#activity-distribution tbody tr').length`); n == 0 {
		t.Error("no distribution buckets shown")
	}

	// One room: the totals are the API's for it, the whole-chat part goes.
	tb.do("room r1", chromedp.SetValue(chromedp.ID("activity-room"), "r1"), chromedp.Click(chromedp.ID("activity-apply")))
	tb.waitJS("the totals of room r1", jsCall(`(n, p) => location.hash.includes('room=r1') && `+totals+`?.dataset.total === n && `+totals+`.dataset.previous === p`, fmt.Sprint(r1.Total), fmt.Sprint(r1.Previous.Total)),
		totals+`?.dataset.total + ' ' + location.hash`)
	if eval[bool](tb, `document.querySelector('#activity-users') !== null || document.querySelector('#activity-users-filtered') === null`) {
		t.Error("with a room filter the whole chat's users part is still shown, or not explained")
	}

	tb.do("switch to Chinese", chromedp.Click(chromedp.ID("lang-switch")))
	tb.waitJS("the activity in Chinese", jsCall(`(n) => document.querySelector('#tab-activity')?.textContent === '活跃度' && `+totals+`?.dataset.total === n &&
		document.querySelector('#activity-heatmap tbody th')?.textContent === '周一'`, fmt.Sprint(r1.Total)), `document.querySelector('#analysis-activity')?.textContent`)
	tb.waitJS("the series drawn again", jsCall(jsCanvasDrawn, "activity-chart"), "")
	tb.do("back to English", chromedp.Click(chromedp.ID("lang-switch")))
}

// addCommas formats n as the English UI does (1,234).
func addCommas(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func testReportsTab(t *testing.T, b *browser, w *wsmon) {
	loc := w.cfg.Location()
	today := time.Now().In(loc).Format("2006-01-02")
	yesterday := time.Now().In(loc).AddDate(0, 0, -1).Format("2006-01-02")
	var rep struct {
		Volume struct {
			Messages int64 `json:"messages"`
		} `json:"volume"`
	}
	getJSON(t, w.base, "/api/reports/daily?date="+today, &rep)
	if rep.Volume.Messages == 0 {
		t.Fatalf("API report of today: no messages")
	}

	tb := b.newTab(t)
	tb.open(w.base+"/#/analysis/reports", "#reports-filter")
	tb.waitJS("the default report", `document.querySelector('#reports-summary') !== null`, `document.querySelector('#analysis-reports')?.textContent`)
	if got := eval[string](tb, `document.querySelector('#reports-date').value`); got != yesterday {
		t.Errorf("default day %q, want yesterday %s", got, yesterday)
	}
	tb.do("pick today", chromedp.SetValue(chromedp.ID("reports-date"), today), chromedp.Click(chromedp.ID("reports-apply")))
	tb.waitJS("today's report", jsCall(`(n) => document.querySelector('#reports-summary')?.dataset.messages === n`, fmt.Sprint(rep.Volume.Messages)),
		`document.querySelector('#analysis-reports')?.textContent`)
	href := eval[string](tb, `document.querySelector('#reports-open').getAttribute('href')`)
	if !strings.HasPrefix(href, "/api/reports/daily?") || !strings.Contains(href, "date="+today) || !strings.Contains(href, "format=html") {
		t.Errorf("report link %q, want /api/reports/daily?date=%s&format=html", href, today)
	}
	resp, err := http.Get(w.base + href)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET %s: %s %s, want 200 text/html", href, resp.Status, resp.Header.Get("Content-Type"))
	}
	// The link opens the report in a new tab.
	ch := chromedp.WaitNewTarget(tb.ctx, func(i *target.Info) bool { return strings.Contains(i.URL, "/api/reports/daily") })
	tb.do("open the report", chromedp.Click(chromedp.ID("reports-open")))
	var id target.ID
	select {
	case id = <-ch:
	case <-time.After(stepTimeout):
		t.Fatal("the report did not open in a new tab")
	}
	rctx, cancel := chromedp.NewContext(tb.ctx, chromedp.WithTargetID(id))
	defer cancel()
	ctx, cancelStep := context.WithTimeout(rctx, stepTimeout)
	defer cancelStep()
	title, err := chromedp.Run(ctx, chromedp.Poll[string](`document.readyState === 'complete' && document.title`, chromedp.WithPollingTimeout(stepTimeout)))
	if err != nil {
		t.Fatalf("the report tab: %v", err)
	}
	if !strings.Contains(title, today) {
		t.Errorf("report tab title %q, want the day %s in it", title, today)
	}
	_ = chromedp.Cancel(rctx)

	tb.do("switch to Chinese", chromedp.Click(chromedp.ID("lang-switch")))
	tb.waitJS("the reports tab in Chinese", jsCall(`(n) => document.querySelector('#tab-reports')?.textContent === '报告' && document.querySelector('#reports-summary')?.dataset.messages === n &&
		document.querySelector('#reports-open').getAttribute('href').includes('lang=zh')`, fmt.Sprint(rep.Volume.Messages)), `document.querySelector('#analysis-reports')?.textContent`)
	tb.do("back to English", chromedp.Click(chromedp.ID("lang-switch")))
}

// testBehaviourWidth: no new view scrolls sideways at a desktop's or a
// phone's width; screenshots of each at a desktop's width and of the user
// page at a phone's are saved as artifacts.
func testBehaviourWidth(t *testing.T, b *browser, w *wsmon) {
	var top behaviourUsersJSON
	getJSON(t, w.base, "/api/analysis/users?limit=1", &top)
	userHash := "#/user/" + url.PathEscape(top.Users[0].User)
	tb := b.newTab(t)
	for _, vp := range []struct {
		name string
		act  chromedp.Action[chromedp.Void]
	}{
		{"desktop", chromedp.EmulateViewport(1280, 900)},
		{"phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)},
	} {
		tb.do(vp.name+" viewport", vp.act)
		for _, view := range []struct{ name, hash, ready string }{
			{"users", "#/users", "#users-table tbody tr"}, {"user", userHash, "#user-heatmap"},
			{"activity", "#/analysis/activity", "#activity-distribution"}, {"reports", "#/analysis/reports", "#reports-summary"},
		} {
			tb.do("open "+view.hash, chromedp.Navigate(w.base+"/"+view.hash))
			tb.waitJS(view.ready, jsCall(`(sel) => document.querySelector(sel) !== null`, view.ready), `location.hash + ' ' + document.querySelector('#view')?.textContent`)
			if got := eval[[]int](tb, `[document.documentElement.scrollWidth, window.innerWidth]`); got[0] > got[1] {
				t.Errorf("%s, %s: the page is %d px wide in a %d px viewport (scrolls sideways)", vp.name, view.hash, got[0], got[1])
			}
			if vp.name == "desktop" {
				// For people to look at: each view at a desktop's width.
				ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
				png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				cancel()
				if err != nil {
					t.Fatalf("screenshot of %s: %v", view.hash, err)
				}
				if err := os.WriteFile(filepath.Join(artifactDir(t), "behaviour-"+view.name+"-desktop.png"), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	tb.do("open the user page", chromedp.Navigate(w.base+"/"+userHash))
	tb.waitJS("the per-day chart", jsCall(jsCanvasDrawn, "chart-user-daily"), "")
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(artifactDir(t), "user-behaviour-phone.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	t.Logf("phone-width screenshot of the user page: %s (%d bytes)", abs, len(png))
}

// testBehaviourOff: with analysis_behaviour off (its default) the users
// page, the user page's behaviour part and the activity tab name the key,
// in both languages, and ask nothing: the tab's console has no 409.
func testBehaviourOff(t *testing.T, b *browser) {
	w := startWsmon(t)
	if got := uiAnalyses(t, w); slices.Contains(got, "behaviour") {
		t.Fatalf("/api/ui-config analyses %q lists behaviour with analysis_behaviour off", got)
	}
	w.chat("alice", "hello "+token())
	w.committed(1)
	tb := b.newTab(t)
	off := `(sel, what) => { const o = document.querySelector(sel + ' #analysis-off'); return o?.dataset.key === 'analysis_behaviour' && o.textContent.includes('analysis_behaviour') && o.textContent.includes(what); }`
	for _, lang := range []struct{ name, what string }{{"en", "turned off"}, {"zh", "未开启"}} {
		if lang.name == "zh" {
			tb.setLang(w.base, "zh")
			tb.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("lang-switch")))
		}
		for _, v := range []struct{ hash, ready, box string }{
			{"#/users", "#users-title", "#view"}, {"#/user/alice", "#user-count", "#user-behaviour"}, {"#/analysis/activity", "#analysis-activity", "#analysis-activity"},
		} {
			tb.open(w.base+"/"+v.hash, v.ready)
			tb.waitJS(lang.name+": "+v.hash+" names analysis_behaviour", jsCall(off, v.box, lang.what), jsCall(`(sel) => document.querySelector(sel)?.textContent`, v.box))
		}
	}
}
