package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// TidyResult says what one Tidy did.
type TidyResult struct {
	Vacuumed []string // tables vacuumed, in the order done
	Took     time.Duration
}

// Tidy vacuums (and analyzes) each of wsmon's PostgreSQL tables in the
// store's schema whose dead rows exceed 1,000 plus a fifth of its live
// rows, as the statistics collector counts them: autovacuum's default
// rule, kept by wsmon itself because the index's tables churn (a merge
// replaces segments' rows; every flush updates the rollups; leases are
// renewed every 2 s) and an installation with autovacuum off, or lagging
// behind, leaves their reads walking dead rows: on this machine's
// PostgreSQL, where autovacuum is off, searches at 10,000,000 messages
// read 7x the index rows they needed and took twice as long
// (docs/benchmarks.md). Vacuuming does not block reads or writes. On
// SQLite, which reuses freed pages, it does nothing.
//
// The monitor process holding the index lease calls it every minute.
func (s *Store) Tidy(ctx context.Context) (TidyResult, error) {
	var res TidyResult
	if s.d != postgresDialect || s.readOnly {
		return res, nil
	}
	t0 := time.Now()
	rows, err := s.r.QueryContext(ctx, `SELECT relname FROM pg_stat_user_tables
		WHERE schemaname = current_schema() AND n_dead_tup > 1000 + n_live_tup / 5 ORDER BY n_dead_tup DESC`)
	if err != nil {
		return res, fmt.Errorf("store: tidy: %w", err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return res, fmt.Errorf("store: tidy: %w", err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("store: tidy: %w", err)
	}
	for _, name := range tables {
		// The name comes from the catalog; quoted as an identifier all the same.
		if _, err := s.r.ExecContext(ctx, `VACUUM (ANALYZE) `+pgx.Identifier{name}.Sanitize()); err != nil {
			return res, fmt.Errorf("store: tidy: vacuum %s: %w", name, err)
		}
		res.Vacuumed = append(res.Vacuumed, name)
	}
	res.Took = time.Since(t0)
	return res, nil
}
