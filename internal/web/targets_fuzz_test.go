package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/wsmon/wsmon/internal/app"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/query"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/testkit"
	"github.com/wsmon/wsmon/internal/web"
)

// FuzzTargetsAPI fuzzes the JSON body (and the path name) of POST
// /api/targets and PUT /api/targets/{name}, answered by the real monitor
// (app.NewMonitor over a real store, not started, so an accepted target
// is stored but never dialled). Never a 5xx, errors are the JSON error
// shape, and an accepted target round-trips: GET /api/targets lists it
// as it was given, resolved against the top level and redacted; it is
// then deleted.
func FuzzTargetsAPI(f *testing.F) {
	ctx := context.Background()
	cfg := testkit.Config(f, "ws://127.0.0.1:1/")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(ctx, store.Options{Path: cfg.DatabasePath, Location: cfg.Location()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	mon, err := app.NewMonitor(ctx, cfg, app.MonitorOptions{Store: st, Logger: log, Managed: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		// Run with a cancelled context stops at once and closes the journal.
		stopped, cancel := context.WithCancel(ctx)
		cancel()
		mon.Run(stopped)
	})
	ix, err := index.New(ctx, st, index.Options{Logger: log})
	if err != nil {
		f.Fatal(err)
	}
	h := web.New(web.Options{Store: query.New(st, ix), Manager: mon, Targets: mon.TargetInfos, Logger: log})

	for _, s := range []struct {
		put        bool
		name, body string
	}{
		{false, "", `{"name":"c","url":"ws://127.0.0.1:9/c"}`},
		{false, "", `{"url":"ws://127.0.0.1:9/c?token=secret","headers":{"Authorization":"Bearer x"},"auth":{"token":"y"}}`},
		{false, "", `{"name":"m","url":"ws://127.0.0.1:9/mqtt","protocol":"mqtt","subscribe":["chat/#"],"options":{"qos":1,"keepalive":30}}`},
		{false, "", `{"name":"f","url":"ws://127.0.0.1:9/","field_map":{"user":"data.sender.nick"}}`},
		{false, "", `{"name":"f","url":"ws://127.0.0.1:9/","field_map":{"user":"data..nick"}}`},
		{false, "", `{"name":"f","url":"ws://127.0.0.1:9/","field_map":{"content":"."}}`},
		{false, "", `{"name":"t","url":"ws://127.0.0.1:9/"}`}, // exists
		{false, "", `{"name":"c","url":"http://h/"}`},
		{false, "", `{"name":"c","url":"ws://h/","nope":1}`},
		{false, "", `{"name":"c","subscribe":"x"}`},
		{false, "", `{"name":"c","read_limit_bytes":1e400}`},
		{false, "", `{"name":"c","read_limit_bytes":-9223372036854775808}`},
		{false, "", `{"name":"a\u0000b","url":"ws://h/"}`},
		{false, "", "{\"name\":\"\xff\",\"url\":\"ws://h/\"}"},
		{false, "", `{"name":"c","url":"ws://h/"} {"name":"d"}`},
		{false, "", `{"name":".","url":"ws://127.0.0.1:9/"}`},
		{false, "", `{"name":"/","url":"ws://127.0.0.1:9/"}`},
		{false, "", `{"name":"a/../b","url":"ws://127.0.0.1:9/"}`},
		{false, "", `[]`}, {false, "", `null`}, {false, "", ``}, {false, "", `{`},
		{true, "t", `{"url":"ws://127.0.0.1:9/t2"}`},
		{true, "t", `{"name":"other","url":"ws://127.0.0.1:9/t2"}`},
		{true, "nope", `{"url":"ws://127.0.0.1:9/"}`},
		{true, "a/b", `{"url":"ws://127.0.0.1:9/"}`},
		{true, "\x00", `{}`},
	} {
		f.Add(s.put, s.name, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, put bool, name string, body []byte) {
		method, path := "POST", "/api/targets"
		if put {
			switch name {
			case "", ".", "..", "/":
				// net/http never routes these to PUT /api/targets/{name}
				// (the path is cleaned): it answers 307, or 405 in
				// text/plain, not the JSON shape (reported, not fixed
				// here). config refuses them as target names.
				return
			}
			method, path = "PUT", "/api/targets/"+url.PathEscape(name)
		}
		u, err := url.ParseRequestURI(path)
		if err != nil {
			return
		}
		send := func(method string, u *url.URL, body []byte) *httptest.ResponseRecorder {
			r := httptest.NewRequest(method, "/", bytes.NewReader(body))
			r.URL, r.RequestURI = u, u.RequestURI()
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Fatalf("%s %s %q: status %d: %s", method, u, body, w.Code, w.Body)
			}
			if w.Code >= 400 {
				var e struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				if json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
					t.Fatalf("%s %s %q: status %d, not the JSON error shape: %s", method, u, body, w.Code, w.Body)
				}
			}
			return w
		}
		w := send(method, u, body)
		if w.Code != http.StatusCreated && w.Code != http.StatusOK {
			return
		}
		var got struct{ Name string }
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s %s: %s", method, u, w.Body)
		}
		// What was given, as the server's decoder reads it.
		var given config.Target
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&given); err != nil {
			t.Fatalf("%s %s accepted %q, which does not decode: %v", method, u, body, err)
		}
		if put {
			given.Name = name
		}
		want := cfg.ResolveTarget(given).Redacted()
		// A POST without a name is answered {"name": ""} though the target
		// is added under its URL's host:port (reported, not fixed here).
		if got.Name != want.Name && (put || given.Name != "") {
			t.Fatalf("%s %s %q: answered name %q, want %q", method, u, body, got.Name, want.Name)
		}
		listed := listed(t, h, want.Name)
		wantJSON, _ := json.Marshal(want)
		if string(listed) != string(wantJSON) {
			t.Fatalf("%s %s %q: listed as\n%s\nwant\n%s", method, u, body, listed, wantJSON)
		}
		if !put {
			del, _ := url.Parse("/api/targets/" + url.PathEscape(want.Name))
			if w := send("DELETE", del, nil); w.Code != http.StatusOK {
				t.Fatalf("DELETE %s: %d %s", del, w.Code, w.Body)
			}
		}
	})
}

// listed returns the config of target name as GET /api/targets lists it,
// normalised (decoded into config.Target and encoded again).
func listed(t *testing.T, h http.Handler, name string) []byte {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/targets", nil))
	var out struct {
		Targets []struct {
			Name   string        `json:"name"`
			Config config.Target `json:"config"`
		} `json:"targets"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &out) != nil {
		t.Fatalf("GET /api/targets: %d %s", w.Code, w.Body)
	}
	for _, x := range out.Targets {
		if x.Name == name {
			b, _ := json.Marshal(x.Config)
			return b
		}
	}
	t.Fatalf("GET /api/targets does not list %q: %s", name, w.Body)
	return nil
}
