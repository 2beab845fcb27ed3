package web

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/ingest"
	"github.com/wsmon/wsmon/internal/journal"
	"github.com/wsmon/wsmon/internal/protocol"
	"github.com/wsmon/wsmon/internal/store"
)

// TestCleanStopCommitsEverything follows the clean stop documented on
// ingest.Pipeline.Run (and done by app.Monitor.Run): append, close the
// journal, wait for Run. Everything appended must then be in the database.
//
// It exposes a race in journal.Reader.Next: Close sets closed while the
// flusher has swapped the pending buffer out but not yet published the
// records as durable, so Next sees closed && Pending()==0 && next > durable
// and returns ErrEOF before the last records were read.
func TestCleanStopCommitsEverything(t *testing.T) {
	for round := range 50 {
		dir := t.TempDir()
		ctx := context.Background()
		st, err := store.Open(ctx, store.Options{Path: filepath.Join(dir, "db")})
		if err != nil {
			t.Fatal(err)
		}
		j, err := journal.Open(filepath.Join(dir, "journal"), 1, journal.Options{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := ingest.New(ctx, ingest.Options{Journal: j, Store: st, Logger: discardLogger()})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		rec := ingest.Recorder{J: j}
		sid, _ := rec.SessionStart("t", "ws://x", "raw", time.Now())
		const n = 50
		for i := range n {
			data := fmt.Appendf(nil, `{"id":"m-%d","type":"chat","user":"u","content":"c %d"}`, i, i)
			if err := rec.Frame("t", sid, time.Now(), protocol.Frame{Data: data}, ""); err != nil {
				t.Fatal(err)
			}
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		got, _ := st.CountMessages(ctx, store.MessageQuery{})
		st.Close()
		if got != n {
			t.Fatalf("round %d: after the clean stop the database holds %d of %d messages (journal.Reader.Next returned ErrEOF early)", round, got, n)
		}
	}
}
