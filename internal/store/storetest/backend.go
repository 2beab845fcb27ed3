package storetest

import (
	"database/sql"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for DB
	_ "modernc.org/sqlite"

	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/store/pgtest"
)

// Options returns the store options of the test database at path: the
// SQLite file, or its PostgreSQL stand-in (pgtest.ForPath).
func Options(t testing.TB, path string, loc *time.Location) store.Options {
	t.Helper()
	if d := pgtest.ForPath(t, path); d != "" {
		return store.Options{Driver: "postgres", DSN: d, Location: loc}
	}
	return store.Options{Path: path, Location: loc}
}

// DB is a database opened directly (DB), for tests that read or change
// rows behind the store's back. Its Query, QueryRow and Exec take `?`
// placeholders on either database.
type DB struct {
	*sql.DB
	pg bool
}

// OpenDB opens the database of opts directly; it is closed when t ends.
func OpenDB(t testing.TB, opts store.Options) *DB {
	t.Helper()
	db, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Open opens the database of opts directly; the caller closes it.
func Open(opts store.Options) (*DB, error) {
	if opts.Driver == "postgres" {
		db, err := sql.Open("pgx", opts.DSN)
		return &DB{DB: db, pg: true}, err
	}
	db, err := sql.Open("sqlite", "file:"+opts.Path+"?_pragma=busy_timeout(5000)")
	return &DB{DB: db}, err
}

// OpenPath opens the test database at the SQLite path, or its PostgreSQL
// stand-in when pgtest.ForPath gave it one.
func OpenPath(path string) (*DB, error) {
	if d, ok := pgtest.Lookup(path); ok {
		return Open(store.Options{Driver: "postgres", DSN: d})
	}
	return Open(store.Options{Path: path})
}

func (d *DB) q(q string) string {
	if d.pg {
		return store.Rebind(q)
	}
	return q
}

// Postgres reports whether d is a PostgreSQL database.
func (d *DB) Postgres() bool { return d.pg }

func (d *DB) Query(q string, args ...any) (*sql.Rows, error) { return d.DB.Query(d.q(q), args...) }
func (d *DB) QueryRow(q string, args ...any) *sql.Row        { return d.DB.QueryRow(d.q(q), args...) }
func (d *DB) Exec(q string, args ...any) (sql.Result, error) { return d.DB.Exec(d.q(q), args...) }
