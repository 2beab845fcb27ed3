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
	"text/tabwriter"
	"time"

	"github.com/wsmon/wsmon/internal/analysis"
	"github.com/wsmon/wsmon/internal/anomaly"
	"github.com/wsmon/wsmon/internal/index"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/terms"
)

// Options of a benchmark run.
type Options struct {
	Messages int    // corpus size
	Users    int    // distinct users (Zipf)
	Dir      string // database directory; "" = a temporary one, removed after
	// DatabaseURL, when set, is a PostgreSQL database to ingest into and
	// query instead of the SQLite file in Dir (the journal stays in Dir).
	DatabaseURL string
	Seed        uint64
	Rounds      int     // repetitions of each query
	Rate        float64 // arrival rate in messages/s; 0 = as fast as possible
	// Burners is how many CPU-burning processes run beside the benchmark
	// (the contended variant: 1 takes the other core of a 2-core machine).
	Burners int
	// Reuse runs the queries and statistics on the database already in Dir
	// (from an earlier run with the same Messages, Users and Seed, or
	// rebuilt by wsmon reindex) without ingesting anything.
	Reuse bool
	// MemProfile, when set, is a file that receives a heap profile taken
	// each time the Go heap in use reaches a new high (diagnostics).
	MemProfile string
	// PerQuery adds, under each class, a line per query text with its own
	// percentiles (which query of a class is slow).
	PerQuery bool
	// Analysis runs the analyses behind ingest (trending terms,
	// sentiment, anomalies, as the monitor does with all three on) and
	// times their queries after the search mix.
	Analysis bool
	// Behaviour keeps the user behaviour rollups behind ingest and times
	// the users and activity queries after the search mix.
	Behaviour bool
	Out       io.Writer
	Logger    *slog.Logger
}

// A query class of the fixed mix: its queries, each run with the class's
// filter.
type queryClass struct {
	class   string
	queries []string
	// filter: "" none, "top" the most active user, "rare" a rare one,
	// "room" one of the eight rooms, "target" the one target, "time" a
	// window of a quarter of the corpus's time span, in its middle.
	filter string
}

// Placeholders in a class's queries, replaced at run time: a long
// substring of a stored message (present) and long texts of common words
// that no message holds (absent).
const (
	qLongPresent = "<long present>"
	qLongAbsent  = "<long absent>"
)

// longAbsent returns texts of n runes made of the corpus's most common
// words, which no message holds: English with spaces, Chinese run
// together, and both mixed.
func longAbsent(n int) []string {
	var out []string
	for _, words := range [][]string{enWords[:24], zhWords[:24], {"订单", "shipped", "hello", "你好", "please", "help", "fix", "the", "哈哈", "666"}} {
		var b []rune
		for i := 0; len(b) < n; i++ {
			if i > 0 && (words[i%len(words)][0] < 0x80 || words[(i-1)%len(words)][0] < 0x80) {
				b = append(b, ' ')
			}
			b = append(b, []rune(words[i%len(words)])...)
		}
		out = append(out, string(b[:n]))
	}
	return out
}

// adversarial are the queries every filter class runs: short and long,
// frequent, repeated grams, numbers, present and absent.
var adversarial = []string{"好", "the", "订单", "#777777", "666666", "哈哈哈哈", "aaaa", "13800138000", "please help fix", "订单 shipped", "hello 你好",
	qLongPresent, qLongAbsent}

// queryMix is the fixed mix of query classes.
var queryMix = []queryClass{
	{"zh 1 char, frequent", []string{"好", "单", "了"}, ""},
	{"zh 1 char, rare", []string{"析", "票", "龙"}, ""},
	{"zh 2 chars", []string{"紧急", "重要", "订单", "发货"}, ""},
	{"en word, frequent", []string{"the", "hello", "ok"}, ""},
	{"en word, rare", []string{"invoice", "analysis", "translate"}, ""},
	{"mixed / long", []string{"订单 shipped", "hello 你好", "please help fix"}, ""},
	{"emoji", []string{"👍", "🎉"}, ""},
	{"punctuation, hostile", []string{"#1", "'; DROP TABLE", "%", "a AND b", `"`}, ""},
	{"no match", []string{"zzqqxx", "不存在的词语", "x"}, ""},
	{"repeated digits", []string{"#777777", "666666", "88888888", "#000"}, ""},
	{"repeated chars", []string{"哈哈哈哈", "aaaa", "！！！", "好好好", "   "}, ""},
	{"numbers", []string{"13800138000", "#4242", "2024", "#99999", "12345"}, ""},
	{"long, present (a stored message)", []string{qLongPresent}, ""},
	{"long, absent (40, 120, 256 chars)", []string{qLongAbsent + "40", qLongAbsent + "120", qLongAbsent}, ""},
	{"+ frequent user", []string{"好", "the"}, "top"},
	{"+ rare user", []string{"好", "the"}, "rare"},
	{"adversarial + frequent user", adversarial, "top"},
	{"adversarial + rare user", adversarial, "rare"},
	{"adversarial + room", adversarial, "room"},
	{"adversarial + target", adversarial, "target"},
	{"adversarial + time window", adversarial, "time"},
}

// expand replaces a placeholder query by its texts.
func expand(q, longPresent string) []string {
	switch {
	case q == qLongPresent:
		return []string{longPresent}
	case strings.HasPrefix(q, qLongAbsent):
		n := 256
		if rest := strings.TrimPrefix(q, qLongAbsent); rest != "" {
			n, _ = strconv.Atoi(rest)
		}
		return longAbsent(n)
	}
	return []string{q}
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
	if o.Reuse && dir == "" {
		return fmt.Errorf("bench: --reuse needs --dir")
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "wsmon-bench-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	out := o.Out
	db, where := store.Options{Location: time.Local}, "in "+dir
	if o.DatabaseURL != "" {
		db.Driver, db.DSN, where = "postgres", o.DatabaseURL, "PostgreSQL "+store.RedactURL(o.DatabaseURL)
	}
	fmt.Fprintf(out, "wsmon bench: %d messages, %d users, %d CPUs, %s, database %s\n",
		o.Messages, o.Users, runtime.NumCPU(), runtime.Version(), where)

	e, err := Open(ctx, dir, db, o.Logger, index.Options{})
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			e.Close()
		}
	}()

	if o.Burners > 0 {
		stop, err := StartBurners(o.Burners)
		if err != nil {
			return err
		}
		defer stop()
		fmt.Fprintf(out, "contended: %d CPU-burning process(es) beside the benchmark\n", o.Burners)
	}

	var an *analysis.Analyzer
	if o.Analysis || o.Behaviour {
		if an, err = e.StartAnalysis(ctx, analysis.Options{Location: time.Local, Logger: o.Logger,
			Terms: o.Analysis, Sentiment: o.Analysis, Anomalies: o.Analysis, Behaviour: o.Behaviour,
			Backlog: func() uint64 { return e.Pipeline.Stats().Backlog }}); err != nil {
			return err
		}
		if o.Analysis {
			fmt.Fprintln(out, "analyses on: trending terms, sentiment and anomalies behind ingest")
		}
		if o.Behaviour {
			fmt.Fprintln(out, "user behaviour rollups on behind ingest")
		}
	}

	mem := newMemWatch(o.MemProfile)
	defer mem.stop()
	mem.phase("ingest")

	c := NewCorpus(o.Seed, o.Users, time.Now().Add(-time.Duration(o.Messages)*5*time.Millisecond).UnixMilli())
	var ir ingestResult
	if o.Reuse {
		if ir, err = reused(ctx, e, c); err != nil {
			return err
		}
	} else if ir, err = ingestCorpus(ctx, o, e, c, mem); err != nil {
		return err
	}
	firstAt, lastAt := ir.firstAt, ir.lastAt
	// What the monitor's database upkeep does every minute (store.Tidy:
	// on PostgreSQL, vacuum the tables the ingest and merges churned).
	if tr, err := e.Store.Tidy(ctx); err != nil {
		return err
	} else if len(tr.Vacuumed) > 0 {
		fmt.Fprintf(out, "database upkeep: vacuumed %v in %v\n", tr.Vacuumed, tr.Took.Round(time.Millisecond))
	}

	// Queries on the live database (index partly in memory, as in use).
	mem.phase("queries")
	topUser, rareUser := users(ctx, e), c.names[len(c.names)-1] // the Zipf tail
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query class\tp50 ms\tp95 ms\tp99 ms\tmax ms\thits (first query)\t")
	var all []time.Duration
	for _, qc := range queryMix {
		var texts []string
		for _, q := range qc.queries {
			texts = append(texts, expand(q, c.longest)...)
		}
		var ds []time.Duration
		perText := make([][]time.Duration, len(texts))
		var hits string
		for r := 0; r < o.Rounds; r++ {
			for qi, text := range texts {
				q := store.MessageQuery{Limit: 50}
				switch qc.filter {
				case "top":
					q.User = topUser
				case "rare":
					q.User = rareUser
				case "room":
					q.Room = c.rooms[1]
				case "target":
					q.Target = Target
				case "time":
					span := lastAt.Sub(firstAt)
					q.From, q.To = firstAt.Add(span*3/8), firstAt.Add(span*5/8)
				}
				t0 := time.Now()
				res, err := e.Index.Search(ctx, text, q)
				d := time.Since(t0)
				ds = append(ds, d)
				perText[qi] = append(perText[qi], d)
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
		if o.PerQuery {
			for qi, text := range texts {
				if r := []rune(text); len(r) > 24 {
					text = fmt.Sprintf("%s… (%d chars)", string(r[:20]), len(r))
				}
				p := perText[qi]
				fmt.Fprintf(tw, "%q\t%s\t%s\t%s\t%s\t\t\n", text, ms(pct(p, 50)), ms(pct(p, 95)), ms(pct(p, 99)), ms(pct(p, 100)))
			}
		}
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
	if an != nil {
		if err := analysisQueries(ctx, tw, e, an, o, c.rooms, topUser, rareUser, firstAt, lastAt, 10*o.Rounds); err != nil {
			return err
		}
	}
	tw.Flush()

	var size int64
	if o.DatabaseURL != "" {
		if size, _, err = e.Store.UsedBytes(ctx); err != nil {
			return err
		}
	}
	mem.phase("close")
	if err := e.Close(); err != nil {
		return err
	}
	closed = true
	mem.stop()
	if o.DatabaseURL == "" {
		size = dirSize(dir, "chat_monitor.db")
	}
	if !o.Reuse {
		total := ir.total
		fmt.Fprintf(out, "\ningest: %.0f messages/s (%d messages in %v, index and rollups on)\n", float64(total)/ir.time.Seconds(), total, ir.time.Round(time.Millisecond))
		fmt.Fprintf(out, "findable after arrival (probes every 0.5 s): max %v, p50 %v over %d probes\n", pct(ir.probes, 100).Round(time.Millisecond), pct(ir.probes, 50).Round(time.Millisecond), len(ir.probes))
		fmt.Fprintf(out, "size: %.0f bytes/message on disk (database incl. index), raw frame %.0f bytes: %.2fx\n",
			float64(size)/float64(total), float64(ir.rawBytes)/float64(o.Messages), float64(size)/float64(total)/(float64(ir.rawBytes)/float64(o.Messages)))
	}
	fmt.Fprintf(out, "memory: peak RSS %d MiB (VmHWM); the indexer held at most %d messages in memory\n", vmKB("VmHWM")>>10, e.Index.Status().PeakMemMessages)
	fmt.Fprintf(out, "memory by phase (highest RSS sampled every 50 ms, MiB): %s\n", mem.report())
	return nil
}

// ingestResult is what the ingest phase measured.
type ingestResult struct {
	total           int64 // messages committed
	rawBytes        int64 // of the corpus's frames
	time            time.Duration
	probes          []time.Duration // arrival to findable
	firstAt, lastAt time.Time       // received_at of the first and last corpus message
}

// ingestCorpus journals the corpus through the pipeline as fast as it goes
// (or at o.Rate), with a probe message every 500 ms whose time to
// findability is measured, waits until all is committed and flushes the
// index.
func ingestCorpus(ctx context.Context, o Options, e *Env, c *Corpus, mem *memWatch) (ingestResult, error) {
	out := o.Out
	var ir ingestResult
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
				time.Sleep(50 * time.Millisecond) // a probe's search must not take a core from ingest
			}
		}
	}()
	start := time.Now()
	lastProbe := start
	nProbe := 0
	at := time.Now().Add(-time.Duration(o.Messages) * time.Millisecond)
	ir.firstAt = at
	for i := 0; i < o.Messages; i++ {
		f := c.Next()
		ir.rawBytes += int64(len(f))
		at = at.Add(time.Millisecond)
		if err := e.Add(f, at); err != nil {
			return ir, err
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
			fmt.Fprintf(out, "  %d appended, %d committed, %.0f msg/s so far, RSS %d MiB\n", i,
				e.Pipeline.Stats().Messages, float64(e.Pipeline.Stats().Messages)/time.Since(start).Seconds(), vmKB("VmRSS")>>10)
		}
	}
	ir.lastAt = at
	ir.total = int64(o.Messages + nProbe)
	if err := e.WaitCommitted(ir.total, time.Hour); err != nil {
		return ir, err
	}
	ir.time = time.Since(start)
	close(probeCh)
	<-probeDone
	ir.probes = probes
	fmt.Fprintf(out, "ingest done in %v; index: %+v\n", ir.time.Round(time.Millisecond), e.Index.Status())
	// Queries run on a settled index: everything flushed to the database.
	mem.phase("final flush")
	t0 := time.Now()
	if err := e.Index.Flush(ctx); err != nil {
		return ir, err
	}
	fmt.Fprintf(out, "index flushed in %v; %+v\n", time.Since(t0).Round(time.Millisecond), e.Index.Status())
	return ir, nil
}

// reused describes a database ingested by an earlier run: the corpus's
// time span from its first and last message, and the corpus's long
// message (from its first 100,000 messages).
func reused(ctx context.Context, e *Env, c *Corpus) (ingestResult, error) {
	var ir ingestResult
	last, err := e.Store.Messages(ctx, store.MessageQuery{Limit: 1})
	if err != nil || len(last) == 0 {
		return ir, fmt.Errorf("bench: --reuse: no messages in the database (%v)", err)
	}
	first, err := e.Store.MessagesByIDs(ctx, []int64{1}, store.MessageQuery{})
	if err != nil || len(first) == 0 {
		return ir, fmt.Errorf("bench: --reuse: no first message (%v)", err)
	}
	ir.firstAt, ir.lastAt = first[0].ReceivedAt, last[0].ReceivedAt
	for range 100_000 {
		c.Next()
	}
	return ir, nil
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

// vmKB reads a field of /proc/self/status in kB (VmRSS: resident now,
// VmHWM: the peak resident set so far); 0 if unknown.
func vmKB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
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

// call is one timed query of the analysis endpoints.
type call struct {
	name string
	fn   func(i int) error
}

// analysisQueries waits until the analyzer has counted every committed
// message, then times the queries behind the analysis endpoints, rounds
// times each, and writes their lines to tw.
func analysisQueries(ctx context.Context, tw io.Writer, e *Env, an *analysis.Analyzer, o Options, rooms []string, topUser, rareUser string,
	firstAt, lastAt time.Time, rounds int) error {
	t0 := time.Now()
	last, err := e.Store.MaxMessageID(ctx)
	if err != nil {
		return err
	}
	for an.Stats().AsOfID < last || (o.Behaviour && an.Stats().BehaviourWritten < last) {
		if time.Since(t0) > 30*time.Minute {
			return fmt.Errorf("bench: the analyses counted up to message %d of %d in 30 min", an.Stats().AsOfID, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(tw, "(analyses caught up %v after the queries began)\t\t\t\t\t\t\n", time.Since(t0).Round(time.Millisecond))
	day := terms.DayOf(lastAt, time.Local)
	from := terms.DayOf(firstAt, time.Local)
	var calls []call
	if o.Analysis {
		calls = append(calls, []call{
			{"/api/analysis/terms (day)", func(int) error { _, err := an.Terms(ctx, day, "", 50); return err }},
			{"/api/analysis/terms (day, room)", func(i int) error { _, err := an.Terms(ctx, day, rooms[i%len(rooms)], 50); return err }},
			{"/api/analysis/sentiment (all days)", func(int) error { _, err := an.Sentiment(ctx, "", "", from, day); return err }},
			{"/api/analysis/sentiment (room)", func(i int) error { _, err := an.Sentiment(ctx, Target, rooms[i%len(rooms)], from, day); return err }},
			{"/api/analysis/anomalies", func(int) error {
				_, err := an.Anomalies(ctx, analysis.AnomalyQuery{Query: anomaly.Query{Limit: 100}})
				return err
			}},
		}...)
	}
	if o.Behaviour {
		calls = append(calls, behaviourCalls(ctx, an, rooms, topUser, rareUser, lastAt)...)
	}
	for _, c := range calls {
		var ds []time.Duration
		for i := range rounds {
			t := time.Now()
			if err := c.fn(i); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			ds = append(ds, time.Since(t))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\t\n", c.name, ms(pct(ds, 50)), ms(pct(ds, 95)), ms(pct(ds, 99)), ms(pct(ds, 100)))
	}
	return nil
}
