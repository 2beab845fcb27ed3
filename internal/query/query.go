// Package query owns the read path that the REST API, the dashboard and
// exports answer from: which question goes to the search index and which
// to the store. It is the one composition of the two, used by app.Run,
// wsmon export and the web package's tests alike, so the tests exercise
// what production serves.
package query

import (
	"context"

	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/store"
)

// Source answers the API's reads: searches, filtered listings, statistics
// and user pages from the index (and its rollups); single messages, their
// context and connection sessions from the store. Every method is written
// out: nothing falls through to a store method by embedding.
//
// It implements web.Store and export.Source. The index answers for every
// message committed before the call (see index.Indexer), a following
// index for what the monitor process committed.
type Source struct {
	st *store.Store
	ix *index.Indexer
}

// New returns the read path over st and the index ix built on it.
func New(st *store.Store, ix *index.Indexer) *Source {
	return &Source{st: st, ix: ix}
}

// Messages lists messages newest first with q's filters (index: field
// filters through its field keys, the rest from the store).
func (s *Source) Messages(ctx context.Context, q store.MessageQuery) ([]message.Message, error) {
	return s.ix.Messages(ctx, q)
}

// Search returns the messages whose content contains text
// (case-insensitive, literal; package search), with q's filters and
// paging, and their total (index).
func (s *Source) Search(ctx context.Context, text string, q store.MessageQuery) (store.SearchResult, error) {
	return s.ix.Search(ctx, text, q)
}

// Stats returns the dashboard statistics (index rollups; a from/to range
// is counted by the store).
func (s *Source) Stats(ctx context.Context, q store.StatsQuery) (store.Stats, error) {
	return s.ix.Stats(ctx, q)
}

// User returns a user's page, store.ErrNotFound for an unknown user
// (index rollups and recent messages).
func (s *Source) User(ctx context.Context, name, target string) (store.UserInfo, error) {
	return s.ix.User(ctx, name, target)
}

// Message returns one message with its raw frame, store.ErrNotFound when
// there is none (store).
func (s *Source) Message(ctx context.Context, id int64) (message.Message, error) {
	return s.st.Message(ctx, id)
}

// Context returns up to n messages before and n after message id on its
// target, oldest first (store).
func (s *Source) Context(ctx context.Context, id int64, n int) ([]message.Message, error) {
	return s.st.Context(ctx, id, n)
}

// Sessions lists connection sessions newest first, of one target or all
// (store).
func (s *Source) Sessions(ctx context.Context, target string, limit int) ([]store.Session, error) {
	return s.st.Sessions(ctx, target, limit)
}

// Attempts lists failed connection attempts (no session started) newest
// first, of one target or all (store).
func (s *Source) Attempts(ctx context.Context, target string, limit int) ([]store.Attempt, error) {
	return s.st.Attempts(ctx, target, limit)
}
