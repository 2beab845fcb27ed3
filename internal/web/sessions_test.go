package web

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/store"
)

// TestSessionsTimelineHasAttempts: failed connection attempts appear in
// GET /api/sessions among the sessions, newest first by their start, marked
// as attempts with their error, code, step and HTTP status; a target that
// never connected has a timeline of attempts; limit counts both.
func TestSessionsTimelineHasAttempts(t *testing.T) {
	f := newFixture(t)
	var s1 fsession
	for _, s := range f.sessions {
		if s.Target == "alpha" {
			s1 = s
			break
		}
	}
	ctx := context.Background()
	between := s1.End.Add(time.Minute) // alpha's outage, before its second session
	never := f.now.Add(-time.Minute)
	if err := f.st.AddAttempts(ctx, []store.Attempt{
		{Target: "alpha", URL: "ws://alpha/ws", At: between, Step: "dial", Error: "dial: connection refused", Code: "connection_refused"},
		{Target: "gamma", URL: "ws://gamma/ws", At: never, Step: "dial", Error: "upgrade refused: HTTP 401 Unauthorized", Code: "unauthorized", HTTPStatus: 401},
	}); err != nil {
		t.Fatal(err)
	}
	h := f.server(nil)
	type entry struct {
		ID          int64   `json:"id"`
		Attempt     bool    `json:"attempt"`
		Target      string  `json:"target"`
		At          string  `json:"at"`
		ConnectedAt *string `json:"connected_at"`
		Error       string  `json:"error"`
		ErrorCode   string  `json:"error_code"`
		Step        string  `json:"step"`
		HTTPStatus  int     `json:"http_status"`
	}
	var r struct {
		Sessions []entry `json:"sessions"`
	}
	getJSON(t, h, "/api/sessions", http.StatusOK, &r)
	if len(r.Sessions) != len(f.sessions)+2 {
		t.Fatalf("%d entries, want %d sessions + 2 attempts", len(r.Sessions), len(f.sessions))
	}
	for i := 1; i < len(r.Sessions); i++ {
		if r.Sessions[i].At > r.Sessions[i-1].At {
			t.Fatalf("not newest first at %d: %s after %s", i, r.Sessions[i].At, r.Sessions[i-1].At)
		}
	}
	var attempts []entry
	for _, e := range r.Sessions {
		if e.Attempt {
			attempts = append(attempts, e)
			if e.ConnectedAt != nil {
				t.Errorf("attempt with connected_at: %+v", e)
			}
		} else if e.ConnectedAt == nil || *e.ConnectedAt != e.At {
			t.Errorf("session at %s, connected_at %v", e.At, e.ConnectedAt)
		}
	}
	if len(attempts) != 2 || attempts[0].Target != "gamma" || attempts[0].ErrorCode != "unauthorized" || attempts[0].HTTPStatus != 401 ||
		attempts[0].At != apiTime(never) || attempts[1].Target != "alpha" || attempts[1].ErrorCode != "connection_refused" ||
		attempts[1].Step != "dial" || attempts[1].At != apiTime(between) || attempts[1].Error != "dial: connection refused" {
		t.Fatalf("attempts %+v", attempts)
	}

	var g struct {
		Sessions []entry `json:"sessions"`
	}
	getJSON(t, h, "/api/sessions?target=gamma", http.StatusOK, &g)
	if len(g.Sessions) != 1 || !g.Sessions[0].Attempt {
		t.Errorf("a target that never connected: %+v", g.Sessions)
	}
	var l struct {
		Sessions []entry `json:"sessions"`
	}
	getJSON(t, h, "/api/sessions?limit=2", http.StatusOK, &l)
	if len(l.Sessions) != 2 || l.Sessions[0].At != r.Sessions[0].At || l.Sessions[1].At != r.Sessions[1].At {
		t.Errorf("limit=2: %+v, want the first two of %+v", l.Sessions, r.Sessions[:2])
	}
}
