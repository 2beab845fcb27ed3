package anomaly

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// FuzzLoad: any bytes either load or are refused with ErrState, without
// panicking; the checksum is skipped (decode) so that the fuzzer reaches
// the decoder itself. A state that decodes re-encodes to bytes that load
// and encode to the same bytes again, and the detector it gives can be fed
// and advanced.
func FuzzLoad(f *testing.F) {
	d := newFuzzSeed(f)
	valid, err := d.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-4]) // the body, which decode takes whole
	f.Add(valid[:len(valid)/2])
	empty, _ := newDetectorF(f).MarshalBinary()
	f.Add(empty)
	f.Add(empty[:len(empty)-4])
	f.Add([]byte(stateMagic + "\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := Load(Options{}, data); err != nil && !errors.Is(err, ErrState) {
			t.Fatalf("Load: %v does not wrap ErrState", err)
		}
		d, _ := New(Options{})
		if d.decode(data) != nil {
			return
		}
		enc, err := d.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		d2, err := Load(Options{}, enc)
		if err != nil {
			t.Fatalf("re-encoded state does not load: %v", err)
		}
		enc2, _ := d2.MarshalBinary()
		if !bytes.Equal(enc, enc2) {
			t.Fatal("a loaded state encodes differently")
		}
		var last int64
		for _, ks := range d2.order {
			last = max(last, ks.last, ks.pend)
		}
		for m := last; m < last+20; m++ {
			d2.ObserveMessage("t", "r", "u", 3, minuteTime(m), m%2 == 0)
			d2.Advance(m + 1)
		}
		d2.List(Query{})
		if _, err := d2.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	})
}

func newDetectorF(f *testing.F) *Detector {
	d, err := New(Options{})
	if err != nil {
		f.Fatal(err)
	}
	return d
}

// newFuzzSeed returns a detector that has seen nine days of two targets,
// with open and closed anomalies and a pending minute.
func newFuzzSeed(f *testing.F) *Detector {
	d := newDetectorF(f)
	stateStream(d, rand.New(rand.NewPCG(5, 5)), day0, day0+9*1440+14*60+5)
	return d
}
