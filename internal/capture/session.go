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
	"unicode/utf8"

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
	// released afterwards, so an idle target does not pin a huge buffer.
	shrinkAbove = 4 << 20
	// aliveEvery: while a large frame streams in, the read deadline is
	// pushed forward after this many bytes.
	aliveEvery = 64 << 10
)

// session is one upgraded connection. Goroutines: the Run goroutine runs
// the handshake and then the read loop (the reader); one writer goroutine
// sends adapter replies, heartbeats and our pings; a context.AfterFunc sends
// the close frame on shutdown. It implements protocol.Conn for the
// adapter's handshake.
type session struct {
	r   *Runner
	ws  *websocket.Conn
	id  int64
	log *slog.Logger

	wmu     sync.Mutex // serialises data writes (gorilla allows one writer)
	queue   chan outMsg
	hbStart chan struct{} // closed when the handshake is done: heartbeats may start
	stop    chan struct{} // closed when the session ends: the writer returns

	handshakeDone atomic.Bool
	closing       atomic.Bool  // shutdown started: writer failures are expected
	frozenUntil   atomic.Int64 // unix ns; non-zero: the read deadline is pinned there (shutdown, cancelled ReadFrame)

	failMu  sync.Mutex
	failErr error // first writer failure; it ended the connection

	// Reader-owned state (only the reader goroutine touches these).
	buf       bytes.Buffer
	lr        io.LimitedReader
	lv        liveReader
	lastAlive time.Time
	frames    int64
}

// outMsg is a data frame queued for the writer.
type outMsg struct {
	data   []byte
	binary bool
}

func newSession(r *Runner, ws *websocket.Conn, id int64) *session {
	s := &session{
		r:       r,
		ws:      ws,
		id:      id,
		log:     r.log.With("session", id),
		queue:   make(chan outMsg, replyQueue),
		hbStart: make(chan struct{}),
		stop:    make(chan struct{}),
	}
	s.lv.s = s
	return s
}

// sessionResult is what the Runner records about an ended session.
type sessionResult struct {
	established bool      // the adapter handshake succeeded
	connectedAt time.Time // when it did
	closed      bool      // the server sent a close frame (code is its code)
	code        int
	reason      string
	errText     string
	err         error // for Status.LastError and logs
	frames      int64
}

// run drives the session to its end: handshake, then the read loop.
func (s *session) run(ctx context.Context) sessionResult {
	ws := s.ws
	// Our reader bounds what it keeps per frame (see readLoop), so gorilla's
	// own limit, which kills the connection, is off.
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
	stopShutdown := context.AfterFunc(ctx, s.shutdown)
	defer func() {
		stopShutdown()
		close(s.stop)
		<-writerDone
		ws.Close()
	}()

	var res sessionResult
	hctx, cancel := context.WithTimeout(ctx, s.r.opts.HandshakeTimeout)
	err := s.r.adapter.Handshake(hctx, s)
	cancel()
	s.handshakeDone.Store(true)
	if err == nil {
		res.established = true
		res.connectedAt = time.Now()
		s.r.setState(StateConnected)
		s.log.Info("connected", "subprotocol", ws.Subprotocol())
		close(s.hbStart)
		err = s.readLoop()
	} else {
		err = fmt.Errorf("handshake: %w", err)
	}
	res.frames = s.frames
	s.classify(ctx, err, &res)
	return res
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
// discardRest. data is valid until the next readFrame.
func (s *session) readFrame() (binary bool, data []byte, at time.Time, truncated bool, err error) {
	mt, rd, err := s.ws.NextReader()
	if err != nil {
		return false, nil, time.Time{}, false, err
	}
	at = time.Now()
	s.alive(at)
	if s.buf.Cap() > shrinkAbove {
		s.buf = bytes.Buffer{}
	}
	s.buf.Reset()
	limit := s.r.opts.ReadLimit
	s.lv.r, s.lv.seen = rd, 0
	s.lr.R, s.lr.N = &s.lv, limit+1
	if _, err := s.buf.ReadFrom(&s.lr); err != nil {
		return false, nil, at, false, err
	}
	data = s.buf.Bytes()
	if int64(len(data)) > limit {
		data, truncated = data[:limit], true
	}
	return mt == websocket.BinaryMessage, data, at, truncated, nil
}

// discardRest drops the unread rest of a truncated frame and returns the
// frame's full length.
func (s *session) discardRest() (int64, error) {
	n, err := io.Copy(io.Discard, &s.lv)
	return s.r.opts.ReadLimit + 1 + n, err
}

// readLoop reads frames until the connection ends. Per frame: Intercept,
// queue the adapter's reply (sent by the writer, in the same frame type as
// the frame it answers), then Sink.Frame unless the adapter called the frame
// protocol chatter. Truncated frames are always recorded.
func (s *session) readLoop() error {
	r := s.r
	for {
		binary, data, at, truncated, err := s.readFrame()
		if err != nil {
			return err
		}
		f := protocol.Frame{Binary: binary, Data: data}
		reply, control := r.adapter.Intercept(f)
		if reply != nil {
			s.enqueue(outMsg{data: bytes.Clone(reply), binary: binary})
		}
		reason := ""
		if truncated {
			reason = ReasonTooLarge
		}
		if !control || truncated {
			if err := r.sink.Frame(r.opts.Name, s.id, at, f, reason); err != nil {
				return fmt.Errorf("sink: %w", err)
			}
			s.frames++
			r.frames.Store(s.frames)
			r.totalFrames.Add(1)
			r.lastMsg.Store(at.UnixNano())
		}
		if truncated {
			size, err := s.discardRest()
			s.log.Warn("frame over read limit truncated", "bytes", size, "kept", r.opts.ReadLimit)
			if err != nil {
				return err
			}
		}
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

// writeLoop is the writer goroutine: adapter replies, adapter heartbeats
// (after the handshake) and our WebSocket pings. A failed write ends the
// connection.
func (s *session) writeLoop(done chan<- struct{}) {
	defer close(done)
	o := s.r.opts
	var pingC, hbC <-chan time.Time
	if o.PingInterval > 0 {
		t := time.NewTicker(o.PingInterval)
		defer t.Stop()
		pingC = t.C
	}
	var hb outMsg
	hbStart := s.hbStart
	for {
		var err error
		select {
		case <-s.stop:
			return
		case <-hbStart:
			hbStart = nil
			if every, payload := s.r.adapter.Heartbeat(); every > 0 {
				t := time.NewTicker(every)
				defer t.Stop()
				hbC = t.C
				hb = outMsg{data: payload, binary: !utf8.Valid(payload)}
			}
		case m := <-s.queue:
			if err = s.write(context.Background(), m); err != nil {
				err = fmt.Errorf("write reply: %w", err)
			}
		case <-hbC:
			if err = s.write(context.Background(), hb); err != nil {
				err = fmt.Errorf("write heartbeat: %w", err)
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

// WriteText implements protocol.Conn: it sends one text frame. Safe for
// concurrent use; bounded by WriteTimeout and ctx's deadline.
func (s *session) WriteText(ctx context.Context, data []byte) error {
	return s.write(ctx, outMsg{data: data})
}

// ReadFrame implements protocol.Conn. Only valid during Handshake: after it
// the reader owns the socket and ReadFrame returns an error. Frames read here
// are not recorded. A frame over the read limit is returned truncated (and
// logged). A server close arrives as a *websocket.CloseError; cancelling ctx
// breaks the connection, so a handshake that gives up must return an error.
func (s *session) ReadFrame(ctx context.Context) (protocol.Frame, error) {
	if s.handshakeDone.Load() {
		return protocol.Frame{}, errors.New("capture: ReadFrame called after the handshake")
	}
	if err := ctx.Err(); err != nil {
		return protocol.Frame{}, err
	}
	stop := context.AfterFunc(ctx, func() { s.freeze(time.Now()) })
	defer stop()
	binary, data, _, truncated, err := s.readFrame()
	if err != nil {
		if ctx.Err() != nil {
			return protocol.Frame{}, ctx.Err()
		}
		return protocol.Frame{}, err
	}
	f := protocol.Frame{Binary: binary, Data: bytes.Clone(data)}
	if truncated {
		size, err := s.discardRest()
		s.log.Warn("handshake frame over read limit truncated", "bytes", size, "kept", s.r.opts.ReadLimit)
		if err != nil {
			return protocol.Frame{}, err
		}
	}
	return f, nil
}
