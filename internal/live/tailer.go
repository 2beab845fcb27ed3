package live

import (
	"context"
	"log/slog"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

// Source is what the tailer polls: messages with id > after, oldest first,
// each content cut to its first maxContent characters.
type Source interface {
	LiveMessagesAfter(ctx context.Context, after int64, limit, maxContent int) ([]message.Message, error)
	MaxMessageID(ctx context.Context) (int64, error)
}

// tailBatch is how many messages a poll reads at most.
const tailBatch = 1000

// Tailer feeds a Hub from the database, for a web process that runs apart
// from the monitor writing that database. New messages reach subscribers
// within one poll interval of their commit.
type Tailer struct {
	src   Source
	hub   *Hub
	every time.Duration
	log   *slog.Logger
	// Wake, if set before Run, makes the tailer read at once when it
	// receives (the database's notification of another process's commit:
	// store.Commits), besides every poll interval.
	Wake <-chan struct{}
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
		case <-t.Wake: // nil: never
		}
		for {
			// A poll reads at most tailBatch messages of at most
			// MaxContent characters: bounded however large they are.
			msgs, err := t.src.LiveMessagesAfter(ctx, last, tailBatch, MaxContent)
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
			if len(msgs) < tailBatch {
				break
			}
		}
	}
}
