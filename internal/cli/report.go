package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/wsmon/wsmon/internal/app"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/query"
	"github.com/wsmon/wsmon/internal/report"
	"github.com/wsmon/wsmon/internal/store"
)

const reportSynopsis = `Write the report of the days --from to --to (inclusive, in time_zone) as a
self-contained HTML page or as JSON: volume against the period before,
busiest hour, new and most active users, trending terms, sentiment,
anomalies, alerts and connection gaps. One day is a daily report (that of
GET /api/reports/daily). A reader: it works beside a running monitor and
takes no lock.`

// runReport writes a report (package report) from the database, read as a
// separate wsmon web reads it: the query path over the store and a
// following index, the analyses' saved states.
func runReport(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("report", reportSynopsis, env)
	cfgPath := fs.String("config", "", "configuration file (default ./config.json if present)")
	db := fs.String("db", "", "SQLite database file (database_path)")
	from := fs.String("from", "", "first day, YYYY-MM-DD (required)")
	to := fs.String("to", "", "last day, YYYY-MM-DD (default: --from)")
	format := fs.String("format", "html", "html or json")
	target := fs.String("target", "", "only this target (default: all targets)")
	lang := fs.String("lang", "en", "language of the HTML page: en or zh")
	out := fs.String("out", "", "write to this file instead of stdout (replaced only once complete)")
	if code, done := parse(fs, args); done {
		return code
	}
	usage := func(err error) int { errorLine(env, err); return ExitUsage }
	if *from == "" {
		return usage(errors.New("report: --from is required (YYYY-MM-DD)"))
	}
	if *to == "" {
		*to = *from
	}
	f, err := report.ParseDate(*from)
	if err != nil {
		return usage(fmt.Errorf("report: --from %w", err))
	}
	t, err := report.ParseDate(*to)
	if err != nil {
		return usage(fmt.Errorf("report: --to %w", err))
	}
	per, err := report.Range(f, t)
	if err != nil {
		return usage(fmt.Errorf("report: %w", err))
	}
	if *format != "html" && *format != "json" {
		return usage(fmt.Errorf("report: --format must be html or json, got %q", *format))
	}
	if !report.ValidLang(*lang) {
		return usage(fmt.Errorf("report: --lang must be en or zh, got %q", *lang))
	}
	cfg, err := loadForTool(*cfgPath, *db, env)
	if err != nil {
		return usage(err)
	}
	if !cfg.Postgres() {
		if _, err := os.Stat(cfg.DatabasePath); err != nil {
			errorLine(env, fmt.Errorf("no database at %s (set --db or database_path): %w", cfg.DatabasePath, errors.Unwrap(err)))
			return ExitError
		}
	}
	body, err := buildReport(ctx, cfg, report.Request{Period: per, Target: *target}, *format, *lang)
	if err != nil {
		errorLine(env, err)
		return ExitError
	}
	if *out == "" || *out == "-" {
		if _, err := env.Stdout.Write(body); err != nil {
			errorLine(env, err)
			return ExitError
		}
		return ExitOK
	}
	if err := writeFileAtomic(*out, body); err != nil {
		errorLine(env, fmt.Errorf("report: %w", err))
		return ExitError
	}
	fmt.Fprintf(env.Stderr, "wsmon: wrote the %s report %s to %s\n", per.Kind, per.ID(*target), *out)
	return ExitOK
}

// buildReport opens the database read-only beside any monitor and renders
// the report of req.
func buildReport(ctx context.Context, cfg config.Config, req report.Request, format, lang string) ([]byte, error) {
	st, err := store.Open(ctx, cfg.StoreOptions(false))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	ix, err := index.New(ctx, st, index.Options{Follow: true, Logger: log})
	if err != nil {
		return nil, err
	}
	r := app.AnalysisReader(st, cfg, log)
	b, err := report.NewBuilder(report.Options{Store: st, Source: query.New(st, ix), Analysis: r, Location: cfg.Location()})
	if err != nil {
		return nil, err
	}
	rep, err := b.Build(ctx, req)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if format == "json" {
		err = report.WriteJSON(&buf, rep)
	} else {
		err = report.WriteHTML(&buf, rep, lang)
	}
	return buf.Bytes(), err
}

// writeFileAtomic writes b beside path (mode 0600: it quotes chat
// messages) and renames it over path once complete.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
