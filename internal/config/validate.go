package config

import (
	"github.com/wsmon/wsmon/internal/notify"
	"github.com/wsmon/wsmon/internal/protocol/registry"
	"github.com/wsmon/wsmon/internal/rules"
	"github.com/wsmon/wsmon/internal/terms"

	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultProtocols returns the protocol names wsmon supports out of the box,
// used when no list is given to ValidateWith. Each call returns a new slice.
func DefaultProtocols() []string { return []string{"raw"} }

// MessageFields returns the message fields that field_map may map, in a
// stable order. Each call returns a new slice.
func MessageFields() []string { return []string{"user", "content", "type", "room", "time", "id"} }

// Limits used by Validate.
const (
	MinReadLimitBytes = 1 << 10 // 1 KiB
	MaxReadLimitBytes = 1 << 30 // 1 GiB

	MinJournalMemoryBytes = 1 << 20 // 1 MiB
	MaxJournalMemoryBytes = 4 << 30 // 4 GiB
	MaxBatchSize          = 100000
	MinWebConnections     = 16      // web_max_connections, when set
	MaxWebConnections     = 1000000 // web_max_connections, live_max_clients
	MaxMessagesLimit      = 1000000
	maxIntervalSecs       = 3600       // reconnect_interval, web_refresh_interval, ping_interval
	maxLongSecs           = 86400      // pong_timeout, reconnect_max_interval, stable_after
	maxDedupSecs          = 30 * 86400 // dedup_window
	maxBackupHours        = 24 * 366   // auto_backup_hours
	maxRetentionDays      = 100 * 366  // retention_days
	maxAttempts           = 1000000    // max_reconnect_attempts
)

// Validate checks c with DefaultProtocols; see ValidateWith.
func (c Config) Validate() error {

	checks := []func() error{
		func() error {
			if len(c.Targets) > 0 && c.WebsocketURL == "" {
				return nil // every target names its own URL
			}
			return checkWSURL("websocket_url", c.WebsocketURL)
		},
		func() error { return intRange("web_port", c.WebPort, 1, 65535) },
		func() error {
			return secondsRange("reconnect_interval", c.ReconnectInterval, 0, false, maxIntervalSecs)
		},
		func() error {
			if c.MaxReconnectAttempts < 0 || c.MaxReconnectAttempts > maxAttempts {
				return errorf("max_reconnect_attempts", "max_reconnect_attempts: must be between 0 (retry forever) and %d, got %d", maxAttempts, c.MaxReconnectAttempts)
			}
			return nil
		},
		func() error {
			if !c.Postgres() && c.DatabasePath == "" {
				return errorf("database_path", "database_path: must be set when database_driver is sqlite")
			}
			return nil
		},
		func() error {
			switch strings.ToUpper(c.LogLevel) {
			case "DEBUG", "INFO", "WARNING", "WARN", "ERROR":
				return nil
			}
			return errorf("log_level", "log_level: must be one of DEBUG, INFO, WARNING, ERROR, got %s", quoteShort(c.LogLevel))
		},
		func() error { return intRange("max_messages_in_memory", c.MaxMessagesInMemory, 1, MaxMessagesLimit) },
		func() error {
			if !(c.AutoBackupHours >= 0 && c.AutoBackupHours <= maxBackupHours) {
				return errorf("auto_backup_hours", "auto_backup_hours: must be between 0 (no automatic backups) and %d, got %s", maxBackupHours, num(c.AutoBackupHours))
			}
			return nil
		},
		func() error {
			return secondsRange("web_refresh_interval", c.WebRefreshInterval, 1, true, maxIntervalSecs)
		},
		func() error {
			if c.WebMaxConnections != 0 && (c.WebMaxConnections < MinWebConnections || c.WebMaxConnections > MaxWebConnections) {
				return errorf("web_max_connections", "web_max_connections: must be 0 (half the open-file limit) or between %d and %d, got %d",
					MinWebConnections, MaxWebConnections, c.WebMaxConnections)
			}
			return nil
		},
		func() error { return intRange("live_max_clients", c.LiveMaxClients, 1, MaxWebConnections) },

		func() error { return c.checkTopTarget() },
		func() error { return checkHeaders("headers", c.Headers) },
		func() error { return checkFieldMap("field_map", c.FieldMap) },
		func() error {
			return int64Range("read_limit_bytes", c.ReadLimitBytes, MinReadLimitBytes, MaxReadLimitBytes)
		},
		func() error {
			return int64Range("journal_memory_limit_bytes", c.JournalMemoryLimitBytes, MinJournalMemoryBytes, MaxJournalMemoryBytes)
		},
		func() error { return c.checkTargets() },
		func() error {
			// notify_webhook_url's own notifier is checked as that key.
			if err := notify.ValidateAll(c.Notifiers); err != nil {
				msg := err.Error() // "notifiers[i].field: ..."
				key, _, _ := strings.Cut(msg, ":")
				return errorf(key, "%s", msg)
			}
			return nil
		},
		func() error { return c.checkRules() },
		func() error { return c.checkReports() },
		func() error { return secondsRange("ping_interval", c.PingInterval, 0, false, maxIntervalSecs) },
		func() error {
			if !(c.PongTimeout > c.PingInterval && c.PongTimeout <= maxLongSecs) {
				return errorf("pong_timeout", "pong_timeout: must be greater than ping_interval (%s) and at most %d seconds, got %s", num(float64(c.PingInterval)), maxLongSecs, num(float64(c.PongTimeout)))
			}
			return nil
		},
		func() error {
			return secondsRange("reconnect_max_interval", c.ReconnectMaxInterval, 0, false, maxLongSecs)
		},
		func() error { return secondsRange("stable_after", c.StableAfter, 0, true, maxLongSecs) },
		func() error { return secondsRange("dedup_window", c.DedupWindow, 0, true, maxDedupSecs) },

		func() error { return oneOf("log_format", c.LogFormat, "text", "json") },
		func() error { return intRange("batch_size", c.BatchSize, 1, MaxBatchSize) },
		func() error {
			if c.BackupKeep < 1 {
				return errorf("backup_keep", "backup_keep: must be at least 1, got %d", c.BackupKeep)
			}
			return nil
		},
		func() error { return intRange("retention_days", c.RetentionDays, 0, maxRetentionDays) },
		func() error {
			if c.RetentionMaxBytes == 0 {
				return nil
			}
			if c.Postgres() {
				// A delete frees space in PostgreSQL's tables for reuse
				// without shrinking them: their size cannot say when to stop.
				return errorf("retention_max_bytes", "retention_max_bytes: works with SQLite only; with database_url (PostgreSQL) use retention_days")
			}
			return int64Range("retention_max_bytes", c.RetentionMaxBytes, 1<<20, 1<<50)
		},
		func() error {
			if c.TimeZone == "" {
				return nil
			}
			if _, err := time.LoadLocation(c.TimeZone); err != nil {
				return &Error{Key: "time_zone", msg: "time_zone: unknown time zone " + quoteShort(c.TimeZone), err: err}
			}
			return nil
		},
		func() error {
			if c.NotifyWebhook == "" {
				return nil
			}
			return checkURL("notify_webhook_url", c.NotifyWebhook, "http or https", "http", "https")
		},
		func() error {
			if c.DatabaseDriver == "postgres" && c.DatabaseURL == "" {
				return errorf("database_driver", "database_driver: postgres needs database_url (postgres://user:password@host:5432/dbname)")
			}
			return oneOf("database_driver", c.DatabaseDriver, "sqlite", "postgres")
		},
		func() error { return checkStopWords(c.TermsStopWords) },
		func() error {
			if c.AnomalyMaxKeys == 0 {
				return nil // the package's default
			}
			return intRange("anomaly_max_keys", c.AnomalyMaxKeys, MinAnomalyKeys, MaxAnomalyKeys)
		},
		func() error { return c.checkClassifier() },
		func() error {
			if c.DatabaseURL == "" {
				return nil
			}
			return checkDatabaseURL(c.DatabaseURL)
		},

		func() error {
			if c.WebHost == "" {
				return errorf("web_host", "web_host: must be set (use 0.0.0.0 to listen on all interfaces)")
			}
			return nil
		},
		func() error {
			switch {
			case c.WebUser != "" && c.WebPassword == "":
				return errorf("web_password", "web_password: must be set when web_user is set")
			case c.WebUser == "" && c.WebPassword != "":
				return errorf("web_user", "web_user: must be set when web_password is set")
			}
			return nil
		},
		func() error {
			for _, k := range []struct{ key, v string }{{"web_token", c.WebToken}, {"web_password", c.WebPassword}} {
				if k.v != "" && strings.TrimSpace(k.v) != k.v {
					return errorf(k.key, "%s: must not start or end with white space", k.key)
				}
			}
			if IsLoopback(c.WebHost) || c.WebInsecureNoAuth {
				return nil
			}
			// Reachable from other machines: credentials must resist guessing.
			if c.WebToken != "" && !strongEnough(c.WebToken, MinWebTokenLen) {
				return errorf("web_token", "web_token: too weak to expose the dashboard on %s: use at least %d characters, not a repeated pattern (for example: openssl rand -hex 16)", displayPath(c.WebHost), MinWebTokenLen)
			}
			if c.WebPassword != "" && !strongEnough(c.WebPassword, MinWebPasswordLen) {
				return errorf("web_password", "web_password: too weak to expose the dashboard on %s: use at least %d characters, not a repeated pattern", displayPath(c.WebHost), MinWebPasswordLen)
			}
			if c.WebToken != "" || c.WebUser != "" {
				return nil
			}
			return errorf("web_host", "web_host: binding %s exposes the dashboard to other machines; set web_token (or web_user and web_password), or set web_insecure_no_auth to true to allow it without authentication", displayPath(c.WebHost))
		},
		func() error {
			for i, h := range c.WebAllowedHosts {
				if err := checkHostName(h); err != nil {
					return errorf("web_allowed_hosts", "web_allowed_hosts[%d]: %s %v", i, quoteShort(h), err)
				}
			}
			return nil
		},
		func() error {
			for i, v := range c.WebTrustedProxies {
				if _, err := parseProxy(v); err != nil {
					return errorf("web_trusted_proxies", "web_trusted_proxies[%d]: %s must be an IP address or CIDR range (10.0.0.0/8)", i, quoteShort(v))
				}
			}
			return nil
		},
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// Minimum lengths of web_token and web_password for a non-loopback bind.
const (
	MinWebTokenLen    = 16
	MinWebPasswordLen = 12
)

// strongEnough reports whether a credential has at least min characters of
// which at least min/3 differ (so "aaaaaaaaaaaaaaaa" and "abababab..." fail).
func strongEnough(v string, min int) bool {
	distinct := map[rune]bool{}
	n := 0
	for _, r := range v {
		distinct[r] = true
		n++
	}
	return n >= min && len(distinct) >= min/3
}

// checkHostName checks a web_allowed_hosts entry: a host name or IP address
// as it appears in a Host header, without scheme, port or path.
func checkHostName(h string) error {
	switch {
	case h == "":
		return errors.New("is empty")
	case strings.ContainsAny(h, "/@?#*, \t\r\n"):
		return errors.New("must be a bare host name or IP address (no scheme, port, path or wildcard)")
	case strings.Contains(strings.Trim(h, "[]"), ":") && net.ParseIP(strings.Trim(h, "[]")) == nil:
		return errors.New("must be a bare host name or IP address (no port)")
	}
	return nil
}

// IsLoopback reports whether host (a web_host value: an IP address, possibly
// in brackets, or a name) only accepts connections from this machine:
// 127.0.0.0/8, ::1 or "localhost".
func IsLoopback(host string) bool {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func intRange(key string, v, lo, hi int) error {
	if v < lo || v > hi {
		return errorf(key, "%s: must be between %d and %d, got %d", key, lo, hi, v)
	}
	return nil
}

func int64Range(key string, v, lo, hi int64) error {
	if v < lo || v > hi {
		return errorf(key, "%s: must be between %d (%s) and %d (%s), got %d", key, lo, sizeName(lo), hi, sizeName(hi), v)
	}
	return nil
}

func sizeName(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + " GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// secondsRange checks lo < v <= hi, or lo <= v <= hi when inclusive. NaN
// fails.
func secondsRange(key string, v Seconds, lo float64, inclusive bool, hi float64) error {
	f := float64(v)
	ok := f <= hi && (f > lo || inclusive && f >= lo)
	if ok {
		return nil
	}
	if inclusive {
		return errorf(key, "%s: must be between %s and %s seconds, got %s", key, num(lo), num(hi), num(f))
	}
	return errorf(key, "%s: must be greater than %s and at most %s seconds, got %s", key, num(lo), num(hi), num(f))
}

// num formats a number for messages without exponents: 2592000, 0.05.
func num(f float64) string {
	if math.Abs(f) >= 1e15 || f != f {
		return strconv.FormatFloat(f, 'g', 6, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func oneOf(key, v string, allowed ...string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return errorf(key, "%s: must be %s, got %s", key, orList(allowed), quoteShort(v))
}

// orList writes "a", "a or b", "a, b or c".
func orList(xs []string) string {
	if len(xs) <= 1 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// checkWSURL checks a WebSocket URL: it parses, its scheme is ws or wss and
// it has a host.
func checkWSURL(key, raw string) error {
	return checkURL(key, raw, "ws or wss", "ws", "wss")
}

func checkURL(key, raw, want string, schemes ...string) error {
	if strings.TrimSpace(raw) == "" {
		return errorf(key, "%s: must be set", key)
	}
	if !strings.Contains(raw, "://") {
		// "127.0.0.1:8000/ws" parses as a relative URL (Go says "first
		// path segment in URL cannot contain colon"); say what is missing.
		return errorf(key, "%s: %s has no scheme: add %s:// (for example %s)", key, quoteShort(raw),
			strings.Join(schemes, ":// or "), quoteShort(schemes[0]+"://"+strings.TrimLeft(raw, "/")))
	}
	u, err := url.Parse(raw)
	if err != nil {
		cause := err
		var ue *url.Error
		if errors.As(err, &ue) {
			cause = ue.Err
		}
		return &Error{Key: key, msg: oneLine(fmt.Sprintf("%s: cannot parse %s: %v", key, quoteShort(raw), cause)), err: err}
	}
	if !slices.Contains(schemes, strings.ToLower(u.Scheme)) {
		return errorf(key, "%s: scheme must be %s, got %s", key, want, quoteShort(u.Scheme))
	}
	if u.Hostname() == "" {
		return errorf(key, "%s: missing host in %s", key, quoteShort(raw))
	}
	return nil
}

// checkTopTarget checks the protocol settings of the top-level target
// (when there is no targets list, it is the one monitored).
func (c Config) checkTopTarget() error {
	if len(c.Targets) > 0 {
		if c.Protocol != "" && c.Protocol != registry.Auto {
			return checkProtocolName("protocol", c.Protocol)
		}
		return nil
	}
	return checkProtocolSettings("", c.ResolvedTargets()[0])
}

func checkProtocolName(key, p string) error {
	known := registry.Names()
	if slices.Contains(known, p) {
		return nil
	}
	return errorf(key, "%s: unknown protocol %s%s; supported: %s", key, quoteShort(p), didYouMean(p, known), strings.Join(known, ", "))
}

// checkProtocolSettings builds t's adapter, so that a wrong subscribe
// entry, option or missing setting stops start-up naming its key (prefix
// is "targets[i]." or "" for the top-level target).
func checkProtocolSettings(prefix string, t Target) error {
	if t.Protocol != "" {
		if err := checkProtocolName(prefix+"protocol", t.Protocol); err != nil {
			return err
		}
	}
	for k := range t.Auth {
		if k != "username" && k != "password" && k != "token" {
			return errorf(prefix+"auth", "%sauth: unknown key %s%s (known: username, password, token)", prefix, quoteShort(k), didYouMean(k, []string{"username", "password", "token"}))
		}
	}
	if _, _, err := registry.New(t.Protocol, t.AdapterConfig()); err != nil {
		key := err.Error()
		if i := strings.IndexByte(key, ':'); i > 0 {
			key = key[:i]
		} else {
			key = "protocol"
		}
		return errorf(prefix+key, "%s%s", prefix, err.Error())
	}
	return nil
}

func checkFieldMap(key string, m map[string]string) error {
	known := MessageFields()
	for _, f := range sortedMapKeys(m) {
		if !slices.Contains(known, f) {
			return errorf(key, "%s: unknown message field %s%s; must be one of %s", key, quoteShort(f), didYouMean(f, known), strings.Join(known, ", "))
		}
		if strings.TrimSpace(m[f]) == "" {
			return errorf(key, "%s: path for %s must not be empty", key, quoteShort(f))
		}
		// As message.ParseFieldMap reads it: dotted keys, none empty.
		for seg := range strings.SplitSeq(m[f], ".") {
			if seg == "" {
				return errorf(key, "%s: path %s for %s has an empty segment (a path is dotted keys, e.g. data.sender.nick)", key, quoteShort(m[f]), quoteShort(f))
			}
		}
	}
	return nil
}

// isHandshakeHeader reports whether the WebSocket client sets header name
// itself, so that "headers" cannot give it.
func isHandshakeHeader(name string) bool {
	switch strings.ToLower(name) {
	case "upgrade", "connection", "sec-websocket-key", "sec-websocket-version",
		"sec-websocket-extensions", "sec-websocket-protocol":
		return true
	}
	return false
}

func checkHeaders(key string, h map[string]string) error {
	for _, name := range sortedMapKeys(h) {
		if !isToken(name) {
			return errorf(key, "%s: invalid header name %s", key, quoteShort(name))
		}
		if strings.ContainsAny(h[name], "\r\n\x00") {
			return errorf(key, "%s: value of %s contains a line break or NUL", key, quoteShort(name))
		}
		if isHandshakeHeader(name) {
			hint := ""
			if strings.EqualFold(name, "sec-websocket-protocol") {
				hint = "; use subprotocols"
			}
			return errorf(key, "%s: %s is set by the WebSocket handshake and cannot be overridden%s", key, quoteShort(name), hint)
		}
	}
	return nil
}

// isToken reports whether s is an HTTP token (RFC 9110), as header names
// must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

func sortedMapKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// checkTargets checks the values each targets entry sets itself (inherited
// values were checked under their top-level keys) and that the resolved
// target names are non-empty and unique.
func (c Config) checkTargets() error {
	for i, t := range c.Targets {
		p := fmt.Sprintf("targets[%d].", i)
		if err := checkWSURL(p+"url", t.URL); err != nil {
			return err
		}
		if err := checkHeaders(p+"headers", t.Headers); err != nil {
			return err
		}
		if err := checkFieldMap(p+"field_map", t.FieldMap); err != nil {
			return err
		}
		if t.ReadLimitBytes != 0 {
			if err := int64Range(p+"read_limit_bytes", t.ReadLimitBytes, MinReadLimitBytes, MaxReadLimitBytes); err != nil {
				return err
			}
		}
	}
	if len(c.Targets) > 0 {
		for i, t := range c.ResolvedTargets() {
			if err := checkProtocolSettings(fmt.Sprintf("targets[%d].", i), t); err != nil {
				return err
			}
		}
	}
	seen := map[string]int{}
	for i, t := range c.ResolvedTargets() {
		key := "target_name"
		if len(c.Targets) > 0 {
			key = fmt.Sprintf("targets[%d].name", i)
		}
		if err := checkTargetName(key, t.Name); err != nil {
			return err
		}
		if j, dup := seen[t.Name]; dup {
			return errorf(key, "%s: duplicate target name %s (same as targets[%d]); give each target a distinct name", key, quoteShort(t.Name), j)
		}
		seen[t.Name] = i
	}
	return nil
}

// checkRules validates the rules: each one, and unique names (the
// implicit notification_keywords rule included).
func (c Config) checkRules() error {
	seen := map[string]bool{}
	implicit := c.implicitRules()
	for i, r := range c.EffectiveRules() {
		prefix := fmt.Sprintf("rules[%d].", i-implicit)
		if i < implicit {
			prefix = "" // notification_keywords: its fields are named below
		}
		if err := r.Validate(prefix); err != nil {
			var re *rules.Error
			if !errors.As(err, &re) {
				return errorf("rules", "%s", err.Error())
			}
			key := re.Field
			if i < implicit {
				key = "notification_keywords" + strings.TrimPrefix(key, "keywords")
			}
			return errorf(key, "%s: %s", key, re.Msg)
		}
		if seen[r.Name] {
			return errorf(prefix+"name", "%sname: %q is used by another rule", prefix, r.Name)
		}
		seen[r.Name] = true
		if err := c.CheckNotify(r.Notify); err != nil {
			return errorf(prefix+"notify", "%snotify: %v", prefix, err)
		}
	}
	return nil
}

// CheckNotify checks that every name is a configured notifier.
func (c Config) CheckNotify(names []string) error {
	var known []string
	for _, n := range c.EffectiveNotifiers() {
		known = append(known, n.Name)
	}
	for _, name := range names {
		if !slices.Contains(known, name) {
			if len(known) == 0 {
				return fmt.Errorf("unknown notifier %q (none is configured: add it to notifiers)", name)
			}
			return fmt.Errorf("unknown notifier %q (configured: %s)", name, strings.Join(known, ", "))
		}
	}
	return nil
}

// Bounds of the external sentiment classifier's keys.
const (
	MaxClassifierBatch       = 1000 // sentiment_classifier_batch
	MaxClassifierTimeoutSecs = 60   // sentiment_classifier_timeout
)

// checkClassifier checks the sentiment_classifier_* keys. The timeout and
// batch are checked whether or not a URL is set, so that a bad value is
// found before the URL is added.
func (c Config) checkClassifier() error {
	if c.SentimentClassifierURL != "" {
		if err := checkURL("sentiment_classifier_url", c.SentimentClassifierURL, "http or https", "http", "https"); err != nil {
			return err
		}
	}
	const hk = "sentiment_classifier_headers"
	for _, name := range sortedMapKeys(c.SentimentClassifierHeaders) {
		if !isToken(name) {
			return errorf(hk, "%s: invalid header name %s", hk, quoteShort(name))
		}
		if strings.ContainsAny(c.SentimentClassifierHeaders[name], "\r\n\x00") {
			return errorf(hk, "%s: value of %s contains a line break or NUL", hk, quoteShort(name))
		}
		switch strings.ToLower(name) {
		case "host", "content-type", "content-length", "transfer-encoding", "connection", "accept":
			return errorf(hk, "%s: %s is set by wsmon for the contract's requests and cannot be overridden", hk, quoteShort(name))
		}
	}
	if err := secondsRange("sentiment_classifier_timeout", c.SentimentClassifierTimeout, 0, false, MaxClassifierTimeoutSecs); err != nil {
		return err
	}
	return intRange("sentiment_classifier_batch", c.SentimentClassifierBatch, 1, MaxClassifierBatch)
}

// Bounds of anomaly_max_keys: each key (a target, or a room of one) holds
// about 5.7 KiB of baseline (docs/analysis-anomaly.md), so the upper bound
// is about 570 MiB; below 10 a target's rooms would get no key at all.
const (
	MinAnomalyKeys = 10
	MaxAnomalyKeys = 100_000
)

// MaxStopWords bounds terms_stop_words.
const MaxStopWords = 10000

// checkStopWords: each entry is a word or two words with only spaces
// between them (what the terms tokenizer accepts), at most 200 bytes.
func checkStopWords(ws []string) error {
	if len(ws) > MaxStopWords {
		return errorf("terms_stop_words", "terms_stop_words: at most %d entries, got %d", MaxStopWords, len(ws))
	}
	for i, w := range ws {
		if strings.TrimSpace(w) == "" || len(w) > 200 {
			return errorf("terms_stop_words", "terms_stop_words[%d]: want a word or a two-word phrase of at most 200 bytes, got %s", i, quoteShort(w))
		}
	}
	if len(ws) == 0 {
		return nil
	}
	if _, err := terms.New(terms.Options{Stop: ws}); err != nil {
		return errorf("terms_stop_words", "terms_stop_words: %s", strings.TrimPrefix(err.Error(), "terms: "))
	}
	return nil
}

// checkDatabaseURL checks database_url without echoing it (it usually
// holds a password).
func checkDatabaseURL(raw string) error {
	const form = "postgres://user:password@host:5432/dbname"
	u, err := url.Parse(raw)
	if err != nil {
		return errorf("database_url", "database_url: not a URL like %s", form)
	}
	if s := strings.ToLower(u.Scheme); s != "postgres" && s != "postgresql" {
		return errorf("database_url", "database_url: scheme must be postgres or postgresql, like %s", form)
	}
	return nil
}

// ReportTime returns report_at as hours and minutes (default 08:00).
func (c Config) ReportTime() (hour, minute int) {
	if c.ReportAt == "" {
		return 8, 0
	}
	t, err := time.Parse("15:04", c.ReportAt)
	if err != nil {
		return 8, 0
	}
	return t.Hour(), t.Minute()
}

// checkReports checks the report_* keys: a time of day, a language, and
// notifiers that exist (scheduled reports need at least one).
func (c Config) checkReports() error {
	if c.ReportAt != "" {
		if _, err := time.Parse("15:04", c.ReportAt); err != nil {
			return errorf("report_at", "report_at: must be a time of day HH:MM (24-hour, in time_zone), got %s", quoteShort(c.ReportAt))
		}
	}
	if c.ReportLang != "" && c.ReportLang != "en" && c.ReportLang != "zh" {
		return errorf("report_lang", "report_lang: must be en or zh, got %s", quoteShort(c.ReportLang))
	}
	var names []string
	for _, n := range c.EffectiveNotifiers() {
		names = append(names, n.Name)
	}
	for i, n := range c.ReportNotifiers {
		if !slices.Contains(names, n) {
			known := "none is configured (add one to notifiers)"
			if len(names) > 0 {
				known = "known: " + strings.Join(names, ", ")
			}
			return errorf("report_notifiers", "report_notifiers[%d]: no notifier named %s; %s", i, quoteShort(n), known)
		}
	}
	if (c.ReportDaily || c.ReportWeekly) && len(c.ReportNotifiers) == 0 {
		key := "report_daily"
		if !c.ReportDaily {
			key = "report_weekly"
		}
		return errorf(key, "%s: needs report_notifiers, the notifiers that get the reports", key)
	}
	return nil
}
