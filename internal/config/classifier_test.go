package config

import (
	"strings"
	"testing"
)

// TestSentimentClassifierKeys: the sentiment_classifier_* keys from a file, their
// defaults, and every kind of bad value, each refused with a line naming
// the key.
func TestSentimentClassifierKeys(t *testing.T) {
	for _, c := range []struct {
		name, text string
		wantErr    string // "" = accepted
		check      func(Config) bool
	}{
		{"defaults", `{}`, "", func(c Config) bool {
			return c.SentimentClassifierURL == "" && c.SentimentClassifierTimeout == 2 && c.SentimentClassifierBatch == 64 && c.SentimentClassifierHeaders == nil
		}},
		{"all set", `{"analysis_sentiment": true, "sentiment_classifier_url": "https://model.example/v1/score?x=1",
			"sentiment_classifier_headers": {"Authorization": "Bearer abc", "X-Tenant": "t1"},
			"sentiment_classifier_timeout": 0.5, "sentiment_classifier_batch": 1000}`, "", func(c Config) bool {
			return c.SentimentClassifierURL == "https://model.example/v1/score?x=1" && c.SentimentClassifierTimeout == 0.5 &&
				c.SentimentClassifierBatch == 1000 && c.SentimentClassifierHeaders["Authorization"] == "Bearer abc" && len(c.SentimentClassifierHeaders) == 2
		}},
		{"http", `{"sentiment_classifier_url": "HTTP://127.0.0.1:9000/score"}`, "", nil},
		{"batch 1", `{"sentiment_classifier_batch": 1}`, "", nil},
		{"timeout 60", `{"sentiment_classifier_timeout": 60}`, "", nil},
		{"url scheme", `{"sentiment_classifier_url": "ws://h/score"}`, `sentiment_classifier_url: scheme must be http or https, got "ws"`, nil},
		{"url no scheme", `{"sentiment_classifier_url": "127.0.0.1:9000/score"}`, `sentiment_classifier_url: "127.0.0.1:9000/score" has no scheme: add http:// or https://`, nil},
		{"url no host", `{"sentiment_classifier_url": "http:///score"}`, `sentiment_classifier_url: missing host in "http:///score"`, nil},
		{"url unparsable", `{"sentiment_classifier_url": "http://h:port/"}`, `sentiment_classifier_url: cannot parse "http://h:port/"`, nil},
		{"url blank", `{"sentiment_classifier_url": "  "}`, `sentiment_classifier_url: must be set`, nil},
		{"url type", `{"sentiment_classifier_url": 1}`, `sentiment_classifier_url`, nil},
		{"timeout 0", `{"sentiment_classifier_timeout": 0}`, `sentiment_classifier_timeout: must be greater than 0 and at most 60 seconds, got 0`, nil},
		{"timeout negative", `{"sentiment_classifier_timeout": -1}`, `sentiment_classifier_timeout: must be greater than 0 and at most 60 seconds, got -1`, nil},
		{"timeout big", `{"sentiment_classifier_timeout": 61}`, `sentiment_classifier_timeout: must be greater than 0 and at most 60 seconds, got 61`, nil},
		{"timeout string", `{"sentiment_classifier_timeout": "2s"}`, `sentiment_classifier_timeout`, nil},
		{"batch 0", `{"sentiment_classifier_batch": 0}`, `sentiment_classifier_batch: must be between 1 and 1000, got 0`, nil},
		{"batch big", `{"sentiment_classifier_batch": 1001}`, `sentiment_classifier_batch: must be between 1 and 1000, got 1001`, nil},
		{"batch fraction", `{"sentiment_classifier_batch": 2.5}`, `sentiment_classifier_batch`, nil},
		{"header name", `{"sentiment_classifier_headers": {"Bad Name": "x"}}`, `sentiment_classifier_headers: invalid header name "Bad Name"`, nil},
		{"header value", `{"sentiment_classifier_headers": {"X-A": "a\r\nX-B: b"}}`, `sentiment_classifier_headers: value of "X-A" contains a line break or NUL`, nil},
		{"header reserved", `{"sentiment_classifier_headers": {"content-type": "text/plain"}}`, `sentiment_classifier_headers: "content-type" is set by wsmon`, nil},
		{"header host", `{"sentiment_classifier_headers": {"Host": "x"}}`, `sentiment_classifier_headers: "Host" is set by wsmon`, nil},
		{"headers type", `{"sentiment_classifier_headers": ["Authorization: x"]}`, `sentiment_classifier_headers`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Load(LoadOptions{ConfigPath: writeFile(t, "config.json", c.text)})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.check != nil && !c.check(cfg) {
				t.Errorf("parsed %+v %+v", cfg.Redacted().SentimentClassifierURL, cfg)
			}
		})
	}
}

// TestSentimentClassifierEnv: the classifier's keys from the environment, the way
// a secret header is kept out of the file; the redacted form hides it.
func TestSentimentClassifierEnv(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, err := Load(LoadOptions{Env: []string{
		"WSMON_ANALYSIS_SENTIMENT=1",
		"WSMON_SENTIMENT_CLASSIFIER_URL=https://model.example/score?token=s3cret",
		`WSMON_SENTIMENT_CLASSIFIER_HEADERS={"Authorization": "Bearer t0ken", "X-Tenant": "t1"}`,
		"WSMON_SENTIMENT_CLASSIFIER_TIMEOUT=1.5",
		"WSMON_SENTIMENT_CLASSIFIER_BATCH=16",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SentimentClassifierURL != "https://model.example/score?token=s3cret" || cfg.SentimentClassifierHeaders["Authorization"] != "Bearer t0ken" ||
		cfg.SentimentClassifierTimeout != 1.5 || cfg.SentimentClassifierBatch != 16 {
		t.Fatalf("parsed %+v", cfg)
	}
	r := cfg.Redacted()
	if r.SentimentClassifierHeaders["Authorization"] != Mask || r.SentimentClassifierHeaders["X-Tenant"] != "t1" ||
		strings.Contains(r.SentimentClassifierURL, "s3cret") {
		t.Errorf("redacted %q %q", r.SentimentClassifierURL, r.SentimentClassifierHeaders)
	}
	if cfg.SentimentClassifierHeaders["Authorization"] != "Bearer t0ken" {
		t.Error("Redacted changed the original")
	}
	for _, secret := range []string{"t0ken", "s3cret"} {
		if strings.Contains(cfg.String(), secret) {
			t.Errorf("String() leaks %q", secret)
		}
	}
	if _, err := Load(LoadOptions{Env: []string{"WSMON_SENTIMENT_CLASSIFIER_BATCH=0"}}); err == nil ||
		!strings.Contains(err.Error(), "sentiment_classifier_batch") {
		t.Errorf("batch 0 from the environment: %v", err)
	}
}

// TestSentimentClassifierWarnings: a classifier that is never called is valid but
// said at start, as anomaly rules with anomaly_detection off are.
func TestSentimentClassifierWarnings(t *testing.T) {
	on, off := true, false
	for _, c := range []struct {
		name   string
		mutate func(*Config)
		want   string // "" = no warning
	}{
		{"sentiment off", func(c *Config) { c.SentimentClassifierURL = "http://127.0.0.1:1/" },
			"sentiment_classifier_url is set, but analysis_sentiment is off: the classifier is never called"},
		{"sentiment explicitly off", func(c *Config) { c.SentimentClassifierURL, c.AnalysisSentiment = "http://127.0.0.1:1/", &off },
			"sentiment_classifier_url is set, but analysis_sentiment is off"},
		{"sentiment on", func(c *Config) { c.SentimentClassifierURL, c.AnalysisSentiment = "http://127.0.0.1:1/", &on }, ""},
		{"headers without url", func(c *Config) { c.SentimentClassifierHeaders = map[string]string{"Authorization": "x"} },
			"sentiment_classifier_headers is set, but sentiment_classifier_url is not"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Defaults()
			c.mutate(&cfg)
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(cfg.Warnings(), "\n")
			if c.want == "" && got != "" || !strings.Contains(got, c.want) {
				t.Errorf("Warnings() = %q, want %q", got, c.want)
			}
		})
	}
}
