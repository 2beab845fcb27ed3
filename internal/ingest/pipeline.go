// Package ingest owns the write pipeline from the socket readers to the
// database: the Recorder journals frames as they arrive, and the Pipeline
// reads the journal in order, decodes frames with each target's protocol
// adapter, normalises them into messages, drops duplicates, hands new
// messages to live subscribers, and writes them in batches, each batch in
// one transaction together with the journal position it covers. A database
// that is slow, locked or full only delays the pipeline: the records wait in
// the journal on disk and are written when the database recovers.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsmon/wsmon/internal/journal"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/protocol"
	"github.com/wsmon/wsmon/internal/protocol/raw"
	"github.com/wsmon/wsmon/internal/protocol/registry"
	"github.com/wsmon/wsmon/internal/store"
)

// Store is what the pipeline needs from the database.
type Store interface {
	ApplyBatch(ctx context.Context, b *store.Batch) error
	AppliedSeq(ctx context.Context) (uint64, error)
	MaxMessageID(ctx context.Context) (int64, error)
	RecentDedupKeys(ctx context.Context, since time.Time, limit int) ([]store.DedupEntry, error)
	// SessionProtocol is the protocol a session recorded in an earlier
	// run spoke (its start record was applied before the journal's
	// position).
	SessionProtocol(ctx context.Context, id int64) (string, error)
}

// Publisher receives new messages as soon as they are decoded, before they
// are committed (they will be: the journal holds them), or right after
// their commit with Options.PublishAfterCommit. Publish must not block; it
// is called from the pipeline goroutine.
type Publisher interface {
	Publish(msgs []message.Message)
}

// Committer is told about messages after their batch is committed, in
// order (the per-day message log uses it). It may be slow only at the cost
// of delaying the next batch.
type Committer interface {
	Committed(msgs []message.Message) error
}

// Decoder turns a target's records into messages: Adapter decodes them
// (for a target on protocol auto, through the adapter of the protocol each
// session picked), Normalizer makes messages of the events.
type Decoder struct {
	Adapter    protocol.Adapter
	Normalizer *message.Normalizer
}

// Options configure a Pipeline.
type Options struct {
	Journal  *journal.Journal
	Store    Store
	Decoders map[string]Decoder // by target name; unknown targets use the raw adapter
	// Lookup, when set, is asked instead of Decoders, on the pipeline's
	// goroutine, for every record: targets added at runtime are found
	// there. It must be safe for concurrent use with whatever adds them.
	Lookup       func(target string) (Decoder, bool)
	BatchSize    int           // max messages per transaction (default 5000)
	DedupWindow  time.Duration // how long a dedup key is remembered (default 1 h)
	DedupMax     int           // how many dedup keys are remembered at most (default 200,000)
	Publishers   []Publisher
	Committers   []Committer
	Logger       *slog.Logger
	RetryMin     time.Duration // first retry delay after a failed batch (default 100 ms)
	RetryMax     time.Duration // retry delay cap (default 5 s)
	ReleaseEvery time.Duration // how often applied journal segments are deleted (default 10 s)

	// BatchBytes bounds the bytes of a batch's messages (see MessageBytes;
	// default DefaultBatchBytes): a batch ends at BatchSize messages or
	// BatchBytes bytes, whichever comes first. A message larger than
	// BatchBytes is a batch of its own, stored whole.
	BatchBytes int
	// SessionBase is added to journal sequences to make session ids: 0
	// with one collector per database; with several, each collector's
	// sessions get ids of their own ((collector-1) << 40 on).
	SessionBase int64
	// PublishAfterCommit hands messages to the Publishers once their batch
	// is committed instead of once decoded: when the database gives the
	// messages their ids (PostgreSQL, several writers), ids are known
	// only then.
	PublishAfterCommit bool

	// InFlightBytes bounds the bytes of the messages decoded but not yet
	// through the writer (committed and handed to every Committer): the
	// reader waits before handing over a batch that would exceed it
	// (default DefaultInFlightBytes), and reads no further record while the
	// bound is reached. A batch larger than the bound goes alone, when
	// nothing else is in flight; so a stream of messages larger than the
	// bound has one of them between the journal and the database at a
	// time.
	InFlightBytes int
}

// Byte bounds of the pipeline's defaults. With them a stream of frames at
// the read limit (16 MiB, stored with their content: about 32 MiB a
// message) holds one such message between the journal and the database
// at a time, and small messages still go 5,000 to a transaction.
const (
	DefaultBatchBytes    = 8 << 20
	DefaultInFlightBytes = 24 << 20
)

// messageOverhead is what a message costs beyond its strings and raw
// bytes (the struct and its small fields), as MessageBytes counts it.
const messageOverhead = 256

// MessageBytes is the memory a decoded message holds, as the pipeline's
// byte bounds count it: its raw frame, its content and its other strings,
// plus a fixed overhead.
func MessageBytes(m *message.Message) int {
	return messageOverhead + len(m.Raw) + len(m.Content) + len(m.User) + len(m.Room) + len(m.ExtID) + len(m.Target)
}

// Stats are the pipeline's counters since start.
type Stats struct {
	Frames       int64  // frames read from the journal
	Messages     int64  // messages committed
	Duplicates   int64  // messages dropped as duplicates (replays of a message already stored, here or, on PostgreSQL, by another collector)
	Fenced       int64  // messages not written: another collector owned their target when they were received
	IDCollisions int64  // messages stored although an earlier one had the same payload id (other content)
	Abnormal     int64  // messages stored with a Reason
	Batches      int64  // batches committed
	FailedWrites int64  // failed batch attempts (each retried)
	AppliedSeq   uint64 // last journal sequence in the database
	Backlog      uint64 // journal records not yet applied
	LastError    string // last write error, "" once a write succeeded
}

// Pipeline moves journal records into the store. Create it with New and
// run it with Run.
type Pipeline struct {
	opts                                              Options
	log                                               *slog.Logger
	dedup                                             *dedup
	ids                                               *dedup // payload-id keys → dedup key, for id collisions
	nextID                                            int64  // the next message id (on PostgreSQL the store gives the ids at commit)
	raw                                               Decoder
	sessions                                          map[int64]string // protocol by session id (pipeline goroutine only)
	inflight                                          *budget          // bytes between reader and writer (see Options.InFlightBytes)
	frames, messages, dups, abnormal, batches, failed atomic.Int64
	fenced                                            atomic.Int64
	fencedLogged                                      map[string]int64 // target → owner last logged (writer goroutine only)
	collisions                                        atomic.Int64
	applied                                           atomic.Uint64
	mu                                                sync.Mutex
	lastErr                                           string
}

// New prepares a pipeline: it reads the applied position and the recent
// dedup keys from the store.
func New(ctx context.Context, opts Options) (*Pipeline, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 5000
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = DefaultBatchBytes
	}
	if opts.InFlightBytes <= 0 {
		opts.InFlightBytes = DefaultInFlightBytes
	}
	if opts.DedupWindow <= 0 {
		opts.DedupWindow = time.Hour
	}
	if opts.DedupMax <= 0 {
		opts.DedupMax = 200_000
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = 100 * time.Millisecond
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 5 * time.Second
	}
	if opts.ReleaseEvery <= 0 {
		opts.ReleaseEvery = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := &Pipeline{
		opts:     opts,
		log:      opts.Logger.With("component", "ingest"),
		dedup:    newDedup(opts.DedupWindow, opts.DedupMax),
		ids:      newDedup(opts.DedupWindow, opts.DedupMax),
		raw:      Decoder{Adapter: raw.Default(), Normalizer: message.NewNormalizer(message.FieldMap{}, 0)},
		sessions: map[int64]string{},
		inflight: newBudget(int64(opts.InFlightBytes)),
	}
	applied, err := opts.Store.AppliedSeq(ctx)
	if err != nil {
		return nil, err
	}
	p.applied.Store(applied)
	maxID, err := opts.Store.MaxMessageID(ctx)
	if err != nil {
		return nil, err
	}
	p.nextID = maxID + 1
	keys, err := opts.Store.RecentDedupKeys(ctx, time.Now().Add(-opts.DedupWindow), opts.DedupMax)
	if err != nil {
		return nil, err
	}
	for i := len(keys) - 1; i >= 0; i-- { // oldest first
		p.dedup.seen(keys[i].Key, keys[i].ReceivedAt)
	}
	return p, nil
}

// AppliedSeq is the journal sequence the database has applied; a new
// journal must start after it (journal.Open's next argument).
func (p *Pipeline) AppliedSeq() uint64 { return p.applied.Load() }

// Stats returns a snapshot of the counters.
func (p *Pipeline) Stats() Stats {
	p.mu.Lock()
	last := p.lastErr
	p.mu.Unlock()
	st := Stats{
		Frames: p.frames.Load(), Messages: p.messages.Load(), Duplicates: p.dups.Load(), IDCollisions: p.collisions.Load(), Fenced: p.fenced.Load(),
		Abnormal: p.abnormal.Load(), Batches: p.batches.Load(), FailedWrites: p.failed.Load(),
		AppliedSeq: p.applied.Load(), LastError: last,
	}
	if j := p.opts.Journal; j != nil {
		if ls := j.LastSeq(); ls > st.AppliedSeq {
			st.Backlog = ls - st.AppliedSeq
		}
	}
	return st
}

// Run processes records until ctx is cancelled and the journal has been
// closed and drained, or until ctx is cancelled while the database cannot be
// written (the unwritten records stay in the journal for the next start).
// For a clean stop: stop the capture runners, close the journal, then cancel
// ctx and wait for Run; Run writes everything the journal holds first.
func (p *Pipeline) Run(ctx context.Context) error {
	r, err := p.opts.Journal.NewReader(p.applied.Load() + 1)
	if err != nil {
		return err
	}
	defer r.Close()

	batches := make(chan sized, 2)
	writeErr := make(chan error, 1)
	go func() { writeErr <- p.writer(ctx, batches) }()

	err = p.reader(ctx, r, batches)
	close(batches)
	werr := <-writeErr
	if err == nil {
		err = werr
	}
	return err
}

// sized is a batch with the bytes of its messages (MessageBytes), which
// the reader took from the in-flight budget and the writer gives back.
type sized struct {
	b     *store.Batch
	bytes int64
}

// reader turns journal records into batches of at most BatchSize messages
// and BatchBytes bytes, and hands them to the writer within the in-flight
// budget. It stops when the journal is closed and fully read (clean stop)
// and returns nil, or with the write error that made the writer give up.
func (p *Pipeline) reader(ctx context.Context, r *journal.Reader, out chan<- sized) error {
	// Waiting for new records does not end with ctx: a clean stop closes the
	// journal, and the reader then drains it to ErrEOF.
	wait := context.Background()
	for {
		// Decode nothing more while the writer holds the whole budget: a
		// stream of large messages then has one in memory at a time.
		p.inflight.waitRoom()
		b := &store.Batch{Messages: make([]message.Message, 0, min(p.opts.BatchSize, 1024))}
		rec, err := r.Next(wait)
		if errors.Is(err, journal.ErrEOF) {
			return nil
		}
		if err != nil {
			return err
		}
		p.add(b, &rec)
		size := p.sizeFrom(b, 0)
		for len(b.Messages) < p.opts.BatchSize && size < int64(p.opts.BatchBytes) {
			rec, ok, err := r.TryNext()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			n := len(b.Messages)
			p.add(b, &rec)
			size += p.sizeFrom(b, n)
		}
		// Wait for the writer to free room before the batch reaches anyone
		// who keeps it (subscribers, the writer).
		p.inflight.acquire(size)
		if !p.opts.PublishAfterCommit {
			for _, pub := range p.opts.Publishers {
				pub.Publish(b.Messages)
			}
		}
		select {
		case out <- sized{b, size}:
		case <-ctx.Done():
			// The writer may have given up (database down at shutdown);
			// keep handing over only while it still runs.
			select {
			case out <- sized{b, size}:
			case <-time.After(100 * time.Millisecond):
				p.inflight.release(size)
				return nil
			}
		}
	}
}

// sizeFrom is the MessageBytes of b's messages from index i on.
func (p *Pipeline) sizeFrom(b *store.Batch, i int) int64 {
	var n int64
	for k := i; k < len(b.Messages); k++ {
		n += int64(MessageBytes(&b.Messages[k]))
	}
	return n
}

// budget is a count of bytes in flight with a bound: acquire waits while
// the bytes would exceed it, except when nothing is in flight (so a single
// batch larger than the bound still goes).
type budget struct {
	mu        sync.Mutex
	cond      *sync.Cond
	used, max int64
}

func newBudget(max int64) *budget {
	b := &budget{max: max}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// waitRoom waits until less than the bound is in flight.
func (b *budget) waitRoom() {
	b.mu.Lock()
	for b.used >= b.max {
		b.cond.Wait()
	}
	b.mu.Unlock()
}

// acquire takes n bytes, waiting until they fit or nothing is in flight.
func (b *budget) acquire(n int64) {
	b.mu.Lock()
	for b.used > 0 && b.used+n > b.max {
		b.cond.Wait()
	}
	b.used += n
	b.mu.Unlock()
}

// release gives back n bytes taken by acquire.
func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.cond.Broadcast()
	b.mu.Unlock()
}

// add decodes one journal record into the batch.
func (p *Pipeline) add(b *store.Batch, rec *journal.Record) {
	b.AppliedSeq = rec.Seq
	switch rec.Kind {
	case journal.KindSessionStart:
		st := decodeSessionStart(rec.Data)
		id := p.opts.SessionBase + int64(rec.Seq)
		p.sessions[id] = st.Protocol
		b.Starts = append(b.Starts, store.SessionStart{ID: id, Target: rec.Target, URL: st.URL, Protocol: st.Protocol, At: rec.At})
		return
	case journal.KindSessionEnd:
		var se sessionEnd
		if err := json.Unmarshal(rec.Data, &se); err != nil {
			se.Error = fmt.Sprintf("unreadable session record: %v", err)
		}
		delete(p.sessions, p.opts.SessionBase+rec.Session)
		b.Ends = append(b.Ends, store.SessionEnd{ID: p.opts.SessionBase + rec.Session, At: rec.At, CloseCode: se.Code, CloseReason: se.Reason, Error: se.Error, Control: se.Control})
		return
	case journal.KindGap:
		p.addGap(b, rec)
		return
	case journal.KindFrame:
	default:
		p.log.Warn("unknown journal record kind", "kind", rec.Kind, "seq", rec.Seq)
		return
	}
	p.frames.Add(1)
	var dec Decoder
	var ok bool
	if p.opts.Lookup != nil {
		dec, ok = p.opts.Lookup(rec.Target)
	} else {
		dec, ok = p.opts.Decoders[rec.Target]
	}
	if !ok {
		dec = p.raw
	}
	// The record's bytes are reused by the reader: keep a copy.
	f := protocol.Frame{Binary: rec.Flags&journal.FlagBinary != 0, Data: append([]byte(nil), rec.Data...)}
	var events []protocol.Event
	if rec.Flags&journal.FlagControl == 0 {
		events = registry.ForSession(dec.Adapter, p.sessionProtocol(p.opts.SessionBase+rec.Session)).Decode(f)
	}
	if len(events) == 0 {
		// Protocol chatter recorded by mistake, or an empty frame: keep it
		// visible rather than dropping it.
		events = []protocol.Event{{Payload: f.Data, Raw: f.Data, Binary: f.Binary}}
	}
	for _, ev := range events {
		m := message.Message{Target: rec.Target, SessionID: p.opts.SessionBase + rec.Session, ReceivedAt: rec.At}
		switch {
		case rec.Flags&journal.FlagTooLarge != 0:
			m.Reason = message.ReasonTooLarge
		case rec.Flags&journal.FlagControl != 0:
			m.Reason = message.ReasonControl
		}
		dec.Normalizer.Normalize(ev, &m)
		if key, ok := dec.Normalizer.DedupKey(&m); ok {
			if p.dedup.seen(key, m.ReceivedAt) {
				p.dups.Add(1)
				continue
			}
			m.DedupKey = key
			// A payload id seen before with other content is an id
			// collision, not a replay: stored, and counted.
			if ik, ok := dec.Normalizer.IDKey(&m); ok {
				if prev, seen := p.ids.swap(ik, key, m.ReceivedAt); seen && prev != key {
					p.collisions.Add(1)
				}
			}
		}
		if m.Reason != "" {
			p.abnormal.Add(1)
		}
		m.ID = p.nextID
		p.nextID++
		b.Messages = append(b.Messages, m)
	}
}

// addGap stores a journal gap record as a system message of its session,
// at the time of the first dropped frame, so the loss is visible in the
// stream, in search and in the session's history.
func (p *Pipeline) addGap(b *store.Batch, rec *journal.Record) {
	g, err := journal.DecodeGap(rec.Data)
	if err != nil {
		p.log.Warn("unreadable gap record", "seq", rec.Seq, "error", err)
		g = journal.Gap{From: rec.At, To: rec.At, Error: err.Error()}
	}
	m := message.Message{
		ID: p.nextID, Target: rec.Target, SessionID: p.opts.SessionBase + rec.Session, ReceivedAt: g.From,
		Type: message.TypeSystem, Reason: message.ReasonDropped,
		Content: fmt.Sprintf("wsmon dropped %d frames (%d bytes) received between %s and %s: the journal could not write to disk (%s)",
			g.Frames, g.Bytes, g.From.UTC().Format(time.RFC3339Nano), g.To.UTC().Format(time.RFC3339Nano), g.Error),
		Raw: append([]byte(nil), rec.Data...),
	}
	p.nextID++
	p.abnormal.Add(1)
	b.Messages = append(b.Messages, m)
}

// sessionProtocol returns the protocol session id spoke: from its start
// record, or for a session started before the journal's position, from
// the store (remembered until its end record).
func (p *Pipeline) sessionProtocol(id int64) string {
	if proto, ok := p.sessions[id]; ok {
		return proto
	}
	proto, err := p.opts.Store.SessionProtocol(context.Background(), id)
	if err != nil {
		p.log.Warn("reading a session's protocol; decoding with the target's adapter", "session", id, "error", err)
	}
	p.sessions[id] = proto
	return proto
}

// writer applies batches in order, retrying a failed batch with backoff
// until it is written or ctx is cancelled.
// Each batch's bytes go back to the in-flight budget once every Committer
// has had it (or, when giving up, once it is dropped).
func (p *Pipeline) writer(ctx context.Context, in <-chan sized) error {
	lastRelease := time.Now()
	for sb := range in {
		b := sb.b
		delay := p.opts.RetryMin
		for {
			err := p.opts.Store.ApplyBatch(context.WithoutCancel(ctx), b)
			if err == nil {
				break
			}
			p.failed.Add(1)
			p.setErr(err.Error())
			p.log.Warn("database write failed; records wait in the journal and will be retried",
				"error", err, "retry_in", delay, "messages", len(b.Messages))
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				// Shutting down with an unwritable database: what is not
				// written stays in the journal for the next start.
				p.inflight.release(sb.bytes)
				for sb := range in {
					p.inflight.release(sb.bytes)
				}
				return fmt.Errorf("ingest: stopped with unwritten records (kept in the journal): %w", err)
			}
			delay = min(delay*2, p.opts.RetryMax)
		}
		p.setErr("")
		p.dups.Add(b.CrossDuplicates)
		if b.Fenced > 0 {
			p.fenced.Add(b.Fenced)
			for t, owner := range b.FencedTargets {
				if p.fencedLogged[t] != owner {
					if p.fencedLogged == nil {
						p.fencedLogged = map[string]int64{}
					}
					p.fencedLogged[t] = owner
					p.log.Warn("messages not written: another collector took this target over (its lease was granted before they were received), and captures them itself",
						"target", t, "owner", owner)
				}
			}
		}
		if p.opts.PublishAfterCommit {
			for _, pub := range p.opts.Publishers {
				pub.Publish(b.Messages)
			}
		}
		p.applied.Store(b.AppliedSeq)
		p.batches.Add(1)
		p.messages.Add(int64(len(b.Messages)))
		for _, c := range p.opts.Committers {
			if err := c.Committed(b.Messages); err != nil {
				p.log.Warn("post-commit consumer failed", "error", err)
			}
		}
		p.inflight.release(sb.bytes)
		if time.Since(lastRelease) >= p.opts.ReleaseEvery {
			if err := p.opts.Journal.Release(b.AppliedSeq); err != nil {
				p.log.Warn("journal release failed", "error", err)
			}
			lastRelease = time.Now()
		}
	}
	return nil
}

func (p *Pipeline) setErr(s string) {
	p.mu.Lock()
	p.lastErr = s
	p.mu.Unlock()
}
