// Package anomaly owns wsmon's anomaly detection: from per-minute
// aggregates of each target and each room of a target (message counts,
// users new to the target, the busiest users, counts per message type) it
// finds rate spikes and silences against a seasonal baseline (the same hour
// of the week over the last weeks, median and MAD, with fallbacks while
// less history exists), floods of new users, one user flooding, and sudden
// changes of the message-type mix (a storm of leave or system messages).
//
// A Detector is fed incrementally (Observe, ObserveMessage) and told that
// time passes (Advance), so it never reads the message table; what it keeps
// per key is fixed in size (168 hour-of-week slots of a few weeks each, a
// 16-minute window, a few running averages), and the number of keys is
// capped. Its whole state, anomalies included, is serialised by
// MarshalBinary and restored by Load, so that it can be stored beside the
// index segments and survive restarts.
//
// Each Anomaly has a kind, a key (target, room, user), a score, a start and
// an end (zero while it is open), an English explanation and a stable code
// with parameters from which the dashboard renders the same sentence in
// Chinese. docs/analysis-anomaly.md records how well it finds injected
// anomalies on a synthetic stream (precision and recall per kind), its
// parameters and its limits.
package anomaly

import (
	"fmt"
	"math"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

// Kind is what an anomaly is. Its String form is the stable code used in
// the API, the state encoding and the dashboard's translations.
type Kind uint8

// The kinds of anomaly.
const (
	// KindSpike: far more messages in a few minutes than the seasonal
	// baseline expects. Score: robust z (observed minus expected, over the
	// Poisson and seasonal spread).
	KindSpike Kind = iota + 1
	// KindSilence: no message at all for a run of minutes in which the
	// baseline expected enough that such a run is improbable. Score:
	// -log10 of the probability of the run (a Poisson process at a
	// cautious rate).
	KindSilence
	// KindNewUsers: far more users new to the target in a window than the
	// usual share of new users per message predicts. Score: robust z.
	KindNewUsers
	// KindUserFlood: one user sending a large share of a window's messages,
	// far more than the busiest user usually sends. Score: robust z.
	KindUserFlood
	// KindTypeMix: the window's shares of message types (chat, system,
	// join, leave, other) far from the usual shares. Score: the G-test
	// statistic as a z (sqrt(2G) - sqrt(2·df-1)), df = 4.
	KindTypeMix
	numKinds = 5
)

var kindNames = [numKinds + 1]string{"", "rate_spike", "silence", "new_user_flood", "user_flood", "type_mix"}

// String returns the kind's stable code: "rate_spike", "silence",
// "new_user_flood", "user_flood" or "type_mix".
func (k Kind) String() string {
	if k < 1 || k > numKinds {
		return fmt.Sprintf("kind(%d)", uint8(k))
	}
	return kindNames[k]
}

// ParseKind returns the kind whose String is s.
func ParseKind(s string) (Kind, bool) {
	for k := Kind(1); k <= numKinds; k++ {
		if kindNames[k] == s {
			return k, true
		}
	}
	return 0, false
}

// Kinds lists every kind in order.
func Kinds() []Kind { return []Kind{KindSpike, KindSilence, KindNewUsers, KindUserFlood, KindTypeMix} }

// NumTypes is the number of message types Counts.Types counts.
const NumTypes = 5

// TypeIndex returns the index in Counts.Types of a message type: chat 0,
// system 1, join 2, leave 3, anything else 4 (other).
func TypeIndex(t message.Type) int {
	switch t {
	case message.TypeChat:
		return 0
	case message.TypeSystem:
		return 1
	case message.TypeJoin:
		return 2
	case message.TypeLeave:
		return 3
	}
	return 4
}

var typeNames = [NumTypes]message.Type{message.TypeChat, message.TypeSystem, message.TypeJoin, message.TypeLeave, message.TypeOther}

// Key is what the detector keeps a baseline for: a target (Room "") or one
// room of a target.
type Key struct {
	Target string
	Room   string
}

func (k Key) String() string {
	if k.Room == "" {
		return fmt.Sprintf("target %s", k.Target)
	}
	return fmt.Sprintf("room %s of target %s", k.Room, k.Target)
}

// UserCount is a number of messages of one user.
type UserCount struct {
	User  string
	Count uint32
}

// Counts is what happened under one key in (part of) one minute. It is
// what the index's rollups can produce behind ingest for each committed
// message without reading anything back: the message (Messages 1, its type
// in Types, its user in Users) and whether its user was new to the target
// (the per-target user rollup had no row for it). Several Counts for the
// same key and minute add up.
type Counts struct {
	Messages uint32
	// NewUsers counts users seen for the first time in the target (for a
	// room key: users new to the target whose first message was in this
	// room).
	NewUsers uint32
	// Types counts messages by TypeIndex. The type mix is judged on these
	// alone, so they may be left zero when the mix is not wanted.
	Types [NumTypes]uint32
	// Users counts messages per user. The detector keeps the busiest
	// users of each minute from them (a space-saving summary of 8 per
	// pending minute, the top 3 per closed minute), so any user with more
	// than an eighth of a minute's messages is counted exactly.
	Users []UserCount
}

// Anomaly is one detected anomaly. Values returned by the Detector are
// copies; Params is shared and never modified after it is returned (an
// update replaces the map), so it may be read freely.
type Anomaly struct {
	ID    uint64 // unique within a Detector and its restored states, increasing
	Kind  Kind
	Key   Key
	User  string  // the flooding user (KindUserFlood), else ""
	Score float64 // the highest score while it was open; the kind says its unit
	Start time.Time
	// End is zero while the anomaly is open: its end is not known yet.
	End  time.Time
	Open bool
	// Code is Kind.String(); Params are the figures of the explanation
	// (numbers formatted as decimal strings) so the dashboard can render it
	// in any language. The parameters of each code are listed in
	// docs/analysis-anomaly.md.
	Code        string
	Params      map[string]string
	Explanation string // the same in English
}

// EventType says what happened to an anomaly.
type EventType uint8

// The events.
const (
	Opened EventType = iota + 1
	Closed
)

func (e EventType) String() string {
	switch e {
	case Opened:
		return "opened"
	case Closed:
		return "closed"
	}
	return "event(?)"
}

// Event is an anomaly that opened or closed, as Options.OnEvent receives it.
type Event struct {
	Type    EventType
	Anomaly Anomaly
}

// Options configure a Detector. The zero value of every field means its
// default; thresholds are in the units of the kind's score.
type Options struct {
	// Location is the time zone whose hour of the week the seasonal
	// baseline follows (chat follows local time). nil means UTC.
	Location *time.Location
	// MaxKeys caps the keys (targets and rooms) the detector keeps state
	// for; observations of further keys are dropped and counted
	// (Stats.DroppedObservations). Room keys stop a tenth (at most 64)
	// short of it, so that targets still get keys. Default DefaultMaxKeys; a key
	// holds about 5.7 KiB (docs/analysis-anomaly.md).
	MaxKeys int
	// MaxHistory caps the anomalies kept for List (the oldest go first,
	// counted in Stats.HistoryEvicted). Default 10,000.
	MaxHistory int
	// Weeks is the number of weekly samples kept per hour-of-week slot
	// (1..8). Default 4.
	Weeks int
	// WarmUp is the number of minutes a key must have been watched before
	// anything is reported for it. Default 360.
	WarmUp int

	SpikeWindow    int     // minutes summed for a rate spike, default 5 (1..16)
	SpikeZ         float64 // z that opens a spike, default 6; it closes below half
	SpikeMinExcess float64 // messages above the expected count needed to open, default 20

	SilenceMinutes int     // minimum run of silent minutes, default 10
	SilenceScore   float64 // -log10 probability that opens a silence, default 8

	NewUserWindow int     // minutes, default 10 (1..16)
	NewUserZ      float64 // default 6
	NewUserMin    int     // new users in the window needed to open, default 10

	UserWindow int     // minutes, default 10 (1..16)
	UserZ      float64 // default 6
	UserMin    int     // messages of the user in the window needed to open, default 30
	UserShare  float64 // share of the window's messages needed to open, default 0.3

	TypeWindow int     // minutes, default 15 (1..16)
	TypeZ      float64 // default 6
	TypeMin    int     // messages in the window needed to judge the mix, default 30
	TypeJSD    float64 // Jensen-Shannon divergence (bits) needed to open, default 0.1

	// OnEvent, if set, is called for every anomaly that opens or closes,
	// on the goroutine that called Observe, ObserveMessage, Advance or
	// Skip, after the detector's lock is released (so it may call the
	// detector), in the order the events happened. It must not block for
	// long: the caller (the indexer) waits for it.
	OnEvent func(Event)
}

const ringLen = 16 // minutes kept per key; the longest window

// DefaultMaxKeys is Options.MaxKeys's default: 2,000 keys, about 11 MiB.
const DefaultMaxKeys = 2_000

func (o Options) withDefaults() (Options, error) {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	deff := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	def(&o.MaxKeys, DefaultMaxKeys)
	def(&o.MaxHistory, 10_000)
	def(&o.Weeks, 4)
	def(&o.WarmUp, 360)
	def(&o.SpikeWindow, 5)
	deff(&o.SpikeZ, 6)
	deff(&o.SpikeMinExcess, 10)
	def(&o.SilenceMinutes, 10)
	deff(&o.SilenceScore, 8)
	def(&o.NewUserWindow, 10)
	deff(&o.NewUserZ, 6)
	def(&o.NewUserMin, 10)
	def(&o.UserWindow, 10)
	deff(&o.UserZ, 6)
	def(&o.UserMin, 30)
	deff(&o.UserShare, 0.3)
	def(&o.TypeWindow, 15)
	deff(&o.TypeZ, 6)
	def(&o.TypeMin, 30)
	deff(&o.TypeJSD, 0.1)
	switch {
	case o.MaxKeys < 0 || o.MaxHistory < 0 || o.WarmUp < 0 || o.SilenceMinutes < 0 || o.NewUserMin < 0 || o.UserMin < 0 || o.TypeMin < 0:
		return o, fmt.Errorf("anomaly: negative option")
	case o.Weeks < 1 || o.Weeks > maxWeeks:
		return o, fmt.Errorf("anomaly: Weeks %d not in 1..%d", o.Weeks, maxWeeks)
	}
	for _, w := range []int{o.SpikeWindow, o.NewUserWindow, o.UserWindow, o.TypeWindow} {
		if w < 1 || w > ringLen {
			return o, fmt.Errorf("anomaly: window of %d minutes not in 1..%d", w, ringLen)
		}
	}
	for _, f := range []float64{o.SpikeZ, o.SpikeMinExcess, o.SilenceScore, o.NewUserZ, o.UserZ, o.UserShare, o.TypeZ, o.TypeJSD} {
		if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return o, fmt.Errorf("anomaly: threshold %v is not a finite number ≥ 0", f)
		}
	}
	return o, nil
}

// Stats are the detector's counters.
type Stats struct {
	Keys int // keys with state
	Open int // anomalies open now
	// DroppedObservations counts observations of new keys refused because
	// MaxKeys keys exist.
	DroppedObservations uint64
	// Late counts observations for a minute the key had already closed
	// (they are not counted anywhere).
	Late uint64
	// HistoryEvicted counts anomalies dropped from the history (MaxHistory).
	HistoryEvicted uint64
	// Minutes counts key-minutes evaluated.
	Minutes uint64
}

// Query selects anomalies for List. Zero fields select everything.
type Query struct {
	Target string // "" = every target
	// Room: "" = the target's own key and every room; a room name = that
	// room's key only.
	Room     string
	Kinds    []Kind    // empty = every kind
	From, To time.Time // anomalies overlapping [From, To); zero = unbounded
	OpenOnly bool
	Limit    int // newest (by start) first; 0 = all
}
