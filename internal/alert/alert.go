// Package alert owns the delivery of alerts to notify_webhook_url: each
// alert the rules raise (internal/rules, on committed messages) and that
// names the "webhook" notifier is POSTed there as JSON. Delivery is
// asynchronous with a bounded queue, so a slow webhook never slows
// ingest; what does not fit is counted and logged.
package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// Notifier posts alerts to one webhook.
type Notifier struct {
	webhook string
	client  *http.Client
	log     *slog.Logger
	queue   chan Alert
	dropped atomic.Int64
}

// Alert is one rule hit, as posted to the webhook.
type Alert struct {
	Rule       string    `json:"rule"`
	Detail     string    `json:"detail"`
	AlertID    int64     `json:"alert_id"` // receivers deduplicate on it
	ID         int64     `json:"id"`       // the message's id (0: not about one message)
	Target     string    `json:"target"`
	User       string    `json:"user"`
	Room       string    `json:"room"`
	Content    string    `json:"content"`
	ReceivedAt time.Time `json:"received_at"`
}

// New returns a notifier posting to webhook.
func New(webhook string, log *slog.Logger) *Notifier {
	return &Notifier{webhook: webhook, log: log.With("component", "alert"), queue: make(chan Alert, 1024),
		client: &http.Client{Timeout: 10 * time.Second}}
}

// Deliver queues one alert for the webhook; it never blocks (a full queue
// drops it, counted and logged).
func (n *Notifier) Deliver(a Alert) {
	select {
	case n.queue <- a:
	default:
		if n.dropped.Add(1)%100 == 1 {
			n.log.Error("webhook queue full; alerts not delivered", "dropped_total", n.dropped.Load())
		}
	}
}

// Run delivers queued alerts to the webhook until ctx is cancelled.
func (n *Notifier) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-n.queue:
			if err := n.post(ctx, a); err != nil {
				n.log.Warn("webhook delivery failed", "error", err)
			}
		}
	}
}

func (n *Notifier) post(ctx context.Context, a Alert) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.webhook, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
