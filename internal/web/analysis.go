package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/wsmon/wsmon/internal/analysis"
	"github.com/wsmon/wsmon/internal/anomaly"
	"github.com/wsmon/wsmon/internal/sentiment"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/terms"
)

// Analysis answers the incremental analyses' queries: the monitor's
// analysis.Analyzer in its own process, an analysis.Reader of the saved
// states in a separate web process.
type Analysis interface {
	Terms(ctx context.Context, day terms.Day, room string, limit int) (analysis.TermsResult, error)
	Sentiment(ctx context.Context, target, room string, from, to terms.Day) (analysis.SentimentResult, error)
	Anomalies(ctx context.Context, q analysis.AnomalyQuery) (analysis.AnomaliesResult, error)
	Users(ctx context.Context, q analysis.UsersQuery) (analysis.UsersResult, error)
	User(ctx context.Context, name string, from, to time.Time) (analysis.UserResult, error)
	Activity(ctx context.Context, q analysis.ActivityQuery) (analysis.ActivityResult, error)
}

// maxAnalysisDays bounds a sentiment range (the rollups keep fewer).
const maxAnalysisDays = 400

// day reads a YYYY-MM-DD parameter as a local day; def when absent.
func (p *params) day(name string, def terms.Day) terms.Day {
	v := p.str(name, 16)
	if v == "" || p.err != nil {
		return def
	}
	t, err := time.ParseInLocation("2006-01-02", v, time.UTC)
	if err != nil || t.Year() < 1970 || t.Year() > 9999 {
		p.err = errBadParam(name, "must be a date YYYY-MM-DD from 1970-01-01 to 9999-12-31, got %q", v)
		return def
	}
	return terms.DayOf(t, time.UTC)
}

// days reads the local dates from..to of an analysis endpoint: to
// defaults to today, from to the days-1 before it; from after to, or a
// range of maxAnalysisDays or more, is a 400 naming from.
func (p *params) days(today terms.Day, days int) (from, to terms.Day) {
	to = p.day("to", today)
	from = p.day("from", to-terms.Day(days-1))
	switch {
	case p.err != nil:
	case from > to:
		p.err = errBadParam("from", "after to")
	case to-from >= maxAnalysisDays:
		p.err = errBadParam("from", "the range is longer than %d days", maxAnalysisDays)
	}
	return from, to
}

func (s *Server) today() terms.Day {
	loc := s.opts.Location
	if loc == nil {
		loc = time.UTC
	}
	return terms.DayOf(time.Now(), loc)
}

func analysisOff(err error) error {
	if errors.Is(err, analysis.ErrOff) {
		return &apiError{http.StatusConflict, "analysis_off", "this analysis is turned off (analysis_terms / analysis_sentiment / anomaly_detection in the configuration)"}
	}
	return err
}

// handleAnalysisTerms: GET /api/analysis/terms?date=&room=&limit= — the
// day's terms ranked by rise against their usual rate.
func (s *Server) handleAnalysisTerms(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Analysis == nil {
		return analysisOff(analysis.ErrOff)
	}
	p := s.params(r)
	day := p.day("date", s.today())
	room := p.str("room", 256)
	limit := int(p.int("limit", 20, 1, 200))
	if p.err != nil {
		return p.err
	}
	res, err := s.opts.Analysis.Terms(r.Context(), day, room, limit)
	if err != nil {
		return analysisOff(err)
	}
	type point struct {
		Date string `json:"date"`
		terms.Point
	}
	type trend struct {
		terms.Trend
		Series []point `json:"series"`
	}
	out := make([]trend, len(res.Terms))
	for i, t := range res.Terms {
		out[i].Trend = t
		out[i].Series = make([]point, len(t.Series))
		for j, pt := range t.Series {
			out[i].Series[j] = point{pt.Day.Time().Format("2006-01-02"), pt}
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"date": res.Date, "room": res.Room, "as_of_id": res.AsOfID, "terms": out})
}

// negativeJSON is one of a day's most negative messages.
type negativeJSON struct {
	ID         int64    `json:"id"`
	Score      float64  `json:"score"`
	Target     string   `json:"target"`
	Room       string   `json:"room"`
	User       string   `json:"user"`
	ReceivedAt jsonTime `json:"received_at"`
	Content    string   `json:"content"`
	Deleted    bool     `json:"deleted"` // the message is no longer stored (retention)
	Source     string   `json:"source"`  // who scored it: "remote" (the external classifier) or "lexicon"
}

// handleAnalysisSentiment: GET /api/analysis/sentiment?target=&room=&from=&to=
// — per local day: counts, average score, the most negative messages.
func (s *Server) handleAnalysisSentiment(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Analysis == nil {
		return analysisOff(analysis.ErrOff)
	}
	p := s.params(r)
	target := p.str("target", 256)
	room := p.str("room", 256)
	from, to := p.days(s.today(), 7)
	if p.err != nil {
		return p.err
	}
	res, err := s.opts.Analysis.Sentiment(r.Context(), target, room, from, to)
	if err != nil {
		return analysisOff(err)
	}
	type dayJSON struct {
		Date         string         `json:"date"`
		N            uint64         `json:"n"`
		Pos          uint64         `json:"pos"`
		Neu          uint64         `json:"neu"`
		Neg          uint64         `json:"neg"`
		Average      float64        `json:"average"`
		Remote       uint64         `json:"remote"`  // of n, scored by the external classifier
		Lexicon      uint64         `json:"lexicon"` // of n, scored by the lexicon (without a classifier, or its fallbacks)
		MostNegative []negativeJSON `json:"most_negative"`
	}
	days := make([]dayJSON, 0, len(res.Days))
	var remote, lexicon uint64
	for _, d := range res.Days {
		dj := dayJSON{Date: d.Date, N: d.N, Pos: d.Pos, Neu: d.Neu, Neg: d.Neg, Average: d.Average, Remote: d.Remote, Lexicon: d.N - d.Remote,
			MostNegative: make([]negativeJSON, 0, len(d.MostNegative))}
		remote, lexicon = remote+dj.Remote, lexicon+dj.Lexicon
		for _, x := range d.MostNegative {
			n := negativeJSON{ID: x.ID, Score: x.Score, Room: x.Room, Source: sentiment.FromLexicon.String()}
			if x.Remote {
				n.Source = sentiment.FromRemote.String()
			}
			m, err := s.opts.Store.Message(r.Context(), x.ID)
			switch {
			case err == nil:
				n.Target, n.Room, n.User, n.ReceivedAt, n.Content = m.Target, m.Room, m.User, jsonTime(m.ReceivedAt), m.Content
			case errors.Is(err, store.ErrNotFound):
				n.Deleted = true
			default:
				return err
			}
			dj.MostNegative = append(dj.MostNegative, n)
		}
		days = append(days, dj)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"target": res.Target, "room": res.Room, "from": from.Time().Format("2006-01-02"),
		"to": to.Time().Format("2006-01-02"), "as_of_id": res.AsOfID, "remote": remote, "lexicon": lexicon, "days": days})
}

// anomalyJSON is one anomaly in the API and the live "anomaly" event.
type anomalyJSON struct {
	ID          uint64            `json:"id"`
	Kind        string            `json:"kind"`
	Target      string            `json:"target"`
	Room        string            `json:"room"`
	User        string            `json:"user"`
	Score       float64           `json:"score"`
	Start       jsonTime          `json:"start"`
	End         jsonTime          `json:"end"` // null while open
	Open        bool              `json:"open"`
	Code        string            `json:"code"`
	Params      map[string]string `json:"params"`
	Explanation string            `json:"explanation"`
}

func toAnomalyJSON(a *anomaly.Anomaly) anomalyJSON {
	p := a.Params
	if p == nil {
		p = map[string]string{}
	}
	return anomalyJSON{ID: a.ID, Kind: a.Kind.String(), Target: a.Key.Target, Room: a.Key.Room, User: a.User, Score: a.Score,
		Start: jsonTime(a.Start), End: jsonTime(a.End), Open: a.Open, Code: a.Code, Params: p, Explanation: a.Explanation}
}

// maxAnomalies bounds limit= of /api/analysis/anomalies.
const maxAnomalies = 1000

// handleAnalysisAnomalies: GET /api/analysis/anomalies?target=&room=&kind=&from=&to=&open=&limit=
// — the anomalies found behind ingest, newest start first.
func (s *Server) handleAnalysisAnomalies(w http.ResponseWriter, r *http.Request) error {
	if s.opts.Analysis == nil {
		return analysisOff(analysis.ErrOff)
	}
	p := s.params(r)
	var q analysis.AnomalyQuery
	q.Target = p.str("target", 256)
	q.Room = p.str("room", 256)
	kinds := p.str("kind", 256)
	q.From, q.To = p.time("from"), p.time("to")
	open := p.str("open", 8) != ""
	onlyOpen := p.yesNo("open", false)
	q.Limit = int(p.int("limit", 100, 1, maxAnomalies))
	if p.err != nil {
		return p.err
	}
	if kinds != "" {
		for _, k := range strings.Split(kinds, ",") {
			kind, ok := anomaly.ParseKind(strings.TrimSpace(k))
			if !ok {
				names := make([]string, 0, 5)
				for _, k := range anomaly.Kinds() {
					names = append(names, k.String())
				}
				return errBadParam("kind", "must be one or more (comma-separated) of %s; got %q", strings.Join(names, ", "), k)
			}
			q.Kinds = append(q.Kinds, kind)
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return errBadParam("from", "must be before to")
	}
	if open {
		q.OpenOnly, q.ClosedOnly = onlyOpen, !onlyOpen
	}
	res, err := s.opts.Analysis.Anomalies(r.Context(), q)
	if err != nil {
		return analysisOff(err)
	}
	out := make([]anomalyJSON, len(res.Anomalies))
	for i := range res.Anomalies {
		out[i] = toAnomalyJSON(&res.Anomalies[i])
	}
	return writeJSON(w, http.StatusOK, map[string]any{"anomalies": out, "as_of_id": res.AsOfID})
}

// PublishAnomaly sends an anomaly that opened or closed to every live
// stream (event "anomaly": {"event": "opened"|"closed", "anomaly": {…}}).
// It never blocks.
func (s *Server) PublishAnomaly(e anomaly.Event) {
	b, err := json.Marshal(map[string]any{"event": e.Type.String(), "anomaly": toAnomalyJSON(&e.Anomaly)})
	if err != nil {
		return
	}
	s.alertFeed.publish("anomaly", b)
}
