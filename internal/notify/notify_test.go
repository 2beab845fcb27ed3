package notify

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	hook := func(f func(*Config)) Config {
		c := Config{Name: "ops", Type: TypeWebhook, URL: "https://hooks.example.com/x"}
		if f != nil {
			f(&c)
		}
		return c
	}
	email := func(f func(*Config)) Config {
		c := Config{Name: "mail", Type: TypeEmail, SMTPHost: "smtp.example.com", From: "wsmon@example.com", To: []string{"ops@example.com"}}
		if f != nil {
			f(&c)
		}
		return c
	}
	tests := []struct {
		name string
		cfg  Config
		want string // "" valid, else the error's text
	}{
		{"webhook", hook(nil), ""},
		{"http ok", hook(func(c *Config) { c.URL = "http://127.0.0.1:9000/hook" }), ""},
		{"every chat type", Config{Name: "x", Type: TypeLark, URL: "https://open.larksuite.com/open-apis/bot/v2/hook/abc", Secret: "s"}, ""},
		{"no name", hook(func(c *Config) { c.Name = "" }), "name: required"},
		{"spaced name", hook(func(c *Config) { c.Name = " ops" }), `name: " ops" has leading or trailing spaces`},
		{"control in name", hook(func(c *Config) { c.Name = "a\nb" }), `name: "a\nb" has control characters or invalid UTF-8`},
		{"long name", hook(func(c *Config) { c.Name = strings.Repeat("告", 65) }), "name: longer than 64 characters"},
		{"no type", hook(func(c *Config) { c.Type = "" }), "type: required, one of webhook, slack, dingtalk, feishu, lark, wecom, email"},
		{"unknown type", hook(func(c *Config) { c.Type = "teams" }), `type: "teams" is not one of webhook, slack, dingtalk, feishu, lark, wecom, email`},
		{"no url", hook(func(c *Config) { c.URL = "" }), "url: required"},
		{"ftp url", hook(func(c *Config) { c.URL = "ftp://h/x" }), `url: must be http or https, got "ftp"`},
		{"hostless url", hook(func(c *Config) { c.URL = "https:///x" }), "url: has no host"},
		{"bad url", hook(func(c *Config) { c.URL = "https://h/%zz?token=SECRET" }), `url: not a URL: invalid URL escape "%zz"`},
		{"userinfo url", hook(func(c *Config) { c.URL = "https://u:p@h/x" }), "url: must not contain user:password@"},
		{"slack secret", Config{Name: "s", Type: TypeSlack, URL: "https://hooks.slack.com/services/T/B/X", Secret: "x"}, "secret: slack does not sign messages; leave it empty"},
		{"wecom secret", Config{Name: "s", Type: TypeWeCom, URL: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", Secret: "x"}, "secret: wecom does not sign messages; leave it empty"},
		{"smtp field on webhook", hook(func(c *Config) { c.SMTPHost = "smtp" }), "smtp_host: only for type email"},
		{"to on webhook", hook(func(c *Config) { c.To = []string{"a@b"} }), "to: only for type email"},
		{"bad template", hook(func(c *Config) { c.Template = "{{.Nope}}" }), `template: ops:1:2: executing "ops" at <.Nope>: can't evaluate field Nope in type *notify.Alert`},
		{"webhook template not JSON", hook(func(c *Config) { c.Template = `{"a": {{.Content}}}` }), "template: " + errNotJSON.Error()},

		{"email", email(nil), ""},
		{"email full", email(func(c *Config) {
			c.SMTPPort, c.Username, c.Password, c.TLS = 465, "u", "p", TLSImplicit
			c.From, c.To = `"wsmon 告警" <wsmon@example.com>`, []string{"a@example.com", "B <b@example.com>"}
		}), ""},
		{"email ipv6 host", email(func(c *Config) { c.SMTPHost = "::1"; c.TLS = TLSNone; c.Username = "u" }), ""},
		{"email url", email(func(c *Config) { c.URL = "https://x" }), "url: not used by type email (set smtp_host)"},
		{"email no host", email(func(c *Config) { c.SMTPHost = "" }), "smtp_host: required for type email"},
		{"email host with port", email(func(c *Config) { c.SMTPHost = "smtp.example.com:587" }), `smtp_host: "smtp.example.com:587" must be a host name or IP address (the port goes in smtp_port)`},
		{"email host injection", email(func(c *Config) { c.SMTPHost = "h\r\nRCPT TO:<x>" }), `smtp_host: "h\r\nRCPT TO:<x>" must be a host name or IP address (the port goes in smtp_port)`},
		{"email port", email(func(c *Config) { c.SMTPPort = 70000 }), "smtp_port: 70000 is not a port (1-65535, or 0 for the default)"},
		{"email tls mode", email(func(c *Config) { c.TLS = "ssl" }), `tls: "ssl" is not one of starttls, tls, none`},
		{"password without user", email(func(c *Config) { c.Password = "p" }), "password: set without username"},
		{"auth in clear", email(func(c *Config) { c.Username, c.TLS = "u", TLSNone }), `username: with tls "none" a password is only sent to localhost; use "starttls" or "tls" for smtp.example.com`},
		{"no from", email(func(c *Config) { c.From = "" }), "from: required for type email"},
		{"bad from", email(func(c *Config) { c.From = "not an address" }), `from: "not an address" is not an email address: mail: no angle-addr`},
		{"from injection", email(func(c *Config) { c.From = "a@example.com\r\nBcc: x@example.com" }), `from: "a@example.com\r\nBcc: x@example.com" is not an email address: mail: expected single address, got "\r\nBcc: x@example.com"`},
		{"no to", email(func(c *Config) { c.To = nil }), "to: at least one address is required for type email"},
		{"bad to", email(func(c *Config) { c.To = []string{"ok@example.com", "x"} }), `to[1]: "x" is not an email address: mail: missing '@' or angle-addr`},
		{"email secret", email(func(c *Config) { c.Secret = "s" }), "secret: email does not sign messages; leave it empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("error %v\nwant      %s", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error shows the URL's token: %v", err)
			}
		})
	}
}

func TestValidateAll(t *testing.T) {
	ok := Config{Name: "a", Type: TypeWebhook, URL: "https://h/x"}
	if err := ValidateAll([]Config{ok, {Name: "b", Type: TypeSlack, URL: "https://h/y"}}); err != nil {
		t.Errorf("valid list: %v", err)
	}
	if err := ValidateAll(nil); err != nil {
		t.Errorf("empty list: %v", err)
	}
	tests := []struct {
		cfgs []Config
		want string
	}{
		{[]Config{ok, {Name: "b", Type: TypeWebhook, URL: "ftp://h"}}, `notifiers[1].url: must be http or https, got "ftp"`},
		{[]Config{ok, {Name: "x", Type: "x"}}, `notifiers[1].type: "x" is not one of webhook, slack, dingtalk, feishu, lark, wecom, email`},
		{[]Config{ok, ok}, `notifiers[1].name: "a" is already the name of notifiers[0]`},
	}
	for _, tt := range tests {
		if err := ValidateAll(tt.cfgs); err == nil || err.Error() != tt.want {
			t.Errorf("error %v, want %s", err, tt.want)
		}
		if _, err := NewDispatcher(tt.cfgs, Options{}); err == nil || err.Error() != tt.want {
			t.Errorf("NewDispatcher error %v, want %s", err, tt.want)
		}
	}
}

func TestRedacted(t *testing.T) {
	c := Config{Name: "x", Type: TypeDingTalk, URL: "https://oapi.dingtalk.com/robot/send?access_token=TOKEN", Secret: "SEC",
		Password: "pw", To: []string{"a@b"}}
	r := c.Redacted()
	if r.URL != "https://oapi.dingtalk.com/***" || r.Secret != Mask || r.Password != Mask {
		t.Errorf("redacted %+v", r)
	}
	r.To[0] = "changed"
	if c.To[0] != "a@b" {
		t.Error("Redacted shares To with the original")
	}
	if got := (Config{URL: "https://h"}).Redacted().URL; got != "https://h" {
		t.Errorf("bare host redacted to %q", got)
	}
	if got := (Config{}).Redacted(); got.URL != "" || got.Secret != "" || got.Password != "" {
		t.Errorf("empty config redacted to %+v", got)
	}
}
