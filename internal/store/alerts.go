package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Alert is one stored alert (a rule hit).
type Alert struct {
	ID         int64
	Rule       string
	RuleType   string
	Target     string
	Room       string
	User       string
	Content    string
	MessageID  int64 // 0: not about one message (rate, silence, connection)
	Detail     string
	At         time.Time
	Suppressed int       // hits folded into this alert by the rule's cooldown
	AckedAt    time.Time // zero: not acknowledged
	Delivery   string    // what the notifiers did, e.g. "slack: sent; ops-webhook: failed: HTTP 500"
	Reply      string    // the automatic reply sent on the connection ("" for none)
	ReplyError string    // why the rule's reply was not sent
}

// AlertQuery filters ListAlerts. Zero fields do not filter.
type AlertQuery struct {
	Rule     string
	Target   string
	From, To time.Time // at in [From, To)
	Unacked  bool
	BeforeID int64 // page: alerts with a smaller id
	Limit    int   // default 100, at most 1000
}

// InsertAlerts stores alerts and sets their IDs. An alert about a message
// that this rule already alerted on (a journal replay) is skipped and its
// ID left 0.
func (s *Store) InsertAlerts(ctx context.Context, as []Alert) error {
	if len(as) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: insert alerts: %w", err)
	}
	defer tx.Rollback()
	for i := range as {
		a := &as[i]
		var msgID any
		if a.MessageID != 0 {
			msgID = a.MessageID
		}
		// RETURNING gives the id on both databases; a conflict (the alert
		// was recorded before a crash) returns no row.
		err := tx.QueryRowContext(ctx, `INSERT INTO alerts (rule, rule_type, target, room, username, content, message_id, detail, at, suppressed)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
			a.Rule, a.RuleType, a.Target, a.Room, a.User, a.Content, msgID, a.Detail, a.At.UnixMilli(), a.Suppressed).Scan(&a.ID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: insert alert: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: insert alerts: %w", err)
	}
	return nil
}

// AddAlertDelivery appends one notifier's outcome to alert id's delivery
// ("slack: sent; ops: failed: HTTP 500"); safe for concurrent calls.
func (s *Store) AddAlertDelivery(ctx context.Context, id int64, outcome string) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE alerts SET delivery = CASE WHEN delivery = '' THEN ? ELSE delivery || '; ' || ? END WHERE id = ?`,
		outcome, outcome, id); err != nil {
		return fmt.Errorf("store: alert delivery: %w", err)
	}
	return nil
}

// SetAlertReply records the automatic reply sent for alert id, or why it
// was not sent.
func (s *Store) SetAlertReply(ctx context.Context, id int64, reply, errText string) error {
	if _, err := s.w.ExecContext(ctx, `UPDATE alerts SET reply = ?, reply_error = ? WHERE id = ?`, reply, errText, id); err != nil {
		return fmt.Errorf("store: alert reply: %w", err)
	}
	return nil
}

// AckAlerts acknowledges alerts by id (all unacknowledged ones up to
// upTo when ids is empty and upTo > 0) and returns how many changed.
func (s *Store) AckAlerts(ctx context.Context, ids []int64, upTo int64) (int64, error) {
	now := time.Now().UnixMilli()
	var res sql.Result
	var err error
	switch {
	case len(ids) > 0:
		ph := strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")
		args := []any{now}
		for _, id := range ids {
			args = append(args, id)
		}
		res, err = s.w.ExecContext(ctx, `UPDATE alerts SET acked_at = ? WHERE acked_at IS NULL AND id IN (`+ph+`)`, args...)
	case upTo > 0:
		res, err = s.w.ExecContext(ctx, `UPDATE alerts SET acked_at = ? WHERE acked_at IS NULL AND id <= ?`, now, upTo)
	default:
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: ack alerts: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// ListAlerts returns alerts newest first.
func (s *Store) ListAlerts(ctx context.Context, q AlertQuery) ([]Alert, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if q.Rule != "" {
		add("rule = ?", q.Rule)
	}
	if q.Target != "" {
		add("target = ?", q.Target)
	}
	if !q.From.IsZero() {
		add("at >= ?", q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		add("at < ?", q.To.UnixMilli())
	}
	if q.BeforeID > 0 {
		add("id < ?", q.BeforeID)
	}
	if q.Unacked {
		where = append(where, "acked_at IS NULL")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	sqlText := `SELECT id, rule, rule_type, target, room, username, content, COALESCE(message_id, 0), detail, at, suppressed, COALESCE(acked_at, 0), delivery, reply, reply_error FROM alerts`
	if len(where) > 0 {
		sqlText += " WHERE " + strings.Join(where, " AND ")
	}
	sqlText += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit)
	return queryAll(ctx, s.r, "alerts", sqlText, args, func(r *sql.Rows, a *Alert) error {
		var at, acked int64
		err := r.Scan(&a.ID, &a.Rule, &a.RuleType, &a.Target, &a.Room, &a.User, &a.Content, &a.MessageID, &a.Detail, &at, &a.Suppressed, &acked, &a.Delivery, &a.Reply, &a.ReplyError)
		a.At = time.UnixMilli(at)
		if acked != 0 {
			a.AckedAt = time.UnixMilli(acked)
		}
		return err
	})
}

// UnackedAlerts counts the alerts not acknowledged yet.
func (s *Store) UnackedAlerts(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM alerts WHERE acked_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count alerts: %w", err)
	}
	return n, nil
}

// RuleRow is one stored rule. Config is the JSON of a rules.Rule; the
// store does not interpret it.
type RuleRow struct {
	Name      string
	Config    []byte
	Source    string // SourceConfig or SourceAPI
	UpdatedAt time.Time
}

// Rules returns every stored rule, by name.
func (s *Store) Rules(ctx context.Context) ([]RuleRow, error) {
	return queryAll(ctx, s.r, "rules", `SELECT name, config, source, updated_at FROM rules ORDER BY name`, nil,
		func(r *sql.Rows, t *RuleRow) error {
			var cfg string
			var upd int64
			err := r.Scan(&t.Name, &cfg, &t.Source, &upd)
			t.Config, t.UpdatedAt = []byte(cfg), time.UnixMilli(upd)
			return err
		})
}

// PutRule inserts or replaces a rule.
func (s *Store) PutRule(ctx context.Context, r RuleRow) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO rules (name, config, source, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET config = excluded.config, source = excluded.source, updated_at = excluded.updated_at`,
		r.Name, string(r.Config), r.Source, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("store: put rule: %w", err)
	}
	return nil
}

// DeleteRule removes a rule, or returns ErrNotFound.
func (s *Store) DeleteRule(ctx context.Context, name string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM rules WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("store: delete rule: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// InsertAlertOnce stores a (setting its ID) unless an alert of the same
// rule, time, target, room and user whose detail begins with key exists
// already; then it stores nothing and leaves a.ID 0. It is how alerts not
// about one message are made replay-safe: an anomaly alert's time is the
// anomaly's start and its detail begins with the anomaly's kind, so the
// same anomaly found again (the messages since the last saved state are
// counted again after a crash) is not alerted twice. The check and the
// insert are one transaction on the single writer connection.
// The lookup uses the alerts_at index.
func (s *Store) InsertAlertOnce(ctx context.Context, a *Alert, key string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: insert alert: %w", err)
	}
	defer tx.Rollback()
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM alerts WHERE at = ? AND rule = ? AND target = ? AND room = ? AND username = ?
		AND substr(detail, 1, ?) = ?`, a.At.UnixMilli(), a.Rule, a.Target, a.Room, a.User, len(key), key).Scan(&n); err != nil {
		return fmt.Errorf("store: insert alert: %w", err)
	}
	if n > 0 {
		a.ID = 0
		return nil
	}
	var msgID any
	if a.MessageID != 0 {
		msgID = a.MessageID
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO alerts (rule, rule_type, target, room, username, content, message_id, detail, at, suppressed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		a.Rule, a.RuleType, a.Target, a.Room, a.User, a.Content, msgID, a.Detail, a.At.UnixMilli(), a.Suppressed).Scan(&id); err != nil {
		return fmt.Errorf("store: insert alert: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: insert alert: %w", err)
	}
	a.ID = id
	return nil
}
