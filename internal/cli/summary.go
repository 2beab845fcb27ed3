package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"

	"github.com/wsmon/wsmon/internal/app"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/store"
)

// bareHash is what `git describe --always` prints without a tag: a commit
// hash, perhaps marked -dirty.
var bareHash = regexp.MustCompile(`^[0-9a-f]{7,40}(-dirty)?$`)

// DisplayVersion is the version as people and the dashboard see it: a tag
// as it is ("v1.2.0", "v1.2.0-3-gabc1234"), a bare commit hash as
// "dev a1cc8ca" (a hash is not a version number, and showing it as
// "va1cc8ca" reads as one), "dev" for an unstamped build.
func DisplayVersion(v string) string {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return "dev"
	case bareHash.MatchString(v):
		return "dev " + v
	}
	return v
}

// startSummary is what a mode prints once everything is running: a few
// lines an operator reads at a glance (the whole configuration is logged
// at DEBUG).
type startSummary struct {
	mode, version string
	cfg           config.Config
	run           app.Running
	demo          *demo.Server
	demoNote      string
}

type summaryTarget struct{ name, url, protocol string }

func (s startSummary) targets() []summaryTarget {
	var out []summaryTarget
	if s.run.Monitor != nil {
		infos, _ := s.run.Monitor.TargetInfos(context.Background())
		for _, t := range infos {
			p := t.Config.Protocol
			if t.Paused {
				p += ", paused"
			}
			out = append(out, summaryTarget{t.Config.Name, t.Config.URL, p})
		}
		return out
	}
	return out
}

// auth says whether the dashboard asks for credentials.
func (s startSummary) auth() string {
	c := s.cfg
	var ways []string
	if c.WebToken != "" {
		ways = append(ways, "token")
	}
	if c.WebUser != "" {
		ways = append(ways, "user and password")
	}
	switch {
	case len(ways) > 0:
		return "on (" + strings.Join(ways, ", ") + ")"
	case c.WebInsecureNoAuth:
		return "OFF on a non-loopback address (web_insecure_no_auth)"
	}
	return "off (the dashboard accepts connections from this machine only)"
}

func (s startSummary) dashboard() string {
	if s.run.WebAddr == "" {
		return ""
	}
	return "http://" + s.run.WebAddr + "/"
}

// write prints the summary to w, or, with JSON logs, logs it as one record.
func (s startSummary) write(w io.Writer, log *slog.Logger, json bool) {
	ts := s.targets()
	if json {
		attrs := []any{"mode", s.mode, "version", s.version, "database", s.cfg.DatabasePath}
		for i, t := range ts {
			attrs = append(attrs, fmt.Sprintf("target.%d", i), t.name+" "+t.url+" ("+t.protocol+")")
		}
		if d := s.dashboard(); d != "" {
			attrs = append(attrs, "dashboard", d, "auth", s.auth())
		}
		if s.demo != nil {
			attrs = append(attrs, "demo", s.demo.URL())
		}
		log.Info("wsmon started", attrs...)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "wsmon %s started (%s)\n", s.mode, s.version)
	if s.demo != nil {
		fmt.Fprintf(&b, "  demo server  %s", s.demo.URL())
		if s.demoNote != "" {
			fmt.Fprintf(&b, " (%s)", s.demoNote)
		}
		b.WriteString("\n")
	}
	for _, t := range ts {
		fmt.Fprintf(&b, "  target       %s  %s  (protocol %s)\n", t.name, t.url, t.protocol)
	}
	if s.run.Monitor != nil && len(ts) == 0 {
		b.WriteString("  target       none\n")
	}
	if s.cfg.Postgres() {
		fmt.Fprintf(&b, "  database     PostgreSQL %s\n", store.RedactURL(s.cfg.DatabaseURL))
	} else {
		fmt.Fprintf(&b, "  database     %s\n", s.cfg.DatabasePath)
	}
	if d := s.dashboard(); d != "" {
		fmt.Fprintf(&b, "  auth         %s\n", s.auth())
		fmt.Fprintf(&b, "Dashboard:\n  %s\n", d)
	}
	io.WriteString(w, b.String())
}
