package bench

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"
)

// memWatch samples the process's resident set every 50 ms and keeps the
// highest value per phase of the benchmark (with the Go heap in use at
// that moment), so the report says when the peak happened; with a profile
// file it also writes a heap profile at each new high of the Go heap.
type memWatch struct {
	mu      sync.Mutex
	cur     string
	order   []string
	peaks   map[string][3]uint64 // phase -> RSS, Go heap in use, all the Go runtime holds (bytes)
	profile string
	done    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

func newMemWatch(profile string) *memWatch {
	w := &memWatch{peaks: map[string][3]uint64{}, profile: profile, done: make(chan struct{})}
	w.wg.Add(1)
	go w.run()
	return w
}

// phase starts a named phase.
func (w *memWatch) phase(name string) {
	w.mu.Lock()
	w.cur = name
	w.order = append(w.order, name)
	w.mu.Unlock()
	w.sample(nil)
}

func (w *memWatch) run() {
	defer w.wg.Done()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	var heapHigh uint64
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
		}
		w.sample(&heapHigh)
	}
}

func (w *memWatch) sample(heapHigh *uint64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss := uint64(vmKB("VmRSS")) << 10
	w.mu.Lock()
	if p := w.peaks[w.cur]; rss > p[0] {
		w.peaks[w.cur] = [3]uint64{rss, ms.HeapInuse, ms.Sys - ms.HeapReleased}
	}
	w.mu.Unlock()
	if heapHigh != nil && w.profile != "" && ms.HeapInuse > *heapHigh+*heapHigh/10 {
		*heapHigh = ms.HeapInuse
		if f, err := os.Create(w.profile); err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
}

func (w *memWatch) stop() {
	w.once.Do(func() { close(w.done); w.wg.Wait() })
}

// report lists each phase's highest RSS, with what the Go runtime held
// then (heap in use, and all it had from the system and not released);
// "other" is the rest: SQLite's own memory (modernc's C heap), the binary.
func (w *memWatch) report() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var parts []string
	for _, ph := range w.order {
		p := w.peaks[ph]
		parts = append(parts, fmt.Sprintf("%s %d MiB (Go heap in use %d, Go runtime %d, other %d)", ph, p[0]>>20, p[1]>>20, p[2]>>20, (p[0]-min(p[0], p[2]))>>20))
	}
	return strings.Join(parts, ", ")
}
