package cli

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/export"
	"github.com/wsmon/wsmon/internal/testkit"
)

// exported is one decoded object of a JSON or NDJSON export.
type exported struct {
	ID         int64   `json:"id"`
	Target     string  `json:"target"`
	ReceivedAt string  `json:"received_at"`
	SentAt     *string `json:"sent_at"`
	User       string  `json:"user"`
	Room       string  `json:"room"`
	Type       string  `json:"type"`
	Content    string  `json:"content"`
	Reason     string  `json:"reason"`
	SessionID  int64   `json:"session_id"`
	Raw        *string `json:"raw"`
}

func decodeNDJSON(t *testing.T, b []byte) []exported {
	t.Helper()
	var out []exported
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var m exported
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("NDJSON line %d: %v: %s", len(out)+1, err, sc.Bytes())
		}
		out = append(out, m)
	}
	return out
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ids(ms []exported) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// apiIDs pages through a running wsmon's GET path?query and returns the
// ids, as a client of the API would see them.
func apiIDs(t *testing.T, addr, path, query string) []int64 {
	t.Helper()
	var out []int64
	before := ""
	for {
		u := "http://" + addr + path + "?limit=50&" + query
		if before != "" {
			u += "&before=" + before
		}
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Messages []struct{ ID int64 }
			Next     *string
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if res.StatusCode != 200 || err != nil {
			t.Fatalf("GET %s: %d %v", u, res.StatusCode, err)
		}
		for _, m := range page.Messages {
			out = append(out, m.ID)
		}
		if page.Next == nil {
			return out
		}
		before = *page.Next
	}
}

// apiNewest is the id of the newest message a running wsmon has stored.
func apiNewest(t *testing.T, addr string) int64 {
	t.Helper()
	res, err := http.Get("http://" + addr + "/api/messages?limit=1")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var page struct{ Messages []struct{ ID int64 } }
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil || len(page.Messages) == 0 {
		t.Fatalf("newest message: %v", err)
	}
	return page.Messages[0].ID
}

// TestExportCommand: wsmon export against a database written the
// production way (wsmon all capturing a demo server) while that monitor
// runs and holds the data directory: each format holds every stored
// message as stored, and the filters and searches select exactly what
// /api/messages and /api/search of the running wsmon return.
func TestExportCommand(t *testing.T) {
	d := demo.New(demo.Options{Addr: "127.0.0.1:0", Seed: 7})
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cfg := testkit.Config(t, d.URL())
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 15*time.Second)
	specials := []struct{ user, room, content string }{
		{"小明", "游戏大厅", "今天有紧急情况，请注意"},
		{"=cmd", "lobby", "=1+1"},
		{"@x", "+r", "-5 紧急"},
		{"eve", "lobby", "<script>alert(1)</script>"},
		{"bob", "dev", "a,\"b\"\nnext line"},
	}
	for _, s := range specials {
		b, _ := json.Marshal(map[string]string{"type": "chat", "user": s.user, "room": s.room, "content": s.content})
		d.Inject(b, false)
	}
	if err := d.Burst(1500); err != nil {
		t.Fatal(err)
	}
	stored := m.WaitMessages(t, len(specials)+1500, 60*time.Second)
	byID := map[int64]testkit.Stored{}
	for _, s := range stored {
		byID[s.ID] = s
	}
	dir := t.TempDir()
	db := cfg.DatabasePath
	exportFile := func(t *testing.T, args ...string) []byte {
		t.Helper()
		out := filepath.Join(dir, "out-"+strconv.Itoa(len(args))+"-"+strings.ReplaceAll(strings.Join(args, "_"), "/", "_"))
		if len(out) > 200 {
			out = out[:200]
		}
		code, stdout, stderr := run(t, dir, append([]string{"export", "--db", db, "--out", out}, args...)...)
		if code != ExitOK || stdout != "" || !strings.HasPrefix(stderr, "wsmon: exported ") {
			t.Fatalf("export %q: exit %d\nstdout %q\nstderr %q", args, code, stdout, stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(out); st.Mode().Perm() != 0o600 {
			t.Errorf("file mode %v", st.Mode())
		}
		leftovers, _ := filepath.Glob(filepath.Join(dir, ".*.tmp"))
		if len(leftovers) > 0 {
			t.Errorf("temporary files left: %v", leftovers)
		}
		return b
	}

	all := decodeNDJSON(t, exportFile(t, "--format", "ndjson", "--raw"))
	if len(all) != len(stored) {
		t.Fatalf("exported %d messages, %d stored", len(all), len(stored))
	}
	for i, e := range all {
		s := stored[len(stored)-1-i]
		if e.ID != s.ID || e.Target != s.Target || e.User != s.User || e.Room != s.Room || e.Type != s.Type ||
			e.Content != s.Content || e.Reason != s.Reason || e.SessionID != s.Session || e.Raw == nil || *e.Raw != string(s.Raw) {
			t.Fatalf("exported %+v\nstored %+v", e, s)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", e.ReceivedAt); err != nil {
			t.Errorf("received_at %q: %v", e.ReceivedAt, err)
		}
	}

	var arr []exported
	if err := json.Unmarshal(exportFile(t, "--format", "json", "--raw"), &arr); err != nil {
		t.Fatal(err)
	}
	if a, b := jsonOf(t, arr), jsonOf(t, all); a != b {
		t.Error("the JSON array differs from the NDJSON lines")
	}

	b := exportFile(t) // CSV with a BOM: the defaults
	rest, ok := bytes.CutPrefix(b, []byte("\uFEFF"))
	if !ok {
		t.Fatal("CSV without BOM")
	}
	recs, err := csv.NewReader(bytes.NewReader(rest)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], export.Columns) || len(recs) != len(stored)+1 {
		t.Fatalf("CSV header %q and %d rows", recs[0], len(recs)-1)
	}
	for i, r := range recs[1:] {
		e := all[i]
		if r[0] != strconv.FormatInt(e.ID, 10) || r[1] != e.ReceivedAt || r[5] != export.Neutralize(e.User) || r[4] != export.Neutralize(e.Room) ||
			r[7] != export.Neutralize(e.Content) || r[9] != strconv.FormatInt(e.SessionID, 10) {
			t.Fatalf("CSV row %d %q for %+v", i, r, e)
		}
	}
	if !bytes.Contains(rest, []byte(`'=cmd,chat,'=1+1,`)) || !bytes.Contains(rest, []byte(`'+r,'@x,chat,'-5 紧急,`)) {
		t.Error("formula cells not neutralised in the file")
	}
	noBOM := exportFile(t, "--bom=false", "--type", "chat")
	if !bytes.HasPrefix(noBOM, []byte("id,received_at,")) {
		t.Errorf("--bom=false starts %q", noBOM[:10])
	}

	// Standard output by default, the same bytes.
	code, stdout, stderr := run(t, dir, "export", "--db", db, "--format", "ndjson", "--raw")
	if code != ExitOK || stderr != "" {
		t.Fatalf("to stdout: %d %q", code, stderr)
	}
	if got := decodeNDJSON(t, []byte(stdout)); !slices.Equal(ids(got), ids(all)) {
		t.Error("stdout export differs from the file")
	}

	// Searches and filters: what the running wsmon's API returns.
	// A split time with messages on both sides: a burst stores many
	// messages in one millisecond, so the middle one's time may be the
	// oldest's too (and "--to mid" then selects nothing).
	i := len(all) / 2 // all is newest first
	for i > 0 && all[i].ReceivedAt == all[len(all)-1].ReceivedAt {
		i--
	}
	mid := all[i].ReceivedAt
	for _, c := range []struct {
		args []string
		path string
	}{
		{[]string{"--q", "紧急"}, "/api/search?q=" + url.QueryEscape("紧急")},
		{[]string{"--q", "the"}, "/api/search?q=the"},
		{[]string{"--q", "e", "--room", "lobby"}, "/api/search?q=e&room=lobby"},
		{[]string{"--q", "a", "--user", "小明", "--type", "chat"}, "/api/search?q=a&type=chat&user=" + url.QueryEscape("小明")},
		{[]string{"--q", "o", "--from", mid}, "/api/search?q=o&from=" + url.QueryEscape(mid)},
		{[]string{"--room", "lobby"}, "/api/messages?room=lobby"},
		{[]string{"--user", "=cmd"}, "/api/messages?user=" + url.QueryEscape("=cmd")},
		{[]string{"--to", mid, "--type", "chat"}, "/api/messages?type=chat&to=" + url.QueryEscape(mid)},
		{[]string{"--target", "t"}, "/api/messages?target=t"},
	} {
		path, query, _ := strings.Cut(c.path, "?")
		want := apiIDs(t, m.WebAddr(), path, query)
		got := ids(decodeNDJSON(t, exportFile(t, append([]string{"--format", "ndjson"}, c.args...)...)))
		if !slices.Equal(got, want) {
			t.Errorf("export %q: %d messages, %s: %d", c.args, len(got), c.path, len(want))
		}
		if len(want) == 0 {
			t.Errorf("%s selects nothing: a weak comparison", c.path)
		}
	}

	// While the monitor writes a burst: a consistent snapshot, each
	// message once, as it is stored.
	const burst = 50_000
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := d.Burst(burst); err != nil {
			t.Error(err)
		}
	})
	testkit.WaitFor(t, 60*time.Second, "the burst being stored", func() bool {
		top := apiNewest(t, m.WebAddr())
		return top > int64(len(all)+2000)
	})
	during := decodeNDJSON(t, exportFile(t, "--format", "ndjson"))
	still := apiNewest(t, m.WebAddr()) < int64(len(all)+burst)
	wg.Wait()
	stored = m.WaitMessages(t, len(stored)+burst, 120*time.Second)
	byID = map[int64]testkit.Stored{}
	for _, s := range stored {
		byID[s.ID] = s
	}
	if len(during) < len(all)+2000 {
		t.Errorf("during the burst: %d messages, %d were stored before it began", len(during), len(all)+2000)
	}
	for i, e := range during {
		if i > 0 && e.ID != during[i-1].ID-1 {
			t.Fatalf("during the burst: id %d after %d", e.ID, during[i-1].ID)
		}
		if s := byID[e.ID]; s.Content != e.Content || s.User != e.User {
			t.Fatalf("during the burst: %+v, stored %+v", e, s)
		}
	}
	t.Logf("export during a burst: %d messages (%d before it); the burst was still being stored when it ended: %v", len(during), len(all), still)
}

func TestExportCommandErrors(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "nothing.db")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--format", "xml"}, ExitUsage, `wsmon: format: must be csv, json or ndjson, got "xml"`},
		{[]string{"--from", "yesterday"}, ExitUsage, `wsmon: from: must be RFC 3339`},
		{[]string{"--from", "2026-01-02", "--to", "2026-01-01"}, ExitUsage, `wsmon: from: must be before to`},
		{[]string{"--type", "spam"}, ExitUsage, `wsmon: type: must be one of chat`},
		{[]string{"--q", strings.Repeat("x", 1025)}, ExitUsage, `wsmon: q: longer than 1024 bytes`},
		{[]string{"extra"}, ExitUsage, `wsmon export: unexpected argument "extra"`},
		{nil, ExitError, "wsmon: no database at " + db},
		{[]string{"--out", filepath.Join(dir, "no", "such", "dir.csv")}, ExitError, "wsmon: no database at " + db},
	} {
		code, stdout, stderr := run(t, dir, append([]string{"export", "--db", db}, c.args...)...)
		if code != c.code || stdout != "" || !strings.HasPrefix(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("export %q: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("export created a database")
	}
	code, _, stderr := run(t, dir, "export", "--help")
	if code != ExitOK || !strings.Contains(stderr, "Usage: wsmon export") || !strings.Contains(stderr, "-format") {
		t.Errorf("--help: %d %q", code, stderr)
	}
}
