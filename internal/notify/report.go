package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"strings"
	"time"
)

// HeaderReportID carries Report.ID on the generic webhook, for receivers
// to deduplicate on.
const HeaderReportID = "X-Wsmon-Report-Id"

// Report is one periodic report to deliver (package report builds it).
// Text and HTML may quote chat content; HTML must already be escaped
// (report.WriteHTML is).
type Report struct {
	ID      string // the period and target, e.g. "daily:2026-01-02:"; unique per report
	Subject string // one line
	Text    string // a short plain-text summary (chat bots, webhooks, the email's text part)
	HTML    string // the whole page (the email's HTML part); "" = text only
	// URL is a link to the report on the dashboard, "" when none is known.
	URL string
}

// reportBody is the generic webhook's JSON body for a report.
type reportBody struct {
	Kind    string `json:"kind"` // always "report"
	ID      string `json:"id"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	URL     string `json:"url,omitempty"`
}

// DeliverReport delivers r to the sink named name now, synchronously,
// retrying transient failures as alerts are retried (Options.MaxAttempts,
// backoff) until ctx ends: email gets a multipart/alternative message
// with the text and the HTML page; a webhook gets reportBody as JSON
// (signed like alerts, X-Wsmon-Report-Id); the chat bots get the text
// with the link, when r has one. Config.Template applies to alerts only.
// It does not need Run and does not touch the alert queues or counts.
func (d *Dispatcher) DeliverReport(ctx context.Context, name string, r *Report) error {
	s := d.byName[name]
	if s == nil {
		return fmt.Errorf("notify: no notifier named %q", name)
	}
	for attempt := 1; ; attempt++ {
		var err error
		switch x := s.d.(type) {
		case *httpSink:
			err = x.deliverReport(ctx, r)
		case *emailSink:
			err = x.deliverReport(ctx, r)
		default:
			return fmt.Errorf("notify: notifier %q cannot deliver reports", name)
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var f *failure
		isFailure := errors.As(err, &f)
		if (isFailure && f.permanent) || attempt >= d.opts.MaxAttempts {
			return fmt.Errorf("notify: report to %q: %w", name, err)
		}
		var after time.Duration
		if isFailure {
			after = f.after
		}
		wait := d.backoff(attempt, after)
		d.log.Info("report delivery failed; retrying", "notifier", name, "report", r.ID, "attempt", attempt, "retry_in", wait.String(), "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// reportText is the chat text: the summary and the link.
func reportText(r *Report) string {
	t := r.Text
	if r.URL != "" {
		t += "\n" + r.URL
	}
	return t
}

func (s *httpSink) deliverReport(ctx context.Context, r *Report) error {
	req, err := buildReportRequest(s.cfg, r, time.Now())
	if err != nil {
		return permanent(err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, req.url, bytes.NewReader(req.body))
	if err != nil {
		return permanent(unwrapURLError(err))
	}
	hr.Header = req.header
	resp, err := s.client.Do(hr)
	if err != nil {
		return redactRequestError(err, req.url)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	return checkResponse(s.cfg.Type, resp.StatusCode, resp.Header, body)
}

// buildReportRequest returns the request delivering r to the HTTP sink c
// at now. The text is escaped for the platform as alert values are (no
// mentions from chat content) and cut to the platform's limit.
func buildReportRequest(c Config, r *Report, now time.Time) (*request, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("User-Agent", "wsmon")
	if c.Type == TypeWebhook {
		b, err := json.Marshal(reportBody{Kind: "report", ID: r.ID, Subject: r.Subject, Text: r.Text, URL: r.URL})
		if err != nil {
			return nil, err
		}
		h.Set(HeaderReportID, r.ID)
		if c.Secret != "" {
			h.Set(HeaderSignature, "sha256="+hex.EncodeToString(hmacSHA256([]byte(c.Secret), b)))
		}
		return &request{url: c.URL, body: b, header: h}, nil
	}
	text := strings.ToValidUTF8(reportText(r), "\uFFFD")
	text = escaper(c.Type)(text)
	return textRequest(c, cutBytes(text, textLimit(c.Type)), now, h)
}

func (s *emailSink) deliverReport(ctx context.Context, r *Report) error {
	return s.send(ctx, buildReportEmail(r, s.from, s.to, time.Now(), s.hostname))
}

// buildReportEmail returns the RFC 5322 message for r: the subject as in
// buildEmail (control characters removed, RFC 2047 encoded), and a
// multipart/alternative body of the text (with the link) and, when r has
// one, the HTML page, each quoted-printable UTF-8.
func buildReportEmail(r *Report, from *mail.Address, to []*mail.Address, now time.Time, hostname string) []byte {
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from.String())
	tos := make([]string, len(to))
	for i, t := range to {
		tos[i] = t.String()
	}
	header("To", strings.Join(tos, ", "))
	header("Subject", encodeSubject(emailSubject(&Alert{Rule: "report", Detail: strings.TrimPrefix(r.Subject, "[wsmon] ")})))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", strings.Replace(messageID(0, now, from.Address, hostname), "wsmon.alert.0.", "wsmon.report.", 1))
	header("MIME-Version", "1.0")
	header("Auto-Submitted", "auto-generated")
	part := func(ctype, body string) {
		b.WriteString("Content-Type: " + ctype + "; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
		qp := quotedprintable.NewWriter(&b)
		qp.Write([]byte(body))
		qp.Close()
		b.WriteString("\r\n")
	}
	if r.HTML == "" {
		part("text/plain", reportText(r))
		return b.Bytes()
	}
	// A random boundary: chat content in the parts cannot guess it.
	var rnd [12]byte
	rand.Read(rnd[:])
	boundary := "wsmon-report-" + hex.EncodeToString(rnd[:])
	header("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	b.WriteString("--" + boundary + "\r\n")
	part("text/plain", reportText(r))
	b.WriteString("--" + boundary + "\r\n")
	part("text/html", r.HTML)
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes()
}
