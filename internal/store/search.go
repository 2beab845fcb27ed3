package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync"

	"modernc.org/sqlite"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/search"
)

var registerOnce sync.Once

// registerFunctions installs wsmon_contains(content, folded_query) in the
// SQLite driver: the search package's substring semantics, so the query
// text is only ever a bound value, never part of a pattern language (LIKE's
// % and _, FTS5's syntax).
func registerFunctions() {
	registerOnce.Do(func() {
		sqlite.MustRegisterDeterministicScalarFunction("wsmon_contains", 2,
			func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
				content, _ := args[0].(string)
				q, _ := args[1].(string)
				if search.MatchFolded(content, q) {
					return int64(1), nil
				}
				return int64(0), nil
			})
	})
}

// SearchResult is one page of search hits.
type SearchResult struct {
	Messages []message.Message
	Total    int64
	Estimate bool // Total is an estimate
}

// Search returns messages whose content contains text (case-insensitive,
// literal), newest first, with q's filters and paging.
func (s *Store) Search(ctx context.Context, text string, q MessageQuery) (SearchResult, error) {
	folded := search.Fold(text)
	where, args := q.where()
	cond := " WHERE wsmon_contains(content, ?)"
	if where != "" {
		cond = where + " AND wsmon_contains(content, ?)"
	}
	args = append(args, folded)
	rows, err := s.r.QueryContext(ctx, `SELECT `+q.columns()+` FROM messages`+cond+` ORDER BY id DESC LIMIT ?`, append(args, q.Limit)...)
	if err != nil {
		return SearchResult{}, fmt.Errorf("store: search: %w", err)
	}
	msgs, err := scanMessages(rows, q.Raw)
	if err != nil {
		return SearchResult{}, err
	}
	res := SearchResult{Messages: msgs}
	cq := q
	cq.Before = 0
	where, args = cq.where()
	cond = " WHERE wsmon_contains(content, ?)"
	if where != "" {
		cond = where + " AND wsmon_contains(content, ?)"
	}
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages`+cond, append(args, folded)...).Scan(&res.Total); err != nil {
		return res, fmt.Errorf("store: search count: %w", err)
	}
	return res, nil
}
