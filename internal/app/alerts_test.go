package app_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/rules"
	"github.com/wsmon/wsmon/internal/testkit"
)

type alertsPage struct {
	Alerts []struct {
		ID         int64  `json:"id"`
		Rule       string `json:"rule"`
		RuleType   string `json:"rule_type"`
		User       string `json:"user"`
		Content    string `json:"content"`
		MessageID  int64  `json:"message_id"`
		Detail     string `json:"detail"`
		Suppressed int    `json:"suppressed"`
	} `json:"alerts"`
	Unacked int64 `json:"unacked"`
}

// TestAlertsEndToEnd: the brief's keyword notification in wsmon all. A
// chat message with 紧急 raises an alert on the committed message: it is
// listed by /api/alerts, pushed on the live stream as an "alert" event,
// and POSTed once to notify_webhook_url with its alert and message ids; a
// rule added through /api/rules takes effect at once; acknowledging
// clears the unacknowledged count.
func TestAlertsEndToEnd(t *testing.T) {
	var mu sync.Mutex
	var hooks []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		json.NewDecoder(r.Body).Decode(&v)
		mu.Lock()
		hooks = append(hooks, v)
		mu.Unlock()
	}))
	defer hook.Close()

	o := demo.DefaultOptions()
	o.Addr, o.Rate, o.Seed = "127.0.0.1:0", 0, 3
	d := demo.New(o)
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	cfg := testkit.Config(t, d.URL())
	cfg.Protocol = "raw"
	cfg.EnableNotifications = true
	cfg.NotificationKeywords = []string{"紧急", "重要"}
	cfg.NotifyWebhook = hook.URL
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	api := "http://" + m.WebAddr()

	// The live stream, to see the alert event.
	live, err := http.Get(api + "/api/live")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Body.Close()
	events := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(live.Body)
		var ev string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && ev == "alert":
				events <- strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	time.Sleep(200 * time.Millisecond) // the stream subscribes

	d.Inject([]byte(`{"type":"chat","user":"alice","content":"服务器宕机了，紧急处理！","room":"ops"}`), false)
	d.Inject([]byte(`{"type":"chat","user":"bob","content":"nothing to see"}`), false)
	m.WaitMessages(t, 2, 10*time.Second)

	var page alertsPage
	testkit.WaitFor(t, 10*time.Second, "the alert", func() bool {
		getJSON(t, api+"/api/alerts", &page)
		return len(page.Alerts) == 1
	})
	a := page.Alerts[0]
	if a.Rule != "notification_keywords" || a.RuleType != "keyword" || a.User != "alice" || a.MessageID == 0 ||
		!strings.Contains(a.Detail, `keyword "紧急" from alice in ops`) || page.Unacked != 1 {
		t.Fatalf("alert %+v (unacked %d)", a, page.Unacked)
	}
	select {
	case ev := <-events:
		if !strings.Contains(ev, fmt.Sprintf(`"id":%d`, a.ID)) || !strings.Contains(ev, "紧急") {
			t.Fatalf("live alert event %s", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no alert event on the live stream")
	}
	testkit.WaitFor(t, 10*time.Second, "the webhook", func() bool { mu.Lock(); defer mu.Unlock(); return len(hooks) == 1 })
	mu.Lock()
	h := hooks[0]
	mu.Unlock()
	if h["id"] != float64(a.ID) || h["message_id"] != float64(a.MessageID) || h["content"] != "服务器宕机了，紧急处理！" || h["rule"] != "notification_keywords" {
		t.Fatalf("webhook body %v", h)
	}

	var sinks struct {
		Notifiers []struct {
			Name string
			Sent int64
		} `json:"notifiers"`
	}
	testkit.WaitFor(t, 5*time.Second, "the delivery recorded on the alert", func() bool {
		var p struct {
			Alerts []struct{ Delivery string } `json:"alerts"`
		}
		getJSON(t, api+"/api/alerts", &p)
		return len(p.Alerts) == 1 && p.Alerts[0].Delivery == "webhook: sent"
	})
	testkit.WaitFor(t, 5*time.Second, "the delivery counted", func() bool {
		getJSON(t, api+"/api/alerts", &sinks)
		return len(sinks.Notifiers) == 1 && sinks.Notifiers[0].Name == "webhook" && sinks.Notifiers[0].Sent == 1
	})

	// A rule added at runtime.
	rule, _ := json.Marshal(rules.Rule{Name: "orders", Type: "regex", Pattern: `订单\s*#\d{6}`, Cooldown: 1})
	req, _ := http.NewRequest("POST", api+"/api/rules", bytes.NewReader(rule))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/rules: %d", resp.StatusCode)
	}
	d.Inject([]byte(`{"type":"chat","user":"carol","content":"订单 #123456 没到"}`), false)
	testkit.WaitFor(t, 10*time.Second, "the regex alert", func() bool {
		getJSON(t, api+"/api/alerts?rule=orders", &page)
		return len(page.Alerts) == 1
	})
	var rl struct {
		Rules []struct{ Name, Source string } `json:"rules"`
	}
	getJSON(t, api+"/api/rules", &rl)
	if fmt.Sprint(rl.Rules) != "[{notification_keywords config} {orders api}]" {
		t.Fatalf("rules %v", rl.Rules)
	}

	// Acknowledge everything.
	req, _ = http.NewRequest("POST", api+"/api/alerts/ack", strings.NewReader(fmt.Sprintf(`{"up_to": %d}`, page.Alerts[0].ID)))
	req.Header.Set("Content-Type", "application/json")
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("ack: %v %v", resp, err)
	}
	resp.Body.Close()
	getJSON(t, api+"/api/alerts", &page)
	if page.Unacked != 0 || len(page.Alerts) != 2 {
		t.Fatalf("after ack: %+v", page)
	}
}

// TestAutomaticReply: a keyword rule with a reply, on a target with
// auto_reply, answers on the same connection; the demo server broadcasts
// the reply back, and that echo is stored but never evaluated (a rule
// matching the reply's text does not fire, the reply does not answer
// itself); a second hit within 5 s is not answered (rate limit), and the
// alert says so.
func TestAutomaticReply(t *testing.T) {
	o := demo.DefaultOptions()
	o.Addr, o.Rate, o.Seed = "127.0.0.1:0", 0, 4
	d := demo.New(o)
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	cfg := testkit.Config(t, d.URL())
	cfg.Protocol = "raw"
	cfg.AutoReply = true
	cfg.Rules = []rules.Rule{
		{Name: "greet", Type: "keyword", Keywords: []string{"你好"}, Cooldown: 1,
			Reply: `{"type":"chat","user":"wsmon-bot","content":"收到 {{.User}} 的 你好"}`},
		{Name: "echo-catcher", Type: "keyword", Keywords: []string{"收到"}, Cooldown: 1},
	}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	api := "http://" + m.WebAddr()

	d.Inject([]byte(`{"type":"chat","user":"alice","content":"你好 \"quoted\""}`), false)
	stored := m.WaitMessages(t, 2, 10*time.Second)
	var echo *testkit.Stored
	for i := range stored {
		if stored[i].User == "wsmon-bot" {
			echo = &stored[i]
		}
	}
	if echo == nil || echo.Content != "收到 alice 的 你好" {
		t.Fatalf("no echo of the reply stored: %+v", stored)
	}
	var page struct {
		Alerts []struct {
			Rule, Reply string
			ReplyErr    string `json:"reply_error"`
		} `json:"alerts"`
	}
	testkit.WaitFor(t, 10*time.Second, "the reply recorded", func() bool {
		getJSON(t, api+"/api/alerts", &page)
		return len(page.Alerts) == 1 && page.Alerts[0].Reply != ""
	})
	if a := page.Alerts[0]; a.Rule != "greet" || a.Reply != `{"type":"chat","user":"wsmon-bot","content":"收到 alice 的 你好"}` {
		t.Fatalf("alert %+v", a)
	}

	// Within 5 s: alerted, not answered.
	time.Sleep(1100 * time.Millisecond) // past the rule's 1 s cooldown
	d.Inject([]byte(`{"type":"chat","user":"bob","content":"你好"}`), false)
	testkit.WaitFor(t, 10*time.Second, "the second alert", func() bool {
		getJSON(t, api+"/api/alerts", &page)
		return len(page.Alerts) == 2 && page.Alerts[0].ReplyErr != ""
	})
	if a := page.Alerts[0]; !strings.Contains(a.ReplyErr, "at most one reply per target every 5s") {
		t.Fatalf("second alert %+v", a)
	}
	time.Sleep(500 * time.Millisecond)
	getJSON(t, api+"/api/alerts?rule=echo-catcher", &page)
	if len(page.Alerts) != 0 {
		t.Fatalf("the reply's echo was evaluated: %+v", page.Alerts)
	}
}
