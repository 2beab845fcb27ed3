package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wsmon/wsmon/internal/protocol"
)

const (
	// closeGrace is how long a shutdown waits for the server to answer our
	// close frame before dropping the TCP connection.
	closeGrace = time.Second
	// replyQueue bounds adapter replies waiting for the writer. It only
	// fills when the socket has stopped accepting writes, and then the
	// write deadline ends the connection soon anyway.
	replyQueue = 64
	// shrinkAbove: a read buffer grown past this by a large frame is
	// released once a frame needs less than a quarter of it, so an idle
	// target does not pin a huge buffer (a stream of large frames reuses
	// it).
	shrinkAbove = 4 << 20
	// aliveEvery: while a large frame streams in, the read deadline is
	// pushed forward after this many bytes.
	aliveEvery = 64 << 10
)

// session is one upgraded connection. Goroutines: the Run goroutine runs
// the adapter's Open, records the session start and waits for the end; the
// reader goroutine reads every frame (serving Conn.ReadFrame while Open
// runs, then feeding the protocol session); one writer goroutine sends
// replies, heartbeats and our pings; a context.AfterFunc sends the close
// frame on shutdown. It implements protocol.Conn for the adapter's Open.
type session struct {
	r   *Runner
	ws  *websocket.Conn
	id  int64 // set by run before begin is sent; read by the reader after
	log *slog.Logger

	wmu   sync.Mutex // serialises data writes (gorilla allows one writer)
	queue chan outMsg
	hb    chan protocol.Session // the ready session, once: heartbeats may start
	stop  chan struct{}         // closed when the session ends: the writer returns

	// Open phase: ReadFrame asks the reader for a frame through peekReq
	// and gets it on peekResp. Once Open is done and the session recorded,
	// run sets began and feeds the frames read so far under feedMu, then
	// sends on begin (false: Open failed, the reader returns). A reader
	// blocked in a read for an abandoned ReadFrame feeds that frame itself
	// under feedMu when it finds began set. After the reader has received
	// from begin it alone feeds, without the lock.
	peekReq  chan struct{}
	peekResp chan peeked
	peekOpen bool // a ReadFrame request is outstanding (Open's goroutine only)
	begin    chan bool
	ready    chan struct{} // closed once the protocol session is ready

	feedMu    sync.Mutex
	began     protocol.Session
	pending   []pendingFrame // frames read during Open, not yet fed
	readyDone bool           // ready closed and heartbeats handed to the writer

	closing     atomic.Bool  // shutdown started: writer failures are expected
	frozenUntil atomic.Int64 // unix ns; non-zero: the read deadline is pinned there (shutdown)

	failMu  sync.Mutex
	failErr error // first writer (or handshake timeout) failure; it ended the connection

	// Reader-owned state (only the reader goroutine touches these).
	buf       []byte // the frame being read; at most ReadLimit+1 bytes
	lastLen   int    // length of the previous frame
	lr        io.LimitedReader
	lv        liveReader
	lastAlive time.Time
	out       protocol.Output
	frames    atomic.Int64 // records journaled in this session
	control   atomic.Int64 // control frames seen in this session
}

// outMsg is a data frame queued for the writer.
type outMsg struct {
	data   []byte
	binary bool
}

// peeked is a frame read for Conn.ReadFrame.
type peeked struct {
	f   protocol.Frame
	err error
}

// pendingFrame is a frame read during Open, kept for Feed.
type pendingFrame struct {
	f         protocol.Frame
	at        time.Time
	truncated bool
}

func newSession(r *Runner, ws *websocket.Conn) *session {
	s := &session{
		r:        r,
		ws:       ws,
		log:      r.log,
		queue:    make(chan outMsg, replyQueue),
		hb:       make(chan protocol.Session, 1),
		stop:     make(chan struct{}),
		peekReq:  make(chan struct{}),
		peekResp: make(chan peeked, 1),
		begin:    make(chan bool, 1),
		ready:    make(chan struct{}),
	}
	s.lv.s = s
	return s
}

// sessionResult is what the Runner records about an ended session.
type sessionResult struct {
	started     bool      // SessionStart succeeded (id is valid; SessionEnd is owed)
	id          int64     // the session id
	established bool      // the protocol session became ready
	connectedAt time.Time // when it did
	closed      bool      // the server sent a close frame (code is its code)
	dead        bool      // nothing arrived for PongTimeout: the connection was declared dead
	code        int
	reason      string
	errText     string
	err         error // for Status.LastError and logs
	frames      int64
	control     int64
	protocol    string
}

// run drives the session to its end: Open, the session record, then the
// reader until the connection ends.
func (s *session) run(ctx context.Context, d *dialSetup) sessionResult {
	ws := s.ws
	// Our reader bounds what it keeps per frame (see readFrame), so
	// gorilla's own limit, which kills the connection, is off.
	ws.SetReadLimit(0)
	s.alive(time.Now())
	ws.SetPongHandler(func(string) error {
		s.alive(time.Now())
		return nil
	})
	// gorilla's default ping handler answers with WriteControl, which is
	// safe alongside our writes and waits at most 1 s for a blocked writer.
	answerPing := ws.PingHandler()
	ws.SetPingHandler(func(data string) error {
		s.alive(time.Now())
		return answerPing(data)
	})

	writerDone := make(chan struct{})
	go s.writeLoop(writerDone)
	readerDone := make(chan error, 1)
	go func() { readerDone <- s.readLoop() }()
	stopShutdown := context.AfterFunc(ctx, s.shutdown)
	defer func() {
		stopShutdown()
		close(s.stop)
		<-writerDone
		ws.Close()
	}()

	var res sessionResult
	hctx, cancel := context.WithTimeout(ctx, s.r.opts.HandshakeTimeout)
	defer cancel()
	ps, err := s.r.adapter.Open(hctx, s)
	if err != nil {
		s.begin <- false
		ws.NetConn().Close()
		<-readerDone
		s.classify(ctx, fmt.Errorf("open: %w", err), &res)
		res.err = keepRefusal(err, res.err)
		return res
	}
	res.protocol = ps.Protocol()
	id, err := s.r.sink.SessionStart(s.r.opts.Name, d.sinkURL, res.protocol, time.Now())
	if err != nil {
		s.begin <- false
		ws.NetConn().Close()
		<-readerDone
		res.err = fmt.Errorf("sink: start session: %w", err)
		res.errText = res.err.Error()
		return res
	}
	res.started, res.id = true, id
	s.id = id
	s.log = s.r.log.With("session", id)
	s.r.startSession(id, res.protocol)
	why := ""
	if w, ok := ps.(interface{ Why() string }); ok {
		why = w.Why()
	}
	s.log.Debug("protocol session open", "protocol", res.protocol, "why", why)
	// Ready after Open, then the frames Open read, before any other Feed.
	s.feedMu.Lock()
	s.began = ps
	s.checkReady(ps)
	var feedErr error
	for _, p := range s.pending {
		if feedErr = s.feedOne(ps, p.f, p.at, p.truncated); feedErr != nil {
			break
		}
	}
	s.pending = nil
	s.feedMu.Unlock()
	s.begin <- true
	if feedErr != nil {
		ws.NetConn().Close()
	}

	// A session that became ready and ended at once is still established:
	// look at ready first when both happened.
	done := false
	select {
	case <-s.ready:
	case err = <-readerDone:
		done = true
	case <-hctx.Done():
	}
	select {
	case <-s.ready:
		res.established = true
		res.connectedAt = time.Now()
		s.r.setState(StateConnected)
		s.log.Info("connected", "protocol", res.protocol, "subprotocol", ws.Subprotocol(), "picked_because", why)
		for i, m := range s.r.opts.SendOnConnect {
			if done {
				break // the connection has already ended
			}
			if err := s.write(ctx, outMsg{data: []byte(m)}); err != nil {
				s.fail(fmt.Errorf("send_on_connect message %d: %w", i+1, err))
				break
			}
		}
		if !done {
			err = <-readerDone
		}
	default:
		if done {
			err = fmt.Errorf("handshake: %w", err)
			break
		}
		if ctx.Err() == nil {
			s.fail(fmt.Errorf("handshake: the %s session was not ready within %s", res.protocol, s.r.opts.HandshakeTimeout))
		}
		err = <-readerDone
	}
	if feedErr != nil {
		err = feedErr
	}
	res.frames = s.frames.Load()
	res.control = s.control.Load()
	s.classify(ctx, err, &res)
	res.err = keepRefusal(err, res.err)
	return res
}

// checkReady closes ready and hands the session to the writer the first
// time it is ready. Called by whoever feeds (see feedMu).
func (s *session) checkReady(ps protocol.Session) {
	if !s.readyDone && ps.Ready() {
		s.readyDone = true
		s.hb <- ps
		close(s.ready)
		s.r.setLive(s, ps)
	}
}

// feedOne handles one frame and checks readiness.
func (s *session) feedOne(ps protocol.Session, f protocol.Frame, at time.Time, truncated bool) error {
	err := s.handle(ps, f, at, truncated)
	s.checkReady(ps)
	return err
}

// keepRefusal returns err itself when it is (or wraps) a protocol refusal,
// so the runner sees it; else classified.
func keepRefusal(err, classified error) error {
	var ref *protocol.Refusal
	if errors.As(err, &ref) {
		return err
	}
	return classified
}

// classify fills the close code, reason and error text of res from the
// error that ended the session.
func (s *session) classify(ctx context.Context, err error, res *sessionResult) {
	var ce *websocket.CloseError
	switch {
	case ctx.Err() != nil:
		res.code, res.reason = websocket.CloseNormalClosure, "wsmon shutting down"
		res.err = ctx.Err()
	case errors.As(err, &ce):
		res.closed = true
		res.code, res.reason = ce.Code, ce.Text
		res.err = err
		if !res.established {
			res.errText = err.Error() // the handshake failed: say so
		}
	default:
		res.code = websocket.CloseAbnormalClosure
		var ne net.Error
		if ferr := s.failure(); ferr != nil {
			err = ferr
		} else if errors.As(err, &ne) && ne.Timeout() && res.established {
			err = fmt.Errorf("connection dead: nothing received for %s (%w)", s.r.opts.PongTimeout, err)
			res.dead = true
		}
		res.err = err
		res.errText = err.Error()
	}
}

// alive pushes the read deadline to now+PongTimeout: something arrived.
// Called on the reader goroutine only (frames, pings, pongs). Calls closer
// together than PongTimeout/16 are skipped to keep the hot path cheap, so
// the effective timeout is between 15/16 and 1 PongTimeout.
func (s *session) alive(now time.Time) {
	pt := s.r.opts.PongTimeout
	if pt <= 0 || s.frozenUntil.Load() != 0 || now.Sub(s.lastAlive) < pt/16 {
		return
	}
	s.lastAlive = now
	s.ws.SetReadDeadline(now.Add(pt))
	if until := s.frozenUntil.Load(); until != 0 {
		// freeze ran between the check above and our extension: put its
		// deadline back (the atomics order this against freeze).
		s.ws.SetReadDeadline(time.Unix(0, until))
	}
}

// freeze pins the read deadline at t: later frames, pings and pongs no
// longer extend it. Safe from any goroutine.
func (s *session) freeze(t time.Time) {
	s.frozenUntil.CompareAndSwap(0, t.UnixNano())
	s.ws.SetReadDeadline(time.Unix(0, s.frozenUntil.Load()))
}

// liveReader reads a frame body, counting progress as liveness so a large
// frame on a slow link is not mistaken for a dead connection.
type liveReader struct {
	s    *session
	r    io.Reader
	seen int
}

func (l *liveReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if l.seen += n; l.seen >= aliveEvery {
		l.seen = 0
		l.s.alive(time.Now())
	}
	return n, err
}

// readFrame reads the next data frame into the session buffer, keeping at
// most ReadLimit bytes. When the frame was longer, truncated is true and the
// rest of the frame is still unread: the caller discards it with
// discardRest. data is valid until the next readFrame. The buffer grows
// with the frame, to ReadLimit+1 bytes at most (not to the next power of
// two beyond), and only one is kept per connection.
func (s *session) readFrame() (binary bool, data []byte, at time.Time, truncated bool, err error) {
	mt, rd, err := s.ws.NextReader()
	if err != nil {
		return false, nil, time.Time{}, false, err
	}
	at = time.Now()
	s.alive(at)
	if cap(s.buf) > shrinkAbove && s.lastLen < cap(s.buf)/4 {
		s.buf = nil
	}
	limit := s.r.opts.ReadLimit
	s.lv.r, s.lv.seen = rd, 0
	s.lr.R, s.lr.N = &s.lv, limit+1
	s.buf, err = readCapped(&s.lr, s.buf[:0], int(limit+1))
	s.lastLen = len(s.buf)
	if err != nil {
		return false, nil, at, false, err
	}
	data = s.buf
	if int64(len(data)) > limit {
		data, truncated = data[:limit], true
	}
	return mt == websocket.BinaryMessage, data, at, truncated, nil
}

// readCapped appends what r yields until io.EOF to buf, growing buf by
// doubling but never beyond max bytes of capacity (r must end by then, as
// an io.LimitedReader of max does). It returns buf and the first error
// other than io.EOF.
func readCapped(r io.Reader, buf []byte, max int) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= max {
				return buf, nil
			}
			nb := make([]byte, len(buf), min(max, 2*cap(buf)+bytes.MinRead))
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// discardRest drops the unread rest of a truncated frame and returns the
// frame's full length.
func (s *session) discardRest() (int64, error) {
	n, err := io.Copy(io.Discard, &s.lv)
	return s.r.opts.ReadLimit + 1 + n, err
}

// readLoop is the reader goroutine. While Open runs it reads frames only
// when ReadFrame asks, keeping each for Feed; once the session begins it
// feeds those, then every frame as it arrives. It returns the error that
// ended the connection.
func (s *session) readLoop() error {
	for open := true; open; {
		select {
		case ok := <-s.begin:
			if !ok {
				return errors.New("capture: open failed")
			}
			open = false
		case <-s.peekReq:
			binary, data, at, truncated, err := s.readFrame()
			if err != nil {
				s.peekResp <- peeked{err: err}
				return err
			}
			f := protocol.Frame{Binary: binary, Data: bytes.Clone(data)}
			if truncated {
				if _, err := s.discardRest(); err != nil {
					s.peekResp <- peeked{err: err}
					return err
				}
			}
			s.feedMu.Lock()
			if ps := s.began; ps != nil { // Open gave up waiting and is done
				err = s.feedOne(ps, f, at, truncated)
				s.feedMu.Unlock()
				if err != nil {
					return err
				}
				continue
			}
			s.pending = append(s.pending, pendingFrame{f: f, at: at, truncated: truncated})
			s.feedMu.Unlock()
			s.peekResp <- peeked{f: f}
		}
	}
	ps := s.began // set before begin was sent
	for {
		binary, data, at, truncated, err := s.readFrame()
		if err != nil {
			return err
		}
		if err := s.feedOne(ps, protocol.Frame{Binary: binary, Data: data}, at, truncated); err != nil {
			return err
		}
		if truncated {
			size, err := s.discardRest()
			s.log.Warn("frame over read limit truncated", "bytes", size, "kept", s.r.opts.ReadLimit)
			if err != nil {
				return err
			}
		}
	}
}

// handle gives one frame to the protocol session and acts on its output:
// replies are queued for the writer, records journaled, control frames
// counted (and journaled as control when the operator keeps them). A frame
// cut at the read limit is journaled as it is, with ReasonTooLarge, and not
// fed (a byte-stream session would lose its place; it then fails and the
// connection is redone).
func (s *session) handle(ps protocol.Session, f protocol.Frame, at time.Time, truncated bool) error {
	if truncated {
		return s.record(f, at, ReasonTooLarge)
	}
	s.out.Reset()
	ferr := ps.Feed(f, &s.out)
	for _, m := range s.out.Replies {
		s.enqueue(outMsg{data: bytes.Clone(m.Data), binary: m.Binary})
	}
	for _, rec := range s.out.Records {
		if err := s.record(rec, at, ""); err != nil {
			return err
		}
	}
	if n := len(s.out.Control); n > 0 {
		s.control.Add(int64(n))
		s.r.totalControl.Add(int64(n))
		if s.r.opts.KeepControl {
			for _, c := range s.out.Control {
				if err := s.record(c, at, ReasonControl); err != nil {
					return err
				}
			}
		}
	}
	return ferr
}

// record journals one record through the sink.
func (s *session) record(f protocol.Frame, at time.Time, reason string) error {
	r := s.r
	if err := r.sink.Frame(r.opts.Name, s.id, at, f, reason); err != nil {
		if errors.Is(err, ErrDropped) {
			r.dropped.Add(1)
			return nil
		}
		return fmt.Errorf("sink: %w", err)
	}
	if reason != ReasonControl {
		r.frames.Store(s.frames.Add(1))
		r.totalFrames.Add(1)
		r.lastMsg.Store(at.UnixNano())
	}
	return nil
}

// trySend queues a frame for the writer; false when its queue is full.
func (s *session) trySend(m outMsg) bool {
	select {
	case s.queue <- m:
		return true
	default:
		return false
	}
}

// enqueue hands a reply to the writer without blocking the reader. When the
// queue is full the writer is stuck on a dead socket; the reply is dropped
// with a warning (the write deadline will end the connection).
func (s *session) enqueue(m outMsg) {
	select {
	case s.queue <- m:
	default:
		s.log.Warn("adapter reply dropped: write queue full")
	}
}

// writeLoop is the writer goroutine: replies, the protocol session's
// heartbeats (once it is ready) and our WebSocket pings. A failed write
// ends the connection.
func (s *session) writeLoop(done chan<- struct{}) {
	defer close(done)
	o := s.r.opts
	var pingC, hbC <-chan time.Time
	if o.PingInterval > 0 {
		t := time.NewTicker(o.PingInterval)
		defer t.Stop()
		pingC = t.C
	}
	var ps protocol.Session
	var out protocol.Output
	for {
		var err error
		select {
		case <-s.stop:
			return
		case ps = <-s.hb:
			if every := ps.Heartbeat(); every > 0 {
				t := time.NewTicker(every)
				defer t.Stop()
				hbC = t.C
			}
		case m := <-s.queue:
			if err = s.write(context.Background(), m); err != nil {
				err = fmt.Errorf("write reply: %w", err)
			}
		case now := <-hbC:
			out.Reset()
			if err = ps.Tick(now, &out); err != nil {
				err = fmt.Errorf("heartbeat: %w", err)
				break
			}
			for _, m := range out.Replies {
				if err = s.write(context.Background(), outMsg{data: m.Data, binary: m.Binary}); err != nil {
					err = fmt.Errorf("write heartbeat: %w", err)
					break
				}
			}
		case <-pingC:
			if err = s.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(o.WriteTimeout)); err != nil {
				err = fmt.Errorf("write ping: %w", err)
			}
		}
		if err != nil {
			s.fail(err)
			return
		}
	}
}

// fail records the first writer failure and drops the connection so the
// reader returns. During shutdown (our close frame is out) it does nothing.
func (s *session) fail(err error) {
	if s.closing.Load() {
		return
	}
	s.failMu.Lock()
	if s.failErr == nil {
		s.failErr = err
	}
	s.failMu.Unlock()
	s.ws.NetConn().Close()
}

func (s *session) failure() error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	return s.failErr
}

// shutdown runs when the Run context is cancelled: send close 1000 and give
// the server closeGrace to answer; the reader then returns.
func (s *session) shutdown() {
	s.closing.Store(true)
	grace := closeGrace
	if pt := s.r.opts.PongTimeout; pt > 0 {
		grace = min(grace, pt)
	}
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "wsmon shutting down")
	if err := s.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(grace)); err != nil {
		s.ws.NetConn().Close()
		return
	}
	s.freeze(time.Now().Add(grace))
}

// write sends one data frame under the write mutex with a deadline of
// WriteTimeout (or ctx's deadline if sooner).
func (s *session) write(ctx context.Context, m outMsg) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	deadline := time.Now().Add(s.r.opts.WriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	typ := websocket.TextMessage
	if m.binary {
		typ = websocket.BinaryMessage
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.ws.SetWriteDeadline(deadline)
	return s.ws.WriteMessage(typ, m.data)
}

// Write implements protocol.Conn: it sends one frame. Safe for concurrent
// use; bounded by WriteTimeout and ctx's deadline.
func (s *session) Write(ctx context.Context, f protocol.Frame) error {
	return s.write(ctx, outMsg{data: f.Data, binary: f.Binary})
}

// Subprotocol implements protocol.Conn.
func (s *session) Subprotocol() string { return s.ws.Subprotocol() }

// ReadFrame implements protocol.Conn for Open: the reader reads the next
// frame and keeps it for Feed as well. When ctx ends first ReadFrame
// returns ctx's error and the connection is unharmed: the frame, when it
// comes, is kept for Feed (a later ReadFrame returns it). A frame over the
// read limit is returned truncated.
func (s *session) ReadFrame(ctx context.Context) (protocol.Frame, error) {
	if !s.peekOpen {
		select {
		case s.peekReq <- struct{}{}:
			s.peekOpen = true
		case <-ctx.Done():
			return protocol.Frame{}, ctx.Err()
		}
	}
	select {
	case p := <-s.peekResp:
		s.peekOpen = false
		return p.f, p.err
	case <-ctx.Done():
		return protocol.Frame{}, ctx.Err()
	}
}
