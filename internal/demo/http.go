package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// routes is the demo server's HTTP surface, all on one listener.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+s.opts.Path, s.handleWS)
	mux.Handle("POST /burst", s.handle(s.handleBurst))
	mux.Handle("POST /silence", s.handle(s.handleSilence))
	mux.Handle("GET /stats", s.handle(s.handleStats))
	return mux
}

// httpError is an error with the HTTP status it should be answered with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// handle adapts an error-returning handler: errors are logged and answered
// as JSON {"error": "..."} with the error's status (500 if it has none).
func (s *Server) handle(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		status := http.StatusInternalServerError
		var he *httpError
		if errors.As(err, &he) {
			status = he.status
		} else if errors.Is(err, ErrClosed) {
			status = http.StatusServiceUnavailable
		}
		s.log.Debug("http request failed", "path", r.URL.Path, "status", status, "err", err)
		writeJSON(w, status, map[string]string{"error": err.Error()})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// burstResult is the answer to POST /burst.
type burstResult struct {
	Sent     int   `json:"sent"`
	FirstSeq int64 `json:"first_seq"`
	LastSeq  int64 `json:"last_seq"`
}

// handleBurst serves POST /burst?n=N: it runs Burst(N) and answers when it
// is done.
func (s *Server) handleBurst(w http.ResponseWriter, r *http.Request) error {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 0 || n > maxHTTPBurst {
		return &httpError{http.StatusBadRequest, fmt.Sprintf("n must be an integer in [0, %d]", maxHTTPBurst)}
	}
	first, last, err := s.burst(n)
	if err != nil {
		return fmt.Errorf("burst of %d: %w", n, err)
	}
	writeJSON(w, http.StatusOK, burstResult{Sent: n, FirstSeq: first, LastSeq: last})
	return nil
}

// maxHTTPSilence bounds POST /silence?seconds= (a day).
const maxHTTPSilence = 86400

// handleSilence serves POST /silence?seconds=S: the simulated traffic
// stops for S seconds (0 ends a silence), answered at once with the time
// it resumes.
func (s *Server) handleSilence(w http.ResponseWriter, r *http.Request) error {
	sec, err := strconv.ParseFloat(r.URL.Query().Get("seconds"), 64)
	if err != nil || !(sec >= 0 && sec <= maxHTTPSilence) {
		return &httpError{http.StatusBadRequest, fmt.Sprintf("seconds must be a number in [0, %d]", maxHTTPSilence)}
	}
	until := s.Silence(time.Duration(sec * float64(time.Second)))
	writeJSON(w, http.StatusOK, map[string]string{"until": until.UTC().Format(time.RFC3339Nano)})
	return nil
}

// stats is the answer to GET /stats.
type stats struct {
	Clients int   `json:"clients"`
	LastSeq int64 `json:"last_seq"`
}

func (s *Server) handleStats(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, stats{Clients: s.Clients(), LastSeq: s.LastSeq()})
	return nil
}

// handleWS upgrades a connection and serves it: the handler goroutine reads,
// a second goroutine writes (see client).
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	ws, err := s.upgrader.Upgrade(w, r, nil) // answers the request itself on failure
	if err != nil {
		s.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	c := newClient(s, ws)
	if !s.register(c) {
		_ = ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"),
			time.Now().Add(s.opts.WriteTimeout))
		_ = ws.Close()
		return
	}
	s.log.Debug("client connected", "remote", c.remote)
	c.wake() // replayed history may be queued already
	go c.writeLoop()
	c.readLoop()
}
