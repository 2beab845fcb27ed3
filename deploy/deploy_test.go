package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wsmon/wsmon/internal/cli"
	"github.com/wsmon/wsmon/internal/config"
)

// Docker cannot run where the tests do, so these tests read the
// Dockerfile as Docker would (instructions, stages) and check what a build
// and a `docker run` depend on against the repository itself.

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int    // first line, 1-based
	cmd  string // upper case: FROM, RUN, COPY...
	args string
}

// stage is one FROM and the instructions after it.
type stage struct {
	image, name string
	ins         []instruction
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// parseDockerfile splits a Dockerfile into stages. Comment lines (also
// inside a continued instruction, as Docker allows) are dropped.
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stages []stage
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		cont := strings.HasSuffix(trimmed, "\\")
		cur.WriteString(strings.TrimSuffix(trimmed, "\\"))
		cur.WriteByte(' ')
		if cont {
			continue
		}
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			s := stage{image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("%s:%d: %s before the first FROM", path, in.line, in.cmd)
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	if cur.Len() > 0 {
		t.Fatalf("%s: ends inside a continued line", path)
	}
	return stages
}

// shellWords splits a shell command line into words (quotes removed) and
// the operators ;, &&, || and | as words of their own. $(...) and
// variables are kept as text.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, w.String())
			w.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			inWord = true
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				j = len(s) - i - 1
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == ' ' || c == '\t' || c == '\n':
			flush()
		case c == ';' || c == '|' || c == '&':
			flush()
			op := string(c)
			if i+1 < len(s) && s[i+1] == c && c != ';' {
				op += string(c)
				i++
			}
			words = append(words, op)
		default:
			inWord = true
			w.WriteByte(c)
		}
	}
	flush()
	return words
}

func isOperator(w string) bool { return w == ";" || w == "&&" || w == "||" || w == "|" || w == "&" }

// makeTargets returns the targets of every `make` command in a shell
// line. Variable assignments (VERSION=x) are not targets; options that
// take a separate argument are refused, so nothing is misread.
func makeTargets(line string) ([]string, error) {
	words := shellWords(line)
	var targets []string
	for i := 0; i < len(words); i++ {
		if words[i] != "make" || (i > 0 && !isOperator(words[i-1])) {
			continue
		}
		for i++; i < len(words) && !isOperator(words[i]); i++ {
			w := words[i]
			switch {
			case slices.Contains([]string{"-C", "-f", "-o", "-W", "-I", "--file", "--directory"}, w):
				return nil, fmt.Errorf("make option %s: not understood by this test", w)
			case strings.HasPrefix(w, "-"), strings.Contains(w, "="):
			default:
				targets = append(targets, w)
			}
		}
	}
	return targets, nil
}

// makefileRules returns each explicit target of the Makefile with its
// literal prerequisites (variables such as $(UIDIST) are left out).
func makefileRules(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string][]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || line[0] == '\t' || line[0] == '#' {
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon < 0 || strings.Contains(line[:colon], "=") || strings.HasPrefix(line[colon:], ":=") || strings.HasPrefix(line[colon:], "::") {
			continue // not a rule: an assignment or a recipe continuation
		}
		deps, _, _ := strings.Cut(line[colon+1:], "#")
		deps, _, _ = strings.Cut(deps, ";")
		var literal []string
		for _, d := range strings.Fields(deps) {
			if !strings.Contains(d, "$") {
				literal = append(literal, d)
			}
		}
		for _, target := range strings.Fields(line[:colon]) {
			if !strings.ContainsAny(target, "$%") {
				rules[target] = append(rules[target], literal...)
			}
		}
	}
	return rules
}

// ciTargets returns the make targets .ci/run builds: those it names and,
// transitively, their prerequisites.
func ciTargets(t *testing.T, rules map[string][]string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var visit func(string)
	visit = func(target string) {
		if seen[target] {
			return
		}
		seen[target] = true
		for _, d := range rules[target] {
			visit(d)
		}
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		targets, err := makeTargets(line)
		if err != nil {
			t.Fatalf(".ci/run: %q: %v", line, err)
		}
		for _, target := range targets {
			visit(target)
		}
	}
	return seen
}

// TestDockerfileBuildsWithCITargets: every `make X` the image's build runs
// is a Makefile target that CI builds too, the dashboard is built where
// npm exists (without it `make ui` builds nothing and says so in a log
// nobody reads) and reaches the binary's stage, and the binary comes from
// the Makefile's output path.
func TestDockerfileBuildsWithCITargets(t *testing.T) {
	stages := parseDockerfile(t, "Dockerfile")
	if len(stages) < 2 {
		t.Fatalf("%d stage(s); want a multi-stage build", len(stages))
	}
	rules := makefileRules(t, "../Makefile")
	ci := ciTargets(t, rules)
	builtBy := map[string]string{} // make target -> stage name
	for _, s := range stages {
		for _, in := range s.all("RUN") {
			targets, err := makeTargets(in.args)
			if err != nil {
				t.Errorf("Dockerfile:%d: %v", in.line, err)
			}
			for _, target := range targets {
				if _, ok := rules[target]; !ok {
					t.Errorf("Dockerfile:%d: `make %s`: the Makefile has no target %q", in.line, target, target)
				} else if !ci[target] {
					t.Errorf("Dockerfile:%d: `make %s`: .ci/run never builds %q, so CI does not test this step", in.line, target, target)
				}
				builtBy[target] = s.name
			}
		}
	}
	for _, target := range []string{"ui", "build"} {
		if _, ok := builtBy[target]; !ok {
			t.Errorf("no stage runs `make %s`", target)
		}
	}
	uiStage, okUI := builtBy["ui"]
	buildStage, okBuild := builtBy["build"]
	if !okUI || !okBuild {
		t.FailNow()
	}
	for _, s := range stages {
		switch s.name {
		case uiStage:
			if !strings.HasPrefix(s.image, "node:") {
				t.Errorf("`make ui` runs in stage %q from %s, which may have no npm: want a node image", s.name, s.image)
			}
		case buildStage:
			copied := false
			for _, in := range s.all("COPY") {
				copied = copied || strings.Contains(in.args, "--from="+uiStage) && strings.Contains(in.args, "internal/webui/dist")
			}
			if !copied {
				t.Errorf("stage %q runs `make build` without copying internal/webui/dist from stage %q: the binary would say \"UI not built\"", s.name, uiStage)
			}
		}
	}
	final := stages[len(stages)-1]
	binary := ""
	for _, in := range final.all("COPY") {
		f := strings.Fields(in.args)
		if slices.Contains(f, "--from="+buildStage) && strings.HasSuffix(f[len(f)-2], "/bin/wsmon") {
			binary = f[len(f)-1]
		}
	}
	if binary == "" {
		t.Fatalf("the final stage copies no bin/wsmon (the Makefile's BIN) from stage %q", buildStage)
	}
	entry := execForm(t, final, "ENTRYPOINT")
	if len(entry) == 0 || entry[0] != binary {
		t.Errorf("ENTRYPOINT %q does not run %s", entry, binary)
	}
}

// execForm returns the JSON (exec) form of the final stage's cmd; a shell
// form needs /bin/sh, which a distroless or scratch image does not have.
func execForm(t *testing.T, s stage, cmd string) []string {
	t.Helper()
	ins := s.all(cmd)
	if len(ins) != 1 {
		t.Fatalf("final stage: %d %s instructions, want 1", len(ins), cmd)
	}
	args := ins[0].args
	if cmd == "HEALTHCHECK" {
		_, args, _ = strings.Cut(args, " CMD ")
	}
	var v []string
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		t.Fatalf("Dockerfile:%d: %s %s: want the exec form [\"...\"] (no shell in the image): %v", ins[0].line, cmd, args, err)
	}
	return v
}

// finalEnv returns the final stage's ENV as KEY=value strings, in order.
func finalEnv(t *testing.T, s stage) []string {
	t.Helper()
	var env []string
	for _, in := range s.all("ENV") {
		for _, w := range shellWords(in.args) {
			if !strings.Contains(w, "=") {
				t.Fatalf("Dockerfile:%d: ENV %s: use the KEY=value form", in.line, in.args)
			}
			env = append(env, w)
		}
	}
	return env
}

// TestDockerImageRunsUnprivileged: the final stage is distroless or
// scratch, runs as a non-root user, exposes the dashboard port, declares
// /data a volume and keeps everything wsmon writes under it, and checks
// its health with `wsmon health` (exec form: there is no shell), a mode
// the binary has.
func TestDockerImageRunsUnprivileged(t *testing.T) {
	stages := parseDockerfile(t, "Dockerfile")
	final := stages[len(stages)-1]
	if !strings.HasPrefix(final.image, "gcr.io/distroless/") && final.image != "scratch" {
		t.Errorf("final image %s: want distroless or scratch", final.image)
	}
	if n := len(final.all("RUN")); n > 0 {
		t.Errorf("final stage has %d RUN: there is no shell to run them", n)
	}
	users := final.all("USER")
	if len(users) == 0 {
		t.Fatal("final stage sets no USER: it would run as root")
	}
	user, _, _ := strings.Cut(users[len(users)-1].args, ":")
	if uid, err := strconv.Atoi(user); user == "root" || err == nil && uid == 0 || err != nil {
		t.Errorf("USER %s: want a numeric non-root uid (runAsNonRoot can only check a number)", users[len(users)-1].args)
	}

	env := finalEnv(t, final)
	cfg, err := config.Load(config.LoadOptions{ConfigPath: emptyConfig(t), Env: append(slices.Clone(env), "WSMON_WEB_TOKEN="+token(t))})
	if err != nil {
		t.Fatalf("the image's ENV with a token does not load: %v", err)
	}
	var exposed []string
	for _, in := range final.all("EXPOSE") {
		exposed = append(exposed, strings.Fields(in.args)...)
	}
	if !slices.Contains(exposed, strconv.Itoa(cfg.WebPort)) && !slices.Contains(exposed, strconv.Itoa(cfg.WebPort)+"/tcp") {
		t.Errorf("EXPOSE %v does not include web_port %d", exposed, cfg.WebPort)
	}
	var volumes []string
	for _, in := range final.all("VOLUME") {
		var v []string
		if json.Unmarshal([]byte(in.args), &v) != nil {
			v = strings.Fields(in.args)
		}
		volumes = append(volumes, v...)
	}
	if !slices.Contains(volumes, "/data") {
		t.Errorf("VOLUME %v does not declare /data", volumes)
	}
	for _, p := range append([]string{cfg.DatabasePath, cfg.LogDir}, cfg.WriterDirs()...) {
		if p != "/data" && !strings.HasPrefix(p, "/data/") {
			t.Errorf("%s is outside the /data volume: lost with the container", p)
		}
	}
	if wd := final.all("WORKDIR"); len(wd) == 0 || wd[len(wd)-1].args != "/data" {
		t.Errorf("WORKDIR should be /data, so that relative paths and config.json are in the volume")
	}

	hc := execForm(t, final, "HEALTHCHECK")
	if entry := execForm(t, final, "ENTRYPOINT"); len(hc) < 2 || hc[0] != entry[0] || hc[1] != "health" {
		t.Fatalf("HEALTHCHECK CMD %q: want [%q, \"health\"]", hc, entry[0])
	}
	var out bytes.Buffer
	if code := cli.Run(context.Background(), append(hc[1:], "--help"), cli.Env{Stdout: &out, Stderr: &out}); code != cli.ExitOK ||
		!strings.Contains(out.String(), "/healthz") {
		t.Errorf("`wsmon %s --help`: exit %d, %q", strings.Join(hc[1:], " "), code, out.String())
	}
}

func emptyConfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// copyTree copies the directory src to dst: files, directories, and
// symbolic links as links (units are aliased and enabled by links).
func copyTree(dst, src string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(to, data, 0o644)
		}
		return nil
	})
}

// token stands for "$(openssl rand -hex 16)".
func token(t *testing.T) string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// dockerRun is one `docker run` of the deployment guide.
type dockerRun struct {
	text    string
	env     []string // -e values, KEY=value
	ports   []string // -p values
	volumes []string // -v values
	rm      bool
	image   string
	args    []string // after the image
}

// docCommands returns the shell lines of docs/deployment.md's code blocks,
// continuation lines joined, and the values of the `export K=V` lines
// before each.
func docCommands(t *testing.T) (lines []string, exports []map[string]string) {
	t.Helper()
	data, err := os.ReadFile("../docs/deployment.md")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	exportRE := regexp.MustCompile(`^export ([A-Z_][A-Z0-9_]*)=(.*)$`)
	inCode, cur := false, ""
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
			continue
		}
		if !inCode {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\")
			continue
		}
		line, cur = strings.TrimSpace(cur+line), ""
		if m := exportRE.FindStringSubmatch(line); m != nil {
			v := strings.Join(shellWords(m[2]), " ")
			switch {
			case v == "$(openssl rand -hex 16)":
				v = token(t)
			case strings.Contains(v, "$"):
				t.Fatalf("docs/deployment.md: %q: this test knows what $(openssl rand -hex 16) gives, not this", line)
			}
			vars[m[1]] = v
		}
		lines = append(lines, line)
		exports = append(exports, maps.Clone(vars))
	}
	return lines, exports
}

// parseDockerRun reads a `docker run` line. Options it does not know fail
// the test, so that a new one in the guide is looked at here.
func parseDockerRun(t *testing.T, line string, vars map[string]string) dockerRun {
	t.Helper()
	words := shellWords(line)
	r := dockerRun{text: line}
	withValue := map[string]*[]string{"-e": &r.env, "--env": &r.env, "-p": &r.ports, "--publish": &r.ports, "-v": &r.volumes, "--volume": &r.volumes}
	ignoredValue := []string{"--name", "--restart", "--stop-timeout", "--user", "-u"}
	flags := []string{"-d", "--detach", "--rm", "-it", "-i", "-t", "--init", "--read-only"}
	for i := 2; i < len(words); i++ {
		w := words[i]
		switch {
		case isOperator(w):
			t.Fatalf("%q: one docker run per line, please", line)
		case withValue[w] != nil && i+1 < len(words):
			i++
			*withValue[w] = append(*withValue[w], words[i])
		case slices.Contains(ignoredValue, w) && i+1 < len(words):
			i++
		case slices.Contains(flags, w):
			r.rm = r.rm || w == "--rm"
		case strings.HasPrefix(w, "-"):
			t.Fatalf("%q: docker run option %s: not understood by this test; add it", line, w)
		default:
			r.image, r.args = w, words[i+1:]
			i = len(words)
		}
	}
	for i, e := range r.env {
		if !strings.Contains(e, "=") {
			v, ok := vars[e]
			if !ok {
				t.Fatalf("%q: -e %s takes its value from the shell, but the guide exports no %s before it", line, e, e)
			}
			r.env[i] = e + "=" + v
		}
	}
	return r
}

// TestDeploymentGuideDockerRunsStart: every `docker run` in
// docs/deployment.md passes wsmon's own configuration checks with the
// image's ENV and the variables it sets (a 0.0.0.0 bind needs a 16+
// character token: the guide's `openssl rand -hex 16` gives 32), publishes
// the dashboard's port, and keeps its data on the /data volume. Without
// the token the same command is refused, as the brief's plain
// `docker run -p 8001:8001` would be.
func TestDeploymentGuideDockerRunsStart(t *testing.T) {
	stages := parseDockerfile(t, "Dockerfile")
	imageEnv := finalEnv(t, stages[len(stages)-1])
	lines, exports := docCommands(t)
	runs, built := 0, false
	for i, line := range lines {
		if strings.HasPrefix(line, "docker build ") {
			w := shellWords(line)
			built = built || slices.Contains(w, "deploy/Dockerfile") && slices.Contains(w, "wsmon") && w[len(w)-1] == "."
		}
		if !strings.HasPrefix(line, "docker run ") {
			continue
		}
		runs++
		r := parseDockerRun(t, line, exports[i])
		t.Run(strconv.Itoa(runs), func(t *testing.T) {
			if r.image != "wsmon" && !strings.HasPrefix(r.image, "wsmon:") {
				t.Fatalf("%q: image %q, want the wsmon image the guide builds", line, r.image)
			}
			ov := config.Overrides{Values: map[string]string{}}
			mode := "all"
			if len(r.args) > 0 {
				mode = r.args[0]
			}
			if !slices.Contains([]string{"all", "monitor", "web"}, mode) {
				t.Fatalf("%q: mode %q", line, mode)
			}
			for _, a := range r.args[min(1, len(r.args)):] {
				switch a {
				case "--demo": // as cli's runMode does
					u := "ws://127.0.0.1:8000/ws/chat"
					ov.URL = &u
					ov.Values["target_name"] = "demo"
				default:
					t.Fatalf("%q: argument %q: not understood by this test; add it", line, a)
				}
			}
			env := append(slices.Clone(imageEnv), r.env...)
			cfg, err := config.Load(config.LoadOptions{ConfigPath: emptyConfig(t), Env: env, Overrides: ov})
			if err != nil {
				t.Fatalf("%q: wsmon would refuse to start: %v", line, err)
			}
			if config.IsLoopback(cfg.WebHost) {
				t.Errorf("%q: web_host %s: the published port would not reach it", line, cfg.WebHost)
			}
			published := false
			for _, p := range r.ports {
				published = published || strings.TrimSuffix(p[strings.LastIndexByte(p, ':')+1:], "/tcp") == strconv.Itoa(cfg.WebPort)
			}
			if !published {
				t.Errorf("%q: no -p publishes web_port %d", line, cfg.WebPort)
			}
			for _, v := range r.volumes {
				if _, dst, _ := strings.Cut(v, ":"); dst != "/data" {
					t.Errorf("%q: volume %s: the data is under /data", line, v)
				}
			}
			if len(r.volumes) == 0 && !r.rm {
				t.Errorf("%q: no -v …:/data: the data would live in an anonymous volume", line)
			}

			var without []string
			for _, e := range env {
				if !strings.HasPrefix(e, "WSMON_WEB_TOKEN=") {
					without = append(without, e)
				}
			}
			if _, err := config.Load(config.LoadOptions{ConfigPath: emptyConfig(t), Env: without, Overrides: ov}); err == nil ||
				!strings.Contains(err.Error(), "web_host") {
				t.Errorf("%q without WSMON_WEB_TOKEN: want the web_host refusal, got %v", line, err)
			}
		})
	}
	if runs == 0 {
		t.Fatal("docs/deployment.md has no docker run")
	}
	if !built {
		t.Error("docs/deployment.md has no `docker build -f deploy/Dockerfile -t wsmon ... .`")
	}
}

// TestSystemdUnitVerifies runs `systemd-analyze verify` on wsmon.service
// unchanged. Verify resolves the units it depends on and checks that
// ExecStart's binary is executable, so it runs in a scratch root
// (--root): a copy of the system's unit directory, the unit in
// etc/systemd/system and an empty executable at ExecStart's path. It
// works without systemd running (a container, CI). Verify exits 0 on an
// unknown or misspelt directive and only prints it, so any output fails.
// CI sets WSMON_REQUIRE_SYSTEMD_ANALYZE=1 (and installs systemd); elsewhere
// the test skips without systemd-analyze.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("WSMON_REQUIRE_SYSTEMD_ANALYZE") != "" {
			t.Fatal("systemd-analyze not found (apt-get install systemd)")
		}
		t.Skip("systemd-analyze not found")
	}
	unit, err := os.ReadFile("wsmon.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=wsmon", "ProtectSystem=strict", "NoNewPrivileges=yes",
		"Restart=on-failure", "WorkingDirectory=/var/lib/wsmon", "PrivateTmp=yes", "ProtectHome=yes",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).Match(unit) {
			t.Errorf("wsmon.service lacks %s", want)
		}
	}
	if out := verify(t, analyze, unit); out != "" {
		t.Errorf("systemd-analyze verify wsmon.service:\n%s", out)
	}
	// The check itself: a misspelt directive must be reported.
	broken := regexp.MustCompile(`(?m)^ProtectSystem=`).ReplaceAll(unit, []byte("ProtectSytem="))
	if out := verify(t, analyze, broken); !strings.Contains(out, "ProtectSytem") {
		t.Errorf("verify of a unit with a misspelt key printed %q; the check would miss mistakes", out)
	}
}

// verify runs systemd-analyze verify on unit in a scratch root and returns
// what it printed, with its exit status when not 0.
func verify(t *testing.T, analyze string, unit []byte) string {
	t.Helper()
	root := t.TempDir()
	system := ""
	for _, d := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		if fi, err := os.Stat(filepath.Join(d, "multi-user.target")); err == nil && !fi.IsDir() {
			system = d
			break
		}
	}
	if system == "" {
		t.Fatal("no systemd unit directory with multi-user.target")
	}
	if err := copyTree(filepath.Join(root, "usr/lib/systemd/system"), system); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ExecStart=[-@:+!]*(/\S+)`).FindSubmatch(unit)
	if m == nil {
		t.Fatal("wsmon.service: no ExecStart with an absolute path")
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{{string(m[1]), []byte("#!/bin/sh\n"), 0o755}, {"/etc/systemd/system/wsmon.service", unit, 0o644}} {
		p := filepath.Join(root, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(analyze, "verify", "--root="+root, "wsmon.service").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%s(%v)", out, err)
	}
	return strings.TrimSpace(string(out))
}
