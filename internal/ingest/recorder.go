package ingest

import (
	"encoding/json"
	"fmt"
	"time"

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
// frame cut at the read limit, else "".
func (r Recorder) Frame(target string, session int64, at time.Time, f protocol.Frame, reason string) error {
	var flags uint8
	if f.Binary {
		flags |= journal.FlagBinary
	}
	if reason == message.ReasonTooLarge {
		flags |= journal.FlagTooLarge
	}
	_, err := r.J.Append(journal.Record{Kind: journal.KindFrame, Flags: flags, At: at, Target: target, Session: session, Data: f.Data})
	return err
}

// SessionStart journals a new connection; its journal sequence number is the
// session id.
func (r Recorder) SessionStart(target, url string, at time.Time) (int64, error) {
	seq, err := r.J.Append(journal.Record{Kind: journal.KindSessionStart, At: at, Target: target, Data: []byte(url)})
	return int64(seq), err
}

// sessionEnd is the journal encoding of a SessionEnd record.
type sessionEnd struct {
	Code   int    `json:"code"`
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
	Frames int64  `json:"frames"`
}

// SessionEnd journals the end of a connection.
func (r Recorder) SessionEnd(target string, session int64, at time.Time, code int, reason, errText string, frames int64) error {
	data, err := json.Marshal(sessionEnd{Code: code, Reason: reason, Error: errText, Frames: frames})
	if err != nil {
		return fmt.Errorf("ingest: encode session end: %w", err)
	}
	_, err = r.J.Append(journal.Record{Kind: journal.KindSessionEnd, At: at, Target: target, Session: session, Data: data})
	return err
}
