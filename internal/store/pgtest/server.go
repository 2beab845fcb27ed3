package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// Postgres is a PostgreSQL server of the test's own (initdb in a temporary
// directory, listening on a free loopback port), for tests that stop and
// start the database under a running wsmon. The machine's own PostgreSQL
// is never touched.
type Postgres struct {
	Port int
	dir  string
	bin  string
	as   string // run the server as this user ("" = as this process): PostgreSQL refuses to run as root
}

// pgBinDir finds PostgreSQL's server binaries (Debian keeps them under
// /usr/lib/postgresql/<version>/bin).
func pgBinDir() string {
	if d := os.Getenv("WSMON_PG_BIN"); d != "" {
		return d
	}
	ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(ms) > 0 {
		return filepath.Dir(ms[len(ms)-1])
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// StartServer initialises and starts a PostgreSQL server for t, stopped
// when t ends. It skips the test when PostgreSQL's server binaries are not
// installed (fails under WSMON_REQUIRE_SERVERS).
func StartServer(t testing.TB) *Postgres {
	t.Helper()
	bin := pgBinDir()
	if bin == "" {
		if os.Getenv("WSMON_REQUIRE_SERVERS") != "" {
			t.Fatal("PostgreSQL's initdb not found (set WSMON_PG_BIN)")
		}
		t.Skip("PostgreSQL server binaries not installed (initdb)")
	}
	p := &Postgres{bin: bin}
	base := t.TempDir()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root and no postgres user to run PostgreSQL as: %v", err)
		}
		p.as = u.Username
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		// The temporary directory's parents must be traversable.
		for d := base; d != "/" && d != "."; d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
				os.Chmod(d, fi.Mode().Perm()|0o011)
			}
		}
		if err := os.Chown(base, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	p.dir = filepath.Join(base, "pg")
	p.Port = freePort(t)
	if out, err := p.run("initdb", "-D", p.dir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	conf := fmt.Sprintf("listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\nfsync = off\nmax_connections = 50\n", p.Port, p.dir)
	f, err := os.OpenFile(filepath.Join(p.dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(conf)
	f.Close()
	p.Start(t)
	t.Cleanup(func() { p.run("pg_ctl", "-D", p.dir, "-m", "immediate", "-w", "stop") })
	return p
}

// URL is the DSN of the server's postgres database.
func (p *Postgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.Port)
}

// Start starts the (stopped) server and waits until it accepts
// connections.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	if out, err := p.run("pg_ctl", "-D", p.dir, "-l", filepath.Join(p.dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// Stop stops the server: "fast" disconnects every client and shuts down
// cleanly, "immediate" is a crash (recovery at the next start).
func (p *Postgres) Stop(t testing.TB, mode string) {
	t.Helper()
	if out, err := p.run("pg_ctl", "-D", p.dir, "-m", mode, "-w", "-t", "60", "stop"); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

func (p *Postgres) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	if p.as != "" {
		cmd = exec.Command("runuser", append([]string{"-u", p.as, "--", filepath.Join(p.bin, name)}, args...)...)
	}
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	return out, err
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
