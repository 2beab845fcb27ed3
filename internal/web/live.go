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
	"github.com/wsmon/wsmon/internal/store"
)

const (
	sseWriteTimeout = 10 * time.Second // a browser that cannot take an event within this is cut off
	sseKeepalive    = 15 * time.Second
	sseQueue        = 256 // batches queued per client before it starts missing messages
)

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
	p := newParams(r)
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
	if resume > 0 {
		for _, m := range s.opts.Hub.Recent(1<<30, f) {
			if m.ID > resume {
				b, _ := json.Marshal(toAPI(&m, false))
				event("message", m.ID, b)
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
	for {
		select {
		case <-r.Context().Done():
			return nil
		case batch := <-sub.C():
			if n := sub.TakeMissed(); n > 0 {
				event("dropped", 0, fmt.Appendf(nil, `{"missed":%d}`, n))
			}
			for i := range batch {
				b, err := json.Marshal(toAPI(&batch[i], false))
				if err != nil {
					return err
				}
				event("message", batch[i].ID, b)
			}
			// Take whatever else is already queued before writing.
		drain:
			for len(buf) < 1<<20 {
				select {
				case more := <-sub.C():
					for i := range more {
						b, _ := json.Marshal(toAPI(&more[i], false))
						event("message", more[i].ID, b)
					}
				default:
					break drain
				}
			}
			fresh = true
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
