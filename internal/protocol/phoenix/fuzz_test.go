package phoenix

import (
	"bytes"
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
)

// FuzzPhoenix feeds arbitrary frames (the input cut at 0x1f bytes; the
// first byte of each frame chooses text or binary) to sessions of both
// serializers, with a Tick between frames, and decodes every record and
// the input twice: nothing may panic and Decode must be deterministic.
func FuzzPhoenix(f *testing.F) {
	f.Add([]byte("t" + `["1","1","room:lobby","phx_reply",{"status":"ok","response":{}}]` + "\x1ft" + `[null,null,"room:lobby","new_msg",{"body":"hi"}]`))
	f.Add([]byte("t" + `{"topic":"room:lobby","event":"phx_error","payload":{},"ref":"1"}` + "\x1ft" + `{"topic":"phoenix","event":"phx_reply","payload":{"status":"ok"},"ref":"2"}`))
	f.Add([]byte("b\x02\x0a\x07room:lobbynew_msg\xff\x00\x1fb\x01\x01\x01\x0a\x02" + "11room:lobbyok"))
	f.Add([]byte("t" + `[null,null,"room:lobby","presence_diff",{"joins":{"a":{"metas":[]}},"leaves":{"b":{}}}]`))
	f.Add([]byte("t" + `["1","1","room:lobby","phx_reply",{"status":"error","response":{"reason":{"code":1}}}]`))
	adapters := []*Adapter{
		mustNew(f, protocol.Config{Subscribe: []string{"room:lobby", "room:2"}, Options: protocol.Options{"presence": true}}),
		mustNew(f, protocol.Config{Subscribe: []string{"room:lobby"}, Options: protocol.Options{"vsn": "1.0.0"}}),
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, a := range adapters {
			s, err := a.Open(context.Background(), &fakeConn{})
			if err != nil {
				t.Fatal(err)
			}
			var out protocol.Output
			for _, fr := range bytes.Split(in, []byte{0x1f}) {
				binary := len(fr) > 0 && fr[0] == 'b'
				if len(fr) > 0 {
					fr = fr[1:]
				}
				out.Reset()
				if err := s.Feed(protocol.Frame{Data: fr, Binary: binary}, &out); err != nil {
					break
				}
				for _, r := range out.Records {
					checkDecode(t, a, r)
				}
				out.Reset()
				s.Tick(time.Now(), &out)
			}
			checkDecode(t, a, protocol.Frame{Data: in})
			checkDecode(t, a, protocol.Frame{Data: in, Binary: true})
		}
	})
}

func checkDecode(t *testing.T, a *Adapter, rec protocol.Frame) {
	rec.Data = bytes.Clone(rec.Data)
	one, two := a.Decode(rec), a.Decode(rec)
	if !reflect.DeepEqual(one, two) {
		t.Fatalf("Decode(%q) not deterministic:\n%+v\n%+v", rec.Data, one, two)
	}
}
