package demo

import (
	"net"
	"sync"
	"time"
)

// flushThreshold is how many bytes a batching connection gathers before it
// writes them out.
const flushThreshold = 64 << 10

// batchListener wraps every accepted connection in a batchConn.
type batchListener struct {
	net.Listener
	sendBuffer int // if > 0, SO_SNDBUF of accepted connections (tests)
}

// Accept implements net.Listener.
func (l batchListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok && l.sendBuffer > 0 {
		_ = tc.SetWriteBuffer(l.sendBuffer)
	}
	return &batchConn{Conn: c}, nil
}

// batchConn coalesces writes. gorilla/websocket issues one Write (one
// syscall) per frame; during a burst that syscall, not the encoding, is the
// cost. Between startBatch and endBatch, Writes are gathered into one buffer
// and written in chunks of about flushThreshold bytes; outside a batch (HTTP
// traffic, the handshake, pings) Write goes straight through.
//
// gorilla serialises its own Writes, and each of its frames is written by
// consecutive Write calls, so frames never interleave in the buffer. A
// control frame written by another goroutine during a batch (a pong) waits
// in the buffer until the batch ends, which is at most one queue drain.
type batchConn struct {
	net.Conn

	mu       sync.Mutex
	batching bool
	buf      []byte
	deadline time.Time // last write deadline passed to Conn
}

// Write implements net.Conn.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.batching {
		return b.Conn.Write(p)
	}
	if len(b.buf)+len(p) > flushThreshold {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) >= flushThreshold {
			return b.Conn.Write(p)
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *batchConn) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.Conn.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// startBatch makes Writes buffer until endBatch.
func (b *batchConn) startBatch() {
	b.mu.Lock()
	b.batching = true
	b.mu.Unlock()
}

// endBatch writes out what was buffered and makes Writes direct again.
func (b *batchConn) endBatch() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batching = false
	return b.flushLocked()
}

// SetWriteDeadline implements net.Conn. gorilla sets the deadline before
// every frame; an unchanged deadline is not passed on, which saves a timer
// update per frame.
func (b *batchConn) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.Equal(b.deadline) {
		return nil
	}
	b.deadline = t
	return b.Conn.SetWriteDeadline(t)
}

// SetDeadline implements net.Conn.
func (b *batchConn) SetDeadline(t time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deadline = t
	return b.Conn.SetDeadline(t)
}

// Close writes out anything still buffered, unless a write is in progress,
// then closes the connection.
func (b *batchConn) Close() error {
	if b.mu.TryLock() {
		if len(b.buf) > 0 {
			_ = b.Conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			_ = b.flushLocked()
		}
		b.mu.Unlock()
	}
	return b.Conn.Close()
}
