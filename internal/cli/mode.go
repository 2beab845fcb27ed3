package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
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

// modeFlags lists the flags of monitor, web and all: each mode has only
// those it uses (monitor has no web server, web no target).
var modeFlags = map[string][]string{
	"monitor": {"url", "config", "log-level", "db", "demo", "demo-port"},
	"web":     {"port", "host", "config", "log-level", "db"},
	"all":     {"url", "port", "host", "config", "log-level", "db", "demo", "demo-port"},
}

// modesWithFlag names the modes that have flag name, for the message about
// a flag given to the wrong mode.
func modesWithFlag(name string) []string {
	var out []string
	for _, m := range []string{"monitor", "web", "all"} {
		if slices.Contains(modeFlags[m], name) {
			out = append(out, m)
		}
	}
	return out
}

// defaultDemoPort is where --demo starts the demo chat server unless
// --demo-port says otherwise.
const defaultDemoPort = 8000

// runMode runs monitor, web or all.
func runMode(ctx context.Context, mode string, args []string, env Env) int {
	fs := newFlagSet(mode, modeSynopsis[mode], env)
	has := func(name string) bool { return slices.Contains(modeFlags[mode], name) }
	var wsURL, cfgPath, logLevel, db, host string
	var port, demoPort int
	withDemo := false
	if has("url") {
		fs.StringVar(&wsURL, "url", "", "WebSocket server address, ws:// or wss:// (websocket_url)")
	}
	if has("port") {
		fs.IntVar(&port, "port", 0, "web interface port (web_port)")
	}
	fs.StringVar(&cfgPath, "config", "", "configuration file (default ./config.json if present)")
	fs.StringVar(&logLevel, "log-level", "", "log level: DEBUG, INFO, WARNING, ERROR (log_level)")
	fs.StringVar(&db, "db", "", "SQLite database file (database_path)")
	if has("host") {
		fs.StringVar(&host, "host", "", "web bind address (web_host); non-loopback needs authentication")
	}
	if has("demo") {
		fs.BoolVar(&withDemo, "demo", false, "start the built-in demo chat server on 127.0.0.1 and monitor it")
		fs.IntVar(&demoPort, "demo-port", defaultDemoPort, "port of the demo chat server (a free port is used when it is taken)")
	}
	if code, done := parse(fs, args); done {
		return code
	}
	set := setFlags(fs.FlagSet)
	ov := config.Overrides{Values: map[string]string{}}
	if set["url"] {
		ov.URL = &wsURL
	}
	if set["port"] {
		ov.Port = &port
	}
	if set["log-level"] {
		ov.Values["log_level"] = logLevel
	}
	if set["db"] {
		ov.Values["database_path"] = db
	}
	if set["host"] {
		ov.Values["web_host"] = host
	}
	if set["demo-port"] && !withDemo {
		fmt.Fprintf(env.Stderr, "wsmon %s: --demo-port needs --demo\n", mode)
		return ExitUsage
	}

	var demoSrv *demo.Server
	var demoNote string
	if withDemo {
		if set["url"] {
			fmt.Fprintln(env.Stderr, "wsmon: --demo and --url are exclusive: --demo monitors the built-in demo server")
			return ExitUsage
		}
		if demoPort < 0 || demoPort > 65535 {
			fmt.Fprintf(env.Stderr, "wsmon %s: --demo-port must be between 0 and 65535, got %d\n", mode, demoPort)
			return ExitUsage
		}
		var err error
		demoSrv, demoNote, err = startDemo(demoPort)
		if err != nil {
			errorLine(env, err)
			return ExitError
		}
		defer demoSrv.Close()
		u := demoSrv.URL()
		ov.URL = &u
		ov.Values["target_name"] = "demo"
	}

	cfg, err := config.Load(config.LoadOptions{ConfigPath: cfgPath, Env: env.Environ, Overrides: ov})
	if err != nil {
		errorLine(env, err)
		return ExitUsage
	}
	// From here the logger (on other goroutines too) and this function
	// both write to stderr: one lock keeps their lines whole.
	env.Stderr = &lockedWriter{w: env.Stderr}
	log, closer, err := logging.New(logging.Options{Level: cfg.SlogLevel(), JSON: cfg.LogFormat == "json", Dir: cfg.LogDir, Stderr: env.Stderr})
	if err != nil {
		errorLine(env, err)
		return ExitError
	}
	defer closer.Close()
	version := DisplayVersion(Version)
	log.Debug("configuration", "mode", mode, "version", version, "config", cfg)
	for _, d := range cfg.Deprecations() {
		log.Warn(d)
	}

	opts := app.Options{Logger: log, Version: version, Started: func(r app.Running) {
		s := startSummary{mode: mode, version: version, cfg: cfg, run: r, demo: demoSrv, demoNote: demoNote}
		s.write(env.Stderr, log, cfg.LogFormat == "json")
	}}
	if err := app.Run(ctx, app.Mode(mode), cfg, opts); err != nil {
		// Printed once, here: the parts that failed did not log it.
		errorLine(env, err)
		var ce *app.ConfigError
		if errors.As(err, &ce) {
			return ExitUsage
		}
		return ExitError
	}
	return ExitOK
}

// startDemo starts the demo chat server on 127.0.0.1:port, or on a free
// port when that one is taken; note says which port it fell back to.
func startDemo(port int) (srv *demo.Server, note string, err error) {
	opts := demo.DefaultOptions()
	opts.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	srv = demo.New(opts)
	err = srv.Start()
	if err == nil {
		return srv, "", nil
	}
	if port == 0 {
		return nil, "", fmt.Errorf("demo server: %w", err)
	}
	opts.Addr = "127.0.0.1:0"
	srv = demo.New(opts)
	if err2 := srv.Start(); err2 != nil {
		return nil, "", fmt.Errorf("demo server: %w", errors.Join(err, err2))
	}
	got := ""
	if u, perr := url.Parse(srv.URL()); perr == nil {
		got = u.Port()
	}
	return srv, fmt.Sprintf("port %d is in use; using port %s instead (--demo-port to choose another)", port, got), nil
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

// lockedWriter serialises writes to w (stderr shared by the logger's
// goroutines and the start-up summary).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
