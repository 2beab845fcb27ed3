package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/testkit"
)

// BenchmarkAlertToWebhook measures, in wsmon all, the time from a chat
// message with a keyword leaving the chat server to its alert reaching a
// webhook (notify_webhook_url) on loopback: the journal, the commit, the
// rules and the delivery. Run it with
//
//	go test -run '^$' -bench BenchmarkAlertToWebhook -benchtime 200x ./internal/app/
func BenchmarkAlertToWebhook(b *testing.B) {
	got := make(chan time.Time, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		json.NewDecoder(r.Body).Decode(&v)
		got <- time.Now()
	}))
	defer hook.Close()
	o := demo.DefaultOptions()
	o.Addr, o.Rate, o.Seed = "127.0.0.1:0", 0, 9
	d := demo.New(o)
	if err := d.Start(); err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	cfg := testkit.Config(b, d.URL())
	cfg.Protocol = "raw"
	cfg.EnableNotifications = true
	cfg.NotificationKeywords = []string{"紧急"}
	cfg.NotifyWebhook = hook.URL
	m := testkit.Start(b, cfg)
	m.WaitConnected(b, 10*time.Second)
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		// A distinct room each time: the rule's cooldown is per room.
		d.Inject(fmt.Appendf(nil, `{"type":"chat","user":"u","room":"r%d","content":"紧急 %d"}`, i, i), false)
		select {
		case at := <-got:
			lat = append(lat, at.Sub(t0))
		case <-time.After(30 * time.Second):
			b.Fatal("no webhook call within 30 s")
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max_ms")
}
