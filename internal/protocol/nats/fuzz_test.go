package nats

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/wsmon/wsmon/internal/protocol"
)

// FuzzNATS feeds arbitrary bytes, cut into frames at arbitrary points, to a
// session: it never panics, every record it hands on is one whole MSG or
// HMSG that Decode reads without complaint, the records do not depend on
// where the frames were cut, and Decode is deterministic on any input.
func FuzzNATS(f *testing.F) {
	f.Add([]byte(strings.Join(streamOps, "")), uint8(7))
	f.Add([]byte(info+hmsgOp("a.b", "Nats-Msg-Id: 1\r\n", "hi")), uint8(3))
	f.Add([]byte("MSG a 1 5\r\nhel"), uint8(1))
	f.Add([]byte("-ERR 'Authorization Violation'\r\n"), uint8(0))
	f.Add([]byte("HMSG a 1 r 36 36\r\nNATS/1.0 100 FlowControl Request\r\n\r\n\r\n"), uint8(2))
	a := mustNew(f, protocol.Config{Subscribe: []string{">"}})
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		whole, wholeErr := records(a, [][]byte{data})
		var frames [][]byte
		n := int(step) + 1
		for i := 0; i < len(data); i += n {
			frames = append(frames, data[i:min(i+n, len(data))])
		}
		cut, cutErr := records(a, frames)
		if (wholeErr == nil) == (cutErr == nil) && wholeErr == nil && !reflect.DeepEqual(whole, cut) {
			t.Fatalf("records depend on framing:\nwhole %q\ncut   %q", whole, cut)
		}
		for _, r := range append(whole, cut...) {
			evs := a.Decode(protocol.Frame{Binary: true, Data: r})
			if len(evs) != 1 || evs[0].Reason != "" {
				t.Fatalf("record %q decodes as %+v", r, evs)
			}
		}
		e1 := a.Decode(protocol.Frame{Binary: true, Data: data})
		e2 := a.Decode(protocol.Frame{Binary: true, Data: bytes.Clone(data)})
		if !reflect.DeepEqual(e1, e2) || len(e1) != 1 {
			t.Fatalf("Decode not deterministic: %+v vs %+v", e1, e2)
		}
	})
}

// records feeds frames to a new session and returns copies of its records,
// stopping at the first error.
func records(a *Adapter, frames [][]byte) ([][]byte, error) {
	s := &session{a: a}
	var out protocol.Output
	var recs [][]byte
	for _, fr := range frames {
		out.Reset()
		err := s.Feed(protocol.Frame{Binary: true, Data: bytes.Clone(fr)}, &out)
		for _, r := range out.Records {
			recs = append(recs, bytes.Clone(r.Data))
		}
		if err != nil {
			return recs, err
		}
	}
	return recs, nil
}
