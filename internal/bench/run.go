package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/store"
)

// Options of a benchmark run.
type Options struct {
	Messages int    // corpus size
	Users    int    // distinct users (Zipf)
	Dir      string // database directory; "" = a temporary one, removed after
	Seed     uint64
	Rounds   int     // repetitions of each query
	Rate     float64 // arrival rate in messages/s; 0 = as fast as possible
	Out      io.Writer
	Logger   *slog.Logger
}

// Query classes of the fixed mix.
var queryMix = []struct {
	class   string
	queries []string
	user    string // "top" = the most active user, "rare" = a rare one
}{
	{"zh 1 char, frequent", []string{"好", "单", "了"}, ""},
	{"zh 1 char, rare", []string{"析", "票", "龙"}, ""},
	{"zh 2 chars", []string{"紧急", "重要", "订单", "发货"}, ""},
	{"en word, frequent", []string{"the", "hello", "ok"}, ""},
	{"en word, rare", []string{"invoice", "analysis", "translate"}, ""},
	{"mixed / long", []string{"订单 shipped", "hello 你好", "please help fix"}, ""},
	{"emoji", []string{"👍", "🎉"}, ""},
	{"punctuation, hostile", []string{"#1", "'; DROP TABLE", "%", "a AND b", `"`}, ""},
	{"no match", []string{"zzqqxx", "不存在的词语", "x"}, ""},
	{"+ frequent user", []string{"好", "the"}, "top"},
	{"+ rare user", []string{"好", "the"}, "rare"},
}

// Run ingests the corpus through the real pipeline, runs the query mix and
// the statistics, and prints a report.
func Run(ctx context.Context, o Options) error {
	if o.Messages <= 0 {
		o.Messages = 1_000_000
	}
	if o.Users <= 0 {
		o.Users = 20_000
	}
	if o.Rounds <= 0 {
		o.Rounds = 20
	}
	if o.Seed == 0 {
		o.Seed = 42
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "wsmon-bench-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	out := o.Out
	fmt.Fprintf(out, "wsmon bench: %d messages, %d users, %d CPUs, %s, database in %s\n",
		o.Messages, o.Users, runtime.NumCPU(), runtime.Version(), dir)

	e, err := Open(ctx, dir, time.Local, o.Logger, index.Options{})
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			e.Close()
		}
	}()

	// RSS sampler.
	var peak atomic.Int64
	stopRSS := make(chan struct{})
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if r := rss(); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stopRSS:
				return
			case <-t.C:
			}
		}
	}()

	// Ingest, with a probe message every 500 ms whose time to findability
	// is measured.
	c := NewCorpus(o.Seed, o.Users, time.Now().Add(-time.Duration(o.Messages)*5*time.Millisecond).UnixMilli())
	var rawBytes int64
	var probes []time.Duration
	probeCh := make(chan probe, 64)
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		for p := range probeCh {
			for {
				res, err := e.Index.Search(ctx, p.token, store.MessageQuery{Limit: 1})
				if err == nil && len(res.Messages) == 1 {
					probes = append(probes, time.Since(p.at))
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	start := time.Now()
	lastProbe := start
	nProbe := 0
	at := time.Now().Add(-time.Duration(o.Messages) * time.Millisecond)
	for i := 0; i < o.Messages; i++ {
		f := c.Next()
		rawBytes += int64(len(f))
		at = at.Add(time.Millisecond)
		if err := e.Add(f, at); err != nil {
			return err
		}
		if o.Rate > 0 && i%500 == 0 {
			// Arrival at a steady rate, like a chat server's.
			if d := time.Duration(float64(i)/o.Rate*float64(time.Second)) - time.Since(start); d > 0 {
				time.Sleep(d)
			}
		}
		if i%4096 == 0 && time.Since(lastProbe) > 500*time.Millisecond {
			nProbe++
			tok := "wsmonprobe" + strconv.Itoa(nProbe) + "x"
			now := time.Now()
			e.Add([]byte(`{"type":"chat","user":"probe","content":"`+tok+`"}`), now)
			probeCh <- probe{tok, now}
			lastProbe = now
		}
		if i > 0 && i%1_000_000 == 0 {
			fmt.Fprintf(out, "  %d appended, %d committed, %.0f msg/s so far, RSS %d MB\n", i,
				e.Pipeline.Stats().Messages, float64(e.Pipeline.Stats().Messages)/time.Since(start).Seconds(), rss()>>20)
		}
	}
	total := int64(o.Messages + nProbe)
	if err := e.WaitCommitted(total, time.Hour); err != nil {
		return err
	}
	ingestTime := time.Since(start)
	close(probeCh)
	<-probeDone
	fmt.Fprintf(out, "ingest done in %v; index: %+v\n", ingestTime.Round(time.Millisecond), e.Index.Status())
	// Queries run on a settled index: everything flushed to the database.
	t0 := time.Now()
	if err := e.Index.Flush(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "index flushed in %v; %+v\n", time.Since(t0).Round(time.Millisecond), e.Index.Status())

	// Queries on the live database (index partly in memory, as in use).
	topUser, rareUser := users(ctx, e), c.names[len(c.names)-1] // the Zipf tail
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query class\tp50 ms\tp95 ms\tp99 ms\tmax ms\thits (first query)\t")
	var all []time.Duration
	for _, qc := range queryMix {
		var ds []time.Duration
		var hits string
		for r := 0; r < o.Rounds; r++ {
			for qi, text := range qc.queries {
				q := store.MessageQuery{Limit: 50}
				switch qc.user {
				case "top":
					q.User = topUser
				case "rare":
					q.User = rareUser
				}
				t0 := time.Now()
				res, err := e.Index.Search(ctx, text, q)
				ds = append(ds, time.Since(t0))
				if err != nil {
					return fmt.Errorf("query %q: %w", text, err)
				}
				if r == 0 && qi == 0 {
					hits = fmt.Sprintf("%d of %d", len(res.Messages), res.Total)
					if res.Estimate {
						hits += " (est.)"
					}
				}
			}
		}
		all = append(all, ds...)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", qc.class, ms(pct(ds, 50)), ms(pct(ds, 95)), ms(pct(ds, 99)), ms(pct(ds, 100)), hits)
	}
	fmt.Fprintf(tw, "all queries\t%s\t%s\t%s\t%s\t\t\n", ms(pct(all, 50)), ms(pct(all, 95)), ms(pct(all, 99)), ms(pct(all, 100)))
	var sd []time.Duration
	for r := 0; r < 10*o.Rounds; r++ {
		t0 := time.Now()
		if _, err := e.Index.Stats(ctx, store.StatsQuery{}); err != nil {
			return err
		}
		sd = append(sd, time.Since(t0))
	}
	fmt.Fprintf(tw, "stats (/api/stats)\t%s\t%s\t%s\t%s\t\t\n", ms(pct(sd, 50)), ms(pct(sd, 95)), ms(pct(sd, 99)), ms(pct(sd, 100)))
	tw.Flush()

	if err := e.Close(); err != nil {
		return err
	}
	closed = true
	close(stopRSS)
	size := dirSize(dir, "chat_monitor.db")
	fmt.Fprintf(out, "\ningest: %.0f messages/s (%d messages in %v, index and rollups on)\n", float64(total)/ingestTime.Seconds(), total, ingestTime.Round(time.Millisecond))
	fmt.Fprintf(out, "findable after arrival (probes every 0.5 s): max %v, p50 %v over %d probes\n", pct(probes, 100).Round(time.Millisecond), pct(probes, 50).Round(time.Millisecond), len(probes))
	fmt.Fprintf(out, "size: %.0f bytes/message on disk (database incl. index), raw frame %.0f bytes: %.2fx\n",
		float64(size)/float64(total), float64(rawBytes)/float64(o.Messages), float64(size)/float64(total)/(float64(rawBytes)/float64(o.Messages)))
	fmt.Fprintf(out, "memory: peak RSS %d MB\n", max(peak.Load(), rss())>>20)
	return nil
}

type probe struct {
	token string
	at    time.Time
}

// users returns the most active user.
func users(ctx context.Context, e *Env) string {
	st, err := e.Index.Stats(ctx, store.StatsQuery{})
	if err != nil || len(st.TopUsers) == 0 {
		return ""
	}
	return st.TopUsers[0].User
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 2, 64)
}

// rss is the current resident set size in bytes.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func dirSize(dir, prefix string) int64 {
	var n int64
	matches, _ := filepath.Glob(filepath.Join(dir, prefix+"*"))
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil {
			n += fi.Size()
		}
	}
	return n
}
