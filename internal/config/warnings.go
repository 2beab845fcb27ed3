package config

import "github.com/wsmon/wsmon/internal/rules"

// Warnings returns what is valid in c but unsafe, one sentence each, for
// the program to log at start: a dashboard opened to other machines
// without authentication by web_insecure_no_auth; anomaly rules that
// cannot fire because anomaly_detection is off; an external sentiment
// classifier that is never called.
func (c Config) Warnings() []string {
	var w []string
	if c.WebInsecureNoAuth && !IsLoopback(c.WebHost) && c.WebToken == "" && c.WebUser == "" {
		w = append(w, "web_insecure_no_auth is true: the dashboard and API on "+displayPath(c.WebHost)+
			" are open without authentication to anyone who can reach the port, and can read every message and change targets; set web_token or web_user and web_password")
	}
	if !c.AnomalyDetectionEnabled() {
		for _, r := range c.Rules {
			if r.Type == rules.TypeAnomaly && !r.Disabled {
				w = append(w, "rule "+quoteShort(r.Name)+" is an anomaly rule, but anomaly_detection is off: it never fires; set anomaly_detection to true")
			}
		}
	}
	if c.SentimentClassifierURL != "" && !c.AnalysisSentimentEnabled() {
		w = append(w, "sentiment_classifier_url is set, but analysis_sentiment is off: the classifier is never called; set analysis_sentiment to true")
	}
	if c.SentimentClassifierURL == "" && len(c.SentimentClassifierHeaders) > 0 {
		w = append(w, "sentiment_classifier_headers is set, but sentiment_classifier_url is not: the headers are not used")
	}
	return w
}

// Deprecations returns, one sentence each, the keys set in c that are
// still accepted but do nothing, for the program to log at start in every
// mode.
func (c Config) Deprecations() []string {
	var d []string
	if c.BatchLatency != 0 {
		d = append(d, "batch_latency is deprecated and has no effect (a batch is written as soon as the database writer is free); remove it from the configuration")
	}
	return d
}
