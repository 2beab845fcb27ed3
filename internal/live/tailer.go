package live

import (
	"context"
	"log/slog"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

// Source is what the tailer polls: messages with id > after, oldest first.
type Source interface {
	MessagesAfter(ctx context.Context, after int64, limit int) ([]message.Message, error)
	MaxMessageID(ctx context.Context) (int64, error)
}

// Tailer feeds a Hub from the database, for a web process that runs apart
// from the monitor writing that database. New messages reach subscribers
// within one poll interval of their commit.
type Tailer struct {
	src   Source
	hub   *Hub
	every time.Duration
	log   *slog.Logger
}

// NewTailer returns a tailer polling src every interval.
func NewTailer(src Source, hub *Hub, every time.Duration, log *slog.Logger) *Tailer {
	return &Tailer{src: src, hub: hub, every: every, log: log}
}

// Run polls until ctx is cancelled. It starts after the newest message
// present at start (history is served by the API, not replayed live).
func (t *Tailer) Run(ctx context.Context) {
	last, err := t.src.MaxMessageID(ctx)
	if err != nil {
		t.log.Warn("live tail: reading start position", "error", err)
	}
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for {
			msgs, err := t.src.MessagesAfter(ctx, last, 5000)
			if err != nil {
				if ctx.Err() == nil {
					t.log.Warn("live tail: polling the database", "error", err)
				}
				break
			}
			if len(msgs) == 0 {
				break
			}
			t.hub.Publish(msgs)
			last = msgs[len(msgs)-1].ID
			if len(msgs) < 5000 {
				break
			}
		}
	}
}
