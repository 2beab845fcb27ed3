package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/wsmon/wsmon/internal/store"
)

// apiError is the one error type handlers return to send a client error.
// Encoded as {"error": {"code": ..., "message": ...}}.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errBadParam(name, format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "bad_param", name + ": " + fmt.Sprintf(format, args...)}
}
func errNotFound(msg string) *apiError { return &apiError{http.StatusNotFound, "not_found", msg} }
func errUnauthorized() *apiError {
	return &apiError{http.StatusUnauthorized, "unauthorized", "authentication required"}
}
func errBadCredentials() *apiError {
	return &apiError{http.StatusUnauthorized, "bad_credentials", "wrong token, or wrong user or password"}
}
func errTooManyLiveClients(n int) *apiError {
	return &apiError{http.StatusServiceUnavailable, "too_many_live_clients",
		fmt.Sprintf("the live stream already has %d clients (live_max_clients); try again later", n)}
}

// api adapts an error-returning handler: client errors are encoded as JSON
// with their status; anything else is logged and answered 500 without
// details.
func (s *Server) api(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		var ae *apiError
		switch {
		case errors.As(err, &ae):
		case errors.Is(err, store.ErrNotFound):
			ae = errNotFound("not found")
		case errors.Is(err, r.Context().Err()):
			return // client went away
		default:
			s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
			ae = &apiError{http.StatusInternalServerError, "internal", "internal error; see the server log"}
		}
		writeJSON(w, ae.Status, map[string]any{"error": map[string]string{"code": ae.Code, "message": ae.Message}})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	return enc.Encode(v)
}

// Target error codes the monitor adds to capture's (TargetStatus.ErrorCode,
// sessions' error_code; docs/api.md#error-codes lists them all).
const (
	// CodeProcessDied: the session was cut because the process recording
	// it died (crash or kill); the next start closed it.
	CodeProcessDied = "process_died"
	// CodeMonitorNotRunning: the monitor process's heartbeat is stale (it
	// was killed or crashed); the state shown is its last report.
	CodeMonitorNotRunning = "monitor_not_running"
	// CodeMonitorStopped: the monitor process stopped cleanly.
	CodeMonitorStopped = "monitor_stopped"
	// CodeNoStatus: the monitor process has not reported this target yet.
	CodeNoStatus = "no_status"
)

// MonitorDeadAfter is how old the monitor process's heartbeat (written
// every 2 s) may be before a separate web process shows it as dead.
const MonitorDeadAfter = 6 * time.Second
