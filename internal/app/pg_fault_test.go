package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/store/pgtest"
	"github.com/wsmon/wsmon/internal/store/storetest"
	"github.com/wsmon/wsmon/internal/testkit"
)

// TestPostgresRestart: the PostgreSQL server wsmon writes to goes away
// during a 10,000 messages/s stream — a fast shutdown and start (a
// restart) and an immediate stop that stays down (a crash, the server
// unreachable) — and comes back. Capture never waits for the database:
// the connection stays up, frames wait in the journal, /readyz says the
// writes fail and /api/stats shows the backlog; once the server is back
// every message the chat server sent is stored exactly once, in order.
// The server is the test's own (pgtest.StartServer), not the machine's.
func TestPostgresRestart(t *testing.T) {
	t.Parallel() // servers and child processes of its own: beside the other long fault tests (not the collectors', whose lease timings a busy machine upsets)
	if !pgtest.Enabled() {
		t.Skip("a PostgreSQL test: it runs in make test's PostgreSQL pass (WSMON_TEST_PG_DSN set), on a server of its own")
	}
	if testing.Short() {
		t.Skip("streams for a minute")
	}
	for _, tc := range []struct {
		name string
		mode string        // pg_ctl stop mode
		down time.Duration // how long the server stays down
	}{
		{"restart", "fast", 2 * time.Second},
		{"down 60s", "immediate", 60 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pg := pgtest.StartServer(t)
			o := demo.DefaultOptions()
			o.Addr, o.Rate = "127.0.0.1:0", 0 // no chatter: every message is one of the bursts, numbered 1…n
			d := demo.New(o)
			if err := d.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { d.Close() })
			cfg := testkit.Config(t, d.URL())
			cfg.Protocol = "raw"
			cfg.DatabaseURL = pg.URL()
			m := testkit.Start(t, cfg)
			m.WaitConnected(t, 10*time.Second)
			api := "http://" + m.WebAddr()

			// 10,000 messages/s: 100 every 10 ms, until stop is closed.
			stop, streamed := make(chan struct{}), make(chan struct{})
			began := time.Now()
			go func() {
				defer close(streamed)
				tick := time.NewTicker(10 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						d.Burst(100)
					}
				}
			}()
			stored := func() int64 {
				db, err := storetest.Open(cfg.StoreOptions(true))
				if err != nil {
					return -1
				}
				defer db.Close()
				var n int64 = -1
				db.QueryRow(`SELECT COUNT(*) FROM messages`).Scan(&n)
				return n
			}
			testkit.WaitFor(t, 30*time.Second, "messages stored before the outage", func() bool { return stored() >= 10_000 })

			pg.Stop(t, tc.mode)
			downAt, sentAtStop := time.Now(), d.LastSeq()
			// Half way through the outage: the dashboard says what is
			// happening.
			time.Sleep(tc.down / 2)
			readyz, readyBody := get(t, api+"/readyz")
			var st struct {
				Ingest struct {
					DatabaseError string `json:"database_error"`
					Backlog       int64  `json:"backlog"`
				} `json:"ingest"`
			}
			code, body := get(t, api+"/api/stats")
			json.Unmarshal([]byte(body), &st)
			time.Sleep(tc.down - time.Since(downAt))
			pg.Start(t)
			upAt := time.Now()
			time.Sleep(2 * time.Second) // the stream goes on after the restart too
			close(stop)
			<-streamed
			sent := d.LastSeq()
			rate := float64(sent) / time.Since(began).Seconds()
			testkit.WaitFor(t, 120*time.Second, "every message sent stored", func() bool { return stored() >= sent })
			caughtUp := time.Since(upAt)
			if err := m.Stop(t); err != nil {
				t.Fatal(err)
			}

			// Exactly once, in order: the stored frames are seq 1…sent.
			db := storetest.OpenDB(t, cfg.StoreOptions(true))
			rows, err := db.Query(`SELECT raw FROM messages ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			want := int64(1)
			for rows.Next() {
				var raw []byte
				var f struct{ Seq int64 }
				if err := rows.Scan(&raw); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(raw, &f); err != nil {
					t.Fatalf("stored frame %q: %v", raw, err)
				}
				if f.Seq != want {
					t.Fatalf("stored seq %d where %d was expected (lost, duplicated or out of order)", f.Seq, want)
				}
				want++
			}
			if got := want - 1; got != sent {
				t.Fatalf("stored %d messages, the server sent %d", got, sent)
			}
			if ss := m.Sessions(t); len(ss) != 1 {
				t.Errorf("%d sessions, want 1: the chat connection must stay up through the outage", len(ss))
			}
			if readyz != http.StatusServiceUnavailable {
				t.Errorf("/readyz during the outage: %d %s", readyz, readyBody)
			}
			if code != http.StatusOK || st.Ingest.DatabaseError == "" || st.Ingest.Backlog <= 0 {
				t.Errorf("/api/stats during the outage: %d, database_error %q, backlog %d: %s", code, st.Ingest.DatabaseError, st.Ingest.Backlog, firstN(body, 400))
			}
			t.Logf("%s: PostgreSQL down %.1f s from message %d; during it /readyz %d, backlog %d, %q; %d messages sent in all (%.0f/s), %d stored, 0 lost, 0 twice; stored all %.1f s after it was back",
				tc.name, upAt.Sub(downAt).Seconds(), sentAtStop, readyz, st.Ingest.Backlog, st.Ingest.DatabaseError, sent, rate, want-1, caughtUp.Seconds())
		})
	}
}

func firstN(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return strings.TrimSpace(fmt.Sprint(s))
}
