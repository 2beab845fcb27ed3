package raw_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/demo"
	"github.com/wsmon/wsmon/internal/testkit"
)

func startDemo(t *testing.T) *demo.Server {
	t.Helper()
	o := demo.DefaultOptions()
	o.Addr, o.Rate, o.Seed = "127.0.0.1:0", 0, 1
	d := demo.New(o)
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestPlainTextChat: a plain-text chat server (one message per frame, or
// several joined by newlines when busy) monitored with format text and
// framing lines stores each line once, byte for byte, JSON-looking text
// included, and the configured ping/pong frames never become messages.
func TestPlainTextChat(t *testing.T) {
	d := startDemo(t)
	cfg := testkit.Config(t, d.URL())
	cfg.Protocol, cfg.Format, cfg.Framing = "raw", "text", "lines"
	cfg.Options = map[string]any{"control_frames": []any{"pong"}}
	m := testkit.Start(t, cfg)
	m.WaitConnected(t, 10*time.Second)
	testkit.WaitFor(t, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })

	var want []testkit.Want
	var lines []string
	for _, s := range testkit.ChatSet() {
		if strings.ContainsAny(s, "\r\n") {
			continue // a line-framed chat cannot carry newlines
		}
		lines = append(lines, s)
		want = append(want, testkit.Want{Content: s})
	}
	d.Inject([]byte(lines[0]), false)
	d.Inject([]byte("pong"), false)
	d.Inject([]byte(strings.Join(lines[1:], "\n")+"\n"), false) // a busy frame
	got := m.WaitMessages(t, len(want), 10*time.Second)
	if err := m.Stop(t); err != nil {
		t.Fatal(err)
	}
	testkit.CheckSet(t, m.Messages(t), want)
	for _, g := range got {
		if g.Type != "chat" {
			t.Errorf("%q stored as %s, want chat", g.Content, g.Type)
		}
	}
	ss := m.Sessions(t)
	if len(ss) != 1 || ss[0].Protocol != "raw" || ss[0].Control != 1 {
		t.Errorf("sessions = %+v, want one raw session with 1 control frame", ss)
	}
}

// TestAutoPicksRawForDemo: protocol auto on a server that speaks no
// protocol waits for its first frame, takes it as raw, and stores JSON
// chat with its fields; the frame it peeked at is not lost.
func TestAutoPicksRawForDemo(t *testing.T) {
	d := startDemo(t)
	cfg := testkit.Config(t, d.URL())
	cfg.Protocol = "auto"
	m := testkit.Start(t, cfg)
	testkit.WaitFor(t, 5*time.Second, "demo client", func() bool { return d.Clients() == 1 })
	d.Inject([]byte(`{"type":"chat","user":"小明","room":"lobby","content":"first frame"}`), false)
	m.WaitConnected(t, 10*time.Second)
	if err := d.Burst(20); err != nil {
		t.Fatal(err)
	}
	got := m.WaitMessages(t, 21, 10*time.Second)
	if got[0].Content != "first frame" || got[0].User != "小明" || got[0].Room != "lobby" {
		t.Errorf("first message = %+v", got[0])
	}
	if st := m.Status(); st.Protocol != "raw" {
		t.Errorf("protocol = %q, want raw", st.Protocol)
	}
	if !strings.Contains(m.Log(), "recognised") && !strings.Contains(m.Log(), "matched no protocol") {
		t.Errorf("log does not say why auto picked raw:\n%s", m.Log())
	}
}
