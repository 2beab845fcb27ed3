package stomp

import (
	"fmt"
	"slices"
	"testing"

	"github.com/wsmon/wsmon/internal/protocol"
)

// FuzzStomp feeds arbitrary bytes to a connected session, whole and cut
// into chunks (sizes from cuts), over plain WebSocket or SockJS: Feed and
// Decode never panic, the chunking never changes the records, every record
// decodes as a MESSAGE, and Decode is deterministic, also on the raw input.
func FuzzStomp(f *testing.F) {
	f.Add([]byte(message("/topic/chat", "1", `{"user":"a","text":"hi"}`)+"\n"), []byte{3, 9}, false)
	f.Add([]byte("\n\r\nMESSAGE\r\ndestination:/topic/a\\cb\r\n\r\nhi\x00\nRECEIPT\nreceipt-id:1\n\n\x00"), []byte{1}, false)
	f.Add([]byte("MESSAGE\ncontent-length:5\n\na\x00b\x00c\x00MESSAGE\n\n\x00"), []byte{7, 1, 2}, false)
	f.Add([]byte("ERROR\nmessage:Access refused\n\n\x00"), []byte{}, false)
	f.Add([]byte(sockjsArrayOf(message("/topic/chat", "1", "你好"), "\n")), []byte{}, true)
	f.Add([]byte("h"), []byte{}, true)
	m := message("/topic/chat", "1", "one")
	f.Add([]byte(sockjsArrayOf(m[:10], m[10:]+m[:5], m[5:])), []byte{}, true)
	f.Add([]byte(`c[3000,"Go away!"]`), []byte{}, true)
	f.Fuzz(func(t *testing.T, data, cuts []byte, sockjs bool) {
		a := mustNew(t, protocol.Config{Options: protocol.Options{"sockjs": sockjs, "ack": "client", "user_header": "x-user"}})
		run := func(chunks [][]byte) ([]string, error) {
			s, _ := open(t, a)
			var out protocol.Output
			if sockjs {
				if err := s.Feed(protocol.Frame{Data: []byte("o")}, &out); err != nil {
					t.Fatal(err)
				}
				out.Reset()
				if err := s.Feed(protocol.Frame{Data: []byte(sockjsArrayOf(connected12))}, &out); err != nil {
					t.Fatal(err)
				}
			} else if err := s.Feed(protocol.Frame{Data: []byte(connected12)}, &out); err != nil {
				t.Fatal(err)
			}
			var recs []string
			for _, c := range chunks {
				out.Reset()
				err := s.Feed(protocol.Frame{Data: c}, &out)
				for _, r := range out.Records {
					recs = append(recs, string(r.Data))
				}
				if err != nil {
					return recs, err
				}
			}
			return recs, nil
		}
		whole, errWhole := run([][]byte{data})
		var chunks [][]byte
		if sockjs {
			chunks = [][]byte{data} // a SockJS frame is whole by definition
		} else {
			rest := data
			for _, c := range cuts {
				n := min(int(c)%16+1, len(rest))
				chunks = append(chunks, rest[:n])
				rest = rest[n:]
			}
			if len(rest) > 0 {
				chunks = append(chunks, rest)
			}
		}
		cut, errCut := run(chunks)
		if errWhole == nil && errCut == nil && !slices.Equal(whole, cut) {
			t.Fatalf("records whole %q, chunked %q", whole, cut)
		}
		if !slices.Equal(whole[:min(len(whole), len(cut))], cut[:min(len(whole), len(cut))]) {
			t.Fatalf("records whole %q, chunked %q (errors %v, %v)", whole, cut, errWhole, errCut)
		}
		if sockjs {
			// The messages of a SockJS array are the STOMP stream: a plain
			// session fed them one per frame records the same.
			if kind, msgs, err := parseSockJS(data); err == nil && kind == sockjsArray && errWhole == nil {
				plain := mustNew(t, protocol.Config{Options: protocol.Options{"ack": "client", "user_header": "x-user"}})
				ps, _ := open(t, plain)
				var out protocol.Output
				if err := ps.Feed(protocol.Frame{Data: []byte(connected12)}, &out); err != nil {
					t.Fatal(err)
				}
				var recs []string
				var perr error
				for _, m := range msgs {
					out.Reset()
					perr = ps.Feed(protocol.Frame{Data: []byte(m)}, &out)
					for _, r := range out.Records {
						recs = append(recs, string(r.Data))
					}
					if perr != nil {
						break
					}
				}
				if perr == nil && !slices.Equal(recs, whole) {
					t.Fatalf("SockJS records %q, plain %q", whole, recs)
				}
			}
		}
		for _, r := range whole {
			evs := a.Decode(protocol.Frame{Data: []byte(r)})
			if len(evs) != 1 || evs[0].Reason != "" {
				t.Fatalf("record %q decodes to %v", r, evs)
			}
		}
		d1 := a.Decode(protocol.Frame{Data: data})
		d2 := a.Decode(protocol.Frame{Data: slices.Clone(data)})
		if fmt.Sprint(d1) != fmt.Sprint(d2) {
			t.Fatalf("Decode not deterministic: %v, %v", d1, d2)
		}
	})
}

// FuzzCompose: for any reply text and room, Compose never panics; a reply
// is one SEND that, delivered as the MESSAGE a broker makes of it (the
// same headers and body), the session records and Decode reads as the
// echo Compose returned.
func FuzzCompose(f *testing.F) {
	f.Add("hi", "/topic/chat", "1.2")
	f.Add("a\x00b\n\nc", "", "1.0")
	f.Add(`{"text":"收到"}`, "/topic/other", "1.1")
	f.Fuzz(func(t *testing.T, text, room, version string) {
		if version != "1.0" && version != "1.1" {
			version = "1.2"
		}
		a := mustNew(t, protocol.Config{Subscribe: []string{"/topic/chat", "/topic/other"}})
		s := connect(t, a, "CONNECTED\nversion:"+version+"\n\n\x00")
		var out protocol.Output
		echo, err := s.Compose(text, room, &out)
		if err != nil || len(out.Replies) != 1 || string(echo.Payload) != text {
			t.Fatalf("Compose: %v, %d frames, echo %+v", err, len(out.Replies), echo)
		}
		msg := "MESSAGE" + string(out.Replies[0].Data[len("SEND"):])
		back, err := feed(t, s, msg)
		if err != nil || len(back.Records) != 1 {
			t.Fatalf("the delivery %q: %v, %+v", msg, err, back)
		}
		ev := a.Decode(back.Records[0])[0]
		if fmt.Sprint(ev.Room, ev.Payload, ev.Text, ev.Binary) != fmt.Sprint(echo.Room, echo.Payload, echo.Text, echo.Binary) {
			t.Fatalf("echo %s, the delivery decodes to %s", show(echo), show(ev))
		}
	})
}
