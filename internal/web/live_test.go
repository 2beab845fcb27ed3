package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/live"
	"github.com/wsmon/wsmon/internal/message"
)

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	name, id, data string
}

// sseStream reads a live response synchronously: nothing is read from the
// connection except inside next.
type sseStream struct {
	t      *testing.T
	resp   *http.Response
	br     *bufio.Reader
	cancel context.CancelFunc
	retry  string
}

// openLive opens path (with query) on srv and checks the response head.
func openLive(t *testing.T, srv *httptest.Server, path string, hdr ...string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &sseStream{t: t, resp: resp, br: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(s.close)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET %s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("live Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	checkCSP(t, "GET "+path, resp.Header)
	return s
}

func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// next returns the next event (comments and retry skipped).
func (s *sseStream) next() sseEvent {
	s.t.Helper()
	var ev sseEvent
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			s.t.Fatalf("live stream ended: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.name != "" || ev.data != "" {
				return ev
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "event: "):
			ev.name = line[len("event: "):]
		case strings.HasPrefix(line, "id: "):
			ev.id = line[len("id: "):]
		case strings.HasPrefix(line, "data: "):
			if ev.data != "" {
				s.t.Fatalf("multi-line data: JSON must be one line")
			}
			ev.data = line[len("data: "):]
		case strings.HasPrefix(line, "retry: "):
			s.retry = line[len("retry: "):]
		default:
			s.t.Fatalf("unexpected SSE line %q", line)
		}
	}
}

// nextNamed skips events until one named name (other than status/stats,
// which it always skips unless asked for).
func (s *sseStream) nextNamed(name string) sseEvent {
	s.t.Helper()
	for {
		ev := s.next()
		if ev.name == name {
			return ev
		}
		if ev.name != "status" && ev.name != "stats" {
			s.t.Fatalf("got event %q (%s) while waiting for %q", ev.name, ev.data, name)
		}
	}
}

// nextMessage returns the next message event, decoded.
func (s *sseStream) nextMessage() apiMsg {
	s.t.Helper()
	ev := s.nextNamed("message")
	var m apiMsg
	if err := json.Unmarshal([]byte(ev.data), &m); err != nil {
		s.t.Fatalf("message data %q: %v", ev.data, err)
	}
	if ev.id != strconv.FormatInt(m.ID, 10) {
		s.t.Errorf("event id %q for message %d", ev.id, m.ID)
	}
	return m
}

var liveBase = time.Date(2026, 3, 4, 5, 6, 7, 890e6, time.UTC)

func liveMsg(id int64, user, room string) message.Message {
	return message.Message{ID: id, Target: "alpha", SessionID: 1, ReceivedAt: liveBase.Add(time.Duration(id) * time.Second),
		SentAt: liveBase, User: user, Room: room, Type: message.TypeChat, Content: fmt.Sprintf("live %d 紧急 <b>", id),
		Raw: []byte(`{"secret":"raw"}`)}
}

// liveServer returns a real loopback server over the fixture with hub.
func liveServer(t *testing.T, hub *live.Hub, mod func(*Options)) *httptest.Server {
	f := newFixture(t)
	srv := httptest.NewServer(f.server(func(o *Options) {
		o.Hub = hub
		if mod != nil {
			mod(o)
		}
	}))
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.Listener.Addr().String(), "127.0.0.1:") {
		t.Fatalf("test server on %s, want loopback", srv.Listener.Addr())
	}
	return srv
}

func TestLiveDeliversMessages(t *testing.T) {
	hub := newTestHub(100)
	srv := liveServer(t, hub, nil)
	s := openLive(t, srv, "/api/live")
	// The first event is the monitor status; once it arrived, the stream
	// is subscribed.
	if ev := s.next(); ev.name != "status" || ev.data != "[]" || ev.id != "" {
		t.Fatalf("first event %+v, want status []", ev)
	}
	if s.retry != "2000" {
		t.Errorf("retry %q", s.retry)
	}
	hub.Publish([]message.Message{liveMsg(1, "alice", "lobby"), liveMsg(2, "bob", "dev")})
	hub.Publish([]message.Message{liveMsg(3, "小明", "lobby")})
	for _, want := range []message.Message{liveMsg(1, "alice", "lobby"), liveMsg(2, "bob", "dev"), liveMsg(3, "小明", "lobby")} {
		got := s.nextMessage()
		a := toAPI(&want, false)
		if got.ID != a.ID || got.User != a.User || got.Room != a.Room || got.Content != a.Content || got.Type != "chat" ||
			got.Target != "alpha" || got.ReceivedAt != apiTime(want.ReceivedAt) || got.SentAt == nil || *got.SentAt != "2026-03-04T05:06:07.890Z" {
			t.Errorf("live message %+v, want %+v", got, a)
		}
		if got.Raw != nil || got.RawBase64 != nil {
			t.Errorf("live message %d carries raw", got.ID)
		}
	}
}

func TestLiveFilters(t *testing.T) {
	hub := newTestHub(100)
	srv := liveServer(t, hub, nil)
	for _, c := range []struct {
		query string
		want  int64
	}{
		{"?user=alice", 2},
		{"?user=%E5%B0%8F%E6%98%8E", 4},
		{"?room=dev", 2},
		{"?user=alice&room=lobby", 5},
		{"?type=join", 6},
		{"?target=beta", 7},
	} {
		t.Run(c.query, func(t *testing.T) {
			s := openLive(t, srv, "/api/live"+c.query)
			s.nextNamed("status")
			join := liveMsg(6, "carol", "lobby")
			join.Type = message.TypeJoin
			beta := liveMsg(7, "dave", "lobby")
			beta.Target = "beta"
			hub.Publish([]message.Message{liveMsg(1, "bob", "lobby"), liveMsg(2, "alice", "dev"), liveMsg(3, "bob", "dev")})
			hub.Publish([]message.Message{liveMsg(4, "小明", "lobby"), liveMsg(5, "alice", "lobby"), join, beta})
			hub.Publish([]message.Message{liveMsg(8, "alice", "lobby"), liveMsg(9, "carol", "dev")}) // ends each case
			if got := s.nextMessage(); got.ID != c.want {
				t.Errorf("first message %d (%s in %s), want %d", got.ID, got.User, got.Room, c.want)
			}
		})
	}
}

// A stalled client must not slow publishing; it later learns how many
// messages it missed, and every message is either delivered or counted.
func TestLiveStalledSubscriber(t *testing.T) {
	hub := newTestHub(1000)
	srv := liveServer(t, hub, func(o *Options) { o.RefreshInterval = 200 * time.Millisecond })
	s := openLive(t, srv, "/api/live")
	s.nextNamed("status") // subscribed; from now on nothing is read

	const n = 100_000
	content := strings.Repeat("x", 1000)
	msgs := make([]message.Message, n)
	for i := range msgs {
		msgs[i] = liveMsg(int64(i+1), "alice", "lobby")
		msgs[i].Content = content
	}
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := range msgs {
			hub.Publish(msgs[i : i+1])
		}
	}()
	select {
	case <-published:
	case <-time.After(2 * time.Minute):
		t.Fatal("Publish blocked behind a subscriber that does not read")
	}

	// Now read: delivered + missed must account for every message, in order.
	var delivered, missed, last int64
	droppedEvents := 0
	for delivered+missed < n {
		ev := s.next()
		switch ev.name {
		case "message":
			id, _ := strconv.ParseInt(ev.id, 10, 64)
			if id <= last {
				t.Fatalf("message %d after %d", id, last)
			}
			last = id
			delivered++
		case "dropped":
			var d struct {
				Missed int64 `json:"missed"`
			}
			if err := json.Unmarshal([]byte(ev.data), &d); err != nil || d.Missed <= 0 || ev.id != "" {
				t.Fatalf("dropped event %+v", ev)
			}
			missed += d.Missed
			droppedEvents++
		}
	}
	if droppedEvents == 0 || missed == 0 {
		t.Fatalf("no dropped notice: delivered %d, missed %d", delivered, missed)
	}
	if delivered+missed != n {
		t.Errorf("delivered %d + missed %d = %d, want %d", delivered, missed, delivered+missed, n)
	}
	t.Logf("delivered %d, missed %d in %d dropped events", delivered, missed, droppedEvents)

	// The stream goes on.
	hub.Publish([]message.Message{liveMsg(n+1, "bob", "lobby")})
	if got := s.nextMessage(); got.ID != n+1 {
		t.Errorf("after catching up got %d, want %d", got.ID, n+1)
	}
}

func TestLiveResumeWithLastEventID(t *testing.T) {
	users := []string{"alice", "bob"}
	ids := func(from, to, step int64) []int64 {
		var out []int64
		for i := from; i <= to; i += step {
			out = append(out, i)
		}
		return out
	}
	for _, c := range []struct {
		name, query, lastID string
		want                []int64
	}{
		{"resume", "", "90", ids(91, 100, 1)},
		{"resume filtered", "?user=alice", "90", ids(92, 100, 2)},
		{"up to date", "", "100", nil},
		{"older than the buffer", "", "10", ids(51, 100, 1)}, // the recent buffer holds 50
		{"no id", "", "", nil},
		{"bad id", "", "abc", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			hub := newTestHub(50) // remembers the last 50
			srv := liveServer(t, hub, nil)
			for id := int64(1); id <= 100; id++ {
				hub.Publish([]message.Message{liveMsg(id, users[id%2], "lobby")})
			}
			var hdr []string
			if c.lastID != "" {
				hdr = []string{"Last-Event-ID", c.lastID}
			}
			s := openLive(t, srv, "/api/live"+c.query, hdr...)
			s.nextNamed("status")
			for _, want := range c.want {
				if got := s.nextMessage(); got.ID != want {
					t.Fatalf("replayed %d, want %d", got.ID, want)
				}
			}
			// Then live messages follow, each once.
			const next = 101
			hub.Publish([]message.Message{liveMsg(next, "alice", "lobby")})
			if got := s.nextMessage(); got.ID != next {
				t.Errorf("after the replay got %d, want %d", got.ID, next)
			}
		})
	}
}

func TestLiveStatusAndStatsEvents(t *testing.T) {
	hub := newTestHub(100)
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := liveServer(t, hub, func(o *Options) {
		o.RefreshInterval = 50 * time.Millisecond
		o.Status = func(context.Context) []TargetStatus {
			return []TargetStatus{{Target: "alpha", URL: "ws://127.0.0.1:9/alpha", State: "connected", Since: since}}
		}
	})
	s := openLive(t, srv, "/api/live")
	ev := s.nextNamed("status")
	var st []map[string]any
	if err := json.Unmarshal([]byte(ev.data), &st); err != nil || len(st) != 1 || st[0]["state"] != "connected" ||
		st[0]["since"] != "2026-01-02T03:04:05.000Z" || st[0]["last_message_at"] != nil {
		t.Fatalf("status %s", ev.data)
	}
	hub.Publish([]message.Message{liveMsg(1, "alice", "lobby")})
	s.nextMessage()
	ev = s.nextNamed("stats")
	var stats statsResp
	if err := json.Unmarshal([]byte(ev.data), &stats); err != nil || stats.TotalMessages != 104 || len(stats.Hourly) != 24 ||
		len(stats.Daily) != 30 || stats.TimeZone != fixtureZoneName || len(stats.Monitor) != 1 {
		t.Errorf("stats event %s", ev.data)
	}
}

// A message published while a resuming client connects must be delivered
// once: the ids of the message events must strictly increase.
//
// Exposes a race in handleLive: it subscribes first and replays
// Hub.Recent afterwards, so a message published between the two is both
// in the replay and queued for the subscription, and is sent twice. The
// Status callback (called in that window) publishes such a message, which
// makes the race deterministic.
func TestLiveResumeNoDuplicates(t *testing.T) {
	hub := newTestHub(50)
	var once sync.Once
	srv := liveServer(t, hub, func(o *Options) {
		o.Status = func(context.Context) []TargetStatus {
			once.Do(func() { hub.Publish([]message.Message{liveMsg(101, "alice", "lobby")}) })
			return nil
		}
	})
	for id := int64(1); id <= 100; id++ {
		hub.Publish([]message.Message{liveMsg(id, "alice", "lobby")})
	}
	s := openLive(t, srv, "/api/live", "Last-Event-ID", "95")
	for want := int64(96); want <= 101; want++ {
		if got := s.nextMessage(); got.ID != want {
			t.Fatalf("replayed %d, want %d", got.ID, want)
		}
	}
	hub.Publish([]message.Message{liveMsg(102, "alice", "lobby")})
	if got := s.nextMessage(); got.ID != 102 {
		t.Errorf("after 101 the stream sent message %d, want 102 (duplicate delivery)", got.ID)
	}
}
