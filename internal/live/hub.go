// Package live owns the fan-out of new messages to live subscribers (the
// dashboard's Server-Sent Events stream): an in-process hub fed by the
// ingest pipeline, the bounded buffer of recent messages
// (max_messages_in_memory), and a tailer that feeds the hub from the
// database when the web server runs as a separate process.
//
// A slow subscriber never slows ingest: Publish never blocks; a subscriber
// whose queue is full misses messages and is told how many.
//
// Memory is bounded by bytes as well as by count: the hub keeps no raw
// frames and at most MaxContent bytes of a message's content (the whole
// message is in the database), the recent ring holds at most RecentBytes,
// and a subscriber at most SubBytes of undelivered messages.
package live

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"unicode/utf8"

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

// Byte bounds of the hub.
const (
	// MaxContent is the most of a message's content the hub keeps and
	// subscribers get: a longer content is cut at a rune boundary and ends
	// with Ellipsis. The live view shows the beginning of a huge message;
	// the API serves all of it.
	MaxContent = 16 << 10
	// RecentBytes bounds the recent ring (max_messages_in_memory counts
	// messages): the oldest go first when the ring's messages (by Size)
	// take more.
	RecentBytes = 16 << 20
	// SubBytes bounds what one subscriber has received and not yet
	// released (Sub.Done); past it deliveries are missed.
	SubBytes = 8 << 20
)

// Ellipsis ends a content cut at MaxContent.
const Ellipsis = "…"

// Size is what the hub counts a message it holds as: its content and
// other strings, its raw bytes (none once cut) and a fixed overhead.
func Size(m *message.Message) int {
	return 256 + len(m.Content) + len(m.Raw) + len(m.User) + len(m.Room) + len(m.Target) + len(m.ExtID)
}

// view returns what the hub keeps of msgs: msgs itself when every message
// is small, else a copy in which each message over MaxContent bytes (raw
// or content) has no raw frame and its content cut.
func view(msgs []message.Message) []message.Message {
	var out []message.Message
	for i := range msgs {
		m := &msgs[i]
		if len(m.Content) <= MaxContent && len(m.Raw) <= MaxContent {
			continue
		}
		if out == nil {
			out = append([]message.Message(nil), msgs...)
		}
		out[i].Raw = nil
		out[i].Content = cut(m.Content, MaxContent)
	}
	if out == nil {
		return msgs
	}
	return out
}

// cut returns s when it has at most max bytes, else its longest prefix of
// whole runes within max bytes followed by Ellipsis.
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	k := max - len(Ellipsis)
	for k > 0 && !utf8.RuneStart(s[k]) {
		k--
	}
	return s[:k] + Ellipsis
}

// Hub distributes published messages to subscribers. Safe for concurrent use.
type Hub struct {
	mu     sync.Mutex
	ring   []message.Message // recent messages, oldest at head
	head   int
	n      int
	bytes  int // Size of the ring's messages
	subs   map[*Sub]struct{}
	encode func(*message.Message) []byte
}

// NewHub returns a hub that remembers the last recent messages (at most
// RecentBytes of them). encode,
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

// Batch is one published batch, shared by every subscriber. Its messages
// are what the hub keeps of the published ones (no raw frame, a content
// of at most MaxContent bytes, for those that were larger).
type Batch struct {
	Msgs   []message.Message
	encode func(*message.Message) []byte
	enc    []atomic.Pointer[[]byte]
	size   int // Size of every message, for subscribers without a filter
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
// pass its filter (Idx; nil means all), oldest first. Bytes is what it
// counts against the subscriber's SubBytes until Sub.Done.
type Delivery struct {
	B     *Batch
	Idx   []int32
	Bytes int
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
	held   int // Bytes of deliveries sent and not yet Done
}

// C delivers batches of matching messages, in order. Call Done with each
// delivery once it is no longer used: a subscriber holding SubBytes of
// deliveries misses the next ones.
func (s *Sub) C() <-chan Delivery { return s.c }

// Done releases a delivery received from C.
func (s *Sub) Done(d Delivery) {
	s.mu.Lock()
	s.held -= d.Bytes
	s.mu.Unlock()
}

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
// without blocking. Messages must not be modified afterwards. The hub
// keeps (and subscribers get) a view of them: messages over MaxContent
// bytes lose their raw frame and the end of their content.
func (h *Hub) Publish(msgs []message.Message) {
	if len(msgs) == 0 {
		return
	}
	msgs = view(msgs)
	h.mu.Lock()
	for i := range msgs {
		if h.n == len(h.ring) {
			h.dropOldest()
		}
		h.ring[(h.head+h.n)%len(h.ring)] = msgs[i]
		h.n++
		h.bytes += Size(&msgs[i])
		for h.bytes > RecentBytes && h.n > 1 {
			h.dropOldest()
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
	for i := range msgs {
		b.size += Size(&msgs[i])
	}
	for _, s := range subs {
		d := Delivery{B: b, Bytes: b.size}
		if s.filter != (Filter{}) {
			d.Idx, d.Bytes = []int32{}, 0
			for i := range msgs {
				if s.filter.Match(&msgs[i]) {
					d.Idx = append(d.Idx, int32(i))
					d.Bytes += Size(&msgs[i])
				}
			}
			if len(d.Idx) == 0 {
				continue
			}
		}
		s.offer(d)
	}
}

// offer sends d to s unless s's queue is full or it holds SubBytes (one
// delivery always fits an empty subscriber); else d is missed.
func (s *Sub) offer(d Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == 0 || s.held+d.Bytes <= SubBytes {
		select {
		case s.c <- d:
			s.held += d.Bytes
			return
		default:
		}
	}
	s.missed += int64(d.Len())
}

// dropOldest removes the ring's oldest message. Callers hold h.mu.
func (h *Hub) dropOldest() {
	old := &h.ring[h.head]
	h.bytes -= Size(old)
	*old = message.Message{}
	h.head = (h.head + 1) % len(h.ring)
	h.n--
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
