// Package alert owns notifications: when enable_notifications is on, every
// new message whose content contains one of notification_keywords
// (case-insensitive) is logged as a warning and, when notify_webhook_url is
// set, POSTed there as JSON. Delivery is asynchronous with a bounded queue,
// so a slow webhook never slows ingest; what does not fit is counted and
// logged.
package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

// Notifier matches messages against keywords. It implements
// ingest.Publisher.
type Notifier struct {
	keywords []string // lower-cased
	webhook  string
	client   *http.Client
	log      *slog.Logger
	queue    chan Alert
	dropped  atomic.Int64
}

// Alert is one keyword match, as posted to the webhook.
type Alert struct {
	Keyword    string    `json:"keyword"`
	ID         int64     `json:"id"`
	Target     string    `json:"target"`
	User       string    `json:"user"`
	Room       string    `json:"room"`
	Content    string    `json:"content"`
	ReceivedAt time.Time `json:"received_at"`
}

// New returns a notifier; webhook may be "".
func New(keywords []string, webhook string, log *slog.Logger) *Notifier {
	n := &Notifier{webhook: webhook, log: log.With("component", "alert"), queue: make(chan Alert, 1024),
		client: &http.Client{Timeout: 10 * time.Second}}
	for _, k := range keywords {
		if k = strings.ToLower(strings.TrimSpace(k)); k != "" {
			n.keywords = append(n.keywords, k)
		}
	}
	return n
}

// Publish checks each message; it never blocks.
func (n *Notifier) Publish(msgs []message.Message) {
	for i := range msgs {
		m := &msgs[i]
		if kw := n.match(m.Content); kw != "" {
			a := Alert{Keyword: kw, ID: m.ID, Target: m.Target, User: m.User, Room: m.Room, Content: m.Content, ReceivedAt: m.ReceivedAt}
			n.log.Warn("keyword matched", "keyword", kw, "target", m.Target, "user", m.User, "id", m.ID)
			if n.webhook == "" {
				continue
			}
			select {
			case n.queue <- a:
			default:
				if n.dropped.Add(1)%100 == 1 {
					n.log.Error("webhook queue full; alerts not delivered", "dropped_total", n.dropped.Load())
				}
			}
		}
	}
}

func (n *Notifier) match(content string) string {
	if len(n.keywords) == 0 {
		return ""
	}
	lc := strings.ToLower(content)
	for _, k := range n.keywords {
		if strings.Contains(lc, k) {
			return k
		}
	}
	return ""
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
