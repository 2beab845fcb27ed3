package message

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// FieldMap overrides field detection for servers whose payloads do not use
// the usual names. Each non-empty entry is a dotted path from the root of the
// JSON document: "data.sender.nick", "user.name". A segment selects the member
// with that exact key in an object, or, when the value there is an array and
// the segment is a decimal index, that element ("args.0", "args.1.text").
//
// A mapped field is read only from its path: when the path is missing from a
// payload the field stays empty (Room then falls back to the protocol's room),
// it is not detected. An empty entry means "detect as usual".
type FieldMap struct {
	User, Content, Type, Room, Time, ID string
}

// fieldMapKeys are the keys ParseFieldMap accepts, in FieldMap order.
func fieldMapKeys() [numFields]string {
	return [numFields]string{"user", "content", "type", "room", "time", "id"}
}

// ParseFieldMap builds a FieldMap from configuration, where m maps a field
// name (user, content, type, room, time, id) to a dotted path. It returns an
// error naming the first (in key order) unknown field or malformed path:
// empty segments, as in "a..b", ".a" or "a.", are malformed. Empty paths are
// allowed and leave the field to detection.
func ParseFieldMap(m map[string]string) (FieldMap, error) {
	var fm FieldMap
	for _, k := range slices.Sorted(maps.Keys(m)) {
		path := m[k]
		if err := checkPath(path); err != nil {
			return FieldMap{}, fmt.Errorf("message: field map %q: %w", k, err)
		}
		switch k {
		case "user":
			fm.User = path
		case "content":
			fm.Content = path
		case "type":
			fm.Type = path
		case "room":
			fm.Room = path
		case "time":
			fm.Time = path
		case "id":
			fm.ID = path
		default:
			keys := fieldMapKeys()
			return FieldMap{}, fmt.Errorf("message: unknown field map key %q (want one of %s)", k, strings.Join(keys[:], ", "))
		}
	}
	return fm, nil
}

// checkPath reports whether path is empty or a well-formed dotted path.
func checkPath(path string) error {
	if path == "" {
		return nil
	}
	for seg := range strings.SplitSeq(path, ".") {
		if seg == "" {
			return fmt.Errorf("path %q has an empty segment", path)
		}
	}
	return nil
}

// paths returns the split paths indexed by field; nil means not mapped. A
// malformed path (only possible when the FieldMap was not built by
// ParseFieldMap) becomes {""}, which never matches: the field is mapped to
// nothing rather than silently detected.
func (fm FieldMap) paths() [numFields][]string {
	var p [numFields][]string
	for f, s := range [numFields]string{fm.User, fm.Content, fm.Type, fm.Room, fm.Time, fm.ID} {
		switch {
		case s == "":
		case checkPath(s) != nil:
			p[f] = []string{""}
		default:
			p[f] = strings.Split(s, ".")
		}
	}
	return p
}
