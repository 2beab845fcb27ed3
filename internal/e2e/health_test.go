package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wsmon/wsmon/internal/app"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/webui"
)

// TestDashboardHealth covers the header's "Log out" and what the dashboard
// shows of ingest health: the counters line.
func TestDashboardHealth(t *testing.T) {
	if !webui.Built() {
		skipOrFail(t, "UI not built: run make (or cd web && npm ci && npm run build)")
	}
	b := startBrowser(t)
	tests := []struct {
		name string
		run  func(*testing.T, *browser)
	}{
		{"Logout", testLogout},
		{"IngestCounters", testIngestCounters},
		{"WebOnly", testHealthWebOnly},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, b) })
	}
}

// fastStats makes the dashboard refresh its stats every second.
func fastStats(c *config.Config) { c.WebRefreshInterval = 1 }

// allowConsoleErrors keeps console errors containing substr from failing
// the test (a 401 the test expects is logged as a failed resource load).
func (tb *tab) allowConsoleErrors(substr string) {
	// Cleanups run last-in first-out: this runs before newTab's check.
	tb.t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		kept := tb.errors[:0]
		for _, e := range tb.errors {
			if !strings.Contains(e, substr) {
				kept = append(kept, e)
			}
		}
		tb.errors = kept
	})
}

// pageStatus fetches path from the page's own context (its cookies) and
// returns the HTTP status.
func pageStatus(tb *tab, path string) int {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[int](
		jsCall(`(p) => fetch(p, { credentials: 'same-origin' }).then((r) => r.status)`, path), chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("fetch %s from the page: %v", path, err)
	}
	return v
}

// testLogout: with a web_token, the dashboard asks for it, shows "Log out"
// once signed in, and the button ends the session: the page is back at the
// login form and the API answers it 401 again.
func testLogout(t *testing.T, b *browser) {
	secret := "e2e-" + token() + token()
	w := startWsmon(t, func(c *config.Config) { c.WebToken = secret })
	tb := b.newTab(t)
	tb.allowConsoleErrors("status of 401 (Unauthorized)")
	tb.open(w.base+"/", "#login-form")
	if eval[bool](tb, `document.querySelector('#logout-button') !== null`) {
		t.Error("the login form shows a log-out button")
	}
	if got := pageStatus(tb, "/api/stats"); got != 401 {
		t.Fatalf("GET /api/stats before login = %d, want 401", got)
	}

	tb.do("sign in",
		chromedp.SendKeys(chromedp.ID("login-token"), secret),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("live-list")),
		chromedp.WaitVisible(chromedp.ID("logout-button")),
	)
	if got := eval[string](tb, `document.querySelector('#logout-button').textContent`); got != "Log out" {
		t.Errorf("log-out button says %q, want %q", got, "Log out")
	}
	if got := pageStatus(tb, "/api/stats"); got != 200 {
		t.Fatalf("GET /api/stats after login = %d, want 200", got)
	}

	tb.do("log out", chromedp.Click(chromedp.ID("logout-button")))
	tb.waitJS("the login form after logging out",
		`document.querySelector('#login-form') !== null && document.querySelector('#logout-button') === null && document.querySelector('#live-list') === null`,
		`document.querySelector('#app')?.textContent ?? 'no #app'`)
	if got := pageStatus(tb, "/api/stats"); got != 401 {
		t.Errorf("GET /api/stats after logout = %d, want 401", got)
	}
	// The same in Chinese.
	tb.do("switch to Chinese", chromedp.Click(chromedp.ID("lang-switch")))
	tb.do("sign in again",
		chromedp.SendKeys(chromedp.ID("login-token"), secret),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("logout-button")),
	)
	if got := eval[string](tb, `document.querySelector('#logout-button').textContent`); got != "退出登录" {
		t.Errorf("log-out button says %q in Chinese, want %q", got, "退出登录")
	}
}

// jsCounters is the ingest line's counters as name → value.
const jsCounters = `Object.fromEntries([...document.querySelectorAll('#ingest-health [data-counter]')].map((e) => [e.dataset.counter, Number(e.dataset.value)]))`

// testIngestCounters: the status card has an ingest line with the four
// counters; a replayed message counts as a duplicate dropped and a reused
// id with other content as an id collision, in both languages. Without
// authentication there is no log-out button.
func testIngestCounters(t *testing.T, b *browser) {
	w := startWsmon(t, fastStats)
	tb := b.newTab(t)
	tb.openDashboard(w.base)
	tb.waitJS("the ingest line with four counters at 0",
		`(() => { const c = `+jsCounters+`; return !document.querySelector('#ingest-health').classList.contains('d-none') &&
			c.duplicates === 0 && c.id_collisions === 0 && c.journal_corrupt_records === 0 && c.dropped_frames === 0; })()`,
		`document.querySelector('#ingest-health')?.outerHTML ?? 'no #ingest-health'`)
	if eval[bool](tb, `document.querySelector('#logout-button') !== null`) {
		t.Error("log-out button shown without authentication")
	}
	if eval[bool](tb, `document.querySelector('#journal-banner') !== null`) {
		t.Error("journal banner shown while the disk is fine")
	}

	id := "e2e-" + token()
	frame := func(content string) []byte {
		b, err := json.Marshal(map[string]string{"id": id, "type": "chat", "user": "e2e", "content": content})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	w.demo.Inject(frame("first"), false)
	w.demo.Inject(frame("first"), false)  // a replay: dropped, counted
	w.demo.Inject(frame("second"), false) // same id, other content: stored, counted
	w.committed(2)
	tb.waitJS("duplicates 1 and id collisions 1",
		`(() => { const c = `+jsCounters+`; return c.duplicates === 1 && c.id_collisions === 1; })()`,
		`document.querySelector('#ingest-health')?.outerHTML ?? 'no #ingest-health'`)
	text := func(name string) string {
		return eval[string](tb, jsCall(`(n) => document.querySelector('#ingest-health [data-counter="' + n + '"]').textContent`, name))
	}
	want := map[string]string{
		"duplicates":              "Duplicates dropped: 1",
		"id_collisions":           "Id collisions: 1",
		"journal_corrupt_records": "Corrupt journal records skipped: 0",
		"dropped_frames":          "Frames dropped: 0",
	}
	for name, exp := range want {
		if got := text(name); got != exp {
			t.Errorf("counter %s reads %q, want %q", name, got, exp)
		}
	}

	tb.do("switch to Chinese", chromedp.Click(chromedp.ID("lang-switch")))
	tb.waitJS("the ingest line in Chinese",
		`document.querySelector('#ingest-health [data-counter="duplicates"]')?.textContent === '已丢弃重复消息：1'`,
		`document.querySelector('#ingest-health')?.outerHTML ?? 'no #ingest-health'`)
	if got := text("dropped_frames"); got != "已丢弃帧：0" {
		t.Errorf("dropped_frames in Chinese reads %q", got)
	}
	tb.do("switch back to English", chromedp.Click(chromedp.ID("lang-switch")))
}

// testHealthWebOnly: a separate `wsmon web` (no monitor, so no "ingest" in
// its stats) shows no ingest line and no banner, and the page stops asking
// for stats on views that do not show them.
func testHealthWebOnly(t *testing.T, b *browser) {
	w := startWsmon(t, fastStats)
	w.burst(20)
	r := runApp(t, app.ModeWeb, w.cfg)
	base := "http://" + r.WebAddr
	tb := b.newTab(t)
	tb.openDashboard(base)
	tb.waitJS("the cards to show the stored messages",
		`Number(document.querySelector('#card-total .card-value')?.dataset.value) >= 20`,
		`document.querySelector('#card-total')?.outerHTML ?? 'no #card-total'`)
	if !eval[bool](tb, `document.querySelector('#ingest-health').classList.contains('d-none') && document.querySelector('#ingest-health').childElementCount === 0`) {
		t.Errorf("ingest line shown without ingest counters: %s", eval[string](tb, `document.querySelector('#ingest-health').outerHTML`))
	}
	tb.do("open the search view", chromedp.Navigate(base+"/#/search"), chromedp.WaitVisible(chromedp.ID("search-input")))
	since := eval[float64](tb, `performance.now()`)
	time.Sleep(3500 * time.Millisecond) // three and a half refresh intervals
	polls := eval[int](tb, jsCall(`(since) => performance.getEntriesByType('resource').filter((e) => e.startTime > since && new URL(e.name).pathname === '/api/stats').length`, since))
	if polls != 0 {
		t.Errorf("the search view fetched /api/stats %d times in 3.5 s from a server without ingest counters, want 0", polls)
	}
	if eval[bool](tb, `document.querySelector('#journal-banner') !== null`) {
		t.Error("journal banner shown by a server without ingest counters")
	}
}
