package capture

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
)

// Attempt is one connection attempt that failed before a session started,
// as Options.OnAttempt receives it.
type Attempt struct {
	At         time.Time // when the attempt started
	URL        string    // the configured URL, password redacted
	Reason     string    // which step failed: ReasonPrepare, ReasonDial or ReasonHandshake (ReasonLocalResource never: Code says it)
	Error      string    // what went wrong, in English
	Code       string    // the stable code of Error (ErrorCode's values)
	HTTPStatus int       // the upgrade's HTTP status when the server answered one other than 101; 0 otherwise
	Final      bool      // Run stops after it (the server refused wsmon)
}

// Stable error codes of Status.LastErrorCode, Attempt.Code and ErrorCode:
// the dashboard translates them (the English text stays alongside). New
// codes may be added; these never change meaning.
const (
	CodeConnectionRefused = "connection_refused" // nothing listens at the address (ECONNREFUSED)
	CodeHostNotFound      = "host_not_found"     // the host name does not resolve
	CodeTimeout           = "timeout"            // the connection, TLS or upgrade did not complete in time
	CodeTLS               = "tls_error"          // the TLS handshake or the certificate failed
	CodeUpgradeRejected   = "upgrade_rejected"   // the server answered the upgrade with another HTTP status (see HTTPStatus)
	CodeUnauthorized      = "unauthorized"       // the upgrade was answered 401: credentials missing or wrong; not retried
	CodeForbidden         = "forbidden"          // the upgrade was answered 403; not retried
	CodeRefused           = "refused"            // the server closed with 1008/4401/4403 or its protocol refused the credentials; not retried
	CodeDialFailed        = "dial_failed"        // any other failure to connect
	CodePrepareFailed     = "prepare_failed"     // the protocol's HTTP step before the upgrade failed (SignalR negotiate, SockJS info)
	CodeHandshakeFailed   = "handshake_failed"   // connected, but the protocol session never became ready
	CodeServerClosed      = "server_closed"      // the server sent a close frame
	CodeConnectionDead    = "connection_dead"    // nothing arrived for pong_timeout
	CodeConnectionDropped = "connection_dropped" // the connection ended without a close frame
	CodeLocalResource     = "local_resource"     // this process ran out of open files or memory
	CodeGaveUp            = "gave_up"            // max_reconnect_attempts consecutive attempts failed; not retried
	CodeConfig            = "config"             // the target's settings are unusable (URL, CA file, ...)
)

// ErrorCode is the stable code of an error returned by Run or seen in an
// attempt: one of the Code* values ("" for nil).
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var gu *GaveUpError
	var se *StopError
	var ref *protocol.Refusal
	switch {
	case errors.As(err, &gu):
		return CodeGaveUp
	case errors.As(err, &se):
		switch se.HTTPStatus {
		case http.StatusUnauthorized:
			return CodeUnauthorized
		case http.StatusForbidden:
			return CodeForbidden
		}
		return CodeRefused
	case errors.As(err, &ref):
		return CodeRefused
	case isLocalResourceError(err):
		return CodeLocalResource
	}
	if c := netCode(err); c != "" {
		return c
	}
	return CodeConfig
}

// netCode classifies a network error: refused, unresolvable, timed out,
// TLS; "" when it is none of these.
func netCode(err error) string {
	var dns *net.DNSError
	var ne net.Error
	var cert x509.UnknownAuthorityError
	var host x509.HostnameError
	var inv x509.CertificateInvalidError
	var rec tls.RecordHeaderError
	var alert tls.AlertError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return CodeConnectionRefused
	case errors.As(err, &dns):
		if dns.IsTimeout {
			return CodeTimeout
		}
		return CodeHostNotFound
	case errors.As(err, &cert), errors.As(err, &host), errors.As(err, &inv), errors.As(err, &rec),
		errors.As(err, &alert), errors.As(err, &verify), strings.Contains(err.Error(), "tls: "):
		return CodeTLS
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return CodeTimeout
	}
	return ""
}

// attemptCode is the code of how one attempt ended.
func attemptCode(out outcome, local bool) string {
	switch {
	case out.err == nil && out.stop == nil:
		return ""
	case local:
		return CodeLocalResource
	case out.stop != nil:
		return ErrorCode(out.stop)
	}
	var ref *protocol.Refusal
	if errors.As(out.err, &ref) {
		return CodeRefused
	}
	switch out.reason {
	case ReasonPrepare:
		if c := netCode(out.err); c != "" {
			return c
		}
		return CodePrepareFailed
	case ReasonDial:
		if out.httpStatus != 0 {
			return CodeUpgradeRejected
		}
		if c := netCode(out.err); c != "" {
			return c
		}
		return CodeDialFailed
	case ReasonHandshake:
		return CodeHandshakeFailed
	case ReasonServerClose:
		return CodeServerClosed
	case ReasonDead:
		return CodeConnectionDead
	}
	return CodeConnectionDropped
}
