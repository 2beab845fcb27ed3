package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/wsmon/wsmon/internal/bench"
	"github.com/wsmon/wsmon/internal/datadir"
	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/store"
)

// runBench runs the ingest/search/stats benchmark.
func runBench(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("bench", "Generate a deterministic synthetic chat corpus (Chinese and English, Zipf-distributed\nusers and words), ingest it through the real pipeline (journal, ingest, SQLite, search\nindex, rollups), run a fixed query mix and the statistics, and print a report.", env)
	o := bench.Options{Out: env.Stdout, Logger: slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	fs.IntVar(&o.Messages, "messages", 1_000_000, "corpus size")
	fs.IntVar(&o.Users, "users", 20_000, "distinct users")
	fs.StringVar(&o.Dir, "dir", "", "database directory to use and keep (default: a temporary directory, removed)")
	fs.StringVar(&o.DatabaseURL, "database-url", "", "PostgreSQL database (postgres://…) to ingest into and query instead of SQLite; the journal stays in --dir")
	seed := fs.Uint64("seed", 42, "corpus seed")
	fs.IntVar(&o.Rounds, "rounds", 20, "repetitions of each query")
	fs.Float64Var(&o.Rate, "rate", 0, "arrival rate in messages/s (0 = as fast as the pipeline takes them)")
	fs.BoolVar(&o.Reuse, "reuse", false, "run only the queries and statistics on the database already in --dir (no ingest)")
	fs.BoolVar(&o.PerQuery, "per-query", false, "also print each query's own percentiles under its class")
	fs.IntVar(&o.Burners, "burn", 0, "CPU-burning processes to run beside (contended variant; 1 takes the other core of two)")
	fs.BoolVar(&o.Analysis, "analysis", false, "run the analyses behind ingest (trending terms, sentiment, anomalies) and time their queries")
	fs.BoolVar(&o.Behaviour, "behaviour", false, "keep the user behaviour rollups behind ingest and time the users and activity queries")
	prof := fs.String("cpuprofile", "", "write a CPU profile to this file")
	fs.StringVar(&o.MemProfile, "memprofile", "", "write a heap profile to this file at each new high of the Go heap")
	if code, done := parse(fs, args); done {
		return code
	}
	o.Seed = *seed
	if *prof != "" {
		f, err := os.Create(*prof)
		if err != nil {
			errorLine(env, err)
			return ExitError
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			errorLine(env, err)
			return ExitError
		}
		defer pprof.StopCPUProfile()
	}
	if err := bench.Run(ctx, o); err != nil {
		errorLine(env, err)
		return ExitError
	}
	return ExitOK
}

// runReindex rebuilds the search index and rollups from the messages.
func runReindex(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("reindex", "Rebuild the search index and the statistics rollups from the stored messages\n(a running monitor holds the data directory: stop it first).", env)
	cfgPath := fs.String("config", "", "configuration file (default ./config.json if present)")
	db := fs.String("db", "", "SQLite database file (database_path)")
	if code, done := parse(fs, args); done {
		return code
	}
	cfg, err := loadForTool(*cfgPath, *db, env)
	if err != nil {
		errorLine(env, err)
		return ExitUsage
	}
	lock, err := datadir.Acquire("reindex", cfg.WriterDirs()...)
	if err != nil {
		errorLine(env, err)
		return ExitError
	}
	defer lock.Release()
	st, err := store.Open(ctx, cfg.StoreOptions(false))
	if err != nil {
		errorLine(env, err)
		return ExitError
	}
	defer st.Close()
	t0 := time.Now()
	if err := st.ResetIndex(ctx); err != nil {
		errorLine(env, err)
		return ExitError
	}
	ix, err := index.New(ctx, st, index.Options{Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		err = ix.Flush(ctx)
	}
	if err != nil {
		errorLine(env, err)
		return ExitError
	}
	s := ix.Status()
	fmt.Fprintf(env.Stdout, "reindexed %d messages into %d segments in %v\n", s.Indexed, s.Segments, time.Since(t0).Round(time.Millisecond))
	return ExitOK
}
