package app_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/testkit"
)

// scrape fetches /metrics with the token and parses the text format.
func scrape(t *testing.T, url, token string) map[string]*dto.MetricFamily {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value is the sample of family name whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsScrape runs wsmon all behind a token against the demo
// server, scrapes /metrics and checks it parses and agrees with what was
// stored: messages by target and type, the target's state, batch
// latency, journal health, live clients; and that it needs the token.
func TestMetricsScrape(t *testing.T) {
	o := demo.DefaultOptions()
	o.Addr, o.Rate, o.Seed = "127.0.0.1:0", 0, 7
	d := demo.New(o)
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	cfg := testkit.Config(t, d.URL())
	cfg.Protocol = "raw"
	cfg.WebToken = "metrics-test-token-0123"
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	if err := d.Burst(300); err != nil {
		t.Fatal(err)
	}
	stored := m.WaitMessages(t, 300, 20*time.Second)
	url := "http://" + m.WebAddr() + "/metrics"

	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/metrics without the token: %d", resp.StatusCode)
	}

	byType := map[string]int{}
	for _, s := range stored {
		byType[s.Type]++
	}
	var fams map[string]*dto.MetricFamily
	testkit.WaitFor(t, 10*time.Second, "metrics to show every stored message", func() bool {
		fams = scrape(t, url, cfg.WebToken)
		for typ, n := range byType {
			if v, _ := value(fams, "wsmon_messages_total", map[string]string{"target": "t", "type": typ}); v != float64(n) {
				return false
			}
		}
		return true
	})
	for _, c := range []struct {
		name   string
		labels map[string]string
		ok     func(float64) bool
	}{
		{"wsmon_target_state", map[string]string{"target": "t", "state": "connected"}, func(v float64) bool { return v == 1 }},
		{"wsmon_target_state", map[string]string{"target": "t", "state": "stopped"}, func(v float64) bool { return v == 0 }},
		{"wsmon_target_frames_total", map[string]string{"target": "t"}, func(v float64) bool { return v >= float64(len(stored)) }},
		{"wsmon_target_last_message_age_seconds", map[string]string{"target": "t"}, func(v float64) bool { return v >= 0 && v < 60 }},
		{"wsmon_ingest_batch_seconds", nil, func(v float64) bool { return v >= 1 }},
		{"wsmon_ingest_batches_total", nil, func(v float64) bool { return v >= 1 }},
		{"wsmon_journal_healthy", nil, func(v float64) bool { return v == 1 }},
		{"wsmon_journal_dropped_frames_total", nil, func(v float64) bool { return v == 0 }},
		{"wsmon_database_write_errors_total", nil, func(v float64) bool { return v == 0 }},
		{"wsmon_index_lag_messages", nil, func(v float64) bool { return v >= 0 }},
		{"wsmon_live_clients", nil, func(v float64) bool { return v == 0 }},
		{"go_goroutines", nil, func(v float64) bool { return v > 0 }},
		{"process_resident_memory_bytes", nil, func(v float64) bool { return v > 0 }},
	} {
		v, ok := value(fams, c.name, c.labels)
		if !ok || !c.ok(v) {
			t.Errorf("%s%v = %v (present %v)", c.name, c.labels, v, ok)
		}
	}
}
