package actioncable

import (
	"bytes"
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
)

// FuzzActionCable feeds arbitrary frames (the input cut at 0x00 bytes) to
// a session, with a Tick between frames, sniffs them, and decodes every
// record and the input twice: nothing may panic and Decode must be
// deterministic.
func FuzzActionCable(f *testing.F) {
	f.Add([]byte(`{"type":"welcome"}` + "\x00" + `{"identifier":"{\"channel\":\"ChatChannel\"}","type":"confirm_subscription"}` + "\x00" + `{"identifier":"{\"channel\":\"ChatChannel\",\"room\":\"r\"}","message":{"user":"a","text":"b"}}`))
	f.Add([]byte(`{"type":"ping","message":1}` + "\x00" + `{"type":"disconnect","reason":"server_restart","reconnect":true}`))
	f.Add([]byte(`{"identifier":"{\"channel\":\"$pubsub\",\"stream_name\":\"x\"}","message":"text"}`))
	f.Add([]byte(`{"identifier":"{\"channel\":\"C\",\"room\":1e400}","message":-0.0}`))
	a := mustNew(f, protocol.Config{Subscribe: []string{"ChatChannel", `{"channel":"ChatChannel","room":"lobby"}`}})
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := a.Open(context.Background(), &fakeConn{})
		if err != nil {
			t.Fatal(err)
		}
		var out protocol.Output
		for _, fr := range bytes.Split(in, []byte{0}) {
			sniff(protocol.Frame{Data: fr})
			out.Reset()
			if err := s.Feed(protocol.Frame{Data: fr}, &out); err != nil {
				break
			}
			for _, r := range out.Records {
				checkDecode(t, a, r)
			}
			s.Tick(time.Now(), &out)
		}
		checkDecode(t, a, protocol.Frame{Data: in})
	})
}

func checkDecode(t *testing.T, a *Adapter, rec protocol.Frame) {
	rec.Data = bytes.Clone(rec.Data)
	one, two := a.Decode(rec), a.Decode(rec)
	if !reflect.DeepEqual(one, two) || len(one) != 1 {
		t.Fatalf("Decode(%q) not deterministic or not one event:\n%+v\n%+v", rec.Data, one, two)
	}
}
