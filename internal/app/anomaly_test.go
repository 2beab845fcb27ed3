package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/analysis"
	"github.com/wsmon/wsmon/internal/anomaly"
	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/rules"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/store/storetest"
)

// anomalyScale: in these tests a second is a minute of the anomaly
// detector (analysis.Options.AnomalyTime), so that a burst and a silence
// of a few seconds are judged within seconds; everything else — the demo
// server, capture, journal, pipeline, analyzer, detector, rules, store,
// API — runs as app.Run composes it.
const anomalyScale = 60

type anomalyPage struct {
	AsOfID    int64 `json:"as_of_id"`
	Anomalies []struct {
		ID          uint64            `json:"id"`
		Kind        string            `json:"kind"`
		Target      string            `json:"target"`
		Room        string            `json:"room"`
		Score       float64           `json:"score"`
		Start       time.Time         `json:"start"`
		End         *time.Time        `json:"end"`
		Open        bool              `json:"open"`
		Params      map[string]string `json:"params"`
		Explanation string            `json:"explanation"`
	} `json:"anomalies"`
}

type alertPage struct {
	Alerts []struct {
		ID       int64     `json:"id"`
		Rule     string    `json:"rule"`
		RuleType string    `json:"rule_type"`
		Target   string    `json:"target"`
		Room     string    `json:"room"`
		Detail   string    `json:"detail"`
		At       time.Time `json:"at"`
	} `json:"alerts"`
}

// seedHistory stores eight of the detector's days (at anomalyScale, a
// little over three real hours before t0) of target "demo" at rate
// messages a minute with the demo server's mix of types, so that the
// detector has a seasonal baseline for the hour the test runs in. It
// returns the last id.
func seedHistory(t *testing.T, path string, t0 time.Time, rate int) int64 {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.Options(t, path, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const minutes = 8 * 24 * 60
	var id int64
	var b []message.Message
	for m := range minutes {
		for i := range rate {
			id++
			typ := message.TypeChat
			switch id % 50 {
			case 0, 1:
				typ = message.TypeJoin
			case 2, 3:
				typ = message.TypeLeave
			case 4:
				typ = message.TypeSystem
			}
			// Virtual minute m is the real second m before t0.
			at := t0.Add(-time.Duration(minutes-m)*time.Second + time.Duration(i)*time.Second/time.Duration(rate))
			b = append(b, message.Message{ID: id, Target: "demo", SessionID: 1, ReceivedAt: at, User: fmt.Sprint("h", id%40),
				Room: "", Type: typ, Content: "history", Raw: []byte("{}")})
		}
		if len(b) >= 5000 || m == minutes-1 {
			if err := st.ApplyBatch(ctx, &store.Batch{Messages: b}); err != nil {
				t.Fatal(err)
			}
			b = b[:0]
		}
	}
	return id
}

// TestAnomalyEndToEnd: the demo server's chat, after a burst and a
// silence injected into it, shows a rate spike and a silence of the
// target in /api/analysis/anomalies (the silence found by the clock with
// no message arriving), an `anomaly` rule raises an alert for each (and a
// rule for other kinds none), a separate `wsmon web` lists the same from
// the saved state; after a restart the state is kept and nothing is
// counted twice; after a "crash" (the saved state put back to one from
// before the burst) the messages since are counted again once and the
// anomalies found again are not alerted twice.
func TestAnomalyEndToEnd(t *testing.T) {
	const rate = 5 // messages a second: a minute of the detector
	d := newDemo(t, func(o *demo.Options) { o.Rate = rate })
	cfg := testConfig(t, d.URL())
	on := true
	cfg.AnomalyDetection = &on
	cfg.Rules = []rules.Rule{
		{Name: "anomalies", Type: rules.TypeAnomaly, Kinds: []string{"rate_spike", "silence"}, Targets: []string{"demo"}, Cooldown: 1},
		{Name: "floods-elsewhere", Type: rules.TypeAnomaly, Kinds: []string{"user_flood"}, Targets: []string{"other"}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	histLast := seedHistory(t, cfg.DatabasePath, t0, rate)
	virtual := func(at time.Time) time.Time { return t0.Add(at.Sub(t0) * anomalyScale) }
	var told atomic.Int64 // spikes and silences that opened, told to the rules
	opts := Options{Analysis: func(o *analysis.Options) {
		o.AnomalyTime = virtual
		o.AdvanceEvery, o.AdvanceGrace = 100*time.Millisecond, time.Second
		o.SnapshotEvery = 300 * time.Millisecond
		o.LiveWindow = 30 * 24 * time.Hour // of the detector's time: the replay below is told too
		next := o.OnAnomaly
		o.OnAnomaly = func(e anomaly.Event) {
			if e.Type == anomaly.Opened && e.Anomaly.Key.Room == "" && (e.Anomaly.Kind == anomaly.KindSpike || e.Anomaly.Kind == anomaly.KindSilence) {
				told.Add(1)
			}
			next(e)
		}
	}}
	h := startWith(t, ModeAll, cfg, opts)
	h.waitConnected()
	api := "http://" + h.webAddr
	waitFor(t, 30*time.Second, "the history observed", func() bool { return h.an.Stats().AsOfID >= histLast })

	list := func(base, query string) anomalyPage {
		var p anomalyPage
		analysisGet(t, base+"/api/analysis/anomalies?target=demo&room=&"+query, &p)
		return p
	}
	targetWide := func(p anomalyPage, kind string, after time.Time) int {
		for i, x := range p.Anomalies {
			if x.Kind == kind && x.Room == "" && !x.Start.Before(after) {
				return i
			}
		}
		return -1
	}
	// Quiet, normal traffic: some seconds (minutes of the detector).
	time.Sleep(8 * time.Second)
	before := list(api, "limit=1000")
	for _, k := range []string{"rate_spike", "silence"} {
		if i := targetWide(before, k, virtual(t0)); i >= 0 {
			t.Fatalf("a %s before anything was injected (a false alarm): %+v", k, before.Anomalies[i])
		}
	}
	// A snapshot of the saved state from before the injections, to put
	// back later as a crash would leave it.
	db := openDB(t, cfg.DatabasePath)
	var snapID int64
	var snap []byte
	if err := db.QueryRow(`SELECT applied_id, data FROM analysis_state WHERE name = 'anomaly'`).Scan(&snapID, &snap); err != nil {
		t.Fatal(err)
	}

	// The burst: 600 messages at once, where 5 a minute are usual.
	burstAt := time.Now()
	if err := d.Burst(600); err != nil {
		t.Fatal(err)
	}
	var spike anomalyPage
	waitFor(t, 20*time.Second, "the rate spike listed", func() bool {
		spike = list(api, "kind=rate_spike")
		return targetWide(spike, "rate_spike", virtual(burstAt).Add(-2*time.Minute)) >= 0
	})
	sp := spike.Anomalies[targetWide(spike, "rate_spike", virtual(burstAt).Add(-2*time.Minute))]
	if sp.Score < 6 || sp.Params["observed"] == "" || !strings.Contains(sp.Explanation, `target "demo"`) {
		t.Errorf("spike %+v", sp)
	}
	// Let the spike end, then a silence of 20 s (20 minutes of the
	// detector), where 5 messages a minute are usual.
	time.Sleep(6 * time.Second)
	silenceAt := time.Now()
	d.Silence(20 * time.Second)
	var sil anomalyPage
	waitFor(t, 30*time.Second, "the silence listed while it lasts", func() bool {
		sil = list(api, "kind=silence&open=1")
		return targetWide(sil, "silence", virtual(silenceAt).Add(-time.Minute)) >= 0
	})
	if time.Since(silenceAt) > 20*time.Second {
		t.Errorf("the silence was listed only after it ended")
	}
	d.Silence(0)
	waitFor(t, 20*time.Second, "the silence ended", func() bool {
		p := list(api, "kind=silence&open=0")
		return targetWide(p, "silence", virtual(silenceAt).Add(-time.Minute)) >= 0
	})

	// The rule: one alert for each, through the alert store.
	var alerts alertPage
	waitFor(t, 10*time.Second, "the anomaly alerts", func() bool {
		analysisGet(t, api+"/api/alerts?rule=anomalies", &alerts)
		kinds := map[string]bool{}
		for _, a := range alerts.Alerts {
			kinds[strings.SplitN(a.Detail, ":", 2)[0]] = true
		}
		return kinds["rate_spike"] && kinds["silence"]
	})
	for _, a := range alerts.Alerts {
		if a.RuleType != "anomaly" || a.Target != "demo" {
			t.Errorf("alert %+v", a)
		}
	}
	var none alertPage
	analysisGet(t, api+"/api/alerts?rule=floods-elsewhere", &none)
	if len(none.Alerts) != 0 {
		t.Errorf("a rule of another target alerted: %+v", none.Alerts)
	}

	// Stop (after the traffic, so that nothing arrives meanwhile).
	d.Silence(time.Hour)
	time.Sleep(500 * time.Millisecond)
	all := list(api, "limit=1000")
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	var last int64
	if err := db.QueryRow(`SELECT MAX(id) FROM messages`).Scan(&last); err != nil {
		t.Fatal(err)
	}

	// A separate web lists the saved state.
	w := start(t, ModeWeb, cfg)
	sep := list("http://"+w.webAddr, "limit=1000")
	if sep.AsOfID != last || !sameAnomalies(sep, all, true) {
		t.Errorf("separate web as of %d (want %d):\n%+v\nwant\n%+v", sep.AsOfID, last, sep.Anomalies, all.Anomalies)
	}
	w.stop()

	// Restart: the state is kept, and no message is observed again (open
	// anomalies may end: the time wsmon was stopped is not watched).
	h2 := startWith(t, ModeAll, cfg, opts)
	time.Sleep(time.Second)
	if st := h2.an.Stats(); st.Observed != 0 || st.AsOfID != last {
		t.Errorf("after a restart: %+v, want nothing observed, as of %d", st, last)
	}
	if got := list("http://"+h2.webAddr, "limit=1000"); !sameAnomalies(got, all, false) {
		t.Errorf("after a restart:\n%+v\nwant\n%+v", got.Anomalies, all.Anomalies)
	}
	if err := h2.stop(); err != nil {
		t.Fatal(err)
	}

	// A crash before the burst's state was saved: the snapshot is put
	// back; the messages after it are observed again once, the spike and
	// the silence are found again and told to the rule, and not stored
	// twice.
	if _, err := db.Exec(`UPDATE analysis_state SET applied_id = ?, data = ? WHERE name = 'anomaly'`, snapID, snap); err != nil {
		t.Fatal(err)
	}
	toldBefore := told.Load()
	h3 := startWith(t, ModeAll, cfg, opts)
	waitFor(t, 20*time.Second, "the messages after the snapshot observed", func() bool { return h3.an.Stats().AsOfID >= last })
	if n := h3.an.Stats().Observed; n != uint64(last-snapID) {
		t.Errorf("observed %d messages after the crash, want %d (each once)", n, last-snapID)
	}
	again := list("http://"+h3.webAddr, "limit=1000")
	if targetWide(again, "rate_spike", virtual(burstAt).Add(-2*time.Minute)) < 0 || targetWide(again, "silence", virtual(silenceAt).Add(-time.Minute)) < 0 {
		t.Errorf("after the crash the spike and the silence are not found again: %+v", again.Anomalies)
	}
	if told.Load()-toldBefore < 2 {
		t.Errorf("after the crash %d spikes and silences were told to the rules again, want both", told.Load()-toldBefore)
	}
	time.Sleep(500 * time.Millisecond)
	var after alertPage
	analysisGet(t, "http://"+h3.webAddr+"/api/alerts?rule=anomalies", &after)
	if len(after.Alerts) != len(alerts.Alerts) {
		t.Errorf("%d anomaly alerts after the crash, %d before: an anomaly found again was alerted twice\n%+v", len(after.Alerts), len(alerts.Alerts), after.Alerts)
	}
	h3.stop()
}

// sameAnomalies: the same anomalies (id, kind, key, start, score; and
// end when ends is set).
func sameAnomalies(a, b anomalyPage, ends bool) bool {
	if len(a.Anomalies) != len(b.Anomalies) {
		return false
	}
	for i := range a.Anomalies {
		x, y := a.Anomalies[i], b.Anomalies[i]
		if x.ID != y.ID || x.Kind != y.Kind || x.Room != y.Room || !x.Start.Equal(y.Start) || x.Score != y.Score {
			return false
		}
		if ends && (x.Open != y.Open || (x.End == nil) != (y.End == nil) || x.End != nil && !x.End.Equal(*y.End)) {
			return false
		}
	}
	return true
}

// TestAnomalyOff: with anomaly_detection off the endpoint says so (409),
// in the monitor's web and in a separate one.
func TestAnomalyOff(t *testing.T) {
	d := newDemo(t, nil)
	cfg := testConfig(t, d.URL())
	on, off := true, false
	cfg.AnalysisSentiment = &on // another analysis on: the analyzer runs
	cfg.AnomalyDetection = &off // on by default
	for _, mode := range []Mode{ModeAll, ModeWeb} {
		h := start(t, mode, cfg)
		resp, err := http.Get("http://" + h.webAddr + "/api/analysis/anomalies")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict {
			t.Errorf("%s: %s, want 409", mode, resp.Status)
		}
		h.stop()
	}
}
