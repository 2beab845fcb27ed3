package capture

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/gorilla/websocket"
)

// reservedHeaders are set by the WebSocket handshake itself; gorilla refuses
// them in the request header, so they are refused up front as a
// configuration error instead of failing every dial.
var reservedHeaders = []string{
	"Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions",
}

// prepare resolves everything a dial needs from the options. Its errors are
// configuration errors: Run returns them without retrying.
func (r *Runner) prepare() (*dialSetup, error) {
	o := r.opts
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, fmt.Errorf("capture: bad url: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("capture: url scheme must be ws or wss, got %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("capture: url has no host")
	}
	if u.User != nil {
		return nil, errors.New("capture: user info in a WebSocket url is not allowed; send credentials in an Authorization header")
	}

	subs := slices.Clone(o.Subprotocols)

	header := make(http.Header, len(o.Headers)+1)
	for k, v := range o.Headers {
		header.Set(k, v)
	}
	for _, k := range reservedHeaders {
		if _, ok := header[k]; ok {
			return nil, fmt.Errorf("capture: header %s is set by the WebSocket handshake and cannot be configured", k)
		}
	}
	if _, ok := header["Sec-Websocket-Protocol"]; ok && len(subs) > 0 {
		return nil, errors.New("capture: set subprotocols, not a Sec-WebSocket-Protocol header")
	}
	if header.Get("User-Agent") == "" {
		header.Set("User-Agent", "wsmon/"+o.Version)
	}

	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // explicit opt-in
	if o.CAFile != "" {
		pool, err := loadCAFile(o.CAFile)
		if err != nil {
			return nil, err
		}
		tlsCfg.RootCAs = pool
	}
	if o.InsecureSkipVerify && u.Scheme == "wss" {
		r.log.Warn("TLS certificate verification is disabled (insecure_skip_verify)")
	}

	sinkURL, logURL := redactURL(u)
	return &dialSetup{
		dialer: &websocket.Dialer{
			Proxy:             http.ProxyFromEnvironment,
			NetDialContext:    o.NetDialContext,
			TLSClientConfig:   tlsCfg,
			HandshakeTimeout:  o.HandshakeTimeout,
			EnableCompression: true,
		},
		http: &http.Client{
			Timeout: o.HandshakeTimeout,
			Transport: &http.Transport{
				Proxy:             http.ProxyFromEnvironment,
				DialContext:       o.NetDialContext,
				TLSClientConfig:   tlsCfg,
				ForceAttemptHTTP2: false,
			},
		},
		header:       header,
		u:            u,
		subprotocols: subs,
		sinkURL:      sinkURL,
		logURL:       logURL,
	}, nil
}

// loadCAFile returns the system roots plus the PEM certificates in path.
func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("capture: ca file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("capture: ca file %s: no PEM certificates found", path)
	}
	return pool, nil
}

// dialError explains a failed dial. When the server answered the upgrade
// with an HTTP status, the status and the start of the body are included.
func dialError(err error, resp *http.Response) error {
	if resp == nil {
		return fmt.Errorf("dial: %w", err)
	}
	msg := fmt.Sprintf("upgrade refused: HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	if resp.StatusCode == http.StatusSwitchingProtocols {
		msg = "upgrade failed"
	}
	if resp.Body != nil {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		if body := strings.Join(strings.Fields(string(b)), " "); body != "" {
			msg += ": " + body
		}
	}
	return fmt.Errorf("%s (%w)", msg, err)
}
