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
// with the users' rows (the others key users by their row's id) and all
// together. A flush holds the only writer connection of
// SQLite, so this time is taken from ingest.
//
//	go test -run '^$' -bench FlushBehaviour -benchtime 200000x ./internal/store/
func BenchmarkFlushBehaviour(b *testing.B) {
	for _, part := range []string{"users", "users+hours", "users+rooms", "users+pairs", "all"} {
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
				prev := ""
				for j := range per {
					u := fmt.Sprintf("user_%07d", (n*7919)%1_000_000)
					n++
					at := int64(1_790_000_000_000 + n*10)
					// Every part: the other tables key users by their row's id.
					f.Users[u] = &store.BehaviourUserDelta{Messages: 1, FirstSeen: at, LastSeen: at, Sessions: 1}
					if part == "users+hours" || part == "all" {
						f.UserHours[store.UserHour{User: u, Hour: at / 3600000}] = 1
					}
					if part == "users+rooms" || part == "all" {
						f.UserRooms[store.UserRoom{User: u, Target: "t", Room: fmt.Sprint("room", j%8)}] = &store.RoomDelta{Count: 1, LastSeen: at}
					}
					if part == "users+pairs" || part == "all" {
						if prev != "" { // the previous speaker, then u
							f.Pairs[store.UserPair{First: prev, Second: u}] = 1
						}
					}
					prev = u
				}
				b.StartTimer()
				if err := st.FlushBehaviour(context.Background(), f, "behaviour", int64(n), func([]store.BehaviourUserAfter) ([]byte, error) { return []byte("{}"), nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
