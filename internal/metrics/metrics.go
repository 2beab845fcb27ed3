// Package metrics owns wsmon's Prometheus exposition (GET /metrics). One
// collector reads, at scrape time, the status the parts already keep
// (capture runners, journal, ingest pipeline, indexer, live streams), so
// there is no second set of counters to drift from what the API shows.
// What nothing else keeps is kept here: committed messages by target,
// type and abnormal reason (Metrics is an ingest committer) and the
// database write latency histogram (ObserveBatch).
package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/notify"
	"github.com/wsmon/wsmon/internal/sentiment"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Target is one monitored target's status at scrape time.
type Target struct {
	Name       string
	State      string // connecting, connected, disconnected, paused, refused, gave_up, stopped
	Reconnects int
	// ReconnectsByReason splits Reconnects by why the attempt before ended
	// (capture's Reason* values); nil when not known (wsmon web).
	ReconnectsByReason map[string]int
	LastMessageAt      time.Time // zero: none yet
	Frames             int64     // records journaled over the runner's life
	Control            int64     // protocol control frames seen
	Dropped            int64     // frames not kept (the journal could not write)
}

// Ingest is the pipeline's and the journal's state at scrape time.
type Ingest struct {
	Messages             int64 // committed
	Duplicates           int64
	IDCollisions         int64
	Batches              int64
	DatabaseWriteErrors  int64
	Backlog              uint64 // journal records not yet in the database
	JournalHealthy       bool
	JournalPendingBytes  int64
	JournalDroppedFrames int64
	JournalDroppedBytes  int64
	JournalCorrupt       int64
}

// Snapshot is everything one scrape reports.
type Snapshot struct {
	Targets     []Target
	Ingest      *Ingest // nil in a process without the monitor (wsmon web)
	IndexLag    int64   // committed messages the search index has not taken yet
	Segments    int     // index segments on disk
	LiveClients int64   // open /api/live streams
	Notifiers   []notify.SinkStats
	Sentiment   *Sentiment // nil unless this process runs the sentiment analysis
}

// Sentiment is who scored chat messages' sentiment in the running
// analyzer, since it started.
type Sentiment struct {
	Remote, Lexicon uint64 // scores added to the rollups, by the external classifier and by the lexicon
	// Classifier is the external classifier's own counts; nil without
	// one.
	Classifier *sentiment.RemoteStats
}

// States are the values of the state label of wsmon_target_state.
var States = []string{"connecting", "connected", "disconnected", "paused", "refused", "gave_up", "stopped"}

// Metrics is the registry behind /metrics.
type Metrics struct {
	reg          *prometheus.Registry
	batchLatency prometheus.Histogram

	mu       sync.Mutex
	messages map[[2]string]int64 // committed, by target and type
	abnormal map[string]int64    // committed with a reason, by reason
}

// New builds the registry: wsmon's collector reading snapshot at each
// scrape, the batch latency histogram, and the Go runtime and process
// collectors.
func New(snapshot func() Snapshot) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), messages: map[[2]string]int64{}, abnormal: map[string]int64{}}
	m.batchLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "wsmon_ingest_batch_seconds",
		Help:    "Time to write one batch of messages to the database (retries included).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	})
	m.reg.MustRegister(&collector{m: m, snapshot: snapshot}, m.batchLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveBatch records the time of one database write of a batch.
func (m *Metrics) ObserveBatch(d time.Duration) { m.batchLatency.Observe(d.Seconds()) }

// Committed counts committed messages by target, type and reason. It is
// an ingest.Committer, called on the pipeline's writer goroutine after
// each commit; runs of one target and type cost one map update.
func (m *Metrics) Committed(msgs []message.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := 0; i < len(msgs); {
		k := [2]string{msgs[i].Target, string(msgs[i].Type)}
		j := i + 1
		for j < len(msgs) && msgs[j].Target == k[0] && string(msgs[j].Type) == k[1] {
			j++
		}
		m.messages[k] += int64(j - i)
		for _, msg := range msgs[i:j] {
			if msg.Reason != "" {
				m.abnormal[msg.Reason]++
			}
		}
		i = j
	}
	return nil
}

// Handler serves the text exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	dTargetState   = desc("wsmon_target_state", "1 for the target's current state, 0 for the others.", "target", "state")
	dReconnects    = desc("wsmon_target_reconnects_total", "Connection attempts after the first, over the runner's life.", "target")
	dReconnReason  = desc("wsmon_target_reconnects_by_reason_total", "Reconnects by why the attempt before ended: prepare, dial, handshake, server_close, dead, dropped, local_resource.", "target", "reason")
	dLastAge       = desc("wsmon_target_last_message_age_seconds", "Seconds since the target's last recorded message (absent before the first).", "target")
	dFrames        = desc("wsmon_target_frames_total", "Records journaled from the target.", "target")
	dControl       = desc("wsmon_target_control_frames_total", "Protocol control frames (heartbeats, acks, subscribe replies) from the target.", "target")
	dDropped       = desc("wsmon_target_dropped_frames_total", "Frames from the target not kept because the journal could not write and its memory bound was reached.", "target")
	dMessages      = desc("wsmon_messages_total", "Messages committed to the database, by target and type.", "target", "type")
	dAbnormal      = desc("wsmon_abnormal_messages_total", "Messages committed with a reason (stored raw: invalid UTF-8, NUL bytes, bad JSON, too large, binary, ...), by reason.", "reason")
	dDuplicates    = desc("wsmon_duplicates_total", "Replays dropped: the same message seen again.")
	dCollisions    = desc("wsmon_id_collisions_total", "Messages stored although an earlier one had the same payload id with other content.")
	dBatches       = desc("wsmon_ingest_batches_total", "Batches committed to the database.")
	dDBErrors      = desc("wsmon_database_write_errors_total", "Failed batch writes (each retried; records wait in the journal).")
	dBacklog       = desc("wsmon_journal_backlog_records", "Journal records not yet in the database.")
	dJournalOK     = desc("wsmon_journal_healthy", "1 while the journal's writes and fsyncs succeed, 0 while they fail.")
	dJournalHeld   = desc("wsmon_journal_pending_bytes", "Bytes held in memory, not yet written to the journal.")
	dJournalDrop   = desc("wsmon_journal_dropped_frames_total", "Frames dropped because the journal could not write and its memory bound was reached.")
	dJournalDropB  = desc("wsmon_journal_dropped_bytes_total", "Bytes of those frames.")
	dCorrupt       = desc("wsmon_journal_corrupt_records_total", "Journal records skipped as corrupt when the journal was opened.")
	dIndexLag      = desc("wsmon_index_lag_messages", "Committed messages the search index has not taken yet.")
	dSegments      = desc("wsmon_index_segments", "Search index segments.")
	dLiveClients   = desc("wsmon_live_clients", "Open /api/live (Server-Sent Events) streams.")
	dDeliveries    = desc("wsmon_alert_deliveries_total", "Alert deliveries by notifier and outcome: sent, failed (given up), retried (failed attempts retried), dropped (queue full).", "notifier", "outcome")
	dQueued        = desc("wsmon_alert_queue", "Alerts waiting for a notifier.", "notifier")
	dSentScored    = desc("wsmon_sentiment_scored_total", "Chat messages added to the sentiment rollups, by who scored them: remote (the external classifier) or lexicon (without one, or its fallbacks).", "source")
	dClassReqs     = desc("wsmon_sentiment_classifier_requests_total", "Requests to the external sentiment classifier, by result: ok or failed (error, status, timeout, malformed answer).", "result")
	dClassFallback = desc("wsmon_sentiment_classifier_fallback_total", "Texts the lexicon scored instead of the external classifier, by reason: failed (their request failed), open (the circuit breaker was open), full (too many texts waiting), closed (shutting down).", "reason")
	dClassBreaker  = desc("wsmon_sentiment_classifier_breaker_open", "1 while the external classifier's circuit breaker is open or half-open (texts are scored by the lexicon), 0 while closed.")
	allDescriptors = []*prometheus.Desc{dTargetState, dReconnects, dReconnReason, dLastAge, dFrames, dControl, dDropped, dMessages, dAbnormal,
		dDuplicates, dCollisions, dBatches, dDBErrors, dBacklog, dJournalOK, dJournalHeld, dJournalDrop, dJournalDropB, dCorrupt,
		dIndexLag, dSegments, dLiveClients, dDeliveries, dQueued, dSentScored, dClassReqs, dClassFallback, dClassBreaker}
)

// collector turns a Snapshot into metrics.
type collector struct {
	m        *Metrics
	snapshot func() Snapshot
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescriptors {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	now := time.Now()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, t := range s.Targets {
		for _, st := range States {
			v := 0.0
			if st == t.State {
				v = 1
			}
			gauge(dTargetState, v, t.Name, st)
		}
		counter(dReconnects, float64(t.Reconnects), t.Name)
		for reason, n := range t.ReconnectsByReason {
			counter(dReconnReason, float64(n), t.Name, reason)
		}
		if !t.LastMessageAt.IsZero() {
			gauge(dLastAge, now.Sub(t.LastMessageAt).Seconds(), t.Name)
		}
		counter(dFrames, float64(t.Frames), t.Name)
		counter(dControl, float64(t.Control), t.Name)
		counter(dDropped, float64(t.Dropped), t.Name)
	}
	c.m.mu.Lock()
	for k, v := range c.m.messages {
		counter(dMessages, float64(v), k[0], k[1])
	}
	for reason, v := range c.m.abnormal {
		counter(dAbnormal, float64(v), reason)
	}
	c.m.mu.Unlock()
	if in := s.Ingest; in != nil {
		counter(dDuplicates, float64(in.Duplicates))
		counter(dCollisions, float64(in.IDCollisions))
		counter(dBatches, float64(in.Batches))
		counter(dDBErrors, float64(in.DatabaseWriteErrors))
		gauge(dBacklog, float64(in.Backlog))
		ok := 0.0
		if in.JournalHealthy {
			ok = 1
		}
		gauge(dJournalOK, ok)
		gauge(dJournalHeld, float64(in.JournalPendingBytes))
		counter(dJournalDrop, float64(in.JournalDroppedFrames))
		counter(dJournalDropB, float64(in.JournalDroppedBytes))
		counter(dCorrupt, float64(in.JournalCorrupt))
	}
	gauge(dIndexLag, float64(s.IndexLag))
	gauge(dSegments, float64(s.Segments))
	gauge(dLiveClients, float64(s.LiveClients))
	for _, n := range s.Notifiers {
		counter(dDeliveries, float64(n.Sent), n.Name, "sent")
		counter(dDeliveries, float64(n.Failed), n.Name, "failed")
		counter(dDeliveries, float64(n.Retried), n.Name, "retried")
		counter(dDeliveries, float64(n.Dropped), n.Name, "dropped")
		gauge(dQueued, float64(n.Queued), n.Name)
	}
	if se := s.Sentiment; se != nil {
		counter(dSentScored, float64(se.Remote), "remote")
		counter(dSentScored, float64(se.Lexicon), "lexicon")
		if c := se.Classifier; c != nil {
			counter(dClassReqs, float64(c.Requests-c.Failed), "ok")
			counter(dClassReqs, float64(c.Failed), "failed")
			counter(dClassFallback, float64(c.FailedTexts), "failed")
			counter(dClassFallback, float64(c.Open), "open")
			counter(dClassFallback, float64(c.Full), "full")
			counter(dClassFallback, float64(c.Closed), "closed")
			open := 0.0
			if c.Breaker != "closed" {
				open = 1
			}
			gauge(dClassBreaker, open)
		}
	}
}
