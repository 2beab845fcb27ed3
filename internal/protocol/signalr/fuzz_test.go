package signalr

import (
	"bytes"
	"reflect"
	"slices"
	"testing"

	"github.com/wsmon/wsmon/internal/protocol"
)

// FuzzSignalR feeds arbitrary input once whole and once cut into frames at
// the positions the cuts bytes give: the records, replies and outcome must
// be the same (reassembly does not depend on framing), nothing may panic,
// and Decode of every record and of the input is deterministic.
func FuzzSignalR(f *testing.F) {
	f.Add([]byte("{}\x1e"+inv1+"\x1e{\"type\":6}\x1e"+inv2+"\x1e"), []byte{3, 10, 1})
	f.Add([]byte("{}\x1e{\"type\":2,\"invocationId\":\"1\",\"item\":\"x\"}\x1e{\"type\":7,\"allowReconnect\":true}\x1e"), []byte{1})
	f.Add([]byte("{\"error\":\"no\"}\x1e"), []byte{5})
	f.Add([]byte("{}\x1e{\"type\":3,\"invocationId\":\"1\",\"error\":\"x\"}\x1e"), []byte{7, 7})
	f.Add([]byte("{}\x1e{\"type\":1,\"target\":\"userjoined\",\"arguments\":[\"a\",{\"b\":[1,2]},3]}\x1e"), []byte{2})
	a := mustNew(f, protocol.Config{Subscribe: []string{"JoinGroup:room1"},
		Options: protocol.Options{"argument_names": map[string]any{"UserJoined": []any{"user", "room"}}}})
	f.Fuzz(func(t *testing.T, in, cuts []byte) {
		whole := feedFrames(t, a, [][]byte{in})
		var frames [][]byte
		rest := in
		for _, c := range cuts {
			n := min(int(c), len(rest))
			frames = append(frames, rest[:n])
			rest = rest[n:]
		}
		frames = append(frames, rest)
		chunked := feedFrames(t, a, frames)
		if !reflect.DeepEqual(whole, chunked) {
			t.Fatalf("framing changed the outcome:\nwhole   %+v\nchunked %+v", whole, chunked)
		}
		for _, r := range whole.records {
			checkDecode(t, a, protocol.Frame{Data: r})
		}
		checkDecode(t, a, protocol.Frame{Data: in})
	})
}

type outcome struct {
	records, replies [][]byte
	control          int
	failed           bool
	ready            bool
}

func feedFrames(t *testing.T, a *Adapter, frames [][]byte) outcome {
	s, err := a.Open(t.Context(), &fakeConn{})
	if err != nil {
		t.Fatal(err)
	}
	var o outcome
	var out protocol.Output
	for _, fr := range frames {
		out.Reset()
		err := s.Feed(protocol.Frame{Data: slices.Clone(fr)}, &out)
		for _, r := range out.Records {
			o.records = append(o.records, bytes.Clone(r.Data))
		}
		for _, r := range out.Replies {
			o.replies = append(o.replies, bytes.Clone(r.Data))
		}
		for _, c := range out.Control {
			if len(c.Data) > 0 { // empty messages between separators depend on nothing
				o.control++
			}
		}
		if err != nil {
			o.failed = true
			break
		}
	}
	o.ready = s.Ready()
	return o
}

func checkDecode(t *testing.T, a *Adapter, rec protocol.Frame) {
	one, two := a.Decode(rec), a.Decode(rec)
	if !reflect.DeepEqual(one, two) || len(one) != 1 {
		t.Fatalf("Decode(%q) not deterministic or not one event: %+v vs %+v", rec.Data, one, two)
	}
}
