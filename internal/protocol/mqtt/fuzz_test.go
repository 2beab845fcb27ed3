package mqtt

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/wsmon/wsmon/internal/protocol"
)

// FuzzMQTT feeds arbitrary bytes to a connected session, whole and cut into
// chunks (sizes from cuts), as MQTT 3.1.1 or 5: Feed and Decode never
// panic, the chunking never changes the records, every record decodes as a
// PUBLISH with a topic, and Decode is deterministic, also on the raw input.
func FuzzMQTT(f *testing.F) {
	f.Add(pub(0, "chat/a", 0, nil, `{"user":"a","text":"hi"}`), []byte{3, 9}, false)
	f.Add(cat(pub(1, "chat/a", 1, nil, "x"), []byte{0xd0, 0}, pub(2, "chat/b", 2, nil, "y"), []byte{0x62, 2, 0, 2}), []byte{1, 1, 1}, false)
	f.Add(cat(suback(false, 1, 0x80)), []byte{}, false)
	f.Add(cat(pub(0, "chat/a", 0, cat(u16Prop(propTopicAlias, 1), strProp(propContentType, "text/plain")), "set"),
		pub(0, "", 0, u16Prop(propTopicAlias, 1), "use")), []byte{5}, true)
	f.Add(cat([]byte{0xe0, 1, 0x8e}), []byte{}, true)
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0x7f}, []byte{}, true)
	f.Fuzz(func(t *testing.T, data, cuts []byte, v5 bool) {
		opts := protocol.Options{"qos": 1.0}
		if v5 {
			opts["version"], opts["user_property"] = 5.0, "sender"
		}
		a := mustNew(t, protocol.Config{Subscribe: []string{"chat/#", "other"}, Options: opts})
		run := func(chunks [][]byte) ([][]byte, error) {
			s, _ := open(t, a)
			var out protocol.Output
			if err := s.Feed(protocol.Frame{Binary: true, Data: connack(v5, 0)}, &out); err != nil {
				t.Fatal(err)
			}
			var recs [][]byte
			for _, c := range chunks {
				out.Reset()
				err := s.Feed(protocol.Frame{Binary: true, Data: c}, &out)
				for _, r := range out.Records {
					recs = append(recs, slices.Clone(r.Data))
				}
				if err != nil {
					return recs, err
				}
			}
			return recs, nil
		}
		whole, errWhole := run([][]byte{data})
		var chunks [][]byte
		rest := data
		for _, c := range cuts {
			n := min(int(c)%16+1, len(rest))
			chunks = append(chunks, rest[:n])
			rest = rest[n:]
		}
		if len(rest) > 0 {
			chunks = append(chunks, rest)
		}
		cut, errCut := run(chunks)
		n := min(len(whole), len(cut))
		if errWhole == nil && errCut == nil && len(whole) != len(cut) || !slices.EqualFunc(whole[:n], cut[:n], bytes.Equal) {
			t.Fatalf("records whole %q, chunked %q (errors %v, %v)", whole, cut, errWhole, errCut)
		}
		for _, r := range whole {
			evs := a.Decode(protocol.Frame{Binary: true, Data: r})
			if len(evs) != 1 || evs[0].Reason != "" || evs[0].Room == "" {
				t.Fatalf("record % x decodes to %v", r, evs)
			}
		}
		d1 := a.Decode(protocol.Frame{Binary: true, Data: data})
		d2 := a.Decode(protocol.Frame{Binary: true, Data: slices.Clone(data)})
		if fmt.Sprint(d1) != fmt.Sprint(d2) {
			t.Fatalf("Decode not deterministic: %v, %v", d1, d2)
		}
	})
}

// FuzzCompose: for any reply text and room, Compose never panics; a reply
// it writes is one PUBLISH that the session takes back as a record whose
// event is the echo Compose returned, its payload the text.
func FuzzCompose(f *testing.F) {
	f.Add("hi", "chat/a", false)
	f.Add(`{"user":"bot","text":"收到"}`, "", true)
	f.Add("x", "chat/+", false)
	f.Add("", "\x00", true)
	f.Fuzz(func(t *testing.T, text, room string, v5 bool) {
		opts := protocol.Options{}
		if v5 {
			opts["version"] = 5.0
		}
		a := mustNew(t, protocol.Config{Subscribe: []string{"chat/#", "other"}, Options: opts})
		s := connect(t, a)
		var out protocol.Output
		echo, err := s.Compose(text, room, &out)
		if err != nil {
			if len(out.Replies) != 0 {
				t.Fatalf("Compose failed (%v) but wrote %d frames", err, len(out.Replies))
			}
			return
		}
		if len(out.Replies) != 1 || string(echo.Payload) != text {
			t.Fatalf("Compose wrote %d frames, echo %+v", len(out.Replies), echo)
		}
		var back protocol.Output
		if err := s.Feed(out.Replies[0], &back); err != nil || len(back.Records) != 1 {
			t.Fatalf("the PUBLISH fed back: %v, %+v", err, back)
		}
		if ev := a.Decode(back.Records[0])[0]; fmt.Sprint(ev) != fmt.Sprint(echo) {
			t.Fatalf("echo %v, the record decodes to %v", echo, ev)
		}
	})
}
