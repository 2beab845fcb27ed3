package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/wsmon/wsmon/internal/app"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/webui"
)

// TestAlerts covers the dashboard's alerts: the header badge counting
// unacknowledged alerts live, the alerts view (filters, paging, the
// message's context, acknowledge), browser notifications, and the rules
// page (add, edit and delete through the form, the server's error for a
// bad rule, read-only in a separate wsmon web). wsmon runs with the
// brief's enable_notifications and notification_keywords ["紧急"].
func TestAlerts(t *testing.T) {
	if !webui.Built() {
		skipOrFail(t, "UI not built: run make (or cd web && npm ci && npm run build)")
	}
	b := startBrowser(t)
	tests := []struct {
		name string
		run  func(*testing.T, *browser)
	}{
		{"KeywordLive", testAlertKeywordLive},
		{"Rules", testAlertRules},
		{"Paging", testAlertPaging},
		{"Notifications", testAlertNotifications},
		{"Delivery", testAlertDelivery},
		{"WebOnly", testAlertsWebOnly},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, b) })
	}
}

// keywordAlerts turns on the brief's keyword notification for 紧急.
func keywordAlerts(c *config.Config) {
	c.EnableNotifications = true
	c.NotificationKeywords = []string{"紧急"}
}

// chatIn has the demo server send one chat frame from user in room.
func (w *wsmon) chatIn(user, room, content string) {
	w.t.Helper()
	b, err := json.Marshal(map[string]string{"type": "chat", "user": user, "room": room, "content": content})
	if err != nil {
		w.t.Fatal(err)
	}
	w.demo.Inject(b, false)
}

// alertsStored waits until wsmon has stored at least n alerts (they are
// recorded just after their messages are committed).
func (w *wsmon) alertsStored(n int) {
	w.t.Helper()
	waitFor(w.t, fmt.Sprintf("%d alerts stored", n), func() bool {
		resp, err := http.Get(w.base + "/api/alerts?limit=1000")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var page struct {
			Alerts []json.RawMessage `json:"alerts"`
		}
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&page) == nil && len(page.Alerts) >= n
	})
}

// evalAwait evaluates expr, a promise, in the page and decodes what it
// resolves to.
func evalAwait[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// JavaScript of the alerts tests, called with jsCall or used as is.
const (
	jsBadge     = `document.querySelector('#alert-badge')`
	jsBadgeDiag = `document.querySelector('#alert-badge')?.outerHTML ?? 'no #alert-badge'`
	// jsBadgeIs: the badge shows n (hidden at 0).
	jsBadgeIs = `(n) => { const b = document.querySelector('#alert-badge');
		return !!b && b.dataset.count === String(n) && b.textContent === String(n) && b.classList.contains('d-none') === (n === 0); }`
	// jsAlertRow returns the .al-row of #alerts-list whose content is content.
	jsAlertRow = `(content) => [...document.querySelectorAll('#alerts-list .al-row')].find((r) => r.querySelector('.al-content')?.textContent === content) ?? null`
	// jsAlertsText is the list as text, for failure reports.
	jsAlertsText = `(() => { const rows = [...document.querySelectorAll('#alerts-list .al-row')];
		return (document.querySelector('#alerts-summary')?.textContent ?? 'no summary') + ' | ' + rows.length + ' rows: ' +
			JSON.stringify(rows.slice(0, 8).map((r) => r.dataset.id + ' ' + r.textContent)) + ' | ' + (document.querySelector('#alerts-notice')?.textContent ?? ''); })()`
	// jsAlertsLive: the alerts view has loaded and a stream carrying
	// alerts is connected (alerts sent from then on are pushed).
	jsAlertsLive = `document.querySelector('#alerts-summary')?.dataset.shown !== undefined && document.querySelector('#alert-badge')?.dataset.live === '1'`
	// jsWatchAll records img, svg, script and b elements added anywhere in
	// the page in window.e2eAdded.
	jsWatchAll = `(() => {
		const sel = 'img, svg, script, b, iframe';
		window.e2eAdded = [];
		new MutationObserver((records) => {
			for (const r of records) for (const n of r.addedNodes) {
				if (!(n instanceof Element)) continue;
				for (const el of [n, ...n.querySelectorAll(sel)]) if (el.matches(sel)) window.e2eAdded.push(el.outerHTML);
			}
		}).observe(document.documentElement, { childList: true, subtree: true });
	})()`
)

// openAlerts opens the alerts view at hash (e.g. "#/alerts?rule=x") and
// waits until it is loaded and live.
func (tb *tab) openAlerts(base, hash string) {
	tb.t.Helper()
	tb.open(base+"/"+hash, "#alerts-list")
	tb.waitJS("the alerts view loaded and live", jsAlertsLive, jsAlertsText+` + ' | badge ' + `+jsBadgeDiag)
}

// rowText returns the text of the element matching sel in the alert row
// with this content ("" when there is none).
func rowText(tb *tab, content, sel string) string {
	tb.t.Helper()
	return eval[string](tb, jsCall(`(content, sel) => ((`+jsAlertRow+`)(content)?.querySelector(sel)?.textContent ?? '')`, content, sel))
}

// testAlertKeywordLive: a message with 紧急 and an XSS payload raises an
// alert; the badge goes to 1 on the dashboard without a reload, the alerts
// view lists it with the payload as literal text (nothing parsed, nothing
// run) and opens the message's context; a second alert arrives live on
// the alerts view itself; acknowledging one and then all brings the badge
// to 0 (the server agrees). The title and the badge in both languages.
func testAlertKeywordLive(t *testing.T, b *browser) {
	w := startWsmon(t, keywordAlerts)
	tb := b.newTab(t)
	tb.openDashboard(w.base)
	tb.waitJS("the badge at 0, hidden", jsCall(jsBadgeIs, 0)+` && `+jsBadge+`.dataset.live === '1'`, jsBadgeDiag)
	tb.do("watch for markup and mark the page", chromedp.Evaluate[chromedp.Void](jsWatchAll+`, window.e2eSamePage = true`))

	tok := token()
	payload := `紧急 <img src=x onerror=alert(1)> 服务器宕机 ` + tok
	user := `<b>mallory</b>`
	w.chatIn(user, "", payload)
	tb.waitJS("the badge at 1, live", jsCall(jsBadgeIs, 1), jsBadgeDiag)
	if got := eval[string](tb, jsBadge+`.title`); got != "1 unacknowledged alert(s)" {
		t.Errorf("badge title %q, want %q", got, "1 unacknowledged alert(s)")
	}

	tb.do("open the alerts view from the navbar", chromedp.Click(chromedp.ID("nav-alerts")))
	tb.waitJS("the alert listed", jsCall(jsAlertRow, payload)+` !== null`, jsAlertsText)
	if !eval[bool](tb, `window.e2eSamePage === true`) {
		t.Error("the page was reloaded")
	}
	row := func(sel string) string { return rowText(tb, payload, sel) }
	for sel, want := range map[string]string{
		".al-rule":   "notification_keywords",
		".rule-type": "keyword",
		".al-user":   user,
		".al-detail": `keyword "紧急" from ` + user,
		".al-state":  "new",
	} {
		if got := row(sel); got != want {
			t.Errorf("alert row %s reads %q, want %q", sel, got, want)
		}
	}
	if got := row(".al-context"); !strings.HasPrefix(got, "Message #") {
		t.Errorf("alert row has no link to the message's context (%q)", got)
	}
	if got := eval[string](tb, `document.querySelector('#alerts-title')?.textContent`); got != "Alerts" {
		t.Errorf("view title %q, want Alerts", got)
	}
	if got := eval[string](tb, `document.querySelector('#nav-alerts')?.firstChild?.textContent`); got != "Alerts" {
		t.Errorf("nav link %q, want Alerts", got)
	}

	// The message's context opens on it.
	tb.do("open the context", chromedp.Evaluate[chromedp.Void](`(`+jsCall(jsAlertRow, payload)+`).querySelector('.al-context').click()`))
	tb.waitJS("the context with the message marked",
		jsCall(`(c) => document.querySelector('#context-modal .msg-anchor .msg-content')?.textContent === c`, payload),
		`document.querySelector('#context-modal')?.textContent ?? 'no #context-modal'`)
	tb.do("close the context", chromedp.Click(chromedp.CSS("#context-modal .btn-close")))

	// Chinese, then back.
	tb.do("switch to Chinese", chromedp.Click(chromedp.ID("lang-switch")))
	tb.waitJS("the alerts view in Chinese",
		`document.querySelector('#alerts-title')?.textContent === '告警' && document.querySelector('#nav-alerts')?.firstChild?.textContent === '告警'`,
		`document.querySelector('#alerts-title')?.textContent + ' | ' + document.querySelector('#nav-alerts')?.textContent`)
	tb.waitJS("the alert listed in Chinese", jsCall(jsAlertRow, payload)+`?.querySelector('.al-state')?.textContent === '未确认'`, jsAlertsText)
	if got := eval[string](tb, jsBadge+`.title`); got != "1 条未确认告警" {
		t.Errorf("Chinese badge title %q, want %q", got, "1 条未确认告警")
	}
	if got := eval[string](tb, jsBadge+`.textContent`); got != "1" {
		t.Errorf("Chinese badge %q, want 1", got)
	}
	tb.do("switch back to English", chromedp.Click(chromedp.ID("lang-switch")))
	tb.waitJS("the alerts view live again", jsAlertsLive, jsAlertsText)

	// A second alert (another room: the cooldown is per room) arrives on
	// the alerts view's own stream.
	second := "紧急 second " + tok
	w.chatIn("bob", "ops", second)
	tb.waitJS("the second alert on top, the badge at 2",
		jsCall(`(c) => document.querySelector('#alerts-list .al-row .al-content')?.textContent === c`, second)+` && `+jsCall(jsBadgeIs, 2),
		jsAlertsText+` + ' | badge ' + `+jsBadgeDiag)

	added := eval[[]string](tb, `window.e2eAdded`)
	if len(added) > 0 {
		t.Errorf("alert text was parsed as HTML: elements added: %q", added)
	}
	if n := eval[int](tb, `document.querySelectorAll('#alerts-list :is(img, script, b, iframe)').length`); n > 0 {
		t.Errorf("%d img/script/b/iframe elements in the alerts list", n)
	}

	// Acknowledge the first alert, then list only the unacknowledged one.
	tb.do("acknowledge the first alert", chromedp.Evaluate[chromedp.Void](`(`+jsCall(jsAlertRow, payload)+`).querySelector('.al-ack').click()`))
	tb.waitJS("the first alert acknowledged, the badge at 1",
		jsCall(jsAlertRow, payload)+`?.dataset.acked === '1' && `+jsCall(jsBadgeIs, 1),
		jsAlertsText+` + ' | badge ' + `+jsBadgeDiag)
	if got := row(".al-state"); got != "acknowledged" {
		t.Errorf("acknowledged alert's state reads %q", got)
	}
	if row(".al-ack") != "" {
		t.Error("an acknowledged alert still has its Acknowledge button")
	}
	tb.do("unacknowledged only", chromedp.Click(chromedp.ID("alerts-unacked")))
	tb.waitJS("only the second alert listed",
		`location.hash === '#/alerts?unacked=1' && document.querySelectorAll('#alerts-list .al-row').length === 1 && `+jsCall(jsAlertRow, second)+` !== null`,
		jsAlertsText)

	// Acknowledge all.
	tb.do("acknowledge all", chromedp.Click(chromedp.ID("alerts-ack-all")))
	tb.waitJS("the badge at 0", jsCall(jsBadgeIs, 0)+` && `+jsCall(jsAlertRow, second)+`?.dataset.acked === '1'`, jsBadgeDiag)
	if n := evalAwait[int](tb, `fetch('/api/alerts?unacked=1').then((r) => r.json()).then((j) => j.unacked + j.alerts.length)`); n != 0 {
		t.Errorf("after acknowledging all the server still counts %d unacknowledged alerts", n)
	}
	tb.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("alerts-list")))
	tb.waitJS("no unacknowledged alert listed after a reload",
		`document.querySelector('#alerts-summary')?.dataset.shown === '0' && `+jsCall(jsBadgeIs, 0), jsAlertsText)
}

// fillRule fills the rule form (values by field name; "type" first, so
// that the type's fields show) and submits it.
func fillRule(tb *tab, fields map[string]string) {
	tb.t.Helper()
	ok := eval[bool](tb, jsCall(`(f) => {
		const set = (name, v) => {
			const el = document.getElementById('rule-' + name);
			if (!el) throw new Error('no field ' + name);
			el.value = v;
			el.dispatchEvent(new Event('change'));
		};
		if ('type' in f) set('type', f.type);
		for (const [k, v] of Object.entries(f)) if (k !== 'type') set(k, v);
		document.getElementById('rule-submit').click();
		return true;
	}`, fields))
	if !ok {
		tb.t.Fatal("could not fill the rule form")
	}
}

// testAlertRules: the rules page lists the configured keyword rule; the
// form shows the fields of the type picked; a bad pattern shows the
// server's 400 message and marks the field; a regex rule added through
// the form (its name has markup: shown as text) raises an alert when a
// message matches, listed live on the alerts view filtered by that rule;
// editing changes it, deleting removes it.
func testAlertRules(t *testing.T, b *browser) {
	w := startWsmon(t, keywordAlerts)
	tb := b.newTab(t)
	tb.allowConsoleErrors("status of 400 (Bad Request)") // the bad pattern
	tb.open(w.base+"/#/rules", "#rules-table")
	tb.do("watch for markup", chromedp.Evaluate[chromedp.Void](jsWatchAll))
	table := `(document.querySelector('#rules-table')?.textContent ?? 'no table') + ' | ' + (document.querySelector('#rules-notice')?.textContent ?? '') + ' | ' + (document.querySelector('#rule-error')?.textContent ?? '')`
	ruleRow := `(name) => [...document.querySelectorAll('#rules-table tbody tr')].find((r) => r.dataset.rule === name) ?? null`
	cell := func(name, sel string) string {
		return eval[string](tb, jsCall(`(name, sel) => ((`+ruleRow+`)(name)?.querySelector(sel)?.textContent ?? '')`, name, sel))
	}

	if got := eval[string](tb, jsCall(`(name) => { const r = (`+ruleRow+`)(name); return r ? r.dataset.source + ' ' + r.dataset.type : 'missing'; }`, "notification_keywords")); got != "config keyword" {
		t.Errorf("notification_keywords rule: %q, want source config, type keyword", got)
	}
	if got := cell("notification_keywords", ".rule-summary"); got != "Keywords: 紧急" {
		t.Errorf("notification_keywords summary %q", got)
	}
	if got := eval[string](tb, `document.querySelector('#rules-title')?.textContent`); got != "Alert rules" {
		t.Errorf("rules title %q", got)
	}

	// The fields follow the type.
	visible := func(field string) bool {
		return eval[bool](tb, jsCall(`(f) => document.getElementById('rule-' + f)?.offsetParent != null`, field))
	}
	for _, c := range []struct {
		typ        string
		shown, not []string
	}{
		{"keyword", []string{"keywords", "rooms", "cooldown", "targets", "reply"}, []string{"pattern", "users", "threshold", "minutes"}},
		{"regex", []string{"pattern", "rooms"}, []string{"keywords", "threshold"}},
		{"user", []string{"users"}, []string{"pattern", "keywords"}},
		{"rate", []string{"threshold", "window", "per"}, []string{"pattern", "minutes"}},
		{"silence", []string{"minutes", "cooldown"}, []string{"rooms", "keywords", "reply"}},
		{"connection", []string{"minutes"}, []string{"threshold", "pattern"}},
	} {
		eval[bool](tb, jsCall(`(ty) => { const s = document.getElementById('rule-type'); s.value = ty; s.dispatchEvent(new Event('change')); return true; }`, c.typ))
		for _, f := range c.shown {
			if !visible(f) {
				t.Errorf("type %s: field %s hidden", c.typ, f)
			}
		}
		for _, f := range c.not {
			if visible(f) {
				t.Errorf("type %s: field %s shown", c.typ, f)
			}
		}
	}

	// A bad pattern: the server's message, next to the form and on the field.
	tok := token()
	fillRule(tb, map[string]string{"type": "regex", "name": "bad-" + tok, "pattern": "(a"})
	tb.waitJS("the server's error", `document.querySelector('#rule-error-message') !== null`, table)
	msg := eval[string](tb, `document.querySelector('#rule-error-message').textContent`)
	if !strings.HasPrefix(msg, "pattern: ") || !strings.Contains(msg, "not a valid RE2 expression") {
		t.Errorf("error for a bad pattern reads %q, want the server's \"pattern: not a valid RE2 expression: ...\"", msg)
	}
	if !eval[bool](tb, `document.getElementById('rule-pattern').classList.contains('is-invalid') && document.getElementById('rule-pattern-feedback').textContent.includes('RE2')`) {
		t.Error("the pattern field is not marked with the error")
	}
	if eval[bool](tb, jsCall(ruleRow, "bad-"+tok)+` !== null`) {
		t.Error("the bad rule is listed")
	}

	// A good one, with markup in its name.
	name := `refund<img src=x onerror=alert(3)>` + tok
	fillRule(tb, map[string]string{"type": "regex", "name": name, "pattern": `(?i)refund-\d+`, "cooldown": "1"})
	tb.waitJS("the new rule listed", jsCall(ruleRow, name)+`?.dataset.source === 'api'`, table)
	if got := cell(name, ".rule-name"); got != name {
		t.Errorf("rule name shown as %q, want %q", got, name)
	}
	if got := cell(name, ".rule-summary"); got != `Pattern: (?i)refund-\d+` {
		t.Errorf("rule summary %q", got)
	}
	if eval[bool](tb, `document.querySelector('#rule-error-message') !== null`) {
		t.Error("the old error is still shown after a successful add")
	}

	// A matching message raises an alert of the new rule, listed live on
	// the view filtered by the rule; a keyword alert meanwhile is counted
	// by the badge but not listed there.
	tb.do("open the alerts of the rule", chromedp.Evaluate[chromedp.Void](jsCall(`(name) => { location.hash = '#/alerts?' + new URLSearchParams({ rule: name }); }`, name)))
	tb.waitJS("the filtered alerts view loaded and live", `document.querySelector('#alerts-rule')?.value !== '' && `+jsAlertsLive, jsAlertsText)
	refund := "please REFUND-42 now " + tok
	w.chatIn("carol", "", refund)
	tb.waitJS("the regex alert listed", jsCall(jsAlertRow, refund)+` !== null`, jsAlertsText)
	if got := rowText(tb, refund, ".al-detail"); got != `matches /(?i)refund-\d+/ from carol` {
		t.Errorf("regex alert detail %q", got)
	}
	if got := rowText(tb, refund, ".al-rule"); got != name {
		t.Errorf("regex alert rule %q, want %q", got, name)
	}
	w.chatIn("dave", "", "紧急 "+tok)
	tb.waitJS("the keyword alert counted", jsCall(jsBadgeIs, 2), jsBadgeDiag)
	if n := eval[int](tb, `document.querySelectorAll('#alerts-list .al-row').length`); n != 1 {
		t.Errorf("the view filtered by the regex rule lists %d alerts, want 1: %s", n, eval[string](tb, jsAlertsText))
	}

	// Edit, then delete.
	tb.do("back to the rules", chromedp.Click(chromedp.ID("tab-rules")))
	tb.waitJS("the rules listed", jsCall(ruleRow, name)+` !== null`, table)
	eval[bool](tb, jsCall(`(name) => { (`+ruleRow+`)(name).querySelector('button[data-action="edit"]').click(); return true; }`, name))
	tb.waitJS("the form in edit mode", jsCall(`(name) => { const f = document.getElementById('rule-form'); const n = document.getElementById('rule-name');
		return f.dataset.mode === 'edit' && n.value === name && n.readOnly && document.getElementById('rule-pattern').value === '(?i)refund-\\d+' && document.getElementById('rule-cooldown').value === '1'; }`, name),
		`document.getElementById('rule-form')?.dataset.mode`)
	fillRule(tb, map[string]string{"pattern": `(?i)refund-\d{3}`})
	tb.waitJS("the rule changed", jsCall(`(name) => ((`+ruleRow+`)(name)?.querySelector('.rule-summary')?.textContent ?? '') === 'Pattern: (?i)refund-\\d{3}'`, name), table)
	if got := eval[string](tb, `document.querySelector('#rules-notice')?.textContent`); got != "Rule "+name+" saved." {
		t.Errorf("notice after saving %q", got)
	}
	eval[bool](tb, `(window.confirm = () => true, true)`)
	eval[bool](tb, jsCall(`(name) => { (`+ruleRow+`)(name).querySelector('button[data-action="delete"]').click(); return true; }`, name))
	tb.waitJS("the rule deleted", jsCall(ruleRow, name)+` === null && `+jsCall(ruleRow, "notification_keywords")+` !== null`, table)

	if added := eval[[]string](tb, `window.e2eAdded.filter((h) => /^<(img|script|b|iframe)/.test(h))`); len(added) > 0 {
		t.Errorf("rule or alert text was parsed as HTML: elements added: %q", added)
	}
	tb.do("switch to Chinese", chromedp.Click(chromedp.ID("lang-switch")))
	tb.waitJS("the rules page in Chinese", `document.querySelector('#rules-title')?.textContent === '告警规则' && document.querySelector('#rule-form-title')?.textContent === '添加规则'`,
		`document.querySelector('#rules-title')?.textContent`)
	tb.do("switch back to English", chromedp.Click(chromedp.ID("lang-switch")))
}

// testAlertPaging: 55 alerts (one room each, so no cooldown folds them)
// are listed newest first, 50 at a time with "Older" for the rest; a time
// range before them lists none.
func testAlertPaging(t *testing.T, b *browser) {
	w := startWsmon(t, keywordAlerts)
	const n = 55
	for i := range n {
		w.chatIn("u", fmt.Sprintf("room-%02d", i), fmt.Sprintf("紧急 %02d", i))
	}
	w.committed(n)
	w.alertsStored(n)
	tb := b.newTab(t)
	tb.open(w.base+"/#/alerts", "#alerts-list")
	tb.waitJS("the badge at 55", jsCall(jsBadgeIs, n), jsBadgeDiag)
	tb.waitJS("the first page", `document.querySelector('#alerts-summary')?.dataset.shown === '50' && !document.querySelector('#alerts-older').classList.contains('d-none')`, jsAlertsText)
	ids := eval[[]int](tb, `[...document.querySelectorAll('#alerts-list .al-row')].map((r) => Number(r.dataset.id))`)
	for i := 1; i < len(ids); i++ {
		if ids[i] >= ids[i-1] {
			t.Fatalf("alerts not newest first: %v", ids)
		}
	}
	if got := eval[string](tb, `document.querySelector('#alerts-list .al-row .al-content').textContent`); got != "紧急 54" {
		t.Errorf("newest alert %q, want 紧急 54", got)
	}
	tb.do("older", chromedp.Click(chromedp.ID("alerts-older")))
	tb.waitJS("all 55, no more to page", `document.querySelector('#alerts-summary')?.dataset.shown === '55' && document.querySelector('#alerts-older').classList.contains('d-none')`, jsAlertsText)
	if got := eval[string](tb, `[...document.querySelectorAll('#alerts-list .al-row .al-content')].pop().textContent`); got != "紧急 00" {
		t.Errorf("oldest alert %q, want 紧急 00", got)
	}

	tb.open(w.base+"/#/alerts?to=2001-01-01T00:00", "#alerts-list")
	tb.waitJS("no alerts before 2001", `document.querySelector('#alerts-summary')?.dataset.shown === '0' && document.querySelector('#alerts-summary').textContent === 'No alerts.'`, jsAlertsText)
	if got := eval[string](tb, `document.querySelector('#alerts-to').value`); got != "2001-01-01T00:00" {
		t.Errorf("the To field reads %q", got)
	}
	tb.open(w.base+"/#/alerts?rule=notification_keywords&target=demo", "#alerts-list")
	tb.waitJS("the rule and target filters", `document.querySelector('#alerts-summary')?.dataset.shown === '50' && document.querySelector('#alerts-ack-all').textContent === 'Acknowledge shown'`, jsAlertsText)
	tb.do("acknowledge the shown", chromedp.Click(chromedp.ID("alerts-ack-all")))
	tb.waitJS("the 5 not shown still unacknowledged", jsCall(jsBadgeIs, 5), jsBadgeDiag)
}

// jsFakeNotification replaces the Notification API, before the page's
// scripts run, with one that records what is shown (window.e2eShown) and
// how often permission was asked (window.e2eAsked). The permission given
// is kept in localStorage, as a browser keeps it per site.
const jsFakeNotification = `(() => {
	window.e2eShown = [];
	window.e2eAsked = 0;
	class FakeNotification {
		static get permission() { return localStorage.getItem('e2e.permission') || 'default'; }
		static requestPermission() {
			window.e2eAsked++;
			localStorage.setItem('e2e.permission', 'granted');
			return Promise.resolve('granted');
		}
		constructor(title, opts) { window.e2eShown.push({ title, body: opts && opts.body, tag: opts && opts.tag }); }
		close() {}
	}
	Object.defineProperty(window, 'Notification', { value: FakeNotification, configurable: true, writable: true });
})()`

// testAlertNotifications: browser notifications are off by default and
// never asked for on load; the switch in the alerts view asks for
// permission (on that click only), remembers the choice across reloads,
// and then each new alert shows one notification whose body is the rule
// and detail as plain text, truncated; switched off, none.
func testAlertNotifications(t *testing.T, b *browser) {
	w := startWsmon(t, keywordAlerts)
	tb := b.newTab(t)
	ctx := tb.ctx
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: jsFakeNotification}); err != nil {
		t.Fatalf("install the fake Notification: %v", err)
	}
	tb.openAlerts(w.base, "#/alerts")
	state := `JSON.stringify({button: document.querySelector('#alerts-notify')?.outerHTML, shown: window.e2eShown, asked: window.e2eAsked, stored: localStorage.getItem('wsmon.alertNotify')})`
	if !eval[bool](tb, `document.querySelector('#alerts-notify').dataset.state === 'off' && document.querySelector('#alerts-notify').textContent === 'Browser notifications: off' && window.e2eAsked === 0`) {
		t.Fatalf("notifications not off by default, or permission asked on load: %s", eval[string](tb, state))
	}
	tok := token()
	w.chatIn("a", "r1", "紧急 one "+tok)
	tb.waitJS("the first alert", jsCall(jsAlertRow, "紧急 one "+tok)+` !== null`, jsAlertsText)
	if n := eval[int](tb, `window.e2eShown.length`); n != 0 {
		t.Errorf("%d notifications shown while they are off", n)
	}

	tb.do("switch notifications on", chromedp.Click(chromedp.ID("alerts-notify")))
	tb.waitJS("notifications on", `document.querySelector('#alerts-notify').dataset.state === 'on' && window.e2eAsked === 1 && localStorage.getItem('wsmon.alertNotify') === '1'`, state)

	// The user name makes the detail long: the body is cut.
	user := `<img src=x onerror=alert(4)>` + strings.Repeat("长", 300)
	content := "紧急 two " + tok
	w.chatIn(user, "r2", content)
	tb.waitJS("a notification", `window.e2eShown.length === 1`, state)
	type shown struct{ Title, Body, Tag string }
	got := eval[[]shown](tb, `window.e2eShown`)[0]
	id := eval[string](tb, jsCall(jsAlertRow, content)+`?.dataset.id ?? ''`)
	if got.Title != "wsmon alert: notification_keywords" || got.Tag != "wsmon-alert-"+id {
		t.Errorf("notification title %q tag %q, want %q and wsmon-alert-%s", got.Title, got.Tag, "wsmon alert: notification_keywords", id)
	}
	wantStart := `notification_keywords: keyword "紧急" from <img src=x onerror=alert(4)>长长`
	if !strings.HasPrefix(got.Body, wantStart) || !strings.HasSuffix(got.Body, "…") || len([]rune(got.Body)) > 180 {
		t.Errorf("notification body (%d characters) %q, want rule and detail as text, cut at 180 with …", len([]rune(got.Body)), got.Body)
	}

	// Remembered across a reload (and not asked again).
	tb.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("alerts-list")))
	tb.waitJS("the alerts view loaded and live", jsAlertsLive, jsAlertsText)
	if !eval[bool](tb, `document.querySelector('#alerts-notify').dataset.state === 'on' && window.e2eAsked === 0`) {
		t.Errorf("after a reload: %s", eval[string](tb, state))
	}
	tb.do("switch notifications off", chromedp.Click(chromedp.ID("alerts-notify")))
	tb.waitJS("notifications off", `document.querySelector('#alerts-notify').dataset.state === 'off' && localStorage.getItem('wsmon.alertNotify') === '0'`, state)
	content3 := "紧急 three " + tok
	w.chatIn("c", "r3", content3)
	tb.waitJS("the third alert", jsCall(jsAlertRow, content3)+` !== null`, jsAlertsText)
	if n := eval[int](tb, `window.e2eShown.length`); n != 0 {
		t.Errorf("%d notifications shown after switching them off", n)
	}
}

// testAlertDelivery: the alerts view shows each notifier's delivery
// counts, and a failing one (notify_webhook_url on a port where nothing
// listens) in red with its error.
func testAlertDelivery(t *testing.T, b *browser) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now: every delivery is refused
	w := startWsmon(t, keywordAlerts, func(c *config.Config) { c.NotifyWebhook = "http://" + dead + "/hook" })
	w.chatIn("f", "", "紧急 delivery "+token())
	w.alertsStored(1)
	waitFor(t, "the webhook's first failed attempt", func() bool {
		resp, err := http.Get(w.base + "/api/alerts?limit=1")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var page struct {
			Notifiers []struct {
				Name      string `json:"name"`
				LastError string `json:"last_error"`
			} `json:"notifiers"`
		}
		return json.NewDecoder(resp.Body).Decode(&page) == nil && len(page.Notifiers) == 1 && page.Notifiers[0].LastError != ""
	})
	tb := b.newTab(t)
	tb.openAlerts(w.base, "#/alerts")
	sink := `document.querySelector('#alerts-notifiers .al-sink[data-name="webhook"]')`
	tb.waitJS("the webhook shown failing", sink+`?.dataset.failing === '1' && `+sink+`.classList.contains('text-danger')`,
		`document.querySelector('#alerts-notifiers')?.outerHTML ?? 'no #alerts-notifiers'`)
	text := eval[string](tb, sink+`.textContent`)
	if !strings.HasPrefix(text, "webhook (webhook): sent 0, failed ") || !strings.Contains(text, "failing: ") {
		t.Errorf("webhook status reads %q", text)
	}
}

// testAlertsWebOnly: a separate wsmon web lists the alerts the monitor
// stored, counts them in the badge, and shows the rules page read-only
// (its GET /api/rules lists no rules: it has no rule manager).
func testAlertsWebOnly(t *testing.T, b *browser) {
	w := startWsmon(t, keywordAlerts)
	content := "紧急 web-only " + token()
	w.chatIn("e", "", content)
	w.alertsStored(1)
	r := runApp(t, app.ModeWeb, w.cfg)
	base := "http://" + r.WebAddr
	tb := b.newTab(t)
	tb.open(base+"/#/alerts", "#alerts-list")
	tb.waitJS("the stored alert listed", jsCall(jsAlertRow, content)+` !== null && `+jsCall(jsBadgeIs, 1), jsAlertsText+` + ' | badge ' + `+jsBadgeDiag)
	tb.open(base+"/#/rules", "#rules-title")
	tb.waitJS("the rules read-only", `document.querySelector('#rules-readonly') !== null`, `document.querySelector('#app').textContent`)
	if eval[bool](tb, `document.querySelector('#rule-form') !== null || document.querySelector('#rules-table button') !== null`) {
		t.Error("a separate wsmon web offers to change rules")
	}
	if got := eval[string](tb, `document.querySelector('#rules-readonly').textContent`); !strings.Contains(got, "managed by the monitor process") {
		t.Errorf("read-only note %q", got)
	}
}
