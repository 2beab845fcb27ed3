package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReconnectBackoff: reconnect_backoff defaults to true, is read from
// the file and the environment, and a wrong type stops start-up naming it.
func TestReconnectBackoff(t *testing.T) {
	if !Defaults().BackoffEnabled() {
		t.Fatal("the default is not a growing backoff")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "c.json")
	os.WriteFile(file, []byte(`{"reconnect_backoff": false}`), 0o644)
	cfg, err := Load(LoadOptions{ConfigPath: file})
	if err != nil || cfg.BackoffEnabled() {
		t.Fatalf("file false: %v, enabled %v", err, cfg.BackoffEnabled())
	}
	cfg, err = Load(LoadOptions{ConfigPath: file, Env: []string{"WSMON_RECONNECT_BACKOFF=on"}})
	if err != nil || !cfg.BackoffEnabled() {
		t.Fatalf("environment on: %v, enabled %v", err, cfg.BackoffEnabled())
	}
	os.WriteFile(file, []byte(`{"reconnect_backoff": "no"}`), 0o644)
	if _, err := Load(LoadOptions{ConfigPath: file}); err == nil || !strings.Contains(err.Error(), `"reconnect_backoff"`) {
		t.Fatalf("wrong type: %v", err)
	}
	if r := cfg.Redacted(); r.ReconnectBackoff == cfg.ReconnectBackoff {
		t.Error("Redacted shares the pointer")
	}
}
