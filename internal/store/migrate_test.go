package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUpgradeFromPreviousVersion: a database at every earlier schema
// version upgrades to the current one and keeps its messages.
func TestUpgradeFromPreviousVersion(t *testing.T) {
	ctx := context.Background()
	for from := 1; from < len(sqliteDialect.migrations); from++ {
		path := filepath.Join(t.TempDir(), "old.db")
		old := *sqliteDialect
		old.migrations = sqliteDialect.migrations[:from]
		w, err := sql.Open("sqlite", sqliteDSN(path, 1024))
		if err != nil {
			t.Fatal(err)
		}
		dw := newDB(w, false)
		s := &Store{w: dw, r: dw, d: &old, loc: time.UTC, path: path}
		if err := s.migrate(ctx); err != nil {
			t.Fatal(err)
		}
		// Rows written with version 1's columns only: today's write path
		// uses columns that older schemas lack.
		now := time.Now().UnixMilli()
		if _, err := w.Exec(`INSERT INTO sessions (id, target, url, connected_at) VALUES (1, 't', 'ws://x', ?)`, now); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Exec(`INSERT INTO messages (id, target, session_id, received_at, username, room, type, content, raw) VALUES (1, 't', 1, ?, 'u', '', 'chat', '老数据 old', '老数据 old')`, now); err != nil {
			t.Fatal(err)
		}
		w.Close()

		s2, err := Open(ctx, Options{Path: path, Location: time.UTC})
		if err != nil {
			t.Fatalf("upgrade from version %d: %v", from, err)
		}
		v, _ := s2.SchemaVersion(ctx)
		if v != len(sqliteDialect.migrations) {
			t.Fatalf("version after upgrade: %d", v)
		}
		ms, err := s2.Messages(ctx, MessageQuery{Limit: 10})
		if err != nil || len(ms) != 1 || ms[0].Content != "老数据 old" {
			t.Fatalf("messages after upgrade from %d: %v %+v", from, err, ms)
		}
		s2.Close()
	}
}

// TestRefusesNewerSchema: a database written by a newer wsmon is not
// touched.
func TestRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "new.db")
	s, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	s.w.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (999, 'future')`)
	s.Close()
	_, err = Open(ctx, Options{Path: path})
	if err == nil || !strings.Contains(err.Error(), "newer than this wsmon") {
		t.Fatalf("want a refusal, got %v", err)
	}
}

// TestUpgradeEmptiesNameKeyedBehaviour: a database whose behaviour
// rollups key users by name (version 11) upgrades to the id-keyed tables
// with the rollups and their state emptied, so the analysis rebuilds them
// from the messages; the other analyses' states are kept.
func TestUpgradeEmptiesNameKeyedBehaviour(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v11.db")
	old := *sqliteDialect
	old.migrations = sqliteDialect.migrations[:11]
	w, err := sql.Open("sqlite", sqliteDSN(path, 1024))
	if err != nil {
		t.Fatal(err)
	}
	dw := newDB(w, false)
	s := &Store{w: dw, r: dw, d: &old, loc: time.UTC, path: path}
	if err := s.migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO beh_users VALUES ('小明', 3, 1, 3, 2, 1)`,
		`INSERT INTO beh_user_hours VALUES ('小明', 1, 3)`,
		`INSERT INTO beh_pairs VALUES ('小明', 'bob', 2)`,
		`INSERT INTO beh_room_hours VALUES ('lobby', 't', 1, 3)`,
		`INSERT INTO analysis_state (name, applied_id, data) VALUES ('behaviour', 3, '{}'), ('terms', 3, '{}')`,
	} {
		if _, err := w.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	w.Close()

	s2, err := Open(ctx, Options{Path: path, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for _, q := range []string{`SELECT COUNT(*) FROM beh_users`, `SELECT COUNT(*) FROM beh_user_hours`, `SELECT COUNT(*) FROM beh_pairs`,
		`SELECT COUNT(*) FROM beh_room_hours`, `SELECT COUNT(*) FROM analysis_state WHERE name = 'behaviour'`} {
		var n int
		if err := s2.r.QueryRowContext(ctx, q).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s after the upgrade: %d, %v; want 0", q, n, err)
		}
	}
	if _, _, ok, err := s2.AnalysisState(ctx, "terms"); err != nil || !ok {
		t.Errorf("the terms state after the upgrade: %v, %v; want kept", ok, err)
	}
	if _, err := s2.w.ExecContext(ctx, `INSERT INTO beh_pairs (first_id, second_id, count) VALUES (1, 2, 1)`); err != nil {
		t.Errorf("the id-keyed pairs table: %v", err)
	}
}
