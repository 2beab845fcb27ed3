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

	"github.com/wsmon/wsmon/internal/anomaly"
	"github.com/wsmon/wsmon/internal/capture"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/ingest"
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
	// reply sends a rule's automatic reply on target's connection and
	// returns how the reply will come back as a message (user, content)
	// when the server echoes it; nil: no replies.
	reply func(target, text, room string) (echo ownMessage, err error)

	// Guarded by mu: recent replies per target (to recognise the echoes
	// of our own replies), the last reply time per target and per rule.
	own           map[string][]ownMessage
	lastReply     map[string]time.Time
	lastRuleReply map[string]time.Time

	mu     sync.Mutex
	engine *rules.Engine
	rows   []store.RuleRow // stored rules, by name
}

// newAlerting stores the configured rules (source config; config rules no
// longer in the config are deleted, API rules kept) and builds the engine
// from every stored rule.
func newAlerting(ctx context.Context, cfg config.Config, st *store.Store, log *slog.Logger) (*alerting, error) {
	a := &alerting{st: st, log: log.With("component", "alerts"), own: map[string][]ownMessage{},
		lastReply: map[string]time.Time{}, lastRuleReply: map[string]time.Time{}}
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

// Reply limits: at most one automatic reply per target every replyEvery
// (whichever rule sends it), and at most one per rule every rule cooldown
// (across all its targets and rooms; rules.Rule.CooldownDuration); a
// message equal to one of our replies on the same target within ownFor is
// our own echo and is not evaluated.
const (
	replyEvery = 5 * time.Second
	ownFor     = 2 * time.Minute
	ownMax     = 100 // echoes remembered per target
)

// ownMessage is how a reply we sent comes back from the server: its
// content, and its user when the echo names one ("" matches any user: the
// server may add the sender's name itself).
type ownMessage struct {
	User, Content string
	At            time.Time
}

// Committed evaluates committed messages, except the echoes of our own
// replies (a reply never answers itself).
func (a *alerting) Committed(msgs []message.Message) error {
	a.mu.Lock()
	if len(a.own) > 0 {
		kept := msgs[:0:0]
		for i := range msgs {
			if !a.isOwnLocked(&msgs[i]) {
				kept = append(kept, msgs[i])
			}
		}
		msgs = kept
	}
	hits := a.engine.Messages(msgs)
	a.mu.Unlock()
	a.record(hits)
	return nil
}

// isOwnLocked reports (and forgets) whether m is the echo of a reply we
// sent. a.mu is held.
func (a *alerting) isOwnLocked(m *message.Message) bool {
	list := a.own[m.Target]
	for i, o := range list {
		if o.Content == m.Content && (o.User == "" || o.User == m.User) && m.ReceivedAt.Sub(o.At) < ownFor && m.ReceivedAt.Sub(o.At) > -time.Minute {
			a.own[m.Target] = append(list[:i:i], list[i+1:]...)
			return true
		}
	}
	return false
}

// sendReply sends hit's reply (if any) and records the outcome on alert.
func (a *alerting) sendReply(al store.Alert, h rules.Hit) {
	if h.Reply == "" || a.reply == nil {
		return
	}
	a.mu.Lock()
	now := time.Now()
	if last, ok := a.lastReply[al.Target]; ok && now.Sub(last) < replyEvery {
		a.mu.Unlock()
		a.setReply(al, "", fmt.Sprintf("not sent: at most one reply per target every %s", replyEvery))
		return
	}
	every := h.Rule.CooldownDuration()
	if last, ok := a.lastRuleReply[h.Rule.Name]; ok && now.Sub(last) < every {
		a.mu.Unlock()
		a.setReply(al, "", fmt.Sprintf("not sent: at most one reply of rule %s every %s (its cooldown)", h.Rule.Name, every))
		return
	}
	a.lastReply[al.Target], a.lastRuleReply[h.Rule.Name] = now, now
	a.mu.Unlock()
	echo, err := a.reply(al.Target, h.Reply, al.Room)
	if err != nil {
		a.setReply(al, "", "not sent: "+err.Error())
		return
	}
	a.mu.Lock()
	echo.At = now
	list := append(a.own[al.Target], echo)
	if len(list) > ownMax {
		list = list[len(list)-ownMax:]
	}
	a.own[al.Target] = list
	a.mu.Unlock()
	a.log.Info("automatic reply sent", "rule", al.Rule, "target", al.Target, "alert", al.ID)
	a.setReply(al, h.Reply, "")
}

func (a *alerting) setReply(al store.Alert, reply, errText string) {
	if err := a.st.SetAlertReply(context.Background(), al.ID, reply, errText); err != nil {
		a.log.Warn("recording an automatic reply", "alert", al.ID, "error", err)
	}
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
	var byMsg []store.Alert // alerts about messages: unique per rule and message
	for i := range as {
		if hits[i].Once == "" {
			byMsg = append(byMsg, as[i])
		}
	}
	if err := a.st.InsertAlerts(context.Background(), byMsg); err != nil {
		a.log.Error("alerts not recorded", "error", err, "alerts", len(byMsg))
		return
	}
	for i, j := 0, 0; i < len(as); i++ {
		if hits[i].Once == "" {
			as[i] = byMsg[j]
			j++
		} else if err := a.st.InsertAlertOnce(context.Background(), &as[i], hits[i].Once); err != nil {
			a.log.Error("alert not recorded", "error", err, "rule", as[i].Rule)
		}
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
		a.sendReply(al, hits[i])
	}
}

// anomaly evaluates the anomaly rules on an anomaly that opened
// (analysis.Options.OnAnomaly). The same anomaly told again (the messages
// since the last saved state are counted again after a crash) is not
// stored twice: its alert has the same rule, start, key and kind.
func (a *alerting) anomaly(e anomaly.Event) {
	if e.Type != anomaly.Opened {
		return
	}
	x := &e.Anomaly
	a.mu.Lock()
	hits := a.engine.Anomaly(rules.Anomaly{Kind: x.Kind.String(), Target: x.Key.Target, Room: x.Key.Room, User: x.User,
		Score: x.Score, Start: x.Start, Explanation: x.Explanation})
	a.mu.Unlock()
	a.record(hits)
}

// Rules lists the stored rules with their source (web.RuleManager).
func (a *alerting) Rules(ctx context.Context) ([]web.RuleInfo, error) {
	a.mu.Lock()
	rows := a.rows
	a.mu.Unlock()
	return ruleInfos(rows), nil
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

// sendReply is the alerting's reply hook: it sends text on target's
// connection if the target has auto_reply, and says how the server's echo
// of it will look: the echo event the protocol session predicts
// (protocol.Composer), normalised as the target's messages are.
func (m *Monitor) sendReply(target, text, room string) (ownMessage, error) {
	m.mu.RLock()
	t := m.targets[target]
	var run *runner
	var dec ingest.Decoder
	var ok bool
	if t != nil {
		run = t.run
		dec, ok = m.decoders[target]
	}
	m.mu.RUnlock()
	switch {
	case t == nil:
		return ownMessage{}, fmt.Errorf("no target %q", target)
	case !t.cfg.AutoReply:
		return ownMessage{}, errors.New("auto_reply is off for this target")
	case run == nil:
		return ownMessage{}, capture.ErrNotConnected
	}
	ev, err := run.r.Send(text, room)
	if err != nil {
		return ownMessage{}, err
	}
	echo := ownMessage{Content: text}
	if ok {
		var msg message.Message
		dec.Normalizer.Normalize(ev, &msg)
		echo.User, echo.Content = msg.User, msg.Content
	}
	return echo, nil
}
