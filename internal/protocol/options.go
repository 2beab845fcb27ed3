package protocol

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Options are a target's protocol-specific settings, as decoded from JSON
// (string, float64, bool, []any, map[string]any values).
type Options map[string]any

// OptionReader reads Options with types checked, remembering the first
// problem: read every option, then call Err. Its messages name the option
// key ("options.qos: ...").
type OptionReader struct {
	o    Options
	err  error
	seen []string
}

// Read starts reading o.
func (o Options) Read() *OptionReader { return &OptionReader{o: o} }

func (r *OptionReader) fail(key, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("options.%s: %s", key, fmt.Sprintf(format, args...))
	}
}

func (r *OptionReader) get(key string) (any, bool) {
	r.seen = append(r.seen, key)
	v, ok := r.o[key]
	if ok && v == nil {
		return nil, false
	}
	return v, ok
}

// String returns the string option key, or def when absent.
func (r *OptionReader) String(key, def string) string {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	s, isStr := v.(string)
	if !isStr {
		r.fail(key, "must be a string, got %v", v)
		return def
	}
	return s
}

// Int returns the integer option key within [lo, hi], or def when absent.
func (r *OptionReader) Int(key string, def, lo, hi int) int {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	f, isNum := v.(float64)
	if !isNum || f != math.Trunc(f) {
		r.fail(key, "must be an integer, got %v", v)
		return def
	}
	if f < float64(lo) || f > float64(hi) {
		r.fail(key, "must be between %d and %d, got %v", lo, hi, v)
		return def
	}
	return int(f)
}

// Seconds returns the option key, a number of seconds within [lo, hi], as a
// duration, or def when absent.
func (r *OptionReader) Seconds(key string, def time.Duration, lo, hi float64) time.Duration {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	f, isNum := v.(float64)
	if !isNum || f < lo || f > hi {
		r.fail(key, "must be a number of seconds between %g and %g, got %v", lo, hi, v)
		return def
	}
	return time.Duration(f * float64(time.Second))
}

// Bool returns the boolean option key, or def when absent.
func (r *OptionReader) Bool(key string, def bool) bool {
	v, ok := r.get(key)
	if !ok {
		return def
	}
	b, isBool := v.(bool)
	if !isBool {
		r.fail(key, "must be true or false, got %v", v)
		return def
	}
	return b
}

// Strings returns the list-of-strings option key, or nil when absent.
func (r *OptionReader) Strings(key string) []string {
	v, ok := r.get(key)
	if !ok {
		return nil
	}
	l, isList := v.([]any)
	if !isList {
		r.fail(key, "must be a list of strings, got %v", v)
		return nil
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, isStr := e.(string)
		if !isStr {
			r.fail(key, "must be a list of strings, got element %v", e)
			return nil
		}
		out = append(out, s)
	}
	return out
}

// Object returns the JSON-object option key (a copy), or nil when absent.
func (r *OptionReader) Object(key string) map[string]any {
	v, ok := r.get(key)
	if !ok {
		return nil
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		r.fail(key, "must be a JSON object, got %v", v)
		return nil
	}
	return maps.Clone(m)
}

// OneOf returns the string option key, which must be one of allowed, or
// def when absent.
func (r *OptionReader) OneOf(key, def string, allowed ...string) string {
	s := r.String(key, def)
	if !slices.Contains(allowed, s) {
		r.fail(key, "must be one of %s, got %q", strings.Join(allowed, ", "), s)
		return def
	}
	return s
}

// Err returns the first problem found, or an error naming an option that
// was never read (unknown to the adapter).
func (r *OptionReader) Err() error {
	if r.err != nil {
		return r.err
	}
	var unknown []string
	for k := range r.o {
		if !slices.Contains(r.seen, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := slices.Clone(r.seen)
		sort.Strings(known)
		if len(known) == 0 {
			return fmt.Errorf("options.%s: this protocol has no options", unknown[0])
		}
		return fmt.Errorf("options.%s: unknown option (known: %s)", unknown[0], strings.Join(known, ", "))
	}
	return nil
}
