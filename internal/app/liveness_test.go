package app

import (
	"testing"
	"time"
)

// TestSeparateWebSeesTheMonitorStop: a separate web process shows the
// monitor's per-target state (waiting, with the next attempt's time and
// the error's code) while it runs, and, once it stops cleanly, the monitor
// as stopped and its target as stopped with code monitor_stopped.
func TestSeparateWebSeesTheMonitorStop(t *testing.T) {
	cfg := testConfig(t, "ws://"+closedPort(t)+"/")
	cfg.ReconnectInterval = 1
	mon := start(t, ModeMonitor, cfg)
	w := start(t, ModeWeb, cfg)
	base := "http://" + w.webAddr
	type stats struct {
		Monitor []struct {
			State         string  `json:"state"`
			ErrorCode     string  `json:"error_code"`
			NextAttemptAt *string `json:"next_attempt_at"`
		} `json:"monitor"`
		Process struct {
			State string `json:"state"`
			Mode  string `json:"mode"`
		} `json:"monitor_process"`
	}
	var s stats
	waitFor(t, 10*time.Second, "the target waiting to reconnect", func() bool {
		getJSON(t, base+"/api/stats", &s)
		return len(s.Monitor) == 1 && s.Monitor[0].State == "disconnected" && s.Monitor[0].NextAttemptAt != nil
	})
	if s.Monitor[0].ErrorCode != "connection_refused" || s.Process.State != "running" || s.Process.Mode != "monitor" {
		t.Fatalf("while running: %+v", s)
	}
	if err := mon.stop(); err != nil {
		t.Fatal(err)
	}
	getJSON(t, base+"/api/stats", &s)
	if s.Process.State != "stopped" || len(s.Monitor) != 1 || s.Monitor[0].State != "stopped" || s.Monitor[0].ErrorCode != "monitor_stopped" || s.Monitor[0].NextAttemptAt != nil {
		t.Fatalf("after the monitor stopped: %+v", s)
	}
}
