package phoenix_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// phxServer is a Phoenix channels server written from Phoenix's socket,
// channel and serializer behaviour, for tests: the /socket/websocket
// transport with vsn 2.0.0 (arrays, binary broadcasts) and 1.0.0
// (objects), connect params (token) refused with 403, phx_join replies
// (ok, or error with a reason), heartbeats, broadcasts (join_ref null) and
// channel pushes (join_ref set), phx_error/phx_close for a crashed or
// stopped channel, presence_diff, the transport timeout that closes a
// socket silent for Timeout (60 s in Phoenix), and the Phoenix guide's
// RoomChannel handle_in("new_msg", %{"body" => body}): broadcast! of
// new_msg %{body: body} to the topic, sender included, no reply.
type phxServer struct {
	ConnectToken string        // required connect param "token"; "" for none
	JoinToken    string        // required join payload "token"; "" for none
	Timeout      time.Duration // idle socket timeout

	t  testing.TB
	mu sync.Mutex
	// addr and srv are the listener's; conns the live sockets
	addr     string
	srv      *http.Server
	conns    map[*phxConn]bool
	timeouts int
	joins    int
}

type phxConn struct {
	ws    *websocket.Conn
	v1    bool
	wmu   sync.Mutex
	chans map[string]string // topic -> join_ref
	last  time.Time
}

func newPhxServer(t testing.TB) *phxServer {
	s := &phxServer{t: t, Timeout: 60 * time.Second, conns: map[*phxConn]bool{}}
	t.Cleanup(s.Stop)
	return s
}

// Start listens on addr ("127.0.0.1:0" first, the same address after
// Stop to restart).
func (s *phxServer) Start(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /socket/websocket", s.handleSocket)
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	srv := s.srv
	s.mu.Unlock()
	go srv.Serve(ln)
}

// Stop closes the listener and every socket, as a killed server.
func (s *phxServer) Stop() {
	s.mu.Lock()
	srv, conns := s.srv, s.conns
	s.srv, s.conns = nil, map[*phxConn]bool{}
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
	for c := range conns {
		c.ws.Close()
	}
}

func (s *phxServer) Addr() string { return s.addr }
func (s *phxServer) URL() string  { return "ws://" + s.addr + "/socket/websocket" }

var upgrader = websocket.Upgrader{}

func (s *phxServer) handleSocket(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	vsn := q.Get("vsn")
	if vsn != "2.0.0" && vsn != "1.0.0" && vsn != "" {
		http.Error(w, "unsupported vsn", http.StatusBadRequest)
		return
	}
	if s.ConnectToken != "" && q.Get("token") != s.ConnectToken {
		http.Error(w, "", http.StatusForbidden) // connect/3 returned :error
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &phxConn{ws: ws, v1: vsn != "2.0.0", chans: map[string]string{}, last: time.Now()}
	s.mu.Lock()
	s.conns[c] = true
	s.mu.Unlock()
	go s.serve(c)
}

// encode renders a server message in the connection's serializer.
func (c *phxConn) encode(joinRef, ref any, topic, event string, payload any) []byte {
	var b []byte
	if c.v1 {
		b, _ = json.Marshal(map[string]any{"topic": topic, "event": event, "payload": payload, "ref": ref})
	} else {
		b, _ = json.Marshal([]any{joinRef, ref, topic, event, payload})
	}
	return b
}

func (c *phxConn) write(binary bool, data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	typ := websocket.TextMessage
	if binary {
		typ = websocket.BinaryMessage
	}
	return c.ws.WriteMessage(typ, data)
}

func (s *phxServer) serve(c *phxConn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.ws.Close()
	}()
	done := make(chan struct{})
	defer close(done)
	go func() { // the transport's idle timeout
		tick := time.NewTicker(s.Timeout / 10)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				s.mu.Lock()
				idle := now.Sub(c.last) > s.Timeout
				if idle {
					s.timeouts++
				}
				s.mu.Unlock()
				if idle {
					c.ws.Close()
					return
				}
			}
		}
	}()
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		s.mu.Lock()
		c.last = time.Now()
		s.mu.Unlock()
		var joinRef, ref *string
		var topic, event string
		var payload map[string]any
		if c.v1 {
			var m struct {
				Topic   string         `json:"topic"`
				Event   string         `json:"event"`
				Payload map[string]any `json:"payload"`
				Ref     *string        `json:"ref"`
				JoinRef *string        `json:"join_ref"`
			}
			if json.Unmarshal(data, &m) != nil {
				return
			}
			joinRef, ref, topic, event, payload = m.JoinRef, m.Ref, m.Topic, m.Event, m.Payload
		} else {
			var arr []json.RawMessage
			if json.Unmarshal(data, &arr) != nil || len(arr) != 5 ||
				json.Unmarshal(arr[0], &joinRef) != nil || json.Unmarshal(arr[1], &ref) != nil ||
				json.Unmarshal(arr[2], &topic) != nil || json.Unmarshal(arr[3], &event) != nil ||
				json.Unmarshal(arr[4], &payload) != nil {
				return // the V2 serializer raises: the socket ends
			}
		}
		okReply := map[string]any{"status": "ok", "response": map[string]any{}}
		switch {
		case topic == "phoenix" && event == "heartbeat":
			c.write(false, c.encode(nil, ref, "phoenix", "phx_reply", okReply))
		case event == "phx_join":
			jr := any(nil)
			if joinRef != nil {
				jr = *joinRef
			}
			switch {
			case !strings.HasPrefix(topic, "room:"):
				c.write(false, c.encode(jr, ref, topic, "phx_reply", map[string]any{"status": "error", "response": map[string]any{"reason": "unmatched topic"}}))
			case topic == "room:forbidden" || (s.JoinToken != "" && payload["token"] != s.JoinToken):
				c.write(false, c.encode(jr, ref, topic, "phx_reply", map[string]any{"status": "error", "response": map[string]any{"reason": "unauthorized"}}))
			default:
				s.mu.Lock()
				if joinRef != nil {
					c.chans[topic] = *joinRef
				} else {
					c.chans[topic] = *ref
				}
				s.joins++
				s.mu.Unlock()
				c.write(false, c.encode(jr, ref, topic, "phx_reply", okReply))
			}
		case event == "new_msg":
			s.mu.Lock()
			jr, joined := c.chans[topic]
			s.mu.Unlock()
			body, isString := payload["body"].(string)
			switch {
			case !joined || joinRef == nil || *joinRef != jr:
				c.write(false, c.encode(joinRef, ref, topic, "phx_reply", map[string]any{"status": "error", "response": map[string]any{"reason": "unmatched topic"}}))
			case isString:
				s.Broadcast(topic, "new_msg", map[string]any{"body": body})
			default:
				return // the channel crashes on a payload without a body string
			}
		case event == "phx_leave":
			s.mu.Lock()
			delete(c.chans, topic)
			s.mu.Unlock()
			c.write(false, c.encode(joinRef, ref, topic, "phx_reply", okReply))
		}
	}
}

// members returns the sockets joined to topic with their join refs.
func (s *phxServer) members(topic string) map[*phxConn]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[*phxConn]string{}
	for c := range s.conns {
		if jr, ok := c.chans[topic]; ok {
			out[c] = jr
		}
	}
	return out
}

// Joined is how many sockets are joined to topic.
func (s *phxServer) Joined(topic string) int { return len(s.members(topic)) }

// Joins is how many joins were accepted in all.
func (s *phxServer) Joins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.joins
}

// Timeouts is how many sockets were closed for silence.
func (s *phxServer) Timeouts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.timeouts
}

// Broadcast sends event to topic's subscribers as the endpoint's
// broadcast does (fastlane: no join_ref, no ref).
func (s *phxServer) Broadcast(topic, event string, payload any) {
	for c := range s.members(topic) {
		c.write(false, c.encode(nil, nil, topic, event, payload))
	}
}

// Push sends event from each joined channel process (join_ref set).
func (s *phxServer) Push(topic, event string, payload any) {
	for c, jr := range s.members(topic) {
		c.write(false, c.encode(jr, nil, topic, event, payload))
	}
}

// BinaryBroadcast sends a V2 binary broadcast (kind 2) to V2 sockets.
func (s *phxServer) BinaryBroadcast(topic, event string, data []byte) {
	frame := append([]byte{2, byte(len(topic)), byte(len(event))}, topic+event...)
	frame = append(frame, data...)
	for c := range s.members(topic) {
		if !c.v1 {
			c.write(true, frame)
		}
	}
}

// End ends topic's channels as a crash (phx_error) or a stop (phx_close)
// does: the channel process is gone until the client joins again.
func (s *phxServer) End(topic, event string) {
	for c, jr := range s.members(topic) {
		s.mu.Lock()
		delete(c.chans, topic)
		s.mu.Unlock()
		c.write(false, c.encode(jr, jr, topic, event, map[string]any{}))
	}
}

// PresenceDiff broadcasts a presence_diff of one join or leave.
func (s *phxServer) PresenceDiff(topic, key string, join bool) {
	entry := map[string]any{key: map[string]any{"metas": []any{map[string]any{"phx_ref": fmt.Sprint(time.Now().UnixNano()), "online_at": "1700000000"}}}}
	diff := map[string]any{"joins": map[string]any{}, "leaves": map[string]any{}}
	if join {
		diff["joins"] = entry
	} else {
		diff["leaves"] = entry
	}
	s.Broadcast(topic, "presence_diff", diff)
}
