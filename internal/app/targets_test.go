package app

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/capture"
)

// apiTarget is what GET /api/targets lists, as these tests read it.
type apiTarget struct {
	Name          string `json:"name"`
	URL           string `json:"url"`
	Paused        bool   `json:"paused"`
	Source        string `json:"source"`
	State         string `json:"state"`
	ProtocolInUse string `json:"protocol_in_use"`
	LastError     string `json:"last_error"`
	Stopped       string `json:"stopped"`
}

// call sends a JSON request to the web API and returns the status and body.
func call(t *testing.T, method, u, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func listTargets(t *testing.T, base string) map[string]apiTarget {
	t.Helper()
	var out struct {
		Targets []apiTarget `json:"targets"`
	}
	getJSON(t, base+"/api/targets", &out)
	m := map[string]apiTarget{}
	for _, x := range out.Targets {
		m[x.Name] = x
	}
	return m
}

func waitState(t *testing.T, base, name, state string) {
	t.Helper()
	waitFor(t, 10*time.Second, name+" "+state, func() bool { return listTargets(t, base)[name].State == state })
}

func targetJSON(t *testing.T, v map[string]any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTargetsAtRuntime: targets added, paused, resumed, changed and
// removed through the HTTP API of a running wsmon, each with its own
// runner and sessions; API targets survive a restart (paused ones stay
// paused) and a separate web process lists them but refuses writes.
func TestTargetsAtRuntime(t *testing.T) {
	d1, d2 := newDemo(t, nil), newDemo(t, nil)
	cfg := testConfig(t, d1.URL())
	h := start(t, ModeAll, cfg)
	h.waitConnected()
	base := "http://" + h.webAddr
	db := cfg.DatabasePath
	sessions := func(target string) int64 {
		return countRows(t, db, `SELECT COUNT(*) FROM sessions WHERE target = ?`, target)
	}
	messages := func(target string) int64 {
		return countRows(t, db, `SELECT COUNT(*) FROM messages WHERE target = ?`, target)
	}

	// Add: connects, and its messages are stored under its name.
	extra := targetJSON(t, map[string]any{"name": "extra", "url": d2.URL() + "?token=s3cret", "protocol": "raw"})
	if code, body := call(t, "POST", base+"/api/targets", extra); code != http.StatusCreated {
		t.Fatalf("add: %d %s", code, body)
	}
	waitState(t, base, "extra", "connected")
	waitFor(t, 5*time.Second, "d2 client", func() bool { return d2.Clients() == 1 })
	if err := d2.Burst(50); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "extra's messages", func() bool { return messages("extra") == 50 })
	if n := messages("demo"); n != 0 {
		t.Fatalf("demo got %d of extra's messages", n)
	}
	ts := listTargets(t, base)
	if x := ts["extra"]; x.Source != "api" || x.ProtocolInUse != "raw" || strings.Contains(x.URL, "s3cret") {
		t.Fatalf("extra listed as %+v", x)
	}
	if x := ts["demo"]; x.Source != "config" || x.State != "connected" {
		t.Fatalf("demo listed as %+v", x)
	}

	// Duplicates and bad settings change nothing.
	if code, body := call(t, "POST", base+"/api/targets", extra); code != http.StatusConflict {
		t.Fatalf("duplicate: %d %s", code, body)
	}
	for _, bad := range []struct{ body, key string }{
		{`{"name":"bad","url":"http://127.0.0.1:1/"}`, "url"},
		{`{"name":"bad","url":"ws://127.0.0.1:1/","protocol":"nope"}`, "protocol"},
		{`{"name":"bad","url":"ws://127.0.0.1:1/","urll":"x"}`, "urll"},
		{`{"name":"bad","url":"ws://127.0.0.1:1/","subscribe":"x"}`, "subscribe"},
		{`{"name":"bad","url":"ws://127.0.0.1:1/","field_map":{"nick":"a"}}`, "field_map"},
	} {
		code, body := call(t, "POST", base+"/api/targets", bad.body)
		if code != http.StatusBadRequest || !strings.Contains(body, bad.key) {
			t.Fatalf("%s: %d %s (want 400 naming %s)", bad.body, code, body, bad.key)
		}
	}
	if n := len(listTargets(t, base)); n != 2 {
		t.Fatalf("%d targets after bad requests", n)
	}
	if n := countRows(t, db, `SELECT COUNT(*) FROM targets WHERE name = 'bad'`); n != 0 {
		t.Fatal("a bad target was stored")
	}
	// A form post (no JSON content type) is refused.
	resp, err := http.Post(base+"/api/targets/extra/pause", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form post: %s", resp.Status)
	}

	// Pause: disconnected, nothing stored while paused; resume reconnects.
	if code, body := call(t, "POST", base+"/api/targets/extra/pause", ""); code != 200 {
		t.Fatalf("pause: %d %s", code, body)
	}
	waitState(t, base, "extra", "paused")
	waitFor(t, 5*time.Second, "d2 client gone", func() bool { return d2.Clients() == 0 })
	if err := d2.Burst(20); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := messages("extra"); n != 50 {
		t.Fatalf("%d messages of extra after pause, want 50", n)
	}
	if code, body := call(t, "POST", base+"/api/targets/extra/resume", ""); code != 200 {
		t.Fatalf("resume: %d %s", code, body)
	}
	waitState(t, base, "extra", "connected")
	waitFor(t, 5*time.Second, "d2 client back", func() bool { return d2.Clients() == 1 })
	if err := d2.Burst(10); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "extra's messages after resume", func() bool { return messages("extra") == 60 })

	// Update one target: only it reconnects.
	waitFor(t, 5*time.Second, "sessions recorded", func() bool { return sessions("extra") == 2 && sessions("demo") == 1 })
	upd := targetJSON(t, map[string]any{"url": d2.URL(), "protocol": "raw", "send_on_connect": []string{`{"hello":1}`}})
	if code, body := call(t, "PUT", base+"/api/targets/extra", upd); code != 200 {
		t.Fatalf("update: %d %s", code, body)
	}
	waitFor(t, 10*time.Second, "extra reconnected", func() bool { return sessions("extra") == 3 })
	waitState(t, base, "extra", "connected")
	if n := sessions("demo"); n != 1 {
		t.Fatalf("demo has %d sessions after extra's update, want 1", n)
	}
	if code, _ := call(t, "PUT", base+"/api/targets/nope", upd); code != http.StatusNotFound {
		t.Fatalf("update unknown: %d", code)
	}
	if code, body := call(t, "PUT", base+"/api/targets/extra", `{"url":"ws://x","protocol":"mqttx"}`); code != 400 || !strings.Contains(body, "protocol") {
		t.Fatalf("bad update: %d %s", code, body)
	}
	if sessions("extra") != 3 {
		t.Fatal("a bad update reconnected the target")
	}

	// A paused API target, for the restart.
	sleepy := targetJSON(t, map[string]any{"name": "sleepy", "url": d2.URL(), "protocol": "raw"})
	if code, body := call(t, "POST", base+"/api/targets", sleepy); code != 201 {
		t.Fatalf("add sleepy: %d %s", code, body)
	}
	waitState(t, base, "sleepy", "connected")
	if code, _ := call(t, "POST", base+"/api/targets/sleepy/pause", ""); code != 200 {
		t.Fatal("pause sleepy")
	}
	waitState(t, base, "sleepy", "paused")

	// Restart: API targets come back, paused ones stay paused.
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	h = start(t, ModeAll, cfg)
	base = "http://" + h.webAddr
	waitState(t, base, "extra", "connected")
	waitState(t, base, "demo", "connected")
	if x := listTargets(t, base)["sleepy"]; !x.Paused || x.State != "paused" {
		t.Fatalf("sleepy after restart: %+v", x)
	}
	waitFor(t, 5*time.Second, "d2 clients", func() bool { return d2.Clients() == 1 })

	// A separate web process reads the targets and refuses writes.
	w := start(t, ModeWeb, cfg)
	wbase := "http://" + w.webAddr
	waitFor(t, 10*time.Second, "web process sees extra connected", func() bool { return listTargets(t, wbase)["extra"].State == "connected" })
	if x := listTargets(t, wbase)["sleepy"]; x.State != "paused" {
		t.Fatalf("web process: sleepy %+v", x)
	}
	if code, body := call(t, "POST", wbase+"/api/targets/extra/pause", ""); code != http.StatusConflict || !strings.Contains(body, "managed by the monitor process") {
		t.Fatalf("web process pause: %d %s", code, body)
	}

	// Remove: the runner stops, the messages stay.
	if code, body := call(t, "DELETE", base+"/api/targets/extra", ""); code != 200 {
		t.Fatalf("remove: %d %s", code, body)
	}
	waitFor(t, 5*time.Second, "extra's connection closed", func() bool { return d2.Clients() == 0 })
	if _, ok := listTargets(t, base)["extra"]; ok {
		t.Fatal("extra still listed")
	}
	if n := messages("extra"); n != 60 {
		t.Fatalf("%d messages of extra after removal, want 60", n)
	}
	if code, _ := call(t, "DELETE", base+"/api/targets/extra", ""); code != http.StatusNotFound {
		t.Fatalf("remove twice: %d", code)
	}
	waitFor(t, 10*time.Second, "web process no longer lists extra", func() bool { _, ok := listTargets(t, wbase)["extra"]; return !ok })
}

// TestTargetGaveUp: a target that gives up shows as gave_up, in this
// process and in a separate web process; resume retries it; the other
// target and the process keep running (wsmon all).
func TestTargetGaveUp(t *testing.T) {
	d := newDemo(t, nil)
	cfg := testConfig(t, d.URL())
	cfg.MaxReconnectAttempts = 2
	h := start(t, ModeAll, cfg)
	h.waitConnected()
	base := "http://" + h.webAddr
	ln := closedPort(t)
	if code, body := call(t, "POST", base+"/api/targets", `{"name":"dead","url":"ws://`+ln+`/","protocol":"raw"}`); code != 201 {
		t.Fatalf("add: %d %s", code, body)
	}
	waitState(t, base, "dead", "gave_up")
	if x := listTargets(t, base)["dead"]; !strings.Contains(x.Stopped, "gave up") {
		t.Fatalf("dead: %+v", x)
	}
	w := start(t, ModeWeb, cfg)
	waitFor(t, 10*time.Second, "web process sees gave_up", func() bool { return listTargets(t, "http://"+w.webAddr)["dead"].State == "gave_up" })
	if code, body := call(t, "POST", base+"/api/targets/dead/resume", ""); code != 200 {
		t.Fatalf("resume: %d %s", code, body)
	}
	waitFor(t, 10*time.Second, "a retry", func() bool { return listTargets(t, base)["dead"].State != "gave_up" })
	waitState(t, base, "dead", "gave_up")
	if s := listTargets(t, base)["demo"].State; s != "connected" {
		t.Fatalf("demo %s", s)
	}
}

// TestMonitorExitsWhenNothingCanRun: `wsmon monitor` alone, whose only
// target gives up, exits with the reason (no API in it can resume one).
func TestMonitorExitsWhenNothingCanRun(t *testing.T) {
	cfg := testConfig(t, "ws://"+closedPort(t)+"/")
	cfg.MaxReconnectAttempts = 2
	h := start(t, ModeMonitor, cfg)
	select {
	case err := <-h.done:
		h.cancel()
		h.cancel = nil
		var gu *capture.GaveUpError
		if !errors.As(err, &gu) || !strings.Contains(err.Error(), "no target left running") {
			t.Fatalf("monitor exited with %v, want a GaveUpError saying no target is left", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("monitor did not exit")
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
