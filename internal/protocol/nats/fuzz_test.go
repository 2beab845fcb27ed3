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

// FuzzCompose: for any reply text and room, Compose never panics; a reply
// is one PUB whose delivery (the MSG nats-server makes of it) the session
// records and Decode reads as the echo Compose returned.
func FuzzCompose(f *testing.F) {
	f.Add("hi", "chat.a")
	f.Add("a\r\nPUB x 1\r\n", "chat.*")
	f.Add(`{"text":"收到"}`, "")
	a := mustNew(f, protocol.Config{Subscribe: []string{"other", "chat.>"}})
	f.Fuzz(func(t *testing.T, text, room string) {
		s := &session{a: a, gotInfo: true, ready: true}
		var out protocol.Output
		echo, err := s.Compose(text, room, &out)
		if err != nil {
			t.Fatalf("Compose: %v (the first subscription is literal)", err)
		}
		if len(out.Replies) != 1 || string(echo.Payload) != text {
			t.Fatalf("Compose wrote %d frames, echo %+v", len(out.Replies), echo)
		}
		line, payload, _ := bytes.Cut(out.Replies[0].Data, []byte("\r\n"))
		f := strings.Fields(string(line))
		if len(f) != 3 || f[0] != "PUB" {
			t.Fatalf("not one PUB: %q", out.Replies[0].Data)
		}
		msg := "MSG " + f[1] + " 1 " + f[2] + "\r\n" + string(payload)
		var back protocol.Output
		if err := s.Feed(protocol.Frame{Binary: true, Data: []byte(msg)}, &back); err != nil || len(back.Records) != 1 {
			t.Fatalf("the delivery: %v, %+v", err, back)
		}
		ev := a.Decode(back.Records[0])[0]
		if ev.Room != echo.Room || !bytes.Equal(ev.Payload, echo.Payload) || ev.Binary != echo.Binary || ev.Text != echo.Text {
			t.Fatalf("echo %+v, the delivery decodes to %+v", echo, ev)
		}
	})
}
