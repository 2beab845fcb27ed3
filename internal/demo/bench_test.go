package demo

import (
	"encoding/json"
	"testing"
)

// BenchmarkBurst measures a burst of b.N messages from the server to one
// plain gorilla client over loopback, reported as messages/s received. Run
// it with a fixed count to measure a real burst:
//
//	go test ./internal/demo -run '^$' -bench BenchmarkBurst -benchtime 1000000x
//
// "coalesced" is the server as shipped; "per-frame" turns off write
// coalescing (one write syscall per frame, plain gorilla) for comparison.
func BenchmarkBurst(b *testing.B) {
	for _, bc := range []struct {
		name     string
		perFrame bool
	}{
		{"coalesced", false},
		{"per-frame", true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := startServer(b, Options{Seed: 1, perFrameWrites: bc.perFrame})
			c := dial(b, s)
			errc := make(chan error, 1)
			var bytes int64
			b.ResetTimer()
			go func() { errc <- s.Burst(b.N) }()
			var last []byte
			for range b.N {
				_, raw, err := c.ReadMessage()
				if err != nil {
					b.Fatal(err)
				}
				bytes += int64(len(raw))
				last = raw
			}
			b.StopTimer()
			if err := <-errc; err != nil {
				b.Fatal(err)
			}
			var m wireMsg
			if err := json.Unmarshal(last, &m); err != nil || m.Seq != int64(b.N) {
				b.Fatalf("last message %q (err %v), want seq %d", last, err, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(bytes)/float64(b.N), "B/msg")
		})
	}
}
