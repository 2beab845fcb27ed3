package notify

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// smtpServer is a minimal SMTP server on 127.0.0.1 for the tests: EHLO,
// STARTTLS (when it has a certificate), AUTH PLAIN, MAIL, RCPT, DATA
// (with dot-unstuffing), RSET, NOOP, QUIT. It records every accepted
// message. failMail makes the first n MAIL commands answer 451 (transient);
// rejectRcpt answers 550 to every RCPT.
type smtpServer struct {
	t          *testing.T
	l          net.Listener
	tls        *tls.Config // nil: no STARTTLS offered
	implicit   bool        // TLS from the first byte
	user, pass string      // AUTH PLAIN credentials; "" offers no AUTH

	mu         sync.Mutex
	failMail   int
	rejectRcpt bool
	mails      []smtpMail
	wg         sync.WaitGroup
}

type smtpMail struct {
	from    string
	to      []string
	data    string
	tls     bool
	authed  bool
	ehloArg string
}

func newSMTPServer(t *testing.T, configure func(*smtpServer)) *smtpServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{t: t, l: l}
	if configure != nil {
		configure(s)
	}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() { l.Close(); s.wg.Wait() })
	return s
}

func (s *smtpServer) port() int { return s.l.Addr().(*net.TCPAddr).Port }

func (s *smtpServer) got() []smtpMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMail(nil), s.mails...)
}

func (s *smtpServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			s.session(c)
		}()
	}
}

func (s *smtpServer) session(c net.Conn) {
	isTLS := false
	if s.implicit {
		tc := tls.Server(c, s.tls)
		if tc.Handshake() != nil {
			return
		}
		c, isTLS = tc, true
	}
	r := bufio.NewReader(c)
	reply := func(format string, args ...any) { fmt.Fprintf(c, format+"\r\n", args...) }
	reply("220 test.local ESMTP ready")
	var m smtpMail
	authed := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			m.ehloArg = arg
			ext := []string{"test.local", "8BITMIME"}
			if s.tls != nil && !isTLS {
				ext = append(ext, "STARTTLS")
			}
			if s.user != "" {
				ext = append(ext, "AUTH PLAIN")
			}
			for i, e := range ext {
				sep := "-"
				if i == len(ext)-1 {
					sep = " "
				}
				reply("250%s%s", sep, e)
			}
		case "STARTTLS":
			if s.tls == nil || isTLS {
				reply("502 not available")
				continue
			}
			reply("220 go ahead")
			tc := tls.Server(c, s.tls)
			if tc.Handshake() != nil {
				return
			}
			c, isTLS = tc, true
			r = bufio.NewReader(c)
			m = smtpMail{}
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") || s.user == "" {
				reply("504 unrecognized authentication type")
				continue
			}
			b, err := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(b), "\x00")
			if err != nil || len(parts) != 3 || parts[1] != s.user || parts[2] != s.pass {
				reply("535 5.7.8 authentication credentials invalid")
				continue
			}
			authed = true
			reply("235 2.7.0 authentication successful")
		case "MAIL":
			if s.user != "" && !authed {
				reply("530 5.7.0 authentication required")
				continue
			}
			s.mu.Lock()
			fail := s.failMail > 0
			if fail {
				s.failMail--
			}
			s.mu.Unlock()
			if fail {
				reply("451 4.3.0 try again later")
				continue
			}
			m.from = addrParam(strings.TrimPrefix(arg, "FROM:"))
			reply("250 ok")
		case "RCPT":
			s.mu.Lock()
			reject := s.rejectRcpt
			s.mu.Unlock()
			if reject {
				reply("550 5.1.1 no such user")
				continue
			}
			m.to = append(m.to, addrParam(strings.TrimPrefix(arg, "TO:")))
			reply("250 ok")
		case "DATA":
			if m.from == "" || len(m.to) == 0 {
				reply("503 need MAIL and RCPT")
				continue
			}
			reply("354 end with .")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, ".")) // RFC 5321 4.5.2 transparency
			}
			m.data, m.tls, m.authed = data.String(), isTLS, authed
			s.mu.Lock()
			s.mails = append(s.mails, m)
			s.mu.Unlock()
			m = smtpMail{ehloArg: m.ehloArg}
			reply("250 2.0.0 queued")
		case "RSET":
			m = smtpMail{ehloArg: m.ehloArg}
			reply("250 ok")
		case "NOOP":
			reply("250 ok")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("500 unknown command")
		}
	}
}

// addrParam is the address of "<a@b> PARAM=…".
func addrParam(s string) string {
	s, _, _ = strings.Cut(strings.TrimPrefix(s, "<"), ">")
	return s
}

// testCert returns a server TLS config for 127.0.0.1 and a client
// config trusting it.
func testCert(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

func emailConfig(s *smtpServer, mode string) Config {
	return Config{Name: "mail", Type: TypeEmail, SMTPHost: "127.0.0.1", SMTPPort: s.port(), TLS: mode,
		From: "wsmon alerts <wsmon@example.com>", To: []string{"ops@example.com", "王 <wang@example.com>"}}
}

// checkEmail parses a received message as a mail reader would and checks
// headers and body against a.
func checkEmail(t *testing.T, m smtpMail, a Alert) {
	t.Helper()
	if m.from != "wsmon@example.com" || strings.Join(m.to, ",") != "ops@example.com,wang@example.com" {
		t.Errorf("envelope from %q to %q", m.from, m.to)
	}
	msg, err := mail.ReadMessage(strings.NewReader(m.data))
	if err != nil {
		t.Fatalf("not an RFC 5322 message: %v\n%s", err, m.data)
	}
	for k := range msg.Header {
		switch k {
		case "From", "To", "Subject", "Date", "Message-Id", "Mime-Version", "Content-Type",
			"Content-Transfer-Encoding", "Auto-Submitted", "X-Wsmon-Alert-Id":
		default:
			t.Errorf("unexpected header %q (injection?)", k)
		}
	}
	for _, line := range strings.Split(m.data, "\r\n") {
		if line == "" {
			break // end of headers
		}
		if len(line) > 998 {
			t.Errorf("header line of %d characters", len(line))
		}
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "[wsmon] " + a.Rule + ": " + strings.Join(strings.Fields(a.Detail), " "); strings.Join(strings.Fields(subject), " ") != want {
		t.Errorf("subject %q, want %q", subject, want)
	}
	if got := msg.Header.Get(HeaderAlertID); got != strconv.FormatInt(a.ID, 10) {
		t.Errorf("alert id header %q", got)
	}
	if _, err := msg.Header.Date(); err != nil {
		t.Errorf("Date: %v", err)
	}
	if to, err := msg.Header.AddressList("To"); err != nil || len(to) != 2 || to[1].Name != "王" {
		t.Errorf("To %v: %v", to, err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(body), "\r\n", "\n")
	lines := strings.NewReplacer("\r\n", "\n", "\r", "\n")
	wantContent, wantDetail := lines.Replace(a.Content), lines.Replace(a.Detail)
	if !strings.Contains(text, wantContent) || !strings.Contains(text, wantDetail) {
		t.Errorf("body lacks the content or detail:\n%s\nwant content %q", text, wantContent)
	}
}

func TestEmailDelivery(t *testing.T) {
	serverTLS, clientTLS := testCert(t)
	tests := []struct {
		name      string
		configure func(*smtpServer)
		mode      string
		user      string
		wantTLS   bool
	}{
		{"starttls with auth", func(s *smtpServer) { s.tls, s.user, s.pass = serverTLS, "alice", "pw" }, TLSStartTLS, "alice", true},
		{"starttls default mode", func(s *smtpServer) { s.tls = serverTLS }, "", "", true},
		{"implicit tls", func(s *smtpServer) { s.tls, s.implicit, s.user, s.pass = serverTLS, true, "alice", "pw" }, TLSImplicit, "alice", true},
		{"no tls to localhost with auth", func(s *smtpServer) { s.user, s.pass = "alice", "pw" }, TLSNone, "alice", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSMTPServer(t, tt.configure)
			cfg := emailConfig(srv, tt.mode)
			if tt.user != "" {
				cfg.Username, cfg.Password = tt.user, "pw"
			}
			d := startDispatcher(t, []Config{cfg}, Options{TLSConfig: clientTLS, MaxAttempts: 1})
			a := testAlert()
			a.Detail = "keyword \"紧急\" from mallory\r\nBcc: victim@example.com in #lobby"
			d.Send(a, []string{"mail"})
			st := waitStats(t, d, "mail", func(s SinkStats) bool { return s.Sent+s.Failed > 0 })
			if st.Sent != 1 {
				t.Fatalf("not sent: %+v", st)
			}
			got := srv.got()
			if len(got) != 1 {
				t.Fatalf("%d messages", len(got))
			}
			if got[0].tls != tt.wantTLS || got[0].authed != (tt.user != "") {
				t.Errorf("tls %v authed %v", got[0].tls, got[0].authed)
			}
			checkEmail(t, got[0], a)
		})
	}
}

func TestEmailFailures(t *testing.T) {
	serverTLS, clientTLS := testCert(t)
	tests := []struct {
		name      string
		configure func(*smtpServer)
		cfg       func(*Config)
		clientTLS *tls.Config
		want      SinkStats
		errHas    string
	}{
		{"4xx retried then sent", func(s *smtpServer) { s.tls, s.failMail = serverTLS, 2 }, nil, clientTLS,
			SinkStats{Sent: 1, Retried: 2}, "451"},
		{"5xx fails at once", func(s *smtpServer) { s.tls, s.rejectRcpt = serverTLS, true }, nil, clientTLS,
			SinkStats{Failed: 1}, "RCPT TO: 550"},
		{"starttls required but not offered", nil, nil, clientTLS,
			SinkStats{Failed: 1}, "does not offer STARTTLS"},
		{"untrusted certificate", func(s *smtpServer) { s.tls = serverTLS }, nil, nil,
			SinkStats{Failed: 1}, "certificate"},
		{"wrong password", func(s *smtpServer) { s.tls, s.user, s.pass = serverTLS, "alice", "right" },
			func(c *Config) { c.Username, c.Password = "alice", "wrong" }, clientTLS,
			SinkStats{Failed: 1}, "535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSMTPServer(t, tt.configure)
			cfg := emailConfig(srv, TLSStartTLS)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			d := startDispatcher(t, []Config{cfg}, Options{TLSConfig: tt.clientTLS, MaxAttempts: 5})
			d.Send(testAlert(), []string{"mail"})
			st := waitStats(t, d, "mail", func(s SinkStats) bool { return s.Sent+s.Failed > 0 })
			if st.Sent != tt.want.Sent || st.Failed != tt.want.Failed || st.Retried != tt.want.Retried {
				t.Errorf("stats %+v, want sent %d failed %d retried %d", st, tt.want.Sent, tt.want.Failed, tt.want.Retried)
			}
			if !strings.Contains(st.LastError, tt.errHas) {
				t.Errorf("last error %q, want %q", st.LastError, tt.errHas)
			}
		})
	}
}

func TestEmailDeadServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	d := startDispatcher(t, []Config{{Name: "mail", Type: TypeEmail, SMTPHost: "127.0.0.1", SMTPPort: port,
		From: "a@example.com", To: []string{"b@example.com"}}}, Options{MaxAttempts: 3})
	d.Send(testAlert(), []string{"mail"})
	st := waitStats(t, d, "mail", func(s SinkStats) bool { return s.Failed == 1 })
	if st.Retried != 2 || !strings.Contains(st.LastError, "connect") {
		t.Errorf("stats %+v", st)
	}
}

// Headers stay single lines whatever the alert holds.
func TestBuildEmailHeaders(t *testing.T) {
	from, _ := mail.ParseAddress("wsmon <wsmon@example.com>")
	to, _ := mail.ParseAddress("ops@example.com")
	for _, detail := range []string{
		"plain ascii",
		"a\r\nBcc: victim@example.com",
		"a\nSubject: twice",
		"a\rX-Evil: 1",
		"\u2028line\u2029sep\x00nul\x1bx",
		strings.Repeat("紧急", 500),
		"=?utf-8?q?Bcc:_x?= ?= =?",
		"\xff\xfe invalid utf-8",
	} {
		a := testAlert()
		a.Detail = detail
		raw := buildEmail(&a, from, []*mail.Address{to}, "body", time.Unix(1e9, 0), "host")
		msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
		if err != nil {
			t.Fatalf("%q: %v", detail, err)
		}
		if len(msg.Header) != 10 {
			t.Errorf("%q: %d headers: %v", detail, len(msg.Header), msg.Header)
		}
		subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil {
			t.Errorf("%q: subject %v", detail, err)
		}
		if strings.ContainsAny(subject, "\r\n") {
			t.Errorf("%q: subject %q has a line break", detail, subject)
		}
	}
}
