package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestTargetsAndStatus: stored targets are upserted, paused, listed and
// deleted; their status rows are written and read back, and deleting a
// target drops its status but not its sessions.
func TestTargetsAndStatus(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testOptions(t, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.PutTarget(ctx, TargetRow{Name: "a", Config: []byte(`{"name":"a"}`), Source: SourceConfig}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTarget(ctx, TargetRow{Name: "b", Config: []byte(`{"name":"b"}`), Source: SourceAPI}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTarget(ctx, TargetRow{Name: "a", Config: []byte(`{"name":"a","url":"ws://x"}`), Source: SourceConfig}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTargetPaused(ctx, "b", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTargetPaused(ctx, "nope", true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pause unknown: %v", err)
	}
	ts, err := s.Targets(ctx)
	if err != nil || len(ts) != 2 {
		t.Fatalf("targets: %v %+v", err, ts)
	}
	if string(ts[0].Config) != `{"name":"a","url":"ws://x"}` || ts[0].Paused || ts[0].Source != SourceConfig {
		t.Fatalf("a: %+v", ts[0])
	}
	if !ts[1].Paused || ts[1].Source != SourceAPI {
		t.Fatalf("b: %+v", ts[1])
	}
	since := time.UnixMilli(time.Now().UnixMilli())
	err = s.PutTargetStatuses(ctx, []TargetStatus{
		{Name: "a", State: "connected", Protocol: "raw", Since: since, Reconnects: 2, Frames: 7, LastMessageAt: since},
		{Name: "b", State: "refused", Stopped: "server refused", LastError: "server refused", Since: since},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutTargetStatuses(ctx, []TargetStatus{{Name: "a", State: "disconnected", Protocol: "raw", Since: since, Reconnects: 3, Frames: 7}}); err != nil {
		t.Fatal(err)
	}
	sts, err := s.TargetStatuses(ctx)
	if err != nil || len(sts) != 2 {
		t.Fatalf("statuses: %v %+v", err, sts)
	}
	if sts[0].State != "disconnected" || sts[0].Reconnects != 3 || !sts[0].Since.Equal(since) || !sts[0].LastMessageAt.IsZero() {
		t.Fatalf("a status: %+v", sts[0])
	}
	if sts[1].State != "refused" || sts[1].Stopped != "server refused" {
		t.Fatalf("b status: %+v", sts[1])
	}
	err = s.ApplyBatch(ctx, &Batch{AppliedSeq: 1, Starts: []SessionStart{{ID: 1, Target: "b", URL: "ws://b", At: time.Now()}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTarget(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTarget(ctx, "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
	if _, err := s.Target(ctx, "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("target after delete: %v", err)
	}
	sts, _ = s.TargetStatuses(ctx)
	if len(sts) != 1 || sts[0].Name != "a" {
		t.Fatalf("statuses after delete: %+v", sts)
	}
	if ses, _ := s.Sessions(ctx, "b", 10); len(ses) != 1 {
		t.Fatalf("sessions of a deleted target: %+v", ses)
	}
}
