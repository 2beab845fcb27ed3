package config

import (
	"github.com/wsmon/wsmon/internal/anomaly"
	"github.com/wsmon/wsmon/internal/notify"
	"github.com/wsmon/wsmon/internal/rules"
	"log/slog"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
	"github.com/wsmon/wsmon/internal/store"
)

// ResolvedTargets returns the targets to monitor, each complete. With no
// "targets" entries it is one target built from the top-level fields, named
// target_name or, when that is empty, the URL's host[:port] (e.g.
// "localhost:8000"). Otherwise it is one target per entry, in order; an
// entry's empty fields (empty string, nil or empty list or map, zero
// read_limit_bytes, false insecure_skip_verify) take the top-level value,
// and an entry without a name is named after its URL's host[:port]. The
// result shares no slices or maps with c.
func (c Config) ResolvedTargets() []Target {
	top := Target{
		Name:               c.TargetName,
		URL:                c.WebsocketURL,
		Protocol:           c.Protocol,
		Subscribe:          c.Subscribe,
		Auth:               c.Auth,
		Options:            c.Options,
		Format:             c.Format,
		Framing:            c.Framing,
		KeepControl:        c.KeepControl,
		AutoReply:          c.AutoReply,
		Headers:            c.Headers,
		Subprotocols:       c.Subprotocols,
		SendOnConnect:      c.SendOnConnect,
		CAFile:             c.CAFile,
		InsecureSkipVerify: c.InsecureSkipVerify,
		FieldMap:           c.FieldMap,
		ReadLimitBytes:     c.ReadLimitBytes,
	}
	if len(c.Targets) == 0 {
		if top.Name == "" {
			top.Name = hostName(top.URL)
		}
		return []Target{top.clone()}
	}
	out := make([]Target, 0, len(c.Targets))
	for _, t := range c.Targets {
		out = append(out, top.inherit(t))
	}
	return out
}

// ResolveTarget completes a target given at runtime (through the API) the
// way ResolvedTargets completes a targets entry: its empty connection fields
// take the top-level value, and without a name it is named after its URL's
// host[:port]. The result shares no slices or maps with c or t.
func (c Config) ResolveTarget(t Target) Target {
	top := Target{Protocol: c.Protocol, Headers: c.Headers, Subprotocols: c.Subprotocols, SendOnConnect: c.SendOnConnect,
		CAFile: c.CAFile, InsecureSkipVerify: c.InsecureSkipVerify, FieldMap: c.FieldMap, ReadLimitBytes: c.ReadLimitBytes}
	return top.inherit(t)
}

// inherit fills t's empty connection fields from top (see ResolvedTargets).
func (top Target) inherit(t Target) Target {
	if t.Protocol == "" {
		t.Protocol = top.Protocol
	}
	if len(t.Headers) == 0 {
		t.Headers = top.Headers
	}
	if len(t.Subprotocols) == 0 {
		t.Subprotocols = top.Subprotocols
	}
	if len(t.SendOnConnect) == 0 {
		t.SendOnConnect = top.SendOnConnect
	}
	if t.CAFile == "" {
		t.CAFile = top.CAFile
	}
	t.InsecureSkipVerify = t.InsecureSkipVerify || top.InsecureSkipVerify
	if len(t.FieldMap) == 0 {
		t.FieldMap = top.FieldMap
	}
	if t.ReadLimitBytes == 0 {
		t.ReadLimitBytes = top.ReadLimitBytes
	}
	if t.Name == "" {
		t.Name = hostName(t.URL)
	}
	return t.clone()
}

// CheckTarget checks a target given at runtime with the checks Validate
// runs on a targets entry: a non-empty name, the URL, headers, field_map,
// read_limit_bytes and the protocol settings (its adapter is built, so a
// wrong subscribe entry or option is caught). t should be resolved
// (ResolveTarget). The error is a *Error whose Key names the offending
// setting without a prefix ("url", "options.qos").
func CheckTarget(t Target) error {
	if err := checkTargetName("name", t.Name); err != nil {
		return err
	}
	if err := checkWSURL("url", t.URL); err != nil {
		return err
	}
	if err := checkHeaders("headers", t.Headers); err != nil {
		return err
	}
	if err := checkFieldMap("field_map", t.FieldMap); err != nil {
		return err
	}
	if t.ReadLimitBytes != 0 {
		if err := int64Range("read_limit_bytes", t.ReadLimitBytes, MinReadLimitBytes, MaxReadLimitBytes); err != nil {
			return err
		}
	}
	return checkProtocolSettings("", t)
}

// checkTargetName checks a target's name, from config.json or the API:
// not empty, at most 200 bytes, no line break or NUL, and not ".", ".."
// or "/" (which /api/targets/{name} cannot name: net/http cleans the path
// and never routes it there).
func checkTargetName(key, name string) error {
	if strings.TrimSpace(name) == "" {
		return errorf(key, "%s: must not be empty", key)
	}
	if name == "." || name == ".." || name == "/" {
		return errorf(key, "%s: must not be %s (it cannot be named in an API path)", key, quoteShort(name))
	}
	if len(name) > 200 || strings.ContainsAny(name, "\r\n\x00") {
		return errorf(key, "%s: at most 200 bytes, without line breaks or NUL", key)
	}
	return nil
}

// Redacted returns a copy of t that is safe to show and log: the URL's
// password and credential-like query parameters, credential headers, auth
// values and send_on_connect frames are masked (as in Config.Redacted).
func (t Target) Redacted() Target {
	r := t.clone()
	r.URL = redactURL(t.URL)
	r.Headers = redactHeaders(t.Headers)
	r.SendOnConnect = redactFrames(t.SendOnConnect)
	r.Auth = redactAuth(t.Auth)
	return r
}

// hostName is the host[:port] of a URL, or the URL itself if it has none.
func hostName(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return raw
}

// AdapterConfig is the protocol adapter's view of t.
func (t Target) AdapterConfig() protocol.Config {
	return protocol.Config{
		Target:    t.Name,
		URL:       t.URL,
		Subscribe: slices.Clone(t.Subscribe),
		Auth:      protocol.Auth{Username: t.Auth["username"], Password: t.Auth["password"], Token: t.Auth["token"]},
		Options:   protocol.Options(maps.Clone(t.Options)),
		Format:    t.Format,
		Framing:   t.Framing,
	}
}

// clone copies t's slices and maps.
func (t Target) clone() Target {
	t.Subscribe = slices.Clone(t.Subscribe)
	t.Auth = maps.Clone(t.Auth)
	t.Options = maps.Clone(t.Options)
	t.Headers = maps.Clone(t.Headers)
	t.FieldMap = maps.Clone(t.FieldMap)
	t.Subprotocols = slices.Clone(t.Subprotocols)
	t.SendOnConnect = slices.Clone(t.SendOnConnect)
	return t
}

// SlogLevel returns log_level as a slog.Level: DEBUG, INFO, WARNING (or
// WARN) and ERROR, in any case. An unknown value, which Validate rejects,
// gives slog.LevelInfo. (It cannot be called LogLevel: that is the field.)
func (c Config) SlogLevel() slog.Level {
	switch strings.ToUpper(c.LogLevel) {
	case "DEBUG":
		return slog.LevelDebug
	case "WARNING", "WARN":
		return slog.LevelWarn
	case "ERROR":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Location returns the time zone for daily and hourly statistics:
// time_zone when set and loadable, else time.Local. Validate rejects a
// time_zone that cannot be loaded, so after Load this is time_zone.
func (c Config) Location() *time.Location {
	if c.TimeZone != "" {
		if loc, err := time.LoadLocation(c.TimeZone); err == nil {
			return loc
		}
	}
	return time.Local
}

// BackoffEnabled reports whether reconnect delays grow (reconnect_backoff,
// default true) rather than stay at reconnect_interval.
func (c Config) BackoffEnabled() bool { return c.ReconnectBackoff == nil || *c.ReconnectBackoff }

// MessageLogEnabled reports whether the per-day message log
// (logs/messages_YYYYMMDD.json) is written; message_log defaults to true.
func (c Config) MessageLogEnabled() bool { return c.MessageLog == nil || *c.MessageLog }

// AnalysisTermsEnabled reports whether trending terms are counted behind
// ingest; analysis_terms defaults to false: with both analyses on, a 1M
// burst in mode all is stored 13 % slower (docs/benchmarks.md), over the
// 10 % the analyses may cost, so they are opt-in until they fit.
func (c Config) AnalysisTermsEnabled() bool { return c.AnalysisTerms != nil && *c.AnalysisTerms }

// AnalysisSentimentEnabled reports whether chat messages' sentiment is
// scored and rolled up behind ingest; analysis_sentiment defaults to false
// (see AnalysisTermsEnabled).
func (c Config) AnalysisSentimentEnabled() bool {
	return c.AnalysisSentiment != nil && *c.AnalysisSentiment
}

// AnalysisBehaviourEnabled reports whether the user behaviour rollups
// (users list, per-user activity, activity over time) are kept behind
// ingest; analysis_behaviour defaults to false (docs/benchmarks.md has
// what they cost ingest).
func (c Config) AnalysisBehaviourEnabled() bool {
	return c.AnalysisBehaviour != nil && *c.AnalysisBehaviour
}

// AnomalyDetectionDefault is anomaly_detection's default: on. A 1M burst
// in mode all cost the child 5 % more CPU with it (median 26.5 s against
// 25.2 s, three alternating runs each; docs/benchmarks.md), within the
// 10 % the analyses may cost ingest.
const AnomalyDetectionDefault = true

// AnomalyDetectionEnabled reports whether anomalies are detected behind
// ingest (anomaly_detection, default AnomalyDetectionDefault).
func (c Config) AnomalyDetectionEnabled() bool {
	if c.AnomalyDetection == nil {
		return AnomalyDetectionDefault
	}
	return *c.AnomalyDetection
}

// AnomalyKeys is the detector's key cap: anomaly_max_keys, or the
// package's default when it is 0.
func (c Config) AnomalyKeys() int {
	if c.AnomalyMaxKeys == 0 {
		return anomaly.DefaultMaxKeys
	}
	return c.AnomalyMaxKeys
}

// JournalDir is the journal's directory: data_dir/journal, data_dir
// being the database's directory when unset.
func (c Config) JournalDir() string {
	dir := c.DataDir
	if dir == "" {
		dir = filepath.Dir(c.DatabasePath)
	}
	return filepath.Join(dir, "journal")
}

// Postgres reports whether the database is PostgreSQL (database_url).
func (c Config) Postgres() bool { return c.DatabaseURL != "" }

// StoreOptions are the store.Options of the configured database.
func (c Config) StoreOptions(readOnly bool) store.Options {
	if c.Postgres() {
		return store.Options{Driver: "postgres", DSN: c.DatabaseURL, Location: c.Location(), ReadOnly: readOnly}
	}
	return store.Options{Driver: "sqlite", Path: c.DatabasePath, Location: c.Location(), ReadOnly: readOnly}
}

// WriterDirs are the directories a writing process (monitor, all,
// reindex) owns: the journal's data directory and, for SQLite, the
// database's directory (the same one by default).
func (c Config) WriterDirs() []string {
	dirs := []string{filepath.Dir(c.JournalDir())}
	if !c.Postgres() {
		dirs = append(dirs, filepath.Dir(c.DatabasePath))
	}
	return dirs
}

// ImplicitKeywordRule is the name of the rule made of
// notification_keywords when enable_notifications is on.
const ImplicitKeywordRule = "notification_keywords"

// implicitRules is how many rules EffectiveRules puts before Rules.
func (c Config) implicitRules() int {
	if c.EnableNotifications && len(c.NotificationKeywords) > 0 {
		return 1
	}
	return 0
}

// EffectiveRules is the configured rules, after the keyword notification
// of notification_keywords when enable_notifications is on: a keyword rule named
// notification_keywords that notifies notify_webhook_url's notifier
// ("webhook") when set.
func (c Config) EffectiveRules() []rules.Rule {
	var out []rules.Rule
	if c.implicitRules() > 0 {
		r := rules.Rule{Name: ImplicitKeywordRule, Type: rules.TypeKeyword, Keywords: c.NotificationKeywords}
		if c.NotifyWebhook != "" {
			r.Notify = []string{"webhook"}
		}
		out = append(out, r)
	}
	return append(out, c.Rules...)
}

// WebhookNotifier is the name of the notifier made of notify_webhook_url.
const WebhookNotifier = "webhook"

// EffectiveNotifiers is the configured notifiers, after the one made of
// notify_webhook_url (a generic webhook named "webhook") unless a
// notifier of that name is configured.
func (c Config) EffectiveNotifiers() []notify.Config {
	var out []notify.Config
	if c.NotifyWebhook != "" && !slices.ContainsFunc(c.Notifiers, func(n notify.Config) bool { return n.Name == WebhookNotifier }) {
		out = append(out, notify.Config{Name: WebhookNotifier, Type: notify.TypeWebhook, URL: c.NotifyWebhook})
	}
	return append(out, c.Notifiers...)
}
