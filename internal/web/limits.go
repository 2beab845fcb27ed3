package web

import (
	"context"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Limits bound what HTTP clients can hold, so that no number of them can
// take the descriptors or memory capture needs. Zero fields take the
// defaults below.
type Limits struct {
	// MaxConnections is web_max_connections: open connections at once.
	// Further ones wait in the kernel's listen backlog (holding no
	// descriptor of ours) until one closes. 0 = DefaultMaxConnections().
	MaxConnections int
	// MaxLiveClients is live_max_clients: concurrent /api/live streams;
	// more are answered 503 too_many_live_clients. 0 = DefaultMaxLiveClients.
	MaxLiveClients int

	ReadHeaderTimeout time.Duration // request line and headers; default 10 s
	ReadTimeout       time.Duration // the whole request with its body; default 30 s
	WriteTimeout      time.Duration // the response; default 60 s (not /api/live, which sets its own per write)
	IdleTimeout       time.Duration // a keep-alive connection between requests; default 60 s
	MaxHeaderBytes    int           // request line and headers; default 64 KiB
}

// Defaults of Limits.
const (
	DefaultMaxLiveClients    = 2000
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10

	// maxAutoConnections caps the automatic connection limit: each
	// connection costs a goroutine and buffers, and a dashboard needs few.
	maxAutoConnections = 10_000
	minConnections     = 16
)

// DefaultMaxConnections is the connection cap when web_max_connections is
// 0: half of this process's open-file limit (RLIMIT_NOFILE, which Go
// raises to the hard limit at start), at most 10,000 and at least 16. The
// other half is capture's reserve: target sockets, journal segments, the
// database and logs.
func DefaultMaxConnections() int {
	n := openFileLimit()
	if n <= 0 {
		return 1024
	}
	return int(min(max(n/2, minConnections), maxAutoConnections))
}

func (l Limits) withDefaults() Limits {
	if l.MaxConnections <= 0 {
		l.MaxConnections = DefaultMaxConnections()
	}
	if l.MaxLiveClients <= 0 {
		l.MaxLiveClients = DefaultMaxLiveClients
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&l.ReadTimeout, DefaultReadTimeout)
	def(&l.WriteTimeout, DefaultWriteTimeout)
	def(&l.IdleTimeout, DefaultIdleTimeout)
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return l
}

// HTTPServer returns the http.Server to run s with: every timeout set and
// a header size limit. Serve it on s.Listener(ln), which caps connections.
// errorLog receives net/http's own errors (nil: the standard logger).
//
// Its Shutdown also ends the live streams (they never finish on their own),
// so a stop waits only for ordinary requests.
func (s *Server) HTTPServer(errorLog *log.Logger) *http.Server {
	l := s.opts.Limits
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          errorLog,
	}
	srv.RegisterOnShutdown(s.stopStreams)
	return srv
}

// streamDone returns a channel closed when ctx ends or the server shuts
// down, and the function that releases it (call it when the stream ends).
func (s *Server) streamDone(ctx context.Context) (<-chan struct{}, func()) {
	merged, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.streams, cancel)
	return merged.Done(), func() { stop(); cancel() }
}

// Listener wraps ln so that at most Limits.MaxConnections connections are
// open at once: Accept waits for one to close first, so a flood waits in
// the kernel's backlog instead of taking descriptors capture needs.
func (s *Server) Listener(ln net.Listener) net.Listener {
	return newLimitListener(ln, s.opts.Limits.MaxConnections, s.log)
}

// limitListener is a net.Listener with at most cap(sem) connections open.
type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	log       *slog.Logger

	mu     sync.Mutex
	warned time.Time // last "at the cap" warning
}

func newLimitListener(ln net.Listener, n int, log *slog.Logger) *limitListener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, n), done: make(chan struct{}), log: log}
}

// Accept waits for a free slot, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	default:
		l.atCap()
		select {
		case l.sem <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

// atCap warns, at most once a minute, that new connections wait.
func (l *limitListener) atCap() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.warned) < time.Minute {
		return
	}
	l.warned = time.Now()
	l.log.Warn("web connection limit reached; new connections wait until one closes (web_max_connections)", "limit", cap(l.sem))
}

// Close closes the listener and ends a waiting Accept.
func (l *limitListener) Close() error {
	err := l.Listener.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// limitConn gives its slot back once, on the first Close.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// Limits returns the limits in force, defaults filled in.
func (s *Server) Limits() Limits { return s.opts.Limits }
