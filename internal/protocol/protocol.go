// Package protocol owns the chat-protocol adapters: how to talk to a given
// kind of chat server once a WebSocket connection is open (handshake,
// subscriptions, application heartbeats) and how to turn its frames into
// events for normalisation. The reconnect policy is not here: it lives once,
// in the capture runner.
package protocol

import (
	"context"
	"time"
)

// Frame is one WebSocket data frame as read from the socket.
type Frame struct {
	Binary bool
	Data   []byte
}

// Event is one application-level message found in a frame. A frame may hold
// zero events (a heartbeat), one, or several (a batched frame).
type Event struct {
	Room    string // room/channel/topic known from the protocol envelope, "" if none
	Name    string // protocol event name (Socket.IO event, STOMP destination...), "" if none
	Payload []byte // the message document: JSON or plain text
	Raw     []byte // the bytes of the frame this event came from (whole frame or its part)
	Binary  bool
}

// Conn is the side of a live connection an adapter may use during Handshake.
// WriteText is safe for concurrent use.
type Conn interface {
	WriteText(ctx context.Context, data []byte) error
	// ReadFrame reads the next frame. Only valid inside Handshake: afterwards
	// the runner's reader owns the socket.
	ReadFrame(ctx context.Context) (Frame, error)
}

// Adapter speaks one chat protocol. The capture runner calls, for every
// connection: Subprotocols before dialling, Handshake once connected, then
// Intercept for every frame on the reader's hot path, and Heartbeat to learn
// what to send periodically. Decode runs later, off the hot path, in the
// ingest pipeline, and must be safe to call for frames replayed from the
// journal.
type Adapter interface {
	// Name is the protocol name used in config ("raw", "socketio", ...).
	Name() string
	// Subprotocols lists WebSocket subprotocols to offer in addition to the
	// configured ones.
	Subprotocols() []string
	// Handshake runs after every (re)connect and before frames are recorded.
	// An error aborts the connection; the runner retries with backoff.
	Handshake(ctx context.Context, c Conn) error
	// Intercept inspects a frame on the reader goroutine. It must be fast and
	// must not block. reply, when non-nil, is written back at once (e.g. a
	// protocol-level pong); control reports that the frame is protocol
	// chatter and must not be recorded as a message.
	Intercept(f Frame) (reply []byte, control bool)
	// Heartbeat returns an application-level heartbeat to send every
	// interval; interval 0 means none.
	Heartbeat() (interval time.Duration, payload []byte)
	// Decode splits a recorded frame into events.
	Decode(f Frame) []Event
}
