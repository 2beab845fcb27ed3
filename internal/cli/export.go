package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/export"
	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/query"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/web"
)

const exportSynopsis = `Write the messages that the filters (and a search text) select to stdout or a
file, as CSV (UTF-8 with a byte-order mark, header row), one JSON array or
NDJSON (one object per line), newest first, streaming with constant memory.
The filters and the search are those of GET /api/messages and /api/search
(an export is what the dashboard's search page shows, all pages of it).
A reader: it works beside a running monitor and takes no lock.`

// runExport writes an export (package export) from the database, read as
// a separate wsmon web reads it: the query path (package query) over the
// store and a following index.
func runExport(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("export", exportSynopsis, env)
	cfgPath := fs.String("config", "", "configuration file (default ./config.json if present)")
	db := fs.String("db", "", "SQLite database file (database_path)")
	out := fs.String("out", "", "write to this file instead of stdout (replaced only once the export is complete)")
	vals := map[string]*string{}
	for _, f := range []struct{ name, def, usage string }{
		{"format", "csv", "csv, json or ndjson"},
		{"q", "", "only messages whose content contains this text (case-insensitive, literal), as the search page"},
		{"user", "", "only this user (exact)"},
		{"type", "", "only this type: chat, system, join, leave or other"},
		{"target", "", "only this target"},
		{"room", "", "only this room"},
		{"from", "", "received at or after: RFC 3339, a date or date-time in time_zone, or Unix milliseconds"},
		{"to", "", "received before (same forms as --from)"},
	} {
		vals[f.name] = fs.String(f.name, f.def, f.usage)
	}
	bom := fs.Bool("bom", true, "CSV: start with a UTF-8 byte-order mark (Excel then reads Chinese text correctly)")
	raw := fs.Bool("raw", false, "also export each frame as received (raw, or raw_base64 for binary frames)")
	if code, done := parse(fs, args); done {
		return code
	}
	cfg, err := loadForTool(*cfgPath, *db, env)
	if err != nil {
		errorLine(env, err)
		return ExitUsage
	}
	q := url.Values{}
	for k, v := range vals {
		q.Set(k, *v)
	}
	q.Set("bom", fmt.Sprint(*bom))
	q.Set("raw", fmt.Sprint(*raw))
	req, err := web.ParseExport(q, cfg.Location())
	if err != nil {
		errorLine(env, errors.New(strings.TrimPrefix(err.Error(), "bad_param: ")))
		return ExitUsage
	}
	if !cfg.Postgres() {
		// Opening would create an empty database: say there is none.
		if _, err := os.Stat(cfg.DatabasePath); err != nil {
			errorLine(env, fmt.Errorf("no database at %s (set --db or database_path): %w", cfg.DatabasePath, errors.Unwrap(err)))
			return ExitError
		}
	}
	n, err := exportTo(ctx, cfg, req, *out, env.Stdout)
	if err != nil {
		errorLine(env, err)
		return ExitError
	}
	if *out != "" && *out != "-" {
		fmt.Fprintf(env.Stderr, "wsmon: exported %d messages to %s\n", n, *out)
	}
	return ExitOK
}

// exportTo runs the export to the file out ("" or "-": stdout) and returns
// the number of messages. A file is written beside out and renamed over it
// once complete, so a failed or interrupted export leaves no partial file;
// like the database it holds chat messages, so its mode is 0600.
func exportTo(ctx context.Context, cfg config.Config, req export.Request, out string, stdout io.Writer) (int64, error) {
	st, err := store.Open(ctx, cfg.StoreOptions(false))
	if err != nil {
		return 0, err
	}
	defer st.Close()
	// The index as a separate web process reads it: it never writes, so a
	// monitor may be writing the database meanwhile.
	ix, err := index.New(ctx, st, index.Options{Follow: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, err
	}
	s, err := export.Open(ctx, query.New(st, ix), req)
	if err != nil {
		return 0, err
	}
	if out == "" || out == "-" {
		_, err := s.WriteTo(stdout)
		return s.Count(), err
	}
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*.tmp")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name()) // after the rename, a no-op
	if _, err := s.WriteTo(f); err != nil {
		f.Close()
		return s.Count(), err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return s.Count(), err
	}
	if err := f.Close(); err != nil {
		return s.Count(), err
	}
	return s.Count(), os.Rename(f.Name(), out)
}
