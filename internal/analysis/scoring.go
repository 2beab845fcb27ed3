package analysis

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/sentiment"
	"github.com/wsmon/wsmon/internal/terms"
)

// Who scores sentiment. Without Options.Classifier every chat message is
// scored by the lexicon where it is counted (count → addSentiment). With
// one, Run starts a sentiment.Remote, and before the messages of a batch
// (a handed-over batch, or a page read back from the store) are counted,
// prescore submits the text of every one that will be added to the
// rollups and waits until each has its result: the classifier's, or the
// lexicon's when the classifier did not answer it (failed or timed-out
// request, breaker open, queue full). Only then are they counted, in id
// order, each once, and the applied id moves past them, so a message's
// score is in the rollups exactly once across dropped batches, restarts
// and classifier failures. The wait is bounded by the classifier's
// timeout (and is nothing while its breaker is open); ingest never waits
// for it, as the hand-off drops a batch it has no room for.

// SentimentScores says who scored the chat messages an analyzer added to
// the sentiment rollups since it was made.
type SentimentScores struct {
	// SentimentRemote were scored by the external classifier.
	SentimentRemote uint64 `json:"sentiment_remote"`
	// SentimentLexicon were scored by the lexicon: all of them without a
	// classifier; with one, those it did not answer (its fallbacks).
	SentimentLexicon uint64 `json:"sentiment_lexicon"`
	// Classifier is the external classifier's own counts (requests,
	// failures, fallbacks by reason, breaker state); nil without one or
	// before Run started it.
	Classifier *sentiment.RemoteStats `json:"classifier,omitempty"`
}

// scoring is an analyzer's sentiment scorer and its counts.
type scoring struct {
	remote      atomic.Pointer[sentiment.Remote] // set by Run; nil: the lexicon only
	fromRemote  atomic.Uint64
	fromLexicon atomic.Uint64
	open        bool // the classifier's breaker was open when last logged (the run goroutine only)
	chunk       int  // the most texts submitted before waiting: the Remote's MaxPending, so none finds its queue full
}

func (s *scoring) stats() SentimentScores {
	st := SentimentScores{SentimentRemote: s.fromRemote.Load(), SentimentLexicon: s.fromLexicon.Load()}
	if r := s.remote.Load(); r != nil {
		rs := r.Stats()
		st.Classifier = &rs
	}
	return st
}

// startScoring starts the external classifier when one is configured and
// sentiment is on; stop closes it (every text still waiting is answered
// by the lexicon first) and logs its counts.
func (a *Analyzer) startScoring() (stop func(), err error) {
	if a.senti == nil || a.opt.Classifier == nil {
		return func() {}, nil
	}
	cfg := *a.opt.Classifier
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = defaultClassifierPending
	}
	a.scoring.chunk = cfg.MaxPending
	r, err := sentiment.NewRemote(cfg)
	if err != nil {
		return nil, fmt.Errorf("analysis: starting the sentiment classifier: %w", err)
	}
	a.scoring.remote.Store(r)
	return func() {
		r.Close()
		st := r.Stats()
		a.log.Info("analysis: sentiment classifier stopped", "requests", st.Requests, "failed_requests", st.Failed,
			"scored_remote", st.Remote, "fallback_queue_full", st.Full, "fallback_breaker_open", st.Open,
			"fallback_request_failed", st.FailedTexts, "fallback_closed", st.Closed)
	}, nil
}

// defaultClassifierPending is the classifier's MaxPending unless set: a
// page read back from the store (readPage) fits, and so does an ingest
// batch of the default batch_size; a larger batch is submitted in parts.
const defaultClassifierPending = 8192

// prescore has the external classifier score the chat messages of items
// that count will add to the sentiment rollups (those after the ones seen
// and after the rollups' applied id), and returns once every one has its
// result in item.pre, submitting at most the Remote's MaxPending texts
// before waiting for them. Without a classifier it does nothing.
func (a *Analyzer) prescore(items []item) {
	r := a.scoring.remote.Load()
	if r == nil || len(items) == 0 {
		return
	}
	a.mu.RLock()
	seen := max(a.seen, a.sentAt)
	a.mu.RUnlock()
	idx := make([]int, 0, len(items))
	for i := range items {
		m := &items[i]
		if m.ID <= seen {
			continue // count skips it too
		}
		seen = m.ID
		if m.Type == message.TypeChat && m.Content != "" {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return
	}
	res := make([]sentiment.Result, len(idx))
	var wg sync.WaitGroup
	for start := 0; start < len(idx); start += a.scoring.chunk {
		// At most MaxPending texts at a time: the queue never overflows
		// into the lexicon because of the batch's own size.
		part := idx[start:min(len(idx), start+a.scoring.chunk)]
		wg.Add(len(part))
		for k, i := range part {
			j := start + k
			r.Submit(items[i].Content, func(x sentiment.Result) {
				res[j] = x
				wg.Done()
			})
		}
		wg.Wait()
	}
	for j, i := range idx {
		items[i].pre = &res[j]
	}
	a.logClassifier(r)
}

// logClassifier logs when the classifier's breaker opens or closes, so an
// operator sees that scores have fallen back to the lexicon and why.
func (a *Analyzer) logClassifier(r *sentiment.Remote) {
	st := r.Stats()
	s := &a.scoring
	open := st.Breaker != "closed"
	switch {
	case open && !s.open:
		a.log.Warn("analysis: the sentiment classifier is failing; messages are scored by the lexicon until it answers again",
			"breaker", st.Breaker, "failed_requests", st.Failed, "last_error", st.LastError)
	case !open && s.open:
		a.log.Info("analysis: the sentiment classifier answers again", "requests", st.Requests, "failed_requests", st.Failed)
	}
	s.open = open
}

// addSentiment adds m to the rollups with the score prescore found, or
// the lexicon's.
func (a *Analyzer) addSentiment(m *item, day terms.Day) {
	var res sentiment.Result
	if m.pre != nil {
		res = *m.pre
	} else {
		res.Score, res.Label = sentiment.Score(m.Content)
	}
	remote := res.Source == sentiment.FromRemote
	if remote {
		a.scoring.fromRemote.Add(1)
	} else {
		a.scoring.fromLexicon.Add(1)
	}
	a.senti.add(m.ID, m.Target, m.Room, day, res.Score, res.Label, remote)
}
