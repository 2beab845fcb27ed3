package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/config"
)

// fakeManager records calls and answers with err.
type fakeManager struct {
	calls []string
	err   error
}

func (f *fakeManager) AddTarget(_ context.Context, t config.Target) error {
	f.calls = append(f.calls, "add "+t.Name+" "+t.URL)
	return f.err
}
func (f *fakeManager) UpdateTarget(_ context.Context, name string, t config.Target) error {
	f.calls = append(f.calls, "update "+name+" "+t.URL)
	return f.err
}
func (f *fakeManager) PauseTarget(_ context.Context, name string) error {
	f.calls = append(f.calls, "pause "+name)
	return f.err
}
func (f *fakeManager) ResumeTarget(_ context.Context, name string) error {
	f.calls = append(f.calls, "resume "+name)
	return f.err
}
func (f *fakeManager) RemoveTarget(_ context.Context, name string) error {
	f.calls = append(f.calls, "remove "+name)
	return f.err
}

// TestTargetRoutes: the target routes call the manager, map its errors
// to their statuses, refuse cross-site and non-JSON requests, answer 409
// without a manager, and every response matches the OpenAPI schema.
func TestTargetRoutes(t *testing.T) {
	f := newFixture(t)
	doc := loadSpec(t)
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	list := func(context.Context) ([]TargetInfo, error) {
		return []TargetInfo{
			{Config: config.Target{Name: "a", URL: "ws://h/?token=***", Protocol: "raw", Subscribe: []string{"x"}}, Source: "config", State: "connected", Since: since, ProtocolInUse: "raw"},
			{Config: config.Target{Name: "b", URL: "ws://h/b"}, Source: "api", State: "refused", Stopped: "refused", LastError: "refused"},
		}, nil
	}
	mgr := &fakeManager{}
	h := f.server(func(o *Options) { o.Targets = list; o.Manager = mgr })
	readOnly := f.server(func(o *Options) { o.Targets = list })
	json := []string{"Content-Type", "application/json"}
	cases := []struct {
		handler              http.Handler
		method, path, body   string
		hdr                  []string
		status               int
		specPath, wantInBody string
	}{
		{h, "GET", "/api/targets", "", nil, 200, "/api/targets", `"managed":true`},
		{readOnly, "GET", "/api/targets", "", nil, 200, "/api/targets", `"managed":false`},
		{h, "POST", "/api/targets", `{"name":"c","url":"ws://h/c"}`, json, 201, "/api/targets", `"c"`},
		{h, "POST", "/api/targets", `{"name":"c","url":"ws://h/c","nope":1}`, json, 400, "/api/targets", "nope: unknown key"},
		{h, "POST", "/api/targets", `{"name":"c","subscribe":"x"}`, json, 400, "/api/targets", "subscribe: must be a JSON array"},
		{h, "POST", "/api/targets", ``, json, 400, "/api/targets", "body"},
		{h, "POST", "/api/targets", `{"name":"c"}`, nil, 415, "/api/targets", "Content-Type"},
		{h, "POST", "/api/targets", `{"name":"c"}`, append([]string{"Origin", "http://evil.example"}, json...), 403, "/api/targets", "cross-origin"},
		{h, "POST", "/api/targets", `{"name":"c"}`, append([]string{"Sec-Fetch-Site", "cross-site"}, json...), 403, "/api/targets", "cross-site"},
		{h, "PUT", "/api/targets/a", `{"url":"ws://h/a2"}`, json, 200, "/api/targets/{name}", `"a"`},
		{h, "POST", "/api/targets/a/pause", ``, append([]string{"Origin", "http://example.com"}, json...), 200, "/api/targets/{name}/pause", `"a"`},
		{h, "POST", "/api/targets/a/resume", ``, json, 200, "/api/targets/{name}/resume", `"a"`},
		{h, "DELETE", "/api/targets/a", ``, json, 200, "/api/targets/{name}", `"a"`},
		{readOnly, "POST", "/api/targets", `{"name":"c","url":"ws://h/c"}`, json, 409, "/api/targets", "managed by the monitor process"},
		{readOnly, "DELETE", "/api/targets/a", ``, json, 409, "/api/targets/{name}", "managed by the monitor process"},
	}
	for _, c := range cases {
		w := do(t, c.handler, c.method, c.path, strings.NewReader(c.body), c.hdr...)
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.wantInBody) {
			t.Errorf("%s %s: %d %s, want %d with %q", c.method, c.path, w.Code, w.Body, c.status, c.wantInBody)
			continue
		}
		resp := dig(doc, "paths", c.specPath, strings.ToLower(c.method), "responses", fmt.Sprint(c.status))
		if r, ok := resp["$ref"].(string); ok {
			resp = resolve(doc, r)
		}
		schema := dig(resp, "content", "application/json", "schema")
		if schema == nil {
			t.Errorf("%s %s: no JSON schema for status %d in the spec", c.method, c.path, c.status)
			continue
		}
		for _, e := range validate(doc, schema, decodeNumber(t, w.Body.Bytes()), c.method+" "+c.path) {
			t.Error(e)
		}
	}
	want := "add c ws://h/c|update a ws://h/a2|pause a|resume a|remove a"
	if got := strings.Join(mgr.calls, "|"); got != want {
		t.Errorf("manager calls %q, want %q", got, want)
	}

	// The manager's errors map to statuses.
	for _, c := range []struct {
		err    error
		status int
		body   string
	}{
		{ErrTargetExists, 409, `"exists"`},
		{ErrTargetNotFound, 404, `no target`},
		{config.Errorf("options.qos", "options.qos: must be 0, 1 or 2"), 400, `options.qos: must be`},
		{fmt.Errorf("disk on fire"), 500, `internal`},
	} {
		mgr.err = c.err
		w := do(t, h, "POST", "/api/targets", strings.NewReader(`{"name":"c","url":"ws://h/c"}`), json...)
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.body) {
			t.Errorf("manager error %v: %d %s", c.err, w.Code, w.Body)
		}
	}
}
