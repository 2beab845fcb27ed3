// Command wsmon monitors WebSocket chat servers: it records every broadcast
// message, stores it, and serves a live, searchable dashboard. main only
// wires the process to the cli package.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsmon/wsmon/internal/cli"
	_ "time/tzdata" // time_zone works on machines without a zoneinfo database
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Environ: os.Environ()})
	stop()
	os.Exit(code)
}
