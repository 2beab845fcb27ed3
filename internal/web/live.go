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
	sseQueue        = 256 // batches queued per client before it starts missing messages
	// sseMinGap spaces a client's writes during bursts: events arriving
	// within it of the last write are sent together. A quiet stream is
	// written at once; a busy one costs each client at most 1/sseMinGap
	// writes a second however fast messages arrive (1,000 clients must
	// not slow ingest).
	sseMinGap = 25 * time.Millisecond
)

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
// and messages were skipped). A client that cannot take writes is cut off;
// it never slows ingest.
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

	sub := s.opts.Hub.Subscribe(f, sseQueue)
	defer sub.Close()
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
	fresh := false // messages arrived since the last stats push
	var lastWrite time.Time
	for {
		select {
		case <-r.Context().Done():
			return nil
		case d := <-sub.C():
			add := func(d live.Delivery) {
				for i := 0; i < d.Len(); i++ {
					k := d.At(i)
					if d.B.Msgs[k].ID <= sent {
						continue
					}
					buf = append(buf, d.B.Encoded(k)...)
				}
			}
			add(d)
			// In a burst, gather what else arrives within sseMinGap of the
			// last write, then write it all at once.
			if wait := sseMinGap - time.Since(lastWrite); wait > 0 {
				timer := time.NewTimer(wait)
			gather:
				for len(buf) < 1<<20 {
					select {
					case more := <-sub.C():
						add(more)
					case <-timer.C:
						break gather
					case <-r.Context().Done():
						timer.Stop()
						return nil
					}
				}
				timer.Stop()
			}
		drain:
			for len(buf) < 1<<20 {
				select {
				case more := <-sub.C():
					add(more)
				default:
					break drain
				}
			}
			if n := sub.TakeMissed(); n > 0 {
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
		case <-keep.C:
			buf = append(buf, ": keepalive\n\n"...)
			if err := send(); err != nil {
				return nil
			}
		}
	}
}
