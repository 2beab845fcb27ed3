package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/wsmon/wsmon/internal/live"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/store"
)

const (
	sseWriteTimeout = 10 * time.Second // a browser that cannot take an event within this is cut off
	sseKeepalive    = 15 * time.Second
	sseQueue        = 16 // deliveries queued per client; more are missed (a queue keeps its batches in memory)
	// sseMinGap spaces a client's writes during bursts (more with many
	// clients, see gap): a quiet stream is written at once, a busy one in
	// batches.
	sseMinGap = 25 * time.Millisecond
	// sseBudget is the events per second written to all live clients
	// together during a burst; each client gets an equal share (at least
	// sseMinShare). What does not fit is skipped, newest kept, and the
	// client is told how many it missed. It bounds what fan-out costs
	// ingest however many clients are connected.
	sseBudget   = 20_000
	sseMinShare = 20
)

// gap is the least time between two writes to one client: 25 ms for a
// few clients, growing with their number (250 ms for 1,000) so that all
// clients together cost at most about 4,000 writes a second.
func gap(clients int) time.Duration {
	return min(max(sseMinGap, time.Duration(clients)*250*time.Microsecond), time.Second)
}

// allowance is how many events a client may be sent after since elapsed
// since its last write.
func allowance(clients int, since time.Duration) int {
	share := max(sseMinShare, sseBudget/max(clients, 1))
	n := int(float64(share) * min(since.Seconds(), 1))
	return max(n, 1)
}

// writeNewest appends the newest allow messages of the deliveries (those
// after sent) to buf, oldest first, and returns how many it skipped. Only
// the messages written are touched, so a client far behind costs little.
func writeNewest(buf *[]byte, ds []live.Delivery, sent int64, allow int, picked *[]liveRef) int64 {
	refs := (*picked)[:0]
	total := 0
	for di := len(ds) - 1; di >= 0; di-- {
		d := ds[di]
		if d.Len() > 0 && d.B.Msgs[d.At(0)].ID <= sent {
			// Right after a resume: some were replayed already.
			for i := 0; i < d.Len(); i++ {
				if d.B.Msgs[d.At(i)].ID > sent {
					total++
				}
			}
		} else {
			total += d.Len()
		}
		for i := d.Len() - 1; i >= 0 && len(refs) < allow; i-- {
			k := d.At(i)
			if d.B.Msgs[k].ID <= sent {
				continue
			}
			refs = append(refs, liveRef{d.B, k})
		}
	}
	for i := len(refs) - 1; i >= 0; i-- {
		*buf = append(*buf, refs[i].b.Encoded(refs[i].k)...)
	}
	*picked = refs
	return int64(max(total-len(refs), 0))
}

// liveRef is one message of a delivered batch.
type liveRef struct {
	b *live.Batch
	k int
}

// EncodeEvent renders a message as a Server-Sent Event ("event: message",
// its id, and the API's JSON). The live hub calls it at most once per
// message, shared by all clients.
func EncodeEvent(m *message.Message) []byte {
	b, err := json.Marshal(toAPI(m, false))
	if err != nil {
		b = []byte(`{}`)
	}
	out := make([]byte, 0, len(b)+40)
	out = append(out, "event: message\nid: "...)
	out = strconv.AppendInt(out, m.ID, 10)
	out = append(out, "\ndata: "...)
	out = append(out, b...) // JSON has no raw newlines
	return append(out, '\n', '\n')
}

// statsCache shares one stats computation between all live clients, at
// most once per refresh interval.
type statsCache struct {
	mu  sync.Mutex
	at  time.Time
	val []byte
}

func (s *Server) cachedStats(r *http.Request, every time.Duration) ([]byte, error) {
	c := &s.statsCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.val != nil && time.Since(c.at) < every {
		return c.val, nil
	}
	st, err := s.stats(r, store.StatsQuery{})
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	c.val, c.at = b, time.Now()
	return b, nil
}

// handleLive streams Server-Sent Events: "message" (id: message id),
// "status" (monitor states), "stats" (at most every refresh interval, when
// messages arrived), "dropped" ({"missed": n} when this client fell behind
// and messages were skipped), "alert" (a new alert) and "anomaly" (an
// anomaly opened or closed). A client that cannot take writes is cut off;
// it never slows ingest. Beyond Limits.MaxLiveClients streams a new one is
// answered 503 too_many_live_clients with Retry-After.
func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Hub == nil {
		return &apiError{http.StatusServiceUnavailable, "unavailable", "live stream not available"}
	}
	p := s.params(r)
	f := live.Filter{User: p.str("user", 256), Type: p.str("type", 16), Target: p.str("target", 256), Room: p.str("room", 256)}
	if p.err != nil {
		return p.err
	}
	if !validTypes[f.Type] {
		return errBadParam("type", "must be one of chat, system, join, leave, other; got %q", f.Type)
	}
	var resume int64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		resume, _ = strconv.ParseInt(v, 10, 64)
	}
	if n := s.liveClients.Add(1); n > int64(s.opts.Limits.MaxLiveClients) {
		s.liveClients.Add(-1)
		w.Header().Set("Retry-After", "10")
		return errTooManyLiveClients(s.opts.Limits.MaxLiveClients)
	}
	defer s.liveClients.Add(-1)

	sub := s.opts.Hub.Subscribe(f, sseQueue)
	defer sub.Close()
	// The stream outlives the server's WriteTimeout: send sets a deadline
	// of its own before every write. (net/http clears the read deadline
	// itself while the handler runs.)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	var buf []byte
	send := func() error {
		if err := rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		buf = buf[:0]
		if cap(buf) > 64<<10 {
			buf = nil // a burst's buffer is not kept by every idle client
		}
		return rc.Flush()
	}
	event := func(name string, id int64, data []byte) {
		buf = append(buf, "event: "...)
		buf = append(buf, name...)
		buf = append(buf, '\n')
		if id > 0 {
			buf = append(buf, "id: "...)
			buf = strconv.AppendInt(buf, id, 10)
			buf = append(buf, '\n')
		}
		buf = append(buf, "data: "...)
		buf = append(buf, data...) // JSON has no raw newlines
		buf = append(buf, '\n', '\n')
	}
	status := func() {
		b, _ := json.Marshal(s.monitorJSON(r))
		event("status", 0, b)
	}
	buf = append(buf, "retry: 2000\n\n"...)
	status()
	// sent is the newest message id written: a message published between
	// Subscribe and the replay below is in both, and must go out once.
	sent := int64(0)
	if resume > 0 {
		for _, m := range s.opts.Hub.Recent(1<<30, f) {
			if m.ID > resume {
				buf = append(buf, EncodeEvent(&m)...)
				sent = m.ID
			}
		}
	}
	if err := send(); err != nil {
		return nil
	}

	tick := time.NewTicker(s.opts.RefreshInterval)
	defer tick.Stop()
	keep := time.NewTicker(sseKeepalive)
	defer keep.Stop()
	// The stream ends when the client leaves or the server shuts down
	// (http.Server.Shutdown does not end a handler by itself).
	done, release := s.streamDone(r.Context())
	defer release()
	alerts, unsubscribe := s.alertFeed.subscribe()
	defer unsubscribe()
	fresh := false // messages arrived since the last stats push
	var lastWrite time.Time
	var pending []live.Delivery
	var picked []liveRef
	for {
		select {
		case <-done:
			return nil
		case d := <-sub.C():
			// Pace the writes: a quiet stream goes out at once; in a burst
			// the client sleeps (its deliveries queue up in the hub) until
			// its next turn, then takes everything at once. Each client
			// gets at most its share of a global event budget: 1,000
			// clients cost ingest no more than one fast one would.
			wait := gap(s.opts.Hub.Subscribers()) - time.Since(lastWrite)
			busy := s.opts.Busy != nil && s.opts.Busy()
			if busy {
				// Ingest is behind: it has the machine. Clients hear once a
				// second how much they missed, and get messages again when
				// ingest has caught up.
				wait = time.Second - time.Since(lastWrite)
			}
			if wait > 0 {
				select {
				case <-time.After(wait):
				case <-done:
					return nil
				}
			}
			pending = append(pending[:0], d)
		drain:
			for {
				select {
				case more := <-sub.C():
					pending = append(pending, more)
				default:
					break drain
				}
			}
			allow := allowance(s.opts.Hub.Subscribers(), time.Since(lastWrite))
			if busy {
				allow = 0
			}
			skipped := writeNewest(&buf, pending, sent, allow, &picked)
			for _, d := range pending {
				sub.Done(d) // written or skipped: the hub may send more
			}
			clear(pending) // let the batches go
			clear(picked)
			if n := sub.TakeMissed() + skipped; n > 0 {
				event("dropped", 0, fmt.Appendf(nil, `{"missed":%d}`, n))
			}
			fresh = true
			lastWrite = time.Now()
			if err := send(); err != nil {
				s.log.Debug("live client cut off", "error", err)
				return nil
			}
		case <-tick.C:
			if n := sub.TakeMissed(); n > 0 {
				event("dropped", 0, fmt.Appendf(nil, `{"missed":%d}`, n))
			}
			status()
			if fresh {
				if b, err := s.cachedStats(r, s.opts.RefreshInterval); err == nil {
					event("stats", 0, b)
				}
				fresh = false
			}
			if err := send(); err != nil {
				return nil
			}
		case e := <-alerts:
			event(e.name, 0, e.data)
			if err := send(); err != nil {
				return nil
			}
		case <-keep.C:
			buf = append(buf, ": keepalive\n\n"...)
			if err := send(); err != nil {
				return nil
			}
		}
	}
}
