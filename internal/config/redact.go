package config

import (
	"encoding/json"
	"github.com/wsmon/wsmon/internal/notify"
	"log/slog"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Mask replaces secret values in Redacted output.
const Mask = "***"

// Redacted returns a copy of c that is safe to log: web_token,
// web_password, the password in database_url, the values of credential
// headers (Authorization, Proxy-Authorization, Cookie and any header whose
// name contains "token", "secret" or "key", in headers and
// sentiment_classifier_headers), passwords and credential-like query
// parameters (token, key, secret, pass, auth, sig, session) in target URLs
// and sentiment_classifier_url, the path and query of notify_webhook_url (webhook URLs embed their
// secret in the path) and the send_on_connect frames (often login messages)
// are replaced by Mask. Empty values stay empty so the output still shows
// what is unset. c is not modified.
func (c Config) Redacted() Config {
	r := c
	r.WebToken = maskIfSet(c.WebToken)
	r.WebPassword = maskIfSet(c.WebPassword)
	r.DatabaseURL = redactDSN(c.DatabaseURL)
	r.WebsocketURL = redactURL(c.WebsocketURL)
	r.NotifyWebhook = redactWebhook(c.NotifyWebhook)
	if c.Notifiers != nil {
		r.Notifiers = make([]notify.Config, len(c.Notifiers))
		for i, n := range c.Notifiers {
			r.Notifiers[i] = n.Redacted()
		}
	}
	r.Headers = redactHeaders(c.Headers)
	r.SentimentClassifierURL = redactURL(c.SentimentClassifierURL)
	r.SentimentClassifierHeaders = redactHeaders(c.SentimentClassifierHeaders)
	r.SendOnConnect = redactFrames(c.SendOnConnect)
	r.NotificationKeywords = slices.Clone(c.NotificationKeywords)
	r.Subprotocols = slices.Clone(c.Subprotocols)
	r.WebAllowedHosts = slices.Clone(c.WebAllowedHosts)
	r.WebTrustedProxies = slices.Clone(c.WebTrustedProxies)
	r.FieldMap = maps.Clone(c.FieldMap)
	r.Auth = redactAuth(c.Auth)
	r.Options = maps.Clone(c.Options)
	if c.ReconnectBackoff != nil {
		b := *c.ReconnectBackoff
		r.ReconnectBackoff = &b
	}
	if c.MessageLog != nil {
		b := *c.MessageLog
		r.MessageLog = &b
	}
	if c.AnalysisTerms != nil {
		b := *c.AnalysisTerms
		r.AnalysisTerms = &b
	}
	if c.AnalysisSentiment != nil {
		b := *c.AnalysisSentiment
		r.AnalysisSentiment = &b
	}
	if c.AnalysisBehaviour != nil {
		b := *c.AnalysisBehaviour
		r.AnalysisBehaviour = &b
	}
	r.TermsStopWords = slices.Clone(c.TermsStopWords)
	if c.AnomalyDetection != nil {
		b := *c.AnomalyDetection
		r.AnomalyDetection = &b
	}
	if c.Targets != nil {
		r.Targets = make([]Target, len(c.Targets))
		for i, t := range c.Targets {
			t = t.clone()
			t.URL = redactURL(t.URL)
			t.Headers = redactHeaders(t.Headers)
			t.SendOnConnect = redactFrames(t.SendOnConnect)
			t.Auth = redactAuth(t.Auth)
			r.Targets[i] = t
		}
	}
	return r
}

// String returns c.Redacted() as compact JSON, so printing a Config with
// fmt never shows secrets.
func (c Config) String() string {
	b, err := json.Marshal(c.Redacted())
	if err != nil {
		return "config: " + err.Error()
	}
	return string(b)
}

// LogValue makes slog log the redacted form (see String) with any handler.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// redactAuth masks the password and token of an auth map.
func redactAuth(a map[string]string) map[string]string {
	if a == nil {
		return nil
	}
	out := maps.Clone(a)
	for _, k := range []string{"password", "token"} {
		if v, ok := out[k]; ok {
			out[k] = maskIfSet(v)
		}
	}
	return out
}

func maskIfSet(s string) string {
	if s == "" {
		return ""
	}
	return Mask
}

// isSecretName reports whether a header or query parameter name suggests a
// credential.
func isSecretName(name string, words ...string) bool {
	n := strings.ToLower(name)
	for _, w := range words {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func redactHeaders(h map[string]string) map[string]string {
	if h == nil {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		switch {
		case strings.EqualFold(k, "authorization"), strings.EqualFold(k, "proxy-authorization"),
			strings.EqualFold(k, "cookie"), isSecretName(k, "token", "secret", "key"):
			out[k] = maskIfSet(v)
		default:
			out[k] = v
		}
	}
	return out
}

func redactFrames(frames []string) []string {
	if frames == nil {
		return nil
	}
	out := make([]string, len(frames))
	for i, f := range frames {
		out[i] = Mask + " (" + strconv.Itoa(len(f)) + " bytes)"
	}
	return out
}

// redactURL masks the password and credential-like query parameters of a
// URL. A URL that does not parse is masked whole.
func redactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Mask
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), Mask)
	}
	if u.RawQuery != "" {
		q := u.Query()
		changed := false
		for k, vs := range q {
			if isSecretName(k, "token", "key", "secret", "pass", "auth", "sig", "session") {
				for i := range vs {
					vs[i] = Mask
				}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

// redactWebhook keeps only the scheme and host of a webhook URL.
func redactWebhook(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return Mask
	}
	if (u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.User == nil {
		return raw
	}
	return u.Scheme + "://" + u.Host + "/" + Mask
}

// redactDSN masks the password of a PostgreSQL DSN, in URL form
// (postgres://user:pw@host/db) or key=value form (password=pw).
func redactDSN(dsn string) string {
	if dsn == "" {
		return ""
	}
	if strings.Contains(dsn, "://") {
		return redactURL(dsn)
	}
	re := regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)
	return re.ReplaceAllString(dsn, "${1}"+Mask)
}
