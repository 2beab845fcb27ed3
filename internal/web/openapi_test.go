package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

// loadSpec decodes the embedded OpenAPI document (numbers as json.Number).
func loadSpec(t *testing.T) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(openAPISpec))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	return doc
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

// dig follows keys through nested objects; nil when one is missing.
func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = obj(m[k])
	}
	return m
}

// registeredRoutes greps the mux patterns out of server.go: "METHOD /path".
// The catch-all "GET /api/" (JSON 404) and the dashboard "GET /" are not
// API operations.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("server.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`\.Handle(?:Func)?\("([A-Z]+) ([^"]+)"`).FindAllStringSubmatch(string(src), -1) {
		if m[2] == "/api/" || m[2] == "/" {
			continue
		}
		out = append(out, m[1]+" "+m[2])
	}
	if len(out) < 12 {
		t.Fatalf("found only %d routes in server.go: %v", len(out), out)
	}
	sort.Strings(out)
	return out
}

func specOperations(doc map[string]any) []string {
	var out []string
	for path, item := range obj(doc["paths"]) {
		for method := range obj(item) {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				out = append(out, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadSpec(t)
	routes, ops := registeredRoutes(t), specOperations(doc)
	for _, r := range routes {
		if !slices.Contains(ops, r) {
			t.Errorf("route %q is registered in server.go but not described in openapi.json", r)
		}
	}
	for _, o := range ops {
		if !slices.Contains(routes, o) {
			t.Errorf("openapi.json describes %q, which server.go does not register", o)
		}
	}
}

func TestOpenAPIDocument(t *testing.T) {
	doc := loadSpec(t)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	info := obj(doc["info"])
	if info["version"] != "0.1.0" || info["title"] == nil {
		t.Errorf("info = %v", info)
	}
	comps := obj(doc["components"])
	for _, name := range []string{"Message", "Page", "SearchPage", "Stats", "TargetStatus", "Session", "Gap", "UserInfo", "Error"} {
		if obj(comps["schemas"])[name] == nil {
			t.Errorf("components.schemas.%s missing", name)
		}
	}
	sec := obj(comps["securitySchemes"])
	if b := obj(sec["bearerAuth"]); b["type"] != "http" || b["scheme"] != "bearer" {
		t.Errorf("bearerAuth = %v", b)
	}
	if b := obj(sec["basicAuth"]); b["type"] != "http" || b["scheme"] != "basic" {
		t.Errorf("basicAuth = %v", b)
	}
	if c := obj(sec["cookieAuth"]); c["type"] != "apiKey" || c["in"] != "cookie" || c["name"] != cookieName {
		t.Errorf("cookieAuth = %v", c)
	}
	// Open endpoints are marked so; the others inherit the global security.
	for path, item := range obj(doc["paths"]) {
		for method, op := range obj(item) {
			s, has := obj(op)["security"]
			open := openPath(httptest.NewRequest(strings.ToUpper(method), path, nil))
			if open != (has && len(s.([]any)) == 0) {
				t.Errorf("%s %s: security %v, open %v", method, path, s, open)
			}
			// Every operation documents its error responses.
			resp := obj(obj(op)["responses"])
			if resp["200"] == nil && resp["201"] == nil {
				t.Errorf("%s %s: no 200 or 201 response", method, path)
			}
			if !open && resp["401"] == nil {
				t.Errorf("%s %s: no 401 response", method, path)
			}
		}
	}
	for _, code := range []string{"BadParam", "Unauthorized", "NotFound", "Internal"} {
		if obj(comps["responses"])[code] == nil {
			t.Errorf("components.responses.%s missing", code)
		}
	}
	// Every $ref resolves.
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok {
				if resolve(doc, r) == nil {
					t.Errorf("%s: $ref %q does not resolve", at, r)
				}
			}
			for k, c := range v {
				walk(c, at+"/"+k)
			}
		case []any:
			for i, c := range v {
				walk(c, fmt.Sprintf("%s/%d", at, i))
			}
		}
	}
	walk(doc, "#")
	// The type filter's enum is what the code accepts.
	var types []string
	for _, e := range dig(comps, "parameters", "type", "schema")["enum"].([]any) {
		types = append(types, e.(string))
	}
	var valid []string
	for k := range validTypes {
		valid = append(valid, k)
	}
	sort.Strings(types)
	sort.Strings(valid)
	if !slices.Equal(types, valid) {
		t.Errorf("type enum %v, code accepts %v", types, valid)
	}
}

func resolve(doc map[string]any, ref string) map[string]any {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	var cur any = doc
	for _, seg := range strings.Split(p, "/") {
		cur = obj(cur)[seg]
	}
	return obj(cur)
}

// operationParams returns the resolved parameters of an operation.
func operationParams(doc map[string]any, method, path string) []map[string]any {
	var out []map[string]any
	ps, _ := dig(doc, "paths", path, method)["parameters"].([]any)
	for _, p := range ps {
		pm := obj(p)
		if r, ok := pm["$ref"].(string); ok {
			pm = resolve(doc, r)
		}
		out = append(out, pm)
	}
	return out
}

// Integer parameters: the spec's bounds and defaults are what the code
// enforces. Bounds are accepted, one past them is a bad_param error naming
// the parameter.
func TestOpenAPIIntegerBounds(t *testing.T) {
	f := newFixture(t)
	h := f.server(nil)
	doc := loadSpec(t)
	id := f.msgs[50].ID
	checked := 0
	for path, item := range obj(doc["paths"]) {
		if path == "/api/live" {
			continue // a stream; its parameters are strings
		}
		concrete := strings.ReplaceAll(strings.ReplaceAll(path, "{id}", fmt.Sprint(id)), "{name}", "u01")
		base := concrete + "?"
		if path == "/api/search" {
			base += "q=filler&"
		}
		for method := range obj(item) {
			if method != "get" {
				continue
			}
			for _, p := range operationParams(doc, method, path) {
				s := obj(p["schema"])
				if s["type"] != "integer" || p["in"] != "query" {
					continue
				}
				name := p["name"].(string)
				lo, _ := s["minimum"].(json.Number).Int64()
				hi, _ := s["maximum"].(json.Number).Int64()
				for _, c := range []struct {
					v  int64
					ok bool
				}{{lo, true}, {hi, true}, {lo - 1, false}, {hi + 1, false}} {
					w := do(t, h, "GET", fmt.Sprintf("%s%s=%d", base, name, c.v), nil)
					if c.ok && w.Code != 200 || !c.ok && w.Code != 400 {
						t.Errorf("GET %s %s=%d: status %d (spec range %d..%d)", path, name, c.v, w.Code, lo, hi)
					}
					if !c.ok && !strings.Contains(w.Body.String(), `"`+name+`: `) {
						t.Errorf("GET %s %s=%d: %s does not name the parameter", path, name, c.v, w.Body.String())
					}
				}
				checked++
			}
		}
	}
	if checked < 5 {
		t.Errorf("checked only %d integer parameters", checked)
	}
	// Defaults visible from outside.
	limitDefault, _ := obj(resolve(doc, "#/components/parameters/limit")["schema"])["default"].(json.Number).Int64()
	var p apiPage
	getJSON(t, h, "/api/messages", 200, &p)
	if int64(len(p.Messages)) != limitDefault {
		t.Errorf("default page has %d messages, spec default %d", len(p.Messages), limitDefault)
	}
	nDefault, _ := obj(resolve(doc, "#/components/parameters/n")["schema"])["default"].(json.Number).Int64()
	var c struct{ Messages []apiMsg }
	var alpha []fmsg
	for _, m := range f.msgs {
		if m.Target == "alpha" {
			alpha = append(alpha, m)
		}
	}
	if int64(len(alpha)) < 2*nDefault+1 {
		t.Fatalf("fixture: %d alpha messages", len(alpha))
	}
	getJSON(t, h, fmt.Sprintf("/api/messages/%d/context", alpha[len(alpha)/2].ID), 200, &c)
	if int64(len(c.Messages)) != 2*nDefault+1 {
		t.Errorf("default context has %d messages, spec default n=%d", len(c.Messages), nDefault)
	}
}

// validate checks v (decoded with UseNumber) against a schema of the
// subset of JSON Schema the document uses.
func validate(doc map[string]any, schema map[string]any, v any, at string) []string {
	if r, ok := schema["$ref"].(string); ok {
		return validate(doc, resolve(doc, r), v, at)
	}
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	if c, ok := schema["const"]; ok && !reflect.DeepEqual(c, v) {
		bad("%v is not the constant %v", v, c)
	}
	if e, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return reflect.DeepEqual(x, v) }) {
		bad("%v not in enum %v", v, e)
	}
	if typ, ok := schema["type"]; ok {
		var types []string
		switch typ := typ.(type) {
		case string:
			types = []string{typ}
		case []any:
			for _, x := range typ {
				types = append(types, x.(string))
			}
		}
		if !slices.Contains(types, jsonType(v)) && !(jsonType(v) == "integer" && slices.Contains(types, "number")) {
			bad("%s, want %v", jsonType(v), types)
			return errs
		}
	}
	switch v := v.(type) {
	case map[string]any:
		props := obj(schema["properties"])
		if req, ok := schema["required"].([]any); ok {
			for _, r := range req {
				if _, has := v[r.(string)]; !has {
					bad("missing required %q", r)
				}
			}
		}
		for k, val := range v {
			if ps, ok := props[k]; ok {
				errs = append(errs, validate(doc, obj(ps), val, at+"."+k)...)
			} else if schema["additionalProperties"] == false {
				bad("property %q not in the schema", k)
			}
		}
	case []any:
		if n, ok := schema["minItems"].(json.Number); ok {
			if m, _ := n.Int64(); int64(len(v)) < m {
				bad("%d items, min %d", len(v), m)
			}
		}
		if n, ok := schema["maxItems"].(json.Number); ok {
			if m, _ := n.Int64(); int64(len(v)) > m {
				bad("%d items, max %d", len(v), m)
			}
		}
		if items := obj(schema["items"]); items != nil {
			for i, x := range v {
				errs = append(errs, validate(doc, items, x, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case json.Number:
		x, _ := v.Float64()
		if n, ok := schema["minimum"].(json.Number); ok {
			if m, _ := n.Float64(); x < m {
				bad("%v < minimum %v", v, n)
			}
		}
		if n, ok := schema["maximum"].(json.Number); ok {
			if m, _ := n.Float64(); x > m {
				bad("%v > maximum %v", v, n)
			}
		}
	case string:
		switch schema["format"] {
		case "date-time":
			if _, err := time.Parse(timeLayout, v); err != nil || !strings.HasSuffix(v, "Z") || len(v) != len("2006-01-02T15:04:05.000Z") {
				bad("%q is not RFC 3339 UTC with milliseconds", v)
			}
		case "date":
			if _, err := time.Parse("2006-01-02", v); err != nil {
				bad("%q is not a date", v)
			}
		}
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(v) {
			bad("%q does not match %s", v, p)
		}
	}
	return errs
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func decodeNumber(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// Real responses conform to the schemas the document gives them.
func TestOpenAPIResponsesMatchSchemas(t *testing.T) {
	f := newFixture(t)
	doc := loadSpec(t)
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	status := func(context.Context) []TargetStatus {
		return []TargetStatus{
			{Target: "alpha", URL: "ws://127.0.0.1:9/alpha", State: "connected", Since: since, LastMessageAt: since},
			{Target: "beta", URL: "ws://127.0.0.1:9/beta", State: "stopped"},
		}
	}
	h := f.server(func(o *Options) { o.Status = status })
	withIngest := f.server(func(o *Options) {
		o.Ingest = func() IngestCounters {
			return IngestCounters{Duplicates: 3, IDCollisions: 1, JournalCorruptRecords: 2, JournalCorruptBytes: 70}
		}
	})
	authed := f.server(func(o *Options) { o.Token = testToken })
	broken := New(Options{Store: failingStore{}, Logger: discardLogger()})
	id := f.msgs[30].ID
	cases := []struct {
		handler      http.Handler
		method, path string
		body         string
		status       int
		specPath     string
	}{
		{h, "GET", "/api/stats", "", 200, "/api/stats"},
		{withIngest, "GET", "/api/stats", "", 200, "/api/stats"},
		{h, "GET", "/api/stats?target=beta&from=2020-01-01", "", 200, "/api/stats"},
		{h, "GET", "/api/messages?raw=1&limit=500", "", 200, "/api/messages"},
		{h, "GET", "/api/messages?limit=5", "", 200, "/api/messages"},
		{h, "GET", fmt.Sprintf("/api/messages/%d", id), "", 200, "/api/messages/{id}"},
		{h, "GET", fmt.Sprintf("/api/messages/%d/context?n=3", id), "", 200, "/api/messages/{id}/context"},
		{h, "GET", "/api/search?q=e&limit=5", "", 200, "/api/search"},
		{h, "GET", "/api/search?q=zzz", "", 200, "/api/search"},
		{h, "GET", "/api/users/u01", "", 200, "/api/users/{name}"},
		{h, "GET", "/api/sessions", "", 200, "/api/sessions"},
		{h, "GET", "/api/ui-config", "", 200, "/api/ui-config"},
		{h, "GET", "/healthz", "", 200, "/healthz"},
		{h, "POST", "/api/login", `{}`, 200, "/api/login"},
		{h, "GET", "/api/messages?limit=0", "", 400, "/api/messages"},
		{h, "GET", "/api/search", "", 400, "/api/search"},
		{h, "GET", "/api/messages/999999", "", 404, "/api/messages/{id}"},
		{h, "GET", "/api/users/nobody", "", 404, "/api/users/{name}"},
		{h, "POST", "/api/login", `nope`, 400, "/api/login"},
		{authed, "GET", "/api/stats", "", 401, "/api/stats"},
		{authed, "POST", "/api/login", `{"token":"x"}`, 401, "/api/login"},
		{broken, "GET", "/api/messages", "", 500, "/api/messages"},
		{broken, "GET", "/api/live", "", 503, "/api/live"},
	}
	for _, c := range cases {
		var hdr []string
		if c.method == "POST" {
			hdr = []string{"Content-Type", "application/json"}
		}
		w := do(t, c.handler, c.method, c.path, strings.NewReader(c.body), hdr...)
		if w.Code != c.status {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, w.Code, c.status)
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

	// The spec itself is served as-is.
	w := do(t, h, "GET", "/api/openapi.json", nil)
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), openAPISpec) || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Errorf("GET /api/openapi.json: %d %q", w.Code, w.Header().Get("Content-Type"))
	}

	// Live events conform to the schemas given in x-sse-events.
	events := dig(doc, "paths", "/api/live", "get", "responses", "200", "content", "text/event-stream", "x-sse-events")
	for _, name := range []string{"message", "status", "stats", "dropped"} {
		if events[name] == nil {
			t.Fatalf("x-sse-events has no %q", name)
		}
	}
	hub := newTestHub(10)
	srv := httptest.NewServer(f.server(func(o *Options) { o.Hub = hub; o.Status = status; o.RefreshInterval = 50 * time.Millisecond }))
	defer srv.Close()
	s := openLive(t, srv, "/api/live")
	defer s.close()
	seen := map[string]bool{}
	hub.Publish([]message.Message{liveMsg(1, "alice", "lobby")})
	for !seen["message"] || !seen["status"] || !seen["stats"] {
		ev := s.next()
		if events[ev.name] == nil {
			t.Fatalf("event %q not in the spec", ev.name)
		}
		seen[ev.name] = true
		for _, e := range validate(doc, obj(events[ev.name]), decodeNumber(t, []byte(ev.data)), "event "+ev.name) {
			t.Error(e)
		}
	}
	for _, e := range validate(doc, obj(events["dropped"]), decodeNumber(t, fmt.Appendf(nil, `{"missed":%d}`, 12)), "event dropped") {
		t.Error(e)
	}
}
