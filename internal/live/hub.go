// Package live owns the fan-out of new messages to live subscribers (the
// dashboard's Server-Sent Events stream): an in-process hub fed by the
// ingest pipeline, the bounded buffer of recent messages
// (max_messages_in_memory), and a tailer that feeds the hub from the
// database when the web server runs as a separate process.
//
// A slow subscriber never slows ingest: Publish never blocks; a subscriber
// whose queue is full misses messages and is told how many.
package live

import (
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/wsmon/wsmon/internal/message"
)

// Filter selects messages; empty fields match everything.
type Filter struct {
	User, Type, Target, Room string
}

// Match reports whether m passes the filter.
func (f Filter) Match(m *message.Message) bool {
	return (f.User == "" || f.User == m.User) &&
		(f.Type == "" || f.Type == string(m.Type)) &&
		(f.Target == "" || f.Target == m.Target) &&
		(f.Room == "" || f.Room == m.Room)
}

// Hub distributes published messages to subscribers. Safe for concurrent use.
type Hub struct {
	mu     sync.Mutex
	ring   []message.Message // recent messages, oldest at head
	head   int
	n      int
	subs   map[*Sub]struct{}
	encode func(*message.Message) []byte
}

// NewHub returns a hub that remembers the last recent messages. encode,
// when not nil, renders a message for subscribers; each message is
// encoded at most once however many subscribers receive it (see
// Batch.Encoded).
func NewHub(recent int, encode func(*message.Message) []byte) *Hub {
	if recent < 1 {
		recent = 1
	}
	if encode == nil {
		encode = func(m *message.Message) []byte {
			b, _ := json.Marshal(m)
			return b
		}
	}
	return &Hub{ring: make([]message.Message, recent), subs: make(map[*Sub]struct{}), encode: encode}
}

// Batch is one published batch, shared by every subscriber.
type Batch struct {
	Msgs   []message.Message
	encode func(*message.Message) []byte
	enc    []atomic.Pointer[[]byte]
}

// Encoded returns the encoding of message i, computed on first use and
// shared by every subscriber (two racing first uses may both encode; one
// result is kept).
func (b *Batch) Encoded(i int) []byte {
	if p := b.enc[i].Load(); p != nil {
		return *p
	}
	e := b.encode(&b.Msgs[i])
	b.enc[i].Store(&e)
	return e
}

// Delivery is what a subscriber receives: the messages of a batch that
// pass its filter (Idx; nil means all), oldest first.
type Delivery struct {
	B   *Batch
	Idx []int32
}

// Len is the number of messages delivered.
func (d Delivery) Len() int {
	if d.Idx == nil {
		return len(d.B.Msgs)
	}
	return len(d.Idx)
}

// At returns the i-th delivered message's index in the batch.
func (d Delivery) At(i int) int {
	if d.Idx == nil {
		return i
	}
	return int(d.Idx[i])
}

// Sub is one subscriber. Read deliveries from C; TakeMissed tells how many
// messages were skipped because the subscriber fell behind.
type Sub struct {
	h      *Hub
	filter Filter
	c      chan Delivery
	mu     sync.Mutex
	missed int64
}

// C delivers batches of matching messages, in order.
func (s *Sub) C() <-chan Delivery { return s.c }

// TakeMissed returns and resets the number of messages skipped since the
// last call.
func (s *Sub) TakeMissed() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.missed
	s.missed = 0
	return n
}

// Close unsubscribes.
func (s *Sub) Close() {
	s.h.mu.Lock()
	delete(s.h.subs, s)
	s.h.mu.Unlock()
}

// Subscribe registers a subscriber with room for queue batches.
func (h *Hub) Subscribe(f Filter, queue int) *Sub {
	if queue < 1 {
		queue = 64
	}
	s := &Sub{h: h, filter: f, c: make(chan Delivery, queue)}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Subscribers returns the number of subscribers.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Publish records msgs as recent and offers them to every subscriber
// without blocking. Messages must not be modified afterwards.
func (h *Hub) Publish(msgs []message.Message) {
	if len(msgs) == 0 {
		return
	}
	h.mu.Lock()
	for i := range msgs {
		h.ring[(h.head+h.n)%len(h.ring)] = msgs[i]
		if h.n < len(h.ring) {
			h.n++
		} else {
			h.head = (h.head + 1) % len(h.ring)
		}
	}
	subs := make([]*Sub, 0, len(h.subs))
	for s := range h.subs {
		subs = append(subs, s)
	}
	h.mu.Unlock()

	if len(subs) == 0 {
		return
	}
	b := &Batch{Msgs: msgs, encode: h.encode, enc: make([]atomic.Pointer[[]byte], len(msgs))}
	for _, s := range subs {
		d := Delivery{B: b}
		if s.filter != (Filter{}) {
			d.Idx = []int32{}
			for i := range msgs {
				if s.filter.Match(&msgs[i]) {
					d.Idx = append(d.Idx, int32(i))
				}
			}
			if len(d.Idx) == 0 {
				continue
			}
		}
		select {
		case s.c <- d:
		default:
			s.mu.Lock()
			s.missed += int64(d.Len())
			s.mu.Unlock()
		}
	}
}

// Recent returns up to n of the most recent messages matching f, oldest
// first.
func (h *Hub) Recent(n int, f Filter) []message.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []message.Message
	for i := h.n - 1; i >= 0 && len(out) < n; i-- {
		m := &h.ring[(h.head+i)%len(h.ring)]
		if f.Match(m) {
			out = append(out, *m)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
