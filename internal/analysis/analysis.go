// Package analysis owns the incremental analyses kept behind ingest and
// their persisted state: trending terms (internal/terms) and sentiment
// rollups (internal/sentiment) of chat messages, per local day, and
// anomaly detection (internal/anomaly) over every message.
//
// An Analyzer is told about committed batches (Committed, an
// ingest.Committer) through a bounded hand-off that never blocks ingest:
// when it is full the batch is dropped and counted, and the analyzer
// catches up by reading the committed messages after the last one it
// counted from the store. Every analysis keeps the highest message id
// counted into it and saves its state with that id (analysis_state) every
// minute and at shutdown; a start loads the state and counts the messages
// after the id, so each message is counted exactly once across drops and
// restarts. A damaged state is logged and rebuilt from the messages.
//
// The anomaly detector also needs time to pass when no message arrives
// (a silence): Run tells it, every AdvanceEvery, that the minutes ended
// AdvanceGrace ago are over (anomaly.go).
//
// A Reader serves the saved states to a separate web process, reloading
// them when their id changes.
package analysis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsmon/wsmon/internal/anomaly"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/sentiment"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/terms"
)

// Names of the analyses' rows in analysis_state.
const (
	NameTerms     = "terms"
	NameSentiment = "sentiment"
	NameAnomaly   = "anomaly"
	// NameAnomalySaves is a row without data whose applied id counts the
	// anomaly state's saves: the state changes without new messages (a
	// silence found as time passes), so a Reader reloads on this count.
	NameAnomalySaves = "anomaly_saves"
)

// Defaults.
const (
	DefaultQueue         = 64 // batches waiting for the analyzer
	DefaultSnapshotEvery = time.Minute
	DefaultAdvanceEvery  = 5 * time.Second
	DefaultAdvanceGrace  = 30 * time.Second
	// advanceBacklog: while more journal records than this wait to be
	// committed (a burst), minutes are not closed by the clock: the
	// messages still in the journal would come too late for them.
	advanceBacklog = 10_000
	readPage       = 2000
	readBytes      = 8 << 20
)

// Options configure an Analyzer.
type Options struct {
	Store    *store.Store
	Location *time.Location // the local days' zone; nil: UTC
	Logger   *slog.Logger
	// Terms and Sentiment turn the analyses on.
	Terms, Sentiment bool
	// StopWords are the operator's own stop words (terms_stop_words).
	StopWords []string
	// Queue is the hand-off's capacity in batches; 0: DefaultQueue.
	Queue int
	// SnapshotEvery is how often the states are saved; 0: a minute.
	SnapshotEvery time.Duration

	// Anomalies turns anomaly detection on (every committed message is
	// observed). Anomaly tunes the detector: zero fields are the
	// package's defaults; Location is set from Location and OnEvent by
	// the analyzer.
	Anomalies bool
	Anomaly   anomaly.Options
	// OnAnomaly, if set, is told of every anomaly that opens or closes
	// while the analyzer counts recent messages (received within
	// LiveWindow of now, or found by the clock; the detector's times when
	// AnomalyTime is set): not of the ones found
	// again while it reads back old ones, such as at the first start over
	// a database with history. It runs on the analyzer's goroutine and
	// should not block for long. After a crash the messages since the
	// last save are counted again, so an event may be told twice: the
	// receiver deduplicates (kind, key, user and start are the same).
	OnAnomaly func(anomaly.Event)
	// Backlog, if set, says how many journal records wait to be
	// committed; the clock does not close minutes while it is a burst's.
	Backlog func() uint64
	// AdvanceEvery is how often the clock closes minutes (0: 5 s), and
	// AdvanceGrace how long after its end a minute is closed by it
	// (0: 30 s): messages committed later than that after their minute
	// come too late and are counted in the detector's Late.
	AdvanceEvery, AdvanceGrace time.Duration
	// AnomalyTime, if set, maps the messages' and the clock's times to
	// the detector's (tests run the detector's minutes faster than real
	// ones); nil: the same.
	AnomalyTime func(time.Time) time.Time
	// LiveWindow, if set, replaces the package's LiveWindow (tests).
	LiveWindow time.Duration

	// Behaviour turns the user behaviour rollups on (behaviour.go):
	// SessionGap (0: DefaultSessionGap) ends a user's session,
	// ReplyWindow (0: DefaultReplyWindow) bounds who speaks next to whom,
	// and BehaviourWait (0: DefaultBehaviourWait) is the longest a counted
	// message waits to be written.
	Behaviour                              bool
	SessionGap, ReplyWindow, BehaviourWait time.Duration
	// Classifier, if set (with Sentiment), scores chat messages with an
	// external classifier: Run starts a sentiment.Remote with it and
	// closes it before returning; the lexicon scores what it cannot
	// (scoring.go). nil: the lexicon only.
	Classifier *sentiment.RemoteConfig
}

// LiveWindow is how recent a message must be for the anomalies its
// counting opens or closes to be told to Options.OnAnomaly.
const LiveWindow = time.Hour

// Stats are an analyzer's counts since it was made.
type Stats struct {
	Batches  uint64 `json:"batches"`   // batches handed over
	Dropped  uint64 `json:"dropped"`   // batches dropped because the hand-off was full (their messages are read back from the store)
	CatchUps uint64 `json:"catch_ups"` // times messages were read back from the store
	Counted  uint64 `json:"counted"`   // chat messages counted
	Observed uint64 `json:"observed"`  // messages observed by the anomaly detector
	AsOfID   int64  `json:"as_of_id"`  // the highest message id every enabled analysis has seen
	// BehaviourWritten is the highest message id in the behaviour
	// rollups' tables (written; they lag the count by a flush).
	BehaviourWritten int64 `json:"behaviour_written_id,omitempty"`
	// BehaviourFailures counts the behaviour flushes that failed (their
	// deltas are kept and written by the next one).
	BehaviourFailures uint64 `json:"behaviour_flush_failures,omitempty"`
	SentimentScores
}

// Analyzer runs the analyses behind ingest. Committed and the queries are
// safe for concurrent use; Run is called once.
type Analyzer struct {
	opt Options
	log *slog.Logger
	loc *time.Location
	in  chan batch
	gap atomic.Bool // a batch was dropped: read the store before the next one

	batches, dropped, catchUps, counted, observed atomic.Uint64
	behWritten                                    atomic.Int64
	behFailures                                   atomic.Uint64

	tk      *terms.Tokenizer
	counter *terms.Counter  // nil: terms off
	senti   *sentimentState // nil: sentiment off
	anom    *anomalyState   // nil: anomaly detection off
	beh     *behaviourState // nil: behaviour off
	behq    *behaviourQueries
	scoring scoring      // who scores sentiment (scoring.go)
	ts      terms.Terms  // reused by the run goroutine
	handed  int64        // the last message id Committed was given (the pipeline's writer goroutine only)
	mu      sync.RWMutex // guards the applied ids
	termsAt int64        // highest id counted into counter
	sentAt  int64        // highest id counted into senti
	anomAt  int64        // highest id observed by anom
	behAt   int64        // highest id counted into beh (pending or written)
	// behFlushed is the id of the last behaviour flush (run goroutine).
	behFlushed int64
	seen       int64 // highest id seen by the run goroutine
	running    atomic.Bool
}

// New builds an analyzer and loads the saved states (a damaged one is
// logged and rebuilt from the messages by Run).
func New(ctx context.Context, opt Options) (*Analyzer, error) {
	if opt.Queue <= 0 {
		opt.Queue = DefaultQueue
	}
	if opt.SnapshotEvery <= 0 {
		opt.SnapshotEvery = DefaultSnapshotEvery
	}
	if opt.AdvanceEvery <= 0 {
		opt.AdvanceEvery = DefaultAdvanceEvery
	}
	if opt.AdvanceGrace <= 0 {
		opt.AdvanceGrace = DefaultAdvanceGrace
	}
	if opt.LiveWindow <= 0 {
		opt.LiveWindow = LiveWindow
	}
	a := &Analyzer{opt: opt, log: opt.Logger, loc: opt.Location, in: make(chan batch, opt.Queue)}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.loc == nil {
		a.loc = time.UTC
	}
	if opt.Terms {
		tk, err := terms.New(terms.Options{Stop: opt.StopWords})
		if err != nil {
			return nil, err
		}
		a.tk, a.counter = tk, terms.NewCounter(terms.DefaultCounterOptions)
		data, id, ok, err := opt.Store.AnalysisState(ctx, NameTerms)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := a.counter.UnmarshalBinary(data); err != nil {
				a.log.Warn("analysis: the saved trending terms are damaged; rebuilding them from the messages", "error", err)
			} else {
				a.termsAt = id
			}
		}
	}
	if opt.Sentiment {
		a.senti = newSentimentState()
		data, id, ok, err := opt.Store.AnalysisState(ctx, NameSentiment)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := a.senti.unmarshal(data); err != nil {
				a.log.Warn("analysis: the saved sentiment rollups are damaged; rebuilding them from the messages", "error", err)
			} else {
				a.sentAt = id
			}
		}
	}
	if opt.Anomalies {
		if err := a.loadAnomaly(ctx); err != nil {
			return nil, err
		}
	}
	if opt.Behaviour {
		if a.opt.SessionGap <= 0 {
			a.opt.SessionGap = DefaultSessionGap
		}
		if a.opt.ReplyWindow <= 0 {
			a.opt.ReplyWindow = DefaultReplyWindow
		}
		if a.opt.BehaviourWait <= 0 {
			a.opt.BehaviourWait = DefaultBehaviourWait
		}
		if err := a.loadBehaviour(ctx); err != nil {
			return nil, err
		}
		a.behFlushed = a.behAt
		a.behWritten.Store(a.behAt)
		a.behq = newBehaviourQueries(opt.Store, a.loc, a.opt.SessionGap, a.opt.ReplyWindow)
	}
	a.seen = a.from()
	return a, nil
}

// from is the id after which messages are read back: the lowest applied
// id of the enabled analyses.
func (a *Analyzer) from() int64 {
	a.mu.RLock()
	defer a.mu.RUnlock()
	id, any := int64(0), false
	for _, x := range []struct {
		on bool
		at int64
	}{{a.counter != nil, a.termsAt}, {a.senti != nil, a.sentAt}, {a.anom != nil, a.anomAt}, {a.beh != nil, a.behAt}} {
		if x.on && (!any || x.at < id) {
			id, any = x.at, true
		}
	}
	return id
}

// Enabled reports whether any analysis is on.
func (a *Analyzer) Enabled() bool {
	return a.counter != nil || a.senti != nil || a.anom != nil || a.beh != nil
}

// Committed hands a committed batch to the analyzer without blocking:
// when the hand-off is full the batch is dropped, counted, and read back
// from the store later. It never fails (ingest.Committer).
func (a *Analyzer) Committed(msgs []message.Message) error {
	if !a.Enabled() || len(msgs) == 0 {
		return nil
	}
	a.batches.Add(1)
	// A batch that does not follow the one before: another collector's
	// messages are between them (PostgreSQL), in the store only.
	if a.handed == 0 {
		a.handed = a.from()
	}
	if msgs[0].ID != a.handed+1 {
		a.gap.Store(true)
	}
	a.handed = msgs[len(msgs)-1].ID
	if len(a.in) == cap(a.in) {
		// Full: drop at once, before copying anything (it is read back).
		a.dropped.Add(1)
		a.gap.Store(true)
		return nil
	}
	// Only what the analyses read is kept, of the messages they count:
	// the anomaly detector and the behaviour rollups every message, the
	// other analyses chat messages with content.
	b := batch{last: msgs[len(msgs)-1].ID}
	if a.anom != nil || a.beh != nil {
		b.items = make([]item, len(msgs))
		content := a.counter != nil || a.senti != nil
		for i := range msgs {
			m := &msgs[i]
			b.items[i] = item{ID: m.ID, At: m.ReceivedAt.UnixMilli(), Target: m.Target, Room: m.Room, User: m.User, Type: m.Type}
			if content {
				b.items[i].Content = m.Content
			}
		}
	} else {
		n := 0
		for i := range msgs {
			if m := &msgs[i]; m.Type == message.TypeChat && m.Content != "" {
				n++
			}
		}
		b.items = make([]item, 0, n)
		for i := range msgs {
			if m := &msgs[i]; m.Type == message.TypeChat && m.Content != "" {
				b.items = append(b.items, item{ID: m.ID, At: m.ReceivedAt.UnixMilli(), Target: m.Target, Room: m.Room, Type: m.Type, Content: m.Content})
			}
		}
	}
	select {
	case a.in <- b:
	default:
		a.dropped.Add(1)
		a.gap.Store(true)
	}
	return nil
}

// Stats returns the analyzer's counts.
func (a *Analyzer) Stats() Stats {
	return Stats{Batches: a.batches.Load(), Dropped: a.dropped.Load(), CatchUps: a.catchUps.Load(),
		Counted: a.counted.Load(), Observed: a.observed.Load(), AsOfID: a.from(), BehaviourWritten: a.behWritten.Load(),
		BehaviourFailures: a.behFailures.Load(),
		SentimentScores:   a.scoring.stats()}
}

// Run counts: first the committed messages after the saved states, then
// the handed-over batches, saving the states every SnapshotEvery and when
// ctx ends (after counting what is left in the hand-off).
func (a *Analyzer) Run(ctx context.Context) error {
	if !a.Enabled() {
		<-ctx.Done()
		return nil
	}
	if !a.running.CompareAndSwap(false, true) {
		return errors.New("analysis: Run called twice")
	}
	stopScoring, err := a.startScoring()
	if err != nil {
		return err
	}
	defer stopScoring() // after the last message is counted
	// Everything committed before the hand-off started, and what a
	// damaged state lost.
	a.gap.Store(true)
	tick := time.NewTicker(a.opt.SnapshotEvery)
	defer tick.Stop()
	var advance <-chan time.Time // the anomaly detector's clock
	if a.anom != nil {
		t := time.NewTicker(a.opt.AdvanceEvery)
		defer t.Stop()
		advance = t.C
	}
	var flush <-chan time.Time // due behaviour flushes when idle
	if a.beh != nil {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		flush = t.C
	}
	dirty := false // messages were counted since the last save
	clock := false // the clock closed minutes since the last save
	for {
		if a.gap.Swap(false) {
			if err := a.catchUp(ctx); err != nil {
				a.gap.Store(true) // read again, at the latest at shutdown
				if ctx.Err() != nil {
					break
				}
				a.log.Warn("analysis: reading committed messages", "error", err)
			}
			dirty = true
		}
		select {
		case <-ctx.Done():
		case b := <-a.in:
			a.take(ctx, b)
			dirty = true
			continue
		case <-advance:
			// What was committed before now first: the batches waiting
			// in the hand-off.
			for n := len(a.in); n > 0; n-- {
				a.take(ctx, <-a.in)
				dirty = true
			}
			if !a.gap.Load() && (a.opt.Backlog == nil || a.opt.Backlog() <= advanceBacklog) {
				clock = a.advance(time.Now().Add(-a.opt.AdvanceGrace)) || clock
			}
			continue
		case <-flush:
			a.flushDue(ctx)
			continue
		case <-tick.C:
			if dirty {
				a.save(ctx, true)
			} else if clock {
				a.save(ctx, false)
			}
			dirty, clock = false, false
			continue
		}
		break
	}
	// Shutdown: what is left in the hand-off, then the states.
	bg := context.WithoutCancel(ctx)
	for {
		select {
		case b := <-a.in:
			if a.gap.Swap(false) {
				if err := a.catchUp(bg); err != nil {
					// Left for the next start: the saved id stays
					// before the unread messages.
					a.log.Warn("analysis: reading committed messages at shutdown", "error", err)
					a.gap.Store(true)
					continue
				}
			}
			if !a.gap.Load() {
				a.apply(b)
			}
			continue
		default:
		}
		break
	}
	if a.gap.Swap(false) {
		if err := a.catchUp(bg); err != nil {
			a.log.Warn("analysis: reading committed messages at shutdown", "error", err)
		}
	}
	a.save(bg, true)
	st := a.Stats()
	attrs := []any{"counted", st.Counted, "batches", st.Batches, "dropped_batches", st.Dropped,
		"catch_ups", st.CatchUps, "as_of_id", st.AsOfID}
	if a.anom != nil {
		ds := a.anom.det.Stats()
		attrs = append(attrs, "anomaly_observed", st.Observed, "anomaly_keys", ds.Keys, "anomalies_open", ds.Open,
			"anomaly_late", ds.Late, "anomaly_dropped_observations", ds.DroppedObservations)
	}
	a.log.Info("analysis stopped", attrs...)
	return nil
}

// take counts a handed-over batch, after the messages before it when a
// batch was dropped.
func (a *Analyzer) take(ctx context.Context, b batch) {
	if a.gap.Swap(false) {
		// A batch before this one was dropped: the store has it (and
		// this one); read them in order.
		if err := a.catchUp(ctx); err != nil {
			// b is in the store too: it is read with the gap.
			a.gap.Store(true)
			if ctx.Err() == nil {
				a.log.Warn("analysis: reading committed messages", "error", err)
			}
			return
		}
	}
	a.apply(b)
	a.flushDue(ctx)
}

// flushDue writes the behaviour rollups when they are due (behaviour.go).
func (a *Analyzer) flushDue(ctx context.Context) {
	if a.beh != nil && a.beh.due(a.opt.BehaviourWait) {
		a.flushBehaviour(ctx)
	}
}

// catchUp counts the committed messages after the ones seen.
func (a *Analyzer) catchUp(ctx context.Context) error {
	a.catchUps.Add(1)
	for {
		rows, more, err := a.opt.Store.IndexRowsAfter(ctx, a.seen, readPage, readBytes)
		if err != nil {
			return err
		}
		items := make([]item, len(rows))
		for i := range rows {
			r := &rows[i]
			items[i] = item{ID: r.ID, At: r.ReceivedAt.UnixMilli(), Target: r.Target, Room: r.Room, User: r.User,
				Type: message.Type(r.Type), Content: r.Content}
		}
		a.prescore(items)
		for i := range items {
			a.count(&items[i])
		}
		a.flushDue(ctx)
		if !more || len(rows) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// batch is what a committed batch hands over: the messages the enabled
// analyses count (every one with anomaly detection on, else the chat
// messages with content), and its last id (the messages after them are
// seen too).
type batch struct {
	items []item
	last  int64
}

// item is what the analyses read of a message. At is in Unix
// milliseconds, as the store keeps it, so that a message counted from the
// hand-off and one read back are counted alike.
type item struct {
	ID                          int64
	At                          int64
	Target, Room, User, Content string
	Type                        message.Type
	pre                         *sentiment.Result // the sentiment prescore found (nil: the lexicon's, by count)
}

func (a *Analyzer) apply(b batch) {
	a.prescore(b.items)
	for i := range b.items {
		a.count(&b.items[i])
	}
	// The batch's messages after them count for nothing but are seen.
	a.pass(b.last)
}

// pass marks the messages up to id seen without counting them: they are
// none that an enabled analysis counts.
func (a *Analyzer) pass(id int64) {
	if id <= a.seen {
		return
	}
	a.seen = id
	a.mu.Lock()
	if a.counter != nil && id > a.termsAt {
		a.termsAt = id
	}
	if a.senti != nil && id > a.sentAt {
		a.sentAt = id
	}
	if a.anom != nil && id > a.anomAt {
		a.anomAt = id
	}
	if a.beh != nil && id > a.behAt {
		a.behAt = id
	}
	a.mu.Unlock()
}

// count counts one message into each analysis that has not counted it.
func (a *Analyzer) count(m *item) {
	id := m.ID
	if id <= a.seen {
		return
	}
	a.seen = id
	chat := m.Type == message.TypeChat && m.Content != ""
	a.mu.RLock()
	doTerms := a.counter != nil && id > a.termsAt
	doSent := a.senti != nil && id > a.sentAt
	doAnom := a.anom != nil && id > a.anomAt
	doBeh := a.beh != nil && id > a.behAt
	a.mu.RUnlock()
	if chat && (doTerms || doSent) {
		day := terms.DayOf(time.UnixMilli(m.At), a.loc)
		if doTerms {
			a.ts.Reset()
			a.tk.Append(&a.ts, m.Content)
			a.counter.Add(day, m.Room, &a.ts)
		}
		if doSent {
			a.addSentiment(m, day)
		}
		a.counted.Add(1)
	}
	if doAnom {
		a.observe(m)
		a.observed.Add(1)
	}
	if doBeh {
		a.beh.add(m)
	}
	a.mu.Lock()
	if doTerms {
		a.termsAt = id
	}
	if doSent {
		a.sentAt = id
	}
	if doAnom {
		a.anomAt = id
	}
	if doBeh {
		a.behAt = id
	}
	a.mu.Unlock()
}

// save writes each analysis's state with its applied id; all false saves
// only the anomaly state (the clock changed it, no message was counted).
func (a *Analyzer) save(ctx context.Context, all bool) {
	a.mu.RLock()
	termsAt, sentAt, anomAt := a.termsAt, a.sentAt, a.anomAt
	a.mu.RUnlock()
	if a.anom != nil {
		a.saveAnomaly(ctx, anomAt)
	}
	if !all {
		return
	}
	a.flushBehaviour(ctx)
	if a.counter != nil {
		if data, err := a.counter.MarshalBinary(); err != nil {
			a.log.Warn("analysis: saving trending terms", "error", err)
		} else if err := a.opt.Store.PutAnalysisState(ctx, NameTerms, termsAt, data); err != nil {
			a.log.Warn("analysis: saving trending terms", "error", err)
		}
	}
	if a.senti != nil {
		if data, err := a.senti.marshal(); err != nil {
			a.log.Warn("analysis: saving sentiment", "error", err)
		} else if err := a.opt.Store.PutAnalysisState(ctx, NameSentiment, sentAt, data); err != nil {
			a.log.Warn("analysis: saving sentiment", "error", err)
		}
	}
}

// ErrOff is returned by a query of an analysis that is turned off.
var ErrOff = errors.New("analysis: turned off (analysis_terms / analysis_sentiment / anomaly_detection)")

// TermsResult is a day's trending terms.
type TermsResult struct {
	Date   string        `json:"date"`
	Room   string        `json:"room"`
	AsOfID int64         `json:"as_of_id"` // the highest message id counted
	Terms  []terms.Trend `json:"terms"`
}

// Terms returns at most limit trending terms of day and room ("" = all).
func (a *Analyzer) Terms(_ context.Context, day terms.Day, room string, limit int) (TermsResult, error) {
	if a.counter == nil {
		return TermsResult{}, ErrOff
	}
	a.mu.RLock()
	at := a.termsAt
	a.mu.RUnlock()
	return termsResult(a.counter, at, day, room, limit), nil
}

func termsResult(c *terms.Counter, at int64, day terms.Day, room string, limit int) TermsResult {
	ts := c.Trending(day, room, limit)
	if ts == nil {
		ts = []terms.Trend{}
	}
	return TermsResult{Date: day.Time().Format("2006-01-02"), Room: room, AsOfID: at, Terms: ts}
}

// SentimentResult is the sentiment per day of a range.
type SentimentResult struct {
	Target string         `json:"target"`
	Room   string         `json:"room"`
	AsOfID int64          `json:"as_of_id"`
	Days   []SentimentDay `json:"days"`
}

// Sentiment returns the days from..to of target ("" = all) and room ("" =
// all rooms).
func (a *Analyzer) Sentiment(_ context.Context, target, room string, from, to terms.Day) (SentimentResult, error) {
	if a.senti == nil {
		return SentimentResult{}, ErrOff
	}
	a.mu.RLock()
	at := a.sentAt
	a.mu.RUnlock()
	return SentimentResult{Target: target, Room: room, AsOfID: at, Days: a.senti.query(target, room, from, to)}, nil
}

// Reader serves the states an analyzer of another process saved,
// reloading one when its applied id changed (checked at most once a
// second).
type Reader struct {
	st      *store.Store
	log     *slog.Logger
	mu      sync.Mutex
	checked map[string]time.Time
	termsAt int64
	sentAt  int64
	counter *terms.Counter
	senti   *sentimentState
	anom    *anomalyState
	anomAt  int64
	off     map[string]bool // analyses turned off: ErrOff
	behq    *behaviourQueries
}

// Off says the analyses named (NameTerms, NameSentiment, NameAnomaly) are
// turned off: their queries answer ErrOff, whatever state is saved.
func (r *Reader) Off(names ...string) *Reader {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range names {
		r.off[n] = true
	}
	return r
}

// NewReader returns a reader of st's saved analyses.
func NewReader(st *store.Store, log *slog.Logger) *Reader {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reader{st: st, log: log, checked: map[string]time.Time{}, termsAt: -1, sentAt: -1, off: map[string]bool{}}
}

// WithBehaviour lets the reader answer the behaviour queries, with the
// monitor's zone, session gap and reply window (0: the defaults);
// without it they answer ErrOff.
func (r *Reader) WithBehaviour(loc *time.Location, gap, window time.Duration) *Reader {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.behq = newBehaviourQueries(r.st, loc, gap, window)
	return r
}

// fresh reloads analysis name's state when its id changed; it returns
// false when none is saved.
func (r *Reader) fresh(ctx context.Context, name string) (bool, error) {
	if time.Since(r.checked[name]) < time.Second {
		return r.loaded(name), nil
	}
	id, ok, err := r.st.AnalysisApplied(ctx, name)
	if err != nil {
		return false, err
	}
	r.checked[name] = time.Now()
	if !ok {
		return r.loaded(name), nil
	}
	if (name == NameTerms && id == r.termsAt) || (name == NameSentiment && id == r.sentAt) {
		return true, nil
	}
	data, id, ok, err := r.st.AnalysisState(ctx, name)
	if err != nil || !ok {
		return r.loaded(name), err
	}
	switch name {
	case NameTerms:
		c := terms.NewCounter(terms.DefaultCounterOptions)
		if err := c.UnmarshalBinary(data); err != nil {
			r.log.Warn("analysis: the saved trending terms are damaged (the monitor rebuilds them)", "error", err)
			return r.loaded(name), nil
		}
		r.counter, r.termsAt = c, id
	case NameSentiment:
		s := newSentimentState()
		if err := s.unmarshal(data); err != nil {
			r.log.Warn("analysis: the saved sentiment rollups are damaged (the monitor rebuilds them)", "error", err)
			return r.loaded(name), nil
		}
		r.senti, r.sentAt = s, id
	}
	return true, nil
}

func (r *Reader) loaded(name string) bool {
	if name == NameTerms {
		return r.counter != nil
	}
	return r.senti != nil
}

// Terms is Analyzer.Terms over the saved state.
func (r *Reader) Terms(ctx context.Context, day terms.Day, room string, limit int) (TermsResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off[NameTerms] {
		return TermsResult{}, ErrOff
	}
	ok, err := r.fresh(ctx, NameTerms)
	if err != nil {
		return TermsResult{}, fmt.Errorf("analysis: %w", err)
	}
	if !ok {
		return TermsResult{Date: day.Time().Format("2006-01-02"), Room: room, Terms: []terms.Trend{}}, nil
	}
	return termsResult(r.counter, r.termsAt, day, room, limit), nil
}

// Sentiment is Analyzer.Sentiment over the saved state.
func (r *Reader) Sentiment(ctx context.Context, target, room string, from, to terms.Day) (SentimentResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.off[NameSentiment] {
		return SentimentResult{}, ErrOff
	}
	ok, err := r.fresh(ctx, NameSentiment)
	if err != nil {
		return SentimentResult{}, fmt.Errorf("analysis: %w", err)
	}
	res := SentimentResult{Target: target, Room: room, Days: []SentimentDay{}}
	if ok {
		res.AsOfID, res.Days = r.sentAt, r.senti.query(target, room, from, to)
	}
	return res, nil
}
