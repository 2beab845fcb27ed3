package centrifugo

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/wsmon/wsmon/internal/protocol"
)

// FuzzCentrifugo feeds arbitrary frames to a connected session: it never
// panics, every record it hands on decodes without complaint, and Decode
// is deterministic on any input (records come back from the journal).
func FuzzCentrifugo(f *testing.F) {
	f.Add([]byte(`{"id":2,"subscribe":{"epoch":"E","offset":3,"publications":[{"data":"a","offset":4}]}}` + "\n{}\n" +
		`{"push":{"channel":"a","pub":{"data":{"text":"x"},"offset":5}}}`))
	f.Add([]byte(`{"push":{"channel":"a","join":{"info":{"user":"1","client":"z"}}}}`))
	f.Add([]byte(`{"push":{"message":{"data":"hi"}}}` + "\r\n" + `{"push":{"channel":"b","unsubscribe":{"code":2500}}}`))
	f.Add([]byte("#{\"channel\":\"a\"}\n{\"id\":2,\"subscribe\":{\"publications\":[{\"data\":1}]}}"))
	f.Add([]byte(`{"id":3,"error":{"code":103,"message":"permission denied"}}`))
	a := mustNew(f, protocol.Config{Subscribe: []string{"a", "b"}})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newSession(a)
		var out protocol.Output
		if err := s.Feed(protocol.Frame{Data: []byte(connectOK)}, &out); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		_ = s.Feed(protocol.Frame{Data: data}, &out)
		for _, r := range out.Records {
			for _, ev := range a.Decode(r) {
				if ev.Reason != "" {
					t.Fatalf("record %q decodes with reason %q", r.Data, ev.Reason)
				}
			}
		}
		e1 := a.Decode(protocol.Frame{Data: data})
		e2 := a.Decode(protocol.Frame{Data: bytes.Clone(data)})
		if !reflect.DeepEqual(e1, e2) || len(e1) == 0 {
			t.Fatalf("Decode not deterministic: %+v vs %+v", e1, e2)
		}
	})
}
