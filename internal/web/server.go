// Package web owns wsmon's HTTP surface: the REST API (stats, messages,
// search, context, users, sessions, targets), the Server-Sent Events live stream,
// authentication, security headers, the OpenAPI description and the
// embedded dashboard. Handlers return errors; one catalogue of API errors
// is encoded in one place (errors.go).
package web

import (
	"context"
	"github.com/wsmon/wsmon/internal/report"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/wsmon/wsmon/internal/live"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/notify"
	"github.com/wsmon/wsmon/internal/store"
)

// Store is what the API reads.
type Store interface {
	Messages(ctx context.Context, q store.MessageQuery) ([]message.Message, error)
	Message(ctx context.Context, id int64) (message.Message, error)
	Context(ctx context.Context, id int64, n int) ([]message.Message, error)
	Search(ctx context.Context, text string, q store.MessageQuery) (store.SearchResult, error)
	Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error)
	User(ctx context.Context, name, target string) (store.UserInfo, error)
	Sessions(ctx context.Context, target string, limit int) ([]store.Session, error)
	Attempts(ctx context.Context, target string, limit int) ([]store.Attempt, error)
}

// TargetStatus is the monitor state of one target, as the dashboard shows it.
type TargetStatus struct {
	Target        string    `json:"target"`
	URL           string    `json:"url"`
	State         string    `json:"state"` // connected, connecting, disconnected, stopped
	Since         time.Time `json:"since"`
	Reconnects    int       `json:"reconnects"`
	LastMessageAt time.Time `json:"last_message_at"`
	LastError     string    `json:"last_error"`
	ErrorCode     string    `json:"error_code"`      // stable code of LastError, for translation (docs/api.md#error-codes)
	NextAttemptAt time.Time `json:"next_attempt_at"` // while waiting to reconnect: when the next attempt is due
	Protocol      string    `json:"protocol"`        // protocol of the current or last session ("" before the first)
}

// ProcessStatus is the process that captures (monitor or all), as the
// dashboard shows it: a separate web process reads its heartbeat.
type ProcessStatus struct {
	// State: "running"; "stopped" (it stopped cleanly); "dead" (its
	// heartbeat is older than MonitorDeadAfter: killed, crashed or hung);
	// "none" (no monitor has written this database since heartbeats exist).
	State       string
	PID         int
	Mode        string
	Version     string
	StartedAt   time.Time
	HeartbeatAt time.Time
	StoppedAt   time.Time
}

// Monitor process states (ProcessStatus.State).
const (
	ProcessRunning = "running"
	ProcessStopped = "stopped"
	ProcessDead    = "dead"
	ProcessNone    = "none"
)

// IngestCounters are the monitor's counts of what it did not store as new
// messages, since it started.
type IngestCounters struct {
	Duplicates            int64 `json:"duplicates"`              // replays dropped (same message seen again)
	IDCollisions          int64 `json:"id_collisions"`           // same payload id, other content: stored, and counted here
	JournalCorruptRecords int64 `json:"journal_corrupt_records"` // records skipped as corrupt when the journal was opened
	JournalCorruptBytes   int64 `json:"journal_corrupt_bytes"`   // their bytes, kept in journal/quarantine/

	// The journal's disk: while a write or fsync fails, JournalError says
	// why and since when; what is held in memory is not durable.
	JournalError            string     `json:"journal_error"`                 // "" while writes succeed
	JournalErrorSince       *time.Time `json:"journal_error_since,omitempty"` // when the failure began
	JournalPendingBytes     int64      `json:"journal_pending_bytes"`         // held in memory, not yet written
	JournalMemoryLimitBytes int64      `json:"journal_memory_limit_bytes"`    // journal_memory_limit_bytes
	DroppedFrames           int64      `json:"dropped_frames"`                // frames not kept: the journal could not write and its memory bound was reached (recorded as gap messages)
	DroppedBytes            int64      `json:"dropped_bytes"`                 // their bytes
	DatabaseError           string     `json:"database_error"`                // the last failed database write, "" once one succeeded
	Backlog                 uint64     `json:"backlog"`                       // journal records not yet in the database (they wait on disk while it is slow or down)
}

// Check is one readiness check of GET /readyz. Detail never holds secrets
// or paths (the endpoint needs no authentication).
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Options configure the server.
type Options struct {
	Store  Store
	Hub    *live.Hub
	Status func(ctx context.Context) []TargetStatus
	// Process reports the capturing process (GET /api/stats
	// monitor_process); nil: none is shown.
	Process func(ctx context.Context) ProcessStatus
	// Ingest reports the monitor's ingest counters; nil in a process
	// without the monitor (GET /api/stats then has no "ingest").
	Ingest func() IngestCounters
	// Alerts is the alert history (GET /api/alerts, POST /api/alerts/ack);
	// nil: no alerts.
	Alerts AlertStore
	// Rules lists and changes the alert rules; nil in a process without the
	// monitor, where rule writes answer 409.
	Rules RuleManager
	// RuleList lists the rules where Rules is nil (a separate web process
	// reads the monitor's stored rules); nil: none listed.
	RuleList RuleLister
	// Notifiers reports the alert sinks' delivery counts (shown with
	// /api/alerts); nil: none.
	Notifiers func() []notify.SinkStats
	// Analysis answers /api/analysis/terms, /api/analysis/sentiment and
	// /api/analysis/anomalies; nil: they answer 409 (turned off).
	Analysis Analysis
	// Reports builds /api/reports/daily and /api/reports/weekly; nil:
	// they answer 409 reports_off.
	Reports *report.Builder
	// Analyses names the analyses turned on ("terms", "sentiment", ...),
	// listed in /api/ui-config so that the dashboard asks only for those
	// where it shows them unasked (the anomalies on its chart).
	Analyses []string
	// Backup writes a backup for POST /api/backup; nil: 409.
	Backup Backuper
	// Metrics serves GET /metrics (Prometheus text format), behind the
	// same authentication as the API; nil answers 404.
	Metrics http.Handler
	// Ready runs the readiness checks of GET /readyz (all must pass for
	// 200); nil: only that the database can be read.
	Ready func(ctx context.Context) []Check
	// Targets lists every target with its status (GET /api/targets).
	Targets func(ctx context.Context) ([]TargetInfo, error)
	// Manager changes targets at runtime; nil in a process without the
	// monitor, where the target writes answer 409.
	Manager TargetManager
	Logger  *slog.Logger
	Version string
	// UI serves the dashboard; nil serves nothing but the API.
	UI http.Handler

	RefreshInterval time.Duration  // web_refresh_interval: min interval between stats pushes
	MaxInMemory     int            // max_messages_in_memory, told to the UI
	TimeZone        string         // name of the statistics time zone
	Location        *time.Location // that zone: dates in from/to without an offset are read in it

	// Busy, when set, reports that ingest is behind (a burst is being
	// written); live clients are then told what they miss instead of sent
	// it, so fan-out never competes with ingest for the CPU.
	Busy func() bool

	Token    string // bearer token; "" = none
	User     string // basic-auth user; "" = none
	Password string

	// Limits cap connections, live streams, timeouts and header sizes
	// (zero fields: the defaults in limits.go).
	Limits Limits
}

// Server is the HTTP handler of wsmon.
type Server struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	auth    *auth
	handler http.Handler

	statsCache  statsCache
	liveClients atomic.Int64 // open /api/live streams, against Limits.MaxLiveClients

	alertFeed alertFeed // new alerts to the live streams

	// streams is cancelled when the HTTP server shuts down: live streams end.
	streams     context.Context
	stopStreams context.CancelFunc
}

// New builds the server and its routes.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = 5 * time.Second
	}
	opts.Limits = opts.Limits.withDefaults()
	s := &Server{opts: opts, log: opts.Logger.With("component", "web"), mux: http.NewServeMux()}
	s.streams, s.stopStreams = context.WithCancel(context.Background())
	s.auth = newAuth(opts.Token, opts.User, opts.Password)
	s.routes()
	s.handler = securityHeaders(s.auth.middleware(s.mux))
	return s
}

// LiveClients is the number of open /api/live streams.
func (s *Server) LiveClients() int64 { return s.liveClients.Load() }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes() {
	m := s.mux
	m.Handle("GET /api/stats", s.api(s.handleStats))
	m.Handle("GET /api/messages", s.api(s.handleMessages))
	m.Handle("GET /api/messages/{id}", s.api(s.handleMessage))
	m.Handle("GET /api/messages/{id}/context", s.api(s.handleContext))
	m.Handle("GET /api/search", s.api(s.handleSearch))
	m.Handle("GET /api/export", s.api(s.handleExport))
	m.Handle("GET /api/users/{name}", s.api(s.handleUser))
	m.Handle("GET /api/analysis/terms", s.api(s.handleAnalysisTerms))
	m.Handle("GET /api/analysis/sentiment", s.api(s.handleAnalysisSentiment))
	m.Handle("GET /api/analysis/anomalies", s.api(s.handleAnalysisAnomalies))
	m.Handle("GET /api/analysis/users", s.api(s.handleAnalysisUsers))
	m.Handle("GET /api/analysis/users/{name}", s.api(s.handleAnalysisUser))
	m.Handle("GET /api/analysis/activity", s.api(s.handleAnalysisActivity))
	m.Handle("GET /api/reports/daily", s.api(s.handleReport(report.KindDaily)))
	m.Handle("GET /api/reports/weekly", s.api(s.handleReport(report.KindWeekly)))
	m.Handle("GET /api/sessions", s.api(s.handleSessions))
	m.Handle("GET /api/targets", s.api(s.handleTargets))
	m.Handle("POST /api/targets", s.api(sameOrigin(s.handleAddTarget)))
	m.Handle("PUT /api/targets/{name}", s.api(sameOrigin(s.handleUpdateTarget)))
	m.Handle("POST /api/targets/{name}/pause", s.api(sameOrigin(s.targetAction(TargetManager.PauseTarget))))
	m.Handle("POST /api/targets/{name}/resume", s.api(sameOrigin(s.targetAction(TargetManager.ResumeTarget))))
	m.Handle("DELETE /api/targets/{name}", s.api(sameOrigin(s.targetAction(TargetManager.RemoveTarget))))
	m.Handle("GET /api/alerts", s.api(s.handleAlerts))
	m.Handle("POST /api/alerts/ack", s.api(sameOrigin(s.handleAckAlerts)))
	m.Handle("GET /api/rules", s.api(s.handleRules))
	m.Handle("POST /api/rules", s.api(sameOrigin(s.handleAddRule)))
	m.Handle("PUT /api/rules/{name}", s.api(sameOrigin(s.handleUpdateRule)))
	m.Handle("DELETE /api/rules/{name}", s.api(sameOrigin(s.handleDeleteRule)))
	m.Handle("POST /api/backup", s.api(sameOrigin(s.handleBackup)))
	m.Handle("GET /api/live", s.api(s.handleLive))
	m.Handle("GET /api/ui-config", s.api(s.handleUIConfig))
	m.Handle("GET /api/openapi.json", s.api(s.handleOpenAPI))
	m.Handle("POST /api/login", s.api(s.handleLogin))
	m.Handle("POST /api/logout", s.api(s.handleLogout))
	m.Handle("GET /healthz", s.api(s.handleHealth))
	m.Handle("GET /readyz", s.api(s.handleReady))
	m.Handle("GET /metrics", s.api(s.handleMetrics))
	m.Handle("GET /api/", s.api(func(w http.ResponseWriter, r *http.Request) error { return errNotFound("no such API endpoint") }))
	if s.opts.UI != nil {
		m.Handle("GET /", s.opts.UI)
	}
}

// securityHeaders sets a strict CSP and friends on every response: message
// content is attacker-controlled, so the pages load only our own scripts
// and styles and cannot be framed.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}
