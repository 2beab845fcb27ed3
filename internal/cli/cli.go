// Package cli owns wsmon's command line: subcommands (monitor, web, all,
// demo, bench, reindex, export, health, version), their flags and help,
// turning flags into config overrides, and exit codes. It parses and
// dispatches; the work is done by internal/app and the packages it wires.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/wsmon/wsmon/internal/config"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = "dev"

// Exit codes.
const (
	ExitOK    = 0
	ExitError = 1 // runtime failure
	ExitUsage = 2 // bad command line or configuration
)

// Env is what a command may use from its process, passed in explicitly.
type Env struct {
	Stdout  io.Writer
	Stderr  io.Writer
	Environ []string
}

const usage = `wsmon - WebSocket chat monitor

Usage:
  wsmon <mode> [options]

Modes:
  monitor   connect to the chat server and record every message
  web       serve the dashboard and REST API from the database
  all       monitor and web in one process (recommended)
  demo      run the built-in demo chat server
  bench     benchmark ingest, search and statistics on a synthetic corpus
  reindex   rebuild the search index and statistics from the messages
  export    write messages (filtered, or a search) as CSV, JSON or NDJSON
  report    write a daily, weekly or range report as HTML or JSON
  backup    write a consistent copy of the database (safe while a monitor runs)
  restore   put a backup in place of the database (with no monitor running)
  health    probe a running wsmon's /healthz (exit 0 if healthy; for containers)
  version   print the version

Run 'wsmon <mode> --help' for the options of a mode.
`

// Run executes the command line args (without the program name) and
// returns the process exit code. ctx is cancelled on SIGINT/SIGTERM.
func Run(ctx context.Context, args []string, env Env) int {
	setMemoryLimit(env.Environ)
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return ExitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "monitor", "web", "all":
		return runMode(ctx, cmd, rest, env)
	case "demo":
		return runDemo(ctx, rest, env)
	case "bench":
		return runBench(ctx, rest, env)
	case "reindex":
		return runReindex(ctx, rest, env)
	case "export":
		return runExport(ctx, rest, env)
	case "report":
		return runReport(ctx, rest, env)
	case "backup":
		return runBackup(ctx, rest, env)
	case "restore":
		return runRestore(ctx, rest, env)
	case "health":
		return runHealth(ctx, rest, env)
	case "version", "--version", "-v":
		fmt.Fprintf(env.Stdout, "wsmon %s\n", DisplayVersion(Version))
		return ExitOK
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, usage)
		return ExitOK
	default:
		fmt.Fprintf(env.Stderr, "wsmon: unknown mode %q\n\n%s", cmd, usage)
		return ExitUsage
	}
}

// flagSet is a mode's flags with its help text. The flag package prints
// nothing itself: parse shows the help for --help and one line, with the
// nearest flag, for a mistake.
type flagSet struct {
	*flag.FlagSet
	env   Env
	usage func()
}

// newFlagSet returns a flag set that prints its usage to env.Stderr and
// reports errors instead of exiting.
func newFlagSet(name, synopsis string, env Env) *flagSet {
	fs := flag.NewFlagSet("wsmon "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // parse prints the help itself, once
	f := &flagSet{FlagSet: fs, env: env}
	f.usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: wsmon %s [options]\n\n%s\n\nOptions:\n", name, synopsis)
		fs.SetOutput(env.Stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return f
}

// parse parses flags; it returns (exit code, done) where done means the
// caller should return the code (help shown or a usage error). Positional
// arguments are a usage error.
func parse(fs *flagSet, args []string) (int, bool) {
	if code, done := parseArgs(fs, args); done {
		return code, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.env.Stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return ExitUsage, true
	}
	return 0, false
}

// parseArgs is parse that leaves positional arguments to the caller.
func parseArgs(fs *flagSet, args []string) (int, bool) {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.usage()
		return ExitOK, true
	}
	if err != nil {
		fmt.Fprintf(fs.env.Stderr, "%s: %s\nRun '%s --help' for its options.\n", fs.Name(), flagError(fs.FlagSet, err), fs.Name())
		return ExitUsage, true
	}
	return 0, false
}

// flagError rewords the flag package's errors: an unknown flag gets the
// nearest flag of this mode (config.Suggest, the same "did you mean" as
// configuration keys), or the modes that have it.
func flagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	name, ok := strings.CutPrefix(msg, "flag provided but not defined: -")
	if !ok {
		return msg
	}
	name = strings.TrimLeft(name, "-")
	var known []string
	fs.VisitAll(func(f *flag.Flag) { known = append(known, f.Name) })
	out := fmt.Sprintf("unknown flag --%s", name)
	mode := strings.TrimPrefix(fs.Name(), "wsmon ")
	if modes := modesWithFlag(name); len(modes) > 0 {
		return out + fmt.Sprintf(" (--%s is an option of %s, not of %s)", name, strings.Join(modes, " and "), mode)
	}
	if near := config.Suggest(name, known); near != "" {
		return out + fmt.Sprintf(" (did you mean --%s?)", near)
	}
	var others []string
	for _, m := range []string{"monitor", "web", "all"} {
		for _, f := range modeFlags[m] {
			if !slices.Contains(others, f) && !slices.Contains(known, f) {
				others = append(others, f)
			}
		}
	}
	if near := config.Suggest(name, others); near != "" {
		return out + fmt.Sprintf(" (did you mean --%s? it is an option of %s, not of %s)", near, strings.Join(modesWithFlag(near), " and "), mode)
	}
	return out
}

// setFlags returns the names of the flags set on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// defaultMemoryLimit is the Go runtime's soft memory limit unless
// GOMEMLIMIT says otherwise: it makes the garbage collector work harder
// before the heap grows past it, keeping wsmon's footprint small during
// bursts.
const defaultMemoryLimit = 128 << 20

func setMemoryLimit(environ []string) {
	for _, kv := range environ {
		if strings.HasPrefix(kv, "GOMEMLIMIT=") {
			return
		}
	}
	debug.SetMemoryLimit(defaultMemoryLimit)
}

func errorLine(env Env, err error) {
	msg := strings.TrimSpace(err.Error())
	fmt.Fprintf(env.Stderr, "wsmon: %s\n", msg)
}
