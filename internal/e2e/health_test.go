package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wsmon/wsmon/internal/app"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/webui"
)

// TestDashboardHealth covers the header's "Log out" and what the dashboard
// shows of ingest health: the counters line, and the red banner on every
// view while the journal cannot write to disk.
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
		{"JournalBanner", testJournalBanner},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, b) })
	}
}

// fastStats makes the dashboard refresh its stats every second.
func fastStats(c *config.Config) { c.WebRefreshInterval = 1 }

// waitJSWithin is waitJS with a longer bound, for what the server takes
// seconds to notice (a full disk, its recovery).
func (tb *tab) waitJSWithin(d time.Duration, what, expr, diag string) {
	tb.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if eval[bool](tb, expr) {
			return
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("waiting %v for %s\npage state: %s", d, what, eval[string](tb, diag))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

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

// mountTmpfs mounts a tmpfs of size bytes on a new directory and returns
// it; it is unmounted when the test ends (after what was started later
// has stopped). It skips (or fails, under WSMON_REQUIRE_BROWSER=1) when
// it cannot mount.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		skipOrFail(t, fmt.Sprintf("mount tmpfs: %v %s", err, bytes.TrimSpace(out)))
	}
	t.Cleanup(func() {
		if err := exec.Command("umount", dir).Run(); err != nil {
			exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// fill writes zeros to path until the filesystem is full (ENOSPC).
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("create filler: %v", err)
	}
	defer f.Close()
	block := make([]byte, 64<<10)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill: %v", err)
			}
			return
		}
	}
}

// testJournalBanner: with the data directory on a small tmpfs that fills
// up while the target sends, the journal's write error shows as a red
// banner (on the dashboard and on other views, in both languages); past
// the journal's memory limit (1 MiB here) frames are dropped and counted,
// in the banner and in the ingest line; when space comes back the banner
// goes away and the count of dropped frames stays.
func testJournalBanner(t *testing.T, b *browser) {
	const limit = 1 << 20
	dir := mountTmpfs(t, 32<<20)
	w := startWsmon(t, fastStats, func(c *config.Config) {
		c.DatabasePath = filepath.Join(dir, "chat_monitor.db")
		c.JournalMemoryLimitBytes = limit
	})
	tb := b.newTab(t)
	tb.openDashboard(w.base)
	tb.waitJS("the ingest line", `document.querySelector('#ingest-health [data-counter="dropped_frames"]')?.dataset.value === '0'`,
		`document.querySelector('#card-status')?.outerHTML ?? 'no #card-status'`)
	if eval[bool](tb, `document.querySelector('#journal-banner') !== null`) {
		t.Fatal("journal banner shown before the disk is full")
	}

	// The target sends for the rest of the test: small messages, and 16 KiB
	// ones while big is set (to reach the memory limit in a second).
	var big atomic.Bool
	stop := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			pad := 200
			if big.Load() {
				pad = 16 << 10
			}
			w.chat("sender", fmt.Sprintf("message %d %s", i, strings.Repeat("x", pad)))
		}
	}()
	t.Cleanup(func() { close(stop); <-sent })

	filler := filepath.Join(dir, "filler")
	fill(t, filler)
	t.Cleanup(func() { os.Remove(filler) })

	banner := `document.querySelector('#journal-banner')`
	diag := `JSON.stringify({banner: document.querySelector('#journal-banner')?.outerHTML ?? null,
		ingest: document.querySelector('#ingest-health')?.textContent ?? null, hash: location.hash})`
	tb.waitJSWithin(30*time.Second, "the journal banner on the dashboard", banner+` !== null`, diag)
	errText := eval[string](tb, banner+`.dataset.error`)
	if !strings.Contains(strings.ToLower(errText), "no space left") {
		t.Errorf("journal error %q does not say the disk is full (ENOSPC)", errText)
	}

	big.Store(true)
	tb.waitJSWithin(30*time.Second, "frames dropped in the banner and the ingest line",
		banner+`?.dataset.dropped > 0 && document.querySelector('#ingest-health [data-counter="dropped_frames"]')?.dataset.value > 0`, diag)
	big.Store(false)
	text := eval[string](tb, banner+`.textContent`)
	dropped := eval[int](tb, `Number(`+banner+`.dataset.dropped)`)
	errText = eval[string](tb, banner+`.dataset.error`)
	t.Logf("banner: %s", text)
	want := regexp.MustCompile(`^Disk writes failing since \d\d:\d\d:\d\d: (.+)\. [\d.]+ (B|KiB|MiB) held in memory \(limit 1 MiB\); ([\d,]+) frames dropped\.$`)
	if m := want.FindStringSubmatch(text); m == nil {
		t.Errorf("banner reads %q, want %q", text, want)
	} else if m[1] != errText || strings.ReplaceAll(m[3], ",", "") == "0" {
		t.Errorf("banner reads %q: error %q (want %q), %s frames dropped (want > 0)", text, m[1], errText, m[3])
	}
	if dropped <= 0 {
		t.Errorf("banner data-dropped = %d, want > 0", dropped)
	}
	if !eval[bool](tb, `document.querySelector('#ingest-health [data-counter="dropped_frames"]').classList.contains('text-danger')`) {
		t.Error("dropped frames not shown in red in the ingest line")
	}

	tb.do("switch to Chinese", chromedp.Click(chromedp.ID("lang-switch")))
	tb.waitJS("the banner in Chinese", banner+`?.textContent.includes('磁盘写入失败')`, diag)
	zh := eval[string](tb, banner+`.textContent`)
	if !strings.Contains(zh, "起磁盘写入失败："+errText) || !strings.Contains(zh, "（上限 1 MiB）") || !strings.Contains(zh, "帧。") {
		t.Errorf("Chinese banner reads %q", zh)
	}
	tb.do("switch back to English", chromedp.Click(chromedp.ID("lang-switch")))

	// Another view shows it too (it polls the stats itself).
	tb.do("open the search view", chromedp.Navigate(w.base+"/#/search"), chromedp.WaitVisible(chromedp.ID("search-input")))
	tb.waitJS("the journal banner on the search view", banner+` !== null`, diag)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	tb.waitJSWithin(30*time.Second, "the banner to go once the disk has space", banner+` === null`, diag)
	tb.do("back to the dashboard", chromedp.Navigate(w.base+"/#/"), chromedp.WaitVisible(chromedp.ID("live-list")))
	tb.waitJS("no banner, and the dropped frames still counted",
		jsCall(`(n) => document.querySelector('#journal-banner') === null &&
			Number(document.querySelector('#ingest-health [data-counter="dropped_frames"]')?.dataset.value) >= n`, dropped), diag)
}
