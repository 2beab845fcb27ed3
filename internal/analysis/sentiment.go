package analysis

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/wsmon/wsmon/internal/sentiment"
	"github.com/wsmon/wsmon/internal/terms"
)

// Bounds of the sentiment rollups.
const (
	// SentimentDays is how many local days are kept (the newest and the
	// days before it), the terms' default window.
	SentimentDays = 15
	// SentimentRooms is how many rooms of a target are rolled up on
	// their own each day (the first seen); messages of further rooms
	// count in the all-rooms total only (Untracked).
	SentimentRooms = 64
	// SentimentTargets is how many targets are rolled up each day.
	SentimentTargets = 64
	// MostNegative is how many of the most negative messages are kept per
	// target and day.
	MostNegative = 20
)

// Agg is a rollup of scored messages.
type Agg struct {
	N   uint64  `json:"n"`
	Sum float64 `json:"sum"` // of the scores, in [-1, 1] each
	Pos uint64  `json:"pos"`
	Neu uint64  `json:"neu"`
	Neg uint64  `json:"neg"`
	// Remote of the N were scored by the external classifier, the others
	// by the lexicon (without a classifier, or when it did not answer).
	// States saved before the classifier existed have 0.
	Remote uint64 `json:"remote"`
}

func (a *Agg) add(score float64, l sentiment.Label) {
	a.N++
	a.Sum += score
	switch l {
	case sentiment.Positive:
		a.Pos++
	case sentiment.Negative:
		a.Neg++
	default:
		a.Neu++
	}
}

// Scored is a message's id and score.
type Scored struct {
	ID     int64   `json:"id"`
	Room   string  `json:"room"`
	Score  float64 `json:"score"`
	Remote bool    `json:"remote,omitempty"` // scored by the external classifier (else by the lexicon)
}

// dayRollup is one target's day: the all-rooms total under room "" and
// each tracked room.
type dayRollup struct {
	Rooms     map[string]*Agg `json:"rooms"`
	Untracked uint64          `json:"untracked"`     // messages whose room was past SentimentRooms (counted in "" only)
	Negative  []Scored        `json:"most_negative"` // lowest scores first, at most MostNegative, scores < 0 only
}

type dayKey struct {
	Target string
	Day    terms.Day
}

// sentimentState is the rollups of every kept day; safe for concurrent
// use.
type sentimentState struct {
	mu        sync.RWMutex
	days      map[dayKey]*dayRollup
	newest    terms.Day
	late      uint64 // messages for days no longer kept
	untracked uint64 // messages of targets past SentimentTargets that day
}

func newSentimentState() *sentimentState {
	return &sentimentState{days: map[dayKey]*dayRollup{}}
}

// add rolls up one message; remote says the external classifier scored
// it.
func (s *sentimentState) add(id int64, target, room string, day terms.Day, score float64, l sentiment.Label, remote bool) {
	var r uint64
	if remote {
		r = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if day > s.newest {
		s.newest = day
		for k := range s.days {
			if k.Day <= day-SentimentDays {
				delete(s.days, k)
			}
		}
	}
	if day <= s.newest-SentimentDays {
		s.late++
		return
	}
	k := dayKey{target, day}
	d := s.days[k]
	if d == nil {
		n := 0
		for k2 := range s.days {
			if k2.Day == day {
				n++
			}
		}
		if n >= SentimentTargets {
			s.untracked++
			return
		}
		d = &dayRollup{Rooms: map[string]*Agg{"": {}}}
		s.days[k] = d
	}
	d.Rooms[""].add(score, l)
	d.Rooms[""].Remote += r
	if room != "" {
		a := d.Rooms[room]
		if a == nil && len(d.Rooms) <= SentimentRooms {
			a = &Agg{}
			d.Rooms[room] = a
		}
		if a != nil {
			a.add(score, l)
			a.Remote += r
		} else {
			d.Untracked++
		}
	}
	if score < 0 {
		i := sort.Search(len(d.Negative), func(i int) bool {
			x := d.Negative[i]
			return x.Score > score || (x.Score == score && x.ID > id)
		})
		if i < MostNegative {
			d.Negative = slices.Insert(d.Negative, i, Scored{id, room, score, remote})
			if len(d.Negative) > MostNegative {
				d.Negative = d.Negative[:MostNegative]
			}
		}
	}
}

// SentimentDay is one day of a target's (and room's) sentiment.
type SentimentDay struct {
	Date string    `json:"date"` // YYYY-MM-DD, local
	Day  terms.Day `json:"-"`
	Agg
	Average float64 `json:"average"` // Sum / N (0 when N is 0)
	// MostNegative are the day's most negative messages of the target
	// (all rooms, or the room when one was asked), lowest first.
	MostNegative []Scored `json:"most_negative"`
}

// query returns the days from..to (inclusive) of target ("" = every
// target) and room ("" = all rooms), oldest first; days without messages
// are left out.
func (s *sentimentState) query(target, room string, from, to terms.Day) []SentimentDay {
	s.mu.RLock()
	defer s.mu.RUnlock()
	byDay := map[terms.Day]*SentimentDay{}
	for k, d := range s.days {
		if k.Day < from || k.Day > to || (target != "" && k.Target != target) {
			continue
		}
		a := d.Rooms[room]
		if a == nil {
			continue
		}
		sd := byDay[k.Day]
		if sd == nil {
			sd = &SentimentDay{Day: k.Day, Date: k.Day.Time().Format("2006-01-02")}
			byDay[k.Day] = sd
		}
		sd.N += a.N
		sd.Sum += a.Sum
		sd.Pos += a.Pos
		sd.Neu += a.Neu
		sd.Neg += a.Neg
		sd.Remote += a.Remote
		// A room's most negative are not kept apart: with a room, the
		// room's own messages among the target's most negative.
		for _, x := range d.Negative {
			if room == "" || x.Room == room {
				sd.MostNegative = append(sd.MostNegative, x)
			}
		}
	}
	out := make([]SentimentDay, 0, len(byDay))
	for _, sd := range byDay {
		if sd.N > 0 {
			sd.Average = sd.Sum / float64(sd.N)
		}
		slices.SortFunc(sd.MostNegative, func(a, b Scored) int {
			if a.Score != b.Score {
				if a.Score < b.Score {
					return -1
				}
				return 1
			}
			return int(a.ID - b.ID)
		})
		if len(sd.MostNegative) > MostNegative {
			sd.MostNegative = sd.MostNegative[:MostNegative]
		}
		if sd.MostNegative == nil {
			sd.MostNegative = []Scored{}
		}
		out = append(out, *sd)
	}
	slices.SortFunc(out, func(a, b SentimentDay) int { return int(a.Day - b.Day) })
	return out
}

// savedSentiment is the state's encoding (JSON: the sums round-trip
// exactly).
type savedSentiment struct {
	Version   int        `json:"version"`
	Newest    terms.Day  `json:"newest"`
	Late      uint64     `json:"late"`
	Untracked uint64     `json:"untracked"`
	Days      []savedDay `json:"days"`
}

type savedDay struct {
	Target string    `json:"target"`
	Day    terms.Day `json:"day"`
	dayRollup
}

func (s *sentimentState) marshal() ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v := savedSentiment{Version: 1, Newest: s.newest, Late: s.late, Untracked: s.untracked, Days: make([]savedDay, 0, len(s.days))}
	for k, d := range s.days {
		v.Days = append(v.Days, savedDay{k.Target, k.Day, *d})
	}
	return json.Marshal(v)
}

var errSentimentState = errors.New("analysis: bad saved sentiment state")

// unmarshal replaces the state with a saved one; on error it is
// unchanged.
func (s *sentimentState) unmarshal(data []byte) error {
	var v savedSentiment
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("%w: %v", errSentimentState, err)
	}
	if v.Version != 1 || v.Newest < -terms.MaxDay || v.Newest > terms.MaxDay {
		return fmt.Errorf("%w: version %d, newest day %d", errSentimentState, v.Version, v.Newest)
	}
	days := map[dayKey]*dayRollup{}
	for _, d := range v.Days {
		k := dayKey{d.Target, d.Day}
		if _, dup := days[k]; dup || d.Day > v.Newest || d.Day <= v.Newest-SentimentDays || d.Rooms[""] == nil ||
			len(d.Rooms) > SentimentRooms+1 || len(d.Negative) > MostNegative {
			return fmt.Errorf("%w: day %d of %q", errSentimentState, d.Day, d.Target)
		}
		for _, a := range d.Rooms {
			if a == nil || a.Pos+a.Neu+a.Neg != a.N || a.Remote > a.N || math.IsNaN(a.Sum) || math.Abs(a.Sum) > float64(a.N)*(1+1e-9)+1e-9 {
				return fmt.Errorf("%w: day %d of %q: counts", errSentimentState, d.Day, d.Target)
			}
		}
		r := d.dayRollup
		days[k] = &r
	}
	s.mu.Lock()
	s.days, s.newest, s.late, s.untracked = days, v.Newest, v.Late, v.Untracked
	s.mu.Unlock()
	return nil
}
