package terms

import (
	"context"
	"sync"
	"sync/atomic"
)

// Message is what a Feeder counts of a stored chat message.
type Message struct {
	ID   int64  // the message's id in the store, increasing
	Day  Day    // DayOf its received time
	Room string // "" for none
	Text string
}

// Feeder counts messages into a Counter on a goroutine of its own (Run),
// fed through a bounded queue that never blocks the sender (Offer): when
// the queue is full the message is dropped from the terms and counted as
// dropped. So ingest pays a channel send per message, not the
// tokenizing and counting.
type Feeder struct {
	tk *Tokenizer
	c  *Counter
	q  chan Message

	mu      sync.Mutex // held while counting a message and by Snapshot
	applied int64      // the highest id counted

	offered, dropped, counted atomic.Uint64
}

// NewFeeder returns a feeder of c with a queue of queue messages (at
// least 1).
func NewFeeder(tk *Tokenizer, c *Counter, queue int) *Feeder {
	return &Feeder{tk: tk, c: c, q: make(chan Message, max(queue, 1))}
}

// Offer queues m without blocking; it reports false, and counts the
// message as dropped, when the queue is full. Safe for concurrent use.
func (f *Feeder) Offer(m Message) bool {
	f.offered.Add(1)
	select {
	case f.q <- m:
		return true
	default:
		f.dropped.Add(1)
		return false
	}
}

// Run counts queued messages until ctx is done, then counts what is left
// in the queue and returns nil. Call it once.
func (f *Feeder) Run(ctx context.Context) error {
	var ts Terms
	for {
		select {
		case m := <-f.q:
			f.count(&ts, m)
		case <-ctx.Done():
			for {
				select {
				case m := <-f.q:
					f.count(&ts, m)
				default:
					return nil
				}
			}
		}
	}
}

func (f *Feeder) count(ts *Terms, m Message) {
	ts.Reset()
	f.tk.Append(ts, m.Text)
	f.mu.Lock()
	f.c.Add(m.Day, m.Room, ts)
	f.applied = max(f.applied, m.ID)
	f.counted.Add(1)
	f.mu.Unlock()
}

// Snapshot returns the counter's state and the highest message id counted
// into it, consistently (no message is counted between the two): saved
// together, a restart loads the state and counts the messages after the
// id.
func (f *Feeder) Snapshot() (state []byte, applied int64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	state, err = f.c.MarshalBinary()
	return state, f.applied, err
}

// SetApplied sets the highest id counted, after the counter's state was
// loaded from a snapshot taken with it.
func (f *Feeder) SetApplied(id int64) {
	f.mu.Lock()
	f.applied = id
	f.mu.Unlock()
}

// FeederStats are a feeder's counts of messages since it was made.
type FeederStats struct {
	Offered, Dropped, Counted uint64
	Queued                    int
}

// Stats returns the feeder's counts.
func (f *Feeder) Stats() FeederStats {
	return FeederStats{Offered: f.offered.Load(), Dropped: f.dropped.Load(), Counted: f.counted.Load(), Queued: len(f.q)}
}
