package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/wsmon/wsmon/internal/app"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/webui"
)

// Timeouts. They bound waits for things that normally take milliseconds;
// nothing asserts on how long anything took.
const (
	stepTimeout  = 10 * time.Second // one browser action or wait
	startTimeout = 20 * time.Second // starting wsmon or the browser
)

// ---- environment ---------------------------------------------------------

// skipOrFail skips the test, or fails it when CI demands a real run.
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("WSMON_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + " (WSMON_REQUIRE_BROWSER=1)")
	}
	t.Skip(msg)
}

// chromiumPath finds the browser: $WSMON_CHROMIUM, /usr/bin/chromium, or
// chromium on PATH.
func chromiumPath() (string, error) {
	if p := os.Getenv("WSMON_CHROMIUM"); p != "" {
		full, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("WSMON_CHROMIUM=%q is not an executable: %v", p, err)
		}
		return full, nil
	}
	if st, err := os.Stat("/usr/bin/chromium"); err == nil && !st.IsDir() {
		return "/usr/bin/chromium", nil
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", errors.New("no Chromium found: set WSMON_CHROMIUM or install it (apt-get install chromium)")
}

func testLogger() *slog.Logger {
	if os.Getenv("WSMON_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// wsmon is a running demo chat server plus wsmon (capture, store, web)
// monitoring it, all on loopback with the database in a temp dir.
type wsmon struct {
	t    *testing.T
	demo *demo.Server
	mon  *app.Monitor
	base string        // http://127.0.0.1:PORT
	cfg  config.Config // as validated
}

// startWsmon starts the demo server and wsmon; configure, if given,
// changes wsmon's configuration before it is validated.
func startWsmon(t *testing.T, configure ...func(*config.Config)) *wsmon {
	t.Helper()
	d := demo.New(demo.Options{Addr: "127.0.0.1:0", Rate: 0, Seed: 1})
	if err := d.Start(); err != nil {
		t.Fatalf("demo server: %v", err)
	}
	t.Cleanup(func() { d.Close() })

	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.WebsocketURL = d.URL()
	cfg.TargetName = "demo"
	cfg.DatabasePath = filepath.Join(dir, "data", "chat_monitor.db")
	cfg.LogDir = filepath.Join(dir, "logs")
	cfg.ReconnectInterval = 0.05
	cfg.ReconnectMaxInterval = 0.2
	cfg.MaxReconnectAttempts = 0
	cfg.AutoBackupHours = 0
	for _, f := range configure {
		f(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	r := runApp(t, app.ModeAll, cfg)
	w := &wsmon{t: t, demo: d, mon: r.Monitor, base: "http://" + r.WebAddr, cfg: cfg}
	waitFor(t, "wsmon connected to the demo server", func() bool {
		for _, s := range w.mon.Status() {
			if s.State != "connected" {
				return false
			}
		}
		return d.Clients() > 0
	})
	return w
}

// runApp runs wsmon in mode with cfg, on a free loopback port, until the
// test ends; opts, if given, change its app.Options (a Version, say).
func runApp(t *testing.T, mode app.Mode, cfg config.Config, opts ...func(*app.Options)) app.Running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan app.Running, 1)
	done := make(chan error, 1)
	o := app.Options{
		// No Version: the navbar then shows none (screenshots for the docs).
		Logger: testLogger(), Listener: ln,
		Started: func(r app.Running) { started <- r },
	}
	for _, f := range opts {
		f(&o)
	}
	go func() { done <- app.Run(ctx, mode, cfg, o) }()
	var r app.Running
	select {
	case r = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("wsmon %s exited at start: %v", mode, err)
	case <-time.After(startTimeout):
		cancel()
		t.Fatalf("wsmon %s did not start", mode)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("wsmon %s: %v", mode, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("wsmon %s did not stop within 30 s", mode)
		}
	})
	return r
}

// waitFor polls ok until it holds, failing the test after startTimeout.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", startTimeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// committed waits until wsmon has stored at least n messages.
func (w *wsmon) committed(n int64) {
	w.t.Helper()
	waitFor(w.t, fmt.Sprintf("%d messages stored", n), func() bool { return w.mon.Pipeline().Stats().Messages >= n })
}

// burst has the demo server send n generated chat messages and waits until
// they are stored.
func (w *wsmon) burst(n int) {
	w.t.Helper()
	before := w.mon.Pipeline().Stats().Messages
	if err := w.demo.Burst(n); err != nil {
		w.t.Fatalf("burst: %v", err)
	}
	w.committed(before + int64(n))
}

// chat has the demo server send one chat frame from user.
func (w *wsmon) chat(user, content string) {
	w.t.Helper()
	b, err := json.Marshal(map[string]string{"type": "chat", "user": user, "content": content})
	if err != nil {
		w.t.Fatal(err)
	}
	w.demo.Inject(b, false)
}

// token returns a random upper-case token to make test data unique.
func token() string { return rand.Text()[:10] }

// ---- browser ---------------------------------------------------------------

// browser is one headless Chromium shared by the subtests; each test opens
// its own tab in a fresh browser context (own storage, own cookies).
type browser struct {
	ctx context.Context
	out *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b.Len() < 1<<16 {
		s.b.Write(p)
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	path, err := chromiumPath()
	if err != nil {
		skipOrFail(t, err.Error())
	}
	out := &syncBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.Flag("accept-lang", "en-US"),
		chromedp.Env("LANG=en_US.UTF-8", "LANGUAGE=en_US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// Registered after t.TempDir, so it runs first: the browser has exited
	// before its profile directory is removed.
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	startErr := make(chan error, 1)
	go func() { startErr <- chromedp.Do(ctx) }()
	select {
	case err := <-startErr:
		if err != nil {
			t.Fatalf("start %s: %v\nbrowser output:\n%s", path, err, out.String())
		}
	case <-time.After(startTimeout):
		t.Fatalf("start %s: no answer within %v\nbrowser output:\n%s", path, startTimeout, out.String())
	}
	return &browser{ctx: ctx, out: out}
}

// tab is one page of the shared browser, with what the page did recorded.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu         sync.Mutex
	dialogs    []string // JavaScript dialogs opened (each was dismissed)
	exceptions []string // uncaught exceptions
	errors     []string // console errors (CSP violations among them)
	console    []string // everything the console got, for failure reports
	expected   []string // console errors the test provokes (allowConsoleError)
}

// allowConsoleError lets console errors containing substr pass: the
// browser logs every failed request, such as a 401 the test provokes.
func (tb *tab) allowConsoleError(substr string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.expected = append(tb.expected, substr)
}

// newTab opens a 1280x900 tab in a new browser context. Dialogs are
// recorded and dismissed; when the test ends, any dialog, uncaught
// exception or console error (a CSP violation is one) fails it.
func (b *browser) newTab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first Run opens the tab and binds it to the context it is given,
	// so it gets ctx itself, not one with a step timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	tb := &tab{t: t, ctx: ctx}
	tb.do("set viewport", chromedp.EmulateViewport(1280, 900))

	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.dialogs = append(tb.dialogs, fmt.Sprintf("%s: %q", ev.Type, ev.Message))
			tb.mu.Unlock()
			// A dialog blocks the page; dismiss it so the test goes on.
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	console := chromedp.Console(ctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			tb.mu.Lock()
			tb.console = append(tb.console, fmt.Sprintf("%s %s:%d %s", m.Type, m.URL, m.Line+1, m))
			switch {
			case m.IsException():
				tb.exceptions = append(tb.exceptions, m.String())
			case m.Type == chromedp.ConsoleError:
				tb.errors = append(tb.errors, m.String())
			}
			tb.mu.Unlock()
		}
	}()
	// Runs before cancel (cleanups run last-in first-out).
	t.Cleanup(func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		if len(tb.dialogs) > 0 {
			t.Errorf("the page opened JavaScript dialogs: %s", strings.Join(tb.dialogs, "; "))
		}
		if len(tb.exceptions) > 0 {
			t.Errorf("uncaught exceptions in the page: %s", strings.Join(tb.exceptions, "; "))
		}
		var unexpected []string
		for _, e := range tb.errors {
			if !slices.ContainsFunc(tb.expected, func(x string) bool { return strings.Contains(e, x) }) {
				unexpected = append(unexpected, e)
			}
		}
		if len(unexpected) > 0 {
			t.Errorf("errors in the browser console: %s", strings.Join(unexpected, "; "))
		}
		if t.Failed() && len(tb.console) > 0 {
			t.Logf("browser console:\n%s", strings.Join(tb.console, "\n"))
		}
	})
	return tb
}

// do runs actions with a step timeout, failing the test on error.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// jsCall returns the JavaScript expression calling fn with args, encoded as
// JSON (so any string, quotes and markup included, arrives unchanged).
func jsCall(fn string, args ...any) string {
	parts := make([]string, len(args))
	for i, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			panic(err)
		}
		parts[i] = string(b)
	}
	return "(" + fn + ")(" + strings.Join(parts, ", ") + ")"
}

// eval evaluates expr in the page and decodes the result into T.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS waits until the expression expr is truthy in the page. On timeout
// it fails the test with what and the value of the diagnostic expression
// diag (e.g. the text of the element it was waiting on).
func (tb *tab) waitJS(what, expr, diag string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout+time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout)))
	if err == nil {
		return
	}
	state := "?"
	if diag != "" {
		dctx, dcancel := context.WithTimeout(tb.ctx, 2*time.Second)
		defer dcancel()
		if s, derr := chromedp.Run(dctx, chromedp.Evaluate[string](diag)); derr == nil {
			state = s
		} else {
			state = derr.Error()
		}
	}
	tb.t.Fatalf("waiting for %s: %v\npage state: %s", what, err, state)
}

// open navigates to url and waits for the view to be drawn.
func (tb *tab) open(url, visible string) {
	tb.t.Helper()
	tb.do("open "+url, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(visible)))
}

// openDashboard opens the dashboard and waits until its live stream is
// connected (messages sent from then on are pushed to the page).
func (tb *tab) openDashboard(base string) {
	tb.t.Helper()
	tb.open(base+"/", "#live-list")
	tb.waitJS("the live stream to connect",
		`document.querySelector('#live-state')?.dataset.state === 'live'`,
		`document.querySelector('#live-state')?.outerHTML ?? 'no #live-state'`)
}

// JavaScript helpers, called with jsCall.
const (
	// findRow returns the .msg-row under container whose .msg-content
	// text is content (and .msg-user text is user, unless user is null).
	jsFindRow = `(container, content, user) => {
		for (const row of document.querySelectorAll(container + ' .msg-row')) {
			const c = row.querySelector('.msg-content');
			const u = row.querySelector('.msg-user');
			if (c && c.textContent === content && (user === null || (u && u.textContent === user))) return row;
		}
		return null;
	}`
	// rowsText is the text of the rows under container, for failure reports.
	jsRowsText = `(container) => {
		const rows = [...document.querySelectorAll(container + ' .msg-row')];
		return rows.length + ' rows: ' + JSON.stringify(rows.slice(0, 10).map((r) => r.textContent));
	}`
	// rowMarks returns the texts in <mark> of the row with this content.
	jsRowMarks = `(container, content) => {
		const row = (` + jsFindRow + `)(container, content, null);
		return row ? [...row.querySelectorAll('.msg-content mark')].map((m) => m.textContent) : null;
	}`
	// canvasDrawn reports whether the canvas with this id has any pixel drawn.
	jsCanvasDrawn = `(id) => {
		const c = document.getElementById(id);
		if (!(c instanceof HTMLCanvasElement) || !c.width || !c.height) return false;
		const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
		for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true;
		return false;
	}`
)

// waitRow waits for a message row with this content (and user, if not
// nil) under container.
func (tb *tab) waitRow(container, content string, user *string) {
	tb.t.Helper()
	var u any
	if user != nil {
		u = *user
	}
	tb.waitJS(fmt.Sprintf("a message %q in %s", content, container),
		jsCall(jsFindRow, container, content, u)+" !== null",
		jsCall(jsRowsText, container))
}

// ---- tests -----------------------------------------------------------------

func TestDashboard(t *testing.T) {
	if !webui.Built() {
		skipOrFail(t, "UI not built: run make (or cd web && npm ci && npm run build)")
	}
	b := startBrowser(t)
	tests := []struct {
		name string
		run  func(*testing.T, *browser)
	}{
		{"Load", testLoad},
		{"LiveMessage", testLiveMessage},
		{"Search", testSearch},
		{"XSS", testXSS},
		{"Language", testLanguage},
		{"Targets", testTargets},
		{"Screenshot", testScreenshot},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, b) })
	}
}

// testLoad: with traffic stored, the dashboard shows the numbers, the
// target as connected, both charts drawn and the leaderboard.
func testLoad(t *testing.T, b *browser) {
	w := startWsmon(t)
	w.burst(200)
	tb := b.newTab(t)
	tb.openDashboard(w.base)

	cards := []struct {
		id  string
		min int // the value must be a number at least this
	}{
		{"card-total", 200},
		{"card-today", 0}, // 200, unless the day changed since the burst
		{"card-active", 1},
	}
	for _, c := range cards {
		sel := "#" + c.id + " .card-value"
		tb.waitJS(fmt.Sprintf("%s to show at least %d", sel, c.min),
			jsCall(`(sel, min) => Number(document.querySelector(sel)?.dataset.value) >= min`, sel, c.min),
			jsCall(`(sel) => document.querySelector(sel)?.outerHTML ?? 'missing'`, sel))
		text := eval[string](tb, jsCall(`(sel) => document.querySelector(sel).textContent`, sel))
		if strings.Trim(text, "0123456789,. ") != "" {
			t.Errorf("%s shows %q, want a number", sel, text)
		}
	}

	tb.waitJS("the demo target shown as connected",
		`document.querySelector('#card-status [data-state="connected"]') !== null`,
		`document.querySelector('#card-status')?.outerHTML ?? 'no #card-status'`)
	if got := eval[string](tb, `document.querySelector('#card-status [data-state="connected"]').dataset.target`); got != "demo" {
		t.Errorf("connected target = %q, want demo", got)
	}

	for _, id := range []string{"chart-daily", "chart-hourly"} {
		tb.waitJS("chart #"+id+" to be drawn", jsCall(jsCanvasDrawn, id),
			jsCall(`(id) => document.getElementById(id)?.outerHTML ?? 'no canvas'`, id))
	}

	tb.waitJS("entries in #top-users",
		`document.querySelectorAll('#top-users li.top-user').length > 0`,
		`document.querySelector('#top-users')?.outerHTML ?? 'no #top-users'`)
	top := eval[[]string](tb, `[...document.querySelectorAll('#top-users li.top-user')].map((li) => li.dataset.user)`)
	for _, u := range top {
		if u == "" {
			t.Errorf("leaderboard entry without a user: %q", top)
		}
	}
}

// testLiveMessage: a message sent after the page loaded is pushed to the
// live list without a reload.
func testLiveMessage(t *testing.T, b *browser) {
	w := startWsmon(t)
	tb := b.newTab(t)
	tb.openDashboard(w.base)

	content := "live-" + token()
	user := "e2e"
	w.chat(user, content)
	tb.waitRow("#live-list", content, &user)
}

// testSearch: search finds an injected message by a two-character Chinese
// keyword and by an English token in another case, and highlights the
// match with <mark>.
func testSearch(t *testing.T, b *browser) {
	w := startWsmon(t)
	tok := token()
	zh := "紧急 订单 E2E-" + tok
	en := "Hello UNIQUE-" + tok
	// The server matches the whole query as one literal string, ignoring
	// case as Go's unicode.ToLower folds it; the highlighter marks exactly
	// that: no operators, no prefix *, no separate words, and no matches a
	// case-insensitive RegExp would add (ſ for s, ς for σ) or miss (İ for i).
	ops := "cats OR dogs* NOT birds-" + tok
	decoy := "cats and dogs-" + tok // holds every word of the query, not the query
	folds := "STRAßE ſtraße İSTANBUL ΣΊΣΥΦΟΣ-" + tok
	w.burst(50) // other messages, some of which may also match
	for _, c := range []string{zh, en, ops, decoy, folds} {
		w.chat("e2e", c)
	}
	w.committed(55)

	tb := b.newTab(t)
	tb.open(w.base+"/#/search", "#search-input")

	cases := []struct {
		query  string
		want   string   // content of the message that must be found
		marks  []string // exactly the texts highlighted in it
		absent string   // content of a message that must not be found ("" = none)
	}{
		{"紧急", zh, []string{"紧急"}, ""},
		{"unique-" + strings.ToLower(tok), en, []string{"UNIQUE-" + tok}, ""},
		{"cats OR dogs*", ops, []string{"cats OR dogs*"}, decoy},
		{"straße", folds, []string{"STRAßE"}, ""},
		{"istanbul σίσυφοσ-" + strings.ToLower(tok), folds, []string{"İSTANBUL ΣΊΣΥΦΟΣ-" + tok}, ""},
	}
	for _, c := range cases {
		tb.do("search "+c.query,
			chromedp.Clear(chromedp.ID("search-input")),
			chromedp.SendKeys(chromedp.ID("search-input"), c.query),
			chromedp.Click(chromedp.ID("search-button")),
		)
		tb.waitJS("the search for "+c.query+" to run",
			jsCall(`(q) => new URLSearchParams(location.hash.split('?')[1] ?? '').get('q') === q`, c.query),
			`location.hash`)
		tb.waitRow("#search-results", c.want, nil)
		marks := eval[[]string](tb, jsCall(jsRowMarks, "#search-results", c.want))
		if !slices.Equal(marks, c.marks) {
			t.Errorf("search %q: highlighted %q in %q, want exactly %q", c.query, marks, c.want, c.marks)
		}
		if c.absent != "" && eval[bool](tb, jsCall(jsFindRow, "#search-results", c.absent, nil)+" !== null") {
			t.Errorf("search %q found %q, which does not contain it", c.query, c.absent)
		}
	}
}

// jsWatchMarkup starts recording every element that could run code or
// shows parsed markup (img, svg, script, b) added under #live-list or
// #search-results; window.e2eAdded lists them.
const jsWatchMarkup = `(() => {
	const sel = 'img, svg, script, b';
	window.e2eAdded = [];
	new MutationObserver((records) => {
		for (const r of records) for (const n of r.addedNodes) {
			if (!(n instanceof Element) || !n.closest('#live-list, #search-results')) continue;
			for (const el of [n, ...n.querySelectorAll(sel)]) if (el.matches(sel)) window.e2eAdded.push(el.outerHTML);
		}
	}).observe(document.body, { childList: true, subtree: true });
})()`

// testXSS: markup in message content and user names is shown as literal
// text, in the live list and in search results, and nothing runs. The
// page is also served with a Content-Security-Policy.
func testXSS(t *testing.T, b *browser) {
	w := startWsmon(t)

	resp, err := http.Get(w.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /: %s, Content-Type %q; want 200 text/html", resp.Status, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	switch {
	case csp == "":
		t.Error("GET /: no Content-Security-Policy header")
	case !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval"):
		t.Errorf("GET /: Content-Security-Policy %q does not restrict scripts to 'self'", csp)
	}

	tb := b.newTab(t)
	tb.openDashboard(w.base)
	tb.do("watch for markup", chromedp.Evaluate[chromedp.Void](jsWatchMarkup))

	payloads := []struct {
		name    string
		frame   string  // raw text frame; "" means a chat frame with content and user
		content string  // what .msg-content must show
		user    *string // what .msg-user must show; nil: not checked
	}{
		{name: "img onerror", content: `<img src=x onerror=alert(1)>`},
		{name: "script", content: `</script><script>alert(1)</script>`},
		{name: "svg onload", content: `<svg onload=alert(1)>`},
		{name: "raw text frame", frame: `<b>bold</b>`, content: `<b>bold</b>`},
	}
	for i := range payloads {
		p := &payloads[i]
		if p.frame != "" {
			w.demo.Inject([]byte(p.frame), false)
			continue
		}
		p.user = &p.content
		w.chat(p.content, p.content)
	}
	w.committed(int64(len(payloads)))
	for _, p := range payloads {
		tb.waitRow("#live-list", p.content, p.user)
	}

	// The search results render content through the highlighter instead.
	tb.open(w.base+"/#/search?q="+url.QueryEscape("alert(1)"), "#search-results")
	for _, p := range payloads {
		if strings.Contains(p.content, "alert(1)") {
			tb.waitRow("#search-results", p.content, p.user)
			if marks := eval[[]string](tb, jsCall(jsRowMarks, "#search-results", p.content)); !slices.Contains(marks, "alert(1)") {
				t.Errorf("%s: search highlighted %q, want <mark>alert(1)</mark>", p.name, marks)
			}
		}
	}

	added := eval[[]string](tb, `window.e2eAdded`)
	if len(added) > 0 {
		t.Errorf("message text was parsed as HTML: elements added: %q", added)
	}
	if n := eval[int](tb, `document.querySelectorAll('#live-list :is(img, svg, script, b), #search-results :is(img, svg, script, b)').length`); n > 0 {
		t.Errorf("%d img/svg/script/b elements in the message lists", n)
	}
	// Dialogs (alert) and exceptions are checked when the tab closes.
}

// testLanguage: the navbar switch turns the UI to Chinese and back, and
// the choice survives a reload.
func testLanguage(t *testing.T, b *browser) {
	w := startWsmon(t)
	tb := b.newTab(t)
	tb.openDashboard(w.base)
	if nav := eval[string](tb, `navigator.language`); !strings.HasPrefix(nav, "en") {
		t.Fatalf("browser language %q, want en", nav)
	}

	type ui struct{ lang, nav, card, button string }
	en := ui{"en", "Dashboard", "Total messages", "中文"}
	zh := ui{"zh", "监控面板", "消息总数", "English"}
	steps := []struct {
		action string // "click", "reload" or "" (initial state)
		want   ui
	}{
		{"", en},
		{"click", zh},
		{"reload", zh},
		{"click", en},
	}
	for _, s := range steps {
		switch s.action {
		case "click":
			tb.do("click #lang-switch", chromedp.Click(chromedp.ID("lang-switch")))
		case "reload":
			tb.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("lang-switch")))
		}
		tb.waitJS(fmt.Sprintf("after %q: the UI in %s", s.action, s.want.lang),
			jsCall(`(want) => {
				const l = document.documentElement.lang;
				const text = (sel) => document.querySelector(sel)?.textContent;
				return (want.lang === 'zh' ? l.startsWith('zh') : l === want.lang) &&
					text('#nav-dashboard') === want.nav &&
					text('#card-total .card-label') === want.card &&
					text('#lang-switch') === want.button;
			}`, map[string]string{"lang": s.want.lang, "nav": s.want.nav, "card": s.want.card, "button": s.want.button}),
			`JSON.stringify({lang: document.documentElement.lang, nav: document.querySelector('#nav-dashboard')?.textContent,
				card: document.querySelector('#card-total .card-label')?.textContent, button: document.querySelector('#lang-switch')?.textContent})`)
	}
}

// testTargets: a target added from the Targets page connects and is
// listed with its name shown as text, pause shows it paused, and remove
// takes it off the list.
func testTargets(t *testing.T, b *browser) {
	w := startWsmon(t)
	tb := b.newTab(t)
	tb.open(w.base+"/#/targets", "#targets-table")
	name := `second<b id="injected">x</b>`
	// row finds the table row of target name; click clicks its button.
	row := jsCall(`(name) => [...document.querySelectorAll('#targets-table tbody tr')].find((r) => r.dataset.target === name) ?? null`, name)
	click := func(action string) bool {
		return eval[bool](tb, `(() => { const r = `+row+`; const b = r?.querySelector('button[data-action="`+action+`"]'); if (!b) return false; b.click(); return true; })()`)
	}
	table := `document.querySelector('#targets-table')?.textContent + ' | ' + (document.querySelector('#targets-alert')?.textContent ?? '')`
	if !eval[bool](tb, jsCall(`(name, url) => {
		document.getElementById('target-name').value = name;
		document.getElementById('target-url').value = url;
		document.getElementById('target-protocol').value = 'raw';
		document.getElementById('target-submit').click();
		return true;
	}`, name, w.demo.URL())) {
		t.Fatal("could not fill the add form")
	}
	tb.waitJS("the new target connected", `(`+row+`)?.dataset.state === 'connected'`, table)
	if eval[bool](tb, `document.querySelector('#injected') !== null`) {
		t.Fatal("a target name was parsed as HTML")
	}
	if got := eval[string](tb, `(`+row+`).querySelector('td').textContent`); got != name {
		t.Fatalf("name cell %q, want %q", got, name)
	}
	if !click("pause") {
		t.Fatal("no pause button")
	}
	tb.waitJS("the target paused", `(`+row+`)?.dataset.state === 'paused'`, table)
	eval[bool](tb, `(window.confirm = () => true, true)`)
	if !click("remove") {
		t.Fatal("no remove button")
	}
	tb.waitJS("the target removed", `(`+row+`) === null && document.querySelectorAll('#targets-table tbody tr').length === 1`, table)
}

// testScreenshot saves a screenshot of the dashboard in Chinese with
// traffic to $WSMON_SCREENSHOT (docs/dashboard.png is made with it). It
// needs a Chinese font (fonts-noto-cjk): without one the text would be
// boxes.
func testScreenshot(t *testing.T, b *browser) {
	path := os.Getenv("WSMON_SCREENSHOT")
	if path == "" {
		t.Skip("set WSMON_SCREENSHOT=path.png to save a screenshot of the dashboard")
	}
	if ok, err := cjkFont(); !ok {
		skipOrFail(t, fmt.Sprintf("no Chinese font for the screenshot (fc-list :lang=zh: %v): apt-get install fonts-noto-cjk", err))
	}
	w := startWsmon(t)
	w.burst(400)
	tb := b.newTab(t)
	tb.setLang(w.base, "zh")
	tb.openDashboard(w.base)
	tb.waitJS("the Chinese UI", `document.documentElement.lang === 'zh-CN'`, `document.documentElement.lang`)
	tb.waitJS("the cards to show the traffic",
		`Number(document.querySelector('#card-total .card-value')?.dataset.value) >= 400`, `document.querySelector('#card-total')?.outerHTML`)
	tb.waitJS("the target shown as connected",
		`document.querySelector('#card-status [data-state="connected"]') !== null`, `document.querySelector('#card-status')?.outerHTML`)
	for _, id := range []string{"chart-daily", "chart-hourly"} {
		tb.waitJS("chart #"+id+" to be drawn", jsCall(jsCanvasDrawn, id), "")
	}
	tb.waitJS("the leaderboard", `document.querySelectorAll('#top-users li.top-user').length > 0`, "")
	tb.waitJS("the live list", `document.querySelectorAll('#live-list .msg-row').length > 0`, "")
	tb.waitJS("the targets overview", `document.querySelector('#overview-table .overview-total') !== null`, "")

	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(png))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(png))
}
