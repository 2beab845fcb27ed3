package store

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/store/pgtest"
)

// testOptions opens a new, empty database for t: a SQLite file in t's
// temporary directory, or a schema of its own on PostgreSQL when
// WSMON_TEST_PG_DSN is set (pgtest).
func testOptions(t testing.TB, loc *time.Location) Options {
	if dsn := pgtest.DSN(t); dsn != "" {
		return Options{Driver: "postgres", DSN: dsn, Location: loc}
	}
	return Options{Path: filepath.Join(t.TempDir(), "chat_monitor.db"), Location: loc}
}
