package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/rules"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/web"
)

// alertTick is how often the time-based rules (silence, connection) are
// evaluated.
const alertTick = 5 * time.Second

// alerting evaluates the rules on committed messages (it is an ingest
// committer, so a journal replay after a crash never alerts twice: the
// alert history is unique per rule and message) and, every alertTick, on
// the targets' states; it records every alert, logs it, publishes it to
// the live streams and hands it to the notifiers.
//
// mu guards the engine and the rule set: Committed runs on the pipeline's
// writer goroutine, run's ticker and the rule API on theirs.
type alerting struct {
	st          *store.Store
	log         *slog.Logger
	deliver     func(store.Alert, []string) // notifiers; nil: none
	publish     func(store.Alert)           // live streams; nil: none
	checkNotify func([]string) error        // a rule's notify names exist; nil: any

	mu     sync.Mutex
	engine *rules.Engine
	rows   []store.RuleRow // stored rules, by name
}

// newAlerting stores the configured rules (source config; config rules no
// longer in the config are deleted, API rules kept) and builds the engine
// from every stored rule.
func newAlerting(ctx context.Context, cfg config.Config, st *store.Store, log *slog.Logger) (*alerting, error) {
	a := &alerting{st: st, log: log.With("component", "alerts")}
	rows, err := st.Rules(ctx)
	if err != nil {
		return nil, err
	}
	inConfig := map[string]bool{}
	for _, r := range cfg.EffectiveRules() {
		inConfig[r.Name] = true
		if i := slices.IndexFunc(rows, func(row store.RuleRow) bool { return row.Name == r.Name }); i >= 0 && rows[i].Source == store.SourceAPI {
			continue // changed at runtime: the API's version wins
		}
		js, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		if err := st.PutRule(ctx, store.RuleRow{Name: r.Name, Config: js, Source: store.SourceConfig}); err != nil {
			return nil, err
		}
	}
	for _, row := range rows {
		if row.Source == store.SourceConfig && !inConfig[row.Name] {
			if err := st.DeleteRule(ctx, row.Name); err != nil {
				return nil, err
			}
		}
	}
	if err := a.reload(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// reload rebuilds the engine from the stored rules. A stored rule this
// version refuses is logged and skipped.
func (a *alerting) reload(ctx context.Context) error {
	rows, err := a.st.Rules(ctx)
	if err != nil {
		return err
	}
	var rs []rules.Rule
	for _, row := range rows {
		r, err := decodeRule(row)
		if err != nil {
			a.log.Error("stored rule skipped", "rule", row.Name, "error", err)
			continue
		}
		rs = append(rs, r)
	}
	engine, err := rules.New(rs)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.engine, a.rows = engine, rows
	a.mu.Unlock()
	return nil
}

func decodeRule(row store.RuleRow) (rules.Rule, error) {
	var r rules.Rule
	if err := json.Unmarshal(row.Config, &r); err != nil {
		return r, fmt.Errorf("unreadable: %w", err)
	}
	if err := r.Validate(""); err != nil {
		return r, err
	}
	return r, nil
}

// Committed evaluates committed messages.
func (a *alerting) Committed(msgs []message.Message) error {
	a.mu.Lock()
	hits := a.engine.Messages(msgs)
	a.mu.Unlock()
	a.record(hits)
	return nil
}

// run evaluates the time-based rules every alertTick until ctx ends.
func (a *alerting) run(ctx context.Context, targets func() []rules.TargetState) {
	t := time.NewTicker(alertTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			a.mu.Lock()
			hits := a.engine.Tick(now, targets())
			a.mu.Unlock()
			a.record(hits)
		}
	}
}

// record stores hits as alerts, then logs, publishes and delivers the
// ones that are new (a replayed message's alert is not).
func (a *alerting) record(hits []rules.Hit) {
	if len(hits) == 0 {
		return
	}
	as := make([]store.Alert, len(hits))
	for i, h := range hits {
		as[i] = store.Alert{Rule: h.Rule.Name, RuleType: h.Rule.Type, Target: h.Target, Room: h.Room, User: h.User,
			Content: h.Content, MessageID: h.MessageID, Detail: h.Detail, At: h.At, Suppressed: h.Suppressed}
	}
	if err := a.st.InsertAlerts(context.Background(), as); err != nil {
		a.log.Error("alerts not recorded", "error", err, "alerts", len(as))
		return
	}
	for i, al := range as {
		if al.ID == 0 {
			continue
		}
		a.log.Warn("alert", "rule", al.Rule, "target", al.Target, "detail", al.Detail, "message_id", al.MessageID, "suppressed", al.Suppressed, "id", al.ID)
		if a.publish != nil {
			a.publish(al)
		}
		if a.deliver != nil && len(hits[i].Rule.Notify) > 0 {
			a.deliver(al, hits[i].Rule.Notify)
		}
	}
}

// Rules lists the stored rules with their source (web.RuleManager).
func (a *alerting) Rules(ctx context.Context) ([]web.RuleInfo, error) {
	a.mu.Lock()
	rows := a.rows
	a.mu.Unlock()
	out := make([]web.RuleInfo, 0, len(rows))
	for _, row := range rows {
		r, err := decodeRule(row)
		info := web.RuleInfo{Rule: r, Source: row.Source, UpdatedAt: row.UpdatedAt}
		if err != nil {
			info.Rule.Name, info.Error = row.Name, err.Error()
		}
		out = append(out, info)
	}
	return out, nil
}

// PutRule adds (create) or replaces a rule; it takes effect at once.
func (a *alerting) PutRule(ctx context.Context, r rules.Rule, create bool) error {
	if err := r.Validate(""); err != nil {
		return err
	}
	if a.checkNotify != nil {
		if err := a.checkNotify(r.Notify); err != nil {
			return &rules.Error{Field: "notify", Msg: err.Error()}
		}
	}
	a.mu.Lock()
	exists := slices.ContainsFunc(a.rows, func(row store.RuleRow) bool { return row.Name == r.Name })
	a.mu.Unlock()
	switch {
	case create && exists:
		return web.ErrRuleExists
	case !create && !exists:
		return web.ErrRuleNotFound
	}
	js, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := a.st.PutRule(ctx, store.RuleRow{Name: r.Name, Config: js, Source: store.SourceAPI}); err != nil {
		return err
	}
	return a.reload(ctx)
}

// DeleteRule removes a rule.
func (a *alerting) DeleteRule(ctx context.Context, name string) error {
	if err := a.st.DeleteRule(ctx, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return web.ErrRuleNotFound
		}
		return err
	}
	return a.reload(ctx)
}

// targetStates is every target's state for the time-based rules.
func (m *Monitor) targetStates() []rules.TargetState {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]rules.TargetState, 0, len(m.order))
	for _, name := range m.order {
		st := statusOf(m.targets[name])
		out = append(out, rules.TargetState{Name: name, State: st.State, Since: st.Since, LastMessageAt: st.LastMessageAt, LastError: st.LastError})
	}
	return out
}
