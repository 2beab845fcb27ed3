package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/webui"
)

// TestAnalysis: the analysis view (#/analysis/...) against a wsmon with
// trending terms and sentiment on: the terms list is the API's ranking
// with a sparkline per term, a term opens the search for it, the room
// filter narrows it; the sentiment chart, the per-room table and the
// day's most negative messages (each opening its context); both
// languages; with the analyses off (the default) each tab names the
// configuration key that turns it on. The anomalies tab (and the shading
// of anomalies on the dashboard's chart) is tested against
// GET /api/analysis/anomalies.
func TestAnalysis(t *testing.T) {
	if !webui.Built() {
		skipOrFail(t, "UI not built: run make (or cd web && npm ci && npm run build)")
	}
	b := startBrowser(t)
	on := func(c *config.Config) {
		yes := true
		c.AnalysisTerms, c.AnalysisSentiment = &yes, &yes
	}
	t.Run("TermsAndSentiment", func(t *testing.T) {
		w := startWsmon(t, on)
		if got := uiAnalyses(t, w); !slices.Equal(got, []string{"terms", "sentiment", "anomalies"}) {
			t.Errorf("/api/ui-config analyses %q, want terms, sentiment and anomalies (anomaly_detection is on by default)", got)
		}
		feedAnalysis(t, w)
		testTerms(t, b, w)
		testSentiment(t, b, w)
		testAnalysisWidth(t, b, w)
	})
	t.Run("Off", func(t *testing.T) { testAnalysisOff(t, b) })
	t.Run("Anomalies", func(t *testing.T) { testAnomalies(t, b, on) })
}

// uiAnalyses is the analyses /api/ui-config lists as on (nil when absent).
func uiAnalyses(t *testing.T, w *wsmon) []string {
	t.Helper()
	var cfg struct {
		Analyses []string `json:"analyses"`
	}
	getJSON(t, w.base, "/api/ui-config", &cfg)
	return cfg.Analyses
}

type termsJSON struct {
	Date  string `json:"date"`
	Room  string `json:"room"`
	AsOf  int64  `json:"as_of_id"`
	Terms []struct {
		Term   string `json:"term"`
		Count  int64  `json:"count"`
		Series []struct {
			Day   int64 `json:"day"`
			Count int64 `json:"count"`
		} `json:"series"`
	} `json:"terms"`
}

type sentimentJSON struct {
	From string `json:"from"`
	To   string `json:"to"`
	AsOf int64  `json:"as_of_id"`
	Days []struct {
		Date         string  `json:"date"`
		N            int64   `json:"n"`
		Average      float64 `json:"average"`
		MostNegative []struct {
			ID      int64  `json:"id"`
			Content string `json:"content"`
			Room    string `json:"room"`
		} `json:"most_negative"`
	} `json:"days"`
}

// feedAnalysis sends 42 chat messages in rooms r0–r2: "zebracorn" in 21 of
// them (7 per room), "quokka" in 9, positive, negative and neutral lines;
// it waits until both analyses have counted the last of them.
func feedAnalysis(t *testing.T, w *wsmon) {
	t.Helper()
	lines := []string{"this is terrible", "great service, thanks!", "太差了，退款失败", "hello there", "not good at all", "love it", "今天天气不错"}
	for i := range 42 {
		content := lines[i%len(lines)]
		if i%2 == 0 {
			content += " zebracorn"
		}
		if i%5 == 0 {
			content += " quokka"
		}
		w.inject(map[string]string{"type": "chat", "user": fmt.Sprintf("u%d", i%4), "room": fmt.Sprintf("r%d", i%3), "content": content})
	}
	w.committed(42)
	var page struct {
		Messages []struct {
			ID int64 `json:"id"`
		} `json:"messages"`
	}
	getJSON(t, w.base, "/api/messages?limit=1", &page)
	if len(page.Messages) == 0 {
		t.Fatal("no message stored")
	}
	last := page.Messages[0].ID
	waitFor(t, "the analyses to count the last message", func() bool {
		var tp termsJSON
		var sp sentimentJSON
		getJSON(t, w.base, "/api/analysis/terms", &tp)
		getJSON(t, w.base, "/api/analysis/sentiment", &sp)
		return tp.AsOf >= last && sp.AsOf >= last
	})
}

// jsTerms lists the terms shown, in order.
const jsTerms = `[...document.querySelectorAll('#terms-list .term-row')].map((r) => r.dataset.term)`

// testTerms: the ranked list is the API's, zebracorn's sparkline shows
// its 21 messages today and nothing on the 14 days before, the room filter
// narrows the list as the API does, a term opens the search for it in
// that room (the search finds exactly the room's messages with it), and
// the list is drawn again in Chinese.
func testTerms(t *testing.T, b *browser, w *wsmon) {
	var all termsJSON
	getJSON(t, w.base, "/api/analysis/terms?limit=50", &all)
	if len(all.Terms) < 2 || all.Terms[0].Term != "zebracorn" || all.Terms[0].Count != 21 {
		t.Fatalf("API terms %+v, want zebracorn first with 21", all.Terms)
	}
	want := make([]string, len(all.Terms))
	for i, x := range all.Terms {
		want[i] = x.Term
	}

	tb := b.newTab(t)
	tb.open(w.base+"/#/analysis", "#analysis-terms")
	if got := eval[string](tb, `document.querySelector('#tab-terms.active')?.textContent ?? ''`); got != "Trending terms" {
		t.Errorf("active tab %q, want Trending terms", got)
	}
	tb.waitJS("the terms list", jsCall(`(n) => document.querySelectorAll('#terms-list .term-row').length === n`, len(want)),
		`document.querySelector('#analysis-terms')?.textContent`)
	if got := eval[[]string](tb, jsTerms); !slices.Equal(got, want) {
		t.Errorf("terms shown %q, want the API's ranking %q", got, want)
	}
	if got := eval[string](tb, `document.querySelector('#terms-date').value`); got != all.Date {
		t.Errorf("day picker %q, want the server's today %q", got, all.Date)
	}
	row := `document.querySelector('#terms-list .term-row[data-term="zebracorn"]')`
	if got := eval[string](tb, row+`.textContent`); !strings.Contains(got, "21 messages") {
		t.Errorf("zebracorn row %q, want it to say 21 messages", got)
	}
	// The sparkline: 15 days, today's 21 at the end, drawn highest.
	spark := eval[struct {
		Values string
		Points []float64
	}](tb, row+`.querySelector('svg.sparkline') ? (() => { const s = `+row+`.querySelector('svg.sparkline');
		const pts = (s.querySelector('polyline')?.getAttribute('points') ?? '').trim().split(' ').map((p) => Number(p.split(',')[1]));
		return { values: s.dataset.values, points: pts }; })() : null`)
	if spark.Values != "0,0,0,0,0,0,0,0,0,0,0,0,0,0,21" {
		t.Errorf("sparkline values %q, want 14 empty days then 21", spark.Values)
	}
	if len(spark.Points) != 15 || !(spark.Points[14] < spark.Points[0]) {
		t.Errorf("sparkline y coordinates %v: want 15 points, the last above the first", spark.Points)
	}

	// The room filter.
	var r0 termsJSON
	getJSON(t, w.base, "/api/analysis/terms?limit=50&room=r0", &r0)
	wantR0 := make([]string, len(r0.Terms))
	var zebraR0 int64
	for i, x := range r0.Terms {
		wantR0[i] = x.Term
		if x.Term == "zebracorn" {
			zebraR0 = x.Count
		}
	}
	if zebraR0 != 7 {
		t.Fatalf("API terms of room r0 %+v, want zebracorn with 7", r0.Terms)
	}
	tb.do("filter room r0",
		chromedp.SetValue(chromedp.ID("terms-room"), "r0"),
		chromedp.Click(chromedp.ID("terms-apply")))
	tb.waitJS("the terms of room r0", jsCall(`(want) => JSON.stringify(`+jsTerms+`) === JSON.stringify(want) && location.hash.includes('room=r0')`, wantR0),
		jsTerms+`.join(',') + ' ' + location.hash`)
	if got := eval[string](tb, `document.querySelector('#terms-summary').textContent`); !strings.Contains(got, "room r0") {
		t.Errorf("summary %q, want it to name room r0", got)
	}

	// A term opens the search for it, in the room.
	tb.do("click zebracorn", chromedp.Click(chromedp.CSS(`#terms-list .term-row[data-term="zebracorn"] a.term-link`)))
	tb.waitJS("the search for zebracorn in r0",
		`(() => { const p = new URLSearchParams(location.hash.split('?')[1] ?? ''); return location.hash.startsWith('#/search?') && p.get('q') === 'zebracorn' && p.get('room') === 'r0'; })()`,
		`location.hash`)
	tb.waitJS("7 results", `document.querySelector('#search-summary')?.dataset.total === '7' && document.querySelectorAll('#search-results .msg-row').length === 7`,
		`(document.querySelector('#search-summary')?.textContent ?? '') + ' ' + (document.querySelector('#search-input')?.value ?? '')`)
	if got := eval[string](tb, `document.querySelector('#search-input').value`); got != "zebracorn" {
		t.Errorf("search field %q, want zebracorn", got)
	}
	rows := eval[[]string](tb, `[...document.querySelectorAll('#search-results .msg-row')].map((r) => r.querySelector('.msg-content').textContent + ' @' + r.querySelector('.msg-where').textContent)`)
	for _, r := range rows {
		if !strings.Contains(r, "zebracorn") || !strings.HasSuffix(r, "@demo / r0") {
			t.Errorf("search result %q: want zebracorn in room r0", r)
		}
	}

	// Chinese.
	tb.open(w.base+"/#/analysis/terms", "#terms-filter")
	tb.waitJS("the terms list", jsCall(`(n) => document.querySelectorAll('#terms-list .term-row').length === n`, len(want)), "")
	tb.do("switch to Chinese", chromedp.Click(chromedp.ID("lang-switch")))
	tb.waitJS("the terms in Chinese", `document.querySelector('#tab-terms')?.textContent === '热门词' && document.querySelector('#nav-analysis')?.textContent === '数据分析' &&
		(document.querySelector('#terms-list .term-row[data-term="zebracorn"]')?.textContent ?? '').includes('21 条消息')`,
		`document.querySelector('#analysis-terms')?.textContent`)
	if got := eval[[]string](tb, jsTerms); !slices.Equal(got, want) {
		t.Errorf("terms shown in Chinese %q, want %q", got, want)
	}
	if got := eval[string](tb, `document.querySelector('#terms-summary').textContent`); !strings.Contains(got, "全部房间") {
		t.Errorf("Chinese summary %q, want 全部房间", got)
	}
	tb.do("back to English", chromedp.Click(chromedp.ID("lang-switch")))
	tb.waitJS("English again", `document.querySelector('#tab-terms')?.textContent === 'Trending terms'`, "")
}

// testSentiment: the chart is drawn, the summary counts what the API
// counted, the table has a row per room with the API's count for it, the
// day's most negative messages are the API's in its order and open their
// context; in Chinese too.
func testSentiment(t *testing.T, b *browser, w *wsmon) {
	var sp sentimentJSON
	getJSON(t, w.base, "/api/analysis/sentiment", &sp)
	if len(sp.Days) == 0 {
		t.Fatalf("API sentiment without days: %+v", sp)
	}
	var n int64
	for _, d := range sp.Days {
		n += d.N
	}
	day := sp.Days[len(sp.Days)-1]
	if len(day.MostNegative) == 0 {
		t.Fatalf("API sentiment: no negative message on %s: %+v", day.Date, day)
	}
	wantNeg := make([]string, len(day.MostNegative))
	for i, m := range day.MostNegative {
		wantNeg[i] = fmt.Sprint(m.ID)
	}
	perRoom := map[string]int64{}
	for _, r := range []string{"r0", "r1", "r2"} {
		var x sentimentJSON
		getJSON(t, w.base, "/api/analysis/sentiment?room="+r, &x)
		for _, d := range x.Days {
			perRoom[r] += d.N
		}
		if perRoom[r] == 0 {
			t.Fatalf("API sentiment of room %s: nothing scored", r)
		}
	}

	tb := b.newTab(t)
	tb.open(w.base+"/#/analysis/sentiment", "#sentiment-filter")
	tb.waitJS("the sentiment chart drawn", jsCall(jsCanvasDrawn, "sentiment-chart"), `document.querySelector('#analysis-sentiment')?.textContent`)
	if got := eval[string](tb, `document.querySelector('#sentiment-summary').dataset.n`); got != fmt.Sprint(n) {
		t.Errorf("summary counts %s messages, the API %d", got, n)
	}
	if got := eval[[]string](tb, `[document.querySelector('#sentiment-from').value, document.querySelector('#sentiment-to').value]`); !slices.Equal(got, []string{sp.From, sp.To}) {
		t.Errorf("range fields %q, want the server's default %s – %s", got, sp.From, sp.To)
	}
	jsNeg := `[...document.querySelectorAll('#sentiment-negative .neg-row')].map((r) => r.dataset.id)`
	tb.waitJS("the most negative messages", jsCall(`(want) => JSON.stringify(`+jsNeg+`) === JSON.stringify(want)`, wantNeg),
		jsNeg+`.join(',')`)
	for i, m := range day.MostNegative {
		got := eval[string](tb, jsCall(`(i) => document.querySelectorAll('#sentiment-negative .neg-row')[i].querySelector('.msg-content').textContent`, i))
		if got != m.Content {
			t.Errorf("negative message %d shows %q, want %q", m.ID, got, m.Content)
		}
	}
	jsRooms := `Object.fromEntries([...document.querySelectorAll('#sentiment-rooms tbody tr')].map((r) => [r.dataset.room, Number(r.dataset.n)]))`
	tb.waitJS("the per-room table", `document.querySelectorAll('#sentiment-rooms tbody tr').length === 3`, `document.querySelector('#sentiment-rooms-box')?.textContent`)
	if got := eval[map[string]int64](tb, jsRooms); fmt.Sprint(got) != fmt.Sprint(perRoom) {
		t.Errorf("per-room table %v, want the API's %v", got, perRoom)
	}

	// The first negative message opens its context.
	first := day.MostNegative[0]
	tb.do("click the most negative message", chromedp.Click(chromedp.CSS(`#sentiment-negative .neg-row .msg-content`)))
	tb.waitJS("its context", jsCall(`(id) => document.querySelector('#context-list .msg-anchor')?.dataset.id === id`, fmt.Sprint(first.ID)),
		`document.querySelector('#context-modal')?.textContent ?? 'no modal'`)
	tb.do("close", chromedp.Click(chromedp.CSS(`#context-modal .btn-close`)))

	// A room of the table narrows the view to it.
	tb.do("open room r1", chromedp.Click(chromedp.CSS(`#sentiment-rooms tbody tr[data-room="r1"] a`)))
	tb.waitJS("the sentiment of room r1", jsCall(`(n) => location.hash.includes('room=r1') && document.querySelector('#sentiment-summary')?.dataset.n === n`, fmt.Sprint(perRoom["r1"])),
		`location.hash + ' ' + document.querySelector('#sentiment-summary')?.dataset.n`)
	if got := eval[string](tb, `document.querySelector('#sentiment-room').value`); got != "r1" {
		t.Errorf("room field %q, want r1", got)
	}

	tb.do("switch to Chinese", chromedp.Click(chromedp.ID("lang-switch")))
	tb.waitJS("the sentiment in Chinese", `document.querySelector('#tab-sentiment')?.textContent === '情感分析' &&
		(document.querySelector('#sentiment-summary')?.textContent ?? '').includes('已评分') && document.querySelector('#sentiment-rooms thead')?.textContent.includes('负面')`,
		`document.querySelector('#analysis-sentiment')?.textContent`)
	tb.waitJS("the chart drawn again", jsCall(jsCanvasDrawn, "sentiment-chart"), "")
	tb.do("back to English", chromedp.Click(chromedp.ID("lang-switch")))
}

// testAnalysisWidth: no tab of the view scrolls sideways, at a desktop's
// width or a phone's.
func testAnalysisWidth(t *testing.T, b *browser, w *wsmon) {
	tb := b.newTab(t)
	for _, vp := range []struct {
		name string
		act  chromedp.Action[chromedp.Void]
	}{
		{"desktop", chromedp.EmulateViewport(1280, 900)},
		{"phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)},
	} {
		tb.do(vp.name+" viewport", vp.act)
		for _, view := range []struct{ hash, ready string }{
			{"#/analysis/terms", "#terms-list"}, {"#/analysis/sentiment", "#sentiment-rooms"}, {"#/analysis/anomalies", "#anomalies-summary"},
		} {
			tb.do("open "+view.hash, chromedp.Navigate(w.base+"/"+view.hash))
			tb.waitJS(view.ready, jsCall(`(sel) => document.querySelector(sel) !== null`, view.ready), `location.hash + ' ' + document.querySelector('#view')?.textContent`)
			if got := eval[[]int](tb, `[document.documentElement.scrollWidth, window.innerWidth]`); got[0] > got[1] {
				t.Errorf("%s, %s: the page is %d px wide in a %d px viewport (scrolls sideways)", vp.name, view.hash, got[0], got[1])
			}
		}
	}
}

// testAnalysisOff: with terms and sentiment off (their default) those
// tabs say so and name the key that turns each on, in both languages.
func testAnalysisOff(t *testing.T, b *browser) {
	w := startWsmon(t)
	if got := uiAnalyses(t, w); !slices.Equal(got, []string{"anomalies"}) {
		t.Errorf("/api/ui-config analyses %q, want only anomalies (on by default)", got)
	}
	tb := b.newTab(t)
	tb.allowConsoleError("409") // the browser logs the refused requests
	off := `document.querySelector('#analysis-off')`
	for _, lang := range []struct{ name, what string }{{"en", "turned off"}, {"zh", "未开启"}} {
		if lang.name == "zh" {
			tb.setLang(w.base, "zh")
			tb.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("lang-switch")))
		}
		for _, c := range []struct{ tab, key string }{{"terms", "analysis_terms"}, {"sentiment", "analysis_sentiment"}} {
			tb.open(w.base+"/#/analysis/"+c.tab, "#analysis-"+c.tab)
			tb.waitJS(lang.name+": "+c.tab+" off", jsCall(`(key, what) => { const o = `+off+`; return o?.dataset.key === key && o.textContent.includes(key) && o.textContent.includes(what); }`, c.key, lang.what),
				`document.querySelector('#analysis-`+c.tab+`')?.textContent`)
		}
	}
}

type anomaliesJSON struct {
	Anomalies []struct {
		ID          int64   `json:"id"`
		Kind        string  `json:"kind"`
		Target      string  `json:"target"`
		Room        string  `json:"room"`
		Start       string  `json:"start"`
		End         *string `json:"end"`
		Open        bool    `json:"open"`
		Code        string  `json:"code"`
		Explanation string  `json:"explanation"`
	} `json:"anomalies"`
}

// testAnomalies: the anomalies tab lists what GET /api/analysis/anomalies
// answers, in its order, explained in English exactly as the server's
// sentence and in Chinese otherwise; the kind filter and "ongoing only"
// narrow it as the API does; the dashboard's daily chart shades those
// within its days.
func testAnomalies(t *testing.T, b *browser, on func(*config.Config)) {
	w := startWsmon(t, on)
	resp, err := http.Get(w.base + "/api/analysis/anomalies")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tb := b.newTab(t)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/analysis/anomalies with anomaly detection on: %s", resp.Status)
	}

	var all anomaliesJSON
	getJSON(t, w.base, "/api/analysis/anomalies?limit=200", &all)
	tb.open(w.base+"/#/analysis/anomalies", "#anomalies-filter")
	if len(all.Anomalies) == 0 {
		tb.waitJS("the empty list", `document.querySelector('#anomalies-empty') !== null`, `document.querySelector('#analysis-anomalies')?.textContent`)
		t.Log("the server found no anomaly: only the empty list was checked")
		return
	}
	ids := func(a anomaliesJSON) []string {
		out := make([]string, len(a.Anomalies))
		for i, x := range a.Anomalies {
			out[i] = fmt.Sprint(x.ID)
		}
		return out
	}
	jsIDs := `[...document.querySelectorAll('#anomalies-list .anomaly-row')].map((r) => r.dataset.id)`
	tb.waitJS("the anomalies", jsCall(`(want) => JSON.stringify(`+jsIDs+`) === JSON.stringify(want)`, ids(all)), jsIDs+`.join(',')`)
	type shown struct{ Code, Kind, Text string }
	jsShown := `[...document.querySelectorAll('#anomalies-list .anomaly-row')].map((r) => ({ code: r.dataset.code, kind: r.dataset.kind, text: r.querySelector('.anomaly-text').textContent }))`
	en := eval[[]shown](tb, jsShown)
	for i, a := range all.Anomalies {
		if en[i].Code != a.Code || (a.Kind != "" && en[i].Kind != a.Kind) {
			t.Errorf("anomaly %d shown as %+v, want code %s kind %s", a.ID, en[i], a.Code, a.Kind)
		}
		if en[i].Text != a.Explanation {
			t.Errorf("anomaly %d explained %q, want the server's sentence %q", a.ID, en[i].Text, a.Explanation)
		}
	}
	tb.do("switch to Chinese", chromedp.Click(chromedp.ID("lang-switch")))
	tb.waitJS("the anomalies in Chinese", `document.querySelector('#tab-anomalies')?.textContent === '异常检测' && document.querySelectorAll('#anomalies-list .anomaly-row').length > 0`, "")
	zh := eval[[]shown](tb, jsShown)
	for i, a := range all.Anomalies {
		if zh[i].Text == a.Explanation || !strings.Contains(zh[i].Text, a.Target) {
			t.Errorf("anomaly %d in Chinese: %q (English %q)", a.ID, zh[i].Text, a.Explanation)
		}
	}
	tb.do("back to English", chromedp.Click(chromedp.ID("lang-switch")))

	// Filters: the first anomaly's kind, then ongoing only.
	kind := all.Anomalies[0].Kind
	var byKind anomaliesJSON
	getJSON(t, w.base, "/api/analysis/anomalies?limit=200&kind="+url.QueryEscape(kind), &byKind)
	tb.do("pick kind "+kind, chromedp.SetValue(chromedp.ID("anomalies-kind"), kind), chromedp.Click(chromedp.ID("anomalies-apply")))
	tb.waitJS("the anomalies of kind "+kind, jsCall(`(want) => location.hash.includes('kind=') && JSON.stringify(`+jsIDs+`) === JSON.stringify(want)`, ids(byKind)), jsIDs+`.join(',')`)
	var open anomaliesJSON
	getJSON(t, w.base, "/api/analysis/anomalies?limit=200&open=1&kind="+url.QueryEscape(kind), &open)
	tb.do("ongoing only", chromedp.Click(chromedp.ID("anomalies-open")))
	jsList := `(want) => location.hash.includes('open=1') && JSON.stringify(` + jsIDs + `) === JSON.stringify(want)`
	if len(open.Anomalies) == 0 {
		jsList = `() => location.hash.includes('open=1') && document.querySelector('#anomalies-empty') !== null`
	}
	tb.waitJS("the ongoing anomalies", jsCall(jsList, ids(open)), jsIDs+`.join(',')`)

	// The dashboard shades those overlapping its 30 days; it asks for them
	// only when /api/ui-config lists anomalies among the analyses on.
	if !slices.Contains(uiAnalyses(t, w), "anomalies") {
		t.Fatalf("/api/ui-config analyses %q: GET /api/analysis/anomalies answers, but anomalies is not listed (web.Options.Analyses), so the dashboard does not shade them", uiAnalyses(t, w))
	}
	var stats struct {
		Daily []struct {
			Date string `json:"date"`
		} `json:"daily"`
	}
	getJSON(t, w.base, "/api/stats", &stats)
	if len(stats.Daily) == 0 {
		t.Fatal("no daily statistics")
	}
	first, err := time.ParseInLocation("2006-01-02", stats.Daily[0].Date, w.cfg.Location())
	if err != nil {
		t.Fatal(err)
	}
	overlapping := 0
	for _, a := range all.Anomalies {
		if a.End == nil {
			overlapping++
			continue
		}
		end, err := time.Parse(time.RFC3339, *a.End)
		if err != nil {
			t.Fatalf("anomaly %d: end %q: %v", a.ID, *a.End, err)
		}
		if !end.Before(first) {
			overlapping++
		}
	}
	tb.openDashboard(w.base)
	tb.waitJS(fmt.Sprintf("%d shaded anomalies", overlapping), jsCall(`(n) => JSON.parse(document.querySelector('#chart-daily')?.dataset.spans ?? '[]').length === n`, overlapping),
		`document.querySelector('#chart-daily')?.dataset.spans`)
	if overlapping > 0 {
		// The middle of the first span is shaded red.
		red := eval[bool](tb, `(() => { const c = document.getElementById('chart-daily'); const s = JSON.parse(c.dataset.spans)[0];
			const k = c.width / c.clientWidth; const d = c.getContext('2d').getImageData(Math.round((s.x0 + s.x1) / 2 * k), Math.round((s.y0 + 2) * k), 1, 1).data;
			return d[3] > 0 && d[0] > d[2]; })()`)
		if !red {
			t.Error("the first shaded span is not drawn on the canvas")
		}
	}
}
