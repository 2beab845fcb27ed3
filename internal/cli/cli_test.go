package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsmon/wsmon/internal/datadir"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/store/pgtest"
)

func run(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	// A --db file that a test's wsmon wrote to PostgreSQL (the PostgreSQL
	// pass: pgtest) is that database for the command too.
	env := []string{}
	for i, a := range args {
		if a == "--db" && i+1 < len(args) {
			if dsn, ok := pgtest.Lookup(args[i+1]); ok {
				env = append(env, "WSMON_DATABASE_URL="+dsn)
			}
		}
	}
	code = Run(context.Background(), args, Env{Stdout: &out, Stderr: &errb, Environ: env})
	return code, out.String(), errb.String()
}

// TestBadConfigStopsWithOneClearLine: what the user sees for each kind of
// configuration mistake: exit code 2 and a single line naming the key.
func TestBadConfigStopsWithOneClearLine(t *testing.T) {
	cases := []struct {
		name, file string
		args       []string
		want       string
	}{
		{"typo in a key", `{"websocket_ulr": "ws://x"}`, nil, `wsmon: config.json: unknown key "websocket_ulr" (did you mean "websocket_url"?)`},
		{"wrong type", `{"web_port": "abc"}`, nil, `wsmon: config.json: key "web_port": expected an integer, got string "abc"`},
		{"not a websocket url", `{"websocket_url": "http://127.0.0.1:8000/ws"}`, nil, `wsmon: websocket_url: scheme must be ws or wss, got "http"`},
		{"out of range", `{"web_port": 70000}`, nil, `wsmon: web_port: must be between 1 and 65535, got 70000`},
		{"bad flag value", `{}`, []string{"--url", "ftp://x"}, `wsmon: websocket_url: scheme must be ws or wss, got "ftp"`},
		{"exposed without auth", `{"web_host": "0.0.0.0"}`, nil, `wsmon: web_host: binding 0.0.0.0 exposes the dashboard`},
		{"postgres without url", `{"database_driver": "postgres"}`, nil, `wsmon: database_driver: postgres needs database_url (postgres://user:password@host:5432/dbname)`},
		{"database url scheme", `{"database_url": "mysql://u:hunter2@db/x"}`, nil, `wsmon: database_url: scheme must be postgres or postgresql, like postgres://user:password@host:5432/dbname`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "config.json"), []byte(c.file), 0o644)
			code, _, stderr := run(t, dir, append([]string{"monitor"}, c.args...)...)
			if code != ExitUsage {
				t.Errorf("exit code %d, want %d", code, ExitUsage)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], c.want) {
				t.Errorf("stderr:\n%s\nwant one line starting with:\n%s", stderr, c.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
				t.Error("a bad config must not create the database")
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	dir := t.TempDir()
	for _, mode := range []string{"monitor", "web", "all", "demo", "bench", "reindex"} {
		code, _, stderr := run(t, dir, mode, "--help")
		if code != ExitOK || !strings.Contains(stderr, "Usage: wsmon "+mode) {
			t.Errorf("%s --help: code %d, output %q", mode, code, stderr)
		}
	}
	code, stdout, _ := run(t, dir, "version")
	if code != ExitOK || !strings.HasPrefix(stdout, "wsmon ") {
		t.Errorf("version: %d %q", code, stdout)
	}
	code, _, stderr := run(t, dir, "monitr")
	if code != ExitUsage || !strings.Contains(stderr, `unknown mode "monitr"`) {
		t.Errorf("unknown mode: %d %q", code, stderr)
	}
}

func TestMissingExplicitConfigFile(t *testing.T) {
	code, _, stderr := run(t, t.TempDir(), "monitor", "--config", "nope.json")
	if code != ExitUsage || !strings.Contains(stderr, "nope.json") {
		t.Errorf("code %d stderr %q", code, stderr)
	}
}

// TestWriterRefusedOnAHeldDataDirectory: while another process holds the
// data directory, monitor, all and reindex exit at once (code 1) with one
// line naming the holder; the database is not opened.
func TestWriterRefusedOnAHeldDataDirectory(t *testing.T) {
	dir := t.TempDir()
	held, err := datadir.Acquire("all", filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	for _, mode := range []string{"monitor", "all", "reindex"} {
		t.Run(mode, func(t *testing.T) {
			code, _, stderr := run(t, dir, mode)
			// The runtime log goes to stderr too; the last line is the error.
			lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
			want := fmt.Sprintf("wsmon: data directory %s is in use by another wsmon (pid %d, all, since ", filepath.Join(dir, "data"), os.Getpid())
			if code != ExitError || !strings.HasPrefix(lines[len(lines)-1], want) {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "data", "chat_monitor.db")); err == nil {
				t.Fatal("the database was opened")
			}
		})
	}
}

// TestDeprecatedKeyIsWarned: a config.json that still has batch_latency
// starts (here up to the data-directory lock another process holds) and the
// log warns that the key does nothing.
func TestDeprecatedKeyIsWarned(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"batch_latency": 0.05}`), 0o644)
	held, err := datadir.Acquire("all", filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	code, _, stderr := run(t, dir, "monitor")
	if code != ExitError || !strings.Contains(stderr, "level=WARN msg=\"batch_latency is deprecated and has no effect") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}

// TestBackupAndRestoreCommands: wsmon backup writes a checked copy into
// data/backups/; wsmon restore refuses while the data directory is held,
// then puts the backup in place, keeping the replaced database and its
// journal beside it.
func TestBackupAndRestoreCommands(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	dbPath := filepath.Join(dir, "data", "chat_monitor.db")
	st, err := store.Open(ctx, store.Options{Path: dbPath})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, out, stderr := run(t, dir, "backup")
	if code != ExitOK || !strings.HasPrefix(out, "backup "+filepath.Join("data", "backups", "backup_")) || !strings.Contains(out, ": 0 messages, ") {
		t.Fatalf("backup: %d %q %q", code, out, stderr)
	}
	backup := filepath.Join(dir, strings.TrimPrefix(strings.SplitN(out, ":", 2)[0], "backup "))
	if err := os.MkdirAll(filepath.Join(dir, "data", "journal"), 0o755); err != nil {
		t.Fatal(err)
	}

	held, err := datadir.Acquire("all", filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, dir, "restore", backup)
	if code != ExitError || !strings.Contains(stderr, "is in use by another wsmon (pid ") {
		t.Fatalf("restore while held: %d %q", code, stderr)
	}
	held.Release()

	if code, _, stderr = run(t, dir, "restore", filepath.Join(dir, "nothing.db")); code != ExitError || !strings.Contains(stderr, "nothing.db") {
		t.Fatalf("restore of a missing file: %d %q", code, stderr)
	}
	notDB := filepath.Join(dir, "junk.db")
	os.WriteFile(notDB, []byte("not a database"), 0o644)
	if code, _, stderr = run(t, dir, "restore", notDB); code != ExitError || !strings.Contains(stderr, "not a") {
		t.Fatalf("restore of junk: %d %q", code, stderr)
	}

	code, out, stderr = run(t, dir, "restore", backup)
	if code != ExitOK || !strings.Contains(out, "restored ") || !strings.Contains(out, "kept as ") {
		t.Fatalf("restore: %d %q %q", code, out, stderr)
	}
	asides, _ := filepath.Glob(filepath.Join(dir, "data", "*.before-restore-*"))
	if len(asides) != 2 { // the database and the journal
		t.Fatalf("kept aside: %v", asides)
	}
	if _, _, err := store.CheckBackup(ctx, dbPath); err != nil {
		t.Fatalf("restored database: %v", err)
	}
	if code, _, _ = run(t, dir, "restore"); code != ExitUsage {
		t.Fatalf("restore without a file: %d", code)
	}
}
