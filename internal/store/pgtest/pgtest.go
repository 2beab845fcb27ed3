// Package pgtest runs tests against PostgreSQL: when WSMON_TEST_PG_DSN
// names a server, DSN gives each test a schema of its own there (dropped
// when the test ends) and every test that opens its store through DSN
// runs on PostgreSQL instead of SQLite. .ci/run runs the store, index,
// ingest, query, analysis, web and app tests a second time that way.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable with the test server's DSN, e.g.
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable.
const EnvDSN = "WSMON_TEST_PG_DSN"

var (
	seq  atomic.Int64
	mu   sync.Mutex
	dsns = map[string]string{} // SQLite path -> the schema's DSN standing in for it
)

// Lookup returns the DSN ForPath gave path, if it gave one (for code
// without a testing.TB, e.g. a polling condition).
func Lookup(path string) (string, bool) {
	mu.Lock()
	defer mu.Unlock()
	d, ok := dsns[path]
	return d, ok
}

// ForPath returns "" when tests run on SQLite, else the DSN of the
// schema that stands in for the SQLite file path in this test run: the
// same path gives the same schema, so a test that reopens its database by
// path (or a child process given the DSN) finds its data. The schema is
// dropped when the test that first named the path ends.
func ForPath(t testing.TB, path string) string {
	t.Helper()
	if !Enabled() {
		return ""
	}
	mu.Lock()
	defer mu.Unlock()
	if d, ok := dsns[path]; ok {
		return d
	}
	d := DSN(t)
	dsns[path] = d
	t.Cleanup(func() {
		mu.Lock()
		delete(dsns, path)
		mu.Unlock()
	})
	return d
}

// Enabled reports whether tests run on PostgreSQL.
func Enabled() bool { return os.Getenv(EnvDSN) != "" }

// DSN returns "" when tests run on SQLite (WSMON_TEST_PG_DSN unset), else
// the DSN of a new, empty schema on the test server, first in the search
// path, dropped with everything in it when t ends. Every call makes a new
// schema: a test that reopens its database keeps the DSN it got.
func DSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvDSN)
	if base == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", EnvDSN, err)
	}
	defer c.Close(ctx)
	schema := fmt.Sprintf("wsmon_t%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1_000_000_000, seq.Add(1))
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})
	return WithSchema(base, schema)
}

// WithSchema returns dsn with search_path set to schema.
func WithSchema(dsn, schema string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " search_path=" + schema
}
