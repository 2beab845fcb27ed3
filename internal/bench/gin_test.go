package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wsmon/wsmon/internal/search"
)

// BenchmarkGINAlternative measures the search design the project did not
// pick for PostgreSQL (issue 12): a Go-computed gram array per message in
// a GIN index, candidates verified in Go with the same folding as the
// posting lists, against the same corpus and query mix as wsmon bench.
// It runs on a database that `wsmon bench --database-url` filled (its
// messages table), copying the messages once into a table of its own
// (gin_messages) with their grams, so the posting-list figures of that
// run and these come from the same messages:
//
//	wsmon bench --messages 1000000 --dir /tmp/pgb1 --database-url "$URL"
//	WSMON_GIN_DATABASE_URL="$URL" go test -run '^$' -bench BenchmarkGINAlternative -benchtime 1x -timeout 0 ./internal/bench/
//
// Each query asks, like the index, for the newest 50 matches that pass
// the filter: pages of candidates newest first (grams @> the plan's
// lookup grams, ORDER BY id DESC), verified in Go, until 50 are found or
// the candidates end. The total is timed apart (a count of the
// candidates, which is exact only for an exact plan).
func BenchmarkGINAlternative(b *testing.B) {
	url := os.Getenv("WSMON_GIN_DATABASE_URL")
	if url == "" {
		b.Skip("WSMON_GIN_DATABASE_URL unset: a database filled by wsmon bench --database-url")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	for range b.N {
		if err := ginBuild(ctx, b, conn); err != nil {
			b.Fatal(err)
		}
		if err := ginQueries(ctx, b, conn); err != nil {
			b.Fatal(err)
		}
	}
}

// ginBuild copies the messages with their grams into gin_messages and
// indexes it, unless an earlier run did.
func ginBuild(ctx context.Context, b *testing.B, conn *pgx.Conn) error {
	var n int64
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM pg_tables WHERE tablename = 'gin_messages' AND schemaname = current_schema()`).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE gin_messages (id bigint PRIMARY KEY, target text NOT NULL, room text NOT NULL,
		username text NOT NULL, received_at bigint NOT NULL, content text NOT NULL, grams bigint[] NOT NULL)`); err != nil {
		return err
	}
	t0 := time.Now()
	var last, copied int64
	var g []search.Gram
	var scratch []rune
	for {
		rows, err := conn.Query(ctx, `SELECT id, target, room, username, received_at, content FROM messages WHERE id > $1 ORDER BY id LIMIT 20000`, last)
		if err != nil {
			return err
		}
		var batch [][]any
		for rows.Next() {
			var id, at int64
			var target, room, user, content string
			if err := rows.Scan(&id, &target, &room, &user, &at, &content); err != nil {
				return err
			}
			g, scratch = search.AppendGrams(g[:0], scratch, content)
			g = search.AppendRuns(g, content)
			arr := make([]int64, 0, len(g))
			seen := make(map[search.Gram]bool, len(g))
			for _, x := range g {
				if !seen[x] {
					seen[x] = true
					arr = append(arr, int64(x))
				}
			}
			batch = append(batch, []any{id, target, room, user, at, content, arr})
			last = id
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(batch) == 0 {
			break
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"gin_messages"}, []string{"id", "target", "room", "username", "received_at", "content", "grams"}, pgx.CopyFromRows(batch)); err != nil {
			return err
		}
		copied += int64(len(batch))
	}
	copyTime := time.Since(t0)
	t1 := time.Now()
	for _, q := range []string{
		`CREATE INDEX gin_messages_grams ON gin_messages USING gin (grams)`,
		`CREATE INDEX gin_messages_user ON gin_messages (username, id)`,
		`CREATE INDEX gin_messages_room ON gin_messages (room, id)`,
		`CREATE INDEX gin_messages_target ON gin_messages (target, id)`,
		`CREATE INDEX gin_messages_time ON gin_messages (received_at)`,
		`ANALYZE gin_messages`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	var ginBytes, tableBytes int64
	if err := conn.QueryRow(ctx, `SELECT pg_relation_size('gin_messages_grams'), pg_total_relation_size('gin_messages') - pg_indexes_size('gin_messages')`).Scan(&ginBytes, &tableBytes); err != nil {
		return err
	}
	b.Logf("gin_messages: %d messages copied with their grams in %v, indexes built in %v; GIN index %.0f bytes/message, table with grams %.0f bytes/message",
		copied, copyTime.Round(time.Millisecond), time.Since(t1).Round(time.Millisecond), float64(ginBytes)/float64(copied), float64(tableBytes)/float64(copied))
	return nil
}

// ginQueries runs the query mix of wsmon bench against gin_messages and
// logs a table like wsmon bench's.
func ginQueries(ctx context.Context, b *testing.B, conn *pgx.Conn) error {
	var topUser, rareUser, longPresent string
	var firstAt, lastAt int64
	if err := conn.QueryRow(ctx, `SELECT username FROM gin_messages WHERE username <> '' GROUP BY username ORDER BY COUNT(*) DESC LIMIT 1`).Scan(&topUser); err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, `SELECT username FROM gin_messages WHERE username <> '' GROUP BY username ORDER BY COUNT(*), username LIMIT 1`).Scan(&rareUser); err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, `SELECT content FROM gin_messages WHERE id <= (SELECT MIN(id) + 100000 FROM gin_messages) ORDER BY length(content) DESC, id LIMIT 1`).Scan(&longPresent); err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, `SELECT MIN(received_at), MAX(received_at) FROM gin_messages`).Scan(&firstAt, &lastAt); err != nil {
		return err
	}
	rooms := NewCorpus(42, 1, 0).rooms
	var out strings.Builder
	tw := tabwriter.NewWriter(&out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query class\tp50 ms\tp95 ms\tp99 ms\tmax ms\ttotal p95 ms\thits (first query)\t")
	var all, allTotal []time.Duration
	const rounds = 5
	for _, qc := range queryMix {
		var texts []string
		for _, q := range qc.queries {
			texts = append(texts, expand(q, longPresent)...)
		}
		var ds, ts []time.Duration
		var hits string
		for r := range rounds {
			for qi, text := range texts {
				filter, args := "", []any{}
				switch qc.filter {
				case "top":
					filter, args = " AND username = $3", []any{topUser}
				case "rare":
					filter, args = " AND username = $3", []any{rareUser}
				case "room":
					filter, args = " AND room = $3", []any{rooms[1]}
				case "target":
					filter, args = " AND target = $3", []any{Target}
				case "time":
					span := lastAt - firstAt
					filter, args = " AND received_at >= $3 AND received_at < $4", []any{firstAt + span*3/8, firstAt + span*5/8}
				}
				t0 := time.Now()
				found, err := ginPage(ctx, conn, text, filter, args)
				d := time.Since(t0)
				if err != nil {
					return fmt.Errorf("query %q: %w", text, err)
				}
				t1 := time.Now()
				total, err := ginTotal(ctx, conn, text, filter, args)
				td := time.Since(t1)
				if err != nil {
					return fmt.Errorf("total %q: %w", text, err)
				}
				ds, ts = append(ds, d), append(ts, td)
				if r == 0 && qi == 0 {
					hits = fmt.Sprintf("%d of %d", found, total)
				}
			}
		}
		all, allTotal = append(all, ds...), append(allTotal, ts...)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", qc.class, ms(pct(ds, 50)), ms(pct(ds, 95)), ms(pct(ds, 99)), ms(pct(ds, 100)), ms(pct(ts, 95)), hits)
	}
	fmt.Fprintf(tw, "all queries\t%s\t%s\t%s\t%s\t%s\t\t\n", ms(pct(all, 50)), ms(pct(all, 95)), ms(pct(all, 99)), ms(pct(all, 100)), ms(pct(allTotal, 95)))
	tw.Flush()
	// Printed, not logged: a benchmark's log is cut after 10 lines.
	fmt.Printf("GIN gram arrays, newest 50 matches per query (%d rounds):\n%s", rounds, out.String())
	return nil
}

// ginGrams returns the plan of text and its lookup grams as an array.
func ginGrams(text string) (search.Plan, []int64) {
	plan := search.PlanQuery(text)
	n := min(len(plan.Grams), max(plan.Lookup, 1))
	arr := make([]int64, 0, n)
	for _, g := range plan.Grams[:n] {
		arr = append(arr, int64(g))
	}
	return plan, arr
}

// ginPage finds the newest 50 messages matching text and filter: pages of
// 200 candidates newest first, verified in Go.
func ginPage(ctx context.Context, conn *pgx.Conn, text, filter string, args []any) (int, error) {
	plan, grams := ginGrams(text)
	before := int64(1) << 62
	found := 0
	for found < 50 {
		q := `SELECT id, content FROM gin_messages WHERE id < $1` + filter
		a := append([]any{before, nil}, args...)
		if len(grams) > 0 {
			q += ` AND grams @> $2`
			a[1] = grams
		} else {
			q += ` AND $2::bigint[] IS NULL`
		}
		rows, err := conn.Query(ctx, q+` ORDER BY id DESC LIMIT 200`, a...)
		if err != nil {
			return found, err
		}
		n := 0
		for rows.Next() {
			var id int64
			var content string
			if err := rows.Scan(&id, &content); err != nil {
				return found, err
			}
			n++
			before = id
			if found < 50 && (plan.Exact || search.MatchFolded(content, plan.Folded)) {
				found++
			}
		}
		if err := rows.Err(); err != nil {
			return found, err
		}
		if n < 200 {
			break
		}
	}
	return found, nil
}

// ginTotal counts the candidates of text and filter (exact for an exact
// plan; verifying every candidate of a long query would cost a read of
// each).
func ginTotal(ctx context.Context, conn *pgx.Conn, text, filter string, args []any) (int64, error) {
	_, grams := ginGrams(text)
	q := `SELECT COUNT(*) FROM gin_messages WHERE $1::bigint[] IS NOT NULL` + filter
	a := append([]any{grams}, args...)
	if len(grams) > 0 {
		q = `SELECT COUNT(*) FROM gin_messages WHERE grams @> $1` + filter
	}
	// The filter's placeholders start at $3 (ginPage); shift them.
	q = strings.NewReplacer("$3", "$2", "$4", "$3").Replace(q)
	var n int64
	err := conn.QueryRow(ctx, q, a...).Scan(&n)
	return n, err
}
