package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a configuration problem tied to one key. Its message is a single
// line that names the key (and, for loading errors, where the value came
// from); Load and Validate return it, wrapped in nothing, so callers can print
// err.Error() as is or use errors.As to find the key.
type Error struct {
	// Key is the offending key ("web_port", "targets[1].url") or, for an
	// unknown environment variable, its name ("WSMON_WEB_PROT"). It is ""
	// for errors about the file as a whole (unreadable, bad JSON syntax).
	Key string
	msg string
	err error
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the underlying cause, if any (for example the
// *fs.PathError of a missing file).
func (e *Error) Unwrap() error { return e.err }

// errorf builds an *Error for key; the message is made single-line.
// Errorf returns an *Error for key with a one-line message (which, like
// every message of this package, should start with the key).
func Errorf(key string, format string, args ...any) *Error { return errorf(key, format, args...) }

func errorf(key string, format string, args ...any) *Error {
	return &Error{Key: key, msg: oneLine(fmt.Sprintf(format, args...))}
}

// oneLine replaces line breaks so that every message stays on one line even
// when it quotes text it did not escape itself.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// field is one JSON key of Config or Target.
type field struct {
	key   string
	index int
	typ   reflect.Type
}

// fieldsOf lists the JSON-tagged fields of struct type t in declaration
// order.
func fieldsOf(t reflect.Type) []field {
	fs := make([]field, 0, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "" || name == "-" || !sf.IsExported() {
			continue
		}
		fs = append(fs, field{key: name, index: i, typ: sf.Type})
	}
	return fs
}

func keysOf(fs []field) []string {
	ks := make([]string, len(fs))
	for i, f := range fs {
		ks[i] = f.key
	}
	return ks
}

func lookup(fs []field, key string) (field, bool) {
	for _, f := range fs {
		if f.key == key {
			return f, true
		}
	}
	return field{}, false
}

// The field types the decoder knows besides plain string, bool, int, int64
// and float64 kinds. These are read-only descriptors, never mutated.
var (
	stringSlice = reflect.TypeFor[[]string]()
	stringMap   = reflect.TypeFor[map[string]string]()
	anyMap      = reflect.TypeFor[map[string]any]()
	boolPtrType = reflect.TypeFor[*bool]()
	secondsType = reflect.TypeFor[Seconds]()
)

// maxGotRunes bounds how much of a bad value a message repeats.
const maxGotRunes = 40

// expected describes what a value of type t must look like, for messages.
func expected(t reflect.Type) string {
	switch {
	case t == stringSlice:
		return "a list of strings"
	case t == stringMap:
		return "an object with string values"
	case t == anyMap:
		return "an object"
	case t == boolPtrType:
		return "a boolean"
	case isObjectList(t):
		return "a list of objects"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		if t == secondsType {
			return "a number of seconds"
		}
		return "a number"
	}
	return t.String()
}

// quoteShort quotes s for a message, cutting it to a readable length.
func quoteShort(s string) string {
	if utf8.RuneCountInString(s) > maxGotRunes {
		r := []rune(s)
		s = string(r[:maxGotRunes]) + "…"
	}
	return strconv.Quote(s)
}

// describe names a decoded JSON value (decoded with UseNumber) for the "got"
// part of a message: `string "abc"`, `number 1.5`, `boolean true`, `array`,
// `object`, `null`.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + quoteShort(v)
	case json.Number:
		n := string(v)
		if len(n) > maxGotRunes {
			n = n[:maxGotRunes] + "…"
		}
		return "number " + n
	case bool:
		return "boolean " + strconv.FormatBool(v)
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// decodeAny decodes one valid JSON value, keeping numbers as json.Number.
func decodeAny(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// member is one key/value pair of a JSON object, in document order.
type member struct {
	key string
	raw json.RawMessage
}

// members splits a JSON object into its members in document order. It
// returns ok=false when raw is not an object (the caller reports the type);
// raw must already be known to be valid JSON.
func members(raw []byte) (ms []member, ok bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, false, err
	}
	if d, isDelim := tok.(json.Delim); !isDelim || d != '{' {
		return nil, false, nil
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, true, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, true, err
		}
		ms = append(ms, member{key: key, raw: v})
	}
	return ms, true, nil
}

// source says where values came from, for messages.
type source struct {
	name   string // "config.json", "environment WSMON_WEB_PORT", "flag --port"
	topKey string // for a variable or flag: the key it sets ("" for a file)
}

// at is the message prefix for the value at key: `config.json: key "web_port"`,
// or just `environment WSMON_WEB_PORT` when the source itself names the key.
func (s source) at(key string) string {
	if key == s.topKey {
		return s.name
	}
	return s.name + ": key " + quoteShort(key)
}

// in is the message prefix for problems with the keys of the object at path:
// `config.json` for the top level, `config.json: targets[1]` inside a target.
func (s source) in(path string) string {
	if path == "" {
		return s.name
	}
	return s.name + ": " + path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// decodeObject assigns the members of the JSON object raw (valid JSON) to the
// fields fs of the struct dst, strictly: unknown and repeated keys are
// errors. path is "" for the top level or the object's own path
// ("targets[1]").
func decodeObject(dst reflect.Value, fs []field, raw []byte, src source, path string) error {
	ms, ok, err := members(raw)
	if err != nil {
		return &Error{Key: path, msg: oneLine(src.in(path) + ": " + err.Error()), err: err}
	}
	if !ok {
		v, _ := decodeAny(raw)
		return errorf(path, "%s: expected an object, got %s", src.in(path), describe(v))
	}
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		key := join(path, m.key)
		if seen[m.key] {
			return errorf(key, "%s: key %s appears more than once", src.in(path), quoteShort(m.key))
		}
		seen[m.key] = true
		f, ok := lookup(fs, m.key)
		if !ok {
			return errorf(key, "%s: unknown key %s%s", src.in(path), quoteShort(m.key), didYouMean(m.key, keysOf(fs)))
		}
		if err := setJSON(dst.Field(f.index), m.raw, src, key); err != nil {
			return err
		}
	}
	return nil
}

// setJSON stores the JSON value raw (valid JSON) in v. A JSON null leaves v
// unchanged, so the default or the value from a lower-precedence source
// stays. key is the full key path, for messages.
func setJSON(v reflect.Value, raw []byte, src source, key string) error {
	if isObjectList(v.Type()) {
		return setObjectsJSON(v, raw, src, key)
	}
	val, err := decodeAny(raw)
	if err != nil {
		return &Error{Key: key, msg: oneLine(src.at(key) + ": " + err.Error()), err: err}
	}
	if val == nil {
		return nil
	}
	if msg := assignValue(v, val); msg != "" {
		return errorf(key, "%s: %s", src.at(key), msg)
	}
	switch v.Type() {
	case stringSlice:
		for i, e := range val.([]any) {
			if _, ok := e.(string); !ok {
				return errorf(key, "%s: element %d: expected a string, got %s", src.at(key), i, describe(e))
			}
		}
	case stringMap:
		obj := val.(map[string]any)
		for _, k := range sortedKeys(obj) {
			if _, ok := obj[k].(string); !ok {
				return errorf(key, "%s: value of %s: expected a string, got %s", src.at(key), quoteShort(k), describe(obj[k]))
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// assignValue stores the decoded JSON value val (not nil) in v and returns
// "" or the reason it does not fit: `expected an integer, got string "abc"`.
// Lists and maps with elements of the wrong type are left to the caller,
// which names the element.
func assignValue(v reflect.Value, val any) string {
	t := v.Type()
	mismatch := "expected " + expected(t) + ", got " + describe(val)
	switch {
	case t == stringSlice:
		arr, ok := val.([]any)
		if !ok {
			return mismatch
		}
		out := make([]string, 0, len(arr))
		for _, e := range arr {
			s, ok := e.(string)
			if !ok {
				return "" // reported by the caller with the element index
			}
			out = append(out, s)
		}
		v.Set(reflect.ValueOf(out))
		return ""
	case t == stringMap:
		obj, ok := val.(map[string]any)
		if !ok {
			return mismatch
		}
		out := make(map[string]string, len(obj))
		for k, e := range obj {
			s, ok := e.(string)
			if !ok {
				return ""
			}
			out[k] = s
		}
		v.Set(reflect.ValueOf(out))
		return ""
	case t == anyMap:
		obj, ok := val.(map[string]any)
		if !ok {
			return mismatch
		}
		v.Set(reflect.ValueOf(obj))
		return ""
	case t == boolPtrType:
		b, ok := val.(bool)
		if !ok {
			return mismatch
		}
		v.Set(reflect.ValueOf(&b))
		return ""
	}
	switch t.Kind() {
	case reflect.String:
		s, ok := val.(string)
		if !ok {
			return mismatch
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := val.(bool)
		if !ok {
			return mismatch
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, ok := val.(json.Number)
		if !ok {
			return mismatch
		}
		i, msg := parseInt(string(n))
		if msg == "" && v.OverflowInt(i) {
			msg = "expected an integer within range"
		}
		if msg != "" {
			return msg + ", got " + describe(val)
		}
		v.SetInt(i)
	case reflect.Float64:
		n, ok := val.(json.Number)
		if !ok {
			return mismatch
		}
		f, msg := parseFloat(string(n))
		if msg != "" {
			return msg + ", got " + describe(val)
		}
		v.SetFloat(f)
	default:
		return "unsupported type " + t.String()
	}
	return ""
}

// parseInt accepts a JSON number with an integral value, also when written
// with a fraction or exponent (8001.0, 1e3).
func parseInt(s string) (int64, string) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, ""
	}
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, "expected an integer within range"
	case err != nil, f != math.Trunc(f):
		return 0, "expected an integer"
	case f >= math.MaxInt64 || f < math.MinInt64:
		return 0, "expected an integer within range"
	}
	return int64(f), ""
}

// parseFloat accepts a finite decimal number.
func parseFloat(s string) (float64, string) {
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, "expected a number within range"
	case err != nil, math.IsInf(f, 0), math.IsNaN(f):
		return 0, "expected a number"
	}
	return f, ""
}

// isObjectList reports whether t is a list of structs ("targets",
// "rules"), decoded element by element, strictly.
func isObjectList(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct
}

// setObjectsJSON decodes a list of objects ("targets", "rules"): an array
// of objects, each decoded strictly against the element type.
func setObjectsJSON(v reflect.Value, raw []byte, src source, key string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return &Error{Key: key, msg: oneLine(src.at(key) + ": " + err.Error()), err: err}
	}
	if tok == nil {
		return nil // null: keep
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		val, _ := decodeAny(raw)
		return errorf(key, "%s: expected %s, got %s", src.at(key), expected(v.Type()), describe(val))
	}
	elemType := v.Type().Elem()
	fs := fieldsOf(elemType)
	out := reflect.MakeSlice(v.Type(), 0, 4)
	for i := 0; dec.More(); i++ {
		var elem json.RawMessage
		if err := dec.Decode(&elem); err != nil {
			return &Error{Key: key, msg: oneLine(src.at(key) + ": " + err.Error()), err: err}
		}
		e := reflect.New(elemType).Elem()
		path := fmt.Sprintf("%s[%d]", key, i)
		if err := decodeObject(e, fs, elem, src, path); err != nil {
			return err
		}
		out = reflect.Append(out, e)
	}
	v.Set(out)
	return nil
}

// setString stores a value written as plain text (an environment variable
// or a flag) in v. Strings are taken as is; booleans are true/false, yes/no,
// on/off or 1/0; lists are comma-separated (items trimmed, empty items
// dropped) or a JSON array; maps and targets are JSON. A value that does not
// fit gives `<source>: expected an integer, got "x"`.
func setString(v reflect.Value, s string, src source, key string) error {
	t := v.Type()
	fail := func(want string) error {
		return errorf(key, "%s: expected %s, got %s", src.at(key), want, quoteShort(s))
	}
	switch {
	case t == stringSlice:
		if strings.HasPrefix(strings.TrimSpace(s), "[") {
			return setStringJSON(v, s, src, key)
		}
		out := []string{}
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
		v.Set(reflect.ValueOf(out))
		return nil
	case t == stringMap, isObjectList(t):
		return setStringJSON(v, s, src, key)
	case t == boolPtrType:
		b, ok := parseBool(s)
		if !ok {
			return fail(boolWords)
		}
		v.Set(reflect.ValueOf(&b))
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, ok := parseBool(s)
		if !ok {
			return fail(boolWords)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return fail("an integer within range")
			}
			return fail("an integer")
		}
		if v.OverflowInt(i) {
			return fail("an integer within range")
		}
		v.SetInt(i)
	case reflect.Float64:
		f, msg := parseFloat(strings.TrimSpace(s))
		if msg != "" {
			return fail(strings.TrimPrefix(msg, "expected "))
		}
		v.SetFloat(f)
	default:
		return errorf(key, "%s: unsupported type %s", src.at(key), t)
	}
	return nil
}

// boolWords lists the accepted spellings of a boolean in text values.
const boolWords = "a boolean (true/false, yes/no, on/off, 1/0)"

// setStringJSON decodes the text s as JSON into a list, map or targets value.
func setStringJSON(v reflect.Value, s string, src source, key string) error {
	if !json.Valid([]byte(s)) {
		return errorf(key, "%s: expected %s as JSON, got %s", src.at(key), expected(v.Type()), quoteShort(s))
	}
	return setJSON(v, []byte(s), src, key)
}

// parseBool accepts true/false, 1/0, yes/no and on/off, in any case.
func parseBool(s string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "on":
		return true, true
	case "false", "0", "no", "off":
		return false, true
	}
	return false, false
}
