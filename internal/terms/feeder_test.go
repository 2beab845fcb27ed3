package terms

import (
	"context"
	"sync"
	"testing"
)

func TestFeeder(t *testing.T) {
	tk, err := New(Options{Phrases: true})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCounter(CounterOptions{})
	f := NewFeeder(tk, c, 100)
	// Nothing consumes yet: the queue takes 100, the rest is dropped and
	// Offer does not block.
	var accepted []int64
	id := int64(0)
	for i := range 150 {
		id++
		ok := f.Offer(Message{ID: id, Day: 20000, Room: "lobby", Text: "服务器 闪退 again"})
		if ok != (i < 100) {
			t.Fatalf("offer %d: %v", i, ok)
		}
		if ok {
			accepted = append(accepted, id)
		}
	}
	if st := f.Stats(); st.Offered != 150 || st.Dropped != 50 || st.Queued != 100 || st.Counted != 0 {
		t.Fatalf("%+v", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { f.Run(ctx) })

	// One sender in id order, as the pipeline sends, taking snapshots as
	// it goes while Run counts: each holds exactly the accepted messages
	// up to its applied id.
	for round := range 10 {
		for range 300 {
			id++
			if f.Offer(Message{ID: id, Day: 20000, Room: "support", Text: "退款 失败 refund failed"}) {
				accepted = append(accepted, id)
			}
		}
		state, applied, err := f.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		c2 := NewCounter(CounterOptions{})
		if err := c2.UnmarshalBinary(state); err != nil {
			t.Fatal(err)
		}
		want := uint64(0)
		for _, a := range accepted {
			if a <= applied {
				want++
			}
		}
		var got uint64
		if dc := c2.days[20000]; dc != nil {
			got = dc.all.msgs
		}
		if got != want {
			t.Fatalf("round %d: snapshot at id %d holds %d messages, want %d", round, applied, got, want)
		}
	}

	// Senders from several goroutines: nothing blocks, nothing is lost
	// from the counts.
	var senders sync.WaitGroup
	for g := range 4 {
		senders.Go(func() {
			for i := range 1000 {
				f.Offer(Message{ID: int64(10000 + g*1000 + i), Day: 20000, Room: "vip", Text: "闪退"})
			}
		})
	}
	senders.Wait()
	cancel()
	wg.Wait()
	st := f.Stats()
	if st.Offered != 7150 || st.Counted+st.Dropped != st.Offered || st.Queued != 0 {
		t.Errorf("after Run: %+v", st)
	}
	c.mu.Lock()
	dc := c.days[20000]
	count := func(room, term string) uint64 {
		if s := dc.rooms[room]; s != nil {
			lo, _ := s.bounds(term)
			return lo
		}
		return 0
	}
	lobby, support, vip := count("lobby", "闪退"), count("support", "退款"), count("vip", "闪退")
	total := dc.all.msgs
	c.mu.Unlock()
	if lobby != 100 || lobby+support+vip != st.Counted || total != st.Counted {
		t.Errorf("lobby %d, support %d, vip %d, total %d, counted %d", lobby, support, vip, total, st.Counted)
	}
}
