package terms

import (
	"context"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"
)

// benchStream is a realistic chat stream: the corpus lines, half of them
// with one to three more words drawn Zipf-like from the dictionary (the
// long tail of a real chat's vocabulary), in eight rooms.
type benchStream struct {
	lines, tail []string
	rooms       []string
	rng         *rand.Rand
	zipf        *rand.Zipf
	buf         []byte
}

func newBenchStream(b testing.TB) *benchStream {
	d, err := loadDict()
	if err != nil {
		b.Fatal(err)
	}
	var tail []string
	for w, e := range d.m {
		if e.word && len(w) >= 6 {
			tail = append(tail, w)
		}
	}
	// Map iteration order is random: sort for a deterministic stream.
	slices.Sort(tail)
	rng := rand.New(rand.NewPCG(7, 8))
	return &benchStream{lines: chatLines(b), tail: tail, rng: rng, zipf: rand.NewZipf(rng, 1.1, 8, uint64(len(tail)-1)),
		rooms: []string{"lobby", "support", "游戏大厅", "random", "闲聊灌水", "vip", "tech", "news"}}
}

func (s *benchStream) next() (room, text string) {
	s.buf = append(s.buf[:0], s.lines[s.rng.IntN(len(s.lines))]...)
	if s.rng.IntN(2) == 0 {
		for range 1 + s.rng.IntN(3) {
			s.buf = append(append(s.buf, ' '), s.tail[s.zipf.Uint64()]...)
		}
	}
	return s.rooms[s.rng.IntN(len(s.rooms))], string(s.buf)
}

// BenchmarkTokenize is the tokenizer alone, per message.
func BenchmarkTokenize(b *testing.B) {
	for _, phrases := range []bool{false, true} {
		name := "words"
		if phrases {
			name = "phrases"
		}
		b.Run(name, func(b *testing.B) {
			tk, err := New(Options{Phrases: phrases})
			if err != nil {
				b.Fatal(err)
			}
			s := newBenchStream(b)
			msgs := make([]string, 4096)
			for i := range msgs {
				_, msgs[i] = s.next()
			}
			var ts Terms
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				ts.Reset()
				tk.Append(&ts, msgs[i%len(msgs)])
			}
		})
	}
}

// BenchmarkTokenizeCount is what ingest would pay per message: tokenize
// and count in the day's all-rooms total and room.
func BenchmarkTokenizeCount(b *testing.B) {
	for _, phrases := range []bool{false, true} {
		name := "words"
		if phrases {
			name = "phrases"
		}
		b.Run(name, func(b *testing.B) {
			tk, err := New(Options{Phrases: phrases})
			if err != nil {
				b.Fatal(err)
			}
			s := newBenchStream(b)
			type msg struct{ room, text string }
			msgs := make([]msg, 1<<16)
			for i := range msgs {
				msgs[i].room, msgs[i].text = s.next()
			}
			c := NewCounter(CounterOptions{})
			var ts Terms
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				m := msgs[i%len(msgs)]
				ts.Reset()
				tk.Append(&ts, m.text)
				// 100,000 messages a day.
				c.Add(Day(20000+i/100000), m.room, &ts)
			}
		})
	}
}

// BenchmarkState1M counts a million messages (100,000 a day over ten
// days, with phrases) and reports the saved state's size, the entries
// held, the heap they take and the time of a Trending call on the last
// day (all rooms and one room, averaged).
func BenchmarkState1M(b *testing.B) {
	tk, err := New(Options{Phrases: true})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s := newBenchStream(b)
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		c := NewCounter(CounterOptions{})
		var ts Terms
		for i := range 1_000_000 {
			room, text := s.next()
			ts.Reset()
			tk.Append(&ts, text)
			c.Add(Day(20000+i/100000), room, &ts)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		state, err := c.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		st := c.Stats()
		t0 := time.Now()
		const q = 20
		for range q {
			c.Trending(20009, "", 20)
			c.Trending(20009, "support", 20)
		}
		b.ReportMetric(float64(time.Since(t0).Microseconds())/1000/(2*q), "trending-ms")
		b.ReportMetric(float64(len(state)), "state-bytes")
		b.ReportMetric(float64(st.Entries), "entries")
		b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/(1<<20), "heap-MiB")
		runtime.KeepAlive(c)
	}
}

// BenchmarkOffer is what the sender (ingest) pays per message with a
// Feeder counting behind it: the messages Run cannot keep up with are
// dropped, and the benchmark reports the share.
func BenchmarkOffer(b *testing.B) {
	tk, err := New(Options{Phrases: true})
	if err != nil {
		b.Fatal(err)
	}
	s := newBenchStream(b)
	msgs := make([]Message, 4096)
	for i := range msgs {
		msgs[i].Room, msgs[i].Text = s.next()
		msgs[i].Day = 20000
	}
	f := NewFeeder(tk, NewCounter(CounterOptions{}), 65536)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m := msgs[i%len(msgs)]
		m.ID = int64(i)
		f.Offer(m)
	}
	cancel()
	<-done
	st := f.Stats()
	b.ReportMetric(100*float64(st.Dropped)/float64(max(st.Offered, 1)), "%dropped")
}
