package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/webui"
)

// TestSearchExport covers the search page's export link: it carries the
// applied keyword and filters (and the chosen format) to /api/export, the
// browser downloads it as a file, and the file holds exactly the messages
// the page found; with authentication on, the session cookie authorizes
// the download.
func TestSearchExport(t *testing.T) {
	if !webui.Built() {
		skipOrFail(t, "UI not built: run make (or cd web && npm ci && npm run build)")
	}
	b := startBrowser(t)
	t.Run("LinkAndDownload", func(t *testing.T) { testExportLink(t, b) })
	t.Run("WithLogin", func(t *testing.T) { testExportLogin(t, b) })
}

// jsExportParams is the export link's path and query parameters.
const jsExportParams = `(() => {
	const a = document.querySelector('#search-export');
	if (!a) return null;
	const u = new URL(a.href);
	return { path: u.pathname, params: Object.fromEntries(u.searchParams), download: a.hasAttribute('download'), disabled: a.classList.contains('disabled') };
})()`

type exportLink struct {
	Path     string            `json:"path"`
	Params   map[string]string `json:"params"`
	Download bool              `json:"download"`
	Disabled bool              `json:"disabled"`
}

// shownIDs are the ids of the result rows on the page.
const jsShownIDs = `[...document.querySelectorAll('#search-results .msg-row')].map((r) => Number(r.dataset.id))`

func testExportLink(t *testing.T, b *browser) {
	w := startWsmon(t)
	tok := token()
	w.burst(40)
	for _, c := range []struct{ user, content string }{
		{"e2e-" + tok, "紧急 订单 one " + tok},
		{"e2e-" + tok, "=HYPERLINK(\"http://x\") 紧急 two " + tok},
		{"other-" + tok, "紧急 not this user " + tok},
		{"e2e-" + tok, "no keyword here " + tok},
	} {
		w.chat(c.user, c.content)
	}
	w.committed(44)

	tb := b.newTab(t)
	tb.open(w.base+"/#/search", "#search-input")
	// Before any search: the link exports everything, as CSV.
	link := eval[exportLink](tb, jsExportParams)
	if link.Path != "/api/export" || !link.Download || link.Disabled || !mapsEqual(link.Params, map[string]string{"format": "csv"}) {
		t.Errorf("export link before a search: %+v", link)
	}

	// Search with a keyword, a user and a type; the time range comes from
	// the URL (the page keeps the form state in the hash).
	from := time.Now().Add(-time.Hour).Format("2006-01-02T15:04")
	tb.open(w.base+"/#/search?from="+url.QueryEscape(from), "#search-input")
	tb.do("search",
		chromedp.SendKeys(chromedp.ID("search-input"), "紧急"),
		chromedp.SendKeys(chromedp.ID("search-user"), "e2e-"+tok),
		chromedp.SetValue(chromedp.ID("search-type"), "chat"),
		chromedp.Click(chromedp.ID("search-button")),
	)
	tb.waitJS("two results", `document.querySelectorAll('#search-results .msg-row').length === 2`, `document.querySelector('#search-summary')?.textContent`)
	shown := eval[[]int64](tb, jsShownIDs)
	link = eval[exportLink](tb, jsExportParams)
	fromISO := eval[string](tb, jsCall(`(v) => new Date(v).toISOString()`, from))
	want := map[string]string{"format": "csv", "q": "紧急", "user": "e2e-" + tok, "type": "chat", "from": fromISO}
	if !mapsEqual(link.Params, want) {
		t.Errorf("export link %v, want %v", link.Params, want)
	}

	// The format select changes the link.
	tb.do("choose NDJSON", chromedp.SetValue(chromedp.ID("search-export-format"), "ndjson"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#search-export-format').dispatchEvent(new Event('change'))`))
	if got := eval[exportLink](tb, jsExportParams).Params["format"]; got != "ndjson" {
		t.Errorf("format after choosing NDJSON: %q", got)
	}
	tb.do("choose CSV", chromedp.SetValue(chromedp.ID("search-export-format"), "csv"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#search-export-format').dispatchEvent(new Event('change'))`))

	// Clicking it downloads the file the server names, holding exactly the
	// rows the page shows.
	file := tb.download(t, "#search-export")
	if !strings.HasPrefix(filepath.Base(file.name), "wsmon-export-") || !strings.HasSuffix(file.name, ".csv") {
		t.Errorf("downloaded as %q", file.name)
	}
	rest, ok := bytes.CutPrefix(file.data, []byte("\uFEFF"))
	if !ok {
		t.Error("CSV without BOM")
	}
	recs, err := csv.NewReader(bytes.NewReader(rest)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, r := range recs[1:] {
		var id int64
		json.Unmarshal([]byte(r[0]), &id)
		got = append(got, id)
		if !strings.Contains(r[7], "紧急") || r[5] != "e2e-"+tok {
			t.Errorf("exported row %q", r)
		}
		if strings.HasPrefix(r[7], "=") {
			t.Errorf("formula cell not neutralised: %q", r[7])
		}
	}
	if !slices.Equal(got, shown) {
		t.Errorf("downloaded ids %v, the page shows %v", got, shown)
	}

	// A range with from after to disables the link.
	tb.open(w.base+"/#/search?from=2026-01-02T00:00&to=2026-01-01T00:00", "#search-input")
	if !eval[exportLink](tb, jsExportParams).Disabled {
		t.Error("export link enabled for an empty range")
	}
	// The link follows the language.
	tb.do("switch to Chinese", chromedp.Click(chromedp.ID("lang-switch")))
	tb.waitJS("the Chinese export link", `document.querySelector('#search-export')?.textContent === '导出'`, `document.querySelector('#search-export')?.outerHTML`)
}

type downloaded struct {
	name string // the name the server suggested
	data []byte
}

// download clicks sel and waits for the browser to save the download.
func (tb *tab) download(t *testing.T, sel string) downloaded {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	events := true
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, BrowserContextID: chromedp.FromContext(tb.ctx).BrowserContextID,
		DownloadPath: dir, EventsEnabled: &events,
	}); err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	// Subscribed before the click, read while it downloads.
	begins := chromedp.BrowserEvents(ctx, cdpbrowser.DownloadWillBegin)
	progress := chromedp.BrowserEvents(ctx, cdpbrowser.DownloadProgress)
	begin := make(chan string, 1)
	done := make(chan string, 1)
	go func() {
		for ev, err := range begins {
			if err == nil {
				begin <- ev.SuggestedFilename
			}
			return
		}
	}()
	go func() {
		for ev, err := range progress {
			if err != nil {
				return
			}
			if ev.State == cdpbrowser.DownloadProgressStateCompleted {
				done <- ev.GUID
				return
			}
		}
	}()
	tb.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
	var d downloaded
	select {
	case d.name = <-begin:
	case <-ctx.Done():
		t.Fatal("no download began")
	}
	select {
	case guid := <-done:
		data, err := os.ReadFile(filepath.Join(dir, guid))
		if err != nil {
			t.Fatal(err)
		}
		d.data = data
	case <-ctx.Done():
		t.Fatal("the download did not complete")
	}
	return d
}

// testExportLogin: with a web_token, the download is authorized by the
// login's session cookie, and refused without it.
func testExportLogin(t *testing.T, b *browser) {
	secret := "e2e-" + token() + token()
	w := startWsmon(t, func(c *config.Config) { c.WebToken = secret })
	tok := token()
	w.chat("e2e", "export me "+tok)
	w.committed(1)
	tb := b.newTab(t)
	tb.allowConsoleErrors("status of 401 (Unauthorized)")
	tb.open(w.base+"/", "#login-form")
	if got := pageStatus(tb, "/api/export?format=ndjson"); got != 401 {
		t.Errorf("export before login: %d", got)
	}
	tb.do("sign in",
		chromedp.SendKeys(chromedp.ID("login-token"), secret),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("logout-button")),
	)
	tb.open(w.base+"/#/search?q="+tok, "#search-export")
	tb.waitJS("the result", `document.querySelectorAll('#search-results .msg-row').length === 1`, `document.querySelector('#search-summary')?.textContent`)
	tb.do("choose NDJSON", chromedp.SetValue(chromedp.ID("search-export-format"), "ndjson"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#search-export-format').dispatchEvent(new Event('change'))`))
	file := tb.download(t, "#search-export")
	sc := bufio.NewScanner(bytes.NewReader(file.data))
	var lines []map[string]any
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("NDJSON line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 1 || lines[0]["content"] != "export me "+tok || !strings.HasSuffix(file.name, ".ndjson") {
		t.Errorf("downloaded %q: %s", file.name, file.data)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
