package message

import (
	"bytes"
	"math"
	"strconv"
	"time"

	"github.com/wsmon/wsmon/internal/jsontok"
)

// Magnitude thresholds telling the unit of a numeric epoch timestamp apart.
// 1e11 seconds is the year 5138, so anything larger is a finer unit.
const (
	msThreshold = 100_000_000_000         // above: milliseconds
	usThreshold = 100_000_000_000_000     // above: microseconds
	nsThreshold = 100_000_000_000_000_000 // above: nanoseconds
)

// numberTime interprets the JSON number (or numeric string) b as a time since
// the Unix epoch in seconds, milliseconds, microseconds or nanoseconds, told
// apart by magnitude (> 1e11 ms, > 1e14 µs, > 1e17 ns). Fractions are kept.
// Zero, negative, non-finite and out-of-range values are rejected. The result
// is in UTC.
func numberTime(b []byte) (time.Time, bool) {
	if len(b) == 0 {
		return time.Time{}, false
	}
	if len(b) <= 19 && allDigits(b) {
		var v uint64 // 19 digits fit in a uint64
		for _, c := range b {
			v = v*10 + uint64(c-'0')
		}
		if v == 0 || v > math.MaxInt64 {
			return time.Time{}, false
		}
		return unitTime(int64(v), 0), true
	}
	if jsontok.NumberEnd(b, 0) != len(b) {
		return time.Time{}, false
	}
	// A plain decimal "I.F" is converted exactly, without floating point.
	if ip, fp, ok := bytes.Cut(b, []byte{'.'}); ok && len(ip) <= 19 && allDigits(ip) && allDigits(fp) {
		var v uint64
		for _, c := range ip {
			v = v*10 + uint64(c-'0')
		}
		var frac int64 // fp as a fraction in units of 1e-9
		for i := range 9 {
			frac *= 10
			if i < len(fp) {
				frac += int64(fp[i] - '0')
			}
		}
		if v > math.MaxInt64 || (v == 0 && frac == 0) {
			return time.Time{}, false
		}
		return unitTime(int64(v), frac), true
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || !(f > 0) || f >= math.MaxInt64 {
		return time.Time{}, false
	}
	ip := math.Floor(f)
	return unitTime(int64(ip), int64((f-ip)*1e9)), true
}

// unitTime returns the time v + frac/1e9 units after the epoch, the unit
// chosen by the magnitude of v as documented on numberTime. frac is in
// [0, 1e9).
func unitTime(v int64, frac int64) time.Time {
	var perSec int64 // units per second
	switch {
	case v > nsThreshold:
		perSec = 1e9
	case v > usThreshold:
		perSec = 1e6
	case v > msThreshold:
		perSec = 1e3
	default:
		perSec = 1
	}
	nsPerUnit := 1e9 / perSec
	ns := (v%perSec)*nsPerUnit + frac*nsPerUnit/1e9
	return time.Unix(v/perSec, ns).UTC()
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// textTime parses a timestamp string: a numeric string (see numberTime), or
// "YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|±HH:MM]", which covers RFC 3339 and
// "2006-01-02 15:04:05". Without a zone the time is taken as UTC ('t' and 'z'
// may be lower case). The result is in UTC.
func textTime(b []byte) (time.Time, bool) {
	if len(b) >= 19 && b[4] == '-' {
		return dateTime(b)
	}
	return numberTime(b)
}

// dateTime parses the date-time layouts documented on textTime.
func dateTime(b []byte) (time.Time, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	if c := b[10]; c != 'T' && c != 't' && c != ' ' {
		return time.Time{}, false
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	i := 19
	nsec := 0
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if i-start < 9 {
				nsec = nsec*10 + int(b[i]-'0')
			}
			i++
		}
		if i == start {
			return time.Time{}, false
		}
		for n := i - start; n < 9; n++ {
			nsec *= 10
		}
	}
	offset := 0 // seconds east of UTC
	if i < len(b) {
		switch b[i] {
		case 'Z', 'z':
			i++
		case '+', '-':
			if len(b)-i < 6 || b[i+3] != ':' {
				return time.Time{}, false
			}
			oh, ok1 := num(b[i+1 : i+3])
			om, ok2 := num(b[i+4 : i+6])
			if !ok1 || !ok2 || oh > 23 || om > 59 {
				return time.Time{}, false
			}
			offset = oh*3600 + om*60
			if b[i] == '-' {
				offset = -offset
			}
			i += 6
		default:
			return time.Time{}, false
		}
	}
	if i != len(b) {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}

// num decodes a fixed-width run of decimal digits.
func num(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
