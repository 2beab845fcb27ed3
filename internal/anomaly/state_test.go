package anomaly

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
)

// stateStream feeds two targets (one with two rooms) from minute from to
// to through ObserveMessage, with a burst, a flood and a silence on the
// way, from rng; it leaves the last minute pending (no Advance past it).
func stateStream(d *Detector, rng *rand.Rand, from, to int64) {
	n := 0
	for m := from; m < to; m++ {
		off := mod(m-day0, 1440)
		for _, k := range []Key{{"a", "r1"}, {"a", "r2"}, {"b", ""}} {
			rate := daytime(m)
			if k.Room == "r1" && off >= 14*60 && off < 14*60+10 {
				rate = 40
			}
			if k.Target == "b" && off >= 11*60 && off < 12*60 {
				rate = 0
			}
			for range poisson(rng, rate) {
				n++
				user := string(rune('a' + rng.IntN(30)))
				if k.Room == "r2" && off >= 15*60 && off < 15*60+10 {
					user = "flood"
				}
				d.ObserveMessage(k.Target, k.Room, user, rng.IntN(NumTypes), minuteTime(m), n%97 == 0)
			}
		}
		if m+1 < to {
			d.Advance(m + 1)
		}
	}
}

// TestStateRoundTrip: a restored detector encodes to the same bytes and,
// fed the same stream afterwards, finds the same anomalies and ends in the
// same state as the one that never stopped.
func TestStateRoundTrip(t *testing.T) {
	o := Options{MaxHistory: 5}
	d1 := newDetector(t, o)
	stop := day0 + 9*1440 + 14*60 + 5 // inside the burst: a spike is open
	stateStream(d1, rand.New(rand.NewPCG(1, 1)), day0, stop)
	if d1.Stats().Open == 0 || d1.Stats().HistoryEvicted == 0 {
		t.Fatalf("want open anomalies and an evicted history at the stop, got %+v", d1.Stats())
	}
	b1, err := d1.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	d2, err := Load(o, b1)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := d2.MarshalBinary()
	if !bytes.Equal(b1, b2) {
		t.Fatalf("re-encoded state differs (%d vs %d bytes)", len(b1), len(b2))
	}
	if !reflect.DeepEqual(d1.List(Query{}), d2.List(Query{})) || d1.Stats() != d2.Stats() {
		t.Fatalf("restored detector lists or counts differently:\n%v\n%v", d1.List(Query{}), d2.List(Query{}))
	}
	for _, d := range []*Detector{d1, d2} {
		stateStream(d, rand.New(rand.NewPCG(2, 2)), stop, stop+2*1440)
	}
	if l1, l2 := d1.List(Query{}), d2.List(Query{}); !reflect.DeepEqual(l1, l2) {
		t.Errorf("after the restart the anomalies differ:\n%v\n%v", l1, l2)
	}
	e1, _ := d1.MarshalBinary()
	e2, _ := d2.MarshalBinary()
	if !bytes.Equal(e1, e2) {
		t.Error("after the restart the states differ")
	}
	t.Logf("state: %d keys, %d bytes", d1.Stats().Keys, len(e1))

	// Other options: fewer or more weeks, a shorter history.
	for _, o2 := range []Options{{Weeks: 1}, {Weeks: 8}, {MaxHistory: 1}} {
		d3, err := Load(o2, b1)
		if err != nil {
			t.Errorf("Load(%+v): %v", o2, err)
			continue
		}
		if d3.Stats().Open != d1.Stats().Open {
			t.Errorf("Load(%+v): %d open, want %d", o2, d3.Stats().Open, d1.Stats().Open)
		}
		stateStream(d3, rand.New(rand.NewPCG(2, 2)), stop, stop+60)
	}
}

// TestStateErrors: damaged, foreign or oversized states are refused with
// ErrState.
func TestStateErrors(t *testing.T) {
	d := newDetector(t, Options{})
	stateStream(d, rand.New(rand.NewPCG(3, 3)), day0, day0+600)
	b, _ := d.MarshalBinary()
	flip := bytes.Clone(b)
	flip[len(flip)/2] ^= 1
	for name, data := range map[string][]byte{
		"empty":     nil,
		"truncated": b[:len(b)-5],
		"flipped":   flip,
		"foreign":   append([]byte("something else entirely"), b[len(b)-4:]...),
	} {
		if _, err := Load(Options{}, data); !errors.Is(err, ErrState) {
			t.Errorf("%s: err %v, want ErrState", name, err)
		}
	}
	if _, err := Load(Options{MaxKeys: 2}, b); !errors.Is(err, ErrState) {
		t.Errorf("3 keys into MaxKeys 2: err %v", err)
	}
	if _, err := Load(Options{Weeks: 99}, b); err == nil || errors.Is(err, ErrState) {
		t.Errorf("bad options: err %v, want an options error", err)
	}
}
