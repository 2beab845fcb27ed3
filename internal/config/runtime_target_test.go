package config

import (
	"errors"
	"strings"
	"testing"
)

// TestRuntimeTarget: a target given at runtime inherits the top-level
// connection fields, is checked naming the key, and redacts its secrets.
func TestRuntimeTarget(t *testing.T) {
	c := Defaults()
	c.Headers = map[string]string{"User-Agent": "wsmon-test"}
	c.Protocol = "raw"
	r := c.ResolveTarget(Target{URL: "ws://127.0.0.1:9/x?token=abc"})
	if r.Name != "127.0.0.1:9" || r.Protocol != "raw" || r.Headers["User-Agent"] != "wsmon-test" {
		t.Fatalf("resolved %+v", r)
	}
	if err := CheckTarget(r); err != nil {
		t.Fatalf("good target: %v", err)
	}
	if red := r.Redacted(); strings.Contains(red.URL, "abc") || !strings.Contains(r.URL, "abc") {
		t.Fatalf("redacted %q (original %q)", red.URL, r.URL)
	}
	for _, c := range []struct {
		t   Target
		key string
	}{
		{Target{Name: "a", URL: "http://h/"}, "url"},
		{Target{Name: "a", URL: "ws://h/", Protocol: "nope"}, "protocol"},
		{Target{Name: "a", URL: "ws://h/", FieldMap: map[string]string{"nick": "a"}}, "field_map"},
		{Target{Name: "a", URL: "ws://h/", Headers: map[string]string{"Upgrade": "x"}}, "headers"},
		{Target{Name: "a", URL: "ws://h/", Auth: map[string]string{"user": "x"}}, "auth"},
		{Target{Name: "a\nb", URL: "ws://h/"}, "name"},
		{Target{Name: " ", URL: "ws://h/"}, "name"},
	} {
		err := CheckTarget(c.t)
		var ce *Error
		if !errors.As(err, &ce) || ce.Key != c.key || !strings.HasPrefix(err.Error(), c.key) {
			t.Errorf("%+v: %v, want an error on %s", c.t, err, c.key)
		}
	}
}
