package app

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/wsmon/wsmon/internal/config"
)

// checkWritable makes sure a writing process (monitor, all) can write
// where it must: every data directory (created if missing) and the
// database file when it exists. The error names the path, the problem
// and the user, instead of SQLite's "unable to open database file (14)"
// later.
func checkWritable(cfg config.Config) error {
	for _, dir := range cfg.WriterDirs() {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return notWritable(dir, "cannot be created", err)
		}
		f, err := os.CreateTemp(dir, ".wsmon-write-check-*")
		if err != nil {
			return notWritable(dir, "is not writable", err)
		}
		f.Close()
		os.Remove(f.Name())
	}
	if !cfg.Postgres() {
		f, err := os.OpenFile(cfg.DatabasePath, os.O_WRONLY, 0)
		switch {
		case err == nil:
			f.Close()
		case errors.Is(err, fs.ErrNotExist):
		default:
			return notWritable(cfg.DatabasePath, "cannot be written", err)
		}
	}
	return nil
}

// notWritable words a permission problem for an operator.
func notWritable(path, what string, err error) error {
	abs, aerr := filepath.Abs(path)
	if aerr != nil {
		abs = path
	}
	who := "uid " + strconv.Itoa(os.Getuid())
	if u, uerr := user.Current(); uerr == nil {
		who = u.Username + " (" + who + ")"
	}
	var hint string
	switch {
	case errors.Is(err, syscall.EROFS):
		hint = "the file system is mounted read-only"
	case errors.Is(err, fs.ErrPermission):
		hint = "permission denied for " + who + ": give it write access (chown/chmod), or set database_path / data_dir (--db) to a directory it can write"
	case errors.Is(err, syscall.ENOSPC):
		hint = "no space left on the device"
	default:
		hint = cause(err)
	}
	return fmt.Errorf("data directory: %s %s: %s", abs, what, hint)
}

// errNoDatabase is why `wsmon web` does not start where no monitor has
// written: it would create an empty database and show an empty dashboard.
func errNoDatabase(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	wd, _ := os.Getwd()
	return fmt.Errorf("no database at %s (database_path %q, working directory %s): no monitor has written there. Start `wsmon monitor` or `wsmon all` with the same database_path first, or point --db at the database a monitor writes", abs, path, wd)
}

// webReadOnly reports whether `wsmon web` must open the database
// read-only: it exists, and this user cannot write it or its directory
// (SQLite writes -wal and -shm files beside it), as for a backup copy.
// A missing database is errNoDatabase.
func webReadOnly(path string) (bool, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, errNoDatabase(path)
		}
		return false, fmt.Errorf("database %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return true, nil
		}
		return false, fmt.Errorf("database %s: %w", path, err)
	}
	f.Close()
	t, err := os.CreateTemp(filepath.Dir(path), ".wsmon-write-check-*")
	if err != nil {
		return true, nil
	}
	t.Close()
	os.Remove(t.Name())
	return false, nil
}
