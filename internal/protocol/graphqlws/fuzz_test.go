package graphqlws

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	"github.com/wsmon/wsmon/internal/protocol"
)

// FuzzGraphQLWS feeds arbitrary frames (the input cut at 0x00 bytes) to a
// session of each variant and decodes every record, and the input itself,
// twice: nothing may panic and Decode must be deterministic.
func FuzzGraphQLWS(f *testing.F) {
	f.Add([]byte(`{"type":"connection_ack"}` + "\x00" + `{"id":"1","type":"next","payload":{"data":{"message":{"user":"a","text":"b"}}}}`))
	f.Add([]byte(`{"type":"ping"}` + "\x00" + `{"type":"ka"}` + "\x00" + `{"type":"data","id":"2","payload":{"data":{"text":"hi"}}}`))
	f.Add([]byte(`{"id":"1","type":"error","payload":[{"message":"no"}]}`))
	f.Add([]byte(`{"type":"data","id":"1","payload":{"errors":[{"message":"x"}]}}`))
	f.Add([]byte(`{"id":"2","type":"complete"}`))
	f.Add([]byte(`{"id":1,"type":"next","payload":{"data":{"a":"x","a":{"b":1}}}}`))
	a := mustNew(f, protocol.Config{Subscribe: []string{sub1, "subscription { text }"}})
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, sub := range []string{SubprotocolTransport, SubprotocolLegacy} {
			s, err := a.Open(context.Background(), &fakeConn{sub: sub})
			if err != nil {
				t.Fatal(err)
			}
			var out protocol.Output
			for _, fr := range bytes.Split(in, []byte{0}) {
				out.Reset()
				if err := s.Feed(protocol.Frame{Data: fr}, &out); err != nil {
					break
				}
				for _, r := range out.Records {
					checkDecode(t, a, r)
				}
			}
		}
		checkDecode(t, a, protocol.Frame{Data: in})
		checkDecode(t, a, protocol.Frame{Data: in, Binary: true})
	})
}

func checkDecode(t *testing.T, a *Adapter, rec protocol.Frame) {
	rec.Data = bytes.Clone(rec.Data)
	one, two := a.Decode(rec), a.Decode(rec)
	if !reflect.DeepEqual(one, two) {
		t.Fatalf("Decode(%q) not deterministic: %+v vs %+v", rec.Data, one, two)
	}
	if len(one) == 0 {
		t.Fatalf("Decode(%q) gave no event", rec.Data)
	}
}

// FuzzSubscribeEntry reads arbitrary subscribe entries: New never panics.
func FuzzSubscribeEntry(f *testing.F) {
	f.Add(sub1)
	f.Add(`{"query":"subscription R($r: String) { m(room: $r) { text } }","operationName":"R","variables":{"r":"x"}}`)
	f.Add(`subscription Z { m(x: """ \""" { """) } # c`)
	f.Fuzz(func(t *testing.T, entry string) {
		_, _ = New(protocol.Config{Subscribe: []string{entry}})
	})
}
