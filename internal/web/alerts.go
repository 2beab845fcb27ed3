package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wsmon/wsmon/internal/notify"
	"github.com/wsmon/wsmon/internal/rules"
	"github.com/wsmon/wsmon/internal/store"
)

// AlertStore is what the alerts API reads and changes.
type AlertStore interface {
	ListAlerts(ctx context.Context, q store.AlertQuery) ([]store.Alert, error)
	AckAlerts(ctx context.Context, ids []int64, upTo int64) (int64, error)
	UnackedAlerts(ctx context.Context) (int64, error)
}

// RuleInfo is one stored rule with where it came from.
type RuleInfo struct {
	Rule      rules.Rule
	Source    string // "config" or "api"
	UpdatedAt time.Time
	Error     string // a stored rule this version refuses (not evaluated)
}

// RuleManager lists and changes the alert rules. It is the monitor in
// this process; a separate `wsmon web` has none (rule writes answer 409).
// Errors: ErrRuleExists, ErrRuleNotFound, or a *rules.Error naming the
// bad field.
type RuleManager interface {
	RuleLister
	PutRule(ctx context.Context, r rules.Rule, create bool) error
	DeleteRule(ctx context.Context, name string) error
}

// RuleLister lists the alert rules.
type RuleLister interface {
	Rules(ctx context.Context) ([]RuleInfo, error)
}

// Errors a RuleManager returns that the API answers with their own status.
var (
	ErrRuleExists   = errors.New("a rule with this name exists")
	ErrRuleNotFound = errors.New("no such rule")
)

// alertJSON is the API shape of an alert.
type alertJSON struct {
	ID         int64    `json:"id"`
	Rule       string   `json:"rule"`
	RuleType   string   `json:"rule_type"`
	Target     string   `json:"target"`
	Room       string   `json:"room"`
	User       string   `json:"user"`
	Content    string   `json:"content"`
	MessageID  int64    `json:"message_id,omitempty"`
	Detail     string   `json:"detail"`
	At         jsonTime `json:"at"`
	Suppressed int      `json:"suppressed"`
	AckedAt    jsonTime `json:"acked_at"`
	Delivery   string   `json:"delivery"`
	Reply      string   `json:"reply,omitempty"`       // the automatic reply sent on the connection
	ReplyError string   `json:"reply_error,omitempty"` // why the rule's reply was not sent
}

// AlertJSON encodes an alert as the API and the live stream show it.
func AlertJSON(a store.Alert) ([]byte, error) { return json.Marshal(toAlertJSON(a)) }

func toAlertJSON(a store.Alert) alertJSON {
	return alertJSON{ID: a.ID, Rule: a.Rule, RuleType: a.RuleType, Target: a.Target, Room: a.Room, User: a.User,
		Content: a.Content, MessageID: a.MessageID, Detail: a.Detail, At: jsonTime(a.At), Suppressed: a.Suppressed,
		AckedAt: jsonTime(a.AckedAt), Delivery: a.Delivery, Reply: a.Reply, ReplyError: a.ReplyError}
}

// handleAlerts lists alerts newest first: ?rule= &target= &from= &to=
// &unacked=1 &before=<id> &limit=.
func (s *Server) handleAlerts(w http.ResponseWriter, r *http.Request) error {
	p := s.params(r)
	q := store.AlertQuery{Rule: p.str("rule", 100), Target: p.str("target", 256), Unacked: p.bool("unacked"),
		BeforeID: p.int("before", 0, 0, 1<<62), Limit: int(p.int("limit", 100, 1, 1000))}
	q.From, q.To = p.time("from"), p.time("to")
	if p.err != nil {
		return p.err
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.From.After(q.To) {
		return errBadParam("from", "must not be after to")
	}
	sinks := []notify.SinkStats{}
	if s.opts.Notifiers != nil {
		sinks = append(sinks, s.opts.Notifiers()...)
	}
	if s.opts.Alerts == nil {
		return writeJSON(w, http.StatusOK, map[string]any{"alerts": []alertJSON{}, "unacked": 0, "notifiers": sinks})
	}
	list, err := s.opts.Alerts.ListAlerts(r.Context(), q)
	if err != nil {
		return err
	}
	n, err := s.opts.Alerts.UnackedAlerts(r.Context())
	if err != nil {
		return err
	}
	out := make([]alertJSON, 0, len(list))
	for _, a := range list {
		out = append(out, toAlertJSON(a))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"alerts": out, "unacked": n, "notifiers": sinks})
}

// handleAckAlerts acknowledges {"ids": [...]} or {"up_to": id} (every
// unacknowledged alert up to that id).
func (s *Server) handleAckAlerts(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Alerts == nil {
		return errNotFound("no alerts in this process")
	}
	var body struct {
		IDs  []int64 `json:"ids"`
		UpTo int64   `json:"up_to"`
	}
	if err := readJSONBody(w, r, &body, "an object with ids or up_to"); err != nil {
		return err
	}
	if len(body.IDs) == 0 && body.UpTo <= 0 {
		return errBadParam("ids", "give ids (a list of alert ids) or up_to (an alert id)")
	}
	if len(body.IDs) > 1000 {
		return errBadParam("ids", "at most 1000 ids at once")
	}
	n, err := s.opts.Alerts.AckAlerts(r.Context(), body.IDs, body.UpTo)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"acknowledged": n})
}

// ruleJSON is the API shape of a rule.
type ruleJSON struct {
	rules.Rule
	Source    string   `json:"source"`
	UpdatedAt jsonTime `json:"updated_at"`
	Error     string   `json:"error,omitempty"`
}

func (s *Server) handleRules(w http.ResponseWriter, r *http.Request) error {
	out := []ruleJSON{}
	var list RuleLister = s.opts.RuleList
	if s.opts.Rules != nil {
		list = s.opts.Rules
	}
	if list != nil {
		rs, err := list.Rules(r.Context())
		if err != nil {
			return err
		}
		for _, ri := range rs {
			out = append(out, ruleJSON{Rule: ri.Rule, Source: ri.Source, UpdatedAt: jsonTime(ri.UpdatedAt), Error: ri.Error})
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"rules": out, "managed": s.opts.Rules != nil, "types": rules.Types})
}

func (s *Server) handleAddRule(w http.ResponseWriter, r *http.Request) error {
	return s.putRule(w, r, "", true)
}

func (s *Server) handleUpdateRule(w http.ResponseWriter, r *http.Request) error {
	return s.putRule(w, r, r.PathValue("name"), false)
}

func (s *Server) putRule(w http.ResponseWriter, r *http.Request, name string, create bool) error {
	if s.opts.Rules == nil {
		return errRulesNotManaged()
	}
	var rule rules.Rule
	if err := readJSONBody(w, r, &rule, "a rule object"); err != nil {
		return err
	}
	if !create {
		if rule.Name == "" {
			rule.Name = name
		}
		if rule.Name != name {
			return errBadParam("name", "must match the path (%q); rename by deleting and adding", name)
		}
	}
	if err := ruleError(rule.Name, s.opts.Rules.PutRule(r.Context(), rule, create)); err != nil {
		return err
	}
	code := http.StatusOK
	if create {
		code = http.StatusCreated
	}
	return writeJSON(w, code, ruleJSON{Rule: rule, Source: "api", UpdatedAt: jsonTime(time.Now())})
}

func (s *Server) handleDeleteRule(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Rules == nil {
		return errRulesNotManaged()
	}
	name := r.PathValue("name")
	if err := ruleError(name, s.opts.Rules.DeleteRule(r.Context(), name)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func errRulesNotManaged() *apiError {
	return &apiError{http.StatusConflict, "not_managed", "rules are managed by the monitor process"}
}

// ruleError maps a RuleManager error to the API's.
func ruleError(name string, err error) error {
	var re *rules.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrRuleExists):
		return &apiError{http.StatusConflict, "exists", fmt.Sprintf("rule %q exists; use PUT /api/rules/{name} to change it", name)}
	case errors.Is(err, ErrRuleNotFound):
		return errNotFound(fmt.Sprintf("no rule %q", name))
	case errors.As(err, &re):
		return errBadParam(re.Field, "%s", re.Msg)
	}
	return err
}

// readJSONBody decodes one JSON object of at most 1 MiB into v; unknown
// keys and wrong types are errors naming the key.
func readJSONBody(w http.ResponseWriter, r *http.Request, v any, what string) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return errBadParam(te.Field, "must be a JSON %s", jsonKind(te.Type.Kind().String()))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			k := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return errBadParam(k, "unknown key")
		case errors.Is(err, io.EOF):
			return errBadParam("body", "expected %s", what)
		}
		return errBadParam("body", "not %s: %v", what, err)
	}
	if dec.More() {
		return errBadParam("body", "one JSON object expected")
	}
	return nil
}

// alertFeed fans new alerts and anomaly events out to the live streams. A
// stream that does not keep up loses the event from its stream (alerts are
// in /api/alerts, anomalies in /api/analysis/anomalies).
type alertFeed struct {
	mu   sync.Mutex
	subs map[chan feedEvent]struct{}
}

// feedEvent is one live event: its name and JSON.
type feedEvent struct {
	name string
	data []byte
}

func (f *alertFeed) subscribe() (<-chan feedEvent, func()) {
	ch := make(chan feedEvent, 16)
	f.mu.Lock()
	if f.subs == nil {
		f.subs = map[chan feedEvent]struct{}{}
	}
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	return ch, func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}
}

// PublishAlert sends a new alert to every live stream (event "alert").
// It never blocks.
func (s *Server) PublishAlert(a store.Alert) {
	b, err := AlertJSON(a)
	if err != nil {
		return
	}
	s.alertFeed.publish("alert", b)
}

// publish sends an event to every stream without blocking.
func (f *alertFeed) publish(name string, b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- feedEvent{name, b}:
		default:
		}
	}
}
