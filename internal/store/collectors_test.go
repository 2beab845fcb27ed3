package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

// TestCollectorsAndLeases: collector ids (the first claim continues
// collector 1; another name gets a new id; a live holder is refused, a
// stale one taken over), the per-collector applied position, and the
// leases' rules (a held lease is refused to others and renewed by its
// owner even after it expired; an expired or released one goes to the
// next collector with the epoch raised and the previous owner recorded;
// a renewal reports a lease it lost).
func TestCollectorsAndLeases(t *testing.T) {
	ctx := context.Background()
	opts := testOptions(t, time.UTC)
	s, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	p := func(name string, pid int, beat time.Time) Collector {
		return Collector{Name: name, PID: pid, Mode: "monitor", Version: "test", StartedAt: beat, HeartbeatAt: beat}
	}
	id1, _, err := s.ClaimCollector(ctx, 0, p("a:/d1", 10, now), now.Add(-15*time.Second))
	if err != nil || id1 != 1 {
		t.Fatalf("first claim: id %d, %v; want 1", id1, err)
	}
	id2, _, err := s.ClaimCollector(ctx, 0, p("b:/d2", 11, now), now.Add(-15*time.Second))
	if err != nil || id2 != 2 {
		t.Fatalf("second collector: id %d, %v; want 2", id2, err)
	}
	// Another process under id 2 while its heartbeat is fresh: refused.
	if _, holder, err := s.ClaimCollector(ctx, 2, p("c:/copy", 12, now), now.Add(-15*time.Second)); !errors.Is(err, ErrCollectorBusy) || holder.Name != "b:/d2" {
		t.Fatalf("claim of a live collector's id: %v (holder %+v), want ErrCollectorBusy naming b:/d2", err, holder)
	}
	// Once its heartbeat is stale, taken over.
	later := now.Add(20 * time.Second)
	if got, _, err := s.ClaimCollector(ctx, 2, p("b:/d2", 13, later), later.Add(-15*time.Second)); err != nil || got != 2 {
		t.Fatalf("claim of a stale id: %d, %v", got, err)
	}
	if n, err := s.LiveCollectors(ctx, later.Add(-15*time.Second)); err != nil || n != 1 {
		t.Fatalf("live collectors: %d, %v; want 1 (collector 1's heartbeat is stale)", n, err)
	}

	// The applied position is per collector.
	s2, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s.SetCollector(1)
	s2.SetCollector(2)
	if err := s.ApplyBatch(ctx, &Batch{AppliedSeq: 7}); err != nil {
		t.Fatal(err)
	}
	if err := s2.ApplyBatch(ctx, &Batch{AppliedSeq: 3}); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.AppliedSeq(ctx); a != 7 {
		t.Errorf("collector 1 applied %d, want 7", a)
	}
	if a, _ := s2.AppliedSeq(ctx); a != 3 {
		t.Errorf("collector 2 applied %d, want 3", a)
	}

	const ttl = 300 * time.Millisecond
	name := TargetLease("t")
	steps := []struct {
		what      string
		do        func() (bool, Lease, error)
		ok        bool
		owner     int64
		epoch     int64
		prevOwner int64
	}{
		{"1 takes a free lease", func() (bool, Lease, error) { return s.AcquireLease(ctx, name, 1, ttl) }, true, 1, 1, 0},
		{"2 is refused a held one", func() (bool, Lease, error) { return s.AcquireLease(ctx, name, 2, ttl) }, false, 0, 0, 0},
		{"1 asks again: keeps it, same epoch", func() (bool, Lease, error) { return s.AcquireLease(ctx, name, 1, ttl) }, true, 1, 1, 0},
		{"2 takes it once expired", func() (bool, Lease, error) {
			time.Sleep(ttl + 100*time.Millisecond)
			return s.AcquireLease(ctx, name, 2, ttl)
		}, true, 2, 2, 1},
	}
	for _, st := range steps {
		ok, l, err := st.do()
		if err != nil {
			t.Fatalf("%s: %v", st.what, err)
		}
		if ok != st.ok || (ok && (l.Owner != st.owner || l.Epoch != st.epoch || l.PrevOwner != st.prevOwner)) {
			t.Fatalf("%s: ok %v, lease %+v; want ok %v, owner %d, epoch %d, previous owner %d", st.what, ok, l, st.ok, st.owner, st.epoch, st.prevOwner)
		}
	}
	held, err := s.RenewLeases(ctx, 1, []string{name}, ttl)
	if err != nil || held[name] {
		t.Fatalf("1 renews a lease it lost: held %v, %v; want it reported lost", held, err)
	}
	time.Sleep(ttl + 100*time.Millisecond) // expired, nobody else took it
	if held, err := s.RenewLeases(ctx, 2, []string{name}, ttl); err != nil || !held[name] {
		t.Fatalf("2 renews its expired lease: held %v, %v; want renewed (nobody took it)", held, err)
	}
	if err := s.ReleaseLeases(ctx, 2, []string{name}); err != nil {
		t.Fatal(err)
	}
	if ok, l, err := s.AcquireLease(ctx, name, 1, ttl); err != nil || !ok || l.Epoch != 3 || l.PrevOwner != 2 {
		t.Fatalf("1 takes the released lease: %v %+v %v; want epoch 3, previous owner 2", ok, l, err)
	}
}

// TestFencing (PostgreSQL: the write path fences batches there): a
// collector whose target another collector took over writes the messages
// it received before the new owner's grant and not those after; and, after
// a takeover, a message whose dedup key the other collector stored since
// the grant is not written twice, from either side.
func TestFencing(t *testing.T) {
	ctx := context.Background()
	opts := testOptions(t, time.UTC)
	if opts.Driver != "postgres" {
		t.Skip("fencing is PostgreSQL's (SQLite has one collector): runs in the PostgreSQL pass")
	}
	old, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	taker, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer taker.Close()
	now := time.Now()
	for i, st := range []*Store{old, taker} {
		id, _, err := st.ClaimCollector(ctx, 0, Collector{Name: []string{"old", "taker"}[i], PID: i, HeartbeatAt: now, StartedAt: now}, now.Add(-time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		st.SetCollector(id)
	}
	name := TargetLease("t")
	if ok, _, err := old.AcquireLease(ctx, name, 1, 200*time.Millisecond); err != nil || !ok {
		t.Fatal(ok, err)
	}
	msg := func(key uint64, at time.Time, content string) message.Message {
		return message.Message{Target: "t", SessionID: 1, ReceivedAt: at, Type: message.TypeChat, Content: content, Raw: []byte(content), DedupKey: key}
	}
	before := time.Now()
	if err := old.ApplyBatch(ctx, &Batch{Messages: []message.Message{msg(1, before, "one")}, AppliedSeq: 1}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	ok, l, err := taker.AcquireLease(ctx, name, 2, time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	// The taker stores message 2 (a replay gives it message 1 again).
	b := &Batch{Messages: []message.Message{msg(1, l.GrantedAt.Add(time.Millisecond), "one"), msg(2, l.GrantedAt.Add(2*time.Millisecond), "two")}, AppliedSeq: 1}
	if err := taker.ApplyBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	if len(b.Messages) != 2 || b.CrossDuplicates != 0 {
		// Message 1 was stored before the grant: ids up to granted_id are
		// not looked at, so the taker's copy is stored (its own in-memory
		// dedup, seeded at start, is what catches older replays).
		t.Logf("taker's batch: %d written, %d duplicates", len(b.Messages), b.CrossDuplicates)
	}
	// The old owner resumes with what it read before the grant (message 2
	// again: the taker stored it; and 3) and after it (4).
	ob := &Batch{Messages: []message.Message{msg(2, l.GrantedAt.Add(-10*time.Millisecond), "two"), msg(3, l.GrantedAt.Add(-5*time.Millisecond), "three"), msg(4, l.GrantedAt.Add(time.Second), "four")}, AppliedSeq: 2}
	if err := old.ApplyBatch(ctx, ob); err != nil {
		t.Fatal(err)
	}
	if ob.Fenced != 1 || ob.FencedTargets["t"] != 2 || ob.CrossDuplicates != 1 || len(ob.Messages) != 1 || ob.Messages[0].Content != "three" {
		t.Fatalf("old owner's batch: fenced %d (%v), duplicates %d, written %+v; want 1 fenced (four), 1 duplicate (two), three written",
			ob.Fenced, ob.FencedTargets, ob.CrossDuplicates, ob.Messages)
	}
	var n int
	if err := old.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM messages WHERE content = 'two'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("'two' stored %d times, %v; want once", n, err)
	}
	// Ids are the database's, in commit order.
	var ids []int64
	rows, err := old.r.QueryContext(ctx, `SELECT id FROM messages ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	for i, id := range ids {
		if id != int64(i+1) {
			t.Fatalf("ids %v: want 1…%d without gaps", ids, len(ids))
		}
	}
}
