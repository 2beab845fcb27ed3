package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

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
