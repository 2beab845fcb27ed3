// Package notify owns delivering alerts to the operator's notification
// sinks: a generic JSON webhook (optionally templated and signed), the
// ready-made formats of Slack incoming webhooks, DingTalk, Feishu/Lark and
// WeCom group bots (with the signatures those platforms use), and email
// over SMTP.
//
// A Dispatcher holds one bounded queue and one delivery goroutine per
// sink. Send never blocks: an alert that does not fit a sink's queue is
// dropped and counted. Each sink delivers its alerts in order, retrying
// transient failures (network errors, 5xx, 429 with its Retry-After, the
// platforms' "try later" codes) with exponential backoff and jitter up to
// Options.MaxAttempts; other failures give up at once. A dead or slow
// sink therefore cannot grow memory, block the caller or delay another
// sink.
//
// Alert text is attacker-controlled (it quotes chat messages): templates
// are text/template, never shell or HTML, and every value a template
// prints is escaped for where it goes (JSON string content for webhook
// bodies, the platform's mention markup for chat bots); email headers
// carry no CR or LF from an alert.
package notify

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Alert is one rule hit to deliver. Every string field but Rule and
// RuleType may come from the monitored chat, so none is trusted.
type Alert struct {
	ID        int64     `json:"id"`                   // alert id (stored alert history); receivers deduplicate on it
	Rule      string    `json:"rule"`                 // rule name
	RuleType  string    `json:"rule_type"`            // keyword, regex, user, rate, silence, connection
	Target    string    `json:"target"`               // target name
	Room      string    `json:"room,omitempty"`       // room of the message, if any
	User      string    `json:"user,omitempty"`       // sender of the message, if any
	Content   string    `json:"content,omitempty"`    // the message's content (attacker-controlled text)
	MessageID int64     `json:"message_id,omitempty"` // 0 for rate/silence/connection alerts
	Detail    string    `json:"detail"`               // human summary, e.g. `keyword "紧急" from alice in #lobby`
	At        time.Time `json:"at"`                   // when the rule hit
}

// MaxContent is the most of Alert.Content a queued alert keeps: Send cuts
// a longer content at a character boundary and ends it with Ellipsis, so
// a full queue holds a bounded number of bytes. The whole message is in
// the store under MessageID.
const MaxContent = 8 << 10

// Ellipsis ends a text cut short.
const Ellipsis = "…"

// Sink types (Config.Type).
const (
	TypeWebhook  = "webhook"
	TypeSlack    = "slack"
	TypeDingTalk = "dingtalk"
	TypeFeishu   = "feishu"
	TypeLark     = "lark" // Lark, Feishu's international edition: the same bot API
	TypeWeCom    = "wecom"
	TypeEmail    = "email"
)

// types lists the valid Config.Type values.
var types = []string{TypeWebhook, TypeSlack, TypeDingTalk, TypeFeishu, TypeLark, TypeWeCom, TypeEmail}

// Types returns the valid Config.Type values, in the order errors list
// them.
func Types() []string { return slices.Clone(types) }

// Email TLS modes (Config.TLS).
const (
	// TLSStartTLS (the default) upgrades the connection with STARTTLS
	// and fails when the server does not offer it: credentials and alert
	// text never cross the network in clear. Default port 587.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS). Default port 465.
	TLSImplicit = "tls"
	// TLSNone never uses TLS, for a relay on the same host or network.
	// net/smtp then refuses to send a password unless the host is
	// localhost, 127.0.0.1 or ::1. Default port 25.
	TLSNone = "none"
)

// Config is one configured sink (config key `notifiers`, a list of these).
// Validate reports what is wrong with it.
type Config struct {
	// Name is how rules refer to the sink (their `notify` list); unique.
	Name string `json:"name"`
	// Type is one of Types().
	Type string `json:"type"`
	// URL is the webhook or bot URL (every type but email), http or https.
	URL string `json:"url,omitempty"`
	// Secret signs requests: webhook (X-Wsmon-Signature, HMAC-SHA256 of
	// the body), dingtalk and feishu/lark (the bot's signing secret, the
	// "加签" / "签名校验" security setting). Slack, WeCom and email have
	// no signing; a secret there is an error.
	Secret string `json:"secret,omitempty"`
	// Template is a text/template. For webhook it renders the request
	// body, which must be JSON (default: the Alert as JSON); every value
	// it prints is escaped as JSON string content, so write
	// `"text": "{{.Content}}"`, or `{{json .Content}}` for a whole JSON
	// value. For the other types it renders the message text (default:
	// DefaultText). The data is the Alert.
	Template string `json:"template,omitempty"`

	// Email over SMTP.
	SMTPHost string   `json:"smtp_host,omitempty"`
	SMTPPort int      `json:"smtp_port,omitempty"` // default by TLS mode: 587, 465 or 25
	Username string   `json:"username,omitempty"`  // AUTH PLAIN when set
	Password string   `json:"password,omitempty"`
	From     string   `json:"from,omitempty"` // RFC 5322 address, e.g. `wsmon <wsmon@example.com>`
	To       []string `json:"to,omitempty"`   // one or more addresses
	// TLS is the email TLS mode: TLSStartTLS (default, required),
	// TLSImplicit or TLSNone.
	TLS string `json:"tls,omitempty"`
}

// maxName bounds Config.Name.
const maxName = 64

// Validate checks c alone and returns nil or an error whose text starts
// with the offending key, e.g. `url: must be http or https, got "ftp"`.
// A template is parsed and executed on a sample alert, so a mistake in it
// is reported here rather than at the first delivery. ValidateAll checks
// a list and prefixes the errors with `notifiers[i].`.
func (c Config) Validate() error {
	if err := validName(c.Name); err != nil {
		return fmt.Errorf("name: %w", err)
	}
	if !slices.Contains(types, c.Type) {
		if c.Type == "" {
			return fmt.Errorf("type: required, one of %s", strings.Join(types, ", "))
		}
		return fmt.Errorf("type: %q is not one of %s", c.Type, strings.Join(types, ", "))
	}
	if c.Type == TypeEmail {
		if err := c.validateEmail(); err != nil {
			return err
		}
	} else {
		if err := validURL(c.URL); err != nil {
			return fmt.Errorf("url: %w", err)
		}
		if err := c.noEmailFields(); err != nil {
			return err
		}
	}
	if c.Secret != "" && (c.Type == TypeSlack || c.Type == TypeWeCom || c.Type == TypeEmail) {
		return fmt.Errorf("secret: %s does not sign messages; leave it empty", c.Type)
	}
	if _, err := newRenderer(c); err != nil {
		// text/template's errors start with "template: " already.
		return fmt.Errorf("template: %s", strings.TrimPrefix(err.Error(), "template: "))
	}
	return nil
}

// ValidateAll checks every config and that names are unique; errors name
// the config by its index, e.g. `notifiers[0].url: must be http or https`.
func ValidateAll(cfgs []Config) error {
	seen := make(map[string]int, len(cfgs))
	for i, c := range cfgs {
		if err := c.Validate(); err != nil {
			return fmt.Errorf("notifiers[%d].%w", i, err)
		}
		if j, dup := seen[c.Name]; dup {
			return fmt.Errorf("notifiers[%d].name: %q is already the name of notifiers[%d]", i, c.Name, j)
		}
		seen[c.Name] = i
	}
	return nil
}

func validName(n string) error {
	switch {
	case n == "":
		return errors.New("required")
	case strings.TrimSpace(n) != n:
		return fmt.Errorf("%q has leading or trailing spaces", n)
	case utf8.RuneCountInString(n) > maxName:
		return fmt.Errorf("longer than %d characters", maxName)
	case !utf8.ValidString(n) || strings.ContainsFunc(n, unicode.IsControl):
		return fmt.Errorf("%q has control characters or invalid UTF-8", n)
	}
	return nil
}

func validURL(s string) error {
	if s == "" {
		return errors.New("required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %v", unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("has no host")
	}
	if u.User != nil {
		return errors.New("must not contain user:password@")
	}
	return nil
}

// unwrapURLError drops url.Parse's quoting of the whole URL (which may
// hold a token) from its error.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

func (c Config) noEmailFields() error {
	switch {
	case c.SMTPHost != "":
		return errors.New("smtp_host: only for type email")
	case c.SMTPPort != 0:
		return errors.New("smtp_port: only for type email")
	case c.Username != "":
		return errors.New("username: only for type email")
	case c.Password != "":
		return errors.New("password: only for type email")
	case c.From != "":
		return errors.New("from: only for type email")
	case len(c.To) > 0:
		return errors.New("to: only for type email")
	case c.TLS != "":
		return errors.New("tls: only for type email")
	}
	return nil
}

func (c Config) validateEmail() error {
	switch {
	case c.URL != "":
		return errors.New("url: not used by type email (set smtp_host)")
	case c.SMTPHost == "":
		return errors.New("smtp_host: required for type email")
	case net.ParseIP(c.SMTPHost) == nil && strings.ContainsFunc(c.SMTPHost, func(r rune) bool {
		return r <= ' ' || r == '/' || r == ':' || r == '[' || r == ']' || r == '@' || r == 0x7f
	}):
		return fmt.Errorf("smtp_host: %q must be a host name or IP address (the port goes in smtp_port)", c.SMTPHost)
	case c.SMTPPort < 0 || c.SMTPPort > 65535:
		return fmt.Errorf("smtp_port: %d is not a port (1-65535, or 0 for the default)", c.SMTPPort)
	case c.TLS != "" && c.TLS != TLSStartTLS && c.TLS != TLSImplicit && c.TLS != TLSNone:
		return fmt.Errorf("tls: %q is not one of %s, %s, %s", c.TLS, TLSStartTLS, TLSImplicit, TLSNone)
	case c.Password != "" && c.Username == "":
		return errors.New("password: set without username")
	case c.Username != "" && c.TLS == TLSNone && !isLoopbackHost(c.SMTPHost):
		return fmt.Errorf("username: with tls %q a password is only sent to localhost; use %q or %q for %s", TLSNone, TLSStartTLS, TLSImplicit, c.SMTPHost)
	case c.From == "":
		return errors.New("from: required for type email")
	case len(c.To) == 0:
		return errors.New("to: at least one address is required for type email")
	}
	if _, err := parseAddress(c.From); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	for i, t := range c.To {
		if _, err := parseAddress(t); err != nil {
			return fmt.Errorf("to[%d]: %w", i, err)
		}
	}
	return nil
}

// parseAddress parses one RFC 5322 address. net/mail refuses CR and LF,
// so an address can never smuggle a header.
func parseAddress(s string) (*mail.Address, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not an email address: %v", s, err)
	}
	return a, nil
}

// Mask replaces secret values in Redacted output.
const Mask = "***"

// Redacted returns a copy of c safe to log or show: Secret and Password
// are masked, and the URL keeps only its scheme and host (bot and webhook
// URLs carry their token in the path or query). Empty values stay empty.
func (c Config) Redacted() Config {
	r := c
	r.To = slices.Clone(c.To)
	if r.Secret != "" {
		r.Secret = Mask
	}
	if r.Password != "" {
		r.Password = Mask
	}
	r.URL = redactURL(c.URL)
	return r
}

// redactURL keeps scheme and host of a URL, which is what may be shown of
// a bot URL (Slack and WeCom put the credential in the path or query).
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return Mask
	}
	out := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		out += "/" + Mask
	}
	return out
}

// isLoopbackHost reports whether net/smtp's PlainAuth sends a password to
// host without TLS (it allows exactly these names).
func isLoopbackHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
