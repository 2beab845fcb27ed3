package app

import (
	"net/http"

	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/metrics"
	"github.com/wsmon/wsmon/internal/sentiment"
)

// classifierConfig is the external sentiment classifier of cfg
// (sentiment_classifier_*), or nil when none is configured or sentiment
// is off (config.Warnings says so). The analyzer starts and closes the
// sentiment.Remote it describes with each of its runs.
func classifierConfig(cfg config.Config) *sentiment.RemoteConfig {
	if cfg.SentimentClassifierURL == "" || !cfg.AnalysisSentimentEnabled() {
		return nil
	}
	h := make(http.Header, len(cfg.SentimentClassifierHeaders))
	for k, v := range cfg.SentimentClassifierHeaders {
		h.Set(k, v)
	}
	return &sentiment.RemoteConfig{URL: cfg.SentimentClassifierURL, Header: h,
		Timeout: cfg.SentimentClassifierTimeout.Duration(), MaxBatch: cfg.SentimentClassifierBatch}
}

// sentimentMetrics is who scored sentiment in the running analyzer, for
// /metrics; nil when sentiment is off or no analyzer runs here (a
// separate web process, a collector without the index lease).
func (a *analyses) sentimentMetrics() *metrics.Sentiment {
	if a == nil || !a.opts.Sentiment {
		return nil
	}
	an := a.Analyzer()
	if an == nil {
		return nil
	}
	st := an.Stats()
	return &metrics.Sentiment{Remote: st.SentimentRemote, Lexicon: st.SentimentLexicon, Classifier: st.Classifier}
}
