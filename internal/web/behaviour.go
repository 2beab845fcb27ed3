package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/wsmon/wsmon/internal/analysis"
	"github.com/wsmon/wsmon/internal/store"
)

// behaviourOff names the key that turns the behaviour rollups on.
func behaviourOff(err error) error {
	switch {
	case errors.Is(err, analysis.ErrOff):
		return &apiError{http.StatusConflict, "analysis_off", "the user behaviour rollups are turned off (analysis_behaviour in the configuration)"}
	case errors.Is(err, analysis.ErrNotFound):
		return errNotFound("no behaviour rollups for this user")
	case errors.Is(err, analysis.ErrBadCursor):
		return errBadParam("cursor", "not a cursor of this list and order")
	case errors.Is(err, analysis.ErrUserFilter):
		return errBadParam("user", "a user's activity covers every target and room: give user without target and room")
	}
	return err
}

// handleAnalysisUsers: GET /api/analysis/users?q=&sort=&order=&limit=&cursor=
// — every user with behaviour rollups, sorted, paged by a cursor.
func (s *Server) handleAnalysisUsers(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Analysis == nil {
		return behaviourOff(analysis.ErrOff)
	}
	p := s.params(r)
	q := analysis.UsersQuery{Contains: p.str("q", 256), Sort: p.str("sort", 16), Limit: int(p.int("limit", 50, 1, 200)),
		Cursor: p.str("cursor", 2048)}
	order := p.str("order", 8)
	if p.err != nil {
		return p.err
	}
	if q.Sort == "" {
		q.Sort = store.SortMessages
	}
	switch q.Sort {
	case store.SortMessages, store.SortLastSeen, store.SortFirstSeen, store.SortName:
	default:
		return errBadParam("sort", "must be messages, last_seen, first_seen or name, got %q", q.Sort)
	}
	switch order {
	case "", "desc":
		q.Desc = true
	case "asc":
	default:
		return errBadParam("order", "must be asc or desc, got %q", order)
	}
	res, err := s.opts.Analysis.Users(r.Context(), q)
	if err != nil {
		return behaviourOff(err)
	}
	return writeJSON(w, http.StatusOK, res)
}

// handleAnalysisUser: GET /api/analysis/users/{name}?from=&to= — one
// user's behaviour; daily covers the local dates from..to (default the 30
// days ending today).
func (s *Server) handleAnalysisUser(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Analysis == nil {
		return behaviourOff(analysis.ErrOff)
	}
	name := r.PathValue("name")
	p := s.params(r)
	from, to := p.days(s.today(), 30)
	if p.err != nil {
		return p.err
	}
	res, err := s.opts.Analysis.User(r.Context(), name, s.inZone(from.Time()), s.inZone(to.Time()))
	if err != nil {
		return behaviourOff(err)
	}
	return writeJSON(w, http.StatusOK, res)
}

// inZone is the local midnight of a day given as UTC midnight.
func (s *Server) inZone(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, s.zone())
}

// Activity range limits per step.
var activityMax = map[string]time.Duration{
	analysis.StepMinute: 6 * time.Hour,
	analysis.StepHour:   93 * 24 * time.Hour,
	analysis.StepDay:    1000 * 24 * time.Hour,
}

// handleAnalysisActivity: GET /api/analysis/activity?target=&room=&user=&from=&to=&step=
// — messages per minute/hour/day of a range and the period before it,
// its heatmap, top rooms and (unfiltered) the whole chat's user figures.
func (s *Server) handleAnalysisActivity(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Analysis == nil {
		return behaviourOff(analysis.ErrOff)
	}
	p := s.params(r)
	q := analysis.ActivityQuery{Target: p.str("target", 256), Room: p.str("room", 256), User: p.str("user", 256),
		From: p.time("from"), To: p.time("to"), Step: p.str("step", 8)}
	if p.err != nil {
		return p.err
	}
	now := time.Now()
	if q.To.IsZero() {
		q.To = now
	}
	if q.From.IsZero() {
		l := q.To.In(s.zone())
		q.From = time.Date(l.Year(), l.Month(), l.Day()-6, 0, 0, 0, 0, s.zone())
	}
	if !q.From.Before(q.To) {
		return errBadParam("from", "must be before to")
	}
	if q.Step == "" {
		q.Step = analysis.StepDay
		if q.To.Sub(q.From) <= 3*24*time.Hour {
			q.Step = analysis.StepHour
		}
	}
	limit, ok := activityMax[q.Step]
	if !ok {
		return errBadParam("step", "must be minute, hour or day, got %q", q.Step)
	}
	if q.To.Sub(q.From) > limit {
		return errBadParam("from", "a range of %s steps may be at most %s long", q.Step, limit)
	}
	res, err := s.opts.Analysis.Activity(r.Context(), q)
	if err != nil {
		return behaviourOff(err)
	}
	return writeJSON(w, http.StatusOK, res)
}

func (s *Server) zone() *time.Location {
	if s.opts.Location == nil {
		return time.UTC
	}
	return s.opts.Location
}
