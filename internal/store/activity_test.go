package store

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

// activityMsgs: alice chats twice, bob sends an "other" event, and the
// server's "system" user, a joiner and a leaver only do what is not user
// activity.
func activityMsgs(now time.Time) []message.Message {
	at := now.Add(-time.Hour)
	ms := []message.Message{
		{User: "alice", Type: message.TypeChat, Content: "hi"},
		{User: "system", Type: message.TypeSystem, Content: "server restarting"},
		{User: "joiner", Type: message.TypeJoin},
		{User: "alice", Type: message.TypeChat, Content: "again"},
		{User: "leaver", Type: message.TypeLeave},
		{User: "bob", Type: message.TypeOther},
	}
	for i := range ms {
		ms[i].ID, ms[i].Target, ms[i].ReceivedAt = int64(i+1), "t", at.Add(time.Duration(i)*time.Second)
	}
	return ms
}

// TestActivityCountsOnlyUsersDoing: the leaderboard and the active-user
// count (the full-scan reference the index's rollups are tested against)
// leave out system, join and leave messages; and activitySQL agrees with
// message.IsActivity on every type.
func TestActivityCountsOnlyUsersDoing(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testOptions(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	if err := s.ApplyBatch(ctx, &Batch{Messages: activityMsgs(now), AppliedSeq: 1}); err != nil {
		t.Fatal(err)
	}
	st, err := s.StatsScan(ctx, StatsQuery{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if want := []UserCount{{User: "alice", Count: 2}, {User: "bob", Count: 1}}; !reflect.DeepEqual(st.TopUsers, want) || st.ActiveUsers != 2 {
		t.Fatalf("top %+v active %d, want %+v and 2", st.TopUsers, st.ActiveUsers, want)
	}
	for _, typ := range []message.Type{message.TypeChat, message.TypeSystem, message.TypeJoin, message.TypeLeave, message.TypeOther} {
		var n int
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT CAST(? AS TEXT) AS type) AS x WHERE `+activitySQL, string(typ)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if (n == 1) != message.IsActivity(typ) {
			t.Errorf("type %s: activitySQL %v, IsActivity %v", typ, n == 1, message.IsActivity(typ))
		}
	}
}

// TestMigrationComputesActivity: migration 8 fills the new activity
// columns of rollup rows written before it from the messages they cover.
func TestMigrationComputesActivity(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testOptions(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	ms := activityMsgs(now)
	if err := s.ApplyBatch(ctx, &Batch{Messages: ms, AppliedSeq: 1}); err != nil {
		t.Fatal(err)
	}
	// Rollup rows as a wsmon before migration 8 wrote them: counts of
	// every message, no activity.
	var us []UserRow
	for _, u := range []string{"alice", "system", "joiner", "leaver", "bob"} {
		row := UserRow{Target: "t", User: u}
		for _, m := range ms {
			if m.User == u {
				row.Count++
				row.FirstSeen, row.LastSeen = m.ReceivedAt.UnixMilli(), m.ReceivedAt.UnixMilli()
			}
		}
		us = append(us, row)
	}
	if err := s.WriteIndexFlush(ctx, &IndexFlush{Users: us, IndexedID: int64(len(ms))}); err != nil {
		t.Fatal(err)
	}
	for _, q := range s.d.migrations[7][2:] {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	_, got, err := s.LoadRollups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int64{"alice": {2, ms[3].ReceivedAt.UnixMilli()}, "bob": {1, ms[5].ReceivedAt.UnixMilli()}, "system": {}, "joiner": {}, "leaver": {}}
	for _, u := range got {
		if w := want[u.User]; u.Activity != w[0] || u.LastActive != w[1] {
			t.Errorf("%s: activity %d last %d, want %v", u.User, u.Activity, u.LastActive, w)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
}
