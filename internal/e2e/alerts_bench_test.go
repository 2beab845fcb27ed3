package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wsmon/wsmon/internal/app"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/webui"
)

// BenchmarkAlertToDashboard measures how long a keyword said in a
// monitored chat takes to show in the dashboard: each iteration has the
// demo server send one message with 紧急 (in a room of its own, so that no
// cooldown folds it into an earlier alert) and takes the time from just
// before the frame is sent until the page has drawn the alert, read in the
// page (performance.timeOrigin + now() in the first animation frame after
// the DOM changed; same machine, same clock). The path is the production
// one: WebSocket frame, journal, database commit, rule engine, alert
// stored, /api/live event, EventSource, DOM.
//
//   - alerts-view: the row in the alerts view (its alerts-only stream);
//   - dashboard-badge: the header badge on the dashboard (the alerts ride
//     the dashboard's live message stream).
//
// Reported: ms/op (mean), p50-ms and max-ms over the b.N alerts. The
// Chromium is polled from Go every 20 ms to learn that the alert arrived;
// that only paces the loop, it is not in the figures.
//
//	WSMON_REQUIRE_BROWSER=1 go test -run '^$' -bench AlertToDashboard -benchtime 200x ./internal/e2e/
func BenchmarkAlertToDashboard(b *testing.B) {
	if !webui.Built() {
		benchSkipOrFail(b, "UI not built: run make (or cd web && npm ci && npm run build)")
	}
	path, err := chromiumPath()
	if err != nil {
		benchSkipOrFail(b, err.Error())
	}
	d, base := benchWsmon(b)
	ctx := benchTab(b, path)
	tok := token()
	seq := 0

	run := func(b *testing.B, hash, ready, watch string) {
		// A fresh page each time (b.Run calls this again with a larger b.N).
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(base+"/"+hash), chromedp.WaitReady(chromedp.ID("alert-badge"))); err != nil {
			b.Fatalf("open %s: %v", hash, err)
		}
		benchPoll(b, ctx, ready, 20*time.Second)
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](watch)); err != nil {
			b.Fatalf("install the watcher: %v", err)
		}
		lat := make([]float64, 0, b.N)
		b.ResetTimer()
		for range b.N {
			seq++
			content := fmt.Sprintf("紧急 bench %d %s", seq, tok)
			frame, _ := json.Marshal(map[string]string{"type": "chat", "user": "bench", "room": fmt.Sprintf("bench-%d", seq), "content": content})
			start := time.Now()
			d.Inject(frame, false)
			seen := benchPoll(b, ctx, jsCall(`(c) => window.e2eSeen[c] ?? 0`, content), 10*time.Second)
			lat = append(lat, seen-float64(start.UnixNano())/1e6)
		}
		b.StopTimer()
		slices.Sort(lat)
		sum := 0.0
		for _, v := range lat {
			sum += v
		}
		b.ReportMetric(sum/float64(len(lat)), "ms/op")
		b.ReportMetric(lat[len(lat)/2], "p50-ms")
		b.ReportMetric(lat[len(lat)-1], "max-ms")
	}

	b.Run("alerts-view", func(b *testing.B) {
		// e2eSeen[content] = when the row with that content was drawn.
		run(b, "#/alerts", jsAlertsLive, `(() => {
			window.e2eSeen = {};
			new MutationObserver((records) => {
				const now = [];
				for (const r of records) for (const n of r.addedNodes) {
					if (n instanceof Element && n.matches('.al-row')) now.push(n.querySelector('.al-content')?.textContent ?? '');
				}
				if (now.length) requestAnimationFrame(() => { const t = performance.timeOrigin + performance.now(); for (const c of now) window.e2eSeen[c] ??= t; });
			}).observe(document.getElementById('alerts-list'), { childList: true });
		})()`)
	})
	b.Run("dashboard-badge", func(b *testing.B) {
		// The badge only counts: e2eSeen maps the content of the alert the
		// test sends next (window.e2eNext, set from the count it has when
		// installed) to when the count went up.
		run(b, "#/", `document.querySelector('#live-state')?.dataset.state === 'live' && document.querySelector('#alert-badge')?.dataset.live === '1'`, `(() => {
			window.e2eSeen = {};
			const badge = document.getElementById('alert-badge');
			let count = Number(badge.dataset.count);
			const prefix = '紧急 bench ';
			const tok = `+fmt.Sprintf("%q", tok)+`;
			let next = `+fmt.Sprint(seq+1)+`;
			new MutationObserver(() => {
				const n = Number(badge.dataset.count);
				if (n <= count) { count = n; return; }
				const names = [];
				for (; count < n; count++) names.push(prefix + (next++) + ' ' + tok);
				requestAnimationFrame(() => { const t = performance.timeOrigin + performance.now(); for (const c of names) window.e2eSeen[c] ??= t; });
			}).observe(badge, { attributes: true, attributeFilter: ['data-count'] });
		})()`)
	})
}

// benchSkipOrFail is skipOrFail for a benchmark.
func benchSkipOrFail(b *testing.B, msg string) {
	b.Helper()
	if os.Getenv("WSMON_REQUIRE_BROWSER") == "1" {
		b.Fatal(msg + " (WSMON_REQUIRE_BROWSER=1)")
	}
	b.Skip(msg)
}

// benchWsmon starts the demo server (no traffic of its own) and wsmon
// monitoring it with the brief's keyword notification on 紧急, until the
// benchmark ends; it returns the demo server and the dashboard's address.
func benchWsmon(b *testing.B) (*demo.Server, string) {
	b.Helper()
	d := demo.New(demo.Options{Addr: "127.0.0.1:0", Rate: 0, Seed: 1})
	if err := d.Start(); err != nil {
		b.Fatalf("demo server: %v", err)
	}
	b.Cleanup(func() { d.Close() })
	dir := b.TempDir()
	cfg := config.Defaults()
	cfg.WebsocketURL = d.URL()
	cfg.TargetName = "demo"
	cfg.DatabasePath = filepath.Join(dir, "data", "chat_monitor.db")
	cfg.LogDir = filepath.Join(dir, "logs")
	cfg.AutoBackupHours = 0
	cfg.EnableNotifications = true
	cfg.NotificationKeywords = []string{"紧急"}
	if err := cfg.Validate(); err != nil {
		b.Fatalf("config: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan app.Running, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.ModeAll, cfg, app.Options{Logger: testLogger(), Listener: ln, Started: func(r app.Running) { started <- r }})
	}()
	var r app.Running
	select {
	case r = <-started:
	case err := <-done:
		cancel()
		b.Fatalf("wsmon exited at start: %v", err)
	case <-time.After(startTimeout):
		cancel()
		b.Fatal("wsmon did not start")
	}
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			b.Errorf("wsmon: %v", err)
		}
	})
	deadline := time.Now().Add(startTimeout)
	for {
		connected := d.Clients() > 0
		for _, s := range r.Monitor.Status() {
			connected = connected && s.State == "connected"
		}
		if connected {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("wsmon did not connect to the demo server")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return d, "http://" + r.WebAddr
}

// benchTab starts a headless Chromium (as startBrowser does) and returns
// the context of its tab.
func benchTab(b *testing.B, path string) context.Context {
	b.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("lang", "en-US"), chromedp.UserDataDir(b.TempDir()), chromedp.WindowSize(1280, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		b.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// benchPoll evaluates expr every 20 ms until it is truthy and returns it
// as a number (true is 1).
func benchPoll(b *testing.B, ctx context.Context, expr string, limit time.Duration) float64 {
	b.Helper()
	deadline := time.Now().Add(limit)
	for {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr))
		if err != nil {
			b.Fatalf("evaluate %s: %v", expr, err)
		}
		switch x := v.(type) {
		case bool:
			if x {
				return 1
			}
		case float64:
			if x != 0 {
				return x
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("waited %v for %s", limit, expr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
