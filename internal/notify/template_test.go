package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func render(t *testing.T, typ, tmpl string, a Alert) (string, error) {
	t.Helper()
	c := Config{Name: "t", Type: typ, Template: tmpl}
	r, err := newRenderer(c)
	if err != nil {
		return "", err
	}
	out, err := r.render(&a)
	return string(out), err
}

func TestWebhookTemplateEscapesValues(t *testing.T) {
	a := testAlert()
	a.User = "bob\"}, \"admin\": true, \"x\": {\"y\":\"\u2028"
	tests := []struct {
		name string
		tmpl string
		want map[string]any // decoded body
	}{
		{"quoted values", `{"text": "{{.User}} said {{.Content}}", "id": {{.ID}}, "rule": "{{.Rule}}"}`,
			map[string]any{"text": a.User + " said " + a.Content, "id": float64(42), "rule": "urgent"}},
		{"json function", `{"content": {{json .Content}}, "at": {{json .At}}, "user": {{.User | json}}}`,
			map[string]any{"content": a.Content, "at": "2026-03-01T12:30:00Z", "user": a.User}},
		{"if else", `{"m": {{if .MessageID}}{{.MessageID}}{{else}}null{{end}}, "r": "{{if eq .RuleType "keyword"}}{{.Detail}}{{end}}"}`,
			map[string]any{"m": float64(7), "r": a.Detail}},
		{"with and variables", `{{$u := .User}}{{with .Room}}{"room": "{{.}}", "user": "{{$u}}"}{{end}}`,
			map[string]any{"room": "lobby", "user": a.User}},
		{"printf", `{"s": "{{printf "%s/%d" .Target .MessageID}}"}`, map[string]any{"s": "demo/7"}},
		{"define", `{{define "who"}}{{.User}}{{end}}{"who": "{{template "who" .}}"}`, map[string]any{"who": a.User}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := render(t, TypeWebhook, tt.tmpl, a)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, out)
			}
			if len(got) != len(tt.want) {
				t.Errorf("keys %v, want %v (injected?)", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %#v, want %#v", k, got[k], v)
				}
			}
		})
	}
}

func TestWebhookDefaultBody(t *testing.T) {
	a := testAlert()
	out, err := render(t, TypeWebhook, "", a)
	if err != nil {
		t.Fatal(err)
	}
	var got Alert
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got != a {
		t.Errorf("decoded %+v, want %+v", got, a)
	}
}

func TestTemplateErrors(t *testing.T) {
	tests := []struct {
		typ, tmpl, want string
	}{
		{TypeWebhook, `{"text": {{.Content}}}`, "not valid JSON"},           // a string value outside quotes
		{TypeWebhook, `{"text": "{{.Nope}}"}`, "can't evaluate field Nope"}, // unknown field
		{TypeWebhook, `{{.Content`, "unclosed action"},
		{TypeWebhook, `not json`, "not valid JSON"},
		{TypeSlack, `   `, "empty message"},
		{TypeSlack, `{{range .Content}}x{{end}}`, "range is not supported"},
		{TypeDingTalk, `{{template "missing"}}`, `template "missing" not defined`},
	}
	for _, tt := range tests {
		_, err := render(t, tt.typ, tt.tmpl, testAlert())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %q: error %v, want %q", tt.typ, tt.tmpl, err, tt.want)
		}
	}
}

func TestTextEscaping(t *testing.T) {
	a := testAlert()
	a.User = "<!here>&<@all>"
	// The operator's own markup (<!channel>) stays; the values' is escaped.
	tests := []struct{ typ, tmpl, want string }{
		{TypeSlack, "{{.User}} <!channel>", "&lt;!here&gt;&amp;&lt;@all&gt; <!channel>"},
		{TypeFeishu, "{{.User}}", "＜!here>&＜@all>"},
		{TypeLark, "{{.User}}", "＜!here>&＜@all>"},
		{TypeWeCom, "{{.User}} <@ops>", "＜!here>&＜@all> <@ops>"},
		{TypeDingTalk, "{{.User}}", a.User},
		{TypeEmail, "{{.User}}", a.User},
	}
	for _, tt := range tests {
		out, err := render(t, tt.typ, tt.tmpl, a)
		if err != nil {
			t.Fatalf("%s: %v", tt.typ, err)
		}
		if out != tt.want {
			t.Errorf("%s: %q, want %q", tt.typ, out, tt.want)
		}
	}
}

func TestDefaultText(t *testing.T) {
	a := testAlert()
	out, err := render(t, TypeDingTalk, "", a)
	if err != nil {
		t.Fatal(err)
	}
	want := "[wsmon] urgent: keyword \"紧急\" from mallory in #lobby\ntarget demo · room lobby · user mallory\n“" + a.Content +
		"”\nalert 42 · message 7 · 2026-03-01 12:30:00 UTC"
	if out != want {
		t.Errorf("default text\n%s\nwant\n%s", out, want)
	}
	// A rate alert: no room, user, content or message.
	a = Alert{ID: 3, Rule: "flood", RuleType: "rate", Target: "demo", Detail: "12 messages in 1 min", At: a.At}
	out, _ = render(t, TypeDingTalk, "", a)
	if want := "[wsmon] flood: 12 messages in 1 min\ntarget demo\nalert 3 · 2026-03-01 12:30:00 UTC"; out != want {
		t.Errorf("rate alert text\n%s\nwant\n%s", out, want)
	}
}

func TestTextLimits(t *testing.T) {
	a := testAlert()
	a.Content = strings.Repeat("紧", 5000)
	for _, typ := range []string{TypeSlack, TypeDingTalk, TypeFeishu, TypeWeCom, TypeEmail} {
		out, err := render(t, typ, "", a)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) > textLimit(typ) || !utf8.ValidString(out) {
			t.Errorf("%s: %d bytes (limit %d), valid UTF-8 %v", typ, len(out), textLimit(typ), utf8.ValidString(out))
		}
		if n := strings.Count(out, "紧"); n > maxTextContent {
			t.Errorf("%s: %d characters of content", typ, n)
		}
	}
	if got := cutRunes("abcdef", 3); got != "ab"+Ellipsis {
		t.Errorf("cutRunes %q", got)
	}
	if got := cutBytes("ab紧x", 5); got != "ab"+Ellipsis {
		t.Errorf("cutBytes %q", got)
	}
}

func TestTemplateOutputBounded(t *testing.T) {
	a := testAlert()
	a.Content = strings.Repeat("x", MaxContent)
	tmpl := `"` + strings.Repeat("{{.Content}}", 40) + `"`
	if _, err := render(t, TypeWebhook, tmpl, a); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("unbounded output: %v", err)
	}
}

func TestTemplateBounds(t *testing.T) {
	tests := []struct{ tmpl, want string }{
		{`{{range 1000000000}}x{{end}}`, "range is not supported"},
		{`{{if .ID}}{{range 3}}{{end}}{{end}}`, "range is not supported"},
		{`{{printf "%01000000000d" 1}}`, "width or precision over 999"},
		{`{{printf "%.5000f" 1.0}}`, "width or precision over 999"},
		{`{{printf "%*d" 1000000000 1}}`, "* width"},
		{`{{define "a"}}{{template "a" .}}{{end}}{{template "a" .}}`, "exceeded maximum template depth"},
	}
	for _, tt := range tests {
		_, err := render(t, TypeSlack, tt.tmpl, testAlert())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.tmpl, err, tt.want)
		}
	}
	for _, ok := range []string{`{{printf "%5d|%-10s|%.2f|%[1]d|%%" .ID .User 1.5}}`, `{{printf "%x" .Content}}`} {
		if _, err := render(t, TypeSlack, ok, testAlert()); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}
