// Package storetest holds the full-scan reference answers that the search
// index's answers are tested against: they read every message through the
// store's plain listing and apply the definitions directly in Go (package
// search for what matches, store.MessageQuery for the filters, docs/api.md
// for the user page). They
// are exact, simple and slow, for tests only: import this package from
// _test.go files, never from production code (the API answers from the
// index, through package query).
//
// The statistics' reference is store.(*Store).StatsScan, which stays in
// the store: the index answers a from/to-bounded request with it.
package storetest

import (
	"context"
	"time"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/search"
	"github.com/wsmon/wsmon/internal/store"
)

// Scan is every message of a store, read once, newest first, with its raw
// frame: the corpus the references are computed over, so that many of
// them cost one read. Its filters are applied in Go, as MessageQuery
// documents them, not by the store's SQL.
type Scan struct {
	msgs []message.Message
	loc  *time.Location
}

// Load reads every message of st.
func Load(ctx context.Context, st *store.Store) (*Scan, error) {
	ms, err := st.Messages(ctx, store.MessageQuery{Limit: -1, Raw: true}) // a negative Limit is none
	if err != nil {
		return nil, err
	}
	return &Scan{msgs: ms, loc: st.Location()}, nil
}

// keep reports whether m passes q's filters other than Before and Limit.
func keep(m *message.Message, q store.MessageQuery) bool {
	return (q.User == "" || m.User == q.User) && (q.Type == "" || string(m.Type) == q.Type) &&
		(q.Target == "" || m.Target == q.Target) && (q.Room == "" || m.Room == q.Room) &&
		(q.From.IsZero() || m.ReceivedAt.UnixMilli() >= q.From.UnixMilli()) &&
		(q.To.IsZero() || m.ReceivedAt.UnixMilli() < q.To.UnixMilli())
}

// out is m as a listing returns it: the raw frame only with q.Raw.
func out(m message.Message, q store.MessageQuery) message.Message {
	if !q.Raw {
		m.Raw = nil
	}
	return m
}

// Search is what Search of the query path must return: the messages whose
// content contains text, case-insensitively and literally as
// search.Match defines it, with q's filters, newest first, q.Limit of
// them below q.Before; Total counts every match on all pages (whatever
// q.Before) and is exact.
func (s *Scan) Search(text string, q store.MessageQuery) store.SearchResult {
	folded := search.Fold(text)
	res := store.SearchResult{Messages: []message.Message{}}
	for i := range s.msgs {
		m := &s.msgs[i]
		if !keep(m, q) || !search.MatchFolded(m.Content, folded) {
			continue
		}
		res.Total++
		if (q.Before <= 0 || m.ID < q.Before) && len(res.Messages) < q.Limit {
			res.Messages = append(res.Messages, out(*m, q))
		}
	}
	return res
}

// Messages is what the filtered listing must return: q's filters, newest
// first, q.Limit of them below q.Before.
func (s *Scan) Messages(q store.MessageQuery) []message.Message {
	res := []message.Message{}
	for i := range s.msgs {
		m := &s.msgs[i]
		if keep(m, q) && (q.Before <= 0 || m.ID < q.Before) && len(res) < q.Limit {
			res = append(res, out(*m, q))
		}
	}
	return res
}

// ActiveHoursSample is how many of a user's latest messages the user
// page's active-hours histogram counts (docs/api.md, GET
// /api/users/{name}).
const ActiveHoursSample = 5000

// User is what User of the query path must return: the user's message
// count, first and last received_at (on one target, or all when target is
// ""), the messages per local hour of day (the store's time zone) over
// the user's latest ActiveHoursSample messages, and the 20 latest
// messages; store.ErrNotFound, with only User set, for a user without
// messages and for "" (messages without a user belong to no user page).
func (s *Scan) User(name, target string) (store.UserInfo, error) {
	u := store.UserInfo{User: name}
	if name == "" {
		return u, store.ErrNotFound
	}
	q := store.MessageQuery{User: name, Target: target}
	for i := range s.msgs {
		m := &s.msgs[i]
		if !keep(m, q) {
			continue
		}
		if u.Count == 0 || m.ReceivedAt.Before(u.FirstSeen) {
			u.FirstSeen = m.ReceivedAt
		}
		if u.Count == 0 || m.ReceivedAt.After(u.LastSeen) {
			u.LastSeen = m.ReceivedAt
		}
		if u.Count < ActiveHoursSample {
			u.ActiveHours[m.ReceivedAt.In(s.loc).Hour()]++
		}
		if len(u.Recent) < 20 {
			u.Recent = append(u.Recent, out(*m, q))
		}
		u.Count++
	}
	if u.Count == 0 {
		return u, store.ErrNotFound
	}
	return u, nil
}

// Search is Scan.Search over the messages st holds now.
func Search(ctx context.Context, st *store.Store, text string, q store.MessageQuery) (store.SearchResult, error) {
	s, err := Load(ctx, st)
	if err != nil {
		return store.SearchResult{}, err
	}
	return s.Search(text, q), nil
}

// User is Scan.User over the messages st holds now.
func User(ctx context.Context, st *store.Store, name, target string) (store.UserInfo, error) {
	s, err := Load(ctx, st)
	if err != nil {
		return store.UserInfo{}, err
	}
	return s.User(name, target)
}
