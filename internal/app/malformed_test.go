package app

import (
	"strings"
	"testing"
	"time"
)

// TestMalformedFramesAreStoredWithReasons: bad frames from a real server
// are stored (raw frame kept) with the reason, never crash the monitor and
// never drop the connection; the next normal message still arrives.
func TestMalformedFramesAreStoredWithReasons(t *testing.T) {
	d := newDemo(t, nil)
	cfg := testConfig(t, d.URL())
	cfg.ReadLimitBytes = 1024
	h := start(t, ModeMonitor, cfg)
	h.waitConnected()
	waitFor(t, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })

	cases := []struct {
		name   string
		frame  []byte
		binary bool
		reason string
	}{
		{"invalid utf-8", []byte("caf\xe9 \xff\xfe"), false, "invalid_utf8"},
		{"nul bytes", []byte("a\x00b"), false, "nul_bytes"},
		{"truncated json", []byte(`{"user":"x","content":"cut off`), false, "bad_json"},
		{"absurdly deep json", []byte(strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)), false, "too_large"},
		{"deep json under the limit", []byte(strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100)), false, "json_too_deep"},
		{"over the read limit", []byte(`{"user":"big","content":"` + strings.Repeat("x", 5000) + `"}`), false, "too_large"},
		{"binary garbage", []byte{0xff, 0x00, 0x81, 0x7f}, true, "binary"},
	}
	for _, c := range cases {
		d.Inject(c.frame, c.binary)
	}
	d.Burst(1) // a normal message after the bad ones
	h.waitMessages(int64(len(cases)+1), 10*time.Second)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, cfg.DatabasePath)
	rows, err := db.Query(`SELECT reason, length(raw) FROM messages ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var reason string
		var n int
		rows.Scan(&reason, &n)
		if i < len(cases) {
			c := cases[i]
			want := len(c.frame)
			if c.reason == "too_large" {
				want = 1024
			}
			if reason != c.reason || n != want {
				t.Errorf("%s: stored reason %q raw %d bytes, want %q, %d bytes", c.name, reason, n, c.reason, want)
			}
		} else if reason != "" {
			t.Errorf("normal message stored with reason %q", reason)
		}
		i++
	}
	if i != len(cases)+1 {
		t.Fatalf("stored %d rows, want %d", i, len(cases)+1)
	}
	if h.mon.Status()[0].Reconnects != 0 {
		t.Fatal("a malformed frame cost the connection")
	}
}
