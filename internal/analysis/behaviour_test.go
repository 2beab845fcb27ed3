package analysis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/store/storetest"
)

// behaviourMessages writes n messages from id first on, in batches of
// size: 40 users of uneven activity, three rooms on two targets, one in
// eight a join or system message, the time advancing by seconds to hours
// (so sessions, reply windows and days all have both sides).
func behaviourMessages(t *testing.T, st *store.Store, rng *rand.Rand, at *time.Time, first int64, n, size int) {
	t.Helper()
	for i := 0; i < n; i += size {
		var b []message.Message
		for j := i; j < min(n, i+size); j++ {
			gaps := []time.Duration{2 * time.Second, 20 * time.Second, 50 * time.Second, 90 * time.Second, 10 * time.Minute, 40 * time.Minute, 7 * time.Hour}
			*at = at.Add(gaps[rng.IntN(len(gaps))])
			typ := message.TypeChat
			switch rng.IntN(8) {
			case 0:
				typ = message.TypeJoin
			case 1:
				typ = message.TypeSystem
			}
			u := fmt.Sprintf("u%02d", min(rng.IntN(40), rng.IntN(40))) // some speak far more
			if rng.IntN(20) == 0 {
				u = ""
			}
			b = append(b, message.Message{ID: first + int64(j), Target: []string{"a", "b"}[rng.IntN(2)], SessionID: 1,
				ReceivedAt: *at, User: u, Room: []string{"r1", "r2", ""}[rng.IntN(3)], Type: typ, Content: "hi", Raw: []byte("x")})
		}
		if err := st.ApplyBatch(context.Background(), &store.Batch{Messages: b, AppliedSeq: uint64(b[len(b)-1].ID)}); err != nil {
			t.Fatal(err)
		}
	}
}

// wantBehaviour recomputes every behaviour figure from the stored
// messages, the way the package comment defines them.
type wantBehaviour struct {
	users       map[string]*UserRow
	days        map[string]map[int64]bool // user → local days active
	hours       map[string]map[int64]int64
	rooms       map[string]map[[2]string]int64
	pairs       map[[2]string]int64
	roomHours   map[[2]string]map[int64]int64 // room, target
	targetHours map[string]map[int64]int64
	minutes     map[string]map[int64]int64 // target → UTC minute
}

func recomputeBehaviour(t *testing.T, st *store.Store, loc *time.Location) wantBehaviour {
	t.Helper()
	rows, _, err := st.IndexRowsAfter(context.Background(), 0, 1<<20, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	w := wantBehaviour{users: map[string]*UserRow{}, days: map[string]map[int64]bool{}, hours: map[string]map[int64]int64{},
		rooms: map[string]map[[2]string]int64{}, pairs: map[[2]string]int64{}, roomHours: map[[2]string]map[int64]int64{},
		targetHours: map[string]map[int64]int64{"": {}}, minutes: map[string]map[int64]int64{"": {}}}
	type spoke struct {
		user string
		at   time.Time
	}
	last := map[[2]string]spoke{}
	for _, r := range rows {
		wall := r.ReceivedAt.In(loc)
		_, off := wall.Zone()
		h := floorDiv(r.ReceivedAt.UnixMilli()+int64(off)*1000, hourMs)
		rk := [2]string{r.Room, r.Target}
		if w.roomHours[rk] == nil {
			w.roomHours[rk] = map[int64]int64{}
		}
		w.roomHours[rk][h]++
		if w.targetHours[r.Target] == nil {
			w.targetHours[r.Target] = map[int64]int64{}
		}
		w.targetHours[r.Target][h]++
		w.targetHours[""][h]++
		if w.minutes[r.Target] == nil {
			w.minutes[r.Target] = map[int64]int64{}
		}
		w.minutes[r.Target][r.ReceivedAt.UnixMilli()/60000]++
		w.minutes[""][r.ReceivedAt.UnixMilli()/60000]++
		if r.User == "" || !activity(message.Type(r.Type)) {
			continue
		}
		u := w.users[r.User]
		if u == nil {
			u = &UserRow{User: r.User, FirstSeen: r.ReceivedAt, Sessions: 1}
			w.users[r.User] = u
			w.days[r.User], w.hours[r.User], w.rooms[r.User] = map[int64]bool{}, map[int64]int64{}, map[[2]string]int64{}
		} else if r.ReceivedAt.Sub(u.LastSeen) > DefaultSessionGap {
			u.Sessions++
		}
		u.Messages++
		u.LastSeen = r.ReceivedAt
		w.days[r.User][floorDiv(h, 24)] = true
		w.hours[r.User][h]++
		w.rooms[r.User][[2]string{r.Target, r.Room}]++
		k := [2]string{r.Target, r.Room}
		if p, ok := last[k]; ok && p.user != r.User && r.ReceivedAt.Sub(p.at) <= DefaultReplyWindow {
			w.pairs[[2]string{p.user, r.User}]++
		}
		last[k] = spoke{r.User, r.ReceivedAt}
	}
	return w
}

type behaviourAnswerer interface {
	Users(context.Context, UsersQuery) (UsersResult, error)
	User(ctx context.Context, name string, from, to time.Time) (UserResult, error)
	Activity(context.Context, ActivityQuery) (ActivityResult, error)
}

func checkBehaviour(t *testing.T, a behaviourAnswerer, st *store.Store, loc *time.Location, start, end time.Time) {
	t.Helper()
	ctx := context.Background()
	w := recomputeBehaviour(t, st, loc)

	// The list, every order, paged by 7.
	for _, sortBy := range []string{store.SortMessages, store.SortLastSeen, store.SortFirstSeen, store.SortName} {
		for _, desc := range []bool{true, false} {
			var got []UserRow
			cursor := ""
			for {
				res, err := a.Users(ctx, UsersQuery{Sort: sortBy, Desc: desc, Limit: 7, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				if res.Total != int64(len(w.users)) {
					t.Fatalf("total %d, want %d", res.Total, len(w.users))
				}
				got = append(got, res.Users...)
				if cursor = res.NextCursor; cursor == "" {
					break
				}
			}
			var want []UserRow
			for _, u := range w.users {
				want = append(want, UserRow{User: u.User, Messages: u.Messages, FirstSeen: u.FirstSeen.UTC(), LastSeen: u.LastSeen.UTC(), Sessions: u.Sessions})
			}
			key := func(u UserRow) int64 {
				switch sortBy {
				case store.SortMessages:
					return u.Messages
				case store.SortLastSeen:
					return u.LastSeen.UnixMilli()
				case store.SortFirstSeen:
					return u.FirstSeen.UnixMilli()
				}
				return 0
			}
			sort.Slice(want, func(i, j int) bool {
				ki, kj := key(want[i]), key(want[j])
				if ki != kj {
					return (ki < kj) != desc
				}
				return (want[i].User < want[j].User) != desc
			})
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("users by %s desc=%v:\n got %+v\nwant %+v", sortBy, desc, got, want)
			}
		}
	}
	if res, err := a.Users(ctx, UsersQuery{Contains: "u0", Sort: store.SortName, Limit: 100}); err != nil || len(res.Users) == 0 {
		t.Fatalf("contains: %+v %v", res, err)
	} else {
		for _, u := range res.Users {
			if u.User[:2] != "u0" {
				t.Fatalf("contains u0: %q", u.User)
			}
		}
	}
	if _, err := a.Users(ctx, UsersQuery{Sort: store.SortName, Limit: 5, Cursor: "bm90IG91cnM"}); err != ErrBadCursor {
		t.Fatalf("bad cursor: %v", err)
	}

	// Each user.
	for name, u := range w.users {
		res, err := a.User(ctx, name, start, end)
		if err != nil {
			t.Fatal(err)
		}
		if res.Messages != u.Messages || res.Sessions.Count != u.Sessions || !res.FirstSeen.Equal(u.FirstSeen) ||
			!res.LastSeen.Equal(u.LastSeen) || res.DaysActive != int64(len(w.days[name])) {
			t.Fatalf("%s: %+v, want %+v days %d", name, res, u, len(w.days[name]))
		}
		var heat Heatmap
		perDay := map[string]int64{}
		for h, n := range w.hours[name] {
			heat.add(h, n)
			perDay[dayString(floorDiv(h, 24))] += n
		}
		if res.Heatmap != heat {
			t.Fatalf("%s heatmap %v, want %v", name, res.Heatmap, heat)
		}
		var sum int64
		for _, d := range res.Daily {
			if d.Count != perDay[d.Date] {
				t.Fatalf("%s on %s: %d, want %d", name, d.Date, d.Count, perDay[d.Date])
			}
			sum += d.Count
		}
		if sum != u.Messages {
			t.Fatalf("%s: daily sums to %d, want %d (range %s..%s) %v %v", name, sum, u.Messages, start, end, perDay, res.Daily)
		}
		gotRooms := map[[2]string]int64{}
		for _, r := range res.Rooms {
			gotRooms[[2]string{r.Target, r.Room}] = r.Messages
		}
		if !reflect.DeepEqual(gotRooms, w.rooms[name]) {
			t.Fatalf("%s rooms %v, want %v", name, gotRooms, w.rooms[name])
		}
		before, after := map[string]int64{}, map[string]int64{}
		for k, n := range w.pairs {
			if k[1] == name {
				before[k[0]] = n
			}
			if k[0] == name {
				after[k[1]] = n
			}
		}
		for _, x := range []struct {
			got  []Neighbour
			want map[string]int64
		}{{res.Before, before}, {res.After, after}} {
			if len(x.got) != min(10, len(x.want)) {
				t.Fatalf("%s neighbours %v, want %v", name, x.got, x.want)
			}
			for i, n := range x.got {
				if x.want[n.User] != n.Count || (i > 0 && x.got[i-1].Count < n.Count) {
					t.Fatalf("%s neighbours %v, want %v", name, x.got, x.want)
				}
			}
		}
	}
	if _, err := a.User(ctx, "nobody", start, end); err != ErrNotFound {
		t.Fatalf("nobody: %v", err)
	}

	// A room's series, and the whole chat's user figures.
	res, err := a.Activity(ctx, ActivityQuery{Room: "r1", Target: "a", From: start, To: end, Step: StepHour})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, n := range w.roomHours[[2]string{"r1", "a"}] {
		total += n
	}
	if res.Total != total || res.Rooms != nil || res.Users != nil {
		t.Fatalf("room r1 of a: total %d, want %d (%+v)", res.Total, total, res)
	}
	for _, p := range res.Series {
		if h := floorDiv(p.T.UnixMilli()+offsetMs(p.T, loc), hourMs); p.Count != w.roomHours[[2]string{"r1", "a"}][h] {
			t.Fatalf("r1 at %s: %d, want %d", p.T, p.Count, w.roomHours[[2]string{"r1", "a"}][h])
		}
	}
	all, err := a.Activity(ctx, ActivityQuery{From: start, To: end, Step: StepDay})
	if err != nil {
		t.Fatal(err)
	}
	perDay := map[string]int64{}
	total = 0
	for h, n := range w.targetHours[""] {
		perDay[dayString(floorDiv(h, 24))] += n
		total += n
	}
	if all.Total != total || all.Previous.Total != 0 || len(all.Series) == 0 {
		t.Fatalf("all: total %d, want %d (previous %d)", all.Total, total, all.Previous.Total)
	}
	for _, p := range all.Series {
		if d := p.T.In(loc).Format("2006-01-02"); p.Count != perDay[d] {
			t.Fatalf("all on %s: %d, want %d", d, p.Count, perDay[d])
		}
	}
	// Minute by minute over the last six hours, of all and of one target.
	for _, target := range []string{"", "a"} {
		mres, err := a.Activity(ctx, ActivityQuery{Target: target, From: end.Add(-6 * time.Hour), To: end, Step: StepMinute})
		if err != nil {
			t.Fatal(err)
		}
		var sum int64
		for _, p := range mres.Series {
			if n := w.minutes[target][p.T.UnixMilli()/60000]; p.Count != n {
				t.Fatalf("%q at %s: %d, want %d", target, p.T, p.Count, n)
			}
			sum += p.Count
		}
		if sum != mres.Total || len(mres.Series) < 6*60 || len(mres.Series) > 6*60+1 {
			t.Fatalf("%q by minute: %d points summing to %d, total %d", target, len(mres.Series), sum, mres.Total)
		}
	}
	// One target, hour by hour over the last three days, and the three
	// days before.
	ta, err := a.Activity(ctx, ActivityQuery{Target: "b", From: end.Add(-72 * time.Hour), To: end, Step: StepHour})
	if err != nil {
		t.Fatal(err)
	}
	for _, per := range []Period{{Total: ta.Total, Series: ta.Series}, ta.Previous} {
		var sum int64
		for _, p := range per.Series {
			h := floorDiv(p.T.UnixMilli()+offsetMs(p.T, loc), hourMs)
			if p.Count != w.targetHours["b"][h] {
				t.Fatalf("b at %s: %d, want %d", p.T, p.Count, w.targetHours["b"][h])
			}
			sum += p.Count
		}
		if sum != per.Total || len(per.Series) < 72 {
			t.Fatalf("b: series sums to %d of %d points, total %d", sum, len(per.Series), per.Total)
		}
	}
	active, fresh := map[string]int64{}, map[string]int64{}
	ret := map[string][3]int64{}
	buckets := map[int]DistBucket{}
	var msgs int64
	for name, days := range w.days {
		firstDay := floorDiv(w.users[name].FirstSeen.UnixMilli()+offsetMs(w.users[name].FirstSeen, loc), 86400000)
		for d := range days {
			active[dayString(d)]++
		}
		fresh[dayString(firstDay)]++
		r := ret[dayString(firstDay)]
		for i, k := range []int64{1, 7, 30} {
			if days[firstDay+k] {
				r[i]++
			}
		}
		ret[dayString(firstDay)] = r
		n := w.users[name].Messages
		b := buckets[bucketOf(n)]
		b.Users++
		b.Messages += n
		buckets[bucketOf(n)] = b
		msgs += n
	}
	for _, d := range all.Users.Daily {
		if d.Active != active[d.Date] || d.New != fresh[d.Date] || d.Returning != d.Active-d.New {
			t.Fatalf("users on %s: %+v, want active %d new %d", d.Date, d, active[d.Date], fresh[d.Date])
		}
	}
	for _, r := range all.Users.Retention {
		want := ret[r.Date]
		for i, got := range []*int64{r.D1, r.D7, r.D30} {
			if got != nil && *got != want[i] {
				t.Fatalf("retention of %s: %+v, want %v", r.Date, r, want)
			}
		}
	}
	dist := all.Users.Distribution
	if dist.Users != int64(len(w.users)) || dist.Messages != msgs || len(dist.Buckets) != len(buckets) {
		t.Fatalf("distribution %+v, want %d users %d messages %v", dist, len(w.users), msgs, buckets)
	}
	for _, b := range dist.Buckets {
		if w := buckets[bucketOf(b.Min)]; w.Users != b.Users || w.Messages != b.Messages {
			t.Fatalf("bucket %+v, want %+v", b, w)
		}
	}
	counts := []int64{}
	for _, u := range w.users {
		counts = append(counts, u.Messages)
	}
	sort.Slice(counts, func(i, j int) bool { return counts[i] > counts[j] })
	var top int64
	for _, c := range counts[:(len(counts)*10+99)/100] {
		top += c
	}
	if want := float64(top) / float64(msgs); dist.Top10Share != want {
		t.Fatalf("top 10 %% share %v, want %v", dist.Top10Share, want)
	}
	if len(all.Rooms) == 0 || all.Rooms[0].Messages < all.Rooms[len(all.Rooms)-1].Messages {
		t.Fatalf("rooms %+v", all.Rooms)
	}
}

func offsetMs(t time.Time, loc *time.Location) int64 {
	_, off := t.In(loc).Zone()
	return int64(off) * 1000
}

func waitBehaviour(t *testing.T, a *Analyzer, id int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for a.Stats().BehaviourWritten < id {
		if time.Now().After(deadline) {
			t.Fatalf("behaviour written to %d, want %d (%+v)", a.Stats().BehaviourWritten, id, a.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBehaviourExact: the behaviour rollups equal a recomputation from
// the stored messages, in a zone half an hour off UTC, after dropped
// batches read back, a restart, a damaged state and a zone change (both
// rebuilt), and through a separate process's reader.
func TestBehaviourExact(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Skip("no zone data:", err)
	}
	ctx := context.Background()
	st := open(t, filepath.Join(t.TempDir(), "b.db"))
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, loc)
	at := start
	opt := Options{Store: st, Behaviour: true, Location: loc, Queue: 1, BehaviourWait: 10 * time.Millisecond}
	a, err := New(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	behaviourMessages(t, st, rng, &at, 1, 600, 100)
	run := func(a *Analyzer) func() {
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.Run(rctx) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
	}
	stop := run(a)
	waitBehaviour(t, a, 600)
	// While it runs: batches handed over (a queue of one drops some).
	for i := int64(0); i < 8; i++ {
		first := 601 + i*50
		behaviourMessages(t, st, rng, &at, first, 50, 50)
		b, err := messagesOf(st, first, 50)
		if err != nil {
			t.Fatal(err)
		}
		a.Committed(b)
	}
	waitBehaviour(t, a, 1000)
	end := at.Add(time.Hour)
	checkBehaviour(t, a, st, loc, start, end)
	// The name filter both ways: few names hold it (rows read by id) and
	// many do (the store's walk).
	for _, most := range []int{sparseNames, 2} {
		a.behq.names.max = most
		checkUsersFilter(t, a, recomputeBehaviour(t, st, loc))
	}
	stop()

	// Restart: more messages, counted once.
	behaviourMessages(t, st, rng, &at, 1001, 300, 60)
	end = at.Add(time.Hour)
	opt.Queue = 0
	a2, err := New(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	stop = run(a2)
	waitBehaviour(t, a2, 1300)
	checkBehaviour(t, a2, st, loc, start, end)
	stop()
	checkBehaviour(t, NewReader(st, nil).WithBehaviour(loc, 0, 0), st, loc, start, end)
	// A reader kept through the rebuilds below: its copy of the names
	// follows the rows written again.
	kept := NewReader(st, nil).WithBehaviour(loc, 0, 0)
	checkUsersFilter(t, kept, recomputeBehaviour(t, st, loc))
	if _, err := NewReader(st, nil).Users(ctx, UsersQuery{Sort: store.SortName, Limit: 1}); err != ErrOff {
		t.Fatalf("a reader without behaviour: %v", err)
	}

	// A damaged state, then another zone: rebuilt from the messages.
	if err := st.PutAnalysisState(ctx, NameBehaviour, 1300, []byte("{broken")); err != nil {
		t.Fatal(err)
	}
	for _, l := range []*time.Location{loc, time.UTC} {
		opt.Location = l
		a3, err := New(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		stop = run(a3)
		waitBehaviour(t, a3, 1300)
		checkBehaviour(t, a3, st, l, start, end)
		stop()
	}
	checkUsersFilter(t, kept, recomputeBehaviour(t, st, time.UTC))
}

func messagesOf(st *store.Store, first int64, n int) ([]message.Message, error) {
	rows, _, err := st.IndexRowsAfter(context.Background(), first-1, n, 1<<30)
	if err != nil {
		return nil, err
	}
	out := make([]message.Message, len(rows))
	for i, r := range rows {
		out[i] = message.Message{ID: r.ID, Target: r.Target, ReceivedAt: r.ReceivedAt, User: r.User, Room: r.Room, Type: message.Type(r.Type), Content: r.Content}
	}
	return out, nil
}

// TestBehaviourFlushFailure: while the database refuses the behaviour
// rollups (a trigger fails every flush's last table, as a full disk or a
// lost connection would fail it), each flush rolls back whole, nothing is
// written, the deltas are kept and the retries are spaced; once the
// database takes them again, the next flush writes them, and the figures
// equal a recomputation: no message lost or counted twice.
func TestBehaviourFlushFailure(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "f.db")
	st := open(t, path)
	side, err := storetest.OpenPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer side.Close()
	fail := []string{`CREATE TRIGGER beh_fail BEFORE INSERT ON beh_target_minutes BEGIN SELECT RAISE(ABORT, 'injected flush failure'); END`}
	heal := []string{`DROP TRIGGER beh_fail`}
	if side.Postgres() {
		fail = []string{`CREATE FUNCTION beh_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected flush failure'; END $$`,
			`CREATE TRIGGER beh_fail BEFORE INSERT ON beh_target_minutes FOR EACH ROW EXECUTE FUNCTION beh_fail()`}
		heal = []string{`DROP TRIGGER beh_fail ON beh_target_minutes`, `DROP FUNCTION beh_fail()`}
	}
	for _, q := range fail {
		if _, err := side.Exec(q); err != nil {
			t.Fatal(err)
		}
	}

	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	at := start
	rng := rand.New(rand.NewPCG(3, 4))
	behaviourMessages(t, st, rng, &at, 1, 400, 100)
	a, err := New(ctx, Options{Store: st, Behaviour: true, Location: time.UTC, BehaviourWait: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for a.Stats().BehaviourFailures < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no failed flushes: %+v", a.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	failedAt := time.Now()
	var users int
	if err := side.QueryRow(`SELECT COUNT(*) FROM beh_users`).Scan(&users); err != nil {
		t.Fatal(err)
	}
	if users != 0 || a.Stats().BehaviourWritten != 0 {
		t.Fatalf("after failed flushes: %d user rows, written to %d; want nothing (each rolled back)", users, a.Stats().BehaviourWritten)
	}
	// More messages while it fails, handed over as a monitor would.
	behaviourMessages(t, st, rng, &at, 401, 100, 50)
	b, err := messagesOf(st, 401, 100)
	if err != nil {
		t.Fatal(err)
	}
	a.Committed(b)
	time.Sleep(300 * time.Millisecond)
	if n := a.Stats().BehaviourFailures; n > 2+uint64(time.Since(failedAt)/time.Second)+1 {
		t.Errorf("%d failed flushes in %v: the retries are not spaced", n, time.Since(failedAt))
	}

	for _, q := range heal {
		if _, err := side.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	waitBehaviour(t, a, 500)
	checkBehaviour(t, a, st, time.UTC, start, at.Add(time.Hour))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d flushes failed and were rolled back; the next one wrote all 500 messages once", a.Stats().BehaviourFailures)
}

// checkUsersFilter: the users list with a name filter, in every order,
// paged by 3, equals the recomputation's users whose name holds it; a
// substring found only across two names (the index's buffer holds them
// one after another) matches none.
func checkUsersFilter(t *testing.T, a behaviourAnswerer, w wantBehaviour) {
	t.Helper()
	ctx := context.Background()
	for _, sub := range []string{"u0", "u1", "3", "9", "u", "none", "0u", "u00u01"} {
		for _, sortBy := range []string{store.SortMessages, store.SortLastSeen, store.SortFirstSeen, store.SortName} {
			for _, desc := range []bool{true, false} {
				var got []string
				cursor := ""
				for {
					res, err := a.Users(ctx, UsersQuery{Contains: sub, Sort: sortBy, Desc: desc, Limit: 3, Cursor: cursor})
					if err != nil {
						t.Fatal(err)
					}
					for _, u := range res.Users {
						got = append(got, u.User)
					}
					if cursor = res.NextCursor; cursor == "" {
						break
					}
				}
				var want []*UserRow
				for _, u := range w.users {
					if strings.Contains(u.User, sub) {
						want = append(want, u)
					}
				}
				key := func(u *UserRow) int64 {
					switch sortBy {
					case store.SortMessages:
						return u.Messages
					case store.SortLastSeen:
						return u.LastSeen.UnixMilli()
					case store.SortFirstSeen:
						return u.FirstSeen.UnixMilli()
					}
					return 0
				}
				sort.Slice(want, func(i, j int) bool {
					ki, kj := key(want[i]), key(want[j])
					if ki != kj {
						return (ki < kj) != desc
					}
					return (want[i].User < want[j].User) != desc
				})
				names := []string{}
				for _, u := range want {
					names = append(names, u.User)
				}
				if got == nil {
					got = []string{}
				}
				if !reflect.DeepEqual(got, names) {
					t.Fatalf("users holding %q by %s desc=%v:\n got %q\nwant %q", sub, sortBy, desc, got, names)
				}
			}
		}
	}
}
