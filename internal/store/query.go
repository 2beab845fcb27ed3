package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

// ErrNotFound is returned when a requested row does not exist.
var ErrNotFound = errors.New("not found")

// MessageQuery filters and pages a message listing. Zero fields do not
// filter. Results are newest first; Before is an exclusive id cursor.
type MessageQuery struct {
	Limit  int
	Before int64
	User   string
	Type   string
	Target string
	Room   string
	From   time.Time // inclusive, on received_at
	To     time.Time // exclusive
	Raw    bool      // include the raw frame
}

const messageColumns = `id, target, session_id, received_at, sent_at, username, room, type, content, is_binary, ext_id, reason`

// where builds the WHERE clause for q's filters. Values are always bound
// as parameters, never spliced into the SQL.
func (q MessageQuery) where() (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		conds = append(conds, cond)
		args = append(args, v)
	}
	if q.Before > 0 {
		add("id < ?", q.Before)
	}
	if q.User != "" {
		add("username = ?", q.User)
	}
	if q.Type != "" {
		add("type = ?", q.Type)
	}
	if q.Target != "" {
		add("target = ?", q.Target)
	}
	if q.Room != "" {
		add("room = ?", q.Room)
	}
	if !q.From.IsZero() {
		add("received_at >= ?", q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		add("received_at < ?", q.To.UnixMilli())
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func (q MessageQuery) columns() string {
	if q.Raw {
		return messageColumns + ", raw"
	}
	return messageColumns
}

func scanMessages(rows *sql.Rows, withRaw bool) ([]message.Message, error) {
	defer rows.Close()
	var out []message.Message
	for rows.Next() {
		var m message.Message
		var recv int64
		var sent sql.NullInt64
		var ext sql.NullString
		var typ string
		var bin int
		dst := []any{&m.ID, &m.Target, &m.SessionID, &recv, &sent, &m.User, &m.Room, &typ, &m.Content, &bin, &ext, &m.Reason}
		if withRaw {
			dst = append(dst, &m.Raw)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("store: scan message: %w", err)
		}
		m.ReceivedAt = time.UnixMilli(recv)
		if sent.Valid {
			m.SentAt = time.UnixMilli(sent.Int64)
		}
		m.Type, m.Binary, m.ExtID = message.Type(typ), bin != 0, ext.String
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read messages: %w", err)
	}
	return out, nil
}

// SearchResult is one page of search hits.
type SearchResult struct {
	Messages []message.Message
	Total    int64
	Estimate bool // Total is an estimate
}

// Messages lists messages newest first with q's filters, q.Limit of them
// (a negative Limit is no limit), below q.Before. It scans the
// messages table in id order: the index answers listings filtered on a
// field itself and calls this for the rest (no filter, or only from/to).
func (s *Store) Messages(ctx context.Context, q MessageQuery) ([]message.Message, error) {
	where, args := q.where()
	limit := ` LIMIT ?`
	if q.Limit < 0 {
		limit = "" // every message (tests' full scans)
	} else {
		args = append(args, q.Limit)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+q.columns()+` FROM messages`+where+` ORDER BY id DESC`+limit, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list messages: %w", err)
	}
	return scanMessages(rows, q.Raw)
}

// Message returns one message with its raw frame.
func (s *Store) Message(ctx context.Context, id int64) (message.Message, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+messageColumns+`, raw FROM messages WHERE id = ?`, id)
	if err != nil {
		return message.Message{}, fmt.Errorf("store: get message: %w", err)
	}
	ms, err := scanMessages(rows, true)
	if err != nil {
		return message.Message{}, err
	}
	if len(ms) == 0 {
		return message.Message{}, ErrNotFound
	}
	return ms[0], nil
}

// Context returns up to n messages before and n after the message id (same
// target), oldest first, the message itself included.
func (s *Store) Context(ctx context.Context, id int64, n int) ([]message.Message, error) {
	anchor, err := s.Message(ctx, id)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE id < ? AND target = ? ORDER BY id DESC LIMIT ?`, id, anchor.Target, n)
	if err != nil {
		return nil, fmt.Errorf("store: context: %w", err)
	}
	before, err := scanMessages(rows, false)
	if err != nil {
		return nil, err
	}
	rows, err = s.r.QueryContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE id >= ? AND target = ? ORDER BY id ASC LIMIT ?`, id, anchor.Target, n+1)
	if err != nil {
		return nil, fmt.Errorf("store: context: %w", err)
	}
	after, err := scanMessages(rows, false)
	if err != nil {
		return nil, err
	}
	out := make([]message.Message, 0, len(before)+len(after))
	for i := len(before) - 1; i >= 0; i-- {
		out = append(out, before[i])
	}
	return append(out, after...), nil
}

// MessagesAfter returns messages with id > after, oldest first, at most
// limit: how a separate web process follows what the monitor writes.
func (s *Store) MessagesAfter(ctx context.Context, after int64, limit int) ([]message.Message, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE id > ? ORDER BY id ASC LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: messages after: %w", err)
	}
	return scanMessages(rows, false)
}

// LiveMessagesAfter is MessagesAfter for the live view: each content is
// cut to its first maxContent characters (0: whole), so following a
// database full of large messages costs bounded memory.
func (s *Store) LiveMessagesAfter(ctx context.Context, after int64, limit, maxContent int) ([]message.Message, error) {
	if maxContent <= 0 {
		return s.MessagesAfter(ctx, after, limit)
	}
	cols := strings.Replace(messageColumns, "content", "substr(content, 1, ?)", 1)
	rows, err := s.r.QueryContext(ctx, `SELECT `+cols+` FROM messages WHERE id > ? ORDER BY id ASC LIMIT ?`, maxContent, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: messages after: %w", err)
	}
	return scanMessages(rows, false)
}

// Session is one connection's record.
type Session struct {
	ID             int64
	Target         string
	URL            string
	ConnectedAt    time.Time
	DisconnectedAt time.Time // zero while connected (and after a crash, until the next start closes it: CloseOrphanSessions)
	CloseCode      int
	CloseReason    string
	Messages       int64
	Error          string
	Protocol       string
	Control        int64 // control frames (heartbeats, acks, ...) seen
}

// SessionProtocol returns the protocol session id spoke, "" when the
// session is unknown or was recorded before protocols were.
func (s *Store) SessionProtocol(ctx context.Context, id int64) (string, error) {
	var p string
	err := s.r.QueryRowContext(ctx, s.d.sessionProtocol, id).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: session protocol: %w", err)
	}
	return p, nil
}

// Sessions lists connection sessions, newest first.
func (s *Store) Sessions(ctx context.Context, target string, limit int) ([]Session, error) {
	q := `SELECT id, target, url, connected_at, disconnected_at, close_code, close_reason, messages, error, protocol, control_frames FROM sessions`
	var args []any
	if target != "" {
		q += ` WHERE target = ?`
		args = append(args, target)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	return queryAll(ctx, s.r, "sessions", q, append(args, limit), scanSession)
}

// CountMessages counts messages matching q's filters (Limit and Before are
// ignored).
func (s *Store) CountMessages(ctx context.Context, q MessageQuery) (int64, error) {
	q.Before = 0
	where, args := q.where()
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count: %w", err)
	}
	return n, nil
}

// scanSession reads a session row selected as id, target, url,
// connected_at, disconnected_at, close_code, close_reason, messages,
// error, protocol, control_frames.
func scanSession(r *sql.Rows, se *Session) error {
	var conn int64
	var disc, code sql.NullInt64
	err := r.Scan(&se.ID, &se.Target, &se.URL, &conn, &disc, &code, &se.CloseReason, &se.Messages, &se.Error, &se.Protocol, &se.Control)
	se.ConnectedAt = time.UnixMilli(conn)
	if disc.Valid {
		se.DisconnectedAt = time.UnixMilli(disc.Int64)
	}
	se.CloseCode = int(code.Int64)
	return err
}
