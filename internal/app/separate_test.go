package app

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/rules"
	"github.com/wsmon/wsmon/internal/store"
)

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestSeparateWebProcess: `wsmon web` apart from `wsmon monitor` on the
// same database answers search and statistics like the monitor itself,
// including messages the monitor has not flushed to the index yet.
func TestSeparateWebProcess(t *testing.T) {
	d := newDemo(t, nil)
	cfg := testConfig(t, d.URL())
	mon := start(t, ModeMonitor, cfg)
	mon.waitConnected()
	waitFor(t, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })
	w := start(t, ModeWeb, cfg)
	d.Burst(3000)
	mon.waitMessages(3000, 20*time.Second)
	base := "http://" + w.webAddr
	var st struct {
		Total int64 `json:"total_messages"`
	}
	getJSON(t, base+"/api/stats", &st)
	if st.Total != 3000 {
		t.Fatalf("web process total %d, want 3000", st.Total)
	}
	for _, q := range []string{"紧急", "hello", "订单", "好", "the"} {
		want, err := mon.ix.Search(context.Background(), q, store.MessageQuery{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Messages []struct {
				ID int64 `json:"id"`
			} `json:"messages"`
			Total int64 `json:"total"`
		}
		getJSON(t, base+"/api/search?q="+url.QueryEscape(q), &got)
		if len(got.Messages) != len(want.Messages) || got.Total != want.Total {
			t.Fatalf("search %q: web %d hits (total %d), monitor %d (total %d)", q, len(got.Messages), got.Total, len(want.Messages), want.Total)
		}
		for i := range got.Messages {
			if got.Messages[i].ID != want.Messages[i].ID {
				t.Fatalf("search %q: hit %d differs", q, i)
			}
		}
	}
}

// TestSeparateWebListsRules: a separate `wsmon web` lists the rules the
// monitor stored (it showed none), and refuses to change them (the monitor
// owns them: 409 not_managed).
func TestSeparateWebListsRules(t *testing.T) {
	d := newDemo(t, nil)
	cfg := testConfig(t, d.URL())
	cfg.Rules = []rules.Rule{{Name: "urgent", Type: "keyword", Keywords: []string{"紧急"}}}
	mon := start(t, ModeMonitor, cfg)
	mon.waitConnected()
	w := start(t, ModeWeb, cfg)
	base := "http://" + w.webAddr
	var got struct {
		Rules []struct {
			Name   string `json:"name"`
			Source string `json:"source"`
		} `json:"rules"`
		Managed bool `json:"managed"`
	}
	getJSON(t, base+"/api/rules", &got)
	if got.Managed || len(got.Rules) != 1 || got.Rules[0].Name != "urgent" || got.Rules[0].Source != "config" {
		t.Fatalf("web process rules: %+v", got)
	}
	resp, err := http.Post(base+"/api/rules", "application/json", strings.NewReader(`{"name":"x","type":"keyword","keywords":["a"]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("rule write on a separate web process: %s, want 409", resp.Status)
	}
}
