package app

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/config"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/rules"
	"github.com/wsmon/wsmon/internal/store"
)

// replyHarness is the alerting of a fresh store with a fake reply hook
// that records what it sends and echoes it as echo says.
type replyHarness struct {
	a    *alerting
	st   *store.Store
	mu   sync.Mutex
	sent []string // target room text
	echo func(text string) ownMessage
	id   int64
}

func newReplyHarness(t *testing.T, rs ...rules.Rule) *replyHarness {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Path: filepath.Join(t.TempDir(), "db.sqlite")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := config.Defaults()
	cfg.Rules = rs
	a, err := newAlerting(ctx, cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h := &replyHarness{a: a, st: st, echo: func(text string) ownMessage { return ownMessage{Content: text} }}
	a.reply = func(target, text, room string) (ownMessage, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.sent = append(h.sent, target+" "+room+" "+text)
		return h.echo(text), nil
	}
	return h
}

// commit evaluates one committed chat message.
func (h *replyHarness) commit(target, room, user, content string) {
	h.id++
	h.a.Committed([]message.Message{{ID: h.id, Target: target, Room: room, User: user, Content: content, Type: message.TypeChat, ReceivedAt: time.Now()}})
}

// alerts returns the stored alerts, oldest first.
func (h *replyHarness) alerts(t *testing.T) []store.Alert {
	t.Helper()
	as, err := h.st.ListAlerts(context.Background(), store.AlertQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(as)-1; i < j; i, j = i+1, j-1 {
		as[i], as[j] = as[j], as[i]
	}
	return as
}

// TestReplyRateLimits: automatic replies are limited per target (one every
// 5 s, whichever rule) and per rule (one per its cooldown, across targets
// and rooms); every alert says whether its reply went out or why not.
func TestReplyRateLimits(t *testing.T) {
	h := newReplyHarness(t,
		rules.Rule{Name: "ack", Type: "keyword", Keywords: []string{"紧急"}, Cooldown: 3, Reply: "收到 {{.User}}"},
		rules.Rule{Name: "hello", Type: "keyword", Keywords: []string{"你好"}, Cooldown: 1, Reply: "你好 {{.User}}"},
	)
	h.commit("a", "r1", "alice", "紧急") // sent
	h.commit("b", "r1", "bob", "紧急")   // another target: the rule's limit
	h.commit("a", "r2", "carol", "你好") // another rule, same target: the target's limit
	h.commit("c", "r1", "dave", "你好")  // another rule and target: sent
	as := h.alerts(t)
	if len(as) != 4 {
		t.Fatalf("%d alerts, want 4: %+v", len(as), as)
	}
	want := []struct{ reply, err string }{
		{"收到 alice", ""},
		{"", "not sent: at most one reply of rule ack every 3s (its cooldown)"},
		{"", "not sent: at most one reply per target every 5s"},
		{"你好 dave", ""},
	}
	for i, w := range want {
		if as[i].Reply != w.reply || as[i].ReplyError != w.err || as[i].MessageID != int64(i+1) {
			t.Errorf("alert %d (%s on %s): reply %q error %q, want %q %q", i, as[i].Rule, as[i].Target, as[i].Reply, as[i].ReplyError, w.reply, w.err)
		}
	}
	if strings.Join(h.sent, "|") != "a r1 收到 alice|c r1 你好 dave" {
		t.Errorf("sent %q", h.sent)
	}
}

// TestOwnEchoNotEvaluated: the server's echo of a reply (same target and
// content; same user when the echo names one) is not evaluated, once; the
// same text from another user, when the echo names its user, is.
func TestOwnEchoNotEvaluated(t *testing.T) {
	for _, tt := range []struct {
		name, echoUser, from string
		evaluated            bool
	}{
		{"echo without user: any sender", "", "wsmon", false},
		{"echo names the user", "wsmon-bot", "wsmon-bot", false},
		{"someone else says it", "wsmon-bot", "mallory", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newReplyHarness(t,
				rules.Rule{Name: "ack", Type: "keyword", Keywords: []string{"紧急"}, Cooldown: 1, Reply: "收到 紧急"},
				rules.Rule{Name: "catcher", Type: "keyword", Keywords: []string{"收到"}, Cooldown: 1},
			)
			h.echo = func(text string) ownMessage { return ownMessage{User: tt.echoUser, Content: text} }
			h.commit("a", "r", "alice", "紧急")
			h.commit("a", "r", tt.from, "收到 紧急")
			var caught bool
			for _, al := range h.alerts(t) {
				caught = caught || al.Rule == "catcher"
			}
			if caught != tt.evaluated {
				t.Errorf("echo from %s evaluated: %v, want %v (alerts %+v)", tt.from, caught, tt.evaluated, h.alerts(t))
			}
			if !tt.evaluated {
				// Forgotten once seen: the same text again is someone's.
				h.commit("a", "r", tt.from, "收到 紧急")
				if n := len(h.alerts(t)); n != 2 {
					t.Errorf("the second copy: %d alerts, want 2 (ack, catcher)", n)
				}
			}
		})
	}
}
