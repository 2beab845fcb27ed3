package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wsmon/wsmon/internal/app"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/logging"
)

var modeSynopsis = map[string]string{
	"monitor": "Connect to the configured WebSocket chat server and record every message\n(database, per-day message logs). Reconnects automatically.",
	"web":     "Serve the dashboard and REST API on web_port, reading the database that\na 'wsmon monitor' process writes.",
	"all":     "Run monitor and web in one process. With --demo, also start the built-in\ndemo chat server and monitor it: the whole product with one command.",
}

// runMode runs monitor, web or all.
func runMode(ctx context.Context, mode string, args []string, env Env) int {
	fs := newFlagSet(mode, modeSynopsis[mode], env)
	url := fs.String("url", "", "WebSocket server address (websocket_url)")
	port := fs.Int("port", 0, "web interface port (web_port)")
	cfgPath := fs.String("config", "", "configuration file (default ./config.json if present)")
	logLevel := fs.String("log-level", "", "log level: DEBUG, INFO, WARNING, ERROR (log_level)")
	db := fs.String("db", "", "SQLite database file (database_path)")
	host := fs.String("host", "", "web bind address (web_host); non-loopback needs authentication")
	withDemo := false
	if mode != "web" {
		fs.BoolVar(&withDemo, "demo", false, "start the built-in demo chat server on 127.0.0.1:8000 and monitor it")
	}
	if code, done := parse(fs, args); done {
		return code
	}
	set := setFlags(fs)
	ov := config.Overrides{Values: map[string]string{}}
	if set["url"] {
		ov.URL = url
	}
	if set["port"] {
		ov.Port = port
	}
	if set["log-level"] {
		ov.Values["log_level"] = *logLevel
	}
	if set["db"] {
		ov.Values["database_path"] = *db
	}
	if set["host"] {
		ov.Values["web_host"] = *host
	}

	var demoSrv *demo.Server
	if withDemo {
		if set["url"] {
			fmt.Fprintln(env.Stderr, "wsmon: --demo and --url are exclusive: --demo monitors the built-in demo server")
			return ExitUsage
		}
		opts := demo.DefaultOptions()
		demoSrv = demo.New(opts)
		if err := demoSrv.Start(); err != nil {
			// Port 8000 taken: use any free port rather than fail.
			opts.Addr = "127.0.0.1:0"
			demoSrv = demo.New(opts)
			if err2 := demoSrv.Start(); err2 != nil {
				errorLine(env, fmt.Errorf("demo server: %w", errors.Join(err, err2)))
				return ExitError
			}
		}
		defer demoSrv.Close()
		u := demoSrv.URL()
		ov.URL = &u
		ov.Values["target_name"] = "demo"
	}

	cfg, err := config.Load(config.LoadOptions{ConfigPath: *cfgPath, Env: env.Environ, Overrides: ov})
	if err != nil {
		errorLine(env, err)
		return ExitUsage
	}
	log, closer, err := logging.New(logging.Options{Level: cfg.SlogLevel(), JSON: cfg.LogFormat == "json", Dir: cfg.LogDir, Stderr: env.Stderr})
	if err != nil {
		errorLine(env, err)
		return ExitError
	}
	defer closer.Close()
	if demoSrv != nil {
		log.Info("demo chat server started", "url", demoSrv.URL())
	}
	log.Info("wsmon starting", "mode", mode, "version", Version, "config", cfg)
	for _, d := range cfg.Deprecations() {
		log.Warn(d)
	}

	if err := app.Run(ctx, app.Mode(mode), cfg, app.Options{Logger: log, Version: Version}); err != nil {
		log.Error("wsmon stopped with an error", "error", err)
		errorLine(env, err)
		var ce *app.ConfigError
		if errors.As(err, &ce) {
			return ExitUsage
		}
		return ExitError
	}
	return ExitOK
}

// runDemo runs the demo chat server in the foreground.
func runDemo(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("demo", "Run the built-in demo chat server: realistic mixed Chinese/English chat\nfrom simulated users, with join/leave messages and a sequence number.", env)
	d := demo.DefaultOptions()
	fs.StringVar(&d.Addr, "addr", d.Addr, "listen address (loopback only unless you mean it)")
	fs.StringVar(&d.Path, "path", d.Path, "WebSocket path")
	fs.Float64Var(&d.Rate, "rate", d.Rate, "chat messages per second from simulated users (0 = none)")
	fs.IntVar(&d.Users, "users", d.Users, "number of simulated users")
	fs.Int64Var(&d.Seed, "seed", 0, "random seed for deterministic content (0 = random)")
	fs.IntVar(&d.HistoryReplay, "history-replay", 0, "replay the last N messages to every new connection")
	fs.IntVar(&d.DropEvery, "drop-every", 0, "close each connection after sending it N messages (0 = never)")
	burst := fs.Int("burst", 0, "when the first client connects, send N messages as fast as the socket takes them")
	if code, done := parse(fs, args); done {
		return code
	}
	srv := demo.New(d)
	if err := srv.Start(); err != nil {
		errorLine(env, err)
		return ExitError
	}
	defer srv.Close()
	fmt.Fprintf(env.Stdout, "demo chat server on %s (rate %s msg/s, %d users); POST /burst?n=N sends a burst\n",
		srv.URL(), strconv.FormatFloat(d.Rate, 'f', -1, 64), d.Users)
	if *burst > 0 {
		go func() {
			for srv.Clients() == 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
			if err := srv.Burst(*burst); err != nil {
				fmt.Fprintf(env.Stderr, "wsmon demo: burst: %v\n", err)
				return
			}
			fmt.Fprintf(env.Stdout, "burst of %d messages sent (last seq %d)\n", *burst, srv.LastSeq())
		}()
	}
	<-ctx.Done()
	return ExitOK
}
