package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wireMsg is the demo wire format as a client decodes it.
type wireMsg struct {
	ID        string `json:"id"`
	Seq       int64  `json:"seq"`
	Type      string `json:"type"`
	User      string `json:"user"`
	Room      string `json:"room"`
	Content   string `json:"content"`
	Timestamp int64  `json:"timestamp"`
}

// startServer starts a server on a free loopback port, closed at cleanup.
func startServer(t testing.TB, opts Options) *Server {
	t.Helper()
	opts.Addr = "127.0.0.1:0"
	s := New(opts)
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// dial connects a plain gorilla client and waits until the server has
// registered it (the handshake completes slightly before registration).
// Cleanups run in reverse, so clients close before their server.
func dial(t testing.TB, s *Server) *websocket.Conn {
	t.Helper()
	before := s.Clients()
	c, _, err := websocket.DefaultDialer.Dial(s.URL(), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", s.URL(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	waitFor(t, "client registered", func() bool { return s.Clients() > before })
	return c
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// readRaw reads one frame with a deadline.
func readRaw(t testing.TB, c *websocket.Conn) (int, []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, data
}

func readMsg(t testing.TB, c *websocket.Conn) wireMsg {
	t.Helper()
	typ, data := readRaw(t, c)
	if typ != websocket.TextMessage {
		t.Fatalf("frame type %d, want text", typ)
	}
	var m wireMsg
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("decode %q: %v", data, err)
	}
	return m
}

// readClose reads until the connection ends and returns the close error.
func readClose(t testing.TB, c *websocket.Conn) *websocket.CloseError {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("connection ended with %v, want a close frame", err)
		}
		return ce
	}
}

func httpBase(s *Server) string {
	u := strings.TrimPrefix(s.URL(), "ws://")
	return "http://" + u[:strings.IndexByte(u, '/')]
}

func TestSimulatedTraffic(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{Rate: 2000, Seed: 7})
	c := dial(t, s)

	seen := map[string]int{}
	ids := map[string]bool{}
	var prev int64
	for i := 0; i < 3000 && (seen[typeJoin] == 0 || seen[typeLeave] == 0 || seen[typeSystem] == 0 || seen[typeChat] < 100); i++ {
		typ, raw := readRaw(t, c)
		if typ != websocket.TextMessage || !bytes.HasPrefix(raw, []byte(`{"id":"`)) {
			t.Fatalf("unexpected frame %d %q", typ, raw)
		}
		var m wireMsg
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("decode %q: %v", raw, err)
		}
		if prev != 0 && m.Seq != prev+1 {
			t.Fatalf("seq %d after %d, want consecutive", m.Seq, prev)
		}
		prev = m.Seq
		if ids[m.ID] {
			t.Fatalf("duplicate id %q", m.ID)
		}
		ids[m.ID] = true
		if m.User == "" || m.Room == "" || m.Content == "" {
			t.Fatalf("empty field in %q", raw)
		}
		if d := time.Since(time.UnixMilli(m.Timestamp)); d < -time.Minute || d > time.Minute {
			t.Fatalf("timestamp %d is not now", m.Timestamp)
		}
		seen[m.Type]++
	}
	for _, typ := range []string{typeChat, typeJoin, typeLeave, typeSystem} {
		if seen[typ] == 0 {
			t.Errorf("no %q message in %v", typ, seen)
		}
	}
	if len(seen) != 4 {
		t.Errorf("unexpected types: %v", seen)
	}
	if s.LastSeq() < prev {
		t.Errorf("LastSeq %d < received %d", s.LastSeq(), prev)
	}
}

func TestHistoryReplay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		replay  int
		wantOld int // replayed messages a late client receives after 8 were sent
	}{
		{"off", 0, 0},
		{"last 5", 5, 5},
		{"more than sent", 20, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, Options{HistoryReplay: tt.replay, Seed: 3})
			early := dial(t, s)
			if err := s.Burst(8); err != nil {
				t.Fatal(err)
			}
			var sent [][]byte
			for range 8 {
				_, raw := readRaw(t, early)
				sent = append(sent, raw)
			}

			late := dial(t, s)
			for i := range tt.wantOld {
				_, raw := readRaw(t, late)
				if want := sent[8-tt.wantOld+i]; !bytes.Equal(raw, want) {
					t.Fatalf("replayed frame %d = %q, want the original bytes %q", i, raw, want)
				}
			}
			if err := s.Burst(1); err != nil {
				t.Fatal(err)
			}
			if m := readMsg(t, late); m.Seq != 9 {
				t.Fatalf("after replay got seq %d, want 9", m.Seq)
			}
		})
	}
}

func TestDropEvery(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{DropEvery: 5})
	c := dial(t, s)
	if err := s.Burst(12); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if m := readMsg(t, c); m.Seq != int64(i+1) {
			t.Fatalf("message %d has seq %d", i, m.Seq)
		}
	}
	if ce := readClose(t, c); ce.Code != websocket.CloseGoingAway {
		t.Fatalf("close code %d, want 1001", ce.Code)
	}
	waitFor(t, "client gone", func() bool { return s.Clients() == 0 })

	// A reconnecting client gets the next messages and is dropped again.
	c2 := dial(t, s)
	if err := s.Burst(6); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if m := readMsg(t, c2); m.Seq != int64(13+i) {
			t.Fatalf("after reconnect message %d has seq %d", i, m.Seq)
		}
	}
	if ce := readClose(t, c2); ce.Code != websocket.CloseGoingAway {
		t.Fatalf("close code %d, want 1001", ce.Code)
	}
}

func TestBurstDeliversAllInOrder(t *testing.T) {
	t.Parallel()
	const n = 10000
	s := startServer(t, Options{Seed: 1, QueueSize: 64})
	conns := []*websocket.Conn{dial(t, s), dial(t, s)}

	var wg sync.WaitGroup
	errs := make([]error, len(conns))
	for i, c := range conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			for want := int64(1); want <= n; want++ {
				_, raw, err := c.ReadMessage()
				if err != nil {
					errs[i] = fmt.Errorf("after seq %d: %w", want-1, err)
					return
				}
				// A cheap check (full decoding is slow under -race): the
				// seq field and the type that follows it.
				if !bytes.Contains(raw, []byte(`"seq":`+strconv.FormatInt(want, 10)+`,"type":"chat"`)) {
					errs[i] = fmt.Errorf("got %q, want chat seq %d", raw, want)
					return
				}
			}
		})
	}
	if err := s.Burst(n); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("client %d: %v", i, err)
		}
	}
	if s.LastSeq() != n {
		t.Errorf("LastSeq = %d, want %d", s.LastSeq(), n)
	}
}

func TestInject(t *testing.T) {
	t.Parallel()
	huge := bytes.Repeat([]byte("重要 hello "), 300_000) // ~3.9 MB
	tests := []struct {
		name   string
		data   []byte
		binary bool
	}{
		{"json", []byte(`{"type":"chat","content":"injected"}`), false},
		{"xss", []byte(`<script>alert("xss")</script><img src=x onerror=alert(1)>`), false},
		{"truncated json", []byte(`{"id":"x","content":"unterminated`), false},
		{"invalid utf8", []byte("bad \xff\xfe bytes"), false},
		{"nul bytes", []byte("a\x00b"), false},
		{"empty", []byte{}, false},
		{"binary", []byte{0, 1, 2, 0xff, 0x80, '{', '}'}, true},
		{"huge text", huge, false},
	}
	s := startServer(t, Options{})
	c := dial(t, s)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Inject(tt.data, tt.binary)
			typ, got := readRaw(t, c)
			wantTyp := websocket.TextMessage
			if tt.binary {
				wantTyp = websocket.BinaryMessage
			}
			if typ != wantTyp {
				t.Errorf("frame type %d, want %d", typ, wantTyp)
			}
			if !bytes.Equal(got, tt.data) {
				t.Errorf("got %d bytes %.60q, want %d bytes %.60q", len(got), got, len(tt.data), tt.data)
			}
		})
	}
	if s.LastSeq() != 0 {
		t.Errorf("Inject used seqs: LastSeq = %d", s.LastSeq())
	}
}

func TestDropAll(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code   int
		reason string
	}{
		{4401, "unauthorized"},
		{websocket.ClosePolicyViolation, "policy violation"},
		{websocket.CloseNormalClosure, strings.Repeat("长", 60)}, // truncated to fit
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			t.Parallel()
			s := startServer(t, Options{})
			a, b := dial(t, s), dial(t, s)
			s.Inject([]byte("before"), false) // queued frames go out before the close
			s.DropAll(tt.code, tt.reason)
			if n := s.Clients(); n != 0 {
				t.Errorf("Clients() = %d right after DropAll", n)
			}
			for _, c := range []*websocket.Conn{a, b} {
				if _, raw := readRaw(t, c); string(raw) != "before" {
					t.Errorf("got %q before close", raw)
				}
				ce := readClose(t, c)
				if ce.Code != tt.code || !strings.HasPrefix(tt.reason, ce.Text) || len(ce.Text) > maxCloseReason {
					t.Errorf("close %d %q, want %d %q", ce.Code, ce.Text, tt.code, tt.reason)
				}
			}
		})
	}
}

func TestHTTPEndpoints(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{Seed: 5})
	c := dial(t, s)
	base := httpBase(s)

	done := make(chan error, 1)
	go func() {
		for want := int64(1); want <= 1000; want++ {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, raw, err := c.ReadMessage()
			if err != nil {
				done <- err
				return
			}
			var m wireMsg
			if err := json.Unmarshal(raw, &m); err != nil || m.Seq != want {
				done <- fmt.Errorf("got %q, want seq %d", raw, want)
				return
			}
		}
		done <- nil
	}()
	resp, err := http.Post(base+"/burst?n=1000", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var br burstResult
	if err := json.NewDecoder(resp.Body).Decode(&br); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /burst: status %d, decode err %v", resp.StatusCode, err)
	}
	_ = resp.Body.Close()
	if br != (burstResult{Sent: 1000, FirstSeq: 1, LastSeq: 1000}) {
		t.Errorf("POST /burst = %+v", br)
	}
	if err := <-done; err != nil {
		t.Fatalf("client: %v", err)
	}

	resp, err = http.Get(base + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if st != (stats{Clients: 1, LastSeq: 1000}) {
		t.Errorf("GET /stats = %+v", st)
	}

	bad := []struct {
		method, path string
		status       int
	}{
		{http.MethodPost, "/burst?n=abc", http.StatusBadRequest},
		{http.MethodPost, "/burst?n=-1", http.StatusBadRequest},
		{http.MethodPost, "/burst", http.StatusBadRequest},
		{http.MethodGet, "/burst?n=1", http.StatusMethodNotAllowed},
		{http.MethodPost, "/silence?seconds=-1", http.StatusBadRequest},
		{http.MethodPost, "/silence?seconds=NaN", http.StatusBadRequest},
		{http.MethodPost, "/silence?seconds=86401", http.StatusBadRequest},
		{http.MethodPost, "/silence", http.StatusBadRequest},
		{http.MethodGet, "/silence?seconds=1", http.StatusMethodNotAllowed},
		{http.MethodGet, DefaultPath, http.StatusBadRequest}, // not a WebSocket handshake
		{http.MethodGet, "/nope", http.StatusNotFound},
	}
	for _, b := range bad {
		req, _ := http.NewRequest(b.method, base+b.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != b.status {
			t.Errorf("%s %s: status %d, want %d", b.method, b.path, resp.StatusCode, b.status)
		}
	}
}

func TestSeedIsDeterministic(t *testing.T) {
	t.Parallel()
	receive := func(seed int64) []wireMsg {
		s := startServer(t, Options{Seed: seed})
		c := dial(t, s)
		go func() { _ = s.Burst(300) }()
		var out []wireMsg
		for range 300 {
			m := readMsg(t, c)
			m.Timestamp = 0 // wall clock
			out = append(out, m)
		}
		return out
	}
	a, b, other := receive(42), receive(42), receive(43)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, message %d differs:\n%+v\n%+v", i, a[i], b[i])
		}
	}
	same := 0
	for i := range a {
		if a[i].Content == other[i].Content {
			same++
		}
	}
	if same > 30 {
		t.Errorf("different seeds produced %d/300 identical contents", same)
	}
}

func TestClientChatIsBroadcast(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	sender, receiver := dial(t, s), dial(t, s)

	ignored := []struct {
		typ  int
		data string
	}{
		{websocket.TextMessage, "hello, plain text"},
		{websocket.TextMessage, `{"type":"chat","content":"no user"}`},
		{websocket.TextMessage, `{"type":"typing","user":"x","content":"..."}`},
		{websocket.TextMessage, `{"type":"chat","user":1,"content":"bad user"}`},
		{websocket.BinaryMessage, `{"type":"chat","user":"x","content":"binary"}`},
	}
	for _, m := range ignored {
		if err := sender.WriteMessage(m.typ, []byte(m.data)); err != nil {
			t.Fatal(err)
		}
	}
	content := "hi <b>\"there\"</b>\n重要 😀 \u2028"
	chat, _ := json.Marshal(map[string]string{"type": "chat", "user": "tester", "room": "support", "content": content})
	if err := sender.WriteMessage(websocket.TextMessage, chat); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*websocket.Conn{receiver, sender} {
		m := readMsg(t, c)
		if m.Seq != 1 || m.Type != typeChat || m.User != "tester" || m.Room != "support" || m.Content != content {
			t.Errorf("got %+v", m)
		}
	}
}

func TestPongTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		pongTimeout time.Duration
		reading     bool // the client reads, so it answers pings
	}{
		{"stalled reader is dropped", 200 * time.Millisecond, false},
		// A generous timeout, so that a loaded machine does not delay a
		// pong past it; the pings still come every 20 ms.
		{"reading client stays", time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, Options{PingInterval: 20 * time.Millisecond, PongTimeout: tt.pongTimeout})
			c := dial(t, s)
			if !tt.reading {
				waitFor(t, "stalled client dropped", func() bool { return s.Clients() == 0 })
				return
			}
			var pings atomic.Int32
			c.SetPingHandler(func(data string) error {
				pings.Add(1)
				return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
			})
			go func() {
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			}()
			time.Sleep(tt.pongTimeout + 500*time.Millisecond)
			if s.Clients() != 1 {
				t.Errorf("reading client was dropped")
			}
			if n := pings.Load(); n < 5 {
				t.Errorf("client saw %d pings", n)
			}
		})
	}
}

func TestSlowConsumerIsDropped(t *testing.T) {
	t.Parallel()
	// Socket buffers are pinned small: loopback autotuning would otherwise
	// let the stalled client absorb tens of megabytes before its queue
	// fills. (Not below two segments, or zero-window probing stalls it.)
	s := startServer(t, Options{QueueSize: 16, sendBuffer: 128 << 10})
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			err = c.(*net.TCPConn).SetReadBuffer(128 << 10)
		}
		return c, err
	}}
	slow, _, err := d.Dial(s.URL(), nil) // does not read for now
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	waitFor(t, "slow client registered", func() bool { return s.Clients() == 1 })
	fast := dial(t, s)
	// The flooding client waits for each message to come back before it
	// sends the next, so its own queue never grows: only the stalled
	// client can fall behind.
	chat, _ := json.Marshal(map[string]string{"type": "chat", "user": "flood", "content": strings.Repeat("x", 32<<10)})
	for i := 0; s.Clients() == 2; i++ {
		if i == 1000 {
			t.Fatal("slow consumer never dropped")
		}
		if err := fast.WriteMessage(websocket.TextMessage, chat); err != nil {
			t.Fatalf("flooding client: %v", err)
		}
		if m := readMsg(t, fast); m.Seq != int64(i+1) {
			t.Fatalf("flooding client got seq %d, want %d", m.Seq, i+1)
		}
	}
	if ce := readClose(t, slow); ce.Code != websocket.ClosePolicyViolation || ce.Text != "slow consumer" {
		t.Fatalf("close %d %q, want 1008 slow consumer", ce.Code, ce.Text)
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	s := New(Options{Addr: "127.0.0.1:0"})
	if s.URL() != "" {
		t.Errorf("URL before Start = %q", s.URL())
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), "ws://127.0.0.1:") || !strings.HasSuffix(s.URL(), DefaultPath) {
		t.Errorf("URL = %q", s.URL())
	}
	if err := s.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	c := dial(t, s)
	closed := make(chan int, 1)
	go func() { // read, so the close handshake completes at once
		var ce *websocket.CloseError
		_, _, err := c.ReadMessage()
		if errors.As(err, &ce) {
			closed <- ce.Code
		}
		close(closed)
	}()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if code := <-closed; code != websocket.CloseGoingAway {
		t.Errorf("close code %d, want 1001", code)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Burst(1); !errors.Is(err, ErrClosed) {
		t.Errorf("Burst after Close = %v", err)
	}
	if err := s.Start(); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close = %v", err)
	}
	if _, _, err := websocket.DefaultDialer.Dial(s.URL(), nil); err == nil {
		t.Error("dial after Close succeeded")
	}
}

func TestCloseBeforeStart(t *testing.T) {
	s := New(Options{Addr: "127.0.0.1:0"})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Start(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close = %v, want ErrClosed", err)
	}
}

func TestStartRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
	}{
		{"negative rate", Options{Rate: -1}},
		{"negative users", Options{Users: -2}},
		{"negative replay", Options{HistoryReplay: -1}},
		{"negative drop", Options{DropEvery: -1}},
		{"path without slash", Options{Path: "ws"}},
		{"reserved path", Options{Path: "/stats"}},
		{"bad addr", Options{Addr: "127.0.0.1:-5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opts.Addr == "" {
				tt.opts.Addr = "127.0.0.1:0"
			}
			s := New(tt.opts)
			if err := s.Start(); err == nil {
				_ = s.Close()
				t.Fatal("Start succeeded")
			}
		})
	}
}

func TestDefaultOptions(t *testing.T) {
	o := DefaultOptions()
	if o.Addr != "127.0.0.1:8000" || o.Path != "/ws/chat" || o.Rate != 5 || o.Users != 20 ||
		o.PingInterval != 10*time.Second || o.PongTimeout != 30*time.Second || o.HistoryReplay != 0 || o.DropEvery != 0 {
		t.Errorf("DefaultOptions() = %+v", o)
	}
}

// TestSilence: a silence stops the simulated traffic for its duration (no
// message is generated, none is caught up afterwards) and the traffic
// resumes at its rate; POST /silence answers when it ends.
func TestSilence(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{Rate: 200, Seed: 3})
	c := dial(t, s)
	readMsg(t, c) // traffic flows
	resp, err := http.Post(httpBase(s)+"/silence?seconds=0.6", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ans struct{ Until time.Time }
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /silence: status %d, decode err %v", resp.StatusCode, err)
	}
	_ = resp.Body.Close()
	if d := time.Until(ans.Until); d < 400*time.Millisecond || d > 700*time.Millisecond {
		t.Fatalf("until %v is %v from now, want about 0.6 s", ans.Until, d)
	}
	// Messages generated before the silence may still be queued; after
	// them nothing arrives until it ends.
	seqAt := s.LastSeq()
	time.Sleep(100 * time.Millisecond)
	if s.LastSeq() != seqAt {
		t.Fatalf("seq moved from %d to %d during the silence", seqAt, s.LastSeq())
	}
	var last wireMsg
	for {
		m := readMsg(t, c)
		if m.Seq > seqAt {
			last = m
			break
		}
	}
	if at := time.UnixMilli(last.Timestamp); at.Before(ans.Until.Add(-15 * time.Millisecond)) {
		t.Fatalf("message %d at %v, before the silence ended at %v", last.Seq, at, ans.Until)
	}
	// No catching up: the next ~100 ms carry about 20 messages, not the
	// 120 the silence skipped.
	time.Sleep(100 * time.Millisecond)
	if n := s.LastSeq() - seqAt; n > 60 {
		t.Errorf("%d messages within 100 ms of the silence's end: the silence was caught up", n)
	}
}
