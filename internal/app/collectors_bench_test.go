package app

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/store/pgtest"
)

// BenchmarkCollectorsIngest measures ingest into one PostgreSQL database
// (a server of the benchmark's own) by 1 and by 4 collectors, composed as
// app.Run composes them, in this process: four demo servers each burst
// WSMON_COLLECTOR_BURST messages (default 250,000: 1,000,000 in all) at
// once, and the time runs from the bursts' start until the database holds
// every message (msg/s) and until the index writer has every message
// (indexed-msg/s: one collector holds the index lease and indexes the
// others' batches after them). With 4 collectors each captures one server (they start
// together and split the targets); with 1 it captures all four.
//
//	WSMON_TEST_PG_DSN=… go test -run '^$' -bench BenchmarkCollectorsIngest -benchtime 1x ./internal/app/
func BenchmarkCollectorsIngest(b *testing.B) {
	if !pgtest.Enabled() {
		b.Skip("needs PostgreSQL (WSMON_TEST_PG_DSN set): runs on a server of its own")
	}
	per := 250_000
	if v, err := strconv.Atoi(os.Getenv("WSMON_COLLECTOR_BURST")); err == nil && v > 0 {
		per = v
	}
	for _, k := range []int{1, 4} {
		b.Run(fmt.Sprintf("collectors=%d", k), func(b *testing.B) {
			for range b.N {
				pg := pgtest.StartServer(b)
				s := &collectorsSetup{pg: pg}
				for i := range 4 {
					s.servers = append(s.servers, newDemo(b, func(o *demo.Options) { o.Seed = int64(i + 1) }))
					s.names = append(s.names, fmt.Sprintf("t%d", i+1))
				}
				var hs []*harness
				var mu sync.Mutex
				var wg sync.WaitGroup
				for range k {
					wg.Go(func() {
						h := start(b, ModeMonitor, s.configTB(b))
						mu.Lock()
						hs = append(hs, h)
						mu.Unlock()
					})
				}
				wg.Wait()
				waitFor(b, 60*time.Second, "each target captured once", s.allCapturedOnce)
				time.Sleep(3 * time.Second)
				owned := map[int64]int64{}
				rows, err := s.dbTB(b).Query(`SELECT owner, COUNT(*) FROM leases WHERE name LIKE 'target/%' AND expires_at > 0 GROUP BY owner`)
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
					var o, n int64
					rows.Scan(&o, &n)
					owned[o] = n
				}
				rows.Close()
				base := s.countTB(b, `SELECT COALESCE(MAX(id), 0) FROM messages`)
				want := base + int64(4*per)
				b.ResetTimer()
				t0 := time.Now()
				for _, d := range s.servers {
					go d.Burst(per)
				}
				for s.countTB(b, `SELECT COALESCE(MAX(id), 0) FROM messages`) < want {
					time.Sleep(100 * time.Millisecond)
				}
				el := time.Since(t0)
				b.StopTimer()
				// Stored is not yet searchable: the index writer (one of the
				// collectors) indexes what the others committed after them.
				// Its consumed position is what its searches see (a segment
				// is written to the database every 50,000 messages or 2 min).
				for consumed(hs) < want {
					time.Sleep(100 * time.Millisecond)
				}
				idx := time.Since(t0)
				if n := s.countTB(b, `SELECT COUNT(*) FROM messages`); n != want {
					b.Fatalf("%d messages stored, want %d", n, want)
				}
				b.ReportMetric(float64(4*per)/el.Seconds(), "msg/s")
				b.ReportMetric(float64(4*per)/idx.Seconds(), "indexed-msg/s")
				b.Logf("%d collectors (targets per collector %v): %d messages stored in %.1f s (%.0f msg/s), indexed in %.1f s (%.0f msg/s)",
					k, owned, 4*per, el.Seconds(), float64(4*per)/el.Seconds(), idx.Seconds(), float64(4*per)/idx.Seconds())
				for _, h := range hs {
					h.stop()
				}
			}
		})
	}
}

// consumed is the index writer's consumed position among the harnesses.
func consumed(hs []*harness) int64 {
	var c int64
	for _, h := range hs {
		if !h.ix.Following() {
			c = max(c, h.ix.Status().Consumed)
		}
	}
	return c
}
