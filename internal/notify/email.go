package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// smtpTimeout bounds one email delivery attempt, connection to QUIT.
const smtpTimeout = 30 * time.Second

// emailSink delivers over SMTP with net/smtp.
type emailSink struct {
	cfg      Config
	r        *renderer
	tls      *tls.Config // nil: system roots; ServerName is set per host
	hostname string      // EHLO name and Message-ID domain fallback
	from     *mail.Address
	to       []*mail.Address
	port     int
	timeout  time.Duration
}

func newEmailSink(c Config, r *renderer, tlsCfg *tls.Config, hostname string) (*emailSink, error) {
	s := &emailSink{cfg: c, r: r, tls: tlsCfg, hostname: hostname, port: c.SMTPPort, timeout: smtpTimeout}
	var err error
	if s.from, err = parseAddress(c.From); err != nil {
		return nil, err
	}
	for _, t := range c.To {
		a, err := parseAddress(t)
		if err != nil {
			return nil, err
		}
		s.to = append(s.to, a)
	}
	if s.port == 0 {
		switch c.TLS {
		case TLSImplicit:
			s.port = 465
		case TLSNone:
			s.port = 25
		default:
			s.port = 587
		}
	}
	return s, nil
}

// deliver makes one attempt: render, connect, STARTTLS or TLS as
// configured, AUTH PLAIN when a username is set, MAIL, RCPT, DATA, QUIT.
// SMTP 4xx replies and network errors retry; 5xx replies, a missing
// STARTTLS or AUTH and certificate errors fail at once.
func (s *emailSink) deliver(ctx context.Context, a *Alert) error {
	body, err := s.r.render(a)
	if err != nil {
		return permanent(err)
	}
	msg := buildEmail(a, s.from, s.to, string(body), time.Now(), s.hostname)
	return s.send(ctx, msg)
}

func (s *emailSink) send(ctx context.Context, msg []byte) error {
	host := s.cfg.SMTPHost
	addr := net.JoinHostPort(host, strconv.Itoa(s.port))
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	tlsCfg := s.tlsConfig()
	d := &net.Dialer{}
	var conn net.Conn
	var err error
	if s.cfg.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: d, Config: tlsCfg}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return smtpFailure("connect", err)
	}
	// net/smtp takes no context: the deadline and a cancellation close
	// the connection under it.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return smtpFailure("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(s.hostname); err != nil {
		return smtpFailure("EHLO", err)
	}
	if s.cfg.TLS == "" || s.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return permanent(fmt.Errorf("SMTP server %s does not offer STARTTLS (tls %q requires it; use %q for port 465)", addr, TLSStartTLS, TLSImplicit))
		}
		if err := c.StartTLS(tlsCfg); err != nil {
			return smtpFailure("STARTTLS", err)
		}
	}
	if s.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return permanent(fmt.Errorf("SMTP server %s does not offer AUTH", addr))
		}
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, host)); err != nil {
			return smtpFailure("AUTH", err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return smtpFailure("MAIL FROM", err)
	}
	for _, t := range s.to {
		if err := c.Rcpt(t.Address); err != nil {
			return smtpFailure("RCPT TO", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpFailure("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return smtpFailure("DATA", err)
	}
	if err := w.Close(); err != nil {
		return smtpFailure("DATA", err)
	}
	// The message was accepted at the end of DATA: a failed QUIT does not
	// unsend it.
	_ = c.Quit()
	return nil
}

func (s *emailSink) tlsConfig() *tls.Config {
	var c *tls.Config
	if s.tls != nil {
		c = s.tls.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = s.cfg.SMTPHost
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// smtpFailure classifies an SMTP error: 4xx replies (RFC 5321 transient
// negative completion) and network errors retry; 5xx replies and
// certificate errors fail at once.
func smtpFailure(stage string, err error) error {
	err = fmt.Errorf("SMTP %s: %w", stage, err)
	var tp *textproto.Error
	if errors.As(err, &tp) {
		if tp.Code >= 400 && tp.Code < 500 {
			return err
		}
		return permanent(err)
	}
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	if errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) {
		return permanent(err)
	}
	return err
}

// buildEmail returns the RFC 5322 message for a: headers in CRLF lines, a
// UTF-8 subject as RFC 2047 encoded-words folded to short lines, a
// quoted-printable text/plain body. No header carries a CR or LF from the
// alert: the subject's control characters become spaces before encoding,
// and the addresses come from the validated configuration. It is a pure
// function of its arguments but for the Message-ID's random part.
func buildEmail(a *Alert, from *mail.Address, to []*mail.Address, body string, now time.Time, hostname string) []byte {
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from.String())
	tos := make([]string, len(to))
	for i, t := range to {
		tos[i] = t.String()
	}
	header("To", strings.Join(tos, ", "))
	header("Subject", encodeSubject(emailSubject(a)))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", messageID(a.ID, now, from.Address, hostname))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies to it
	header(HeaderAlertID, strconv.FormatInt(a.ID, 10))
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(body))
	qp.Close()
	b.WriteString("\r\n")
	return b.Bytes()
}

// emailSubject is "[wsmon] <rule>: <detail>" on one line of at most 200
// characters.
func emailSubject(a *Alert) string {
	s := "[wsmon] " + a.Rule + ": " + a.Detail
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return cutRunes(strings.TrimSpace(s), 200)
}

// encodeSubject returns s as is when it is printable ASCII without "=?",
// else as RFC 2047 Q encoded-words of UTF-8, at most 75 characters each
// and one per folded line (whitespace between encoded-words is not part
// of the text, RFC 2047 section 6.2). A literal "=?" is encoded too, so
// chat text cannot pose as an encoded-word that decodes to something
// else. (mime.QEncoding leaves such ASCII alone and does not fold.)
func encodeSubject(s string) string {
	plain := !strings.Contains(s, "=?")
	for i := 0; plain && i < len(s); i++ {
		plain = s[i] >= ' ' && s[i] <= '~'
	}
	if plain {
		return s
	}
	const open, end, maxWord = "=?utf-8?q?", "?=", 75
	var words []string
	var w strings.Builder
	for _, r := range s {
		var enc string
		switch {
		case r == ' ':
			enc = "_"
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!*+-/", r)):
			enc = string(r)
		default:
			var buf [utf8.UTFMax]byte
			for _, b := range buf[:utf8.EncodeRune(buf[:], r)] {
				enc += fmt.Sprintf("=%02X", b)
			}
		}
		if w.Len() > 0 && len(open)+w.Len()+len(enc)+len(end) > maxWord {
			words = append(words, open+w.String()+end)
			w.Reset()
		}
		w.WriteString(enc)
	}
	if w.Len() > 0 {
		words = append(words, open+w.String()+end)
	}
	return strings.Join(words, "\r\n ")
}

// messageID is "<wsmon.alert.<id>.<random>@<domain>>", the domain being
// the sender's (or hostname when the sender has none).
func messageID(id int64, now time.Time, from, hostname string) string {
	domain := hostname
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i+1 < len(from) {
		domain = from[i+1:]
	}
	domain = strings.Map(func(r rune) rune {
		if r <= ' ' || r >= 0x7f || r == '<' || r == '>' || r == '"' || r == '\\' || r == '[' || r == ']' {
			return -1
		}
		return r
	}, domain)
	if domain == "" {
		domain = "localhost"
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	return fmt.Sprintf("<wsmon.alert.%d.%d.%s@%s>", id, now.Unix(), hex.EncodeToString(rnd[:]), domain)
}
