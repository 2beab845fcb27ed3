// Package protocol owns the chat-protocol adapters: how to talk to a given
// kind of chat server over a WebSocket (the HTTP steps before the upgrade,
// the handshake and subscriptions after it, heartbeats, reassembly of
// byte-stream protocols) and how to turn the protocol messages it receives
// into chat events for normalisation. The reconnect policy is not here: it
// lives once, in the capture runner. Adapters are registered by name in
// registry.go, the only list of protocols in wsmon.
//
// # Lifecycle
//
// For every connection attempt the capture runner calls, in order:
//
//  1. Adapter.Prepare, before dialling: it may rewrite the URL, add
//     headers and subprotocols, and make HTTP requests (SignalR negotiate).
//  2. Adapter.Open, after the WebSocket upgrade: it writes the opening
//     frames (CONNECT, connection_init, ...) and returns a new Session, the
//     per-connection state. Open may read frames through Conn.ReadFrame only
//     to decide how to go on (auto-detection); every frame it reads is
//     given to Session.Feed afterwards anyway, in order, so nothing read
//     during Open is lost.
//  3. Session.Feed, on the socket reader goroutine, for every data frame:
//     it answers heartbeats at once (Output.Replies), drives the handshake
//     and subscriptions (the replies again), counts control traffic
//     (Output.Control) and hands on whole protocol messages that carry
//     chat (Output.Records). Feed never blocks and never waits for
//     storage.
//  4. Session.Tick, on the writer goroutine, every Session.Heartbeat()
//     (asked once, when the session becomes Ready): the client-side
//     heartbeats (STOMP EOLs, MQTT PINGREQ, Phoenix heartbeat, EIO3 ping).
//
// Records are journaled as they are; later, in the ingest pipeline and
// again on journal replay after a crash, Adapter.Decode turns each record
// into events. Decode is a pure function of the record and the adapter's
// configuration, so a replay yields exactly what the live path did.
//
// # Errors
//
// A *Refusal returned by Open or Feed means the server refused wsmon in a
// way retrying cannot fix (bad credentials, a rejected subscription): the
// runner stops the target and shows the reason. Any other error ends the
// connection and the runner reconnects with backoff.
package protocol

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/wsmon/wsmon/internal/jsontok"
)

// Frame is one WebSocket data frame, or one record (a whole protocol message
// the session handed on), with its frame type.
type Frame struct {
	Binary bool
	Data   []byte
}

// Event is one chat event found in a record. A record may hold several (a
// batched frame) or none worth keeping (Decode then returns nil and the
// pipeline stores the record as is, so nothing is dropped silently).
type Event struct {
	Room    string // room/channel/topic/subject/destination from the envelope, "" if none
	Name    string // protocol event name (Socket.IO event, "join", "leave", ...), "" if none
	User    string // sender from the envelope (Centrifugo info.user, ...), "" if none; the payload's own user wins
	ID      string // the message's own id from the envelope (STOMP message-id, Centrifugo offset), "" if none; it wins over the payload's id
	Payload []byte // the message document: JSON or plain text
	Raw     []byte // the bytes stored as the message's raw frame (the record or its part)
	Binary  bool   // Payload came from a binary frame
	Text    bool   // Payload is plain text: never parse it as JSON (format "text")
	Reason  string // non-empty when the adapter found the record abnormal (message.Reason* values)
}

// Output collects what one Feed or Tick call produces. The runner resets
// it before each call and acts on it after: Replies are written at once in
// order, Records are journaled in order, Control frames are counted (and
// journaled as control records when the operator keeps them). Data slices
// may alias the frame given to Feed or the session's own buffers: they are
// only read during the call's aftermath and copied where kept.
type Output struct {
	Replies []Frame // frames to write back to the server
	Records []Frame // whole protocol messages that carry chat
	Control []Frame // control traffic: heartbeats, acks, receipts, connect/subscribe replies
}

// Reply appends a frame to write.
func (o *Output) Reply(binary bool, data []byte) {
	o.Replies = append(o.Replies, Frame{Binary: binary, Data: data})
}

// Record appends a chat-carrying record.
func (o *Output) Record(binary bool, data []byte) {
	o.Records = append(o.Records, Frame{Binary: binary, Data: data})
}

// Ctrl appends a control frame.
func (o *Output) Ctrl(binary bool, data []byte) {
	o.Control = append(o.Control, Frame{Binary: binary, Data: data})
}

// Reset empties o, keeping its capacity.
func (o *Output) Reset() {
	clear(o.Replies)
	clear(o.Records)
	clear(o.Control)
	o.Replies, o.Records, o.Control = o.Replies[:0], o.Records[:0], o.Control[:0]
}

// Dial is what Prepare may change before the runner dials.
type Dial struct {
	URL          *url.URL
	Header       http.Header
	Subprotocols []string
	// HTTP is a client with the target's TLS settings and dialer, for HTTP
	// steps before the upgrade (SignalR negotiate). Its timeout is the
	// handshake timeout.
	HTTP *http.Client
}

// Conn is the live connection as an adapter sees it.
type Conn interface {
	// Write sends one text or binary frame. Safe for concurrent use;
	// bounded by the runner's write timeout and ctx.
	Write(ctx context.Context, f Frame) error
	// ReadFrame reads the next frame. Only valid inside Open; every frame
	// read there is given to Session.Feed afterwards as well.
	ReadFrame(ctx context.Context) (Frame, error)
	// Subprotocol is the subprotocol the server accepted, "" if none.
	Subprotocol() string
}

// Adapter speaks one chat protocol for one target. It is built once per
// target from Config by the registry, is immutable, and is safe for
// concurrent use: Prepare and Open run on the runner goroutine, Decode on
// the pipeline's.
type Adapter interface {
	// Name is the protocol's registry name ("raw", "socketio", ...).
	Name() string
	// Prepare adjusts the dial before every attempt. An error counts as a
	// failed attempt (a *Refusal stops the target).
	Prepare(ctx context.Context, d *Dial) error
	// Open starts a session on a freshly upgraded connection: it sends the
	// opening frames (handshake, and subscriptions when the protocol allows
	// them before the server's answer) and returns the session. ctx bounds
	// Open only.
	Open(ctx context.Context, c Conn) (Session, error)
	// Decode turns a record its sessions produced into chat events. Pure:
	// the same record always gives the same events. It must not panic on
	// any input (records come back from the journal).
	Decode(rec Frame) []Event
}

// Session is the state of one connection. Feed is called on the reader
// goroutine and Tick on the writer goroutine, possibly at the same time: a
// session that shares state between them guards it itself. Ready and
// Heartbeat are called where Feed is, never at the same time as Feed.
type Session interface {
	// Protocol is the name of the protocol this session speaks (for the
	// auto adapter, the one it picked).
	Protocol() string
	// Feed handles one frame from the server.
	Feed(f Frame, out *Output) error
	// Ready reports whether the handshake is complete (connected and the
	// subscriptions sent). The runner calls it once after Open (before any
	// Feed) and after every Feed until it is true; a session not ready
	// within the handshake timeout is ended and retried.
	Ready() bool
	// Heartbeat is how often Tick must run; 0 for never. Asked once, when
	// the session becomes ready (negotiated intervals are known then).
	Heartbeat() time.Duration
	// Tick produces the periodic client heartbeat (into out.Replies).
	Tick(now time.Time, out *Output) error
}

// Composer is implemented by sessions that can send a chat message on
// the connection (automatic replies). Compose writes the frames that send
// text into out.Replies.
//
// room is the room of the message being answered ("" for none). A session
// sends there only when it is a place the session itself subscribed to (a
// destination, a topic its filters match, a joined channel, a connected
// namespace); otherwise it sends to its default (its reply option, else its
// first subscription), and fails when it has none. A room named only by a
// message's content never steers where wsmon writes.
//
// Compose returns the echo: the event the server's broadcast of the
// message is expected to decode to (Room, Payload, Text, Binary and, where
// the envelope carries it, User, as Decode would give them), so that the
// caller recognises the message when it comes back and never answers its
// own reply. Where the protocol leaves the broadcast to the application
// (a hub method, a channel action, a mutation), the echo is the sent
// document: the text as plain text, or the JSON sent, with no User.
//
// Compose is called on another goroutine than Feed, so it may only read
// state fixed once the session is ready, or state it guards itself. An
// error means nothing was written (out.Replies is left as it was).
type Composer interface {
	Compose(text, room string, out *Output) (echo Event, err error)
}

// ErrCannotSend is returned (wrapped) by Compose of a session that cannot
// send chat messages with its current settings.
var ErrCannotSend = errors.New("cannot send messages")

// ReplyValue is an automatic reply as a JSON value, for the protocols that
// carry JSON documents: with asJSON (options.reply_format "json") the text
// itself, which must be one valid JSON value; else the text as a JSON
// string.
func ReplyValue(text string, asJSON bool) ([]byte, error) {
	if !asJSON {
		return jsontok.AppendString(nil, text), nil
	}
	t := bytes.TrimSpace([]byte(text))
	if !json.Valid(t) {
		return nil, fmt.Errorf("the reply is not valid JSON (options.reply_format is json): %.60q", text)
	}
	return t, nil
}

// ReplyEcho is the echo of a reply sent as the JSON value v (see Composer):
// a JSON string as its text (Text), any other value as JSON.
func ReplyEcho(room string, v []byte) Event {
	ev := Event{Room: room, Payload: v, Raw: v}
	var s string
	if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
		ev.Payload, ev.Raw, ev.Text = []byte(s), []byte(s), true
	}
	return ev
}

// CloseClassifier is implemented by adapters whose protocol gives WebSocket
// close codes its own meaning (Centrifugo's 3500-3999 "do not reconnect",
// graphql-ws 4400-4499). The runner asks it about every close frame from
// the server before its own rules: a *Refusal stops the target, another
// error reconnects (overriding the runner's stop on 1008, 4401 and 4403),
// nil leaves the close to the runner's rules.
type CloseClassifier interface {
	CloseError(code int, reason string) error
}

// Refusal is the error of a server that refused wsmon for good: bad
// credentials, a refused namespace or subscription, a close without
// reconnect. The runner stops the target instead of reconnecting.
type Refusal struct {
	Protocol string // adapter name
	Reason   string // what the server said, for the status and the log
}

func (e *Refusal) Error() string {
	return fmt.Sprintf("%s: server refused: %s; not reconnecting", e.Protocol, e.Reason)
}

// Refuse returns a *Refusal for protocol with a formatted reason.
func Refuse(protocol, format string, args ...any) error {
	return &Refusal{Protocol: protocol, Reason: fmt.Sprintf(format, args...)}
}

// ParseURL parses a target's URL for an adapter's New, with errors that
// start with the key: a URL that does not parse or has no host.
func (c Config) ParseURL() (*url.URL, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("url: no host in %q", c.URL)
	}
	return u, nil
}

// Auth is the target's credentials, which each adapter maps to its
// protocol's own mechanism.
type Auth struct {
	Username string
	Password string
	Token    string
}

// Config is everything an adapter is built from: one target's protocol
// settings.
type Config struct {
	Target    string   // target name, for error messages
	URL       string   // ws:// or wss:// URL
	Subscribe []string // namespaces, destinations, topic filters, channels, subjects ...
	Auth      Auth
	Options   Options // protocol-specific settings
	Format    string  // raw: "auto" (default), "json", "text"
	Framing   string  // raw: "frame" (default), "lines"
}

// Spec describes one protocol to the registry: how to build its adapter
// and how protocol "auto" recognises it. Each adapter package exports one.
type Spec struct {
	Name string
	New  func(Config) (Adapter, error)
	// Subprotocols identify the protocol when the server accepts one of
	// them; auto offers them all.
	Subprotocols []string
	// Paths are URL path fragments that identify the protocol
	// ("/socket.io/", "/connection/websocket").
	Paths []string
	// Sniff reports whether the server's first frame identifies the
	// protocol (NATS INFO, Engine.IO open, ActionCable welcome). nil: the
	// server does not speak first.
	Sniff func(first Frame) bool
}
