package store

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// db is a database/sql handle that speaks its dialect's placeholders.
// The store's portable statements are written once with `?` placeholders;
// on PostgreSQL each is rewritten to `$1, $2, …` (once per statement text,
// cached) and every string argument is made storable (pgText). Statements
// that differ between the databases are in dialect.go.
type db struct {
	*sql.DB
	pg    bool
	cache *sync.Map // statement text -> rewritten text (PostgreSQL)
}

func newDB(d *sql.DB, pg bool) *db { return &db{DB: d, pg: pg, cache: &sync.Map{}} }

// bind returns q with PostgreSQL placeholders when the database is
// PostgreSQL.
func (d *db) bind(q string) string {
	if !d.pg {
		return q
	}
	if v, ok := d.cache.Load(q); ok {
		return v.(string)
	}
	out := rebind(q)
	d.cache.Store(q, out)
	return out
}

// args makes the string arguments storable on PostgreSQL (pgText).
func (d *db) args(a []any) []any {
	if !d.pg {
		return a
	}
	for i, v := range a {
		if s, ok := v.(string); ok {
			a[i] = pgText(s)
		}
	}
	return a
}

func (d *db) ExecContext(ctx context.Context, q string, a ...any) (sql.Result, error) {
	return d.DB.ExecContext(ctx, d.bind(q), d.args(a)...)
}

func (d *db) QueryContext(ctx context.Context, q string, a ...any) (*sql.Rows, error) {
	return d.DB.QueryContext(ctx, d.bind(q), d.args(a)...)
}

func (d *db) QueryRowContext(ctx context.Context, q string, a ...any) *sql.Row {
	return d.DB.QueryRowContext(ctx, d.bind(q), d.args(a)...)
}

func (d *db) BeginTx(ctx context.Context, o *sql.TxOptions) (*dbTx, error) {
	t, err := d.DB.BeginTx(ctx, o)
	if err != nil {
		return nil, err
	}
	return &dbTx{Tx: t, db: d}, nil
}

// dbTx is a transaction of a db, with the same rewriting.
type dbTx struct {
	*sql.Tx
	db *db
}

func (t *dbTx) ExecContext(ctx context.Context, q string, a ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, t.db.bind(q), t.db.args(a)...)
}

func (t *dbTx) QueryContext(ctx context.Context, q string, a ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, t.db.bind(q), t.db.args(a)...)
}

func (t *dbTx) QueryRowContext(ctx context.Context, q string, a ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, t.db.bind(q), t.db.args(a)...)
}

// dbStmt is a prepared statement whose string arguments are made storable.
type dbStmt struct {
	*sql.Stmt
	db *db
}

func (t *dbTx) PrepareContext(ctx context.Context, q string) (*dbStmt, error) {
	s, err := t.Tx.PrepareContext(ctx, t.db.bind(q))
	if err != nil {
		return nil, err
	}
	return &dbStmt{Stmt: s, db: t.db}, nil
}

func (s *dbStmt) ExecContext(ctx context.Context, a ...any) (sql.Result, error) {
	return s.Stmt.ExecContext(ctx, s.db.args(a)...)
}

func (s *dbStmt) QueryContext(ctx context.Context, a ...any) (*sql.Rows, error) {
	return s.Stmt.QueryContext(ctx, s.db.args(a)...)
}

// queryer is what queryAll reads through: a db or a tx.
type queryer interface {
	QueryContext(ctx context.Context, q string, a ...any) (*sql.Rows, error)
}

// Rebind rewrites `?` placeholders outside quoted strings and identifiers
// to PostgreSQL's numbered `$n` (for tests that send their own SQL to
// either database).
func Rebind(q string) string { return rebind(q) }

func rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// pgText returns s as PostgreSQL can store it in a text column: a text
// value there cannot hold a NUL character or bytes that are not UTF-8
// (SQLite stores both). Each NUL and each invalid byte sequence becomes
// U+FFFD; the frame's exact bytes stay in messages.raw (bytea). A string
// that is already storable is returned as is, without a copy.
func pgText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
