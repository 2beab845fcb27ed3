package cli

import (
	"context"
	"fmt"
)

func runBench(ctx context.Context, args []string, env Env) int {
	fmt.Fprintln(env.Stderr, "wsmon bench: not available yet")
	return ExitError
}

func runReindex(ctx context.Context, args []string, env Env) int {
	fmt.Fprintln(env.Stderr, "wsmon reindex: not available yet")
	return ExitError
}
