package app

import (
	"context"

	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/store"
)

// queries answers the API: searches, filtered listings, statistics and user
// pages from the index; single rows, context and sessions from the store.
type queries struct {
	*store.Store
	ix *index.Indexer
}

func (q queries) Messages(ctx context.Context, mq store.MessageQuery) ([]message.Message, error) {
	return q.ix.Messages(ctx, mq)
}

func (q queries) Search(ctx context.Context, text string, mq store.MessageQuery) (store.SearchResult, error) {
	return q.ix.Search(ctx, text, mq)
}

func (q queries) Stats(ctx context.Context, sq store.StatsQuery) (store.Stats, error) {
	return q.ix.Stats(ctx, sq)
}

func (q queries) User(ctx context.Context, name, target string) (store.UserInfo, error) {
	return q.ix.User(ctx, name, target)
}
