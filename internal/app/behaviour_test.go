package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/analysis"
	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/store"
)

// TestBehaviourEndToEnd: messages sent through the demo server are rolled
// up behind ingest as app.Run composes it, and the users list, each
// user's page and the activity endpoint equal a recomputation from the
// stored messages; a separate `wsmon web` and a restart serve the same
// figures (nothing counted twice), new messages are counted once.
func TestBehaviourEndToEnd(t *testing.T) {
	d := newDemo(t, nil)
	cfg := testConfig(t, d.URL())
	on := true
	cfg.AnalysisBehaviour = &on
	h := start(t, ModeAll, cfg)
	h.waitConnected()
	waitFor(t, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })
	api := "http://" + h.webAddr
	users := []string{"小明", "alice", "bob", "x/y", "carol"}
	sent := 0
	for i := range 90 {
		u := users[(i*i+i/7)%len(users)]
		typ := "chat"
		if i%11 == 10 {
			typ = "join"
		}
		d.Inject(fmt.Appendf(nil, `{"type":%q,"user":%q,"room":"r%d","content":"m%d"}`, typ, u, i%3, i), false)
		sent++
	}
	d.Inject([]byte(`{"type":"system","content":"restarting"}`), false)
	sent++
	h.waitMessages(int64(sent), 10*time.Second)
	last := newestID(t, api)
	var list analysis.UsersResult
	waitFor(t, 15*time.Second, "behaviour as of the last message", func() bool {
		analysisGet(t, api+"/api/analysis/users?sort=name&order=asc", &list)
		return list.AsOfID >= last
	})
	got := behaviourFigures(t, api)
	h.stop()

	want := recomputeFigures(t, cfg)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("behaviour figures\n got %+v\nwant %+v", got, want)
	}

	// A separate web process: the same.
	w := start(t, ModeWeb, cfg)
	if g := behaviourFigures(t, "http://"+w.webAddr); !reflect.DeepEqual(g, want) {
		t.Errorf("separate web:\n got %+v\nwant %+v", g, want)
	}
	w.stop()

	// Restart: the same; then three more messages, counted once.
	h2 := start(t, ModeAll, cfg)
	api2 := "http://" + h2.webAddr
	if g := behaviourFigures(t, api2); !reflect.DeepEqual(g, want) {
		t.Errorf("after a restart:\n got %+v\nwant %+v", g, want)
	}
	h2.waitConnected()
	waitFor(t, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })
	for range 3 {
		d.Inject([]byte(`{"type":"chat","user":"bob","room":"r1","content":"again"}`), false)
	}
	waitFor(t, 15*time.Second, "the new messages counted", func() bool {
		var u analysis.UserResult
		analysisGet(t, api2+"/api/analysis/users/bob", &u)
		return u.Messages == want.Users["bob"].Messages+3
	})
	var u analysis.UserResult
	analysisGet(t, api2+"/api/analysis/users/bob", &u)
	h2.stop()
	if u.Messages != want.Users["bob"].Messages+3 {
		t.Errorf("bob after 3 more: %d, want %d", u.Messages, want.Users["bob"].Messages+3)
	}
}

// figures are what the test compares: per user their list row and page
// (without the times of the response), and the activity totals.
type figures struct {
	Users    map[string]analysis.UserRow
	Rooms    map[string]map[string]int64 // user → target/room → messages
	Before   map[string]map[string]int64
	After    map[string]map[string]int64
	Total    int64            // activity: all messages of today and yesterday
	PerTopic map[string]int64 // activity of room r0, r1, r2
	Minutes  int64            // activity by minute over the last hour
	Active   int64            // active users today
}

func behaviourFigures(t *testing.T, api string) figures {
	t.Helper()
	f := figures{Users: map[string]analysis.UserRow{}, Rooms: map[string]map[string]int64{}, Before: map[string]map[string]int64{},
		After: map[string]map[string]int64{}, PerTopic: map[string]int64{}}
	cursor := ""
	for {
		var page analysis.UsersResult
		analysisGet(t, api+"/api/analysis/users?sort=name&order=asc&limit=2&cursor="+url.QueryEscape(cursor), &page)
		for _, u := range page.Users {
			f.Users[u.User] = u
		}
		if cursor = page.NextCursor; cursor == "" {
			if int(page.Total) != len(f.Users) {
				t.Fatalf("total %d, listed %d", page.Total, len(f.Users))
			}
			break
		}
	}
	for name := range f.Users {
		var u analysis.UserResult
		analysisGet(t, api+"/api/analysis/users/"+url.PathEscape(name), &u)
		f.Rooms[name], f.Before[name], f.After[name] = map[string]int64{}, map[string]int64{}, map[string]int64{}
		for _, r := range u.Rooms {
			f.Rooms[name][r.Target+"/"+r.Room] = r.Messages
		}
		for _, n := range u.Before {
			f.Before[name][n.User] = n.Count
		}
		for _, n := range u.After {
			f.After[name][n.User] = n.Count
		}
		if u.Messages != f.Users[name].Messages || u.Sessions.Count != f.Users[name].Sessions {
			t.Fatalf("%s: page %+v, list %+v", name, u, f.Users[name])
		}
	}
	from := time.Now().Add(-24 * time.Hour).UTC().Format(time.RFC3339)
	var a analysis.ActivityResult
	analysisGet(t, api+"/api/analysis/activity?step=hour&from="+from, &a)
	f.Total = a.Total
	if a.Users == nil || len(a.Users.Daily) == 0 {
		t.Fatalf("activity without users: %+v", a)
	}
	f.Active = a.Users.Daily[len(a.Users.Daily)-1].Active
	for _, r := range []string{"r0", "r1", "r2"} {
		var x analysis.ActivityResult
		analysisGet(t, api+"/api/analysis/activity?step=hour&room="+r+"&from="+from, &x)
		f.PerTopic[r] = x.Total
	}
	var m analysis.ActivityResult
	analysisGet(t, api+"/api/analysis/activity?step=minute&from="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), &m)
	f.Minutes = m.Total
	return f
}

func recomputeFigures(t *testing.T, cfg config.Config) figures {
	t.Helper()
	st, err := store.Open(context.Background(), cfg.StoreOptions(false))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := st.IndexRowsAfter(context.Background(), 0, 1<<20, 1<<30)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	f := figures{Users: map[string]analysis.UserRow{}, Rooms: map[string]map[string]int64{}, Before: map[string]map[string]int64{},
		After: map[string]map[string]int64{}, PerTopic: map[string]int64{}}
	type spoke struct {
		user string
		at   time.Time
	}
	last := map[string]spoke{}
	for _, r := range rows {
		f.Total++
		f.Minutes++
		if r.Room != "" {
			f.PerTopic[r.Room]++
		}
		if r.User == "" || r.Type == "system" || r.Type == "join" || r.Type == "leave" {
			continue
		}
		u, ok := f.Users[r.User]
		if !ok {
			u = analysis.UserRow{User: r.User, FirstSeen: r.ReceivedAt.UTC(), Sessions: 1}
			f.Rooms[r.User], f.Before[r.User], f.After[r.User] = map[string]int64{}, map[string]int64{}, map[string]int64{}
		} else if r.ReceivedAt.Sub(u.LastSeen) > analysis.DefaultSessionGap {
			u.Sessions++
		}
		u.Messages++
		u.LastSeen = r.ReceivedAt.UTC()
		f.Users[r.User] = u
		f.Rooms[r.User][r.Target+"/"+r.Room]++
		k := r.Target + "/" + r.Room
		if p, ok := last[k]; ok && p.user != r.User && r.ReceivedAt.Sub(p.at) <= analysis.DefaultReplyWindow {
			f.After[p.user][r.User]++
			f.Before[r.User][p.user]++
		}
		last[k] = spoke{r.User, r.ReceivedAt}
	}
	f.Active = int64(len(f.Users))
	// At most ten neighbours are listed: the test's five users fit.
	for _, m := range []map[string]map[string]int64{f.Before, f.After} {
		for u, ns := range m {
			if len(ns) > 10 {
				t.Fatalf("%s has %d neighbours", u, len(ns))
			}
		}
	}
	return f
}

// TestBehaviourOff: with analysis_behaviour off (the default) the three
// endpoints answer 409 naming the key, and nothing is rolled up.
func TestBehaviourOff(t *testing.T) {
	d := newDemo(t, nil)
	cfg := testConfig(t, d.URL())
	h := start(t, ModeAll, cfg)
	defer h.stop()
	var cfgPage struct {
		Analyses []string `json:"analyses"`
	}
	analysisGet(t, "http://"+h.webAddr+"/api/ui-config", &cfgPage)
	if i := sort.SearchStrings(cfgPage.Analyses, "behaviour"); i < len(cfgPage.Analyses) && cfgPage.Analyses[i] == "behaviour" {
		t.Errorf("ui-config lists behaviour as on: %v", cfgPage.Analyses)
	}
	for _, p := range []string{"/api/analysis/users", "/api/analysis/users/bob", "/api/analysis/activity"} {
		resp, err := http.Get("http://" + h.webAddr + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		if resp.StatusCode != http.StatusConflict || e.Error.Code != "analysis_off" || !strings.Contains(e.Error.Message, "analysis_behaviour") {
			t.Errorf("%s: %s %s, want 409 analysis_off naming analysis_behaviour", p, resp.Status, body)
		}
	}
}
