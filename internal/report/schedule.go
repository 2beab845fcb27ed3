package report

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/wsmon/wsmon/internal/notify"
	"github.com/wsmon/wsmon/internal/store"
)

// Sender delivers one report to one notifier (notify.Dispatcher).
type Sender interface {
	DeliverReport(ctx context.Context, name string, r *notify.Report) error
}

// StateStore keeps what the scheduler sent: the analysis_state rows
// (store.Store's AnalysisState and PutAnalysisState).
type StateStore interface {
	AnalysisState(ctx context.Context, name string) (data []byte, appliedID int64, ok bool, err error)
	PutAnalysisState(ctx context.Context, name string, appliedID int64, data []byte) error
}

// State row names in analysis_state, one per schedule.
const (
	StateDaily  = "report_daily"
	StateWeekly = "report_weekly"
)

// ScheduleOptions configure a Scheduler (config keys report_*).
type ScheduleOptions struct {
	Builder   *Builder
	Sender    Sender
	State     StateStore
	Daily     bool
	Weekly    bool
	Hour, Min int      // report_at, in the builder's time zone
	Notifiers []string // report_notifiers
	Lang      string   // report_lang
	Logger    *slog.Logger
	Now       func() time.Time // nil: time.Now
	// Every is how often Run checks whether a report is due (default 1
	// min); RetryAfter how long a failed delivery waits (default 15 min).
	Every, RetryAfter time.Duration
}

// Scheduler sends the previous day's report (and on Mondays the previous
// week's) for all targets at the configured time through the notifiers.
// Each notifier gets each period's report once: what was delivered is
// recorded in analysis_state after each delivery, so a restart sends
// nothing twice (but for a crash between a delivery and its record) and
// sends a report whose time passed while wsmon was not running once it
// starts. Only the latest due period is sent; older missed ones are not.
type Scheduler struct {
	o      ScheduleOptions
	failed map[string]time.Time // notifier+period -> last failure
}

// sentState is the JSON of a state row: the period and the notifiers that
// got its report.
type sentState struct {
	Period string   `json:"period"` // Period.ID
	Sent   []string `json:"sent"`
}

// NewScheduler returns a scheduler; Run starts it.
func NewScheduler(o ScheduleOptions) *Scheduler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Every <= 0 {
		o.Every = time.Minute
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = 15 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Logger = o.Logger.With("component", "report")
	return &Scheduler{o: o, failed: map[string]time.Time{}}
}

// Run checks at once and then every Every minute until ctx ends; it
// returns nil then. Failures are logged and retried after RetryAfter.
func (s *Scheduler) Run(ctx context.Context) error {
	t := time.NewTicker(s.o.Every)
	defer t.Stop()
	for {
		if err := s.Check(ctx); err != nil && ctx.Err() == nil {
			s.o.Logger.Warn("scheduled report not sent; will retry", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Due returns the latest daily (weekly) period whose sending time, the
// configured time on the day after it (the Monday after it), is not
// after now.
func (s *Scheduler) Due(now time.Time, weekly bool) Period {
	loc := s.o.Builder.Location()
	today := DateOf(now, loc)
	at := func(d Date) time.Time {
		return d.Start(loc).Add(time.Duration(s.o.Hour)*time.Hour + time.Duration(s.o.Min)*time.Minute)
	}
	if !weekly {
		if now.Before(at(today)) {
			return Daily(today.AddDays(-2))
		}
		return Daily(today.AddDays(-1))
	}
	monday := Weekly(today).From
	if now.Before(at(monday)) {
		monday = monday.AddDays(-7)
	}
	return Weekly(monday.AddDays(-7))
}

// Check sends the due reports that have not been sent to every notifier.
// Its error joins the failures.
func (s *Scheduler) Check(ctx context.Context) error {
	now := s.o.Now()
	var errs []error
	if s.o.Daily {
		errs = append(errs, s.send(ctx, StateDaily, s.Due(now, false), now))
	}
	if s.o.Weekly {
		errs = append(errs, s.send(ctx, StateWeekly, s.Due(now, true), now))
	}
	return errors.Join(errs...)
}

func (s *Scheduler) send(ctx context.Context, name string, p Period, now time.Time) error {
	id := p.ID("")
	st := sentState{Period: id}
	data, _, ok, err := s.o.State.AnalysisState(ctx, name)
	if err != nil {
		return err
	}
	if ok {
		var old sentState
		if json.Unmarshal(data, &old) == nil && old.Period == id {
			st = old
		}
	}
	var todo []string
	for _, n := range s.o.Notifiers {
		if slices.Contains(st.Sent, n) {
			continue
		}
		if t, failed := s.failed[n+" "+id]; failed && now.Sub(t) < s.o.RetryAfter {
			continue
		}
		todo = append(todo, n)
	}
	if len(todo) == 0 {
		return nil
	}
	rep, err := s.o.Builder.Build(ctx, Request{Period: p})
	if err != nil {
		return fmt.Errorf("report %s: %w", id, err)
	}
	var html bytes.Buffer
	if err := WriteHTML(&html, rep, s.o.Lang); err != nil {
		return err
	}
	// No setting says where the dashboard is reachable from outside, so
	// no link is sent (an invented URL would be wrong).
	msg := &notify.Report{ID: id, Subject: Title(rep, s.o.Lang), Text: Summary(rep, s.o.Lang), HTML: html.String()}
	var errs []error
	for _, n := range todo {
		if err := s.o.Sender.DeliverReport(ctx, n, msg); err != nil {
			s.failed[n+" "+id] = now
			errs = append(errs, err)
			continue
		}
		delete(s.failed, n+" "+id)
		st.Sent = append(st.Sent, n)
		b, _ := json.Marshal(st)
		if err := s.o.State.PutAnalysisState(ctx, name, 0, b); err != nil {
			return fmt.Errorf("report %s: record delivery: %w", id, err)
		}
		s.o.Logger.Info("report sent", "report", id, "notifier", n)
	}
	return errors.Join(errs...)
}

var _ StateStore = (*store.Store)(nil)
