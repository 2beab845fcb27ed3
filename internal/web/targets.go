package web

import (
	"github.com/wsmon/wsmon/internal/protocol/registry"
	"reflect"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wsmon/wsmon/internal/config"
)

// TargetInfo is one target as GET /api/targets lists it: its stored
// settings (secrets redacted) and its live status.
type TargetInfo struct {
	Config        config.Target // redacted
	Paused        bool
	Source        string // "config" or "api"
	State         string // connecting, connected, disconnected, paused, refused, gave_up, stopped
	ProtocolInUse string // protocol of the current or last session
	LastError     string
	ErrorCode     string    // stable code of LastError (docs/api.md#error-codes)
	NextAttemptAt time.Time // while waiting to reconnect: when the next attempt is due
	Stopped       string    // why the target stopped for good ("" while it runs)
	Since         time.Time
	Reconnects    int
	Frames        int64
	LastMessageAt time.Time
}

// TargetManager changes the monitored targets at runtime. It is the
// monitor in this process; a separate `wsmon web` has none, and the API
// answers its writes 409. Errors: ErrTargetExists, ErrTargetNotFound, or
// a *config.Error naming the bad setting; anything else is a 500.
type TargetManager interface {
	AddTarget(ctx context.Context, t config.Target) error
	UpdateTarget(ctx context.Context, name string, t config.Target) error
	PauseTarget(ctx context.Context, name string) error
	ResumeTarget(ctx context.Context, name string) error
	RemoveTarget(ctx context.Context, name string) error
}

// Errors a TargetManager returns that the API answers with their own status.
var (
	ErrTargetExists   = errors.New("a target with this name exists")
	ErrTargetNotFound = errors.New("no such target")
)

// apiTarget is the JSON shape of a TargetInfo.
type apiTarget struct {
	Name          string        `json:"name"`
	URL           string        `json:"url"`
	Protocol      string        `json:"protocol"`
	Subscribe     []string      `json:"subscribe"`
	Paused        bool          `json:"paused"`
	Source        string        `json:"source"`
	State         string        `json:"state"`
	ProtocolInUse string        `json:"protocol_in_use"`
	LastError     string        `json:"last_error"`
	ErrorCode     string        `json:"error_code"`
	NextAttemptAt jsonTime      `json:"next_attempt_at"`
	Stopped       string        `json:"stopped"`
	Since         jsonTime      `json:"since"`
	Reconnects    int           `json:"reconnects"`
	Frames        int64         `json:"frames"`
	LastMessageAt jsonTime      `json:"last_message_at"`
	Config        config.Target `json:"config"`
}

func (s *Server) handleTargets(w http.ResponseWriter, r *http.Request) error {
	out := []apiTarget{}
	if s.opts.Targets != nil {
		ts, err := s.opts.Targets(r.Context())
		if err != nil {
			return err
		}
		for _, t := range ts {
			sub := t.Config.Subscribe
			if sub == nil {
				sub = []string{}
			}
			out = append(out, apiTarget{Name: t.Config.Name, URL: t.Config.URL, Protocol: t.Config.Protocol, Subscribe: sub,
				Paused: t.Paused, Source: t.Source, State: t.State, ProtocolInUse: t.ProtocolInUse, LastError: t.LastError,
				ErrorCode: t.ErrorCode, NextAttemptAt: jsonTime(t.NextAttemptAt), Stopped: t.Stopped, Since: jsonTime(t.Since), Reconnects: t.Reconnects, Frames: t.Frames,
				LastMessageAt: jsonTime(t.LastMessageAt), Config: t.Config})
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"targets": out, "managed": s.opts.Manager != nil, "protocols": registry.Names()})
}

// errNotManaged answers a target write in a process without the monitor.
func errNotManaged() *apiError {
	return &apiError{http.StatusConflict, "not_managed", "targets are managed by the monitor process"}
}

// targetError maps a TargetManager error to the API's.
func targetError(name string, err error) error {
	var ce *config.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrTargetExists):
		return &apiError{http.StatusConflict, "exists", fmt.Sprintf("target %q exists; use PUT /api/targets/{name} to change it", name)}
	case errors.Is(err, ErrTargetNotFound):
		return errNotFound(fmt.Sprintf("no target %q", name))
	case errors.As(err, &ce): // the message starts with the key
		return &apiError{http.StatusBadRequest, "bad_param", ce.Error()}
	}
	return err
}

// readTarget decodes a config.Target from the body; unknown keys and
// wrong types are errors naming the key.
func readTarget(w http.ResponseWriter, r *http.Request) (config.Target, error) {
	var t config.Target
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return t, errBadParam(te.Field, "must be a JSON %s", jsonKind(te.Type.Kind().String()))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			k := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return t, errBadParam(k, "unknown key (known: %s)", targetKeys())
		case errors.Is(err, io.EOF):
			return t, errBadParam("body", "expected a JSON target object")
		}
		return t, errBadParam("body", "not a JSON target object: %v", err)
	}
	if dec.More() {
		return t, errBadParam("body", "one JSON object expected")
	}
	return t, nil
}

func jsonKind(k string) string {
	switch k {
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	case "bool":
		return "boolean"
	case "string":
		return "string"
	}
	return "number"
}

func (s *Server) handleAddTarget(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Manager == nil {
		return errNotManaged()
	}
	t, err := readTarget(w, r)
	if err != nil {
		return err
	}
	if err := targetError(t.Name, s.opts.Manager.AddTarget(r.Context(), t)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]string{"name": t.Name})
}

func (s *Server) handleUpdateTarget(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Manager == nil {
		return errNotManaged()
	}
	name := r.PathValue("name")
	t, err := readTarget(w, r)
	if err != nil {
		return err
	}
	if err := targetError(name, s.opts.Manager.UpdateTarget(r.Context(), name, t)); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]string{"name": name})
}

// targetAction serves pause, resume and delete, which take no body.
func (s *Server) targetAction(do func(TargetManager, context.Context, string) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if s.opts.Manager == nil {
			return errNotManaged()
		}
		name := r.PathValue("name")
		if err := targetError(name, do(s.opts.Manager, r.Context(), name)); err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, map[string]string{"name": name})
	}
}

// sameOrigin guards the state-changing routes against cross-site requests
// (the session cookie is SameSite=Strict already; this is the second
// layer, and it also covers browsers that send basic-auth credentials
// cross-site): the request must declare a JSON body, which a plain HTML
// form cannot and a cross-origin script cannot without a CORS preflight
// that wsmon never grants, and an Origin or Sec-Fetch-Site header, when
// present, must say same origin.
func sameOrigin(h func(http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/json" {
			return &apiError{http.StatusUnsupportedMediaType, "bad_content_type", "Content-Type must be application/json"}
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			return &apiError{http.StatusForbidden, "cross_origin", "cross-site request refused"}
		}
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || !strings.EqualFold(u.Host, r.Host) {
				return &apiError{http.StatusForbidden, "cross_origin", "cross-origin request refused"}
			}
		}
		return h(w, r)
	}
}

// targetKeys lists a target's JSON keys, in declaration order.
func targetKeys() string {
	t := reflect.TypeFor[config.Target]()
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if k, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); k != "" && k != "-" {
			keys = append(keys, k)
		}
	}
	return strings.Join(keys, ", ")
}
