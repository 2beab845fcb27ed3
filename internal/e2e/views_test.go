package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/wsmon/wsmon/internal/app"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/webui"
)

// TestViews drives the dashboard's views beyond the first screen: the
// leaderboard (empty state, only user chat counted), the version badge,
// message rows that open their context and user page everywhere, the
// target / room / time-range selection kept in the URL, the targets
// overview, the status card's next attempt and a stopped monitor, the
// sessions view, the user page, the context view, the login form, keyboard
// use, the browser's language with Intl formatting and translated errors,
// and the phone-width layout (a screenshot saved as a test artifact).
func TestViews(t *testing.T) {
	if !webui.Built() {
		skipOrFail(t, "UI not built: run make (or cd web && npm ci && npm run build)")
	}
	b := startBrowser(t)
	tests := []struct {
		name string
		run  func(*testing.T, *browser)
	}{
		{"Leaderboard", testLeaderboard},
		{"Version", testVersion},
		{"RowsOpenContextAndUser", testRowsOpen},
		{"Selection", testSelection},
		{"Overview", testOverview},
		{"NextAttempt", testNextAttempt},
		{"MonitorStopped", testMonitorStopped},
		{"Sessions", testSessionsView},
		{"Login", testLoginView},
		{"Keyboard", testKeyboard},
		{"BrowserLanguage", testBrowserLanguage},
		{"Phone", testPhone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, b) })
	}
}

// getJSON decodes GET base+path into v.
func getJSON(t *testing.T, base, path string, v any) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

type statsJSON struct {
	Total    int64 `json:"total_messages"`
	Active   int64 `json:"active_users"`
	TopUsers []struct {
		User  string `json:"user"`
		Count int64  `json:"count"`
	} `json:"top_users"`
	Monitor []map[string]any `json:"monitor"`
}

// inject sends a raw JSON frame from the demo server.
func (w *wsmon) inject(v map[string]string) {
	w.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		w.t.Fatal(err)
	}
	w.demo.Inject(b, false)
}

// setLang opens base in tb with the UI language saved as lang.
func (tb *tab) setLang(base, lang string) {
	tb.t.Helper()
	tb.open(base+"/#/sessions", "#navbar")
	eval[bool](tb, jsCall(`(l) => (localStorage.setItem('wsmon.lang', l), true)`, lang))
}

// testLeaderboard: with no message the leaderboard shows an empty state
// that is not a numbered item; system, join and leave messages are not
// user activity: only chat from named users is on the leaderboard and in
// the active-user card.
func testLeaderboard(t *testing.T, b *browser) {
	w := startWsmon(t)
	tb := b.newTab(t)
	tb.openDashboard(w.base)
	var st statsJSON
	getJSON(t, w.base, "/api/stats", &st)
	if len(st.TopUsers) == 0 {
		tb.waitJS("the empty leaderboard", `document.querySelector('#top-users-empty') !== null`, `document.querySelector('#top-users-box')?.outerHTML`)
		if n := eval[int](tb, `document.querySelectorAll('#top-users-box li, #top-users-box ol').length`); n != 0 {
			t.Errorf("the empty leaderboard has %d list elements (it read \"1. No messages yet.\")", n)
		}
		if got := eval[string](tb, `document.querySelector('#top-users-empty').textContent`); !strings.HasPrefix(got, "No user messages yet.") {
			t.Errorf("empty leaderboard text %q", got)
		}
	} else {
		t.Errorf("a fresh database has top users %v", st.TopUsers)
	}

	tok := token()
	w.inject(map[string]string{"type": "system", "user": "system", "content": "server restarting " + tok})
	w.inject(map[string]string{"type": "join", "user": "joiner-" + tok, "content": ""})
	w.inject(map[string]string{"type": "leave", "user": "joiner-" + tok, "content": ""})
	alice := "alice-" + tok
	w.chat(alice, "hello "+tok)
	w.chat(alice, "again "+tok)
	w.committed(5)

	getJSON(t, w.base, "/api/stats", &st)
	var api []string
	for _, u := range st.TopUsers {
		api = append(api, u.User)
	}
	if !slices.Equal(api, []string{alice}) || st.Active != 1 {
		// The dashboard shows what /api/stats says; the counting is the
		// index's rollups (message.IsActivity).
		t.Fatalf("/api/stats counts system/join/leave senders as users: top_users %q, active_users %d", api, st.Active)
	}
	tb.open(w.base+"/", "#live-list")
	tb.waitJS("alice alone on the leaderboard",
		jsCall(`(u) => { const l = [...document.querySelectorAll('#top-users li.top-user')].map((li) => li.dataset.user); return l.length === 1 && l[0] === u; }`, alice),
		`document.querySelector('#top-users-box')?.textContent`)
	tb.waitJS("one active user", `document.querySelector('#card-active .card-value')?.dataset.value === '1'`, `document.querySelector('#card-active')?.textContent`)
}

// testVersion: a release shows as v1.2.3, a commit hash as it is.
func testVersion(t *testing.T, b *browser) {
	d := demo.New(demo.Options{Addr: "127.0.0.1:0", Rate: 0, Seed: 1})
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	for _, c := range []struct{ version, want string }{{"a1cc8ca", "a1cc8ca"}, {"0.4.1", "v0.4.1"}, {"v0.5.0-3-ga1cc8ca", "v0.5.0-3-ga1cc8ca"}} {
		cfg := config.Defaults()
		dir := t.TempDir()
		cfg.WebsocketURL = d.URL()
		cfg.TargetName = "demo"
		cfg.DatabasePath = filepath.Join(dir, "data", "chat_monitor.db")
		cfg.LogDir = filepath.Join(dir, "logs")
		cfg.AutoBackupHours = 0
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		r := runApp(t, app.ModeAll, cfg, func(o *app.Options) { o.Version = c.version })
		tb := b.newTab(t)
		tb.open("http://"+r.WebAddr+"/", "#version")
		if got := eval[string](tb, `document.querySelector('#version').textContent`); got != c.want {
			t.Errorf("version %q shown as %q, want %q", c.version, got, c.want)
		}
	}
}

// jsRow returns the expression of the .msg-row with this content under container.
func jsRow(container, content string) string {
	return jsCall(jsFindRow, container, content, nil)
}

// clickRow clicks (with the mouse) the content of the row with this
// content under container.
func (tb *tab) clickRow(container, content string) {
	tb.t.Helper()
	if !eval[bool](tb, `(() => { document.querySelectorAll('[data-e2e-click]').forEach((e) => e.removeAttribute('data-e2e-click'));
		const r = `+jsRow(container, content)+`; if (!r) return false; r.querySelector('.msg-content').setAttribute('data-e2e-click', ''); return true; })()`) {
		tb.t.Fatalf("no row %q in %s: %s", content, container, eval[string](tb, jsCall(jsRowsText, container)))
	}
	tb.do("click the row", chromedp.Click(chromedp.CSS(`[data-e2e-click]`)))
}

// testRowsOpen: a live-stream row opens its context like a search result
// (click, or Enter on the focused row; Escape closes it and gives the
// focus back); a row in the context opens the context around itself; the
// user link opens the user page, whose rows open their context too.
func testRowsOpen(t *testing.T, b *browser) {
	w := startWsmon(t)
	tok := token()
	user := "小明-" + tok
	w.chat(user, "before "+tok)
	w.committed(1)
	tb := b.newTab(t)
	tb.openDashboard(w.base)
	content := "打开上下文 " + tok
	w.chat(user, content)
	tb.waitRow("#live-list", content, &user)

	modal := `document.querySelector('#context-modal')`
	anchorIs := func(content string) string {
		return jsCall(`(c) => document.querySelector('#context-list .msg-anchor .msg-content')?.textContent === c`, content)
	}
	tb.clickRow("#live-list", content)
	tb.waitJS("the context of the live row", anchorIs(content), modal+`?.textContent ?? 'no modal'`)
	tb.do("Escape", chromedp.KeyEvent(kb.Escape))
	tb.waitJS("the context closed", modal+` === null`, modal+`?.outerHTML`)
	if !eval[bool](tb, `document.activeElement === `+jsRow("#live-list", content)) {
		t.Error("closing the context did not give the focus back to the row")
	}
	tb.do("Enter on the row", chromedp.KeyEvent(kb.Enter))
	tb.waitJS("the context opened with Enter", anchorIs(content), modal+`?.textContent ?? 'no modal'`)
	// Another row of the context opens the context around itself.
	tb.clickRow("#context-list", "before "+tok)
	tb.waitJS("the context around the earlier row", anchorIs("before "+tok), modal+`?.textContent ?? 'no modal'`)
	tb.do("close", chromedp.Click(chromedp.CSS(`#context-modal .btn-close`)))
	tb.waitJS("the context closed", modal+` === null`, "")

	// The user link of the live row: the user page.
	eval[bool](tb, `(`+jsRow("#live-list", content)+`).querySelector('a.msg-user').click(), true`)
	tb.waitJS("the user page", jsCall(`(u) => document.querySelector('#user-count') !== null && document.querySelector('#user-name')?.textContent.includes(u)`, user),
		`location.hash + ' ' + document.querySelector('#view')?.textContent`)
	if got := eval[string](tb, `document.querySelector('#user-count .fs-5').textContent`); got != "2" {
		t.Errorf("user page message count %q, want 2", got)
	}
	tb.clickRow("#user-recent", "before "+tok)
	tb.waitJS("the context from the user page", anchorIs("before "+tok), modal+`?.textContent ?? 'no modal'`)
	tb.do("Escape", chromedp.KeyEvent(kb.Escape))
	tb.do("search all by the user", chromedp.Click(chromedp.ID("user-search-link")))
	tb.waitRow("#search-results", content, &user)
}

// testSelection: target, room and time range narrow the cards, charts and
// the live stream; the selection is in the URL (reload and links keep it).
func testSelection(t *testing.T, b *browser) {
	w := startWsmon(t, func(c *config.Config) { c.WebRefreshInterval = 1 })
	d2 := demo.New(demo.Options{Addr: "127.0.0.1:0", Rate: 0, Seed: 2})
	if err := d2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d2.Close() })
	addTarget(t, w.base, "other", d2.URL())
	waitFor(t, "target other connected", func() bool { return d2.Clients() > 0 })

	w.burst(30)
	tok := token()
	for i := range 4 {
		b, _ := json.Marshal(map[string]string{"type": "chat", "user": "o-" + tok, "room": "side", "content": fmt.Sprint("other ", i, " ", tok)})
		d2.Inject(b, false)
	}
	w.committed(34)
	var all, other, demoSt statsJSON
	getJSON(t, w.base, "/api/stats", &all)
	getJSON(t, w.base, "/api/stats?target=other", &other)
	getJSON(t, w.base, "/api/stats?target=demo", &demoSt)
	if other.Total != 4 || all.Total != other.Total+demoSt.Total {
		t.Fatalf("API totals: all %d, other %d, demo %d", all.Total, other.Total, demoSt.Total)
	}

	tb := b.newTab(t)
	tb.open(w.base+"/#/?target=other", "#dashboard-filters")
	totalIs := func(n int64) string {
		return fmt.Sprintf(`document.querySelector('#card-total .card-value')?.dataset.value === '%d'`, n)
	}
	totalDiag := `document.querySelector('#card-total')?.textContent`
	tb.waitJS("the total of target other", totalIs(other.Total), totalDiag)
	if got := eval[string](tb, `document.querySelector('#filter-target').value`); got != "other" {
		t.Errorf("target selector shows %q, want other", got)
	}
	tb.waitJS("the overview marks other", `document.querySelector('#overview-table tr[aria-current="true"]')?.dataset.target === 'other'`, `document.querySelector('#targets-overview')?.textContent`)

	// Pick demo in the selector: the URL and the numbers follow.
	tb.waitJS("demo in the selector", `[...document.querySelector('#filter-target').options].some((o) => o.value === 'demo')`, `document.querySelector('#filter-target').outerHTML`)
	eval[bool](tb, `(document.querySelector('#filter-target').value = 'demo', document.querySelector('#filter-apply').click(), true)`)
	tb.waitJS("the URL holds target=demo", `location.hash === '#/?target=demo'`, `location.hash`)
	tb.waitJS("the total of target demo", totalIs(demoSt.Total), totalDiag)
	tb.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("dashboard-filters")))
	tb.waitJS("the selection kept after a reload", `document.querySelector('#filter-target').value === 'demo' && `+totalIs(demoSt.Total), totalDiag)

	// A time range: today.
	eval[bool](tb, `(document.querySelector('#filter-range').value = 'today', document.querySelector('#filter-apply').click(), true)`)
	tb.waitJS("the URL holds the range", `location.hash === '#/?target=demo&range=today'`, `location.hash`)
	tb.waitJS("the range label", `document.querySelector('#card-total .card-label')?.textContent === 'Messages in range' && document.querySelector('#filter-today-note') !== null`, totalDiag)
	var today statsJSON
	from := time.Now()
	from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.Local)
	getJSON(t, w.base, "/api/stats?target=demo&from="+url.QueryEscape(from.UTC().Format(time.RFC3339)), &today)
	tb.waitJS("today's total of demo", totalIs(today.Total), totalDiag)

	// A custom range ending before the messages: nothing in it.
	tb.open(w.base+"/#/?range=custom&from=2020-01-01T00:00&to=2020-01-02T00:00", "#dashboard-filters")
	tb.waitJS("an empty custom range", totalIs(0), totalDiag)
	tb.open(w.base+"/#/?range=custom&from=2020-01-02T00:00&to=2020-01-01T00:00", "#dashboard-filters")
	tb.waitJS("a reversed range refused", `document.querySelector('#filter-error') !== null`, `document.querySelector('#dashboard-filters')?.textContent`)

	// A room narrows the cards and charts (/api/stats?room=) and the live
	// stream.
	var side statsJSON
	getJSON(t, w.base, "/api/stats?room=side", &side)
	tb.open(w.base+"/#/?room=side", "#live-list")
	tb.waitJS("the live stream connected", `document.querySelector('#live-state')?.dataset.state === 'live'`, "")
	tb.waitJS("the room note", `document.querySelector('#filter-room-note') !== null`, `document.querySelector('#dashboard-notes')?.textContent`)
	tb.waitJS("the total of room side", totalIs(side.Total), totalDiag)
	w.chatIn("x", "lobby", "not in side "+tok)
	b2, _ := json.Marshal(map[string]string{"type": "chat", "user": "o-" + tok, "room": "side", "content": "in side " + tok})
	d2.Inject(b2, false)
	tb.waitRow("#live-list", "in side "+tok, nil)
	if eval[bool](tb, jsRow("#live-list", "not in side "+tok)+` !== null`) {
		t.Error("the live stream narrowed to room side shows a message of room lobby")
	}
	if n := eval[int](tb, `[...document.querySelectorAll('#live-list .msg-row .msg-where')].filter((e) => !e.textContent.endsWith('/ side')).length`); n != 0 {
		t.Errorf("%d live rows of other rooms", n)
	}
}

// addTarget adds a raw target through the API.
func addTarget(t *testing.T, base, name, wsURL string) {
	t.Helper()
	body := strings.NewReader(fmt.Sprintf(`{"name":%q,"url":%q,"protocol":"raw"}`, name, wsURL))
	req, _ := http.NewRequest(http.MethodPost, base+"/api/targets", body)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/targets: %s", resp.Status)
	}
}

// testOverview: one row per target with state, protocol, a rate once two
// samples were taken, the last message's age, reconnects today and the
// target's message count.
func testOverview(t *testing.T, b *browser) {
	w := startWsmon(t, func(c *config.Config) { c.WebRefreshInterval = 1 })
	d2 := demo.New(demo.Options{Addr: "127.0.0.1:0", Rate: 0, Seed: 3})
	if err := d2.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d2.Close() })
	addTarget(t, w.base, "second", d2.URL())
	waitFor(t, "target second connected", func() bool { return d2.Clients() > 0 })
	w.burst(20)
	// A reconnect of demo today.
	w.demo.DropAll(1012, "restart")
	waitFor(t, "demo reconnected", func() bool {
		for _, s := range w.mon.Status() {
			if s.Target == "demo" && (s.State != "connected" || s.Reconnects < 1) {
				return false
			}
		}
		return w.demo.Clients() > 0
	})
	var demoSt statsJSON
	getJSON(t, w.base, "/api/stats?target=demo", &demoSt)

	tb := b.newTab(t)
	tb.open(w.base+"/", "#targets-overview")
	row := func(name string) string {
		return jsCall(`(n) => document.querySelector('#overview-table tbody tr[data-target="' + n + '"]')`, name)
	}
	diag := `document.querySelector('#targets-overview')?.textContent`
	tb.waitJS("rows for both targets", `document.querySelectorAll('#overview-table tbody tr').length === 2 && `+row("second")+` !== null`, diag)
	tb.waitJS("both connected", row("demo")+`?.dataset.state === 'connected' && `+row("second")+`?.dataset.state === 'connected'`, diag)
	tb.waitJS("demo's message count", row("demo")+fmt.Sprintf(`?.querySelector('.overview-total')?.dataset.value === '%d'`, demoSt.Total), diag)
	tb.waitJS("reconnects today", row("demo")+`?.querySelector('.overview-reconnects')?.dataset.value === '1' && `+row("second")+`?.querySelector('.overview-reconnects')?.dataset.value === '0'`, diag)
	tb.waitJS("a rate after two samples", row("demo")+`?.querySelector('.overview-rate')?.dataset.rate !== ''`, diag)
	if got := eval[string](tb, row("second")+`.querySelector('td[data-label="Protocol"]').textContent`); got != "raw" {
		t.Errorf("second's protocol %q, want raw", got)
	}
	if got := eval[string](tb, row("demo")+`.querySelector('.overview-last').textContent`); got == "—" || got == "" {
		t.Errorf("demo's last message age %q", got)
	}
	// Its name narrows the dashboard.
	eval[bool](tb, row("second")+`.querySelector('a.overview-select').click(), true`)
	tb.waitJS("narrowed to second", `location.hash === '#/?target=second' && document.querySelector('#filter-target')?.value === 'second'`, `location.hash`)
}

// testNextAttempt: a target waiting to reconnect shows when the next
// attempt is due, and its last error translated by its code.
func testNextAttempt(t *testing.T, b *browser) {
	w := startWsmon(t, func(c *config.Config) {
		c.ReconnectInterval = 20
		c.ReconnectMaxInterval = 40
	})
	var st statsJSON
	getJSON(t, w.base, "/api/stats", &st)
	if len(st.Monitor) == 0 {
		t.Fatal("no monitor status")
	}
	if _, ok := st.Monitor[0]["next_attempt_at"]; !ok {
		t.Fatal("/api/stats monitor has no next_attempt_at")
	}
	tb := b.newTab(t)
	tb.openDashboard(w.base)
	w.demo.Close() // the connection drops and every attempt is refused
	waitFor(t, "a failed attempt with the next one due", func() bool {
		var st statsJSON
		getJSON(t, w.base, "/api/stats", &st)
		m := st.Monitor[0]
		return m["state"] != "connected" && m["next_attempt_at"] != nil && m["last_error"] != ""
	})
	tb.waitJS("the next attempt shown",
		`/^Next attempt in \d/.test(document.querySelector('#card-status .status-next-attempt')?.textContent ?? '')`,
		`document.querySelector('#card-status')?.textContent`)
	code := eval[string](tb, `document.querySelector('#card-status .status-error')?.dataset.code ?? ''`)
	if code == "" {
		t.Fatalf("no error code on the status card: %s", eval[string](tb, `document.querySelector('#card-status').textContent`))
	}
	want := "Last error: " + map[string]string{"connection_refused": "connection refused: nothing listens at the address",
		"connection_dropped": "the connection dropped without a close frame", "dial_failed": "could not connect",
		"server_closed": "the server closed the connection"}[code]
	if got := eval[string](tb, `document.querySelector('#card-status .status-error').textContent`); got != want {
		t.Errorf("status error (code %s) %q, want %q", code, got, want)
	}
}

// testMonitorStopped: a separate wsmon web shows that the monitor process
// writing its database stopped.
func testMonitorStopped(t *testing.T, b *browser) {
	d := demo.New(demo.Options{Addr: "127.0.0.1:0", Rate: 0, Seed: 1})
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.WebsocketURL = d.URL()
	cfg.TargetName = "demo"
	cfg.DatabasePath = filepath.Join(dir, "data", "chat_monitor.db")
	cfg.LogDir = filepath.Join(dir, "logs")
	cfg.AutoBackupHours = 0
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	stop := startMonitor(t, cfg)
	waitFor(t, "the monitor connected", func() bool { return d.Clients() > 0 })
	web := runApp(t, app.ModeWeb, cfg)
	base := "http://" + web.WebAddr
	var raw map[string]json.RawMessage
	getJSON(t, base, "/api/stats", &raw)
	if _, ok := raw["monitor_process"]; !ok {
		t.Fatal("/api/stats has no monitor_process")
	}
	tb := b.newTab(t)
	tb.open(base+"/", "#card-status")
	tb.waitJS("the target connected", `document.querySelector('#card-status [data-state="connected"]') !== null`, `document.querySelector('#card-status')?.textContent`)
	stop()
	tb.waitJS("the monitor shown as stopped",
		`['stopped', 'dead'].includes(document.querySelector('#monitor-process')?.dataset.state)`,
		`document.querySelector('#card-status')?.textContent`)
	if got := eval[string](tb, `document.querySelector('#monitor-process').textContent`); !strings.HasPrefix(got, "The monitor process") {
		t.Errorf("process notice %q", got)
	}
	if eval[bool](tb, `document.querySelector('#card-status [data-state="connected"]') !== null`) {
		t.Error("the stopped monitor's target still shown as connected")
	}
}

// startMonitor runs wsmon monitor with cfg; stop ends it (and waits).
func startMonitor(t *testing.T, cfg config.Config) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, app.ModeMonitor, cfg, app.Options{Logger: testLogger()}) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("wsmon monitor: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("wsmon monitor did not stop within 30 s")
		}
	}
	t.Cleanup(stop)
	return stop
}

// testSessionsView: the sessions page lists the sessions of a target
// (the open one as connected now, the dropped one with its close code)
// with their bars on the timeline and the gap between them; the target
// filter submits with Enter and is kept in the URL.
func testSessionsView(t *testing.T, b *browser) {
	w := startWsmon(t)
	w.burst(10)
	w.demo.DropAll(1012, "restart")
	waitFor(t, "demo reconnected", func() bool {
		s := w.mon.Status()
		return len(s) == 1 && s[0].State == "connected" && s[0].Reconnects >= 1 && w.demo.Clients() > 0
	})
	tb := b.newTab(t)
	tb.open(w.base+"/#/sessions", "#sessions-target")
	diag := `document.querySelector('#view')?.textContent`
	tb.waitJS("two sessions", `document.querySelectorAll('#sessions-table tbody tr[data-kind="session"]').length >= 2`, diag)
	rows := eval[[]string](tb, `[...document.querySelectorAll('#sessions-table tbody tr[data-kind="session"]')].map((r) => r.dataset.target + '|' + r.querySelector('td[data-label="Close"]').textContent + '|' + r.querySelector('td[data-label="Disconnected"]').textContent)`)
	if len(rows) < 2 || !strings.HasSuffix(rows[0], "|—|connected now") || !strings.Contains(rows[1], "|1012 restart|") {
		t.Errorf("session rows %q: want the open one first, then one closed with 1012 restart", rows)
	}
	if n := eval[int](tb, `document.querySelectorAll('#sessions-timeline .timeline-row[data-target="demo"] .timeline-bar').length`); n < 2 {
		t.Errorf("%d timeline bars for demo, want at least 2", n)
	}
	tb.do("filter by target with Enter",
		chromedp.SendKeys(chromedp.ID("sessions-target"), "demo"),
		chromedp.KeyEvent(kb.Enter))
	tb.waitJS("the URL holds the target", `location.hash === '#/sessions?target=demo'`, `location.hash`)
	tb.waitJS("the filtered table", `document.querySelector('#sessions-target')?.value === 'demo' && document.querySelectorAll('#sessions-table tbody tr').length >= 2`, diag)
	tb.do("filter by an unknown target", chromedp.Navigate(w.base+"/#/sessions?target=nope"))
	tb.waitJS("no sessions", `document.querySelector('#sessions-empty') !== null`, diag)
}

// testLoginView: the login form submits with Enter; a wrong token is
// answered in the UI's language (by the error's code, not the server's
// English), the right one opens the dashboard.
func testLoginView(t *testing.T, b *browser) {
	secret := "tok-" + token()
	w := startWsmon(t, func(c *config.Config) { c.WebToken = secret })
	tb := b.newTab(t)
	tb.allowConsoleError("status of 401")
	tb.open(w.base+"/", "#login-form")
	if !eval[bool](tb, `document.activeElement?.id === 'login-token'`) {
		t.Error("the login form does not focus the token field")
	}
	errText := `document.querySelector('#login-error')?.textContent ?? ''`
	tb.do("a wrong token and Enter", chromedp.SendKeys(chromedp.ID("login-token"), "wrong"), chromedp.KeyEvent(kb.Enter))
	tb.waitJS("the English error", `document.querySelector('#login-error').textContent === 'Sign-in failed: wrong token, user or password'`, errText)

	eval[bool](tb, `(localStorage.setItem('wsmon.lang', 'zh'), true)`)
	tb.do("reload in Chinese", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("login-form")))
	if got := eval[string](tb, `document.querySelector('#login-submit').textContent`); got != "登录" {
		t.Errorf("login button %q in Chinese", got)
	}
	tb.do("a wrong token in Chinese", chromedp.SendKeys(chromedp.ID("login-token"), "wrong"), chromedp.Click(chromedp.ID("login-submit")))
	// (The Chinese error replaces the English one.)
	tb.waitJS("the Chinese error", `document.querySelector('#login-error').textContent === '登录失败：令牌、用户名或密码错误'`, errText)
	eval[bool](tb, `(document.getElementById('login-token').value = '', document.getElementById('login-token').focus(), true)`)
	tb.do("the right token", chromedp.KeyEvent(secret), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.ID("logout-button")), chromedp.WaitVisible(chromedp.ID("live-list")))
}

// testKeyboard: search runs on Enter; Tab walks the search form in order,
// then reaches the results, where Enter opens a row's context and Escape
// closes it.
func testKeyboard(t *testing.T, b *browser) {
	w := startWsmon(t)
	tok := token()
	content := "键盘 keyboard " + tok
	w.chat("kb", content)
	w.committed(1)
	tb := b.newTab(t)
	tb.open(w.base+"/#/search", "#search-input")
	if !eval[bool](tb, `document.activeElement?.id === 'search-input'`) {
		t.Fatal("the search page does not focus the keyword field")
	}
	tb.do("type and Enter", chromedp.KeyEvent("keyboard "+tok), chromedp.KeyEvent(kb.Enter))
	tb.waitJS("the search ran", jsCall(`(q) => new URLSearchParams(location.hash.split('?')[1] ?? '').get('q') === q`, "keyboard "+tok), `location.hash`)
	tb.waitRow("#search-results", content, nil)

	// Focus order: each Tab moves the focus; record the distinct elements
	// (a date field takes several Tabs, one per part).
	eval[bool](tb, `(document.getElementById('search-input').focus(), true)`)
	var order []string
	for range 40 {
		tb.do("Tab", chromedp.KeyEvent(kb.Tab))
		id := eval[string](tb, `(() => { const a = document.activeElement; return a?.classList.contains('msg-row') ? 'ROW' : (a?.id || a?.tagName || ''); })()`)
		if len(order) == 0 || order[len(order)-1] != id {
			order = append(order, id)
		}
		if id == "ROW" {
			break
		}
	}
	want := []string{"search-user", "search-type", "search-from", "search-to", "search-button", "search-export-format", "search-export", "ROW"}
	if !slices.Equal(order, want) {
		t.Fatalf("focus order after the keyword field: %q, want %q", order, want)
	}
	tb.do("Enter on the row", chromedp.KeyEvent(kb.Enter))
	tb.waitJS("the context", jsCall(`(c) => document.querySelector('#context-list .msg-anchor .msg-content')?.textContent === c`, content), `document.querySelector('#context-modal')?.textContent ?? 'no modal'`)
	if !eval[bool](tb, `document.activeElement?.classList.contains('btn-close')`) {
		t.Error("the context does not focus its close button")
	}
	tb.do("Escape", chromedp.KeyEvent(kb.Escape))
	tb.waitJS("closed, focus back on the row", `document.querySelector('#context-modal') === null && document.activeElement?.classList.contains('msg-row')`, `document.activeElement?.outerHTML`)
}

// testBrowserLanguage: a Chinese browser gets the Chinese UI without a
// click, numbers and dates formatted for zh-CN, and API errors translated
// by their code.
func testBrowserLanguage(t *testing.T, b *browser) {
	w := startWsmon(t)
	w.burst(1500)
	tb := b.newTab(t)
	if _, err := chromedp.Call(tb.ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) wsmon-e2e", AcceptLanguage: "zh-CN,zh",
	}); err != nil {
		t.Fatal(err)
	}
	tb.openDashboard(w.base)
	if nav := eval[string](tb, `navigator.language`); !strings.HasPrefix(nav, "zh") {
		t.Fatalf("navigator.language %q, the override did not apply", nav)
	}
	tb.waitJS("the Chinese UI", `document.documentElement.lang === 'zh-CN' && document.querySelector('#nav-dashboard')?.textContent === '监控面板'`,
		`document.documentElement.lang + ' ' + document.querySelector('#navbar')?.textContent`)
	tb.waitJS("the total formatted for zh-CN",
		`(() => { const v = document.querySelector('#card-total .card-value'); return Number(v?.dataset.value) >= 1500 && v.textContent === new Intl.NumberFormat('zh-CN').format(Number(v.dataset.value)); })()`,
		`document.querySelector('#card-total')?.textContent`)
	tb.waitJS("a live row", `document.querySelector('#live-list .msg-row time') !== null`, "")
	if got := eval[string](tb, `document.querySelector('#live-list .msg-row time').title`); !strings.HasPrefix(got, "接收于 ") {
		t.Errorf("row time title %q, want 接收于 …", got)
	}
	if got := eval[string](tb, `document.querySelector('#chart-daily').getAttribute('aria-label')`); got != "每日消息趋势（30 天）" {
		t.Errorf("chart label %q", got)
	}
	// The choice is remembered over the browser's language.
	tb.do("switch to English", chromedp.Click(chromedp.ID("lang-switch")))
	tb.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("lang-switch")))
	tb.waitJS("English kept", `document.documentElement.lang === 'en' && document.querySelector('#nav-dashboard')?.textContent === 'Dashboard'`, `document.documentElement.lang`)
	tb.do("back to Chinese", chromedp.Click(chromedp.ID("lang-switch")))

	// An API error (a user name over 256 bytes: 400 bad_param) in Chinese.
	tb.allowConsoleError("status of 400")
	tb.do("a too long user name", chromedp.Navigate(w.base+"/#/user/"+strings.Repeat("a", 300)))
	tb.waitJS("the translated error", `(document.querySelector('#view .alert-danger')?.textContent ?? '').startsWith('出错：请求参数无效：name: ')`,
		`document.querySelector('#view')?.textContent`)
}

// artifactDir is where tests leave files for people to look at:
// $WSMON_ARTIFACT_DIR, else bin/e2e-artifacts/ in the repository (ignored
// by git).
func artifactDir(t *testing.T) string {
	dir := os.Getenv("WSMON_ARTIFACT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "bin", "e2e-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// testPhone: at a phone's width (390 px) no view scrolls sideways; a
// screenshot of the dashboard is saved as a test artifact.
func testPhone(t *testing.T, b *browser) {
	w := startWsmon(t)
	w.burst(100)
	w.chat("手机用户", "在手机上看 "+token())
	w.committed(101)
	tb := b.newTab(t)
	tb.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	tb.openDashboard(w.base)
	tb.waitJS("the cards", `Number(document.querySelector('#card-total .card-value')?.dataset.value) >= 100`, "")
	tb.waitJS("the overview", `document.querySelector('#overview-table') !== null`, "")
	for _, view := range []struct{ hash, ready string }{
		{"#/", "#live-list .msg-row"}, {"#/search?q=a", "#search-summary"}, {"#/sessions", "#sessions-table"},
		{"#/targets", "#targets-table"}, {"#/user/" + url.PathEscape("手机用户"), "#user-count"},
	} {
		tb.do("open "+view.hash, chromedp.Navigate(w.base+"/"+view.hash), chromedp.WaitVisible(chromedp.CSS(view.ready)))
		if got := eval[[]int](tb, `[document.documentElement.scrollWidth, window.innerWidth]`); got[0] > got[1] {
			t.Errorf("%s: the page is %d px wide in a %d px viewport (scrolls sideways)", view.hash, got[0], got[1])
		}
	}
	tb.openDashboard(w.base)
	tb.waitJS("the live list", `document.querySelectorAll('#live-list .msg-row').length > 0`, "")
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(artifactDir(t), "dashboard-phone.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	t.Logf("phone-width screenshot: %s (%d bytes)", abs, len(png))
}

// cjkFont reports whether fontconfig knows a Chinese font (fc-list :lang=zh).
func cjkFont() (bool, error) {
	out, err := exec.Command("fc-list", ":lang=zh").Output()
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(out)) != "", nil
}
