package notify

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDeliveryOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		typ       string
		responses []response
		attempts  int // requests the receiver sees
		want      SinkStats
		errHas    string
	}{
		{"ok", TypeWebhook, []response{{status: 200}}, 1, SinkStats{Sent: 1}, ""},
		{"fails twice then succeeds", TypeWebhook, []response{{status: 500}, {status: 502}, {status: 200}}, 3,
			SinkStats{Sent: 1, Retried: 2}, "HTTP 502"},
		{"5xx until MaxAttempts", TypeWebhook, []response{{status: 503}}, 3, SinkStats{Failed: 1, Retried: 2}, "HTTP 503"},
		{"400 fails at once", TypeWebhook, []response{{status: 400, body: "no such hook"}}, 1, SinkStats{Failed: 1}, "HTTP 400: no such hook"},
		{"404 fails at once", TypeSlack, []response{{status: 404, body: "channel_not_found"}}, 1, SinkStats{Failed: 1}, "channel_not_found"},
		{"410 fails at once", TypeSlack, []response{{status: 410, body: "channel_is_archived"}}, 1, SinkStats{Failed: 1}, "HTTP 410"},
		{"redirect not followed", TypeWebhook, []response{{status: 301, header: map[string]string{"Location": "https://elsewhere.example/hook?token=x"}}}, 1,
			SinkStats{Failed: 1}, "redirect to https://elsewhere.example/***"},
		{"429 retried", TypeSlack, []response{{status: 429, body: "rate_limited"}, {status: 200, body: "ok"}}, 2, SinkStats{Sent: 1, Retried: 1}, "HTTP 429"},
		{"dingtalk too fast retried", TypeDingTalk, []response{{status: 200, body: `{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}`}, {status: 200, body: `{"errcode":0,"errmsg":"ok"}`}}, 2,
			SinkStats{Sent: 1, Retried: 1}, "dingtalk error 130101: send too fast"},
		{"dingtalk other code fails", TypeDingTalk, []response{{status: 200, body: `{"errcode":300001,"errmsg":"token is not exist"}`}}, 1,
			SinkStats{Failed: 1}, "dingtalk error 300001"},
		{"feishu frequency limited retried", TypeFeishu, []response{{status: 200, body: `{"code":11232,"msg":"frequency limited"}`}, {status: 200, body: `{"code":0,"msg":"success","data":{}}`}}, 2,
			SinkStats{Sent: 1, Retried: 1}, "feishu error 11232"},
		{"feishu legacy success", TypeFeishu, []response{{status: 200, body: `{"Extra":null,"StatusCode":0,"StatusMessage":"success"}`}}, 1, SinkStats{Sent: 1}, ""},
		{"feishu error on 400", TypeFeishu, []response{{status: 400, body: `{"code":19001,"msg":"param invalid: incoming webhook access token invalid"}`}}, 1,
			SinkStats{Failed: 1}, "feishu error 19001"},
		{"wecom freq limit retried", TypeWeCom, []response{{status: 200, body: `{"errcode":45009,"errmsg":"api freq out of limit"}`}, {status: 200, body: `{"errcode":0,"errmsg":"ok"}`}}, 2,
			SinkStats{Sent: 1, Retried: 1}, "wecom error 45009"},
		{"wecom busy retried", TypeWeCom, []response{{status: 200, body: `{"errcode":-1,"errmsg":"system busy"}`}}, 3, SinkStats{Failed: 1, Retried: 2}, "wecom error -1"},
		{"bot answers without a code", TypeWeCom, []response{{status: 200, body: `<html>login</html>`}}, 1, SinkStats{Failed: 1}, "without a result code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder(t, tt.responses...)
			d := startDispatcher(t, []Config{{Name: "s", Type: tt.typ, URL: rec.srv.URL + "/hook?key=k"}}, Options{MaxAttempts: 3})
			d.Send(testAlert(), []string{"s"})
			st := waitStats(t, d, "s", func(s SinkStats) bool { return s.Sent+s.Failed > 0 })
			if st.Sent != tt.want.Sent || st.Failed != tt.want.Failed || st.Retried != tt.want.Retried || st.Dropped != 0 {
				t.Errorf("stats %+v, want sent %d failed %d retried %d", st, tt.want.Sent, tt.want.Failed, tt.want.Retried)
			}
			if n := len(rec.got()); n != tt.attempts {
				t.Errorf("receiver saw %d requests, want %d", n, tt.attempts)
			}
			if tt.errHas != "" && !strings.Contains(st.LastError, tt.errHas) {
				t.Errorf("last error %q, want it to contain %q", st.LastError, tt.errHas)
			}
			if tt.errHas == "" && st.LastError != "" {
				t.Errorf("last error %q, want none", st.LastError)
			}
			if st.Failed > 0 && st.LastErrorAt.IsZero() || st.Sent > 0 && st.LastSentAt.IsZero() {
				t.Errorf("times not set: %+v", st)
			}
		})
	}
}

func TestDeadEndpointGivesUp(t *testing.T) {
	u := closedURL(t) + "?access_token=SECRET-TOKEN"
	d := startDispatcher(t, []Config{{Name: "dead", Type: TypeDingTalk, URL: u, Secret: "sec"}}, Options{MaxAttempts: 4})
	d.Send(testAlert(), []string{"dead"})
	d.Send(testAlert(), []string{"dead"})
	st := waitStats(t, d, "dead", func(s SinkStats) bool { return s.Failed == 2 })
	if st.Sent != 0 || st.Retried != 6 || st.Dropped != 0 {
		t.Errorf("stats %+v, want 2 failed after 4 attempts each", st)
	}
	if !strings.Contains(st.LastError, "connect") {
		t.Errorf("last error %q, want a connection error", st.LastError)
	}
	// The error is shown in the dashboard: it must not carry the token.
	for _, secret := range []string{"SECRET-TOKEN", "sign=", "/hook"} {
		if strings.Contains(st.LastError, secret) {
			t.Errorf("last error %q shows %q", st.LastError, secret)
		}
	}
}

func TestFullQueueDropsWithoutBlocking(t *testing.T) {
	rec := newRecorder(t)
	d := newDispatcher(t, []Config{{Name: "s", Type: TypeWebhook, URL: rec.srv.URL}}, Options{QueueSize: 2})
	// Not running yet: the queue takes 2, the rest is dropped at once.
	for i := range 10 {
		a := testAlert()
		a.ID = int64(i)
		d.Send(a, []string{"s"})
	}
	st := statsOf(t, d, "s")
	if st.Queued != 2 || st.Dropped != 8 {
		t.Fatalf("stats %+v, want 2 queued and 8 dropped", st)
	}
	runDispatcher(t, d)
	st = waitStats(t, d, "s", func(s SinkStats) bool { return s.Sent == 2 })
	if st.Queued != 0 || st.Dropped != 8 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
	// The first two were delivered, in order.
	got := rec.got()
	for i, r := range got {
		if id := r.header.Get(HeaderAlertID); id != string(rune('0'+i)) {
			t.Errorf("request %d carries alert %s", i, id)
		}
	}
}

// A sink that hangs does not delay another; Send does not block on it.
func TestSlowSinkDoesNotDelayOthers(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // then the server notices the client going away
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	fast := newRecorder(t)
	d := startDispatcher(t, []Config{
		{Name: "slow", Type: TypeWebhook, URL: slow.URL},
		{Name: "fast", Type: TypeWebhook, URL: fast.srv.URL},
	}, Options{QueueSize: 10})
	for range 10 {
		d.Send(testAlert(), []string{"slow", "fast"})
	}
	waitStats(t, d, "fast", func(s SinkStats) bool { return s.Sent == 10 })
	for range 5 {
		d.Send(testAlert(), []string{"slow", "fast"})
	}
	waitStats(t, d, "fast", func(s SinkStats) bool { return s.Sent == 15 })
	st := statsOf(t, d, "slow")
	if st.Sent != 0 || st.Dropped < 4 || st.Queued != 10 {
		t.Errorf("slow sink %+v, want nothing sent, 10 queued and at least 4 of the last 5 dropped", st)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	rec := newRecorder(t,
		response{status: 429, header: map[string]string{"Retry-After": "1"}, body: "rate_limited"},
		response{status: 200, body: "ok"})
	d := startDispatcher(t, []Config{{Name: "s", Type: TypeSlack, URL: rec.srv.URL}},
		Options{RetryMin: time.Millisecond, RetryMax: time.Minute})
	d.Send(testAlert(), []string{"s"})
	waitStats(t, d, "s", func(s SinkStats) bool { return s.Sent == 1 })
	got := rec.got()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2", len(got))
	}
	// Retry-After is whole seconds; allow for the clock's granularity.
	if gap := got[1].at.Sub(got[0].at); gap < time.Second-10*time.Millisecond {
		t.Errorf("retried after %v, before the server's Retry-After of 1s", gap)
	}
}

func TestSendSemantics(t *testing.T) {
	rec := newRecorder(t)
	d := startDispatcher(t, []Config{{Name: "a", Type: TypeWebhook, URL: rec.srv.URL}}, Options{})
	a := testAlert()
	a.Content = strings.Repeat("长", MaxContent) // 3 bytes each
	d.Send(a, []string{"a", "nope", "a"})       // a twice, an unknown name
	d.Send(a, nil)
	waitStats(t, d, "a", func(s SinkStats) bool { return s.Sent == 1 })
	time.Sleep(20 * time.Millisecond) // a second copy would arrive now
	got := rec.got()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	if body := string(got[0].body); len(body) > MaxContent+1024 || !strings.Contains(body, Ellipsis) {
		t.Errorf("content not cut to MaxContent: %d bytes", len(body))
	}
	if names := d.Names(); len(names) != 1 || names[0] != "a" {
		t.Errorf("Names %v", names)
	}
}

func TestRunStopsInFlightAttempt(t *testing.T) {
	started := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // then the server notices the client going away
		once.Do(func() { close(started) })
		<-r.Context().Done()
	}))
	defer srv.Close()
	d := newDispatcher(t, []Config{{Name: "s", Type: TypeWebhook, URL: srv.URL}}, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	d.Send(testAlert(), []string{"s"})
	d.Send(testAlert(), []string{"s"})
	<-started
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return with an attempt in flight")
	}
	st := statsOf(t, d, "s")
	if st.Sent != 0 || st.Failed != 0 || st.Queued != 1 {
		t.Errorf("stats %+v, want nothing counted and one still queued", st)
	}
	d.Run(ctx) // a second Run returns at once
}

func TestBackoff(t *testing.T) {
	d := newDispatcher(t, nil, Options{RetryMin: time.Second, RetryMax: time.Minute})
	for n := 1; n <= 100; n++ {
		b := min(time.Second<<min(n-1, 10), time.Minute)
		for range 20 {
			w := d.backoff(n, 0)
			if w < b/2 || w > b {
				t.Fatalf("attempt %d: wait %v outside [%v, %v]", n, w, b/2, b)
			}
		}
	}
	if w := d.backoff(1, 30*time.Second); w != 30*time.Second {
		t.Errorf("Retry-After 30s: wait %v", w)
	}
	if w := d.backoff(1, time.Hour); w != time.Minute {
		t.Errorf("Retry-After 1h: wait %v, want RetryMax", w)
	}
}

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"0", 0}, {"-5", 0}, {"3", 3 * time.Second}, {" 120 ", 2 * time.Minute}, {"x", 0},
		{"99999999999", 24 * time.Hour},
		{"Sun, 01 Mar 2026 12:00:30 GMT", 30 * time.Second},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.v, now); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}
