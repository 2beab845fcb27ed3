package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wsmon/wsmon/internal/config"
)

// runHealth asks a running wsmon's GET /healthz and exits 0 when it answers
// 200 {"status":"ok"}, 1 otherwise (also for a configuration that does not
// load: Docker's HEALTHCHECK reads 1 as unhealthy and reserves 2). It reads
// the configuration as the modes do (--config, WSMON_* environment), so in
// a container it probes the port the server was given. It exists because
// a distroless image has no curl.
func runHealth(ctx context.Context, args []string, env Env) int {
	fs := newFlagSet("health", "Probe a running wsmon: GET /healthz on web_host:web_port (127.0.0.1 when web_host\nis 0.0.0.0 or ::). Exit 0 when it answers 200 {\"status\":\"ok\"}, 1 otherwise.\nFor container health checks (the image has no curl).", env)
	cfgPath := fs.String("config", "", "configuration file (default ./config.json if present)")
	port := fs.Int("port", 0, "web interface port (default web_port)")
	host := fs.String("host", "", "address to probe (default web_host, loopback for a wildcard bind)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if code, done := parse(fs, args); done {
		return code
	}
	set := setFlags(fs.FlagSet)
	ov := config.Overrides{Values: map[string]string{}}
	if set["port"] {
		ov.Port = port
	}
	if set["host"] {
		ov.Values["web_host"] = *host
	}
	cfg, err := config.Load(config.LoadOptions{ConfigPath: *cfgPath, Env: env.Environ, Overrides: ov})
	if err != nil {
		errorLine(env, err)
		return ExitError
	}
	url := "http://" + probeAddr(cfg.WebHost, cfg.WebPort) + "/healthz"
	if err := probe(ctx, url, *timeout); err != nil {
		errorLine(env, fmt.Errorf("health: %s: %w", url, err))
		return ExitError
	}
	fmt.Fprintf(env.Stdout, "ok %s\n", url)
	return ExitOK
}

// probeAddr returns host:port to connect to for a server bound to
// webHost:port: a wildcard bind (0.0.0.0, ::, empty) is reached on
// loopback, any other address or name as it is.
func probeAddr(webHost string, port int) string {
	h := strings.TrimSuffix(strings.TrimPrefix(webHost, "["), "]")
	if ip := net.ParseIP(h); h == "" || ip != nil && ip.IsUnspecified() {
		h = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			h = "::1"
		}
	}
	return net.JoinHostPort(h, strconv.Itoa(port))
}

// probe GETs url and checks for 200 with {"status":"ok"}, so that another
// program on the port (or a dashboard page) does not pass for wsmon.
func probe(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&body)
	if resp.StatusCode != http.StatusOK || err != nil || body.Status != "ok" {
		return fmt.Errorf("answered %s, not 200 {\"status\":\"ok\"}", resp.Status)
	}
	return nil
}
