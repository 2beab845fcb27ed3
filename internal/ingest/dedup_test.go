package ingest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/journal"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/protocol"
	"github.com/wsmon/wsmon/internal/protocol/raw"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/store/storetest"
)

// deliveryAdapter is raw JSON with a protocol envelope: a frame "ID|payload"
// carries the protocol's own delivery id ID (as STOMP's message-id or
// Centrifugo's offset do).
type deliveryAdapter struct{ protocol.Adapter }

func (a deliveryAdapter) Decode(f protocol.Frame) []protocol.Event {
	id, payload, ok := strings.Cut(string(f.Data), "|")
	if !ok {
		return a.Adapter.Decode(f)
	}
	evs := a.Adapter.Decode(protocol.Frame{Data: []byte(payload)})
	for i := range evs {
		evs[i].ID = id
	}
	return evs
}

// runFrames journals frames for target "t" on one session, runs a pipeline
// over them to the end, and returns what was stored and the counters.
func runFrames(t *testing.T, frames []string) ([]message.Message, Stats) {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.Options(t, filepath.Join(dir, "db.sqlite"), nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	j, err := journal.Open(filepath.Join(dir, "journal"), 1, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := Recorder{J: j}
	at := time.Now()
	sid, err := rec.SessionStart("t", "ws://127.0.0.1:1/", "raw", at)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if err := rec.Frame("t", sid, at.Add(time.Duration(i)*time.Millisecond), protocol.Frame{Data: []byte(f)}, ""); err != nil {
			t.Fatal(err)
		}
	}
	dec := map[string]Decoder{"t": {Adapter: deliveryAdapter{raw.Default()}, Normalizer: message.NewNormalizer(message.FieldMap{}, 0)}}
	p, err := New(ctx, Options{Journal: j, Store: st, Decoders: dec, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	j.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := st.MessagesAfter(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	return got, p.Stats()
}

// TestDedupSameIDOtherContent: a payload's own "id" is not trusted to be
// unique (servers reuse room or thread ids there): messages sharing it are
// duplicates only when their content is the same too; a same-id pair with
// other content is stored and counted as an id collision. The protocol's
// own delivery id identifies a message on its own.
func TestDedupSameIDOtherContent(t *testing.T) {
	tests := []struct {
		name                   string
		frames                 []string
		stored                 []string // contents, in order
		duplicates, collisions int64
	}{
		{
			name: "payload ids shared by distinct messages",
			frames: []string{
				`{"id":"room-1","user":"ann","text":"one"}`,
				`{"id":"room-1","user":"bob","text":"two"}`,
				`{"id":"room-1","user":"ann","text":"three"}`,
			},
			stored:     []string{"one", "two", "three"},
			collisions: 2,
		},
		{
			name: "payload id replayed with the same content",
			frames: []string{
				`{"id":"m-1","user":"ann","text":"one"}`,
				`{"id":"m-2","user":"ann","text":"two"}`,
				`{"id":"m-1","user":"ann","text":"one"}`,
				`{"id":"m-2","user":"ann","text":"two"}`,
			},
			stored:     []string{"one", "two"},
			duplicates: 2,
		},
		{
			name: "delivery id replayed, whatever the payload says",
			frames: []string{
				`d-1|{"id":"room-1","user":"ann","text":"one"}`,
				`d-2|{"id":"room-1","user":"ann","text":"one"}`,
				`d-1|{"id":"room-1","user":"ann","text":"one, re-rendered"}`,
			},
			stored:     []string{"one", "one"},
			duplicates: 1,
		},
		{
			name: "no id: same time, user and content",
			frames: []string{
				`{"ts":1764000000000,"user":"ann","text":"hi"}`,
				`{"ts":1764000000000,"user":"ann","text":"hi"}`,
				`{"ts":1764000000000,"user":"bob","text":"hi"}`,
			},
			stored:     []string{"hi", "hi"},
			duplicates: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, st := runFrames(t, tt.frames)
			var contents []string
			for _, m := range got {
				contents = append(contents, m.Content)
			}
			if strings.Join(contents, "\n") != strings.Join(tt.stored, "\n") {
				t.Errorf("stored %q, want %q", contents, tt.stored)
			}
			if st.Duplicates != tt.duplicates || st.IDCollisions != tt.collisions {
				t.Errorf("duplicates %d, id collisions %d; want %d, %d", st.Duplicates, st.IDCollisions, tt.duplicates, tt.collisions)
			}
			if st.Messages != int64(len(tt.stored)) {
				t.Errorf("messages %d, want %d", st.Messages, len(tt.stored))
			}
		})
	}
}
