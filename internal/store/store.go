// Package store owns wsmon's database: the schema and its versioned
// migrations, the batched write path used by the ingest pipeline, and the
// SQL behind every read: messages by id, listings, context, sessions, the
// statistics scan, and the segments and rollups of the search index
// (index.go). Searches, statistics and user pages are answered by the
// index (package index) through package query; the full-scan references
// they are tested against are in storetest, for tests only.
//
// The Go logic is written once; each database dialect supplies only its SQL
// strings (see dialect.go). SQLite is the embedded default; it allows one
// writer per database file, so writes are serialised through a single
// connection.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go, FTS5 built in)
)

// Options selects and tunes the database.
type Options struct {
	Driver   string // "sqlite" (default) or "postgres"
	Path     string // SQLite file path
	DSN      string // PostgreSQL: a postgres:// URL (database_url) or libpq key=value string
	Location *time.Location
	// ReadOnly opens an existing database for reading only (a backup
	// copy, a file or directory this user cannot write): nothing is
	// created, no migration runs, and a schema older or newer than this
	// binary's is refused. Writes fail.
	ReadOnly bool
	// Logger receives what the store does on its own (Commits' listener);
	// nil: nothing is logged.
	Logger *slog.Logger
}

// Store is the database handle. It is safe for concurrent use; writes are
// serialised by the single writer connection.
type Store struct {
	w   *db // one connection: the only writer
	r   *db // readers
	d   *dialect
	loc *time.Location
	// path of the SQLite file, "" for other drivers
	path     string
	readOnly bool // w is r, and every write fails
	// pgConfig is the PostgreSQL connection configuration (nil on
	// SQLite), for connections of its own (Commits).
	pgConfig *pgx.ConnConfig
	log      *slog.Logger // nil: no logging (Options.Logger)
	// collector is this process's collector id (SetCollector; 0 until
	// set: collector 1, the only one SQLite has).
	collector atomic.Int64
	// keepAttempts bounds the failed attempts kept (0: MaxAttempts; tests
	// lower it).
	keepAttempts int
}

// Open opens (creating if needed) the database and brings its schema up to
// date. It refuses a database whose schema is newer than this binary.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Driver == "" {
		opts.Driver = "sqlite"
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	switch opts.Driver {
	case "sqlite":
		return openSQLite(ctx, opts)
	case "postgres":
		return openPostgres(ctx, opts)
	default:
		return nil, fmt.Errorf("store: unsupported database_driver %q", opts.Driver)
	}
}

// sqliteDSN builds the connection string; cacheKiB bounds the page cache of
// each connection (memory matters: the whole process aims at < 200 MB).
func sqliteDSN(path string, cacheKiB int) string {
	q := []string{
		fmt.Sprintf("_pragma=cache_size(-%d)", cacheKiB),
		"_pragma=busy_timeout(5000)",
		"_pragma=journal_mode(WAL)",
		"_pragma=synchronous(NORMAL)",
		"_pragma=foreign_keys(OFF)",
		"_pragma=temp_store(MEMORY)",
		"_txlock=immediate",
	}
	return "file:" + path + "?" + strings.Join(q, "&")
}

// sqliteReadOnlyDSN opens path read-only: no journal_mode change (that
// writes), query_only as a second guard.
func sqliteReadOnlyDSN(path string, cacheKiB int) string {
	q := []string{
		"mode=ro",
		fmt.Sprintf("_pragma=cache_size(-%d)", cacheKiB),
		"_pragma=busy_timeout(5000)",
		"_pragma=query_only(1)",
		"_pragma=temp_store(MEMORY)",
	}
	return "file:" + path + "?" + strings.Join(q, "&")
}

func openSQLite(ctx context.Context, opts Options) (*Store, error) {
	if opts.Path == "" {
		return nil, errors.New("store: database_path is empty")
	}
	if opts.ReadOnly {
		return openSQLiteReadOnly(ctx, opts)
	}
	if dir := filepath.Dir(opts.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("store: create directory for %s: %w", opts.Path, err)
		}
	}
	w, err := sql.Open("sqlite", sqliteDSN(opts.Path, 16<<10))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", opts.Path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	r, err := sql.Open("sqlite", sqliteDSN(opts.Path, 4<<10))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s: %w", opts.Path, err)
	}
	r.SetMaxOpenConns(3)
	r.SetMaxIdleConns(3)
	s := &Store{w: newDB(w, false), r: newDB(r, false), d: sqliteDialect, loc: opts.Location, path: opts.Path}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func openSQLiteReadOnly(ctx context.Context, opts Options) (*Store, error) {
	if _, err := os.Stat(opts.Path); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	r, err := sql.Open("sqlite", sqliteReadOnlyDSN(opts.Path, 4<<10))
	if err != nil {
		return nil, fmt.Errorf("store: open %s read-only: %w", opts.Path, err)
	}
	r.SetMaxOpenConns(3)
	r.SetMaxIdleConns(3)
	rd := newDB(r, false)
	s := &Store{w: rd, r: rd, d: sqliteDialect, loc: opts.Location, path: opts.Path, readOnly: true}
	if err := s.checkVersion(ctx, opts.Path); err != nil {
		r.Close()
		return nil, err
	}
	return s, nil
}

// checkVersion refuses, for a read-only store, a schema older or newer
// than this binary's; what names the database in the error.
func (s *Store) checkVersion(ctx context.Context, what string) error {
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("store: read %s read-only: %w", what, err)
	}
	switch want := len(s.d.migrations); {
	case v > want:
		return fmt.Errorf("store: database schema version %d is newer than this wsmon (knows %d); upgrade wsmon", v, want)
	case v < want:
		return fmt.Errorf("store: %s has schema version %d, older than this wsmon's %d, and is read-only, so it cannot be upgraded: serve a writable copy (a monitor or `wsmon web` upgrades it on open)", what, v, want)
	}
	return nil
}

// ReadOnly reports whether the database was opened read-only.
func (s *Store) ReadOnly() bool { return s.readOnly }

// Close closes the database.
func (s *Store) Close() error {
	if s.w == s.r {
		return s.r.Close()
	}
	err := s.w.Close()
	if rerr := s.r.Close(); err == nil {
		err = rerr
	}
	return err
}

// Path returns the SQLite file path ("" for other drivers).
func (s *Store) Path() string { return s.path }

// Location returns the time zone used for daily and hourly statistics.
func (s *Store) Location() *time.Location { return s.loc }

// migrate applies the dialect's pending migrations, one transaction each
// (under the dialect's lock, so concurrent starts migrate once).
func (s *Store) migrate(ctx context.Context) error {
	// A database already current takes no write transaction: another
	// process may be writing it (SQLite: an export or a web beside a
	// running monitor would wait for its lock). A missing table is an
	// error here, and the steps below create it.
	var cur int
	if err := s.w.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err == nil && cur == len(s.d.migrations) {
		return nil
	}
	for {
		done, err := s.migrateStep(ctx)
		if err != nil || done {
			return err
		}
	}
}

// migrateStep applies the next pending migration; done reports that none
// was pending.
func (s *Store) migrateStep(ctx context.Context) (done bool, err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: migrate: %w", err)
	}
	defer tx.Rollback()
	if s.d.lockMigrations != "" {
		if _, err := tx.ExecContext(ctx, s.d.lockMigrations); err != nil {
			return false, fmt.Errorf("store: migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.createMigrations); err != nil {
		return false, fmt.Errorf("store: create schema_migrations: %w", err)
	}
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
		return false, fmt.Errorf("store: read schema version: %w", err)
	}
	if cur > len(s.d.migrations) {
		return false, fmt.Errorf("store: database schema version %d is newer than this wsmon (knows %d); upgrade wsmon", cur, len(s.d.migrations))
	}
	if cur == len(s.d.migrations) {
		return true, tx.Commit()
	}
	v := cur + 1
	for _, stmt := range s.d.migrations[v-1] {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return false, fmt.Errorf("store: migration %d: %w\n%s", v, err, stmt)
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.recordMigration, v, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return false, fmt.Errorf("store: migration %d: %w", v, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: migration %d: commit: %w", v, err)
	}
	return false, nil
}

// SchemaVersion returns the applied schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
