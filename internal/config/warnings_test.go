package config

import (
	"strings"
	"testing"

	"github.com/wsmon/wsmon/internal/rules"
)

func TestWarnings(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // "" = no warning
	}{
		{"defaults", func(*Config) {}, ""},
		{"opt-out on a public bind", func(c *Config) { c.WebHost, c.WebInsecureNoAuth = "0.0.0.0", true },
			"web_insecure_no_auth is true: the dashboard and API on 0.0.0.0 are open without authentication"},
		{"opt-out on loopback", func(c *Config) { c.WebInsecureNoAuth = true }, ""},
		{"opt-out with a token", func(c *Config) { c.WebHost, c.WebInsecureNoAuth, c.WebToken = "0.0.0.0", true, "x" }, ""},
		{"anomaly rule, detection off", func(c *Config) {
			off := false
			c.Rules, c.AnomalyDetection = []rules.Rule{{Name: "a", Type: rules.TypeAnomaly}}, &off
		},
			`rule "a" is an anomaly rule, but anomaly_detection is off`},
		{"anomaly rule, detection on", func(c *Config) {
			on := true
			c.Rules, c.AnomalyDetection = []rules.Rule{{Name: "a", Type: rules.TypeAnomaly}}, &on
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.mutate(&c)
			got := strings.Join(c.Warnings(), "\n")
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("Warnings() = %q, want %q", got, tt.want)
			}
		})
	}
}
