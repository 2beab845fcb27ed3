package web

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/store"
)

const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// jsonTime renders as RFC 3339 with milliseconds, or null when zero.
type jsonTime time.Time

func (t jsonTime) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	if tt.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + tt.UTC().Format(timeLayout) + `"`), nil
}

// apiMessage is the JSON shape of a message.
type apiMessage struct {
	ID         int64    `json:"id"`
	Target     string   `json:"target"`
	ReceivedAt jsonTime `json:"received_at"`
	SentAt     jsonTime `json:"sent_at"`
	User       string   `json:"user"`
	Room       string   `json:"room"`
	Type       string   `json:"type"`
	Content    string   `json:"content"`
	Reason     string   `json:"reason"`
	Raw        *string  `json:"raw,omitempty"`
	RawBase64  *string  `json:"raw_base64,omitempty"`
}

func toAPI(m *message.Message, withRaw bool) apiMessage {
	a := apiMessage{ID: m.ID, Target: m.Target, ReceivedAt: jsonTime(m.ReceivedAt), SentAt: jsonTime(m.SentAt),
		User: m.User, Room: m.Room, Type: string(m.Type), Content: m.Content, Reason: m.Reason}
	if withRaw {
		if !m.Binary && utf8.Valid(m.Raw) {
			s := string(m.Raw)
			a.Raw = &s
		} else {
			s := base64.StdEncoding.EncodeToString(m.Raw)
			a.RawBase64 = &s
		}
	}
	return a
}

func toAPIList(ms []message.Message, withRaw bool) []apiMessage {
	out := make([]apiMessage, len(ms))
	for i := range ms {
		out[i] = toAPI(&ms[i], withRaw)
	}
	return out
}

// params reads and validates query parameters; the first error names the
// parameter.
type params struct {
	q   map[string][]string
	loc *time.Location // for dates and times without an offset
	err *apiError
}

func (s *Server) params(r *http.Request) *params {
	return &params{q: r.URL.Query(), loc: s.opts.Location}
}

func (p *params) str(name string, maxLen int) string {
	v := ""
	if vs := p.q[name]; len(vs) > 0 {
		v = vs[0]
	}
	if p.err == nil && len(v) > maxLen {
		p.err = errBadParam(name, "longer than %d bytes", maxLen)
	}
	if p.err == nil && !utf8.ValidString(v) {
		p.err = errBadParam(name, "not valid UTF-8")
	}
	return v
}

func (p *params) int(name string, def, lo, hi int64) int64 {
	v := p.str(name, 32)
	if v == "" || p.err != nil {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		p.err = errBadParam(name, "must be an integer from %d to %d, got %q", lo, hi, v)
		return def
	}
	return n
}

// Times in from/to lie in [minTime, maxTime): the zero time.Time means
// "unbounded" to the store, so a year-1 bound must not slip through as none.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

func (p *params) time(name string) time.Time {
	v := p.str(name, 64)
	if v == "" || p.err != nil {
		return time.Time{}
	}
	t, ok := time.Time{}, false
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02"} {
		var err error
		if t, err = time.ParseInLocation(layout, v, p.loc); err == nil {
			ok = true
			break
		}
	}
	if !ok {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			p.err = errBadParam(name, "must be RFC 3339 (2026-01-02T15:04:05Z), a date or Unix milliseconds, got %q", v)
			return time.Time{}
		}
		if ms < minTime.UnixMilli() || ms >= maxTime.UnixMilli() {
			t = time.Time{} // out of range, refused below
		} else {
			t = time.UnixMilli(ms)
		}
	}
	if t.Before(minTime) || !t.Before(maxTime) {
		p.err = errBadParam(name, "must be from 1970-01-01 to 9999-12-31, got %q", v)
		return time.Time{}
	}
	return t
}

func (p *params) bool(name string) bool {
	v := strings.ToLower(p.str(name, 8))
	return v == "1" || v == "true" || v == "yes"
}

var validTypes = map[string]bool{"": true, "chat": true, "system": true, "join": true, "leave": true, "other": true}

// messageQuery reads the shared filters and paging parameters.
func (p *params) messageQuery() store.MessageQuery {
	limit := int(p.int("limit", 50, 1, 500))
	before := p.int("before", 0, 0, 1<<62)
	q := p.filters()
	q.Limit, q.Before = limit, before
	return q
}

// filters reads the filters of listings, searches and exports: user,
// type, target, room, from, to, and raw.
func (p *params) filters() store.MessageQuery {
	q := store.MessageQuery{
		User:   p.str("user", 256),
		Type:   p.str("type", 16),
		Target: p.str("target", 256),
		Room:   p.str("room", 256),
		From:   p.time("from"),
		To:     p.time("to"),
		Raw:    p.bool("raw"),
	}
	if p.err == nil && !validTypes[q.Type] {
		p.err = errBadParam("type", "must be one of chat, system, join, leave, other; got %q", q.Type)
	}
	if p.err == nil && !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		p.err = errBadParam("from", "must be before to")
	}
	return q
}

// searchText reads the search text: q, or keyword (the Python monitor's
// parameter name) when q is absent or empty.
func (p *params) searchText() string {
	text := p.str("q", 1024)
	if text == "" {
		text = p.str("keyword", 1024)
	}
	return text
}

// page is a list response with a cursor for the next (older) page.
type page struct {
	Messages        []apiMessage `json:"messages"`
	Next            *string      `json:"next"`
	Total           *int64       `json:"total,omitempty"`
	TotalIsEstimate *bool        `json:"total_is_estimate,omitempty"`
}

func newPage(ms []message.Message, q store.MessageQuery) page {
	p := page{Messages: toAPIList(ms, q.Raw)}
	if len(ms) == q.Limit && len(ms) > 0 {
		c := strconv.FormatInt(ms[len(ms)-1].ID, 10)
		p.Next = &c
	}
	return p
}

func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) error {
	p := s.params(r)
	q := p.messageQuery()
	if p.err != nil {
		return p.err
	}
	ms, err := s.opts.Store.Messages(r.Context(), q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, newPage(ms, q))
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errBadParam("id", "must be a positive integer, got %q", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) handleMessage(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	m, err := s.opts.Store.Message(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toAPI(&m, true))
}

func (s *Server) handleContext(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	p := s.params(r)
	n := p.int("n", 20, 1, 200)
	if p.err != nil {
		return p.err
	}
	ms, err := s.opts.Store.Context(r.Context(), id, int(n))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"anchor": id, "messages": toAPIList(ms, false)})
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) error {
	p := s.params(r)
	text := p.searchText()
	q := p.messageQuery()
	if p.err != nil {
		return p.err
	}
	if text == "" {
		return errBadParam("q", "required: the text to search for")
	}
	res, err := s.opts.Store.Search(r.Context(), text, q)
	if err != nil {
		return err
	}
	pg := newPage(res.Messages, q)
	pg.Total, pg.TotalIsEstimate = &res.Total, &res.Estimate
	return writeJSON(w, http.StatusOK, pg)
}

type apiStats struct {
	TotalMessages int64            `json:"total_messages"`
	TodayMessages int64            `json:"today_messages"`
	ActiveUsers   int64            `json:"active_users"`
	Daily         []dayJSON        `json:"daily"`
	Hourly        []hourJSON       `json:"hourly"`
	TopUsers      []userCountJSON  `json:"top_users"`
	Monitor       []TargetStatusJS `json:"monitor"`
	Process       *processJSON     `json:"monitor_process"`
	TimeZone      string           `json:"time_zone"`
	Ingest        *IngestCounters  `json:"ingest,omitempty"`
}

type dayJSON struct {
	Date  string `json:"date"`
	Count int64  `json:"count"`
}
type hourJSON struct {
	Hour  int   `json:"hour"`
	Count int64 `json:"count"`
}
type userCountJSON struct {
	User  string `json:"user"`
	Count int64  `json:"count"`
}

// TargetStatusJS is TargetStatus with JSON times.
type TargetStatusJS struct {
	Target        string   `json:"target"`
	URL           string   `json:"url"`
	State         string   `json:"state"`
	Since         jsonTime `json:"since"`
	Reconnects    int      `json:"reconnects"`
	LastMessageAt jsonTime `json:"last_message_at"`
	LastError     string   `json:"last_error"`
	ErrorCode     string   `json:"error_code"`
	NextAttemptAt jsonTime `json:"next_attempt_at"`
	Protocol      string   `json:"protocol"`
}

// processJSON is a ProcessStatus with JSON times.
type processJSON struct {
	State       string   `json:"state"`
	Alive       bool     `json:"alive"`
	PID         int      `json:"pid"`
	Mode        string   `json:"mode"`
	Version     string   `json:"version"`
	StartedAt   jsonTime `json:"started_at"`
	HeartbeatAt jsonTime `json:"heartbeat_at"`
	StoppedAt   jsonTime `json:"stopped_at"`
}

func (s *Server) processJSON(r *http.Request) *processJSON {
	if s.opts.Process == nil {
		return nil
	}
	p := s.opts.Process(r.Context())
	return &processJSON{State: p.State, Alive: p.State == ProcessRunning, PID: p.PID, Mode: p.Mode, Version: p.Version,
		StartedAt: jsonTime(p.StartedAt), HeartbeatAt: jsonTime(p.HeartbeatAt), StoppedAt: jsonTime(p.StoppedAt)}
}

func (s *Server) monitorJSON(r *http.Request) []TargetStatusJS {
	out := []TargetStatusJS{}
	if s.opts.Status == nil {
		return out
	}
	for _, t := range s.opts.Status(r.Context()) {
		out = append(out, TargetStatusJS{Target: t.Target, URL: t.URL, State: t.State, Since: jsonTime(t.Since),
			Reconnects: t.Reconnects, LastMessageAt: jsonTime(t.LastMessageAt), LastError: t.LastError,
			ErrorCode: t.ErrorCode, NextAttemptAt: jsonTime(t.NextAttemptAt), Protocol: t.Protocol})
	}
	return out
}

func (s *Server) stats(r *http.Request, q store.StatsQuery) (apiStats, error) {
	st, err := s.opts.Store.Stats(r.Context(), q)
	if err != nil {
		return apiStats{}, err
	}
	out := apiStats{TotalMessages: st.Total, TodayMessages: st.Today, ActiveUsers: st.ActiveUsers,
		Daily: []dayJSON{}, Hourly: make([]hourJSON, 24), TopUsers: []userCountJSON{},
		Monitor: s.monitorJSON(r), Process: s.processJSON(r), TimeZone: s.opts.TimeZone}
	if s.opts.Ingest != nil {
		c := s.opts.Ingest()
		out.Ingest = &c
	}
	for _, d := range st.Daily {
		out.Daily = append(out.Daily, dayJSON{d.Date, d.Count})
	}
	for h := range 24 {
		out.Hourly[h] = hourJSON{h, st.Hourly[h]}
	}
	for _, u := range st.TopUsers {
		out.TopUsers = append(out.TopUsers, userCountJSON{u.User, u.Count})
	}
	return out, nil
}

// maxStatsDays is the longest from/to range /api/stats accepts.
const maxStatsDays = 3700

func (s *Server) handleStats(w http.ResponseWriter, r *http.Request) error {
	p := s.params(r)
	q := store.StatsQuery{From: p.time("from"), To: p.time("to"), Target: p.str("target", 256), Room: p.str("room", 256)}
	if p.err != nil {
		return p.err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return errBadParam("from", "must be before to")
	}
	// The daily series has one entry per day of [from, to) (by default the
	// last 30 days to tomorrow): cap it, or one request builds millions.
	from, to := q.From, q.To
	if from.IsZero() {
		from = time.Now().AddDate(0, 0, -30)
	}
	if to.IsZero() {
		to = time.Now().AddDate(0, 0, 1)
	}
	if to.Sub(from) > maxStatsDays*24*time.Hour {
		name := "from"
		if q.From.IsZero() {
			name = "to"
		}
		return errBadParam(name, "the range of daily statistics is at most %d days (about 10 years); narrow from/to", maxStatsDays)
	}
	st, err := s.stats(r, q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, st)
}

func (s *Server) handleUser(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if name == "" || len(name) > 256 || !utf8.ValidString(name) {
		return errBadParam("name", "must be a user name of 1 to 256 bytes")
	}
	p := s.params(r)
	target := p.str("target", 256)
	if p.err != nil {
		return p.err
	}
	u, err := s.opts.Store.User(r.Context(), name, target)
	if err != nil {
		return err
	}
	hours := make([]int64, 24)
	copy(hours, u.ActiveHours[:])
	return writeJSON(w, http.StatusOK, map[string]any{
		"user": u.User, "first_seen": jsonTime(u.FirstSeen), "last_seen": jsonTime(u.LastSeen),
		"message_count": u.Count, "active_hours": hours, "recent": toAPIList(u.Recent, false),
	})
}

// sessionJSON is one entry of the connection timeline: a session (a
// connection whose protocol session started), or, with Attempt set, a
// failed connection attempt that started none.
type sessionJSON struct {
	ID             int64    `json:"id"` // a session's id, or an attempt's (their own sequence)
	Attempt        bool     `json:"attempt"`
	Target         string   `json:"target"`
	URL            string   `json:"url"`
	At             jsonTime `json:"at"` // when it started: connected_at of a session, the attempt's time
	ConnectedAt    jsonTime `json:"connected_at"`
	DisconnectedAt jsonTime `json:"disconnected_at"`
	CloseCode      int      `json:"close_code"`
	CloseReason    string   `json:"close_reason"`
	HTTPStatus     int      `json:"http_status"`
	Step           string   `json:"step"` // attempts: prepare, dial or handshake
	Messages       int64    `json:"messages"`
	Error          string   `json:"error"`
	ErrorCode      string   `json:"error_code"`
}

type gapJSON struct {
	Target  string   `json:"target"`
	From    jsonTime `json:"from"`
	To      jsonTime `json:"to"`
	Seconds float64  `json:"seconds"`
}

// sessionErrorCode is the stable code of how a session ended, from what
// the store keeps of it (its error and close code).
func sessionErrorCode(se store.Session) string {
	switch {
	case se.Error == "" && (se.CloseCode == 0 || se.CloseCode == 1000 || se.CloseCode == 1001):
		return ""
	case se.Error == store.OrphanSessionError:
		return CodeProcessDied
	case se.CloseCode == 1008 || se.CloseCode == 4401 || se.CloseCode == 4403:
		return "refused"
	case se.CloseCode != 0 && se.CloseCode != 1006:
		return "server_closed"
	}
	return "connection_dropped"
}

func (s *Server) handleSessions(w http.ResponseWriter, r *http.Request) error {
	p := s.params(r)
	target := p.str("target", 256)
	limit := p.int("limit", 100, 1, 1000)
	if p.err != nil {
		return p.err
	}
	ss, err := s.opts.Store.Sessions(r.Context(), target, int(limit))
	if err != nil {
		return err
	}
	as, err := s.opts.Store.Attempts(r.Context(), target, int(limit))
	if err != nil {
		return err
	}
	out := struct {
		Sessions []sessionJSON `json:"sessions"`
		Gaps     []gapJSON     `json:"gaps"`
	}{Sessions: []sessionJSON{}, Gaps: []gapJSON{}}
	// Sessions and attempts are each newest first: merge them by start.
	i, j := 0, 0
	for len(out.Sessions) < int(limit) && (i < len(ss) || j < len(as)) {
		if j >= len(as) || (i < len(ss) && !ss[i].ConnectedAt.Before(as[j].At)) {
			se := ss[i]
			i++
			out.Sessions = append(out.Sessions, sessionJSON{ID: se.ID, Target: se.Target, URL: se.URL, At: jsonTime(se.ConnectedAt),
				ConnectedAt: jsonTime(se.ConnectedAt), DisconnectedAt: jsonTime(se.DisconnectedAt), CloseCode: se.CloseCode,
				CloseReason: se.CloseReason, Messages: se.Messages, Error: se.Error, ErrorCode: sessionErrorCode(se)})
			continue
		}
		a := as[j]
		j++
		out.Sessions = append(out.Sessions, sessionJSON{ID: a.ID, Attempt: true, Target: a.Target, URL: a.URL, At: jsonTime(a.At),
			HTTPStatus: a.HTTPStatus, Step: a.Step, Error: a.Error, ErrorCode: a.Code})
	}
	// A gap is the time between one session's end and the next (newer)
	// session's start on the same target.
	newer := map[string]store.Session{}
	for _, se := range ss {
		if n, ok := newer[se.Target]; ok && !se.DisconnectedAt.IsZero() && n.ConnectedAt.After(se.DisconnectedAt) {
			out.Gaps = append(out.Gaps, gapJSON{se.Target, jsonTime(se.DisconnectedAt), jsonTime(n.ConnectedAt),
				n.ConnectedAt.Sub(se.DisconnectedAt).Seconds()})
		}
		newer[se.Target] = se
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleUIConfig(w http.ResponseWriter, r *http.Request) error {
	analyses := s.opts.Analyses
	if analyses == nil {
		analyses = []string{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"version":                s.opts.Version,
		"web_refresh_interval":   s.opts.RefreshInterval.Seconds(),
		"max_messages_in_memory": s.opts.MaxInMemory,
		"time_zone":              s.opts.TimeZone,
		"auth":                   s.auth.enabled(),
		"analyses":               analyses,
	})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	if wantsText(r) {
		return writeText(w, http.StatusOK, "ok\n")
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// wantsText reports whether a health check asked for plain text: ?format=text,
// or an Accept header naming text/plain and no JSON (a load balancer's or
// curl's check reads the status line and the first word).
func wantsText(r *http.Request) bool {
	if f := r.URL.Query().Get("format"); f != "" {
		return f == "text"
	}
	a := r.Header.Get("Accept")
	return strings.Contains(a, "text/plain") && !strings.Contains(a, "json")
}

func writeText(w http.ResponseWriter, code int, body string) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, err := io.WriteString(w, body)
	return err
}

// handleMetrics serves the Prometheus exposition.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Metrics == nil {
		return errNotFound("no metrics in this process")
	}
	s.opts.Metrics.ServeHTTP(w, r)
	return nil
}

// handleReady answers 200 {"status":"ready"} when every readiness check
// passes, else 503 {"status":"not_ready"}, with the checks either way.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) error {
	var checks []Check
	if s.opts.Ready != nil {
		checks = s.opts.Ready(r.Context())
	} else {
		c := Check{Name: "database", OK: true}
		if _, err := s.opts.Store.Sessions(r.Context(), "", 1); err != nil {
			c.OK, c.Detail = false, "cannot be read"
		}
		checks = []Check{c}
	}
	status, code := "ready", http.StatusOK
	for _, c := range checks {
		if !c.OK {
			status, code = "not_ready", http.StatusServiceUnavailable
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	if wantsText(r) {
		// "ready" or "not_ready", then a line per check: "ok NAME" or
		// "fail NAME: DETAIL".
		var b strings.Builder
		b.WriteString(status + "\n")
		for _, c := range checks {
			if c.OK {
				fmt.Fprintf(&b, "ok %s\n", c.Name)
			} else {
				fmt.Fprintf(&b, "fail %s: %s\n", c.Name, c.Detail)
			}
		}
		return writeText(w, code, b.String())
	}
	return writeJSON(w, code, struct {
		Status string  `json:"status"`
		Checks []Check `json:"checks"`
	}{status, checks})
}
