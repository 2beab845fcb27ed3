// Package rules owns what makes an alert: the operator's rules (keyword,
// regular expression, watched users, message rate, silence, connection
// state, anomalies), their validation, and the engine that evaluates
// committed messages, target states and anomalies that opened against them, with a cooldown per rule and
// scope so that a flood becomes one alert and a count, not a flood of
// alerts. It does not store or deliver anything: it returns hits.
//
// An Engine is used from one goroutine at a time (the pipeline's commit
// hook and a ticker take turns under the caller's lock); it keeps its
// per-key state bounded (MaxKeys).
package rules

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/wsmon/wsmon/internal/anomaly"
	"github.com/wsmon/wsmon/internal/jsontok"
	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/search"
)

// Rule types.
const (
	TypeKeyword    = "keyword"
	TypeRegex      = "regex"
	TypeUser       = "user"
	TypeRate       = "rate"
	TypeSilence    = "silence"
	TypeConnection = "connection"
	TypeAnomaly    = "anomaly"
)

// Types lists the rule types, in documentation order.
var Types = []string{TypeKeyword, TypeRegex, TypeUser, TypeRate, TypeSilence, TypeConnection, TypeAnomaly}

// Limits on what a rule may ask for.
const (
	MaxKeywords     = 200
	MaxKeywordRunes = 256
	MaxPatternBytes = 1024
	MaxRegexInsts   = 5000 // compiled program size: bounds the matcher's memory per message
	MaxUsers        = 1000
	MaxKeys         = 10000 // rate keys and cooldown keys kept per rule; the idlest are forgotten first
	DefaultCooldown = 60    // seconds
)

// Rule is one configured rule (config key `rules`, or /api/rules). Which
// fields apply depends on Type; Validate says which are missing.
type Rule struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Targets, when set, limits the rule to these targets.
	Targets []string `json:"targets,omitempty"`
	// Rooms, when set, limits message rules to these rooms, and anomaly
	// rules to anomalies of these rooms (not of whole targets).
	Rooms []string `json:"rooms,omitempty"`

	Keywords []string `json:"keywords,omitempty"` // keyword: any of them, case-insensitive, literal (as search matches)
	Pattern  string   `json:"pattern,omitempty"`  // regex: RE2 syntax, matched against the content
	Users    []string `json:"users,omitempty"`    // user: messages from these users (case-insensitive)

	// rate: more than Threshold messages within Window seconds (default
	// 60), counted per Per: "target" (default), "room" or "user".
	Threshold int     `json:"threshold,omitempty"`
	Window    float64 `json:"window,omitempty"`
	Per       string  `json:"per,omitempty"`

	// silence: no message from a target for Minutes. connection: a target
	// not connected for Minutes (0: alert at once when it gave up or was
	// refused, and after 1 minute of being disconnected).
	Minutes float64 `json:"minutes,omitempty"`

	// anomaly: an anomaly opened (internal/anomaly) of one of Kinds (its
	// codes: rate_spike, silence, new_user_flood, user_flood, type_mix;
	// empty = every kind) with a score of at least MinScore (0 = any).
	Kinds    []string `json:"kinds,omitempty"`
	MinScore float64  `json:"min_score,omitempty"`

	// Cooldown is the least time between two alerts of this rule for one
	// scope (target, room or user), in seconds; hits meanwhile are counted
	// into the next alert. Default 60; 0 is taken as the default, use a
	// small value such as 1 for (almost) every hit.
	Cooldown float64 `json:"cooldown,omitempty"`
	// Notify names the notifiers that receive this rule's alerts.
	Notify []string `json:"notify,omitempty"`
	// Reply, on a message rule (keyword, regex, user), is an automatic
	// response sent on the same connection when the rule alerts, on
	// targets with auto_reply: at most one per cooldown per scope (as the
	// alerts), and the caller sends at most one per rule per cooldown
	// across all scopes and one per target every 5 s. A Go text/template
	// over .User .Room .Content .Target .Rule; each value is escaped for
	// the inside of a JSON string. For a raw target it is the whole frame;
	// other protocols frame it (docs/protocols.md).
	Reply string `json:"reply,omitempty"`
	// Disabled rules are kept but not evaluated.
	Disabled bool `json:"disabled,omitempty"`
}

// CooldownDuration is the rule's cooldown as a duration (the default when
// Cooldown is 0). It spaces the rule's alerts per scope and, across all
// scopes, its automatic replies.
func (r Rule) CooldownDuration() time.Duration {
	if r.Cooldown == 0 {
		return DefaultCooldown * time.Second
	}
	return time.Duration(r.Cooldown * float64(time.Second))
}

// Error is a validation error naming the field.
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string { return e.Field + ": " + e.Msg }

func errf(field, format string, args ...any) error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks r; prefix (e.g. "rules[2].") is put before field names.
func (r Rule) Validate(prefix string) error {
	if strings.TrimSpace(r.Name) == "" || len(r.Name) > 100 {
		return errf(prefix+"name", "must be 1 to 100 characters")
	}
	if !slices.Contains(Types, r.Type) {
		return errf(prefix+"type", "must be one of %s, got %q", strings.Join(Types, ", "), r.Type)
	}
	if r.Cooldown < 0 || r.Cooldown > 86400 {
		return errf(prefix+"cooldown", "must be between 0 and 86400 seconds, got %v", r.Cooldown)
	}
	if r.Reply != "" {
		if r.Type != TypeKeyword && r.Type != TypeRegex && r.Type != TypeUser {
			return errf(prefix+"reply", "only keyword, regex and user rules reply to a message")
		}
		if _, err := parseReply(r.Reply); err != nil {
			return errf(prefix+"reply", "%v", err)
		}
	}
	if r.Type != TypeAnomaly && (len(r.Kinds) > 0 || r.MinScore != 0) {
		return errf(prefix+"kinds", "kinds and min_score are for anomaly rules only")
	}
	switch r.Type {
	case TypeAnomaly:
		for i, k := range r.Kinds {
			if _, ok := anomaly.ParseKind(k); !ok {
				return errf(fmt.Sprintf("%skinds[%d]", prefix, i), "must be one of %s, got %q", strings.Join(anomalyKinds(), ", "), k)
			}
			if slices.Contains(r.Kinds[:i], k) {
				return errf(fmt.Sprintf("%skinds[%d]", prefix, i), "%q is listed twice", k)
			}
		}
		if !(r.MinScore >= 0 && r.MinScore <= 1e6) {
			return errf(prefix+"min_score", "must be between 0 and 1000000, got %v", r.MinScore)
		}
	case TypeKeyword:
		if len(r.Keywords) == 0 || len(r.Keywords) > MaxKeywords {
			return errf(prefix+"keywords", "must list 1 to %d keywords", MaxKeywords)
		}
		for i, k := range r.Keywords {
			if n := len([]rune(strings.TrimSpace(k))); n == 0 || n > MaxKeywordRunes {
				return errf(fmt.Sprintf("%skeywords[%d]", prefix, i), "must be 1 to %d characters", MaxKeywordRunes)
			}
		}
	case TypeRegex:
		if _, err := compile(r.Pattern); err != nil {
			return errf(prefix+"pattern", "%v", err)
		}
	case TypeUser:
		if len(r.Users) == 0 || len(r.Users) > MaxUsers {
			return errf(prefix+"users", "must list 1 to %d users", MaxUsers)
		}
	case TypeRate:
		if r.Threshold < 1 || r.Threshold > 1_000_000 {
			return errf(prefix+"threshold", "must be between 1 and 1000000 messages, got %d", r.Threshold)
		}
		if r.Window != 0 && (r.Window < 1 || r.Window > 86400) {
			return errf(prefix+"window", "must be between 1 and 86400 seconds, got %v", r.Window)
		}
		switch r.Per {
		case "", "target", "room", "user":
		default:
			return errf(prefix+"per", `must be "target", "room" or "user", got %q`, r.Per)
		}
	case TypeSilence:
		if r.Minutes <= 0 || r.Minutes > 7*24*60 {
			return errf(prefix+"minutes", "must be more than 0 and at most 10080, got %v", r.Minutes)
		}
	case TypeConnection:
		if r.Minutes < 0 || r.Minutes > 7*24*60 {
			return errf(prefix+"minutes", "must be between 0 and 10080, got %v", r.Minutes)
		}
	}
	return nil
}

func anomalyKinds() []string {
	var out []string
	for _, k := range anomaly.Kinds() {
		out = append(out, k.String())
	}
	return out
}

// MaxReply bounds a rendered reply and its template.
const MaxReply = 4096

// replyData is what a reply template sees.
type replyData struct{ User, Room, Content, Target, Rule string }

// parseReply parses a reply template and renders it once with hostile
// sample values, so that a mistake shows when the rule is set.
func parseReply(text string) (*template.Template, error) {
	if len(text) > MaxReply {
		return nil, fmt.Errorf("must be at most %d bytes", MaxReply)
	}
	t, err := template.New("reply").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("not a valid template: %v", err)
	}
	if forbidden(t.Tree.Root) {
		return nil, fmt.Errorf("range, template and define are not allowed")
	}
	sample := replyData{User: `a"\`, Room: "r\n", Content: strings.Repeat("内容 ", 100), Target: "t", Rule: "r"}
	if _, err := renderReply(t, sample); err != nil {
		return nil, err
	}
	return t, nil
}

// forbidden reports whether the tree loops or calls other templates.
func forbidden(n parse.Node) bool {
	switch n := n.(type) {
	case *parse.RangeNode, *parse.TemplateNode:
		return true
	case *parse.ListNode:
		if n == nil {
			return false
		}
		for _, c := range n.Nodes {
			if forbidden(c) {
				return true
			}
		}
	case *parse.IfNode:
		return forbidden(n.List) || forbidden(n.ElseList)
	case *parse.WithNode:
		return forbidden(n.List) || forbidden(n.ElseList)
	}
	return false
}

// renderReply renders t with each value escaped for a JSON string.
func renderReply(t *template.Template, d replyData) (string, error) {
	esc := func(s string) string {
		b := jsontok.AppendString(nil, s)
		return string(b[1 : len(b)-1])
	}
	d = replyData{User: esc(d.User), Room: esc(d.Room), Content: esc(cutRunes(d.Content, 1000)), Target: esc(d.Target), Rule: esc(d.Rule)}
	var b strings.Builder
	if err := t.Execute(&limitWriter{w: &b, n: MaxReply}, d); err != nil {
		return "", fmt.Errorf("cannot be rendered: %v", err)
	}
	return b.String(), nil
}

// limitWriter fails a write past n bytes.
type limitWriter struct {
	w *strings.Builder
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.w.Len()+len(p) > l.n {
		return 0, fmt.Errorf("renders to more than %d bytes", l.n)
	}
	return l.w.Write(p)
}

func cutRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i] + "…"
		}
		n--
	}
	return s
}

// compile compiles a regex rule's pattern within the limits.
func compile(pattern string) (*regexp.Regexp, error) {
	if pattern == "" {
		return nil, fmt.Errorf("must be set")
	}
	if len(pattern) > MaxPatternBytes {
		return nil, fmt.Errorf("must be at most %d bytes, got %d", MaxPatternBytes, len(pattern))
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("not a valid RE2 expression: %v", err)
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, fmt.Errorf("not a valid RE2 expression: %v", err)
	}
	if len(prog.Inst) > MaxRegexInsts {
		return nil, fmt.Errorf("too complex (%d instructions, at most %d): simplify it or use keywords", len(prog.Inst), MaxRegexInsts)
	}
	return regexp.Compile(pattern)
}

// Hit is one alert the engine raised.
type Hit struct {
	Rule      *Rule
	Target    string
	Room      string
	User      string
	Content   string
	MessageID int64 // 0 for rate, silence and connection alerts
	At        time.Time
	Detail    string // human summary
	// Suppressed counts the hits of this rule and scope folded into this
	// alert by the cooldown since the previous one.
	Suppressed int
	// Reply is the rule's rendered automatic response ("" for none).
	Reply string
	// Once, for hits not about a message (anomaly alerts), is the prefix
	// of Detail that, with the rule, At, target, room and user, identifies
	// what the hit is about, so that it is stored at most once
	// (store.InsertAlertOnce); "" for the others.
	Once string
}

// TargetState is what the engine needs of a target for the time-based
// rules.
type TargetState struct {
	Name          string
	State         string // connected, connecting, disconnected, paused, refused, gave_up, stopped
	Since         time.Time
	LastMessageAt time.Time
	LastError     string
}

// Engine evaluates rules. Create it with New.
type Engine struct {
	rules []*compiled
}

type compiled struct {
	r        Rule
	keywords []string // folded
	users    []string // folded
	re       *regexp.Regexp
	reply    *template.Template // nil: no reply
	window   time.Duration
	cooldown time.Duration

	last    map[string]*cool // by scope key: cooldown state
	rates   map[string]*rate // rate rules: by scope key
	fired   map[string]bool  // silence, connection: fired for the current episode, by target
	targets map[string]time.Time
}

// cool is one scope's cooldown: when the last alert went out and how many
// hits waited since.
type cool struct {
	at      time.Time
	waiting int
	used    time.Time // for eviction
}

// rate counts messages of one scope in a ring of buckets spanning the
// window.
type rate struct {
	buckets [rateBuckets]int
	start   int64 // bucket index (time / width) of buckets[0]'s slot
	head    int64 // newest bucket index counted
	total   int
	over    bool // above the threshold now (alert once per excursion)
	used    time.Time
}

const rateBuckets = 60

// New compiles the rules (each must Validate).
func New(rules []Rule) (*Engine, error) {
	e := &Engine{}
	for i, r := range rules {
		if err := r.Validate(fmt.Sprintf("rules[%d].", i)); err != nil {
			return nil, err
		}
		if r.Disabled {
			continue
		}
		c := &compiled{r: r, last: map[string]*cool{}, rates: map[string]*rate{}, fired: map[string]bool{}, targets: map[string]time.Time{}}
		for _, k := range r.Keywords {
			c.keywords = append(c.keywords, search.Fold(strings.TrimSpace(k)))
		}
		for _, u := range r.Users {
			c.users = append(c.users, search.Fold(strings.TrimSpace(u)))
		}
		if r.Type == TypeRegex {
			c.re, _ = compile(r.Pattern)
		}
		if r.Reply != "" {
			c.reply, _ = parseReply(r.Reply)
		}
		c.window = time.Duration(r.Window * float64(time.Second))
		if c.window == 0 {
			c.window = time.Minute
		}
		c.cooldown = r.CooldownDuration()
		e.rules = append(e.rules, c)
	}
	return e, nil
}

// Rules returns the enabled rules.
func (e *Engine) Rules() []Rule {
	out := make([]Rule, len(e.rules))
	for i, c := range e.rules {
		out[i] = c.r
	}
	return out
}

// Messages evaluates committed messages (in commit order) against the
// message rules and returns the alerts to raise. Messages of type system
// (wsmon's own, or the server's) are only counted by rate rules.
func (e *Engine) Messages(msgs []message.Message) []Hit {
	var hits []Hit
	var folded string
	foldedFor := -1
	fold := func(i int) string {
		if foldedFor != i {
			folded, foldedFor = search.Fold(msgs[i].Content), i
		}
		return folded
	}
	for _, c := range e.rules {
		for i := range msgs {
			m := &msgs[i]
			if !c.applies(m.Target, m.Room) {
				continue
			}
			var detail string
			switch c.r.Type {
			case TypeKeyword:
				if m.Type == message.TypeSystem {
					continue
				}
				f := fold(i)
				for j, k := range c.keywords {
					if strings.Contains(f, k) {
						detail = fmt.Sprintf("keyword %q", strings.TrimSpace(c.r.Keywords[j]))
						break
					}
				}
			case TypeRegex:
				if m.Type != message.TypeSystem && c.re.MatchString(m.Content) {
					detail = fmt.Sprintf("matches /%s/", c.r.Pattern)
				}
			case TypeUser:
				if m.User != "" && slices.Contains(c.users, search.Fold(m.User)) {
					detail = "watched user " + m.User
				}
			case TypeRate:
				if n, over := c.count(m); over {
					detail = fmt.Sprintf("%d messages in %s", n, c.window)
					key := c.rateKey(m)
					if h, ok := c.hit(key, m.ReceivedAt); ok {
						h.Target, h.Room, h.User, h.At, h.Detail = m.Target, scopeRoom(c, m), scopeUser(c, m), m.ReceivedAt, detail+scopeText(c, m)
						hits = append(hits, h)
					}
				}
				continue
			case TypeSilence:
				c.targets[m.Target] = m.ReceivedAt
				delete(c.fired, m.Target)
				continue
			default:
				continue
			}
			if detail == "" {
				continue
			}
			if h, ok := c.hit(m.Target+"\x00"+m.Room, m.ReceivedAt); ok {
				h.Target, h.Room, h.User, h.Content, h.MessageID, h.At = m.Target, m.Room, m.User, m.Content, m.ID, m.ReceivedAt
				h.Detail = detail + " from " + orUnknown(m.User) + inRoom(m.Room)
				if c.reply != nil {
					h.Reply, _ = renderReply(c.reply, replyData{User: m.User, Room: m.Room, Content: m.Content, Target: m.Target, Rule: c.r.Name})
				}
				hits = append(hits, h)
			}
		}
	}
	return hits
}

// Tick evaluates the time-based rules (silence, connection) at now.
func (e *Engine) Tick(now time.Time, targets []TargetState) []Hit {
	var hits []Hit
	for _, c := range e.rules {
		for _, t := range targets {
			if !c.applies(t.Name, "") {
				continue
			}
			switch c.r.Type {
			case TypeSilence:
				last := c.targets[t.Name]
				if t.LastMessageAt.After(last) {
					last = t.LastMessageAt
					c.targets[t.Name] = last
				}
				if last.IsZero() || t.State == "paused" {
					continue // nothing heard yet, or paused on purpose
				}
				limit := time.Duration(c.r.Minutes * float64(time.Minute))
				if now.Sub(last) >= limit && !c.fired[t.Name] {
					c.fired[t.Name] = true
					if h, ok := c.hit(t.Name, now); ok {
						h.Target, h.At = t.Name, now
						h.Detail = fmt.Sprintf("no message from %s for %s (last at %s)", t.Name, now.Sub(last).Round(time.Second), last.UTC().Format(time.RFC3339))
						hits = append(hits, h)
					}
				}
			case TypeConnection:
				var detail string
				switch t.State {
				case "connected", "paused":
					delete(c.fired, t.Name)
					continue
				case "gave_up", "refused", "stopped":
					detail = fmt.Sprintf("%s %s: %s", t.Name, strings.ReplaceAll(t.State, "_", " "), t.LastError)
				default: // connecting, disconnected
					limit := time.Duration(c.r.Minutes * float64(time.Minute))
					if limit == 0 {
						limit = time.Minute
					}
					if now.Sub(t.Since) < limit {
						continue
					}
					detail = fmt.Sprintf("%s not connected for %s: %s", t.Name, now.Sub(t.Since).Round(time.Second), t.LastError)
				}
				if c.fired[t.Name] {
					continue
				}
				c.fired[t.Name] = true
				if h, ok := c.hit(t.Name, now); ok {
					h.Target, h.At, h.Detail = t.Name, now, strings.TrimSuffix(detail, ": ")
					hits = append(hits, h)
				}
			}
		}
	}
	return hits
}

// Anomaly is an anomaly that opened, as anomaly rules see it.
type Anomaly struct {
	Kind        string // anomaly.Kind's code
	Target      string
	Room        string // "" for the whole target
	User        string // the flooding user (user_flood)
	Score       float64
	Start       time.Time
	Explanation string
}

// AnomalyKey is how an anomaly alert's Detail begins: its kind and a
// colon. With the rule, the start (the alert's At), target, room and user
// it identifies the anomaly, so that one found again is not stored twice
// (store.InsertAlertOnce).
func AnomalyKey(kind string) string { return kind + ":" }

// Anomaly evaluates an anomaly that opened against the anomaly rules and
// returns the alerts to raise (At is the anomaly's start). The cooldown
// applies per rule, kind, target, room and user.
func (e *Engine) Anomaly(a Anomaly) []Hit {
	var hits []Hit
	for _, c := range e.rules {
		if c.r.Type != TypeAnomaly || len(c.r.Targets) > 0 && !slices.Contains(c.r.Targets, a.Target) ||
			len(c.r.Rooms) > 0 && !slices.Contains(c.r.Rooms, a.Room) ||
			len(c.r.Kinds) > 0 && !slices.Contains(c.r.Kinds, a.Kind) || a.Score < c.r.MinScore {
			continue
		}
		if h, ok := c.hit(a.Kind+"\x00"+a.Target+"\x00"+a.Room+"\x00"+a.User, a.Start); ok {
			h.Target, h.Room, h.User, h.At, h.Once = a.Target, a.Room, a.User, a.Start, AnomalyKey(a.Kind)
			h.Detail = fmt.Sprintf("%s %s (score %.1f)", h.Once, a.Explanation, a.Score)
			hits = append(hits, h)
		}
	}
	return hits
}

// applies reports whether c covers a message of target in room.
func (c *compiled) applies(target, room string) bool {
	if len(c.r.Targets) > 0 && !slices.Contains(c.r.Targets, target) {
		return false
	}
	if room != "" && len(c.r.Rooms) > 0 && !slices.Contains(c.r.Rooms, room) {
		return false
	}
	return true
}

// hit applies the cooldown of one scope key: it returns the hit to raise
// (with the hits folded into it) or false while the cooldown runs.
func (c *compiled) hit(key string, at time.Time) (Hit, bool) {
	st := c.last[key]
	if st == nil {
		if len(c.last) >= MaxKeys {
			evictCool(c.last)
		}
		st = &cool{}
		c.last[key] = st
	}
	st.used = at
	if !st.at.IsZero() && at.Sub(st.at) < c.cooldown && at.Sub(st.at) >= 0 {
		st.waiting++
		return Hit{}, false
	}
	h := Hit{Rule: &c.r, Suppressed: st.waiting}
	st.at, st.waiting = at, 0
	return h, true
}

func evictCool(m map[string]*cool) {
	var oldest string
	var t time.Time
	for k, v := range m {
		if oldest == "" || v.used.Before(t) {
			oldest, t = k, v.used
		}
	}
	delete(m, oldest)
}

func (c *compiled) rateKey(m *message.Message) string {
	switch c.r.Per {
	case "room":
		return m.Target + "\x00" + m.Room
	case "user":
		return m.Target + "\x00\x00" + m.User
	}
	return m.Target
}

// count adds m to its scope's window and reports the count and whether it
// just went over the threshold (once per excursion: it must fall back to
// the threshold or below before it can alert again).
func (c *compiled) count(m *message.Message) (int, bool) {
	key := c.rateKey(m)
	r := c.rates[key]
	if r == nil {
		if len(c.rates) >= MaxKeys {
			var oldest string
			var t time.Time
			for k, v := range c.rates {
				if oldest == "" || v.used.Before(t) {
					oldest, t = k, v.used
				}
			}
			delete(c.rates, oldest)
		}
		r = &rate{}
		c.rates[key] = r
	}
	r.used = m.ReceivedAt
	width := c.window / rateBuckets
	if width <= 0 {
		width = time.Millisecond
	}
	idx := m.ReceivedAt.UnixNano() / int64(width)
	if r.total == 0 && r.head == 0 {
		r.head = idx
	}
	if idx > r.head {
		// Expire buckets that left the window.
		for b := r.head + 1; b <= idx && b <= r.head+rateBuckets; b++ {
			slot := int(b % rateBuckets)
			r.total -= r.buckets[slot]
			r.buckets[slot] = 0
		}
		if idx-r.head >= rateBuckets {
			clear(r.buckets[:])
			r.total = 0
		}
		r.head = idx
	}
	if idx > r.head-rateBuckets { // an old message beyond the window is not counted
		r.buckets[int(idx%rateBuckets)]++
		r.total++
	}
	if r.total <= c.r.Threshold {
		r.over = false
		return r.total, false
	}
	if r.over {
		return r.total, false
	}
	r.over = true
	return r.total, true
}

func scopeRoom(c *compiled, m *message.Message) string {
	if c.r.Per == "room" {
		return m.Room
	}
	return ""
}

func scopeUser(c *compiled, m *message.Message) string {
	if c.r.Per == "user" {
		return m.User
	}
	return ""
}

func scopeText(c *compiled, m *message.Message) string {
	switch c.r.Per {
	case "room":
		return inRoom(m.Room)
	case "user":
		return " from " + orUnknown(m.User)
	}
	return " on " + m.Target
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown user"
	}
	return s
}

func inRoom(room string) string {
	if room == "" {
		return ""
	}
	return " in " + room
}
