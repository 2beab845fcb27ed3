package rules

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func msg(id int64, user, room, content string, at time.Duration) message.Message {
	return message.Message{ID: id, Target: "t", User: user, Room: room, Content: content, Type: message.TypeChat, ReceivedAt: t0.Add(at)}
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("a", MaxPatternBytes+1)
	for _, c := range []struct {
		name string
		r    Rule
		want string // "" = valid
	}{
		{"keyword", Rule{Name: "k", Type: TypeKeyword, Keywords: []string{"紧急"}}, ""},
		{"no name", Rule{Type: TypeKeyword, Keywords: []string{"x"}}, "r.name: must be 1 to 100 characters"},
		{"bad type", Rule{Name: "x", Type: "word"}, `r.type: must be one of keyword, regex, user, rate, silence, connection, anomaly, got "word"`},
		{"no keywords", Rule{Name: "x", Type: TypeKeyword}, "r.keywords: must list 1 to 200 keywords"},
		{"blank keyword", Rule{Name: "x", Type: TypeKeyword, Keywords: []string{"ok", "  "}}, "r.keywords[1]: must be 1 to 256 characters"},
		{"regex", Rule{Name: "x", Type: TypeRegex, Pattern: `(?i)order\s*#\d{6}`}, ""},
		{"bad regex", Rule{Name: "x", Type: TypeRegex, Pattern: `a(b`}, "r.pattern: not a valid RE2 expression"},
		{"backreference (not RE2)", Rule{Name: "x", Type: TypeRegex, Pattern: `(a)\1`}, "r.pattern: not a valid RE2 expression"},
		{"long regex", Rule{Name: "x", Type: TypeRegex, Pattern: long}, "r.pattern: must be at most 1024 bytes"},
		{"huge repetition", Rule{Name: "x", Type: TypeRegex, Pattern: `(a{1,1000}){1,1000}`}, "r.pattern: not a valid RE2 expression"},
		{"complex regex", Rule{Name: "x", Type: TypeRegex, Pattern: `[a-z]{1000}[0-9]{1000}[a-z]{1000}[0-9]{1000}[a-z]{1000}[0-9]{1000}`}, "r.pattern: too complex"},
		{"users", Rule{Name: "x", Type: TypeUser, Users: []string{"alice"}}, ""},
		{"no users", Rule{Name: "x", Type: TypeUser}, "r.users: must list 1 to 1000 users"},
		{"rate", Rule{Name: "x", Type: TypeRate, Threshold: 10, Per: "user"}, ""},
		{"rate no threshold", Rule{Name: "x", Type: TypeRate}, "r.threshold: must be between 1 and 1000000"},
		{"rate bad per", Rule{Name: "x", Type: TypeRate, Threshold: 1, Per: "channel"}, `r.per: must be "target", "room" or "user", got "channel"`},
		{"rate bad window", Rule{Name: "x", Type: TypeRate, Threshold: 1, Window: 0.5}, "r.window: must be between 1 and 86400"},
		{"silence", Rule{Name: "x", Type: TypeSilence, Minutes: 10}, ""},
		{"silence no minutes", Rule{Name: "x", Type: TypeSilence}, "r.minutes: must be more than 0"},
		{"connection", Rule{Name: "x", Type: TypeConnection}, ""},
		{"reply", Rule{Name: "x", Type: TypeKeyword, Keywords: []string{"hi"}, Reply: `{"type":"chat","content":"hello {{.User}}, out of range"}`}, ""},
		{"reply on a rate rule", Rule{Name: "x", Type: TypeRate, Threshold: 1, Reply: "x"}, "r.reply: only keyword, regex and user rules reply"},
		{"reply template error", Rule{Name: "x", Type: TypeKeyword, Keywords: []string{"hi"}, Reply: "{{.Nope}}"}, "r.reply: cannot be rendered"},
		{"reply loops", Rule{Name: "x", Type: TypeKeyword, Keywords: []string{"hi"}, Reply: "{{range 5}}x{{end}}"}, "r.reply: range, template and define are not allowed"},
		{"anomaly", Rule{Name: "x", Type: TypeAnomaly}, ""},
		{"anomaly kinds", Rule{Name: "x", Type: TypeAnomaly, Kinds: []string{"rate_spike", "silence"}, MinScore: 8, Rooms: []string{"lobby"}}, ""},
		{"anomaly bad kind", Rule{Name: "x", Type: TypeAnomaly, Kinds: []string{"silence", "spike"}}, `r.kinds[1]: must be one of rate_spike, silence, new_user_flood, user_flood, type_mix, got "spike"`},
		{"anomaly kind twice", Rule{Name: "x", Type: TypeAnomaly, Kinds: []string{"silence", "silence"}}, `r.kinds[1]: "silence" is listed twice`},
		{"anomaly negative score", Rule{Name: "x", Type: TypeAnomaly, MinScore: -1}, "r.min_score: must be between 0 and 1000000"},
		{"kinds on a keyword rule", Rule{Name: "x", Type: TypeKeyword, Keywords: []string{"k"}, Kinds: []string{"silence"}}, "r.kinds: kinds and min_score are for anomaly rules only"},
		{"min_score on a rate rule", Rule{Name: "x", Type: TypeRate, Threshold: 1, MinScore: 3}, "r.kinds: kinds and min_score are for anomaly rules only"},
		{"negative cooldown", Rule{Name: "x", Type: TypeConnection, Cooldown: -1}, "r.cooldown: must be between 0 and 86400"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.r.Validate("r.")
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Validate = %v", err)
			case c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)):
				t.Fatalf("Validate = %v, want %q", err, c.want)
			}
		})
	}
}

// TestMessageRules: which messages each message rule matches, with the
// cooldown folding a flood into one alert and a count.
func TestMessageRules(t *testing.T) {
	for _, c := range []struct {
		name string
		rule Rule
		msgs []message.Message
		want []string // per hit: "id detail +suppressed"
	}{
		{"chinese keyword, case-insensitive english",
			Rule{Name: "k", Type: TypeKeyword, Keywords: []string{"紧急", "URGENT"}, Cooldown: 1},
			[]message.Message{msg(1, "alice", "lobby", "这是紧急情况", 0), msg(2, "bob", "", "nothing", 2*time.Second), msg(3, "bob", "", "so Urgent!", 4*time.Second)},
			[]string{`1 keyword "紧急" from alice in lobby +0`, `3 keyword "URGENT" from bob +0`}},
		{"two-character chinese word inside a sentence",
			Rule{Name: "k", Type: TypeKeyword, Keywords: []string{"重要"}},
			[]message.Message{msg(1, "u", "", "非常重要的通知", 0), msg(2, "u", "", "重 要", time.Second)},
			[]string{`1 keyword "重要" from u +0`}},
		{"keyword is literal, not a pattern",
			Rule{Name: "k", Type: TypeKeyword, Keywords: []string{"a.b*"}},
			[]message.Message{msg(1, "u", "", "axbb", 0), msg(2, "u", "", "see a.b* here", time.Second)},
			[]string{`2 keyword "a.b*" from u +0`}},
		{"cooldown folds a flood into the next alert",
			Rule{Name: "k", Type: TypeKeyword, Keywords: []string{"x"}, Cooldown: 60},
			[]message.Message{msg(1, "u", "", "x", 0), msg(2, "u", "", "x", time.Second), msg(3, "u", "", "x", 2*time.Second), msg(4, "u", "", "x", 61*time.Second)},
			[]string{`1 keyword "x" from u +0`, `4 keyword "x" from u +2`}},
		{"cooldown is per room",
			Rule{Name: "k", Type: TypeKeyword, Keywords: []string{"x"}, Cooldown: 60},
			[]message.Message{msg(1, "u", "a", "x", 0), msg(2, "u", "b", "x", time.Second)},
			[]string{`1 keyword "x" from u in a +0`, `2 keyword "x" from u in b +0`}},
		{"rooms filter",
			Rule{Name: "k", Type: TypeKeyword, Keywords: []string{"x"}, Rooms: []string{"vip"}},
			[]message.Message{msg(1, "u", "lobby", "x", 0), msg(2, "u", "vip", "x", time.Second)},
			[]string{`2 keyword "x" from u in vip +0`}},
		{"regex",
			Rule{Name: "r", Type: TypeRegex, Pattern: `订单\s*#?\d{6}`, Cooldown: 1},
			[]message.Message{msg(1, "u", "", "订单 #123456 到了", 0), msg(2, "u", "", "订单 #12345", 5*time.Second)},
			[]string{`1 matches /订单\s*#?\d{6}/ from u +0`}},
		{"watched user, case-insensitive",
			Rule{Name: "w", Type: TypeUser, Users: []string{"Mallory"}, Cooldown: 1},
			[]message.Message{msg(1, "alice", "", "hi", 0), msg(2, "mallory", "", "hi", 2*time.Second)},
			[]string{`2 watched user mallory from mallory +0`}},
		{"system messages do not match keywords",
			Rule{Name: "k", Type: TypeKeyword, Keywords: []string{"dropped"}},
			[]message.Message{{ID: 1, Target: "t", Type: message.TypeSystem, Content: "wsmon dropped 3 frames", ReceivedAt: t0}},
			nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := New([]Rule{c.rule})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range e.Messages(c.msgs) {
				got = append(got, strings.Join([]string{itoa(h.MessageID), h.Detail, "+" + itoa(int64(h.Suppressed))}, " "))
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Fatalf("hits:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestRate: more than threshold messages in the window alerts once per
// excursion, per scope.
func TestRate(t *testing.T) {
	e, err := New([]Rule{{Name: "flood", Type: TypeRate, Threshold: 5, Window: 60, Per: "user", Cooldown: 1}})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []message.Message
	for i := range 8 { // alice: 8 in 8 s
		msgs = append(msgs, msg(int64(i), "alice", "", "m", time.Duration(i)*time.Second))
	}
	msgs = append(msgs, msg(100, "bob", "", "m", 9*time.Second)) // bob: 1
	hits := e.Messages(msgs)
	if len(hits) != 1 || hits[0].User != "alice" || hits[0].Detail != "6 messages in 1m0s from alice" {
		t.Fatalf("hits = %+v", hits)
	}
	// Still over: no second alert. Two minutes later the window is empty;
	// a new excursion alerts again.
	if h := e.Messages([]message.Message{msg(9, "alice", "", "m", 10*time.Second)}); len(h) != 0 {
		t.Fatalf("second alert in the same excursion: %+v", h)
	}
	var again []message.Message
	for i := range 6 {
		again = append(again, msg(int64(200+i), "alice", "", "m", 3*time.Minute+time.Duration(i)*time.Second))
	}
	if h := e.Messages(again); len(h) != 1 || h[0].Detail != "6 messages in 1m0s from alice" {
		t.Fatalf("new excursion: %+v", h)
	}
}

// TestRateKeysBounded: a rule per user under a flood of distinct users
// keeps at most MaxKeys scopes.
func TestRateKeysBounded(t *testing.T) {
	e, _ := New([]Rule{{Name: "flood", Type: TypeRate, Threshold: 5, Per: "user"}})
	var msgs []message.Message
	for i := range MaxKeys + 500 {
		msgs = append(msgs, msg(int64(i), "u"+itoa(int64(i)), "", "m", time.Duration(i)*time.Millisecond))
	}
	e.Messages(msgs)
	if n := len(e.rules[0].rates); n > MaxKeys {
		t.Fatalf("%d rate keys kept", n)
	}
}

func TestSilenceAndConnection(t *testing.T) {
	e, err := New([]Rule{
		{Name: "quiet", Type: TypeSilence, Minutes: 10},
		{Name: "down", Type: TypeConnection, Minutes: 5},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Messages([]message.Message{msg(1, "u", "", "hello", 0)})
	tick := func(at time.Duration, state string, since time.Duration) []string {
		var out []string
		for _, h := range e.Tick(t0.Add(at), []TargetState{{Name: "t", State: state, Since: t0.Add(since), LastError: "dial: connection refused"}}) {
			out = append(out, h.Rule.Name+": "+h.Detail)
		}
		return out
	}
	if got := tick(9*time.Minute, "connected", 0); len(got) != 0 {
		t.Fatalf("9 min: %v", got)
	}
	if got := tick(10*time.Minute, "connected", 0); len(got) != 1 || !strings.HasPrefix(got[0], "quiet: no message from t for 10m0s") {
		t.Fatalf("10 min: %v", got)
	}
	if got := tick(20*time.Minute, "connected", 0); len(got) != 0 {
		t.Fatalf("silence alerted twice in one episode: %v", got)
	}
	// A message re-arms silence.
	e.Messages([]message.Message{msg(2, "u", "", "back", 21*time.Minute)})
	if got := tick(32*time.Minute, "connected", 0); len(got) != 1 {
		t.Fatalf("second silence: %v", got)
	}
	// Disconnected: alerts after 5 minutes, once per episode.
	if got := tick(33*time.Minute, "disconnected", 30*time.Minute); len(got) != 0 {
		t.Fatalf("3 min down: %v", got)
	}
	if got := tick(36*time.Minute, "disconnected", 30*time.Minute); len(got) != 1 || got[0] != "down: t not connected for 6m0s: dial: connection refused" {
		t.Fatalf("6 min down: %v", got)
	}
	if got := tick(37*time.Minute, "gave_up", 30*time.Minute); len(got) != 0 {
		t.Fatalf("same episode: %v", got)
	}
	tick(38*time.Minute, "connected", 38*time.Minute)
	if got := tick(39*time.Minute, "refused", 39*time.Minute); len(got) != 1 || got[0] != "down: t refused: dial: connection refused" {
		t.Fatalf("refused: %v", got)
	}
	// Paused targets are never silent.
	e2, _ := New([]Rule{{Name: "quiet", Type: TypeSilence, Minutes: 1}})
	e2.Messages([]message.Message{msg(1, "u", "", "x", 0)})
	if h := e2.Tick(t0.Add(time.Hour), []TargetState{{Name: "t", State: "paused"}}); len(h) != 0 {
		t.Fatalf("paused: %+v", h)
	}
}

func TestTargetsFilterAndDisabled(t *testing.T) {
	e, _ := New([]Rule{
		{Name: "only-a", Type: TypeKeyword, Keywords: []string{"x"}, Targets: []string{"a"}},
		{Name: "off", Type: TypeKeyword, Keywords: []string{"x"}, Disabled: true},
	})
	m := msg(1, "u", "", "x", 0)
	if h := e.Messages([]message.Message{m}); len(h) != 0 {
		t.Fatalf("target t matched a rule for a: %+v", h)
	}
	m.Target = "a"
	if h := e.Messages([]message.Message{m}); len(h) != 1 || h[0].Rule.Name != "only-a" {
		t.Fatalf("hits %+v", h)
	}
}

func FuzzRegexRule(f *testing.F) {
	for _, s := range []string{`a+`, `(?i)紧急`, `[`, `(a{1,1000}){1,1000}`, `\p{Han}+`, `x*y*z*`} {
		f.Add(s, "紧急 order #123456")
	}
	f.Fuzz(func(t *testing.T, pattern, content string) {
		r := Rule{Name: "f", Type: TypeRegex, Pattern: pattern}
		if r.Validate("") != nil {
			return
		}
		e, err := New([]Rule{r})
		if err != nil {
			t.Fatalf("valid rule refused by New: %v", err)
		}
		e.Messages([]message.Message{{ID: 1, Target: "t", Content: content, Type: message.TypeChat, ReceivedAt: t0}})
	})
}

// TestReplyRendering: the reply sees the message, each value escaped for
// a JSON string, so hostile content cannot break out of the frame.
func TestReplyRendering(t *testing.T) {
	e, err := New([]Rule{{Name: "hi", Type: TypeKeyword, Keywords: []string{"你好"}, Cooldown: 1,
		Reply: `{"type":"chat","user":"bot","content":"{{.User}} 说: {{.Content}}"}`}})
	if err != nil {
		t.Fatal(err)
	}
	hits := e.Messages([]message.Message{msg(1, `ev"il`, "", `你好\`, 0), msg(2, "u", "", "no", time.Second)})
	want := `{"type":"chat","user":"bot","content":"ev\"il 说: 你好\\"}`
	if len(hits) != 1 || hits[0].Reply != want {
		t.Fatalf("reply %q, want %q", hits[0].Reply, want)
	}
}

// TestCooldownDuration: the cooldown that spaces a rule's alerts per scope
// and its replies across scopes; 0 is the default.
func TestCooldownDuration(t *testing.T) {
	for _, c := range []struct {
		cooldown float64
		want     time.Duration
	}{{0, 60 * time.Second}, {1, time.Second}, {0.5, 500 * time.Millisecond}, {3600, time.Hour}} {
		if got := (Rule{Cooldown: c.cooldown}).CooldownDuration(); got != c.want {
			t.Errorf("cooldown %v: %s, want %s", c.cooldown, got, c.want)
		}
	}
}

// TestAnomalyRules: an anomaly rule fires on the anomalies of its kinds,
// score, targets and rooms, with its cooldown per kind and key; message
// rules ignore anomalies and anomaly rules ignore messages and ticks.
func TestAnomalyRules(t *testing.T) {
	e, err := New([]Rule{
		{Name: "all", Type: TypeAnomaly, Cooldown: 600},
		{Name: "strong-spikes", Type: TypeAnomaly, Kinds: []string{"rate_spike"}, MinScore: 10, Cooldown: 1},
		{Name: "lobby", Type: TypeAnomaly, Rooms: []string{"lobby"}, Targets: []string{"t"}, Cooldown: 1},
		{Name: "words", Type: TypeKeyword, Keywords: []string{"spike"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	spike := Anomaly{Kind: "rate_spike", Target: "t", Room: "lobby", Score: 12, Start: t0, Explanation: "Rate spike in room lobby."}
	names := func(hs []Hit) string {
		var out []string
		for _, h := range hs {
			out = append(out, h.Rule.Name)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		a    Anomaly
		want string
	}{
		{spike, "all,strong-spikes,lobby"},
		{Anomaly{Kind: "rate_spike", Target: "t", Room: "lobby", Score: 9, Start: t0.Add(2 * time.Second)}, "lobby"}, // all: cooldown; strong: score
		{Anomaly{Kind: "rate_spike", Target: "t", Score: 30, Start: t0.Add(3 * time.Second)}, "all,strong-spikes"},   // the whole target: not a room of lobby
		{Anomaly{Kind: "silence", Target: "u", Room: "lobby", Score: 30, Start: t0.Add(4 * time.Second)}, "all"},     // lobby: another target
		{Anomaly{Kind: "rate_spike", Target: "t", Room: "lobby", Score: 12, Start: t0.Add(11 * time.Minute)}, "all,strong-spikes,lobby"},
	} {
		hs := e.Anomaly(c.a)
		if c.a.Explanation != "" && len(hs) > 0 {
			if d := hs[0].Detail; d != "rate_spike: Rate spike in room lobby. (score 12.0)" {
				t.Errorf("detail %q", d)
			}
		}
		if got := names(hs); got != c.want {
			t.Errorf("%+v: rules %q, want %q", c.a, got, c.want)
		}
		for _, h := range hs {
			if !h.At.Equal(c.a.Start) || h.Target != c.a.Target || h.Room != c.a.Room || h.MessageID != 0 ||
				!strings.HasPrefix(h.Detail, AnomalyKey(c.a.Kind)) {
				t.Errorf("hit %+v of %+v", h, c.a)
			}
		}
	}
	m := msg(1, "a", "lobby", "a spike!", 0)
	if hs := e.Messages([]message.Message{m}); names(hs) != "words" {
		t.Errorf("a message raised %q", names(hs))
	}
	if hs := e.Tick(t0.Add(time.Hour), []TargetState{{Name: "t", State: "disconnected", Since: t0}}); len(hs) != 0 {
		t.Errorf("a tick raised %q", names(hs))
	}
}
