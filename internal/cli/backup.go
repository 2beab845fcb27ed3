package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/datadir"
	"github.com/wsmon/wsmon/internal/store"
)

// loadForTool loads the configuration for a tool mode: --config, and --db
// overriding database_path (backup, restore, export, reindex).
func loadForTool(cfgPath, db string, env Env) (config.Config, error) {
	ov := config.Overrides{Values: map[string]string{}}
	if db != "" {
		ov.Values["database_path"] = db
	}
	return config.Load(config.LoadOptions{ConfigPath: cfgPath, Env: env.Environ, Overrides: ov})
}

// runBackup writes a consistent online backup of the database (SQLite's
// VACUUM INTO: a snapshot, while a monitor goes on writing).
func runBackup(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("backup", "Write a consistent copy of the database to data/backups/backup_YYYYMMDD_HHMMSS.db\n(or --out), safe while a monitor is writing it. Never copy a live database with cp:\nwhat is in its -wal file would be missing.", env)
	cfgPath := fs.String("config", "", "configuration file (default ./config.json if present)")
	db := fs.String("db", "", "SQLite database file (database_path)")
	out := fs.String("out", "", "backup file to write (must not exist)")
	if code, done := parse(fs, args); done {
		return code
	}
	cfg, err := loadForTool(*cfgPath, *db, env)
	if err != nil {
		errorLine(env, err)
		return ExitUsage
	}
	if _, err := os.Stat(cfg.DatabasePath); err != nil {
		errorLine(env, fmt.Errorf("no database at %s: %w", cfg.DatabasePath, err))
		return ExitError
	}
	st, err := store.Open(ctx, cfg.StoreOptions(false))
	if err != nil {
		errorLine(env, err)
		return ExitError
	}
	defer st.Close()
	path := *out
	if path == "" {
		path = st.BackupName(time.Now())
	}
	if _, err := os.Stat(path); err == nil {
		errorLine(env, fmt.Errorf("backup: %s exists", path))
		return ExitError
	}
	t0 := time.Now()
	if err := st.Backup(ctx, path); err != nil {
		errorLine(env, err)
		return ExitError
	}
	n, _, err := store.CheckBackup(ctx, path)
	if err != nil {
		errorLine(env, err)
		return ExitError
	}
	fi, _ := os.Stat(path)
	fmt.Fprintf(env.Stdout, "backup %s: %d messages, %d bytes in %v\n", path, n, fi.Size(), time.Since(t0).Round(time.Millisecond))
	return ExitOK
}

// runRestore puts a backup in place of the database. It takes the data
// directory's lock, so it refuses while a monitor runs there.
func runRestore(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("restore", "Put a backup in place of the database (usage: wsmon restore [options] FILE).\nThe backup is checked first; the current database is kept beside it as\n<database>.before-restore-YYYYMMDD_HHMMSS and the journal as journal.before-restore-…\n(its records belong to the replaced database). Refused while a monitor runs on\nthe data directory: stop it first.", env)
	cfgPath := fs.String("config", "", "configuration file (default ./config.json if present)")
	db := fs.String("db", "", "SQLite database file (database_path)")
	// The backup file is the one argument: parse flags before it.
	if code, done := parseArgs(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.Stderr, "wsmon restore: give the backup file to restore: wsmon restore [--config FILE] BACKUP.db")
		return ExitUsage
	}
	backup := fs.Arg(0)
	cfg, err := loadForTool(*cfgPath, *db, env)
	if err != nil {
		errorLine(env, err)
		return ExitUsage
	}
	if cfg.Postgres() {
		errorLine(env, errors.New("restore: only SQLite databases are restored by wsmon"))
		return ExitError
	}
	lock, err := datadir.Acquire("restore", cfg.WriterDirs()...)
	if err != nil {
		errorLine(env, err)
		return ExitError
	}
	defer lock.Release()
	now := time.Now()
	n, version, err := store.CheckBackup(ctx, backup)
	if err != nil {
		errorLine(env, err)
		return ExitError
	}
	aside, err := store.Restore(ctx, cfg.DatabasePath, backup, now)
	if err != nil {
		errorLine(env, err)
		return ExitError
	}
	jdir := cfg.JournalDir()
	jaside := ""
	if _, err := os.Stat(jdir); err == nil {
		jaside = jdir + ".before-restore-" + now.Format("20060102_150405")
		if err := os.Rename(jdir, jaside); err != nil {
			errorLine(env, fmt.Errorf("restore: database restored, but the journal could not be moved aside (move it yourself before starting wsmon): %w", err))
			return ExitError
		}
	}
	fmt.Fprintf(env.Stdout, "restored %s (%d messages, schema version %d) to %s\n", backup, n, version, cfg.DatabasePath)
	if aside != "" {
		fmt.Fprintf(env.Stdout, "the replaced database is kept as %s\n", aside)
	}
	if jaside != "" {
		fmt.Fprintf(env.Stdout, "the replaced database's journal is kept as %s\n", jaside)
	}
	return ExitOK
}
