package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/store"
	"github.com/wsmon/wsmon/internal/store/storetest"
)

// BenchmarkFlushBehaviour: what a flush of the behaviour rollups costs the
// writer per message (ns/op), when every message is of a user new to the
// flush (the adversarial case: 1,000,000 distinct users), each table
// alone and all together. A flush holds the only writer connection of
// SQLite, so this time is taken from ingest.
//
//	go test -run '^$' -bench FlushBehaviour -benchtime 200000x ./internal/store/
func BenchmarkFlushBehaviour(b *testing.B) {
	for _, part := range []string{"users", "hours", "rooms", "pairs", "all"} {
		b.Run(part, func(b *testing.B) {
			st, err := store.Open(context.Background(), storetest.Options(b, filepath.Join(b.TempDir(), "b.db"), time.UTC))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			const per = 20_000
			n := 0
			b.ResetTimer()
			for i := 0; i < b.N; i += per {
				b.StopTimer()
				f := &store.BehaviourFlush{Users: map[string]*store.BehaviourUserDelta{}, UserHours: map[store.UserHour]int64{},
					UserRooms: map[store.UserRoom]*store.RoomDelta{}, Pairs: map[store.UserPair]int64{}, RoomHours: map[store.RoomHour]int64{},
					TargetHours: map[store.RoomHour]int64{}, GapMs: 1800000}
				for j := range per {
					u := fmt.Sprintf("user_%07d", (n*7919)%1_000_000)
					n++
					at := int64(1_790_000_000_000 + n*10)
					if part == "users" || part == "all" {
						f.Users[u] = &store.BehaviourUserDelta{Messages: 1, FirstSeen: at, LastSeen: at, Sessions: 1}
					}
					if part == "hours" || part == "all" {
						f.UserHours[store.UserHour{User: u, Hour: at / 3600000}] = 1
					}
					if part == "rooms" || part == "all" {
						f.UserRooms[store.UserRoom{User: u, Target: "t", Room: fmt.Sprint("room", j%8)}] = &store.RoomDelta{Count: 1, LastSeen: at}
					}
					if part == "pairs" || part == "all" {
						f.Pairs[store.UserPair{First: u, Second: fmt.Sprintf("user_%07d", (n*104729)%1_000_000)}] = 1
					}
				}
				b.StartTimer()
				if err := st.FlushBehaviour(context.Background(), f, "behaviour", int64(n), func([]store.BehaviourUserAfter) ([]byte, error) { return []byte("{}"), nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
