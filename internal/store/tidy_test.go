package store

import (
	"context"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/store/pgtest"
)

// TestTidyVacuumsChurnedTables: on PostgreSQL a table of the store's
// schema with more dead rows than autovacuum's default threshold is
// vacuumed by Tidy (whatever the server's autovacuum setting), and one
// without is left alone; on SQLite Tidy does nothing.
func TestTidyVacuumsChurnedTables(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, testOptions(t, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !pgtest.Enabled() {
		res, err := st.Tidy(ctx)
		if err != nil || len(res.Vacuumed) != 0 {
			t.Fatalf("Tidy on SQLite: %v, %v; want nothing done", res, err)
		}
		return
	}
	// 5,000 rollup rows written and deleted: 5,000 dead rows, none live.
	for _, q := range []string{
		`INSERT INTO rollup_quarter (target, bucket, count, min_id, max_id) SELECT 't', g, 1, g, g FROM generate_series(1, 5000) g`,
		`DELETE FROM rollup_quarter`,
	} {
		if _, err := st.w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	dead := func() (n int64) {
		st.r.QueryRowContext(ctx, `SELECT COALESCE((SELECT n_dead_tup FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = 'rollup_quarter'), 0)`).Scan(&n)
		return n
	}
	// The statistics are reported by the writing backend within a second
	// or so.
	for deadline := time.Now().Add(15 * time.Second); dead() < 5000; {
		if time.Now().After(deadline) {
			t.Fatalf("the statistics never counted the dead rows (%d)", dead())
		}
		time.Sleep(200 * time.Millisecond)
	}
	res, err := st.Tidy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Vacuumed) != 1 || res.Vacuumed[0] != "rollup_quarter" {
		t.Fatalf("vacuumed %v, want [rollup_quarter]", res.Vacuumed)
	}
	for deadline := time.Now().Add(15 * time.Second); dead() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d dead rows after the vacuum, want 0", dead())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if res, err := st.Tidy(ctx); err != nil || len(res.Vacuumed) != 0 {
		t.Fatalf("a second Tidy: %v, %v; want nothing done", res, err)
	}
}
