package capture

import (
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestFramesInOrderTextAndBinary(t *testing.T) {
	const n = 200
	clientClose := make(chan int, 1)
	_, u := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		for i := range n {
			c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, "m%03d", i))
		}
		c.WriteMessage(websocket.BinaryMessage, []byte{0, 1, 2, 0xff})
		clientClose <- drain(c)
		c.Close()
	})
	sink := &recSink{}
	rn := start(t, Options{URL: u}, sink)
	waitFor(t, patience, "all frames", func() bool { return sink.count("frame") == n+1 })

	st := rn.r.Status()
	if st.State != StateConnected || st.Session != 1 || st.Frames != n+1 || st.LastMessageAt.IsZero() {
		t.Errorf("status while connected = %+v", st)
	}
	frames := sink.of("frame")
	for i := range n {
		if want := fmt.Sprintf("m%03d", i); frames[i].data != want || frames[i].binary || frames[i].reason != "" {
			t.Fatalf("frame %d = %+v, want text %q", i, frames[i], want)
		}
	}
	if last := frames[n]; !last.binary || last.data != "\x00\x01\x02\xff" {
		t.Errorf("binary frame = %+v", last)
	}

	if err := rn.stop(t); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	if code := <-clientClose; code != websocket.CloseNormalClosure {
		t.Errorf("server saw close code %d, want 1000", code)
	}
	ends := sink.of("end")
	if len(ends) != 1 || ends[0].code != 1000 || ends[0].frames != n+1 || ends[0].errText != "" {
		t.Errorf("session ends = %+v", ends)
	}
	if st := rn.r.Status(); st.State != StateStopped || st.TotalFrames != n+1 {
		t.Errorf("status after stop = %+v", st)
	}
}

func TestOversizedFrameIsTruncatedAndConnectionStays(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compression=%v", compress), func(t *testing.T) {
			negotiated := make(chan bool, 1)
			_, u := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
				c, err := (&websocket.Upgrader{EnableCompression: compress}).Upgrade(w, r, nil)
				if err != nil {
					return
				}
				negotiated <- strings.Contains(r.Header.Get("Sec-Websocket-Extensions"), "permessage-deflate")
				c.EnableWriteCompression(compress)
				c.WriteMessage(websocket.TextMessage, []byte("small"))
				c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 100_000)))
				c.WriteMessage(websocket.BinaryMessage, []byte(strings.Repeat("y", 17)))
				c.WriteMessage(websocket.TextMessage, []byte("after"))
				drain(c)
			})
			sink := &recSink{}
			start(t, Options{URL: u, ReadLimit: 16}, sink)
			waitFor(t, patience, "4 frames", func() bool { return sink.count("frame") == 4 })
			if !<-negotiated {
				t.Error("client did not offer permessage-deflate")
			}
			f := sink.of("frame")
			want := []event{
				{data: "small"},
				{data: strings.Repeat("x", 16), reason: ReasonTooLarge},
				{data: strings.Repeat("y", 16), reason: ReasonTooLarge, binary: true},
				{data: "after"},
			}
			for i, w := range want {
				if f[i].data != w.data || f[i].reason != w.reason || f[i].binary != w.binary || f[i].session != 1 {
					t.Errorf("frame %d = %+v, want %+v", i, f[i], w)
				}
			}
			if n := sink.count("start"); n != 1 {
				t.Errorf("%d sessions, want 1 (connection must stay up)", n)
			}
		})
	}
}

func TestHeadersAndSubprotocolsReachServer(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string]string
		wantUA  string
	}{
		{"default user agent", map[string]string{"Authorization": "Bearer s3cret", "cookie": "sid=t0ken", "Origin": "https://chat.example", "X-Room": "42"}, "wsmon/1.2.3"},
		{"configured user agent", map[string]string{"User-Agent": "custom/9", "Authorization": "Bearer s3cret"}, "custom/9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type seen struct {
				header http.Header
				protos []string
				chosen string
			}
			got := make(chan seen, 1)
			_, u := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
				up := websocket.Upgrader{Subprotocols: []string{"adapter.v1"}, CheckOrigin: func(*http.Request) bool { return true }}
				c, err := up.Upgrade(w, r, nil)
				if err != nil {
					return
				}
				got <- seen{r.Header.Clone(), websocket.Subprotocols(r), c.Subprotocol()}
				drain(c)
			})
			logs := &syncBuffer{}
			sink := &recSink{}
			start(t, Options{
				URL: u + "/chat?token=qs-secret", Headers: tt.headers, Version: "1.2.3",
				Subprotocols: []string{"chat.v2", "adapter.v1"},
				Adapter:      &testAdapter{subprotocols: []string{"adapter.v1", "extra.v1"}},
				Logger:       testLogger(t, logs),
			}, sink)
			var s seen
			select {
			case s = <-got:
			case <-time.After(patience):
				t.Fatalf("no connection; logs:\n%s", logs)
			}
			for k, v := range tt.headers {
				if k == "User-Agent" {
					continue
				}
				if s.header.Get(k) != v {
					t.Errorf("server got %s = %q, want %q", k, s.header.Get(k), v)
				}
			}
			if ua := s.header.Get("User-Agent"); ua != tt.wantUA {
				t.Errorf("User-Agent = %q, want %q", ua, tt.wantUA)
			}
			if want := []string{"chat.v2", "adapter.v1", "extra.v1"}; strings.Join(s.protos, ",") != strings.Join(want, ",") {
				t.Errorf("offered subprotocols %v, want %v", s.protos, want)
			}
			if s.chosen != "adapter.v1" {
				t.Errorf("negotiated %q", s.chosen)
			}
			waitFor(t, patience, "session start", func() bool { return sink.count("start") == 1 })
			if url := sink.of("start")[0].url; !strings.HasSuffix(url, "/chat?token=qs-secret") {
				t.Errorf("session url = %q", url)
			}
			for _, secret := range []string{"s3cret", "t0ken", "qs-secret"} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("logs contain %q:\n%s", secret, logs)
				}
			}
		})
	}
}

func TestReconnectRunsHandshakeAndRecordsSessions(t *testing.T) {
	var conns atomic.Int32
	_, u := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		n := conns.Add(1)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		for _, want := range []string{"sub:room1", "sub:room2"} {
			if _, m, err := c.ReadMessage(); err != nil || string(m) != want {
				c.Close()
				return
			}
		}
		c.WriteMessage(websocket.TextMessage, []byte("ok")) // handshake reply, not recorded
		c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, "data-%d", n))
		serverClose(c, websocket.CloseGoingAway, "restart")
	})
	sink := &recSink{}
	ad := &testAdapter{send: []string{"sub:room1", "sub:room2"}, expect: "ok"}
	rn := start(t, Options{URL: u, Adapter: ad}, sink)
	waitFor(t, patience, "3 ended sessions", func() bool { return sink.count("end") >= 3 })

	if h := ad.handshakes.Load(); h < 3 {
		t.Errorf("handshakes = %d, want >= 3 (one per connection)", h)
	}
	for i, e := range sink.of("end")[:3] {
		if e.session != int64(i+1) || e.code != websocket.CloseGoingAway || e.closeReason != "restart" || e.frames != 1 || e.errText != "" {
			t.Errorf("session end %d = %+v", i, e)
		}
	}
	for i, f := range sink.of("frame")[:3] {
		if want := fmt.Sprintf("data-%d", i+1); f.data != want || f.session != int64(i+1) {
			t.Errorf("frame %d = %+v, want %q in session %d", i, f, want, i+1)
		}
	}
	if st := rn.r.Status(); st.Reconnects < 2 || !strings.Contains(st.LastError, "1001") {
		t.Errorf("status = %+v", st)
	}
}

func TestTerminalRefusalStops(t *testing.T) {
	tests := []struct {
		name       string
		code       int // close code sent after upgrade; 0 = HTTP status instead
		status     int
		inHandshke bool
		wantErr    string
	}{
		{name: "4401", code: 4401, wantErr: "server closed with 4401 (unauthorised): token expired; not reconnecting"},
		{name: "4403", code: 4403, wantErr: "server closed with 4403 (forbidden): token expired; not reconnecting"},
		{name: "1008", code: 1008, wantErr: "server closed with 1008 (policy violation): token expired; not reconnecting"},
		{name: "4401 during handshake", code: 4401, inHandshke: true, wantErr: "4401 (unauthorised)"},
		{name: "HTTP 401", status: 401, wantErr: "server refused the upgrade with HTTP 401 (unauthorised); not reconnecting"},
		{name: "HTTP 403", status: 403, wantErr: "server refused the upgrade with HTTP 403 (forbidden); not reconnecting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hits atomic.Int32
			_, u := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				if tt.status != 0 {
					http.Error(w, "bad token", tt.status)
					return
				}
				c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
				if err != nil {
					return
				}
				if !tt.inHandshke {
					c.WriteMessage(websocket.TextMessage, []byte("hello"))
				}
				serverClose(c, tt.code, "token expired")
			})
			sink := &recSink{}
			ad := &testAdapter{}
			if tt.inHandshke {
				ad.expect = "welcome"
			}
			rn := start(t, Options{URL: u, Adapter: ad}, sink)
			err := rn.wait(t, patience)
			var se *StopError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run = %v, want StopError containing %q", err, tt.wantErr)
			}
			if h := hits.Load(); h != 1 {
				t.Errorf("%d connection attempts, want 1 (no reconnect)", h)
			}
			if st := rn.r.Status(); st.State != StateStopped || st.LastError != err.Error() {
				t.Errorf("status = %+v", st)
			}
			wantSessions := 1
			if tt.status != 0 {
				wantSessions = 0
			}
			ends := sink.of("end")
			if len(ends) != wantSessions || sink.count("start") != wantSessions {
				t.Fatalf("sessions = %+v, want %d", sink.events, wantSessions)
			}
			if wantSessions == 1 && ends[0].code != tt.code {
				t.Errorf("session end code = %d, want %d", ends[0].code, tt.code)
			}
		})
	}
}

func TestTryAgainLaterBacksOffToCap(t *testing.T) {
	var conns atomic.Int32
	_, u := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		if conns.Add(1) == 1 {
			serverClose(c, websocket.CloseTryAgainLater, "busy")
			return
		}
		drain(c)
	})
	sink := &recSink{}
	start(t, Options{URL: u, ReconnectInterval: 5 * time.Millisecond, ReconnectMax: 400 * time.Millisecond}, sink)
	waitFor(t, patience, "second session", func() bool { return sink.count("start") == 2 })
	gap := sink.of("start")[1].at.Sub(sink.of("end")[0].at)
	if gap < 190*time.Millisecond {
		t.Errorf("reconnected %s after close 1013, want >= ReconnectMax/2", gap)
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	_, httpErr := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	tests := []struct {
		name    string
		url     string
		max     int
		wantErr string
	}{
		{"closed port", closedPortURL(t), 3, "gave up after 3 attempts: dial:"},
		{"HTTP 500", httpErr, 2, "gave up after 2 attempts: upgrade refused: HTTP 500 Internal Server Error: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &recSink{}
			rn := start(t, Options{URL: tt.url, MaxReconnectAttempts: tt.max}, sink)
			err := rn.wait(t, patience)
			var ge *GaveUpError
			if !errors.As(err, &ge) || ge.Attempts != tt.max || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("Run = %v, want GaveUpError %q", err, tt.wantErr)
			}
			if st := rn.r.Status(); st.Reconnects != tt.max-1 || st.LastError == "" || st.State != StateStopped {
				t.Errorf("status = %+v", st)
			}
			if len(sink.events) != 0 {
				t.Errorf("failed dials recorded as sessions: %+v", sink.events)
			}
		})
	}
}

func TestCancelDuringBackoffReturnsNil(t *testing.T) {
	rn := start(t, Options{URL: closedPortURL(t), ReconnectInterval: 10 * time.Second, ReconnectMax: 10 * time.Second}, &recSink{})
	waitFor(t, patience, "disconnected", func() bool { return rn.r.Status().State == StateDisconnected })
	if err := rn.stop(t); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
}

func TestDeadConnectionDetected(t *testing.T) {
	// A silent server is declared dead after pongTimeout (not before; how
	// much later depends on the machine). A server answering pings is
	// kept, with a timeout long enough that a busy machine's late pongs do
	// not end it.
	tests := []struct {
		name        string
		silent      bool // server neither reads nor writes after the upgrade
		wantDead    bool
		pongTimeout time.Duration
	}{
		{"silent server", true, true, 200 * time.Millisecond},
		{"server answering pings", false, false, time.Second},
	}
	for _, tt := range tests {
		pongTimeout := tt.pongTimeout
		t.Run(tt.name, func(t *testing.T) {
			done := testDone(t)
			_, u := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
				c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
				if err != nil {
					return
				}
				defer c.Close()
				if tt.silent {
					<-done // hold the socket open, say nothing, read nothing
					return
				}
				drain(c)
			})
			sink := &recSink{}
			rn := start(t, Options{URL: u, PingInterval: 40 * time.Millisecond, PongTimeout: pongTimeout}, sink)
			if !tt.wantDead {
				waitFor(t, patience, "connected", func() bool { return rn.r.Status().State == StateConnected })
				time.Sleep(3 * pongTimeout)
				if n, st := sink.count("end"), rn.r.Status(); n != 0 || st.State != StateConnected {
					t.Fatalf("live connection dropped: ends=%d status=%+v", n, st)
				}
				return
			}
			waitFor(t, patience, "reconnect", func() bool { return sink.count("start") >= 2 })
			start1, end1 := sink.of("start")[0], sink.of("end")[0]
			if up := end1.at.Sub(start1.at); up < pongTimeout*3/4 {
				t.Errorf("dead connection declared after %s, before the pong timeout %s", up, pongTimeout)
			}
			if end1.code != websocket.CloseAbnormalClosure || !strings.Contains(end1.errText, "connection dead") {
				t.Errorf("session end = %+v", end1)
			}
		})
	}
}

func TestWSSWithCustomCA(t *testing.T) {
	srv, u := newServer(t, true, func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c.WriteMessage(websocket.TextMessage, []byte("secure hello"))
		drain(c)
	})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		caFile   string
		insecure bool
		wantErr  string // "" = frame arrives
	}{
		{"custom CA", caFile, false, ""},
		{"no CA", "", false, "certificate"},
		{"insecure skip verify", "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &recSink{}
			rn := start(t, Options{URL: u, CAFile: tt.caFile, InsecureSkipVerify: tt.insecure, MaxReconnectAttempts: 1}, sink)
			if tt.wantErr != "" {
				err := rn.wait(t, patience)
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Run = %v, want error containing %q", err, tt.wantErr)
				}
				return
			}
			waitFor(t, patience, "frame over wss", func() bool { return sink.count("frame") == 1 })
			if f := sink.of("frame")[0]; f.data != "secure hello" {
				t.Errorf("frame = %+v", f)
			}
		})
	}
}

func TestPingsAnsweredWhileSinkIsSlow(t *testing.T) {
	const frames = 60
	var pings, pongs atomic.Int32
	done := testDone(t)
	_, u := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetPongHandler(func(string) error { pongs.Add(1); return nil })
		go drain(c)
		var wmu sync.Mutex // server side: one data writer at a time
		go func() {
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					if c.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second)) != nil {
						return
					}
					pings.Add(1)
				}
			}
		}()
		for i := range frames {
			wmu.Lock()
			c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, "m%d", i))
			wmu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
		<-done
	})
	sink := &recSink{frameDelay: 5 * time.Millisecond}
	start(t, Options{URL: u, PongTimeout: 2 * time.Second}, sink)
	waitFor(t, patience, "all frames through the slow sink", func() bool { return sink.count("frame") == frames })
	if p := pongs.Load(); p < 10 {
		t.Errorf("server saw %d pongs while the sink was busy (%d pings)", p, pings.Load())
	}
	waitFor(t, patience, "every ping answered", func() bool { return pongs.Load() >= pings.Load()-1 })
	if n := sink.count("start"); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
}

func TestInterceptRepliesAndHeartbeats(t *testing.T) {
	got := make(chan string, 100)
	_, u := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c.WriteMessage(websocket.TextMessage, []byte("app-ping"))
		c.WriteMessage(websocket.TextMessage, []byte("chat"))
		for {
			typ, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			got <- fmt.Sprintf("%d:%s", typ, m)
		}
	})
	sink := &recSink{}
	ad := &testAdapter{hbEvery: 20 * time.Millisecond, hbPayload: []byte("hb")}
	start(t, Options{URL: u, Adapter: ad}, sink)
	seen := map[string]int{}
	timeout := time.After(patience)
	for seen["1:app-pong"] < 1 || seen["1:hb"] < 2 {
		select {
		case m := <-got:
			seen[m]++
		case <-timeout:
			t.Fatalf("server got %v, want an app-pong and heartbeats", seen)
		}
	}
	waitFor(t, patience, "chat frame", func() bool { return sink.count("frame") == 1 })
	if f := sink.of("frame"); f[0].data != "chat" {
		t.Errorf("recorded %+v; the intercepted app-ping must not be recorded", f)
	}
}

func TestSinkErrorEndsSessionAndReconnects(t *testing.T) {
	_, u := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c.WriteMessage(websocket.TextMessage, []byte("one"))
		drain(c)
	})
	sink := &recSink{failFrame: 1}
	start(t, Options{URL: u}, sink)
	waitFor(t, patience, "second session's frame", func() bool { return sink.count("frame") == 1 })
	end := sink.of("end")[0]
	if end.code != websocket.CloseAbnormalClosure || !strings.Contains(end.errText, "sink: disk full") || end.frames != 0 {
		t.Errorf("session end = %+v", end)
	}
}

// TestDroppedFramesKeepTheSession: a sink that reports ErrDropped (its
// journal cannot write) does not end the session; dropped frames are not
// counted as journaled but as dropped.
func TestDroppedFramesKeepTheSession(t *testing.T) {
	const n = 50
	_, u := newServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		for i := range n {
			c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, "m%d", i))
		}
		drain(c)
	})
	sink := &recSink{dropFrames: 11}
	rn := start(t, Options{URL: u}, sink)
	waitFor(t, patience, "the dropped frames", func() bool { return rn.r.Status().TotalDropped == n-10 })
	st := rn.r.Status()
	if st.State != StateConnected || st.Session != 1 || st.Frames != 10 || st.TotalFrames != 10 {
		t.Errorf("status = %+v", st)
	}
	if err := rn.stop(t); err != nil {
		t.Fatal(err)
	}
	if ends := sink.of("end"); len(ends) != 1 || ends[0].errText != "" || ends[0].frames != 10 {
		t.Errorf("session ends = %+v", ends)
	}
}

func TestConfigErrorsReturnAtOnce(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"http scheme", Options{URL: "http://127.0.0.1:1/"}, "scheme must be ws or wss"},
		{"missing CA file", Options{URL: "wss://127.0.0.1:1/", CAFile: "/nonexistent/ca.pem"}, "ca file"},
		{"reserved header", Options{URL: "ws://127.0.0.1:1/", Headers: map[string]string{"connection": "x"}}, "header Connection"},
		{"user info", Options{URL: "ws://u:p@127.0.0.1:1/"}, "user info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rn := start(t, tt.opts, &recSink{})
			if err := rn.wait(t, patience); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestReconnectReasons: each way a connection ends is counted under its
// reason in Status.ReconnectsByReason.
func TestReconnectReasons(t *testing.T) {
	upgrade := func(w http.ResponseWriter, r *http.Request) *websocket.Conn {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return nil
		}
		return c
	}
	for _, c := range []struct {
		reason  string
		opts    Options
		handler http.HandlerFunc
	}{
		{ReasonServerClose, Options{}, func(w http.ResponseWriter, r *http.Request) {
			if c := upgrade(w, r); c != nil {
				serverClose(c, websocket.CloseGoingAway, "restart")
			}
		}},
		{ReasonDropped, Options{}, func(w http.ResponseWriter, r *http.Request) {
			if c := upgrade(w, r); c != nil {
				c.WriteMessage(websocket.TextMessage, []byte("hello"))
				time.Sleep(50 * time.Millisecond) // the session is up
				c.UnderlyingConn().Close()        // no close frame
			}
		}},
		{ReasonDial, Options{}, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusInternalServerError) }},
		{ReasonHandshake, Options{Adapter: &testAdapter{expect: "never sent"}, HandshakeTimeout: 100 * time.Millisecond}, func(w http.ResponseWriter, r *http.Request) {
			if c := upgrade(w, r); c != nil {
				drain(c)
			}
		}},
		{ReasonDead, Options{PingInterval: 50 * time.Millisecond, PongTimeout: 200 * time.Millisecond}, func(w http.ResponseWriter, r *http.Request) {
			if c := upgrade(w, r); c != nil {
				time.Sleep(time.Second) // reads nothing: no pong
				c.Close()
			}
		}},
	} {
		t.Run(c.reason, func(t *testing.T) {
			_, u := newServer(t, false, c.handler)
			c.opts.URL = u
			rn := start(t, c.opts, &recSink{})
			waitFor(t, patience, "two reconnects for "+c.reason, func() bool {
				st := rn.r.Status()
				if st.Reconnects > 5 && st.ReconnectsByReason[c.reason] == 0 {
					t.Fatalf("reconnects counted as %v", st.ReconnectsByReason)
				}
				return st.ReconnectsByReason[c.reason] >= 2
			})
			st := rn.r.Status()
			for reason, n := range st.ReconnectsByReason {
				if reason != c.reason {
					t.Errorf("%d reconnects counted as %s", n, reason)
				}
			}
		})
	}
}
