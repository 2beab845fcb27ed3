package capture

import (
	"math/rand/v2"
	"time"
)

// backoff is the reconnect delay policy, owned by the Runner alone.
//
// The delay before attempt n (0-based, counting consecutive unstable
// attempts) uses "equal jitter": with ceil = min(max, base*2^n), the delay is
// uniform in [ceil/2, ceil]. Pure full jitter ([0, ceil]) can retry almost
// at once, which surprises users who set reconnect_interval and expect
// roughly that wait; equal jitter keeps the first retry within
// [interval/2, interval] while still spreading many clients apart. A server
// asking us to come back later (close 1013/4429, HTTP 429/503) gets the
// capped delay [max/2, max]. A connection that stayed up StableAfter resets
// n to 0; dial and handshake failures never reset it.
//
// With fixed set (reconnect_backoff: false) every delay is base: the
// original monitor's fixed reconnect_interval, without jitter.
type backoff struct {
	base, max   time.Duration
	stableAfter time.Duration
	fixed       bool
	attempt     int
	randN       func(n int64) int64 // uniform in [0, n); nil = math/rand/v2
}

// next returns the delay before the next attempt and counts the attempt.
func (b *backoff) next(slowDown bool) time.Duration {
	ceil := b.ceiling(b.attempt)
	if b.fixed && !slowDown {
		b.attempt++
		return b.base
	}
	if slowDown {
		ceil = b.max
	}
	b.attempt++
	half := ceil / 2
	span := int64(ceil-half) + 1
	rnd := b.randN
	if rnd == nil {
		rnd = rand.Int64N
	}
	return half + time.Duration(rnd(span))
}

// ended records how a connection attempt ended: a connection that was
// established and stayed up at least stableAfter resets the backoff.
func (b *backoff) ended(established bool, uptime time.Duration) {
	if established && uptime >= b.stableAfter {
		b.attempt = 0
	}
}

// ceiling is min(max, base*2^attempt), without overflow.
func (b *backoff) ceiling(attempt int) time.Duration {
	d := b.base
	for range attempt {
		if d >= b.max/2 {
			return b.max
		}
		d *= 2
	}
	return min(d, b.max)
}
