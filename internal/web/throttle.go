package web

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Failed authentication attempts (wrong bearer token, basic credentials or
// login) are limited per client address: a client has failBurst attempts,
// regained at one per failRefill; beyond that every credential check of
// that address answers 429 until it has regained one. IPv6 clients are
// counted per /64, which is what one host usually holds.
const (
	failBurst   = 10
	failRefill  = 6 * time.Second // 10 a minute once the burst is spent
	maxTracked  = 10_000          // addresses remembered; full buckets are forgotten first
	warnEvery   = time.Minute     // at most one warning per address per minute
	retryAfterS = "6"
)

type throttle struct {
	mu    sync.Mutex
	m     map[netip.Addr]*bucket
	now   func() time.Time
	burst float64 // failBurst; tests that fail on purpose raise it
}

type bucket struct {
	tokens float64
	last   time.Time // when tokens was computed
	warned time.Time
}

func newThrottle() *throttle {
	return &throttle{m: map[netip.Addr]*bucket{}, now: time.Now, burst: failBurst}
}

// remoteIP is the connection's peer address (invalid if unparsable).
func remoteIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, _ := netip.ParseAddr(host)
	return ip.Unmap().WithZone("")
}

// clientKey is the key failures of ip are counted against: IPv6 per /64.
func clientKey(ip netip.Addr) netip.Addr {
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

func (t *throttle) refill(b *bucket, now time.Time) {
	b.tokens = min(t.burst, b.tokens+now.Sub(b.last).Seconds()/failRefill.Seconds())
	b.last = now
}

// blocked reports whether ip has no attempt left.
func (t *throttle) blocked(ip netip.Addr) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.m[ip]
	if b == nil {
		return false
	}
	t.refill(b, t.now())
	return b.tokens < 1
}

// fail records a failed attempt by ip and reports whether a warning should
// be logged now (the first failure after a quiet minute, then at most once
// a minute while failures continue).
func (t *throttle) fail(ip netip.Addr) (warn bool, left int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	b := t.m[ip]
	if b == nil {
		if len(t.m) >= maxTracked {
			t.sweep(now)
		}
		b = &bucket{tokens: t.burst, last: now}
		t.m[ip] = b
	}
	t.refill(b, now)
	b.tokens = max(0, b.tokens-1)
	if now.Sub(b.warned) >= warnEvery {
		b.warned = now
		warn = true
	}
	return warn, int(b.tokens)
}

// sweep forgets addresses that regained every attempt; if that is not
// enough (a flood from many addresses), it forgets all of them rather than
// grow without bound.
func (t *throttle) sweep(now time.Time) {
	for ip, b := range t.m {
		t.refill(b, now)
		if b.tokens >= t.burst {
			delete(t.m, ip)
		}
	}
	if len(t.m) >= maxTracked {
		clear(t.m)
	}
}
