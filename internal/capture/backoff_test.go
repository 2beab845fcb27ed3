package capture

import (
	"math"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	const (
		base   = 100 * time.Millisecond
		cap    = time.Second
		stable = 30 * time.Second
	)
	lowest := func(int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }

	// step is one thing that happens to the policy, then the delay it gives.
	type step struct {
		ended       bool // call ended(established, uptime) before next
		established bool
		uptime      time.Duration
		slowDown    bool
		lo, hi      time.Duration // expected delay bounds (lowest / highest random)
	}
	fail := func(lo, hi time.Duration) step { return step{lo: lo, hi: hi} }
	tests := []struct {
		name  string
		steps []step
	}{
		{"doubles from base within equal-jitter bounds, then caps", []step{
			fail(50*time.Millisecond, 100*time.Millisecond),
			fail(100*time.Millisecond, 200*time.Millisecond),
			fail(200*time.Millisecond, 400*time.Millisecond),
			fail(400*time.Millisecond, 800*time.Millisecond),
			fail(500*time.Millisecond, time.Second),
			fail(500*time.Millisecond, time.Second),
		}},
		{"stable connection resets", []step{
			fail(50*time.Millisecond, 100*time.Millisecond),
			fail(100*time.Millisecond, 200*time.Millisecond),
			{ended: true, established: true, uptime: stable, lo: 50 * time.Millisecond, hi: 100 * time.Millisecond},
		}},
		{"short connection does not reset", []step{
			fail(50*time.Millisecond, 100*time.Millisecond),
			{ended: true, established: true, uptime: stable - 1, lo: 100 * time.Millisecond, hi: 200 * time.Millisecond},
		}},
		{"failed dial never resets", []step{
			fail(50*time.Millisecond, 100*time.Millisecond),
			{ended: true, established: false, uptime: stable, lo: 100 * time.Millisecond, hi: 200 * time.Millisecond},
		}},
		{"try-again-later jumps to the cap", []step{
			{slowDown: true, lo: 500 * time.Millisecond, hi: time.Second},
			fail(100*time.Millisecond, 200*time.Millisecond), // the attempt still counted
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo := backoff{base: base, max: cap, stableAfter: stable, randN: lowest}
			hi := backoff{base: base, max: cap, stableAfter: stable, randN: highest}
			for i, s := range tt.steps {
				if s.ended {
					lo.ended(s.established, s.uptime)
					hi.ended(s.established, s.uptime)
				}
				if got := lo.next(s.slowDown); got != s.lo {
					t.Errorf("step %d: lowest delay %s, want %s", i, got, s.lo)
				}
				if got := hi.next(s.slowDown); got != s.hi {
					t.Errorf("step %d: highest delay %s, want %s", i, got, s.hi)
				}
			}
		})
	}
}

func TestBackoffCeilingNeverOverflows(t *testing.T) {
	b := backoff{base: time.Second, max: math.MaxInt64}
	for _, n := range []int{0, 10, 62, 63, 64, 1000} {
		if c := b.ceiling(n); c <= 0 || c > b.max {
			t.Errorf("ceiling(%d) = %d", n, c)
		}
	}
	b = backoff{base: time.Second, max: time.Minute}
	if c := b.ceiling(1 << 30); c != time.Minute {
		t.Errorf("ceiling(huge) = %s, want the cap", c)
	}
}

func TestBackoffRealRandomWithinBounds(t *testing.T) {
	b := backoff{base: 100 * time.Millisecond, max: time.Second}
	for i := range 1000 {
		ceil := b.ceiling(b.attempt)
		if d := b.next(false); d < ceil/2 || d > ceil {
			t.Fatalf("draw %d: %s outside [%s, %s]", i, d, ceil/2, ceil)
		}
		if i%7 == 0 {
			b.ended(true, 0) // stableAfter 0: every established connection resets
		}
	}
}
