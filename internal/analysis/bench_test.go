package analysis

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

// benchBatch is a batch of 5,000 messages of one target, 20 users in 5
// rooms, 90 % chat, one a millisecond, as the demo server's burst.
func benchBatch(first int64, at time.Time) []message.Message {
	b := make([]message.Message, 5000)
	for i := range b {
		typ := message.TypeChat
		if i%10 == 9 {
			typ = []message.Type{message.TypeJoin, message.TypeLeave, message.TypeSystem}[i%3]
		}
		b[i] = message.Message{ID: first + int64(i), Target: "demo", ReceivedAt: at.Add(time.Duration(i) * time.Millisecond),
			User: fmt.Sprint("u", i%20), Room: fmt.Sprint("room", i%5), Type: typ, Content: lines[i%len(lines)]}
	}
	return b
}

// BenchmarkCommitted: what handing a batch over costs the pipeline's
// writer per message (ns/op is per message), by the analyses turned on. (A
// batch dropped because the hand-off is full costs nothing per message.)
//
//	go test -run '^$' -bench 'Committed|Count' ./internal/analysis/
func BenchmarkCommitted(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			st := open(b, filepath.Join(b.TempDir(), "a.db"))
			o := c.opt
			o.Store = st
			a, err := New(context.Background(), o)
			if err != nil {
				b.Fatal(err)
			}
			batch := benchBatch(1, time.Now())
			b.ResetTimer()
			for i := 0; i < b.N; i += len(batch) {
				a.Committed(batch)
				<-a.in // taken, as the analyzer does
			}
		})
	}
}

// BenchmarkCount: what the analyzer's goroutine spends per message (ns/op
// is per message), by the analyses turned on; with behaviour, its flushes
// included.
func BenchmarkCount(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			st := open(b, filepath.Join(b.TempDir(), "a.db"))
			o := c.opt
			o.Store = st
			a, err := New(context.Background(), o)
			if err != nil {
				b.Fatal(err)
			}
			at := time.Now()
			var id int64 = 1
			b.ResetTimer()
			for i := 0; i < b.N; i += 5000 {
				b.StopTimer()
				a.in <- batch{}
				<-a.in
				bt := benchBatch(id, at)
				a.Committed(bt)
				x := <-a.in
				id += 5000
				at = at.Add(5 * time.Second)
				b.StartTimer()
				a.apply(x)
				if a.beh != nil && (i/5000)%50 == 49 {
					// A flush per 250,000 messages: five seconds of a
					// 50,000 msg/s burst.
					a.flushBehaviour(context.Background())
				}
			}
		})
	}
}

var benchCases = []struct {
	name string
	opt  Options
}{
	{"anomaly", Options{Anomalies: true}},
	{"terms+sentiment", Options{Terms: true, Sentiment: true}},
	{"terms+sentiment+anomaly", Options{Terms: true, Sentiment: true, Anomalies: true}},
	{"behaviour", Options{Behaviour: true}},
	{"anomaly+behaviour", Options{Anomalies: true, Behaviour: true}},
}
