// Package demo owns wsmon's built-in demo chat server: a WebSocket server
// that broadcasts realistic, optionally deterministic, mixed Chinese/English
// chat traffic to every connected client. It is what `wsmon all --demo`
// shows a new user and the real server wsmon's own tests run against, so
// besides simulated chat it can be driven: bursts that deliver every message
// (Burst, POST /burst), silences of the simulated traffic (Silence, POST
// /silence), arbitrary frames (Inject), forced disconnects (DropAll,
// Options.DropEvery), history replay and ping/pong enforcement.
//
// Wire format: one JSON text frame per message,
//
//	{"id":"<prefix>-<seq>","seq":<n>,"type":"chat"|"system"|"join"|"leave",
//	 "user":"<name>","room":"<room>","content":"<text>","timestamp":<unix ms>}
//
// seq starts at 1 and increases by one for every message a Server creates;
// every client receives messages in seq order.
package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// ErrClosed is returned by Start and Burst once Close has been called.
var ErrClosed = errors.New("demo: server closed")

// Defaults applied by New to zero-valued Options fields.
const (
	DefaultAddr         = "127.0.0.1:8000"
	DefaultPath         = "/ws/chat"
	DefaultRate         = 5.0 // only via DefaultOptions: Rate 0 means no automatic chat
	DefaultUsers        = 20
	DefaultPingInterval = 10 * time.Second
	DefaultPongTimeout  = 30 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultQueueSize    = 1024
)

const (
	burstChunk      = 256             // messages encoded and queued at a time by Burst
	maxHTTPBurst    = 10_000_000      // upper bound for POST /burst?n=
	maxClientFrame  = 1 << 20         // read limit for frames sent by clients
	closeGrace      = time.Second     // how long to wait for the client's close reply
	shutdownGrace   = 3 * time.Second // how long Close waits before cutting connections
	maxCloseReason  = 123             // bytes of reason that fit in a close frame
	minSimulateTick = 10 * time.Millisecond
)

// Options configures a Server. The zero value of every field except Rate
// means "use the default"; DefaultOptions returns the defaults, Rate included.
type Options struct {
	// Addr is the TCP address to listen on. "127.0.0.1:0" picks a free port
	// (see URL). Default DefaultAddr.
	Addr string
	// Path is the WebSocket endpoint. Default DefaultPath. "/burst",
	// "/silence" and "/stats" are reserved.
	Path string
	// Rate is the number of messages per second the simulated users
	// broadcast. 0 means no automatic chat (the zero value); DefaultOptions
	// sets DefaultRate.
	Rate float64
	// Users is the number of simulated users. Default DefaultUsers.
	Users int
	// Seed makes generated content (ids, users, rooms, types, text)
	// deterministic when non-zero: two servers with the same Seed produce the
	// same messages in the same order. Timestamps are wall-clock time.
	Seed int64
	// HistoryReplay makes every new connection first receive the last
	// HistoryReplay messages again, byte for byte as originally sent, like
	// servers that replay history. Only seq-numbered messages are kept;
	// frames sent with Inject are not. 0 disables replay.
	HistoryReplay int
	// DropEvery closes each client connection with code 1001 after sending
	// it DropEvery data frames (replayed and injected frames count). 0 never.
	DropEvery int
	// PingInterval is how often the server pings each client. Default
	// DefaultPingInterval.
	PingInterval time.Duration
	// PongTimeout is how long after an unanswered ping the server waits
	// before dropping the client, which is how a monitor whose reader stalls
	// is detected. Default DefaultPongTimeout.
	PongTimeout time.Duration
	// WriteTimeout bounds each write to a client; a client that accepts no
	// data for this long is disconnected. Default DefaultWriteTimeout.
	WriteTimeout time.Duration
	// QueueSize bounds each client's queue of normal (simulated, client
	// chat) messages; a client whose queue overflows is a slow consumer and
	// is closed with 1008. Default DefaultQueueSize.
	QueueSize int
	// Logger receives the server's logs. Default: discard.
	Logger *slog.Logger

	// perFrameWrites turns off write coalescing (benchmark comparison only).
	perFrameWrites bool
	// sendBuffer pins the socket send buffer of client connections, so
	// tests can fill it quickly. 0 leaves the kernel's autotuning.
	sendBuffer int
}

// DefaultOptions returns the options `wsmon demo` starts with: every
// default, including Rate = DefaultRate. Logger is left nil (New would
// discard logs), for the caller to set.
func DefaultOptions() Options {
	o := Options{Rate: DefaultRate}
	o.applyDefaults()
	o.Logger = nil
	return o
}

func (o *Options) applyDefaults() {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.Path == "" {
		o.Path = DefaultPath
	}
	if o.Users == 0 {
		o.Users = DefaultUsers
	}
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PongTimeout == 0 {
		o.PongTimeout = DefaultPongTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *Options) validate() error {
	switch {
	case o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0):
		return fmt.Errorf("demo: invalid rate %v", o.Rate)
	case o.Users < 0:
		return fmt.Errorf("demo: invalid users %d", o.Users)
	case o.HistoryReplay < 0:
		return fmt.Errorf("demo: invalid history replay %d", o.HistoryReplay)
	case o.DropEvery < 0:
		return fmt.Errorf("demo: invalid drop every %d", o.DropEvery)
	case o.QueueSize < 0:
		return fmt.Errorf("demo: invalid queue size %d", o.QueueSize)
	case o.PingInterval < 0 || o.PongTimeout < 0 || o.WriteTimeout < 0:
		return errors.New("demo: negative ping interval, pong timeout or write timeout")
	case !strings.HasPrefix(o.Path, "/") || o.Path == "/burst" || o.Path == "/silence" || o.Path == "/stats":
		return fmt.Errorf("demo: invalid path %q", o.Path)
	}
	return nil
}

// Server is a demo chat server. Create it with New, then Start it; Close
// stops it. All methods are safe for concurrent use, and any number of
// Servers can run in one process.
//
// Delivery: every broadcast is queued to each client in seq order, and one
// writer goroutine per client sends its queue, coalescing frames into few
// syscalls. Normal traffic (simulated chat, chat sent by clients) never
// waits for a client: a client whose queue (QueueSize) is full is a slow
// consumer and is disconnected with 1008 "slow consumer". Burst and Inject
// instead block until every client has room, so they deliver every frame to
// every client that stays connected, at the pace of the slowest one; a
// client that stops reading entirely is dropped after WriteTimeout, or
// PongTimeout once it also stops answering pings, and the burst goes on.
type Server struct {
	opts     Options
	log      *slog.Logger
	upgrader websocket.Upgrader
	ctx      context.Context // cancelled by Close
	cancel   context.CancelFunc

	// bmu serialises broadcasting: seq assignment, generation, history and
	// queueing, so that all clients see one order. Registration of a new
	// client also holds it, so replayed history and live traffic neither
	// overlap nor leave a gap. Lock order: bmu, then mu, then client.mu.
	bmu      sync.Mutex
	gen      *generator
	seq      int64
	history  [][]byte // ring of the last HistoryReplay messages
	histNext int
	histLen  int
	snap     []*client
	chunk    []frame

	lastSeq atomic.Int64
	// quietUntil (Unix nanoseconds) silences the simulated traffic until
	// then (Silence).
	quietUntil atomic.Int64

	mu      sync.Mutex
	clients map[*client]struct{}
	started bool
	closed  bool
	ln      net.Listener
	httpSrv *http.Server
	wg      sync.WaitGroup // simulator, HTTP server, WebSocket handlers and writers
}

// New returns a Server configured by opts (zero fields take defaults). It
// does not listen until Start.
func New(opts Options) *Server {
	opts.applyDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:    opts,
		log:     opts.Logger.With("component", "demo"),
		ctx:     ctx,
		cancel:  cancel,
		gen:     newGenerator(opts.Seed, max(opts.Users, 1)),
		clients: make(map[*client]struct{}),
		upgrader: websocket.Upgrader{
			HandshakeTimeout: 10 * time.Second,
			CheckOrigin:      func(*http.Request) bool { return true }, // a demo: any page may connect
		},
	}
	if opts.HistoryReplay > 0 {
		s.history = make([][]byte, opts.HistoryReplay)
	}
	return s
}

// Start validates the options, binds Addr and serves in the background:
// the WebSocket endpoint at Path, POST /burst, POST /silence and GET /stats. It returns
// once the listener is bound, or the listen error. It fails if called twice
// or after Close.
func (s *Server) Start() error {
	if err := s.opts.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case s.started:
		return errors.New("demo: server already started")
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("demo: listen on %s: %w", s.opts.Addr, err)
	}
	s.ln = ln
	if !s.opts.perFrameWrites {
		ln = batchListener{Listener: ln, sendBuffer: s.opts.sendBuffer}
	}
	s.httpSrv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.started = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("demo server stopped", "err", err)
		}
	}()
	if s.opts.Rate > 0 {
		s.wg.Add(1)
		go s.simulate()
	}
	s.log.Info("demo chat server listening", "url", s.urlLocked(), "rate", s.opts.Rate,
		"users", s.opts.Users, "seed", s.opts.Seed)
	return nil
}

// URL returns the WebSocket URL, ws://HOST:PORT/PATH, with the bound port
// (useful with Addr "127.0.0.1:0"). It is "" before Start.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.urlLocked()
}

func (s *Server) urlLocked() string {
	if s.ln == nil {
		return ""
	}
	return "ws://" + s.ln.Addr().String() + s.opts.Path
}

// Close stops the simulator and the listener, sends every client a 1001
// "server shutting down" close frame after the frames already queued for it,
// and waits for the connections to end (cutting them after a few seconds).
// Bursts in progress return ErrClosed. Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	clients := make([]*client, 0, len(s.clients))
	for c := range s.clients {
		clients = append(clients, c)
	}
	clear(s.clients)
	srv := s.httpSrv
	s.mu.Unlock()

	s.cancel()
	var err error
	if srv != nil {
		if e := srv.Close(); e != nil {
			err = fmt.Errorf("demo: close http server: %w", e)
		}
	}
	for _, c := range clients {
		c.requestClose(websocket.CloseGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(shutdownGrace):
		s.log.Warn("clients did not close in time; cutting connections")
		for _, c := range clients {
			c.teardown()
		}
		<-done
	}
	s.log.Info("demo chat server stopped", "last_seq", s.LastSeq())
	return err
}

// Clients returns the number of connected clients (connections that have
// completed the handshake and not been closed or dropped).
func (s *Server) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// LastSeq returns the seq of the last message created, 0 if none.
func (s *Server) LastSeq() int64 {
	return s.lastSeq.Load()
}

// Burst broadcasts n chat messages with consecutive seqs as fast as the
// clients take them. Unlike normal traffic it never drops: it blocks until
// every connected client has queued every message (see Server). It returns
// once all n are queued, or ErrClosed if the server is closed meanwhile.
// Clients connecting during a burst are admitted after it.
func (s *Server) Burst(n int) error {
	_, _, err := s.burst(n)
	return err
}

// burst implements Burst and reports the seq range it used (0, 0 for n == 0).
func (s *Server) burst(n int) (first, last int64, err error) {
	if n < 0 {
		return 0, 0, fmt.Errorf("demo: invalid burst size %d", n)
	}
	if s.ctx.Err() != nil {
		return 0, 0, ErrClosed
	}
	if n == 0 {
		return 0, 0, nil
	}
	s.bmu.Lock()
	defer s.bmu.Unlock()
	first = s.seq + 1
	for sent := 0; sent < n; {
		if s.ctx.Err() != nil {
			return first, s.seq, ErrClosed
		}
		k := min(burstChunk, n-sent)
		// A fresh slab per chunk: queued frames and history share these
		// bytes, so they are never written again once encoded.
		slab := make([]byte, 0, k*256)
		chunk := s.chunk[:0]
		now := time.Now().UnixMilli()
		for range k {
			s.seq++
			start := len(slab)
			slab = s.gen.appendChat(slab, s.seq, now)
			msg := slab[start:len(slab):len(slab)]
			s.remember(msg)
			chunk = append(chunk, frame{data: msg})
		}
		s.chunk = chunk
		s.lastSeq.Store(s.seq)
		s.deliver(chunk, true)
		clear(chunk)
		sent += k
	}
	return first, s.seq, nil
}

// Silence stops the simulated traffic (Options.Rate) for d from now, as a
// chat that falls silent: no message is generated meanwhile and none is
// caught up afterwards; connections stay open and are pinged. d <= 0 ends
// a silence at once. Bursts, Inject and chat sent by clients are not
// silenced. It returns the time the silence ends.
func (s *Server) Silence(d time.Duration) time.Time {
	until := time.Now().Add(max(d, 0))
	s.quietUntil.Store(until.UnixNano())
	return until
}

// Inject broadcasts raw as one frame (binary or text) exactly as given,
// without a seq and without validation: tests use it for malformed JSON,
// invalid UTF-8, script strings or huge frames. Like Burst it waits until
// every client has queued the frame. raw is copied.
func (s *Server) Inject(raw []byte, binary bool) {
	f := frame{data: append([]byte(nil), raw...), kind: kindText}
	if binary {
		f.kind = kindBinary
	}
	s.bmu.Lock()
	defer s.bmu.Unlock()
	s.deliver([]frame{f}, true)
}

// DropAll closes every currently connected client with the given close code
// and reason (truncated to fit a close frame). Frames already queued for a
// client are sent before its close frame. The code is sent as given;
// 1005 sends a close frame without a status.
func (s *Server) DropAll(code int, reason string) {
	s.mu.Lock()
	clients := make([]*client, 0, len(s.clients))
	for c := range s.clients {
		clients = append(clients, c)
	}
	clear(s.clients)
	s.mu.Unlock()
	for _, c := range clients {
		c.requestClose(code, reason)
	}
	if len(clients) > 0 {
		s.log.Info("dropped all clients", "clients", len(clients), "code", code, "reason", reason)
	}
}

// simulate emits simulated traffic at opts.Rate until Close.
func (s *Server) simulate() {
	defer s.wg.Done()
	rate := s.opts.Rate
	tick := time.Minute // very low rates: due messages are still computed from elapsed time
	if interval := float64(time.Second) / rate; interval < float64(time.Minute) {
		tick = max(time.Duration(interval), minSimulateTick)
	}
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	start := time.Now()
	var emitted int64
	// After a stall (a long burst holds the broadcast lock) catch up at most
	// half a second of traffic rather than flooding.
	maxCatchUp := max(int64(rate/2), 1)
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-ticker.C:
		}
		due := int64(time.Since(start).Seconds()*rate) - emitted
		if due > maxCatchUp {
			emitted += due - maxCatchUp
			due = maxCatchUp
		}
		if due <= 0 {
			continue
		}
		emitted += due
		if time.Now().UnixNano() < s.quietUntil.Load() {
			continue // silenced: the due messages are not sent, and not caught up afterwards
		}
		s.bmu.Lock()
		now := time.Now().UnixMilli()
		for range due {
			s.seq++
			msg := s.gen.appendEvent(make([]byte, 0, 256), s.seq, now)
			s.remember(msg)
			s.lastSeq.Store(s.seq)
			s.deliver([]frame{{data: msg}}, false)
		}
		s.bmu.Unlock()
	}
}

// broadcastChat broadcasts a chat message sent by a client.
func (s *Server) broadcastChat(user, room, content string) {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	s.seq++
	msg := s.gen.appendMessage(nil, s.seq, typeChat, user, room, content, time.Now().UnixMilli())
	s.remember(msg)
	s.lastSeq.Store(s.seq)
	s.deliver([]frame{{data: msg}}, false)
}

// remember adds msg to the history ring. Caller holds bmu.
func (s *Server) remember(msg []byte) {
	if len(s.history) == 0 {
		return
	}
	s.history[s.histNext] = msg
	s.histNext = (s.histNext + 1) % len(s.history)
	s.histLen = min(s.histLen+1, len(s.history))
}

// deliver queues frames to every registered client; block selects Burst
// semantics (wait for room) over normal ones (drop slow consumers). Caller
// holds bmu.
func (s *Server) deliver(frames []frame, block bool) {
	s.mu.Lock()
	s.snap = s.snap[:0]
	for c := range s.clients {
		s.snap = append(s.snap, c)
	}
	s.mu.Unlock()
	for _, c := range s.snap {
		c.enqueue(frames, block)
	}
	clear(s.snap)
}

// register admits a new client, queueing the replayed history first. It
// returns false once the server is closed.
func (s *Server) register(c *client) bool {
	s.bmu.Lock()
	defer s.bmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	n := s.histLen
	for i := range n {
		msg := s.history[(s.histNext-n+i+len(s.history))%len(s.history)]
		c.queue = append(c.queue, frame{data: msg})
	}
	c.limit = s.opts.QueueSize + n
	s.clients[c] = struct{}{}
	s.wg.Add(1) // the client's writer
	return true
}

// unregister forgets c; it is a no-op if c was already removed.
func (s *Server) unregister(c *client) {
	s.mu.Lock()
	delete(s.clients, c)
	s.mu.Unlock()
}
