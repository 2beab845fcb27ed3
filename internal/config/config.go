// Package config owns wsmon's configuration: the Config struct with its
// defaults, loading from config.json, WSMON_* environment variables and
// command-line flags (flags > environment > file > defaults), and
// validation that stops start-up with one clear line naming the bad key.
package config

import (
	"github.com/wsmon/wsmon/internal/notify"
	"github.com/wsmon/wsmon/internal/rules"
	"net/netip"
	"strings"
	"time"
)

// Config is the whole runtime configuration. The first block holds the
// keys of the Python chat monitor's config.json that wsmon replaces
// (README.zh.md), with the same names and meanings, so its files load
// unchanged; the rest are wsmon extensions. It is passed explicitly to every part; nothing reads
// configuration from globals.
type Config struct {
	// --- keys of the Python monitor's config.json ---
	WebsocketURL         string   `json:"websocket_url"`          // target WebSocket URL (ws:// or wss://)
	WebPort              int      `json:"web_port"`               // dashboard port, 1..65535
	ReconnectInterval    Seconds  `json:"reconnect_interval"`     // base reconnect delay
	MaxReconnectAttempts int      `json:"max_reconnect_attempts"` // consecutive failed attempts before giving up; 0 = forever
	DatabasePath         string   `json:"database_path"`          // SQLite file
	LogLevel             string   `json:"log_level"`              // DEBUG, INFO, WARNING, ERROR (case-insensitive; WARN accepted)
	EnableNotifications  bool     `json:"enable_notifications"`   // log + webhook on keyword match
	NotificationKeywords []string `json:"notification_keywords"`  // keywords that trigger a notification
	MaxMessagesInMemory  int      `json:"max_messages_in_memory"` // size of the recent-message ring for the live view
	AutoBackupHours      float64  `json:"auto_backup_hours"`      // 0 = no automatic backups
	WebRefreshInterval   Seconds  `json:"web_refresh_interval"`   // minimum interval between dashboard chart refreshes

	// --- capture extensions (apply to the default target) ---
	TargetName         string            `json:"target_name"`          // name of the default target; "" = derived from the URL host
	Protocol           string            `json:"protocol"`             // chat protocol: "auto" (default), "raw", "socketio", ... (see docs/protocols.md)
	Subscribe          []string          `json:"subscribe"`            // what to subscribe to: namespaces, destinations, topics, channels, subjects
	Auth               map[string]string `json:"auth"`                 // credentials mapped to the protocol's mechanism: username, password, token
	Options            map[string]any    `json:"options"`              // protocol-specific settings
	Format             string            `json:"format"`               // raw: auto (default), json, text
	Framing            string            `json:"framing"`              // raw: frame (default), lines
	KeepControl        bool              `json:"keep_control"`         // also store protocol control frames (heartbeats, acks), as type system with reason "control"
	AutoReply          bool              `json:"auto_reply"`           // let rules with a reply answer on this target's connection (off by default)
	Headers            map[string]string `json:"headers"`              // extra handshake headers (Authorization, Cookie, Origin, User-Agent...)
	Subprotocols       []string          `json:"subprotocols"`         // WebSocket subprotocols to offer
	SendOnConnect      []string          `json:"send_on_connect"`      // text frames sent after every (re)connect, in order
	CAFile             string            `json:"ca_file"`              // PEM file with extra CA certificates for wss
	InsecureSkipVerify bool              `json:"insecure_skip_verify"` // accept any TLS certificate (explicit opt-in)
	FieldMap           map[string]string `json:"field_map"`            // message field -> JSON path, e.g. {"user": "data.sender.nick"}
	Targets            []Target          `json:"targets"`              // additional targets (each overrides the fields above)

	ReadLimitBytes       int64   `json:"read_limit_bytes"`       // max frame size; larger frames are stored truncated with a reason. Default 16 MiB
	PingInterval         Seconds `json:"ping_interval"`          // our WebSocket pings; default 20 s
	PongTimeout          Seconds `json:"pong_timeout"`           // silence after which the connection is dead; default 60 s
	ReconnectMaxInterval Seconds `json:"reconnect_max_interval"` // backoff cap; default 60 s
	StableAfter          Seconds `json:"stable_after"`           // a connection up this long resets the backoff; default 30 s
	ReconnectBackoff     *bool   `json:"reconnect_backoff"`      // true (default): reconnect_interval is the base of a growing backoff; false: wait reconnect_interval before every attempt
	DedupWindow          Seconds `json:"dedup_window"`           // how far back duplicate detection looks; default 3600 s

	// --- storage / ingest extensions ---
	DataDir string `json:"data_dir"` // directory for the journal; default: the database's directory
	// JournalMemoryLimitBytes bounds the frames held in memory while the
	// journal cannot write to disk; past it frames are dropped, counted and
	// recorded as a gap. Default 32 MiB.
	JournalMemoryLimitBytes int64   `json:"journal_memory_limit_bytes"`
	LogDir                  string  `json:"log_dir"`             // runtime and per-day message logs; default "logs"
	LogFormat               string  `json:"log_format"`          // "text" (default) or "json"
	MessageLog              *bool   `json:"message_log"`         // write logs/messages_YYYYMMDD.json; default true
	BatchSize               int     `json:"batch_size"`          // max messages per database transaction; default 5000
	BatchLatency            Seconds `json:"batch_latency"`       // deprecated, no effect: accepted so old config files load (see Deprecations)
	BackupKeep              int     `json:"backup_keep"`         // automatic backups kept; default 7
	RetentionDays           int     `json:"retention_days"`      // delete messages older than this; 0 = keep forever
	RetentionMaxBytes       int64   `json:"retention_max_bytes"` // delete the oldest messages while the database holds more; 0 = no cap
	TimeZone                string  `json:"time_zone"`           // IANA zone for daily/hourly statistics; default the machine's
	NotifyWebhook           string  `json:"notify_webhook_url"`  // POST JSON here on a keyword match (http/https)
	DatabaseDriver          string  `json:"database_driver"`     // "sqlite" (default) or "postgres"; database_url selects postgres
	DatabaseURL             string  `json:"database_url"`        // postgres://…: store everything in this PostgreSQL database instead of database_path

	// --- analysis extensions (internal/analysis) ---
	AnalysisTerms     *bool    `json:"analysis_terms"`     // count trending terms behind ingest; default false
	AnalysisSentiment *bool    `json:"analysis_sentiment"` // score chat messages' sentiment behind ingest; default false
	AnalysisBehaviour *bool    `json:"analysis_behaviour"` // keep the user behaviour rollups behind ingest; default false
	TermsStopWords    []string `json:"terms_stop_words"`   // the operator's own stop words (a word or a two-word phrase each), added to the embedded ones
	AnomalyDetection  *bool    `json:"anomaly_detection"`  // detect anomalies (internal/anomaly) behind ingest; default AnomalyDetectionDefault (true)
	AnomalyMaxKeys    int      `json:"anomaly_max_keys"`   // targets and rooms the detector keeps a baseline for; 0 = anomaly.DefaultMaxKeys
	// An external sentiment classifier (docs/analysis.md, "External
	// classifier"): with analysis_sentiment on and a URL set, chat
	// messages are scored by it, in batches, and by the lexicon whenever
	// it cannot answer.
	SentimentClassifierURL     string            `json:"sentiment_classifier_url"`     // http:// or https:// endpoint of the contract; "" = the lexicon only
	SentimentClassifierHeaders map[string]string `json:"sentiment_classifier_headers"` // sent with every request (e.g. Authorization)
	SentimentClassifierTimeout Seconds           `json:"sentiment_classifier_timeout"` // bound on one request, connection included; default 2 s
	SentimentClassifierBatch   int               `json:"sentiment_classifier_batch"`   // most texts in one request, 1..MaxClassifierBatch; default 64

	// --- scheduled reports (internal/report) ---
	ReportDaily     bool     `json:"report_daily"`     // send the previous day's report at report_at
	ReportWeekly    bool     `json:"report_weekly"`    // send the previous Monday–Sunday week's report on Mondays at report_at
	ReportAt        string   `json:"report_at"`        // HH:MM in time_zone; default "08:00"
	ReportNotifiers []string `json:"report_notifiers"` // names of notifiers (notifiers, or "webhook" for notify_webhook_url) that get the reports
	ReportLang      string   `json:"report_lang"`      // "en" (default) or "zh"

	// Rules raise alerts (internal/rules): keyword, regex, user, rate,
	// silence, connection. With enable_notifications,
	// notification_keywords are one more keyword rule (EffectiveRules).
	Rules []rules.Rule `json:"rules"`
	// Notifiers are where alerts go (internal/notify): webhook, slack,
	// dingtalk, feishu/lark, wecom, email; a rule's notify names them.
	// notify_webhook_url is one more, named "webhook" (EffectiveNotifiers).
	Notifiers []notify.Config `json:"notifiers"`

	// --- web extensions ---
	WebMaxConnections int `json:"web_max_connections"` // open dashboard connections at once (more wait); 0 = half the open-file limit, at most 10,000
	LiveMaxClients    int `json:"live_max_clients"`    // concurrent /api/live streams; more are answered 503. Default 2000

	WebHost           string `json:"web_host"`             // bind address; default 127.0.0.1
	WebToken          string `json:"web_token"`            // bearer token required on every request when set
	WebUser           string `json:"web_user"`             // basic-auth user (with web_password)
	WebPassword       string `json:"web_password"`         // basic-auth password
	WebInsecureNoAuth bool   `json:"web_insecure_no_auth"` // allow a non-loopback bind without authentication (loud opt-out)
	// WebAllowedHosts are host names, beyond the loopback ones, accepted in
	// the Host header (a loopback bind refuses any other: DNS rebinding).
	WebAllowedHosts []string `json:"web_allowed_hosts"`
	// WebTrustedProxies are the IP addresses or CIDR ranges of reverse
	// proxies whose X-Forwarded-Proto and X-Forwarded-For are believed.
	WebTrustedProxies []string `json:"web_trusted_proxies"`
}

// Target is one monitored WebSocket endpoint. Empty connection fields
// (headers, subprotocols, send_on_connect, TLS, field_map, read limit,
// protocol) inherit the top-level value of the same name; the
// protocol-specific ones (subscribe, auth, options, format, framing,
// keep_control) belong to the target alone.
type Target struct {
	Name               string            `json:"name"`
	URL                string            `json:"url"`
	Protocol           string            `json:"protocol"`
	Subscribe          []string          `json:"subscribe"`
	Auth               map[string]string `json:"auth"`
	Options            map[string]any    `json:"options"`
	Format             string            `json:"format"`
	Framing            string            `json:"framing"`
	KeepControl        bool              `json:"keep_control"`
	AutoReply          bool              `json:"auto_reply"`
	Headers            map[string]string `json:"headers"`
	Subprotocols       []string          `json:"subprotocols"`
	SendOnConnect      []string          `json:"send_on_connect"`
	CAFile             string            `json:"ca_file"`
	InsecureSkipVerify bool              `json:"insecure_skip_verify"`
	FieldMap           map[string]string `json:"field_map"`
	ReadLimitBytes     int64             `json:"read_limit_bytes"`
}

// Seconds is a duration written in config as a number of seconds (integer or
// fractional), like reconnect_interval.
type Seconds float64

// Duration converts to a time.Duration.
func (s Seconds) Duration() time.Duration { return time.Duration(float64(s) * float64(time.Second)) }

// TrustedProxyPrefixes returns web_trusted_proxies as prefixes (a bare
// address is a /32 or /128). Entries Validate rejects are skipped.
func (c Config) TrustedProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, v := range c.WebTrustedProxies {
		if p, err := parseProxy(v); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func parseProxy(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
