package config

import (
	"errors"
	"github.com/wsmon/wsmon/internal/anomaly"
	"github.com/wsmon/wsmon/internal/notify"
	"github.com/wsmon/wsmon/internal/protocol/registry"
	"github.com/wsmon/wsmon/internal/rules"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeFile writes content to name in a new temporary directory and returns
// its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func ptr[T any](v T) *T { return &v }

// errText returns err's message or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestDefaultsLoadWithoutFile(t *testing.T) {
	t.Chdir(t.TempDir()) // no config.json here
	got, err := Load(LoadOptions{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !reflect.DeepEqual(got, Defaults()) {
		t.Errorf("Load() = %v, want Defaults() = %v", got, Defaults())
	}
	if err := Defaults().Validate(); err != nil {
		t.Errorf("Defaults().Validate() = %v", err)
	}
	d := Defaults()
	checks := []struct {
		name      string
		got, want any
	}{
		{"websocket_url", d.WebsocketURL, "ws://localhost:8000/ws/chat"},
		{"web_port", d.WebPort, 8001},
		{"reconnect_interval", d.ReconnectInterval, Seconds(5)},
		{"max_reconnect_attempts", d.MaxReconnectAttempts, 10},
		{"database_path", d.DatabasePath, "data/chat_monitor.db"},
		{"log_level", d.LogLevel, "INFO"},
		{"enable_notifications", d.EnableNotifications, false},
		{"notification_keywords", d.NotificationKeywords, []string{"重要", "紧急"}},
		{"max_messages_in_memory", d.MaxMessagesInMemory, 1000},
		{"auto_backup_hours", d.AutoBackupHours, 24.0},
		{"web_refresh_interval", d.WebRefreshInterval, Seconds(5)},
		{"protocol", d.Protocol, "auto"},
		{"read_limit_bytes", d.ReadLimitBytes, int64(16 << 20)},
		{"ping_interval", d.PingInterval, Seconds(20)},
		{"pong_timeout", d.PongTimeout, Seconds(60)},
		{"reconnect_max_interval", d.ReconnectMaxInterval, Seconds(60)},
		{"stable_after", d.StableAfter, Seconds(30)},
		{"dedup_window", d.DedupWindow, Seconds(3600)},
		{"log_dir", d.LogDir, "logs"},
		{"log_format", d.LogFormat, "text"},
		{"message_log", d.MessageLogEnabled(), true},
		{"analysis_terms", d.AnalysisTermsEnabled(), false},
		{"analysis_sentiment", d.AnalysisSentimentEnabled(), false},
		{"analysis_behaviour", d.AnalysisBehaviourEnabled(), false},
		{"terms_stop_words", len(d.TermsStopWords), 0},
		{"anomaly_detection", d.AnomalyDetectionEnabled(), AnomalyDetectionDefault},
		{"anomaly_max_keys", d.AnomalyKeys(), anomaly.DefaultMaxKeys},
		{"batch_size", d.BatchSize, 5000},
		{"batch_latency", d.BatchLatency, Seconds(0)},
		{"backup_keep", d.BackupKeep, 7},
		{"database_driver", d.DatabaseDriver, "sqlite"},
		{"web_host", d.WebHost, "127.0.0.1"},
		{"web_max_connections", d.WebMaxConnections, 0},
		{"live_max_clients", d.LiveMaxClients, 2000},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("default %s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestDefaultsAreFresh(t *testing.T) {
	a := Defaults()
	a.NotificationKeywords[0] = "changed"
	*a.MessageLog = false
	if b := Defaults(); b.NotificationKeywords[0] != "重要" || !b.MessageLogEnabled() {
		t.Error("Defaults() shares state between calls")
	}
}

func TestLoadBriefExample(t *testing.T) {
	// testdata/brief_config.json is README.zh.md's example config.json, //
	// comments and all.
	got, err := Load(LoadOptions{ConfigPath: "testdata/brief_config.json"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !reflect.DeepEqual(got, Defaults()) {
		t.Errorf("README.zh.md's example = %v, want the defaults %v", got, Defaults())
	}
}

func TestLoadDefaultFileInWorkingDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"web_port": 9000}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	got, err := Load(LoadOptions{})
	if err != nil || got.WebPort != 9000 {
		t.Fatalf("Load() = port %d, %v; want 9000, nil", got.WebPort, err)
	}
}

func TestLoadExplicitMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.json")
	_, err := Load(LoadOptions{ConfigPath: p})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing explicit file) = %v, want fs.ErrNotExist", err)
	}
	if want := "config file: open " + p + ": no such file or directory"; err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "c.json", `{"web_port": 1111, "websocket_url": "ws://file:1/ws", "log_level": "ERROR"}`)
	tests := []struct {
		name     string
		path     string
		env      []string
		over     Overrides
		wantPort int
		wantURL  string
		wantLvl  string
	}{
		{"defaults", "", nil, Overrides{}, 8001, "ws://localhost:8000/ws/chat", "INFO"},
		{"file over defaults", file, nil, Overrides{}, 1111, "ws://file:1/ws", "ERROR"},
		{"env over file", file, []string{"WSMON_WEB_PORT=2222", "WSMON_LOG_LEVEL=debug", "PATH=/bin"}, Overrides{}, 2222, "ws://file:1/ws", "debug"},
		{"empty env is unset", file, []string{"WSMON_WEB_PORT="}, Overrides{}, 1111, "ws://file:1/ws", "ERROR"},
		{"flags over env", file, []string{"WSMON_WEB_PORT=2222", "WSMON_WEBSOCKET_URL=ws://env:2/ws"},
			Overrides{URL: ptr("wss://flag:3/ws"), Port: ptr(3333), Values: map[string]string{"log-level": "WARNING"}},
			3333, "wss://flag:3/ws", "WARNING"},
		{"specific flag over generic flag", "", nil,
			Overrides{Port: ptr(4444), Values: map[string]string{"web_port": "5555"}}, 4444, "ws://localhost:8000/ws/chat", "INFO"},
	}
	t.Chdir(t.TempDir())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(LoadOptions{ConfigPath: tt.path, Env: tt.env, Overrides: tt.over})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got.WebPort != tt.wantPort || got.WebsocketURL != tt.wantURL || got.LogLevel != tt.wantLvl {
				t.Errorf("got port %d url %q level %q, want %d %q %q", got.WebPort, got.WebsocketURL, got.LogLevel, tt.wantPort, tt.wantURL, tt.wantLvl)
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"unknown key", `{"websocket_ulr": "ws://x/"}`, `config.json: unknown key "websocket_ulr" (did you mean "websocket_url"?)`},
		{"unknown key, substring", `{"port": 1}`, `config.json: unknown key "port" (did you mean "web_port"?)`},
		{"unknown key, case", `{"Web_Port": 1}`, `config.json: unknown key "Web_Port" (did you mean "web_port"?)`},
		{"unknown key, no suggestion", `{"zzzzzz": 1}`, `config.json: unknown key "zzzzzz"`},
		{"unknown key in target", `{"targets": [{"url": "ws://a/"}, {"nmae": "b"}]}`, `config.json: targets[1]: unknown key "nmae" (did you mean "name"?)`},
		{"repeated key", `{"web_port": 1, "web_port": 2}`, `config.json: key "web_port" appears more than once`},
		{"wrong type int", `{"web_port": "abc"}`, `config.json: key "web_port": expected an integer, got string "abc"`},
		{"fraction for int", `{"web_port": 80.5}`, `config.json: key "web_port": expected an integer, got number 80.5`},
		{"int out of range", `{"web_port": 1e30}`, `config.json: key "web_port": expected an integer within range, got number 1e30`},
		{"wrong type seconds", `{"reconnect_interval": true}`, `config.json: key "reconnect_interval": expected a number of seconds, got boolean true`},
		{"wrong type bool", `{"enable_notifications": "yes"}`, `config.json: key "enable_notifications": expected a boolean, got string "yes"`},
		{"wrong type list", `{"notification_keywords": "重要"}`, `config.json: key "notification_keywords": expected a list of strings, got string "重要"`},
		{"wrong list element", `{"notification_keywords": ["a", 2]}`, `config.json: key "notification_keywords": element 1: expected a string, got number 2`},
		{"wrong type map", `{"headers": []}`, `config.json: key "headers": expected an object with string values, got array`},
		{"wrong map value", `{"headers": {"Origin": 1}}`, `config.json: key "headers": value of "Origin": expected a string, got number 1`},
		{"wrong type in target", `{"targets": [{"url": 5}]}`, `config.json: key "targets[0].url": expected a string, got number 5`},
		{"targets not a list", `{"targets": {}}`, `config.json: key "targets": expected a list of objects, got object`},
		{"target not an object", `{"targets": ["ws://a/"]}`, `config.json: targets[0]: expected an object, got string "ws://a/"`},
		{"long value cut", `{"web_port": "` + strings.Repeat("x", 100) + `"}`, `config.json: key "web_port": expected an integer, got string "` + strings.Repeat("x", 40) + `…"`},
		{"first error in file order", `{"log_level": 1, "web_port": "x"}`, `config.json: key "log_level": expected a string, got number 1`},
		{"top level array", ` [1]`, `config.json: expected a JSON object at the top level, got array`},
		{"syntax error", "{\n  \"web_port\": 80x\n}", `config.json:2:17: invalid JSON: invalid character 'x' after object key:value pair`},
		{"trailing comma", "{\n  \"web_port\": 80,\n}", `config.json:3:1: invalid JSON: invalid character '}' looking for beginning of object key string`},
		{"column counts characters", "{\"database_path\": \"数据\" x}", `config.json:1:24: invalid JSON: invalid character 'x' after object key:value pair`},
		{"truncated", `{"web_port": 80`, `config.json:1:16: invalid JSON: unexpected end of JSON input`},
		{"open block comment", "{\n /* x", `config.json:2:2: comment /* is not closed`},
		{"validation after decode", `{"web_port": 0}`, `web_port: must be between 1 and 65535, got 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Chdir(dir)
			_, err := Load(LoadOptions{})
			if got := errText(err); got != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestFileAccepts(t *testing.T) {
	tests := []struct {
		name, content string
		check         func(Config) bool
	}{
		{"empty file", "", func(c Config) bool { return reflect.DeepEqual(c, Defaults()) }},
		{"only comments", "// nothing\n/* here */", func(c Config) bool { return reflect.DeepEqual(c, Defaults()) }},
		{"BOM", "\uFEFF{\"web_port\": 9}", func(c Config) bool { return c.WebPort == 9 }},
		{"slashes inside strings", `{"websocket_url": "ws://h:1/a//b", "target_name": "x // y /* z */"} // c`,
			func(c Config) bool { return c.WebsocketURL == "ws://h:1/a//b" && c.TargetName == "x // y /* z */" }},
		{"escaped quote then comment", `{"target_name": "a\"//b"} // c`, func(c Config) bool { return c.TargetName == `a"//b` }},
		{"null keeps default", `{"web_port": null, "message_log": null}`, func(c Config) bool { return c.WebPort == 8001 && c.MessageLogEnabled() }},
		{"integral float for int", `{"web_port": 8.002e3}`, func(c Config) bool { return c.WebPort == 8002 }},
		{"fractional seconds", `{"ping_interval": 0.2}`, func(c Config) bool { return c.PingInterval == 0.2 }},
		{"message_log false", `{"message_log": false}`, func(c Config) bool { return !c.MessageLogEnabled() }},
		{"empty list", `{"notification_keywords": []}`, func(c Config) bool { return c.NotificationKeywords != nil && len(c.NotificationKeywords) == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(LoadOptions{ConfigPath: writeFile(t, "c.json", tt.content)})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected config %v", c)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		check func(Config) bool
		want  string // error; "" = none
	}{
		{"int", []string{"WSMON_WEB_PORT=9001"}, func(c Config) bool { return c.WebPort == 9001 }, ""},
		{"bad int", []string{"WSMON_WEB_PORT=x"}, nil, `environment WSMON_WEB_PORT: expected an integer, got "x"`},
		{"bad float", []string{"WSMON_PING_INTERVAL=NaN"}, nil, `environment WSMON_PING_INTERVAL: expected a number, got "NaN"`},
		{"bool words", []string{"WSMON_ENABLE_NOTIFICATIONS=yes", "WSMON_MESSAGE_LOG=0"},
			func(c Config) bool { return c.EnableNotifications && !c.MessageLogEnabled() }, ""},
		{"bad bool", []string{"WSMON_ENABLE_NOTIFICATIONS=maybe"}, nil,
			`environment WSMON_ENABLE_NOTIFICATIONS: expected a boolean (true/false, yes/no, on/off, 1/0), got "maybe"`},
		{"comma list", []string{"WSMON_NOTIFICATION_KEYWORDS= a, b ,,c"},
			func(c Config) bool { return reflect.DeepEqual(c.NotificationKeywords, []string{"a", "b", "c"}) }, ""},
		{"JSON list", []string{`WSMON_NOTIFICATION_KEYWORDS=["a,b","c"]`},
			func(c Config) bool { return reflect.DeepEqual(c.NotificationKeywords, []string{"a,b", "c"}) }, ""},
		{"bad JSON list", []string{`WSMON_NOTIFICATION_KEYWORDS=[1]`}, nil,
			`environment WSMON_NOTIFICATION_KEYWORDS: element 0: expected a string, got number 1`},
		{"map", []string{`WSMON_HEADERS={"Origin":"http://x"}`},
			func(c Config) bool { return c.Headers["Origin"] == "http://x" }, ""},
		{"bad map", []string{`WSMON_HEADERS=Origin=x`}, nil,
			`environment WSMON_HEADERS: expected an object with string values as JSON, got "Origin=x"`},
		{"targets", []string{`WSMON_TARGETS=[{"url":"ws://a:1/"}]`},
			func(c Config) bool { return len(c.Targets) == 1 && c.Targets[0].URL == "ws://a:1/" }, ""},
		{"bad target key", []string{`WSMON_TARGETS=[{"ulr":"ws://a:1/"}]`}, nil,
			`environment WSMON_TARGETS: targets[0]: unknown key "ulr" (did you mean "url"?)`},
		{"token", []string{"WSMON_WEB_TOKEN=s3cret"}, func(c Config) bool { return c.WebToken == "s3cret" }, ""},
		{"typo", []string{"WSMON_WEB_PROT=1"}, nil, `environment WSMON_WEB_PROT: unknown variable (did you mean WSMON_WEB_PORT?)`},
		{"typo distance 2", []string{"WSMON_LOG_LEVLE=1", "X=1"}, nil, `environment WSMON_LOG_LEVLE: unknown variable (did you mean WSMON_LOG_LEVEL?)`},
		{"unrelated WSMON vars ignored", []string{"WSMON_PG_DSN=postgres://x", "WSMON_TEST_FOO=1", "WSMON_CONFIG=x"}, func(c Config) bool { return true }, ""},
		{"other vars ignored", []string{"WEB_PORT=x", "NOEQUALS"}, func(c Config) bool { return c.WebPort == 8001 }, ""},
		{"validated", []string{"WSMON_WEBSOCKET_URL=http://x/"}, nil, `websocket_url: scheme must be ws or wss, got "http"`},
	}
	t.Chdir(t.TempDir())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(LoadOptions{Env: tt.env})
			if got := errText(err); got != tt.want {
				t.Fatalf("error\n got: %s\nwant: %s", got, tt.want)
			}
			if err == nil && !tt.check(c) {
				t.Errorf("unexpected config %v", c)
			}
		})
	}
}

func TestOverrideErrors(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]string
		want   string
	}{
		{"bad value", map[string]string{"batch-size": "many"}, `flag --batch-size: expected an integer, got "many"`},
		{"unknown key", map[string]string{"log-levl": "x"}, `flag --log-levl: unknown configuration key "log_levl" (did you mean "log_level"?)`},
	}
	t.Chdir(t.TempDir())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(LoadOptions{Overrides: Overrides{Values: tt.values}})
			if got := errText(err); got != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"defaults", func(c *Config) {}, ""},
		{"url empty", func(c *Config) { c.WebsocketURL = "" }, `websocket_url: must be set`},
		{"url scheme", func(c *Config) { c.WebsocketURL = "http://x/ws" }, `websocket_url: scheme must be ws or wss, got "http"`},
		{"url no host", func(c *Config) { c.WebsocketURL = "ws:///chat" }, `websocket_url: missing host in "ws:///chat"`},
		{"url unparsable", func(c *Config) { c.WebsocketURL = "ws://x:port/" }, `websocket_url: cannot parse "ws://x:port/": invalid port ":port" after host`},
		{"wss ok", func(c *Config) { c.WebsocketURL = "WSS://x:443/" }, ""},
		{"port 0", func(c *Config) { c.WebPort = 0 }, `web_port: must be between 1 and 65535, got 0`},
		{"port big", func(c *Config) { c.WebPort = 65536 }, `web_port: must be between 1 and 65535, got 65536`},
		{"reconnect 0", func(c *Config) { c.ReconnectInterval = 0 }, `reconnect_interval: must be greater than 0 and at most 3600 seconds, got 0`},
		{"reconnect big", func(c *Config) { c.ReconnectInterval = 3601 }, `reconnect_interval: must be greater than 0 and at most 3600 seconds, got 3601`},
		{"attempts", func(c *Config) { c.MaxReconnectAttempts = -1 }, `max_reconnect_attempts: must be between 0 (retry forever) and 1000000, got -1`},
		{"database_path", func(c *Config) { c.DatabasePath = "" }, `database_path: must be set when database_driver is sqlite`},
		{"log level", func(c *Config) { c.LogLevel = "TRACE" }, `log_level: must be one of DEBUG, INFO, WARNING, ERROR, got "TRACE"`},
		{"log level case", func(c *Config) { c.LogLevel = "warn" }, ""},
		{"memory 0", func(c *Config) { c.MaxMessagesInMemory = 0 }, `max_messages_in_memory: must be between 1 and 1000000, got 0`},
		{"memory big", func(c *Config) { c.MaxMessagesInMemory = 1000001 }, `max_messages_in_memory: must be between 1 and 1000000, got 1000001`},
		{"backup hours", func(c *Config) { c.AutoBackupHours = -1 }, `auto_backup_hours: must be between 0 (no automatic backups) and 8784, got -1`},
		{"refresh", func(c *Config) { c.WebRefreshInterval = 0.5 }, `web_refresh_interval: must be between 1 and 3600 seconds, got 0.5`},
		{"protocol", func(c *Config) { c.Protocol = "rwa" }, `protocol: unknown protocol "rwa" (did you mean "raw"?); supported: ` + strings.Join(registry.Names(), ", ")},
		{"header name", func(c *Config) { c.Headers = map[string]string{"Bad Name": "x"} }, `headers: invalid header name "Bad Name"`},
		{"header handshake", func(c *Config) { c.Headers = map[string]string{"Sec-WebSocket-Protocol": "x"} },
			`headers: "Sec-WebSocket-Protocol" is set by the WebSocket handshake and cannot be overridden; use subprotocols`},
		{"field map key", func(c *Config) { c.FieldMap = map[string]string{"usr": "a.b"} },
			`field_map: unknown message field "usr" (did you mean "user"?); must be one of user, content, type, room, time, id`},
		{"field map path", func(c *Config) { c.FieldMap = map[string]string{"user": " "} }, `field_map: path for "user" must not be empty`},
		{"read limit small", func(c *Config) { c.ReadLimitBytes = 1000 }, `read_limit_bytes: must be between 1024 (1 KiB) and 1073741824 (1 GiB), got 1000`},
		{"rule ok", func(c *Config) { c.Rules = []rules.Rule{{Name: "k", Type: "keyword", Keywords: []string{"紧急"}}} }, ""},
		{"rule type", func(c *Config) { c.Rules = []rules.Rule{{Name: "k", Type: "words"}} },
			`rules[0].type: must be one of keyword, regex, user, rate, silence, connection, anomaly, got "words"`},
		{"rule regex", func(c *Config) { c.Rules = []rules.Rule{{Name: "r", Type: "regex", Pattern: "a(b"}} },
			"rules[0].pattern: not a valid RE2 expression: error parsing regexp: missing closing ): `a(b`"},
		{"rule names unique", func(c *Config) {
			c.Rules = []rules.Rule{{Name: "k", Type: "connection"}, {Name: "k", Type: "silence", Minutes: 5}}
		}, `rules[1].name: "k" is used by another rule`},
		{"notification keywords checked", func(c *Config) { c.EnableNotifications, c.NotificationKeywords = true, []string{"ok", " "} },
			`notification_keywords[1]: must be 1 to 256 characters`},
		{"notifier ok", func(c *Config) {
			c.Notifiers = []notify.Config{{Name: "ops", Type: "slack", URL: "https://hooks.slack.com/services/x"}}
			c.Rules = []rules.Rule{{Name: "k", Type: "keyword", Keywords: []string{"x"}, Notify: []string{"ops"}}}
		}, ""},
		{"notifier type", func(c *Config) { c.Notifiers = []notify.Config{{Name: "ops", Type: "pager", URL: "https://x"}} },
			`notifiers[0].type: "pager" is not one of webhook, slack, dingtalk, feishu, lark, wecom, email`},
		{"rule notifies an unknown notifier", func(c *Config) {
			c.Rules = []rules.Rule{{Name: "k", Type: "keyword", Keywords: []string{"x"}, Notify: []string{"ops"}}}
		}, `rules[0].notify: unknown notifier "ops" (none is configured: add it to notifiers)`},
		{"notify_webhook_url is the webhook notifier", func(c *Config) {
			c.NotifyWebhook = "https://example.com/hook"
			c.Rules = []rules.Rule{{Name: "k", Type: "keyword", Keywords: []string{"x"}, Notify: []string{"webhook"}}}
		}, ""},
		{"implicit rule name taken", func(c *Config) {
			c.EnableNotifications = true
			c.Rules = []rules.Rule{{Name: "notification_keywords", Type: "connection"}}
		}, `rules[0].name: "notification_keywords" is used by another rule`},
		{"read limit big", func(c *Config) { c.ReadLimitBytes = 1<<30 + 1 }, `read_limit_bytes: must be between 1024 (1 KiB) and 1073741824 (1 GiB), got 1073741825`},
		{"ping", func(c *Config) { c.PingInterval = 0 }, `ping_interval: must be greater than 0 and at most 3600 seconds, got 0`},
		{"pong", func(c *Config) { c.PongTimeout = 20 }, `pong_timeout: must be greater than ping_interval (20) and at most 86400 seconds, got 20`},
		{"reconnect max", func(c *Config) { c.ReconnectMaxInterval = 0 }, `reconnect_max_interval: must be greater than 0 and at most 86400 seconds, got 0`},
		{"stable after", func(c *Config) { c.StableAfter = -1 }, `stable_after: must be between 0 and 86400 seconds, got -1`},
		{"dedup", func(c *Config) { c.DedupWindow = -1 }, `dedup_window: must be between 0 and 2592000 seconds, got -1`},
		{"log format", func(c *Config) { c.LogFormat = "xml" }, `log_format: must be text or json, got "xml"`},
		{"batch size 0", func(c *Config) { c.BatchSize = 0 }, `batch_size: must be between 1 and 100000, got 0`},
		{"web connections auto", func(c *Config) { c.WebMaxConnections = 0 }, ""},
		{"web connections set", func(c *Config) { c.WebMaxConnections = 16 }, ""},
		{"web connections few", func(c *Config) { c.WebMaxConnections = 15 },
			`web_max_connections: must be 0 (half the open-file limit) or between 16 and 1000000, got 15`},
		{"web connections negative", func(c *Config) { c.WebMaxConnections = -1 },
			`web_max_connections: must be 0 (half the open-file limit) or between 16 and 1000000, got -1`},
		{"live clients 0", func(c *Config) { c.LiveMaxClients = 0 }, `live_max_clients: must be between 1 and 1000000, got 0`},
		{"batch size big", func(c *Config) { c.BatchSize = 100001 }, `batch_size: must be between 1 and 100000, got 100001`},
		{"batch latency is not checked", func(c *Config) { c.BatchLatency = 11 }, ""},
		{"backup keep", func(c *Config) { c.BackupKeep = 0 }, `backup_keep: must be at least 1, got 0`},
		{"retention", func(c *Config) { c.RetentionDays = -1 }, `retention_days: must be between 0 and 36600, got -1`},
		{"time zone", func(c *Config) { c.TimeZone = "Mars/Base" }, `time_zone: unknown time zone "Mars/Base"`},
		{"time zone ok", func(c *Config) { c.TimeZone = "UTC" }, ""},
		{"webhook scheme", func(c *Config) { c.NotifyWebhook = "ftp://h/x" }, `notify_webhook_url: scheme must be http or https, got "ftp"`},
		{"webhook ok", func(c *Config) { c.NotifyWebhook = "https://h/x" }, ""},
		{"driver", func(c *Config) { c.DatabaseDriver = "mysql" }, `database_driver: must be sqlite or postgres, got "mysql"`},
		{"postgres without url", func(c *Config) { c.DatabaseDriver = "postgres" }, `database_driver: postgres needs database_url (postgres://user:password@host:5432/dbname)`},
		{"postgres with url", func(c *Config) { c.DatabaseDriver, c.DatabaseURL, c.DatabasePath = "postgres", "postgres://x/db", "" }, ""},
		{"url alone", func(c *Config) { c.DatabaseURL = "postgresql://u:secret@x:5432/db?sslmode=disable" }, ""},
		{"url scheme", func(c *Config) { c.DatabaseURL = "mysql://u:secret@x/db" }, `database_url: scheme must be postgres or postgresql, like postgres://user:password@host:5432/dbname`},
		{"url not a url", func(c *Config) { c.DatabaseURL = "postgres://u:sec ret@x:bad/db" }, `database_url: not a URL like postgres://user:password@host:5432/dbname`},
		{"url with size cap", func(c *Config) { c.DatabaseURL, c.RetentionMaxBytes = "postgres://x/db", 1<<30 },
			`retention_max_bytes: works with SQLite only; with database_url (PostgreSQL) use retention_days`},
		{"web host empty", func(c *Config) { c.WebHost = "" }, `web_host: must be set (use 0.0.0.0 to listen on all interfaces)`},
		{"user without password", func(c *Config) { c.WebUser = "u" }, `web_password: must be set when web_user is set`},
		{"password without user", func(c *Config) { c.WebPassword = "p" }, `web_user: must be set when web_password is set`},
		{"target url missing", func(c *Config) { c.Targets = []Target{{Name: "a"}} }, `targets[0].url: must be set`},
		{"target url scheme", func(c *Config) { c.Targets = []Target{{URL: "ws://a/"}, {URL: "https://b/"}} }, `targets[1].url: scheme must be ws or wss, got "https"`},
		{"target protocol", func(c *Config) { c.Targets = []Target{{URL: "ws://a/", Protocol: "x"}} }, `targets[0].protocol: unknown protocol "x"; supported: ` + strings.Join(registry.Names(), ", ")},
		{"target field map", func(c *Config) { c.Targets = []Target{{URL: "ws://a/", FieldMap: map[string]string{"nick": "n"}}} },
			`targets[0].field_map: unknown message field "nick"; must be one of user, content, type, room, time, id`},
		{"target read limit", func(c *Config) { c.Targets = []Target{{URL: "ws://a/", ReadLimitBytes: 1}} },
			`targets[0].read_limit_bytes: must be between 1024 (1 KiB) and 1073741824 (1 GiB), got 1`},
		{"target duplicate derived name", func(c *Config) { c.Targets = []Target{{URL: "ws://h:1/a"}, {URL: "ws://h:1/b"}} },
			`targets[1].name: duplicate target name "h:1" (same as targets[0]); give each target a distinct name`},
		{"target duplicate name", func(c *Config) {
			c.Targets = []Target{{Name: "x", URL: "ws://a/"}, {Name: "y", URL: "ws://b/"}, {Name: "x", URL: "ws://c/"}}
		},
			`targets[2].name: duplicate target name "x" (same as targets[0]); give each target a distinct name`},
		{"target blank name", func(c *Config) { c.Targets = []Target{{Name: " ", URL: "ws://a/"}} }, `targets[0].name: must not be empty`},
		{"targets without top url", func(c *Config) { c.WebsocketURL = ""; c.Targets = []Target{{URL: "ws://a/"}} }, ""},
		{"default target blank name", func(c *Config) { c.TargetName = " " }, `target_name: must not be empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.mutate(&c)
			err := c.Validate()
			if got := errText(err); got != tt.want {
				t.Fatalf("Validate()\n got: %s\nwant: %s", got, tt.want)
			}
			var ce *Error
			if err != nil && (!errors.As(err, &ce) || ce.Key == "" || !strings.HasPrefix(err.Error(), ce.Key+":")) {
				t.Errorf("error %q is not an *Error starting with its Key (%+v)", err, ce)
			}
		})
	}
}

// TestProtocolSettings: the protocol, subscribe, auth, options, format and
// framing of each target are checked by building its adapter, with one
// line naming the target and key.
func TestProtocolSettings(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string // "" = valid
	}{
		{"default auto", func(*Config) {}, ""},
		{"raw text lines", func(c *Config) { c.Protocol, c.Format, c.Framing = "raw", "text", "lines" }, ""},
		{"unknown protocol", func(c *Config) { c.Protocol = "socketioo" }, `protocol: unknown protocol "socketioo"`},
		{"bad format", func(c *Config) { c.Protocol, c.Format = "raw", "xml" }, "format: must be auto, json or text"},
		{"raw subscribe", func(c *Config) { c.Protocol, c.Subscribe = "raw", []string{"x"} }, "subscribe: the raw protocol has no subscriptions"},
		{"unknown option", func(c *Config) { c.Protocol, c.Options = "raw", map[string]any{"qos": 1.0} }, "options.qos: unknown option"},
		{"auth key", func(c *Config) { c.Auth = map[string]string{"user": "x"} }, `auth: unknown key "user"`},
		{"target key", func(c *Config) {
			c.Targets = []Target{{Name: "a", URL: "ws://a/"}, {Name: "b", URL: "ws://b/", Framing: "chunks"}}
		}, "targets[1].framing: must be frame or lines"},
		{"target unknown protocol", func(c *Config) {
			c.Targets = []Target{{Name: "a", URL: "ws://a/", Protocol: "mqt"}}
		}, `targets[0].protocol: unknown protocol "mqt"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.mod(&c)
			got := errText(c.Validate())
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("Validate() = %q, want %q", got, tt.want)
			}
			var ce *Error
			if tt.want != "" && (!errors.As(c.Validate(), &ce) || !strings.HasPrefix(tt.want, ce.Key)) {
				t.Errorf("error key = %v, want the start of %q", ce, tt.want)
			}
		})
	}
}

func TestWebExposure(t *testing.T) {
	const weakToken = `web_token: too weak to expose the dashboard on 0.0.0.0: use at least 16 characters, not a repeated pattern (for example: openssl rand -hex 16)`
	const weakPassword = `web_password: too weak to expose the dashboard on 0.0.0.0: use at least 12 characters, not a repeated pattern`
	const exposed = `web_host: binding 0.0.0.0 exposes the dashboard to other machines; set web_token (or web_user and web_password), or set web_insecure_no_auth to true to allow it without authentication`
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"loopback v4", func(c *Config) { c.WebHost = "127.0.0.1" }, ""},
		{"loopback 127/8", func(c *Config) { c.WebHost = "127.1.2.3" }, ""},
		{"loopback v6", func(c *Config) { c.WebHost = "::1" }, ""},
		{"loopback v6 brackets", func(c *Config) { c.WebHost = "[::1]" }, ""},
		{"localhost", func(c *Config) { c.WebHost = "LocalHost" }, ""},
		{"all interfaces", func(c *Config) { c.WebHost = "0.0.0.0" }, exposed},
		{"v6 any", func(c *Config) { c.WebHost = "::" }, strings.Replace(exposed, "0.0.0.0", "::", 1)},
		{"lan address", func(c *Config) { c.WebHost = "192.168.1.5" }, strings.Replace(exposed, "0.0.0.0", "192.168.1.5", 1)},
		{"token", func(c *Config) { c.WebHost, c.WebToken = "0.0.0.0", "3f9c2a7e1b8d4c6f" }, ""},
		{"basic auth", func(c *Config) { c.WebHost, c.WebUser, c.WebPassword = "0.0.0.0", "u", "correct horse" }, ""},
		{"one-character token", func(c *Config) { c.WebHost, c.WebToken = "0.0.0.0", "t" }, weakToken},
		{"15-character token", func(c *Config) { c.WebHost, c.WebToken = "0.0.0.0", "3f9c2a7e1b8d4c6" }, weakToken},
		{"repeated token", func(c *Config) { c.WebHost, c.WebToken = "0.0.0.0", "abababababababababab" }, weakToken},
		{"white-space token", func(c *Config) { c.WebHost, c.WebToken = "0.0.0.0", " " }, `web_token: must not start or end with white space`},
		{"white-space token on loopback", func(c *Config) { c.WebToken = "   " }, `web_token: must not start or end with white space`},
		{"padded token", func(c *Config) { c.WebToken = "3f9c2a7e1b8d4c6f\n" }, `web_token: must not start or end with white space`},
		{"short token on loopback", func(c *Config) { c.WebToken = "t" }, ""},
		{"weak password", func(c *Config) { c.WebHost, c.WebUser, c.WebPassword = "0.0.0.0", "u", "p" }, weakPassword},
		{"weak token, opt-out", func(c *Config) { c.WebHost, c.WebToken, c.WebInsecureNoAuth = "0.0.0.0", "t", true }, ""},
		{"half basic auth", func(c *Config) { c.WebHost, c.WebUser = "0.0.0.0", "u" }, `web_password: must be set when web_user is set`},
		{"explicit opt-out", func(c *Config) { c.WebHost, c.WebInsecureNoAuth = "0.0.0.0", true }, ""},
		{"allowed hosts", func(c *Config) { c.WebAllowedHosts = []string{"monitor.lan", "10.0.0.2", "[fd00::1]"} }, ""},
		{"allowed host with port", func(c *Config) { c.WebAllowedHosts = []string{"monitor.lan:8001"} },
			`web_allowed_hosts[0]: "monitor.lan:8001" must be a bare host name or IP address (no port)`},
		{"allowed host URL", func(c *Config) { c.WebAllowedHosts = []string{"ok", "http://monitor.lan"} },
			`web_allowed_hosts[1]: "http://monitor.lan" must be a bare host name or IP address (no scheme, port, path or wildcard)`},
		{"allowed host empty", func(c *Config) { c.WebAllowedHosts = []string{""} }, `web_allowed_hosts[0]: "" is empty`},
		{"trusted proxies", func(c *Config) { c.WebTrustedProxies = []string{"10.0.0.1", "172.16.0.0/12", "fd00::/8"} }, ""},
		{"trusted proxy name", func(c *Config) { c.WebTrustedProxies = []string{"proxy.lan"} },
			`web_trusted_proxies[0]: "proxy.lan" must be an IP address or CIDR range (10.0.0.0/8)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.mutate(&c)
			if got := errText(c.Validate()); got != tt.want {
				t.Errorf("Validate()\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestResolvedTargets(t *testing.T) {
	base := Defaults()
	base.Headers = map[string]string{"Origin": "http://o"}
	base.FieldMap = map[string]string{"user": "u"}
	base.Subprotocols = []string{"chat"}
	base.CAFile = "ca.pem"
	tests := []struct {
		name    string
		targets []Target
		topName string
		want    []Target
	}{
		{"single from top level", nil, "", []Target{{
			Name: "localhost:8000", URL: "ws://localhost:8000/ws/chat", Protocol: "auto",
			Headers: map[string]string{"Origin": "http://o"}, Subprotocols: []string{"chat"}, CAFile: "ca.pem",
			FieldMap: map[string]string{"user": "u"}, ReadLimitBytes: 16 << 20,
		}}},
		{"single named", nil, "main", []Target{{
			Name: "main", URL: "ws://localhost:8000/ws/chat", Protocol: "auto",
			Headers: map[string]string{"Origin": "http://o"}, Subprotocols: []string{"chat"}, CAFile: "ca.pem",
			FieldMap: map[string]string{"user": "u"}, ReadLimitBytes: 16 << 20,
		}}},
		{"entries inherit", []Target{
			{URL: "wss://a.example/ws"},
			{Name: "b", URL: "ws://b:9/", Headers: map[string]string{"Cookie": "c"}, ReadLimitBytes: 2048, FieldMap: map[string]string{"content": "m"}},
		}, "ignored", []Target{
			{Name: "a.example", URL: "wss://a.example/ws", Protocol: "auto", Headers: map[string]string{"Origin": "http://o"},
				Subprotocols: []string{"chat"}, CAFile: "ca.pem", FieldMap: map[string]string{"user": "u"}, ReadLimitBytes: 16 << 20},
			{Name: "b", URL: "ws://b:9/", Protocol: "auto", Headers: map[string]string{"Cookie": "c"},
				Subprotocols: []string{"chat"}, CAFile: "ca.pem", FieldMap: map[string]string{"content": "m"}, ReadLimitBytes: 2048},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			c.Targets, c.TargetName = tt.targets, tt.topName
			got := c.ResolvedTargets()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ResolvedTargets()\n got: %+v\nwant: %+v", got, tt.want)
			}
			got[0].Headers["Origin"] = "changed"
			if base.Headers["Origin"] != "http://o" {
				t.Error("ResolvedTargets shares maps with the config")
			}
		})
	}
}

func TestHelpers(t *testing.T) {
	levels := []struct {
		in   string
		want slog.Level
	}{{"DEBUG", slog.LevelDebug}, {"info", slog.LevelInfo}, {"WARNING", slog.LevelWarn}, {"warn", slog.LevelWarn}, {"Error", slog.LevelError}, {"bogus", slog.LevelInfo}}
	for _, l := range levels {
		if got := (Config{LogLevel: l.in}).SlogLevel(); got != l.want {
			t.Errorf("SlogLevel(%q) = %v, want %v", l.in, got, l.want)
		}
	}
	if got := (Config{}).Location(); got != time.Local {
		t.Errorf("Location() without time_zone = %v, want Local", got)
	}
	if got := (Config{TimeZone: "UTC"}).Location(); got.String() != "UTC" {
		t.Errorf("Location(UTC) = %v", got)
	}
	off := false
	if (Config{}).MessageLogEnabled() != true || (Config{MessageLog: &off}).MessageLogEnabled() != false {
		t.Error("MessageLogEnabled wrong")
	}
}

func TestRedacted(t *testing.T) {
	c := Defaults()
	c.WebToken, c.WebPassword, c.WebUser = "tok3n", "pa55", "admin"
	c.WebsocketURL = "wss://bob:pw@h/ws?room=1&token=abc"
	c.Headers = map[string]string{"Authorization": "Bearer x", "cookie": "s=1", "X-Api-Key": "k", "Origin": "http://o"}
	c.SendOnConnect = []string{`{"auth":"secret"}`}
	c.NotifyWebhook = "https://hooks.slack.com/services/T0/B0/XYZ"
	c.DatabaseURL = "postgres://u@db/x?password=p%20w"
	c.Targets = []Target{{URL: "ws://h/?key=1", Headers: map[string]string{"Authorization": "x"}}}
	r := c.Redacted()
	checks := []struct{ name, got, want string }{
		{"web_token", r.WebToken, Mask},
		{"web_password", r.WebPassword, Mask},
		{"web_user", r.WebUser, "admin"},
		{"url", r.WebsocketURL, "wss://bob:%2A%2A%2A@h/ws?room=1&token=%2A%2A%2A"},
		{"authorization", r.Headers["Authorization"], Mask},
		{"cookie", r.Headers["cookie"], Mask},
		{"api key", r.Headers["X-Api-Key"], Mask},
		{"origin", r.Headers["Origin"], "http://o"},
		{"send_on_connect", r.SendOnConnect[0], "*** (17 bytes)"},
		{"webhook", r.NotifyWebhook, "https://hooks.slack.com/***"},
		{"database_url", r.DatabaseURL, "postgres://u@db/x?password=%2A%2A%2A"},
		{"target url", r.Targets[0].URL, "ws://h/?key=%2A%2A%2A"},
		{"target header", r.Targets[0].Headers["Authorization"], Mask},
		{"original untouched", c.Headers["Authorization"] + c.Targets[0].Headers["Authorization"], "Bearer xx"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	for _, secret := range []string{"tok3n", "pa55", "Bearer", "abc", "XYZ", "p%20w", `{\"auth\"`} {
		if s := c.String(); strings.Contains(s, secret) {
			t.Errorf("String() leaks %q: %s", secret, s)
		}
	}
	if got := (Config{DatabaseURL: "postgres://u:pw@h/db"}).Redacted().DatabaseURL; got != "postgres://u:%2A%2A%2A@h/db" {
		t.Errorf("URL DSN redacted to %q", got)
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"websocket_url", "web_port", "web_token", "log_level", "name", "url"}
	tests := []struct{ in, want string }{
		{"websocket_ulr", "websocket_url"},
		{"web_prot", "web_port"},
		{"WEB-PORT", "web_port"},
		{"loglevel", "log_level"},
		{"nmae", "name"},
		{"uri", "url"},
		{"completely_different", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, keys); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	dists := []struct {
		a, b string
		want int
	}{{"", "", 0}, {"abc", "", 3}, {"ab", "ba", 1}, {"kitten", "sitting", 3}, {"重要", "紧急", 2}, {"ca", "abc", 3}}
	for _, d := range dists {
		if got := distance(d.a, d.b); got != d.want {
			t.Errorf("distance(%q, %q) = %d, want %d", d.a, d.b, got, d.want)
		}
	}
}

func TestStripCommentsKeepsOffsets(t *testing.T) {
	in := "{\"a\": \"//x\", /* b\n c */ \"d\": 1} // e\n"
	out, err := stripComments([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := "{\"a\": \"//x\",     \n      \"d\": 1}     \n"
	if string(out) != want {
		t.Errorf("stripComments\n got: %q\nwant: %q", out, want)
	}
}

// FuzzLoadFile checks that the file parser never panics and that its
// errors are one line, whatever the input.
func FuzzLoadFile(f *testing.F) {
	brief, err := os.ReadFile("testdata/brief_config.json")
	if err != nil {
		f.Fatal(err)
	}
	seeds := []string{
		string(brief), "", "{}", "[]", "null", `{"a":1}`, "/*", "//", `{"x":"//"}`, "\"\\",
		`{"targets":[{"url":"ws://a/","headers":{"A":"b"}},{"nmae":1}]}`,
		`{"web_port":1e999,"batch_latency":-0.0,"notification_keywords":["a",null]}`,
		"{\"web_port\":\n\"a\nb\"}", "\uFEFF{}", `{"message_log":null,"field_map":{"user":"a"}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Defaults()
		err := parseFile("config.json", data, &c)
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || msg == "" {
				t.Fatalf("error is not one non-empty line: %q", msg)
			}
			return
		}
		if err := c.Validate(); err != nil && strings.ContainsAny(err.Error(), "\r\n") {
			t.Fatalf("validation error is not one line: %q", err)
		}
		_ = c.ResolvedTargets()
		_ = c.String()
	})
}

// TestEveryFieldDecodable guards against a new Config or Target field of a
// type the decoder does not handle.
func TestEveryFieldDecodable(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[Config](), reflect.TypeFor[Target]()} {
		fs := fieldsOf(typ)
		if len(fs) != typ.NumField() {
			t.Errorf("%s: %d of %d fields have a JSON key", typ, len(fs), typ.NumField())
		}
		for _, f := range fs {
			if got := expected(f.typ); got == f.typ.String() {
				t.Errorf("%s.%s: type %s is not supported by the decoder", typ, f.key, f.typ)
			}
		}
	}
}

// TestDeprecatedBatchLatency: batch_latency does nothing, but a config
// that sets it (from the file or the environment) still loads and says so
// in Deprecations, which the program logs at start.
func TestDeprecatedBatchLatency(t *testing.T) {
	if d := Defaults().Deprecations(); len(d) != 0 {
		t.Fatalf("defaults have deprecations %q", d)
	}
	t.Chdir(t.TempDir())
	for _, opts := range []LoadOptions{
		{ConfigPath: writeFile(t, "c.json", `{"batch_latency": 0.05, "batch_size": 100}`)},
		{Env: []string{"WSMON_BATCH_LATENCY=0.2"}},
	} {
		c, err := Load(opts)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if d := c.Deprecations(); len(d) != 1 || !strings.HasPrefix(d[0], "batch_latency is deprecated and has no effect") {
			t.Errorf("Deprecations = %q", d)
		}
	}
}

func TestAnalysisKeys(t *testing.T) {
	load := func(text string) (Config, error) {
		p := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(LoadOptions{ConfigPath: p})
	}
	c, err := load(`{"analysis_terms": false, "analysis_sentiment": false, "terms_stop_words": ["wsmon", "客服 在吗"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if c.AnalysisTermsEnabled() || c.AnalysisSentimentEnabled() || len(c.TermsStopWords) != 2 {
		t.Fatalf("parsed %v %v %q", c.AnalysisTermsEnabled(), c.AnalysisSentimentEnabled(), c.TermsStopWords)
	}
	for _, bad := range []string{
		`{"terms_stop_words": [""]}`,
		`{"terms_stop_words": ["   "]}`,
		`{"terms_stop_words": ["one two three"]}`,
		`{"analysis_terms": "yes"}`,
	} {
		if _, err := load(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestAnomalyKeys(t *testing.T) {
	load := func(text string) (Config, error) {
		p := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return Load(LoadOptions{ConfigPath: p})
	}
	for _, c := range []struct {
		text    string
		on      bool
		keys    int
		wantErr string // "" = accepted
	}{
		{`{}`, AnomalyDetectionDefault, anomaly.DefaultMaxKeys, ""},
		{`{"anomaly_detection": true}`, true, anomaly.DefaultMaxKeys, ""},
		{`{"anomaly_detection": false, "anomaly_max_keys": 0}`, false, anomaly.DefaultMaxKeys, ""},
		{`{"anomaly_detection": true, "anomaly_max_keys": 10}`, true, 10, ""},
		{`{"anomaly_max_keys": 100000}`, AnomalyDetectionDefault, 100000, ""},
		{`{"anomaly_max_keys": 9}`, false, 0, "anomaly_max_keys: must be between 10 and 100000, got 9"},
		{`{"anomaly_max_keys": -1}`, false, 0, "anomaly_max_keys: must be between 10 and 100000, got -1"},
		{`{"anomaly_max_keys": 100001}`, false, 0, "anomaly_max_keys: must be between 10 and 100000, got 100001"},
		{`{"anomaly_max_keys": 2.5}`, false, 0, "anomaly_max_keys"},
		{`{"anomaly_detection": "yes"}`, false, 0, "anomaly_detection"},
	} {
		cfg, err := load(c.text)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: error %v, want one containing %q", c.text, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.text, err)
			continue
		}
		if cfg.AnomalyDetectionEnabled() != c.on || cfg.AnomalyKeys() != c.keys {
			t.Errorf("%s: on %v keys %d, want %v %d", c.text, cfg.AnomalyDetectionEnabled(), cfg.AnomalyKeys(), c.on, c.keys)
		}
	}
	// The environment sets them too.
	cfg, err := Load(LoadOptions{Env: []string{"WSMON_ANOMALY_DETECTION=1", "WSMON_ANOMALY_MAX_KEYS=500"}})
	if err != nil || !cfg.AnomalyDetectionEnabled() || cfg.AnomalyKeys() != 500 {
		t.Errorf("from the environment: %v %v %d", err, cfg.AnomalyDetectionEnabled(), cfg.AnomalyKeys())
	}
}
