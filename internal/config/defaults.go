package config

// Default values that other code may want to refer to by name.
const (
	// DefaultConfigPath is the file Load reads when LoadOptions.ConfigPath is
	// empty; it is resolved against the working directory and may be absent.
	DefaultConfigPath = "config.json"
	// DefaultReadLimitBytes is the default maximum WebSocket frame size.
	DefaultReadLimitBytes = 16 << 20
	// DefaultJournalMemoryLimitBytes is the default bound on frames held
	// in memory while the journal's disk fails (journal.DefaultMaxPending).
	DefaultJournalMemoryLimitBytes = 32 << 20
	// DefaultClassifierTimeout and DefaultClassifierBatch are
	// sentiment_classifier_timeout (seconds) and sentiment_classifier_batch.
	DefaultClassifierTimeout = 2
	DefaultClassifierBatch   = 64
)

// Defaults returns the configuration used when nothing else is set: the
// values of the Python monitor's example config.json (README.zh.md) plus
// the documented defaults of the wsmon extensions. Every call returns fresh slices, so callers may modify the
// result. Defaults().Validate() is nil.
func Defaults() Config {
	messageLog, backoff := true, true
	return Config{
		WebsocketURL:         "ws://localhost:8000/ws/chat",
		WebPort:              8001,
		ReconnectInterval:    5,
		MaxReconnectAttempts: 10,
		DatabasePath:         "data/chat_monitor.db",
		LogLevel:             "INFO",
		EnableNotifications:  false,
		NotificationKeywords: []string{"重要", "紧急"},
		MaxMessagesInMemory:  1000,
		AutoBackupHours:      24,
		WebRefreshInterval:   5,

		Protocol:                "auto",
		ReadLimitBytes:          DefaultReadLimitBytes,
		JournalMemoryLimitBytes: DefaultJournalMemoryLimitBytes,
		PingInterval:            20,
		PongTimeout:             60,
		ReconnectMaxInterval:    60,
		StableAfter:             30,
		ReconnectBackoff:        &backoff,
		DedupWindow:             3600,

		LogDir:         "logs",
		LogFormat:      "text",
		MessageLog:     &messageLog,
		BatchSize:      5000,
		BackupKeep:     7,
		DatabaseDriver: "sqlite",

		SentimentClassifierTimeout: DefaultClassifierTimeout,
		SentimentClassifierBatch:   DefaultClassifierBatch,

		WebHost:        "127.0.0.1",
		LiveMaxClients: 2000,
	}
}
