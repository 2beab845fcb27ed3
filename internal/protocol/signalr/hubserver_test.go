package signalr_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// hubServer is a SignalR server written from the ASP.NET Core specs
// (TransportProtocols.md, HubProtocol.md) and the behaviour of the
// ASP.NET Core server, for tests: negotiate v0/v1 with single-use
// connection tokens, the redirect response, bearer tokens (header or
// access_token query), the JSON handshake, records ended by 0x1E, a
// JoinGroup hub method, the ASP.NET chat sample's SendMessage(user,
// message) hub method (Clients.All.SendAsync("ReceiveMessage", user,
// message)), server pings every KeepAlive, a client timeout that drops a
// client silent for ClientTimeout, and close messages.
type hubServer struct {
	Token         string        // required bearer token; "" for none
	KeepAlive     time.Duration // server ping interval (ASP.NET default 15 s)
	ClientTimeout time.Duration // silence after which a client is dropped (ASP.NET default 30 s)
	// Framing of broadcasts: "one" message per frame (as ASP.NET sends
	// them), "batch" (all in one frame) or "split" (all, cut into frames
	// at odd places, records spanning frames).
	Framing string

	t    testing.TB
	addr string
	mu   sync.Mutex
	ln   net.Listener
	srv  *http.Server
	// connection tokens negotiated and not used yet, and live connections
	pending   map[string]bool
	conns     map[*hubConn]bool
	negotiate int // negotiate requests served
	timeouts  int // clients dropped for silence
	next      int
}

type hubConn struct {
	ws     *websocket.Conn
	wmu    sync.Mutex
	groups map[string]bool
	last   time.Time // last message from the client
}

func newHubServer(t testing.TB) *hubServer {
	s := &hubServer{t: t, KeepAlive: 15 * time.Second, ClientTimeout: 30 * time.Second, Framing: "one",
		pending: map[string]bool{}, conns: map[*hubConn]bool{}}
	t.Cleanup(s.Stop)
	return s
}

// Start listens on addr ("127.0.0.1:0" for a free port the first time;
// the same address again after Stop).
func (s *hubServer) Start(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /chathub/negotiate", s.handleNegotiate)
	mux.HandleFunc("GET /chathub", s.handleSocket)
	mux.HandleFunc("POST /redirect/negotiate", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"url": "http://" + s.addr + "/chathub?tenant=t1", "accessToken": s.Token})
	})
	s.mu.Lock()
	s.ln, s.addr = ln, ln.Addr().String()
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	srv := s.srv
	s.mu.Unlock()
	go srv.Serve(ln)
}

// Stop closes the listener and every connection, as a killed server.
func (s *hubServer) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	conns := s.conns
	s.conns = map[*hubConn]bool{}
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
	for c := range conns {
		c.ws.Close()
	}
}

// Addr is host:port; URL the hub's ws URL.
func (s *hubServer) Addr() string { return s.addr }
func (s *hubServer) URL() string  { return "ws://" + s.addr + "/chathub" }

func (s *hubServer) authorized(r *http.Request) bool {
	if s.Token == "" {
		return true
	}
	return r.Header.Get("Authorization") == "Bearer "+s.Token || r.URL.Query().Get("access_token") == s.Token
}

func (s *hubServer) handleNegotiate(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		http.Error(w, "", http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	s.negotiate++
	s.next++
	id := fmt.Sprintf("conn-%d", s.next)
	token := fmt.Sprintf("token-%d-%d", s.next, time.Now().UnixNano())
	version, _ := strconv.Atoi(r.URL.Query().Get("negotiateVersion"))
	v1 := version >= 1
	if v1 {
		s.pending[token] = true
	} else {
		s.pending[id] = true
	}
	s.mu.Unlock()
	resp := map[string]any{
		"connectionId": id,
		"availableTransports": []any{
			map[string]any{"transport": "WebSockets", "transferFormats": []string{"Text", "Binary"}},
			map[string]any{"transport": "LongPolling", "transferFormats": []string{"Text", "Binary"}},
		},
	}
	if v1 {
		resp["connectionToken"], resp["negotiateVersion"] = token, 1
	} else {
		resp["negotiateVersion"] = 0
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

var upgrader = websocket.Upgrader{}

func (s *hubServer) handleSocket(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		http.Error(w, "", http.StatusUnauthorized)
		return
	}
	id := r.URL.Query().Get("id")
	s.mu.Lock()
	ok := s.pending[id]
	delete(s.pending, id)
	s.mu.Unlock()
	if !ok {
		http.Error(w, "No Connection with that ID", http.StatusNotFound)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &hubConn{ws: ws, groups: map[string]bool{}, last: time.Now()}
	go s.serve(c)
}

func (c *hubConn) write(frames ...[]byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for _, f := range frames {
		c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := c.ws.WriteMessage(websocket.TextMessage, f); err != nil {
			return err
		}
	}
	return nil
}

// serve runs one connection: the handshake, then the hub.
func (s *hubServer) serve(c *hubConn) {
	defer c.ws.Close()
	var buf []byte
	readRecord := func() ([]byte, error) {
		for {
			if i := bytes.IndexByte(buf, 0x1e); i >= 0 {
				rec := buf[:i]
				buf = buf[i+1:]
				return rec, nil
			}
			_, data, err := c.ws.ReadMessage()
			if err != nil {
				return nil, err
			}
			buf = append(buf, data...)
		}
	}
	c.ws.SetReadDeadline(time.Now().Add(15 * time.Second)) // ASP.NET HandshakeTimeout
	rec, err := readRecord()
	if err != nil {
		return
	}
	var hs struct {
		Protocol string `json:"protocol"`
		Version  int    `json:"version"`
	}
	if json.Unmarshal(rec, &hs) != nil || hs.Protocol != "json" || hs.Version != 1 {
		c.write([]byte(fmt.Sprintf(`{"error":"Requested protocol '%s' is not available."}`+"\x1e", hs.Protocol)))
		return
	}
	if c.write([]byte("{}\x1e")) != nil {
		return
	}
	c.ws.SetReadDeadline(time.Time{})
	s.mu.Lock()
	s.conns[c] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()

	// Keep-alive: ping the client, drop it when it has been silent for
	// ClientTimeout (the server aborts the connection).
	done := make(chan struct{})
	defer close(done)
	go func() {
		tick := time.NewTicker(min(s.KeepAlive, s.ClientTimeout/4))
		defer tick.Stop()
		lastPing := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				s.mu.Lock()
				silent := now.Sub(c.last)
				s.mu.Unlock()
				if silent > s.ClientTimeout {
					s.mu.Lock()
					s.timeouts++
					s.mu.Unlock()
					c.ws.Close()
					return
				}
				if now.Sub(lastPing) >= s.KeepAlive {
					lastPing = now
					c.write([]byte("{\"type\":6}\x1e"))
				}
			}
		}
	}()

	for {
		rec, err := readRecord()
		if err != nil {
			return
		}
		s.mu.Lock()
		c.last = time.Now()
		s.mu.Unlock()
		var m struct {
			Type         int               `json:"type"`
			InvocationID string            `json:"invocationId"`
			Target       string            `json:"target"`
			Arguments    []json.RawMessage `json:"arguments"`
		}
		if json.Unmarshal(rec, &m) != nil {
			return // a protocol error: the server ends the connection
		}
		switch m.Type {
		case 1:
			var reply map[string]any
			switch m.Target {
			case "JoinGroup":
				var g string
				if len(m.Arguments) == 1 && json.Unmarshal(m.Arguments[0], &g) == nil {
					s.mu.Lock()
					c.groups[g] = true
					s.mu.Unlock()
					reply = map[string]any{"type": 3, "invocationId": m.InvocationID, "result": nil}
				} else {
					reply = map[string]any{"type": 3, "invocationId": m.InvocationID, "error": "Failed to invoke 'JoinGroup' due to an error on the server. InvalidDataException: Invocation provides 0 argument(s) but target expects 1."}
				}
			case "SendMessage":
				var user, text string
				if len(m.Arguments) == 2 && json.Unmarshal(m.Arguments[0], &user) == nil && json.Unmarshal(m.Arguments[1], &text) == nil {
					s.Invoke("", "ReceiveMessage", []any{user, text})
					reply = map[string]any{"type": 3, "invocationId": m.InvocationID, "result": nil}
				} else {
					// ASP.NET answers a binding failure only when the
					// invocation has an id; a non-blocking one is dropped.
					reply = map[string]any{"type": 3, "invocationId": m.InvocationID, "error": fmt.Sprintf("Failed to invoke 'SendMessage' due to an error on the server. InvalidDataException: Invocation provides %d argument(s) but target expects 2.", len(m.Arguments))}
				}
			default:
				reply = map[string]any{"type": 3, "invocationId": m.InvocationID, "error": fmt.Sprintf("Failed to invoke '%s' due to an error on the server. HubException: Method does not exist.", m.Target)}
			}
			if m.InvocationID != "" {
				b, _ := json.Marshal(reply)
				c.write(append(b, 0x1e))
			}
		case 6, 7:
			if m.Type == 7 {
				return
			}
		}
	}
}

// members returns the connections in group ("" for all).
func (s *hubServer) members(group string) []*hubConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*hubConn
	for c := range s.conns {
		if group == "" || c.groups[group] {
			out = append(out, c)
		}
	}
	return out
}

// Clients is how many handshaken connections there are in group ("" for
// all).
func (s *hubServer) Clients(group string) int { return len(s.members(group)) }

// Timeouts is how many clients were dropped for silence.
func (s *hubServer) Timeouts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.timeouts
}

// Negotiations is how many negotiate requests were served.
func (s *hubServer) Negotiations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.negotiate
}

// Invoke sends Invocation messages for target with each argument list to
// the group's connections, framed as s.Framing says.
func (s *hubServer) Invoke(group, target string, calls ...[]any) {
	var recs [][]byte
	for _, args := range calls {
		b, err := json.Marshal(map[string]any{"type": 1, "target": target, "arguments": args})
		if err != nil {
			s.t.Fatal(err)
		}
		recs = append(recs, append(b, 0x1e))
	}
	s.send(group, recs)
}

func (s *hubServer) send(group string, recs [][]byte) {
	var frames [][]byte
	switch s.Framing {
	case "batch":
		frames = [][]byte{bytes.Join(recs, nil)}
	case "split":
		all := bytes.Join(recs, nil)
		for n := 7; len(all) > 0; n = n*3 + 1 {
			k := min(n, len(all))
			frames = append(frames, all[:k])
			all = all[k:]
		}
	default:
		frames = recs
	}
	for _, c := range s.members(group) {
		if err := c.write(frames...); err != nil {
			s.t.Logf("hub server: write: %v", err)
		}
	}
}

// Close sends every connection a Close message and closes it.
func (s *hubServer) Close(errText string, allowReconnect bool) {
	m := map[string]any{"type": 7}
	if errText != "" {
		m["error"] = errText
	}
	if allowReconnect {
		m["allowReconnect"] = true
	}
	b, _ := json.Marshal(m)
	for _, c := range s.members("") {
		c.write(append(b, 0x1e))
		c.wmu.Lock()
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.wmu.Unlock()
		c.ws.Close()
	}
}
