// Package message owns the Message type that every other part of wsmon
// passes around, and the normalisation that turns a decoded protocol event
// (a JSON document or a line of text) into a Message: field detection,
// configurable field mapping, timestamp parsing and type classification.
package message

import "time"

// Type classifies a message. The set is closed: anything not recognised is
// TypeOther.
type Type string

// Message types.
const (
	TypeChat   Type = "chat"
	TypeSystem Type = "system"
	TypeJoin   Type = "join"
	TypeLeave  Type = "leave"
	TypeOther  Type = "other"
)

// IsActivity reports whether a message of type t is something its user
// did (chat, other events) rather than presence or the server speaking
// (system, join, leave): the leaderboard and the active-user count count
// only activity. The store's SQL form of the same rule is
// store.activitySQL (tested to agree).
func IsActivity(t Type) bool {
	return t != TypeSystem && t != TypeJoin && t != TypeLeave
}

// Reasons explain why a frame could not be decoded normally. A message with a
// non-empty Reason is still stored (with its raw frame), so nothing is ever
// silently dropped.
const (
	ReasonTooLarge    = "too_large"     // frame exceeded the read limit; Raw holds a prefix
	ReasonInvalidUTF8 = "invalid_utf8"  // text frame with invalid UTF-8
	ReasonBadJSON     = "bad_json"      // looked like JSON but did not parse (e.g. truncated)
	ReasonTooDeep     = "json_too_deep" // JSON nested deeper than the limit
	ReasonNUL         = "nul_bytes"     // text contained NUL bytes
	ReasonBinary      = "binary"        // binary frame that is not UTF-8 text
	ReasonControl     = "control"       // protocol control frame (heartbeat, ack), stored only with keep_control
	ReasonDropped     = "dropped"       // a system message standing for frames wsmon received but could not keep (the journal's disk failed); Raw is the journal's gap record
)

// Message is one captured chat message, the unit stored, searched and shown.
type Message struct {
	ID         int64     // unique, increasing in arrival order; assigned by the ingest journal
	Target     string    // name of the monitored target (config)
	SessionID  int64     // connection session the frame arrived on
	ReceivedAt time.Time // when wsmon read the frame
	SentAt     time.Time // sender's timestamp if the payload had one, else zero
	User       string    // sender's name, "" if unknown
	Room       string    // room/channel/topic, "" if unknown
	Type       Type
	Content    string // human-readable text of the message
	Raw        []byte // the frame (or the part of a batched frame) exactly as received
	Binary     bool   // Raw came from a binary frame
	ExtID      string // the message's own id (the protocol's delivery id, or the payload's), "" if none
	DeliveryID bool   // ExtID is the protocol's own delivery id (protocol.Event.ID), unique by itself; false: a payload field, not trusted to be unique
	Reason     string // non-empty when the frame was abnormal (see Reason* constants)
	DedupKey   uint64 // duplicate-detection key set by ingest, 0 = none
}
