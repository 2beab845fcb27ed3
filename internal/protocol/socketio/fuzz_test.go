package socketio

import (
	"bytes"
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
)

// FuzzFeed feeds a session arbitrary frames: the input is split at 0xFE
// bytes into frames, a frame starting with 0xFD being binary. The session
// must never panic, and every record it hands on must decode
// deterministically to at least one event.
func FuzzFeed(f *testing.F) {
	seeds := []string{
		open4 + "\xfe40{\"sid\":\"a\"}\xfe40/chat,{\"sid\":\"b\",\"pid\":\"p\"}\xfe42[\"m\",\"hi\",\"off\"]\xfe2",
		open4 + "\xfe40{\"sid\":\"a\"}\xfe451-[\"f\",{\"_placeholder\":true,\"num\":0}]\xfe\xfdbin\xfe4212[\"x\"]",
		open3 + "\xfe40\xfe40/chat,\xfe451-/chat,[\"f\",{\"_placeholder\":true,\"num\":0}]\xfe\xfd\x04bin\xfe3",
		open4 + "\xfe40{\"sid\":\"a\"}\xfe452-[\"f\",{\"_placeholder\":true,\"num\":1}]\xfe\xfda\xfe\xfdb\xfe44{\"message\":\"no\"}",
		"\xfdstray\xfe1\xfe41\xfe6\xfe4hello",
		open4 + "\xfe40{\"sid\":\"a\"}\xfe4256[\"m\"]\xfe42[\"m\"\xfe42/chat,[1,2]\xfe46" + "9999-x",
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, input []byte, eio3 bool) {
		opts := protocol.Options{"events": []any{"m", "f", "x"}}
		if eio3 {
			opts["eio"] = 3.0
		}
		for _, cfg := range []protocol.Config{
			{URL: "ws://h/", Subscribe: []string{"/", "/chat"}, Auth: protocol.Auth{Token: "t"}},
			{URL: "ws://h/", Subscribe: []string{"/chat"}, Options: opts},
		} {
			if eio3 && cfg.Options == nil {
				cfg.Options = protocol.Options{"eio": 3.0}
			}
			a := mustNew(t, cfg)
			s, err := a.Open(context.Background(), &fakeConn{})
			if err != nil {
				t.Fatal(err)
			}
			var out protocol.Output
			for _, fr := range bytes.Split(input, []byte{0xfe}) {
				bin := len(fr) > 0 && fr[0] == 0xfd
				if bin {
					fr = fr[1:]
				}
				out.Reset()
				err := s.Feed(protocol.Frame{Binary: bin, Data: fr}, &out)
				for _, r := range out.Records {
					rec := protocol.Frame{Binary: r.Binary, Data: bytes.Clone(r.Data)}
					evs := a.Decode(rec)
					if len(evs) == 0 {
						t.Fatalf("record %q gave no event", rec.Data)
					}
					if !reflect.DeepEqual(evs, a.Decode(rec)) {
						t.Fatalf("record %q decodes differently twice", rec.Data)
					}
				}
				if s.Ready() {
					s.Heartbeat()
					s.Tick(time.Time{}, &out)
				}
				if err != nil {
					break
				}
			}
		}
	})
}

// FuzzDecode decodes arbitrary records (as text and in containers): never
// a panic, always at least one event, the same events every time.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`42["chat message",{"user":"a","text":"hi"}]`,
		`42/chat,12["m","a","b",null,1.5e3,[{"x":[]}]]`,
		`4hello`,
		`42["m",{"a":"\u00e9\ud83d\ude00"}]`,
		`451-["f",{"_placeholder":true,"num":0},{"k":{"_placeholder":true,"num":0}}]`,
		"\x00SIO\x01\x01\x0a42[\"m\",\"o\"]\x00",
		`42[` + string(bytes.Repeat([]byte("["), 600)),
	} {
		f.Add([]byte(s), false, []byte("att"))
		f.Add([]byte(s), true, []byte("\x00\xff"))
	}
	plain := mustNew(f, protocol.Config{})
	named := mustNew(f, protocol.Config{Options: protocol.Options{"args": []any{"user", "-", "content"}}})
	f.Fuzz(func(t *testing.T, rec []byte, boxed bool, att []byte) {
		frames := []protocol.Frame{{Data: rec}, {Binary: true, Data: rec}}
		if boxed {
			for _, flags := range []byte{0, flagOffset} {
				frames = append(frames, protocol.Frame{Binary: true, Data: appendContainer(nil, container{flags: flags, packet: rec, atts: [][]byte{att, rec}})})
			}
		}
		for _, a := range []*Adapter{plain, named} {
			for _, fr := range frames {
				evs := a.Decode(fr)
				if len(evs) != 1 {
					t.Fatalf("%d events for %q", len(evs), fr.Data)
				}
				if !reflect.DeepEqual(evs, a.Decode(fr)) {
					t.Fatalf("%q decodes differently twice", fr.Data)
				}
			}
		}
	})
}
