package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wsmon/wsmon/internal/capture"
	"github.com/wsmon/wsmon/internal/journal"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/protocol"
)

// Recorder is the capture side of the pipeline: it appends what the socket
// readers receive to the journal. Each call is an in-memory append (the
// journal writes to disk on its own goroutine), so a reader never waits for
// the database. It implements capture.Sink.
type Recorder struct {
	J *journal.Journal
}

// Frame journals one data frame. reason is message.ReasonTooLarge for a
// frame cut at the read limit, message.ReasonControl for a kept control
// frame, else "". A frame the journal dropped (journal.ErrFull: the disk
// fails and its memory bound is reached; the journal records the gap) is
// reported as capture.ErrDropped, so the session goes on.
func (r Recorder) Frame(target string, session int64, at time.Time, f protocol.Frame, reason string) error {
	var flags uint8
	if f.Binary {
		flags |= journal.FlagBinary
	}
	switch reason {
	case message.ReasonTooLarge:
		flags |= journal.FlagTooLarge
	case message.ReasonControl:
		flags |= journal.FlagControl
	}
	_, err := r.J.Append(journal.Record{Kind: journal.KindFrame, Flags: flags, At: at, Target: target, Session: session, Data: f.Data})
	if errors.Is(err, journal.ErrFull) {
		return fmt.Errorf("%w: %w", capture.ErrDropped, err)
	}
	return err
}

// sessionStart is the journal encoding of a SessionStart record. Records
// written before protocols were recorded hold the bare URL.
type sessionStart struct {
	URL      string `json:"url"`
	Protocol string `json:"protocol"`
}

// SessionStart journals a new connection; its journal sequence number is the
// session id.
func (r Recorder) SessionStart(target, url, protocol string, at time.Time) (int64, error) {
	data, err := json.Marshal(sessionStart{URL: url, Protocol: protocol})
	if err != nil {
		return 0, fmt.Errorf("ingest: encode session start: %w", err)
	}
	seq, err := r.J.Append(journal.Record{Kind: journal.KindSessionStart, At: at, Target: target, Data: data})
	return int64(seq), err
}

// decodeSessionStart reads a SessionStart record's data.
func decodeSessionStart(data []byte) sessionStart {
	var st sessionStart
	if len(data) == 0 || data[0] != '{' || json.Unmarshal(data, &st) != nil {
		return sessionStart{URL: string(data)}
	}
	return st
}

// sessionEnd is the journal encoding of a SessionEnd record.
type sessionEnd struct {
	Code    int    `json:"code"`
	Reason  string `json:"reason,omitempty"`
	Error   string `json:"error,omitempty"`
	Frames  int64  `json:"frames"`
	Control int64  `json:"control,omitempty"`
}

// SessionEnd journals the end of a connection.
func (r Recorder) SessionEnd(target string, session int64, at time.Time, code int, reason, errText string, frames, control int64) error {
	data, err := json.Marshal(sessionEnd{Code: code, Reason: reason, Error: errText, Frames: frames, Control: control})
	if err != nil {
		return fmt.Errorf("ingest: encode session end: %w", err)
	}
	_, err = r.J.Append(journal.Record{Kind: journal.KindSessionEnd, At: at, Target: target, Session: session, Data: data})
	return err
}
