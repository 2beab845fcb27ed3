package anomaly

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// benchKeys builds a detector with nt targets of 9 rooms each (nt target
// keys + 9·nt room keys; 1,000 make 10,000 keys), each having seen one
// message, and returns the names of its targets and rooms.
func benchKeys(b *testing.B, nt int) (*Detector, []string, []string) {
	b.Helper()
	d, err := New(Options{MaxKeys: 10*nt + 64})
	if err != nil {
		b.Fatal(err)
	}
	targets := make([]string, nt)
	for i := range targets {
		targets[i] = fmt.Sprintf("target-%d", i)
	}
	rooms := make([]string, 9)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("room-%d", i)
	}
	at := minuteTime(day0)
	for _, t := range targets {
		for _, r := range rooms {
			d.ObserveMessage(t, r, "u", 0, at, true)
		}
	}
	d.Advance(day0 + 1)
	if n := d.Stats().Keys; n != 10*nt {
		b.Fatalf("%d keys", n)
	}
	return d, targets, rooms
}

// BenchmarkObserveMessage: one message into a detector of 10,000 keys
// (its target's key and its room's, at random), within the pending
// minute, and the same into 20 keys (2 targets: what most deployments
// have, and what stays in the CPU cache); closing minutes is
// BenchmarkAdvance's.
func BenchmarkObserveMessage(b *testing.B) {
	for _, nt := range []int{1000, 2} {
		b.Run(fmt.Sprintf("keys=%d", 10*nt), func(b *testing.B) { benchObserve(b, nt) })
	}
}

func benchObserve(b *testing.B, nt int) {
	d, targets, rooms := benchKeys(b, nt)
	rng := rand.New(rand.NewPCG(1, 2))
	users := make([]string, 500)
	for i := range users {
		users[i] = fmt.Sprintf("user-%d", i)
	}
	type msg struct {
		t, r, u string
		typ     int
	}
	msgs := make([]msg, 1<<16)
	for i := range msgs {
		msgs[i] = msg{targets[rng.IntN(len(targets))], rooms[rng.IntN(len(rooms))], users[rng.IntN(len(users))], rng.IntN(NumTypes)}
	}
	at := minuteTime(day0 + 1).Add(30 * time.Second)
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for i := range b.N {
		m := &msgs[i&(len(msgs)-1)]
		d.ObserveMessage(m.t, m.r, m.u, m.typ, at, false)
	}
	b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkAdvance: closing one minute of all 10,000 keys (judging it with
// every detector and learning from it); ns/key-minute is the cost per key.
func BenchmarkAdvance(b *testing.B) {
	d, targets, rooms := benchKeys(b, 1000)
	m := day0 + 1
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for i := range b.N {
		// a few messages in a tenth of the keys, so that windows and
		// users are not all empty
		at := minuteTime(m)
		for j := range 1000 {
			d.ObserveMessage(targets[(i+j)%len(targets)], rooms[j%len(rooms)], "u", 0, at, false)
		}
		m++
		d.Advance(m)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10_000, "ns/key-minute")
	b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(b.N)/10_000, "cpu-ns/key-minute")
}

// BenchmarkMemoryPerKey reports the heap a key holds (10,000 keys) and the
// size of a key's encoded state after four weeks of minutes.
func BenchmarkMemoryPerKey(b *testing.B) {
	for range b.N {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		d, _, _ := benchKeys(b, 1000)
		runtime.GC()
		runtime.ReadMemStats(&m1)
		b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/10_000, "heap-B/key")
		runtime.KeepAlive(d)

		one, _ := New(Options{})
		rng := rand.New(rand.NewPCG(3, 4))
		for m := day0; m < day0+28*1440; m++ {
			for range poisson(rng, daytime(m)) {
				one.ObserveMessage("t", "", fmt.Sprintf("u%d", rng.IntN(50)), 0, minuteTime(m), false)
			}
			one.Advance(m + 1)
		}
		empty, _ := New(Options{})
		e, _ := empty.MarshalBinary()
		s, _ := one.MarshalBinary()
		b.ReportMetric(float64(len(s)-len(e)), "state-B/key")
	}
}
