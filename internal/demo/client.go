package demo

import (
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// frameKind says how a queued frame is written.
type frameKind uint8

const (
	kindText   frameKind = iota
	kindBinary           // binary data frame
	kindClose            // close frame; data is the close payload
)

// frame is one entry of a client's send queue. data is shared between
// clients and history and must not be modified.
type frame struct {
	data []byte
	kind frameKind
}

// client is one WebSocket connection. Its reader runs in the HTTP handler
// goroutine; its writer goroutine is the only one that writes data frames,
// taking whole queue contents at a time.
type client struct {
	srv    *Server
	ws     *websocket.Conn
	bc     *batchConn // nil when write coalescing is off
	remote string

	mu      sync.Mutex
	space   sync.Cond // signalled when the writer takes the queue or the client closes
	queue   []frame
	limit   int  // queue length at which normal traffic counts as a slow consumer
	closing bool // a close frame is queued (or the client is gone): accept nothing more
	aborted atomic.Bool
	notify  chan struct{} // capacity 1: wakes the writer

	sent     int           // data frames written; writer goroutine only
	done     chan struct{} // closed by teardown
	readDone chan struct{} // closed when the reader returns
	once     sync.Once
}

func newClient(s *Server, ws *websocket.Conn) *client {
	c := &client{
		srv:      s,
		ws:       ws,
		remote:   ws.RemoteAddr().String(),
		notify:   make(chan struct{}, 1),
		done:     make(chan struct{}),
		readDone: make(chan struct{}),
	}
	c.space.L = &c.mu
	c.bc, _ = ws.NetConn().(*batchConn)
	return c
}

// enqueue appends frames to the queue. With block false (normal traffic) a
// full queue marks the client as a slow consumer: it is unregistered at once,
// its queue is discarded and it is closed with 1008 "slow consumer". With
// block true (Burst, Inject) it waits for room instead. It returns false if
// the client is closing.
func (c *client) enqueue(frames []frame, block bool) bool {
	c.mu.Lock()
	for len(c.queue) >= c.limit && !c.closing {
		if !block {
			c.abortLocked(websocket.ClosePolicyViolation, "slow consumer")
			c.mu.Unlock()
			c.srv.unregister(c)
			c.srv.log.Warn("dropping slow consumer", "remote", c.remote, "queued", c.limit)
			return false
		}
		c.space.Wait()
	}
	if c.closing {
		c.mu.Unlock()
		return false
	}
	c.queue = append(c.queue, frames...)
	c.mu.Unlock()
	c.wake()
	return true
}

// requestClose queues a close frame after the frames already queued. Later
// frames are refused. A second request is ignored.
func (c *client) requestClose(code int, reason string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.queue = append(c.queue, frame{kind: kindClose, data: closePayload(code, reason)})
	c.mu.Unlock()
	c.space.Broadcast()
	c.wake()
}

// abortLocked discards the queue and replaces it with a close frame; the
// writer stops its current batch as soon as it notices. Caller holds c.mu.
func (c *client) abortLocked(code int, reason string) {
	c.closing = true
	c.aborted.Store(true)
	clear(c.queue)
	c.queue = append(c.queue[:0], frame{kind: kindClose, data: closePayload(code, reason)})
	c.space.Broadcast()
	c.wake()
}

func (c *client) wake() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// closePayload formats a close frame payload, truncating reason to fit.
func closePayload(code int, reason string) []byte {
	if len(reason) > maxCloseReason {
		reason = reason[:maxCloseReason]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	return websocket.FormatCloseMessage(code, reason)
}

// teardown closes the connection and forgets the client. It is idempotent
// and may be called from any goroutine.
func (c *client) teardown() {
	c.once.Do(func() {
		c.srv.unregister(c)
		c.mu.Lock()
		c.closing = true
		clear(c.queue)
		c.queue = nil
		c.mu.Unlock()
		c.space.Broadcast()
		close(c.done)
		_ = c.ws.Close()
		c.srv.log.Debug("client disconnected", "remote", c.remote)
	})
}

// writeLoop sends queued frames and pings until the client closes.
func (c *client) writeLoop() {
	defer c.srv.wg.Done()
	defer c.teardown()
	opts := &c.srv.opts
	ping := time.NewTicker(opts.PingInterval)
	defer ping.Stop()
	var batch []frame
	for {
		select {
		case <-c.done:
			return
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(opts.WriteTimeout)); err != nil {
				c.srv.log.Debug("ping failed", "remote", c.remote, "err", err)
				return
			}
			continue
		case <-c.notify:
		}
		c.mu.Lock()
		batch, c.queue = c.queue, batch[:0]
		c.mu.Unlock()
		c.space.Broadcast()
		finished, err := c.writeBatch(batch)
		clear(batch)
		if err != nil {
			c.srv.log.Debug("write failed", "remote", c.remote, "err", err)
			return
		}
		if finished {
			return
		}
	}
}

// writeBatch writes frames in order. It reports finished once a close frame
// has been sent and the close handshake is over.
func (c *client) writeBatch(batch []frame) (finished bool, err error) {
	opts := &c.srv.opts
	if err := c.ws.SetWriteDeadline(time.Now().Add(opts.WriteTimeout)); err != nil {
		return false, err
	}
	if c.bc != nil {
		c.bc.startBatch()
	}
	for _, f := range batch {
		if f.kind == kindClose {
			return true, c.closeWith(f.data)
		}
		if c.aborted.Load() {
			break // the close frame is next in the queue
		}
		typ := websocket.TextMessage
		if f.kind == kindBinary {
			typ = websocket.BinaryMessage
		}
		if err := c.ws.WriteMessage(typ, f.data); err != nil {
			return false, err
		}
		c.sent++
		if opts.DropEvery > 0 && c.sent >= opts.DropEvery {
			return true, c.closeWith(closePayload(websocket.CloseGoingAway, "drop every "+strconv.Itoa(opts.DropEvery)))
		}
	}
	return false, c.flush()
}

func (c *client) flush() error {
	if c.bc == nil {
		return nil
	}
	return c.bc.endBatch()
}

// closeWith flushes, sends a close frame and waits briefly for the client's
// reply (the reader returns when it arrives) so the client reads our close
// code rather than a reset connection.
func (c *client) closeWith(payload []byte) error {
	c.srv.unregister(c)
	if err := c.flush(); err != nil {
		return err
	}
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.space.Broadcast()
	if err := c.ws.WriteControl(websocket.CloseMessage, payload, time.Now().Add(c.srv.opts.WriteTimeout)); err != nil {
		return err
	}
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-c.readDone:
	case <-c.done:
	case <-t.C:
	}
	return nil
}

// clientChat is the only client message the server acts on.
type clientChat struct {
	Type    string  `json:"type"`
	User    *string `json:"user"`
	Room    string  `json:"room"`
	Content *string `json:"content"`
}

// readLoop reads until the connection fails, enforcing the pong timeout,
// and broadcasts the clients' chat messages.
func (c *client) readLoop() {
	defer close(c.readDone)
	defer c.teardown()
	opts := &c.srv.opts
	// A client must answer each ping within PongTimeout.
	wait := opts.PingInterval + opts.PongTimeout
	c.ws.SetReadLimit(maxClientFrame)
	_ = c.ws.SetReadDeadline(time.Now().Add(wait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(wait))
	})
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
				// No pong in time: say why, best effort (a stalled client
				// will not read it), then drop the connection.
				c.srv.log.Info("client missed pong deadline; dropping", "remote", c.remote)
				_ = c.ws.WriteControl(websocket.CloseMessage,
					closePayload(websocket.CloseGoingAway, "pong timeout"), time.Now().Add(100*time.Millisecond))
				return
			}
			c.srv.log.Debug("read ended", "remote", c.remote, "err", err)
			return
		}
		if typ != websocket.TextMessage {
			continue
		}
		var m clientChat
		if json.Unmarshal(data, &m) != nil || m.Type != typeChat || m.User == nil || m.Content == nil {
			continue
		}
		user, room := *m.User, m.Room
		if user == "" {
			user = "anonymous"
		}
		if room == "" {
			room = "lobby"
		}
		c.srv.broadcastChat(user, room, *m.Content)
	}
}
