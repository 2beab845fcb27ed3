// Package capture owns the live side of wsmon: one supervised WebSocket
// session per target. A Runner dials its target, runs the protocol adapter's
// handshake, reads every data frame and hands it to a Sink, keeps the
// connection alive (WebSocket pings, pong-timeout detection, adapter
// heartbeats and replies), and reconnects with backoff when the connection
// is lost. The Runner is the only place in wsmon with reconnect policy:
// adapters never retry, they just return errors.
//
// Every connection whose protocol session opened is a session:
// Sink.SessionStart (with the protocol it speaks) right after the adapter's
// Open, Sink.SessionEnd (close code, reason, error, record and control
// counts) when it ends. Failed attempts (no session started) are not
// sessions; they show in Status and are passed to Options.OnAttempt.
package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmon/wsmon/internal/protocol"
	"github.com/wsmon/wsmon/internal/protocol/raw"
	"github.com/wsmon/wsmon/internal/protocol/registry"
)

// ReasonTooLarge is the Sink.Frame reason for a frame longer than the read
// limit: the frame's first ReadLimit bytes are passed on, the rest is
// discarded, and the connection stays up. Same value as
// message.ReasonTooLarge.
const ReasonTooLarge = "too_large"

// ReasonControl is the Sink.Frame reason for a protocol control frame
// (heartbeat, ack, subscribe reply), journaled only when
// Options.KeepControl is set.
const ReasonControl = "control"

// ErrDropped is wrapped by a Sink.Frame error meaning the frame was not
// kept and the sink has accounted for the loss (its journal cannot write
// and its memory bound is reached): the reader goes on reading, so the
// connection and its pings stay alive while the disk is full.
var ErrDropped = errors.New("frame dropped")

// Sink receives what a Runner captures. SessionStart and SessionEnd are
// called from the goroutine running Run; Frame is called on the reader
// goroutine. Calls for one Runner never overlap, but one Sink shared by
// several Runners must be safe for concurrent use.
type Sink interface {
	// Frame is called on the reader goroutine for every recorded data frame,
	// in arrival order. It MUST return quickly (it appends to an on-disk
	// journal): the reader does nothing else between frames, and while Frame
	// runs no frame, ping or pong is read from the socket. f.Data is only
	// valid during the call (the runner reuses its read buffer): copy it to
	// keep it. f is one record of the protocol session (a whole protocol
	// message). reason is ReasonTooLarge when f.Data is a truncated
	// prefix of a frame, ReasonControl for a kept control frame, else "".
	// An error ends the session (it is recorded as the session's error) and
	// the runner reconnects with backoff, except an error wrapping
	// ErrDropped: the sink could not keep the frame and has recorded the
	// loss itself, and the session goes on (the frame is not counted).
	Frame(target string, session int64, at time.Time, f protocol.Frame, reason string) error
	// SessionStart is called once per connection, after the upgrade and
	// the adapter's Open, before any Frame. url has any password redacted;
	// protocol is the protocol the session speaks. The returned id is passed
	// to Frame and SessionEnd. An error closes the connection; it counts as
	// a failed attempt.
	SessionStart(target, url, protocol string, at time.Time) (session int64, err error)
	// SessionEnd is called exactly once for every successful SessionStart.
	// closeCode is the WebSocket close code (1006 when the connection ended
	// without a close frame, 1000 when wsmon shut it down), errText says what
	// went wrong ("" for a clean close), frames counts the records passed
	// to Frame in this session and control the control frames seen.
	SessionEnd(target string, session int64, at time.Time, closeCode int, closeReason, errText string, frames, control int64) error
}

// Options configures one Runner. Zero durations and limits take the
// documented defaults; a negative PingInterval disables our pings and a
// negative PongTimeout disables dead-connection detection.
type Options struct {
	Name               string            // target name, used in Sink calls and logs
	URL                string            // ws:// or wss:// URL
	Headers            map[string]string // handshake headers (Authorization, Cookie, Origin, User-Agent, ...); values are never logged
	Subprotocols       []string          // offered before the adapter's own subprotocols
	CAFile             string            // PEM file of extra CA certificates, added to the system roots
	InsecureSkipVerify bool              // accept any server certificate (explicit opt-in)
	ReadLimit          int64             // max bytes kept per frame; longer frames are truncated with ReasonTooLarge. Default 16 MiB

	// Adapter speaks the target's chat protocol. nil is the raw adapter
	// with its defaults: every frame is a record.
	Adapter protocol.Adapter
	// SendOnConnect are text frames sent, in order, once the protocol
	// session is ready, after every (re)connect.
	SendOnConnect []string
	// KeepControl journals control frames too (Sink.Frame with
	// ReasonControl), for debugging a protocol.
	KeepControl bool
	// Version is used in the default User-Agent "wsmon/<Version>" (sent
	// when Headers has no User-Agent). Default "dev".
	Version string

	ReconnectInterval    time.Duration // backoff base; default 5 s
	ReconnectMax         time.Duration // backoff cap; default 60 s (never below ReconnectInterval)
	StableAfter          time.Duration // a connection up this long resets the backoff; default 30 s
	MaxReconnectAttempts int           // consecutive failed connection attempts before Run gives up (local resource errors such as EMFILE not counted); 0 = forever
	FixedInterval        bool          // wait ReconnectInterval before every attempt instead of a growing backoff (a server asking to come back later still gets ReconnectMax)
	PingInterval         time.Duration // our WebSocket pings; default 20 s
	PongTimeout          time.Duration // silence (no frame, ping or pong) after which the connection is dead; default 60 s
	HandshakeTimeout     time.Duration // bounds Prepare's HTTP steps, the upgrade and, separately, the protocol handshake (Open until Ready); default 10 s
	WriteTimeout         time.Duration // deadline for each write; default 10 s

	// OnAttempt, when set, is called on Run's goroutine after every
	// connection attempt that failed before a session started (prepare,
	// dial, upgrade, protocol Open): those are not sessions, and without it
	// an outage of a target that never connects leaves no record. It must
	// return quickly (it may queue the attempt, not write it).
	OnAttempt func(Attempt)

	// Logger receives the runner's logs, with a "target" attribute. nil
	// discards them. Header values are never logged; URLs are logged
	// without their query string.
	Logger *slog.Logger
	// NetDialContext, when set, replaces the TCP dialer (tests, custom
	// routing). TLS still runs on top of it for wss.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Defaults applied by NewRunner to zero fields of Options.
const (
	DefaultReadLimit         = 16 << 20
	DefaultReconnectInterval = 5 * time.Second
	DefaultReconnectMax      = 60 * time.Second
	DefaultStableAfter       = 30 * time.Second
	DefaultPingInterval      = 20 * time.Second
	DefaultPongTimeout       = 60 * time.Second
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
)

// State is where a Runner is in its lifecycle.
type State string

// Runner states.
const (
	StateConnecting   State = "connecting"   // dialling, upgrading or running the adapter handshake
	StateConnected    State = "connected"    // handshake done, reading frames
	StateDisconnected State = "disconnected" // waiting for the backoff delay before the next attempt
	StateStopped      State = "stopped"      // Run not started yet, or returned
)

// ErrNotConnected is returned by Send while no protocol session is ready.
var ErrNotConnected = errors.New("not connected")

// setLive records the session that Send writes to (nil: none).
func (r *Runner) setLive(s *session, ps protocol.Session) {
	r.liveMu.Lock()
	r.live, r.livePS = s, ps
	r.liveMu.Unlock()
}

// Send writes a chat message on the current connection, framed by its
// protocol session (protocol.Composer): text to room ("" for the
// session's default). It returns the echo Compose predicts (the event the
// server's broadcast of the message will decode to). It does not wait for
// the write; it fails with ErrNotConnected when no session is ready, and
// when the protocol cannot send messages or the writer's queue is full.
// Safe for concurrent use.
func (r *Runner) Send(text, room string) (protocol.Event, error) {
	r.liveMu.Lock()
	s, ps := r.live, r.livePS
	r.liveMu.Unlock()
	if s == nil {
		return protocol.Event{}, ErrNotConnected
	}
	comp, ok := ps.(protocol.Composer)
	if !ok {
		return protocol.Event{}, fmt.Errorf("protocol %s %w", ps.Protocol(), protocol.ErrCannotSend)
	}
	var out protocol.Output
	echo, err := comp.Compose(text, room, &out)
	if err != nil {
		return protocol.Event{}, fmt.Errorf("compose: %w", err)
	}
	for _, f := range out.Replies {
		if !s.trySend(outMsg{data: bytes.Clone(f.Data), binary: f.Binary}) {
			return protocol.Event{}, errors.New("write queue full")
		}
	}
	return echo, nil
}

// Status is a snapshot of a Runner, safe to take from any goroutine.
type Status struct {
	Target     string
	State      State
	Since      time.Time // when State was entered
	Reconnects int       // connection attempts after the first one, over the Runner's life
	// ReconnectsByReason counts Reconnects by why the attempt before ended
	// (the Reason* values).
	ReconnectsByReason map[string]int
	LastMessageAt      time.Time // when the last recorded frame arrived; zero if none yet
	LastError          string    // most recent dial, handshake or connection error; kept after recovery
	LastErrorCode      string    // stable code of LastError (ErrorCode values: connection_refused, gave_up, ...), for translation
	NextAttemptAt      time.Time // while disconnected: when the next attempt is due; zero otherwise
	Session            int64     // current (or last) session id; 0 before the first
	Protocol           string    // protocol of that session ("" before the first)
	Frames             int64     // records journaled in that session
	TotalFrames        int64     // records journaled over the Runner's life
	TotalControl       int64     // control frames (heartbeats, acks, ...) over the Runner's life
	TotalDropped       int64     // records the sink could not keep (ErrDropped) over the Runner's life
	Stopped            string    // why Run returned for good (refused, gave up, bad configuration); "" while running
}

// Runner supervises the connection to one target. Create it with NewRunner
// and call Run once.
type Runner struct {
	opts    Options
	sink    Sink
	adapter protocol.Adapter
	log     *slog.Logger
	started atomic.Bool

	// Written on the reader's hot path, so atomics rather than mu.
	frames       atomic.Int64
	totalFrames  atomic.Int64
	totalControl atomic.Int64
	dropped      atomic.Int64
	lastMsg      atomic.Int64 // unix nanoseconds; 0 = never

	// liveMu guards the ready session Send writes to (set by the
	// session's feeder, cleared when the connection ends).
	liveMu sync.Mutex
	live   *session
	livePS protocol.Session

	mu         sync.Mutex
	byReason   map[string]int // reconnects by why the previous attempt ended
	state      State
	since      time.Time
	reconnects int
	lastErr    string
	lastCode   string
	next       time.Time // next attempt due (state disconnected)
	session    int64
	protocol   string
	stopped    string
}

// NewRunner returns a Runner for opts that reports to sink. It does no I/O;
// configuration errors (bad URL, unreadable CA file) are returned by Run.
func NewRunner(opts Options, sink Sink) *Runner {
	if opts.ReadLimit <= 0 {
		opts.ReadLimit = DefaultReadLimit
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	opts.ReconnectInterval = orDefault(opts.ReconnectInterval, DefaultReconnectInterval)
	opts.ReconnectMax = orDefault(opts.ReconnectMax, DefaultReconnectMax)
	opts.ReconnectMax = max(opts.ReconnectMax, opts.ReconnectInterval)
	opts.StableAfter = orDefault(opts.StableAfter, DefaultStableAfter)
	opts.PingInterval = orDefault(opts.PingInterval, DefaultPingInterval)
	opts.PongTimeout = orDefault(opts.PongTimeout, DefaultPongTimeout)
	opts.HandshakeTimeout = orDefault(opts.HandshakeTimeout, DefaultHandshakeTimeout)
	opts.WriteTimeout = orDefault(opts.WriteTimeout, DefaultWriteTimeout)
	if opts.MaxReconnectAttempts < 0 {
		opts.MaxReconnectAttempts = 0
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	adapter := opts.Adapter
	if adapter == nil {
		adapter = raw.Default()
	}
	return &Runner{
		opts:    opts,
		sink:    sink,
		adapter: adapter,
		log:     logger.With("target", opts.Name),
		state:   StateStopped,
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Status returns a snapshot of the runner's state. Safe for concurrent use.
func (r *Runner) Status() Status {
	r.mu.Lock()
	s := Status{
		Target:             r.opts.Name,
		State:              r.state,
		Since:              r.since,
		Reconnects:         r.reconnects,
		ReconnectsByReason: maps.Clone(r.byReason),
		LastError:          r.lastErr,
		LastErrorCode:      r.lastCode,
		NextAttemptAt:      r.next,
		Session:            r.session,
		Protocol:           r.protocol,
		Stopped:            r.stopped,
	}
	r.mu.Unlock()
	s.Frames = r.frames.Load()
	s.TotalFrames = r.totalFrames.Load()
	s.TotalControl = r.totalControl.Load()
	s.TotalDropped = r.dropped.Load()
	if ns := r.lastMsg.Load(); ns != 0 {
		s.LastMessageAt = time.Unix(0, ns)
	}
	return s
}

func (r *Runner) setState(st State) {
	r.mu.Lock()
	if r.state != st {
		r.state, r.since = st, time.Now()
	}
	if st != StateDisconnected {
		r.next = time.Time{}
	}
	r.mu.Unlock()
}

// startSession notes a new session for Status.
func (r *Runner) startSession(id int64, protocol string) {
	r.mu.Lock()
	r.session, r.protocol = id, protocol
	r.mu.Unlock()
	r.frames.Store(0)
}

func (r *Runner) setError(err error, code string) {
	r.mu.Lock()
	r.lastErr, r.lastCode = err.Error(), code
	r.mu.Unlock()
}

// Run connects to the target and keeps it connected until ctx is cancelled
// or the runner gives up. It returns nil after ctx is cancelled (an open
// connection is closed with code 1000 and its session ended first). It
// returns a *StopError when the server refuses wsmon (close code 1008, 4401
// or 4403, or HTTP 401/403 at the upgrade), a *GaveUpError after
// MaxReconnectAttempts consecutive failed attempts, and a plain error for
// bad configuration. An attempt that failed for lack of a local resource
// (EMFILE, ENFILE, ENOMEM, ENOBUFS) backs off like any other but does not
// count toward MaxReconnectAttempts. Errors do not name the target. Run may
// be called once.
func (r *Runner) Run(ctx context.Context) (err error) {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("capture: Run called more than once")
	}
	defer func() {
		if err != nil { // the reason first, so StateStopped is never seen without it
			// Not logged here: the owner of the runner logs why it stopped,
			// once.
			r.setError(err, ErrorCode(err))
			r.mu.Lock()
			r.stopped = err.Error()
			r.mu.Unlock()
		}
		r.setState(StateStopped)
	}()
	if r.sink == nil {
		return errors.New("capture: nil Sink")
	}
	d, err := r.prepare()
	if err != nil {
		return err
	}
	r.log.Info("capture starting", "url", d.logURL, "protocol", r.adapter.Name())

	bo := backoff{base: r.opts.ReconnectInterval, max: r.opts.ReconnectMax, stableAfter: r.opts.StableAfter, fixed: r.opts.FixedInterval}
	failures := 0
	for {
		r.setState(StateConnecting)
		out := r.connectOnce(ctx, d)
		if ctx.Err() != nil {
			return nil
		}
		local := !out.established && isLocalResourceError(out.err)
		code := attemptCode(out, local)
		if !out.session && out.err != nil && r.opts.OnAttempt != nil {
			r.opts.OnAttempt(Attempt{At: out.at, URL: d.sinkURL, Reason: out.reason, Error: out.err.Error(), Code: code,
				HTTPStatus: out.httpStatus, Final: out.stop != nil})
		}
		if out.stop != nil {
			return out.stop
		}
		if out.err != nil {
			r.setError(out.err, code)
		}
		switch {
		case out.established:
			failures = 0
		case local:
			// This process ran out of descriptors or memory (a flood of
			// dashboard connections, say): the target is not at fault, and
			// giving up would leave it stopped after the flood is gone.
		default:
			failures++
			if n := r.opts.MaxReconnectAttempts; n > 0 && failures >= n {
				return &GaveUpError{Attempts: failures, Last: out.err}
			}
		}
		bo.ended(out.established, out.uptime)
		delay := bo.next(out.slowDown)
		r.setState(StateDisconnected)
		r.mu.Lock()
		r.next = time.Now().Add(delay)
		r.mu.Unlock()
		if local {
			r.log.Error("connection attempt failed for lack of a local resource (open files, memory); not counted toward max_reconnect_attempts",
				"err", out.err, "retry_in", delay.Round(time.Millisecond), "failures", failures)
		} else {
			r.log.Warn("disconnected", "err", out.err, "retry_in", delay.Round(time.Millisecond), "failures", failures)
		}
		if !sleep(ctx, delay) {
			return nil
		}
		reason := out.reason
		if local {
			reason = ReasonLocalResource
		}
		r.mu.Lock()
		r.reconnects++
		if r.byReason == nil {
			r.byReason = map[string]int{}
		}
		r.byReason[reason]++
		r.mu.Unlock()
	}
}

// isLocalResourceError reports whether err is this process or machine
// running out of a resource (file descriptors, memory, socket buffers)
// rather than the target failing: such attempts are retried with backoff
// but never counted toward MaxReconnectAttempts.
func isLocalResourceError(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOMEM, syscall.ENOBUFS} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// outcome is how one connection attempt ended.
type outcome struct {
	reason      string        // why it ended, one of the Reason* values
	established bool          // the adapter handshake succeeded
	uptime      time.Duration // from handshake success to the end
	err         error         // why it ended (never nil unless ctx was cancelled)
	stop        error         // non-nil: do not reconnect, Run returns this
	slowDown    bool          // the server asked us to come back later: back off to the cap
	session     bool          // a session was started (Sink.SessionStart): it is recorded as one
	httpStatus  int           // the upgrade's HTTP status when it was refused
	at          time.Time     // when the attempt started
}

// Why a connection attempt ended (Status.ReconnectsByReason, metrics).
const (
	ReasonPrepare       = "prepare"        // the adapter's HTTP steps failed (SignalR negotiate, SockJS info, ...)
	ReasonDial          = "dial"           // TCP, TLS or the WebSocket upgrade failed
	ReasonHandshake     = "handshake"      // upgraded, but the protocol session never became ready
	ReasonServerClose   = "server_close"   // the server sent a close frame
	ReasonDead          = "dead"           // nothing arrived for pong_timeout
	ReasonDropped       = "dropped"        // the connection ended without a close frame (FIN, RST, read error)
	ReasonLocalResource = "local_resource" // this process ran out of descriptors or memory
)

// connectOnce prepares and dials, runs one session to its end and reports
// how it ended.
func (r *Runner) connectOnce(ctx context.Context, d *dialSetup) outcome {
	at := time.Now()
	dial := protocol.Dial{URL: new(url.URL), Header: d.header.Clone(), Subprotocols: slices.Clone(d.subprotocols), HTTP: d.http}
	*dial.URL = *d.u
	if err := r.adapter.Prepare(ctx, &dial); err != nil {
		out := outcome{reason: ReasonPrepare, err: fmt.Errorf("prepare: %w", err), at: at}
		var ref *protocol.Refusal
		if errors.As(err, &ref) {
			out.stop = err
		}
		return out
	}
	dialer := *d.dialer
	for _, p := range dial.Subprotocols { // once each, first place kept
		if !slices.Contains(dialer.Subprotocols, p) {
			dialer.Subprotocols = append(dialer.Subprotocols, p)
		}
	}
	ws, resp, err := dialer.DialContext(ctx, dial.URL.String(), dial.Header)
	if err != nil {
		if ctx.Err() != nil {
			return outcome{err: ctx.Err()}
		}
		out := outcome{reason: ReasonDial, err: dialError(err, resp), at: at}
		if resp != nil {
			out.httpStatus = resp.StatusCode
			switch resp.StatusCode {
			case http.StatusUnauthorized, http.StatusForbidden:
				out.stop = &StopError{HTTPStatus: resp.StatusCode}
			case http.StatusTooManyRequests, http.StatusServiceUnavailable:
				out.slowDown = true
			}
		}
		return out
	}
	r.log.Debug("upgraded", "subprotocol", ws.Subprotocol())

	s := newSession(r, ws)
	res := s.run(ctx, d)
	r.setLive(nil, nil)

	end := time.Now()
	if res.started {
		if err := r.sink.SessionEnd(r.opts.Name, res.id, end, res.code, res.reason, res.errText, res.frames, res.control); err != nil {
			r.log.Error("sink: end session", "session", res.id, "err", err)
		}
	}
	out := outcome{established: res.established, err: res.err, session: res.started, at: at}
	switch {
	case !res.established:
		out.reason = ReasonHandshake
	case res.closed && res.code != websocket.CloseAbnormalClosure: // 1006: no close frame came
		out.reason = ReasonServerClose
	case res.dead:
		out.reason = ReasonDead
	default:
		out.reason = ReasonDropped
	}
	if res.established {
		out.uptime = end.Sub(res.connectedAt)
	}
	var ref *protocol.Refusal
	if ctx.Err() == nil && errors.As(res.err, &ref) {
		out.stop = res.err
	}
	classified := false
	if cc, ok := registry.ForSession(r.adapter, res.protocol).(protocol.CloseClassifier); ok && ctx.Err() == nil && res.closed && out.stop == nil {
		if err := cc.CloseError(res.code, res.reason); err != nil {
			classified = true
			out.err = err
			if errors.As(err, &ref) {
				out.stop = err
			}
		}
	}
	if ctx.Err() == nil && res.closed && out.stop == nil && !classified {
		switch res.code {
		case websocket.ClosePolicyViolation, 4401, 4403:
			out.stop = &StopError{Code: res.code, Reason: res.reason}
		case websocket.CloseTryAgainLater, 4429:
			out.slowDown = true
		}
	}
	r.log.Info("session ended", "session", res.id, "protocol", res.protocol, "code", res.code, "reason", res.reason,
		"err", res.errText, "records", res.frames, "control", res.control)
	return out
}

// sleep waits for d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// dialSetup is everything resolved once per Run for dialling; Prepare
// works on copies of u, header and subprotocols for each attempt.
type dialSetup struct {
	dialer       *websocket.Dialer
	http         *http.Client // for the adapter's HTTP steps, same TLS and dialer
	header       http.Header
	u            *url.URL
	subprotocols []string
	sinkURL      string // the configured URL, password redacted
	logURL       string // no query string, no user info
}

// StopError means the server refused wsmon in a way retrying cannot fix
// (bad or expired credentials, policy): Run stops instead of hammering it.
type StopError struct {
	Code       int    // WebSocket close code; 0 when refused at the HTTP upgrade
	Reason     string // close reason sent by the server
	HTTPStatus int    // upgrade response status (401, 403); 0 for a close code
}

func (e *StopError) Error() string {
	if e.HTTPStatus != 0 {
		name := "unauthorised"
		if e.HTTPStatus == http.StatusForbidden {
			name = "forbidden"
		}
		return fmt.Sprintf("server refused the upgrade with HTTP %d (%s); not reconnecting", e.HTTPStatus, name)
	}
	return fmt.Sprintf("server closed with %d (%s): %s; not reconnecting", e.Code, closeCodeName(e.Code), e.Reason)
}

// GaveUpError means MaxReconnectAttempts consecutive attempts failed.
type GaveUpError struct {
	Attempts int
	Last     error
}

func (e *GaveUpError) Error() string {
	return fmt.Sprintf("gave up after %d attempts: %v", e.Attempts, e.Last)
}

// Unwrap returns the last attempt's error.
func (e *GaveUpError) Unwrap() error { return e.Last }

func closeCodeName(code int) string {
	switch code {
	case websocket.ClosePolicyViolation:
		return "policy violation"
	case 4401:
		return "unauthorised"
	case 4403:
		return "forbidden"
	}
	return "close code"
}

// redactURL returns u for the sink (password redacted) and for logs
// (scheme, host and path only: query strings often carry tokens).
func redactURL(u *url.URL) (sinkURL, logURL string) {
	l := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return u.Redacted(), l.String()
}
