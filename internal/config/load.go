package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// EnvPrefix starts every environment variable Load reads: WSMON_WEB_PORT
// sets web_port.
const EnvPrefix = "WSMON_"

// LoadOptions says where Load finds configuration. The zero value reads
// ./config.json if it exists and nothing else.
type LoadOptions struct {
	// ConfigPath is the file named with --config. Empty means
	// DefaultConfigPath in the working directory, which may be absent; a
	// file named here must exist.
	ConfigPath string
	// Env is the environment as os.Environ returns it ("KEY=value").
	// Load never reads the process environment itself.
	Env []string
	// Overrides are the command-line flags that were actually set.
	Overrides Overrides
}

// Overrides holds flag values; nil pointers and absent map entries mean
// "not set on the command line".
type Overrides struct {
	URL  *string // --url: websocket_url
	Port *int    // --port: web_port
	// Values sets any other top-level key from text, parsed like an
	// environment variable. Keys are JSON keys; '-' may stand for '_'
	// ("log-level"). Messages name them as flags: "flag --log-level".
	// URL and Port win over Values.
	Values map[string]string
}

// Load builds the configuration: Defaults, then the config file, then WSMON_*
// variables from opts.Env, then opts.Overrides (flags > environment > file >
// defaults), and validates the result with Validate().
//
// The file is JSON that may contain // line comments and /* */ comments
// outside strings. Decoding is strict: unknown
// or repeated keys, wrong types and syntax errors are errors. A JSON null
// leaves the key at its lower-precedence value.
//
// Environment: WSMON_<KEY> sets the top-level key <key>, e.g.
// WSMON_WEB_TOKEN. Lists are comma-separated or a JSON array; headers,
// field_map and targets are JSON; booleans are true/false, yes/no, on/off,
// 1/0. An empty variable counts as unset. A WSMON_ variable that matches no
// key is an error only when it is within edit distance 2 of a key (a likely
// typo such as WSMON_WEB_PROT); others are ignored, so tools may keep their
// own WSMON_TEST_*, WSMON_PG_DSN and such.
//
// On error the Config is the zero value and the error is an *Error with a
// one-line message naming the source and the key; a file that cannot be
// read wraps the *fs.PathError (errors.Is(err, fs.ErrNotExist) for a
// missing --config file).
func Load(opts LoadOptions) (Config, error) {
	cfg := Defaults()

	path, explicit := opts.ConfigPath, opts.ConfigPath != ""
	if !explicit {
		path = DefaultConfigPath
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := parseFile(displayPath(path), data, &cfg); err != nil {
			return Config{}, err
		}
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		// No config.json: defaults apply.
	default:
		return Config{}, &Error{msg: oneLine("config file: " + err.Error()), err: err}
	}

	if err := applyEnv(opts.Env, &cfg); err != nil {
		return Config{}, err
	}
	if err := applyOverrides(opts.Overrides, &cfg); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// displayPath returns the file name as messages show it, quoted only if it
// holds characters that would break the one-line message.
func displayPath(p string) string {
	for _, r := range p {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return strconv.Quote(p)
		}
	}
	return p
}

// parseFile decodes a config file's contents over cfg. name is the file
// name used in messages. Fields absent from the file keep their value. On
// error cfg may be partly updated.
func parseFile(name string, data []byte, cfg *Config) error {
	clean, err := stripComments(data)
	if err != nil {
		var se *syntaxError
		if errors.As(err, &se) {
			line, col := position(data, se.offset)
			return &Error{msg: oneLine(fmt.Sprintf("%s:%d:%d: %s", name, line, col, se.msg)), err: err}
		}
		return &Error{msg: oneLine(name + ": " + err.Error()), err: err}
	}
	if len(strings.TrimSpace(string(clean))) == 0 {
		return nil // an empty file (or only comments) sets nothing
	}
	var probe json.RawMessage // checks syntax only; no number conversion
	if err := json.Unmarshal(clean, &probe); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			// Offset counts the bytes read, including the offending one.
			off := int(se.Offset)
			if strings.HasPrefix(se.Error(), "invalid character") {
				off--
			}
			line, col := position(data, off)
			return &Error{msg: oneLine(fmt.Sprintf("%s:%d:%d: invalid JSON: %s", name, line, col, se.Error())), err: err}
		}
		return &Error{msg: oneLine(name + ": invalid JSON: " + err.Error()), err: err}
	}
	if probe[0] != '{' {
		v, _ := decodeAny(probe)
		return errorf("", "%s: expected a JSON object at the top level, got %s", name, describe(v))
	}
	return decodeObject(reflect.ValueOf(cfg).Elem(), fieldsOf(reflect.TypeFor[Config]()), clean, source{name: name}, "")
}

// syntaxError is a problem found while stripping comments, at a byte offset.
type syntaxError struct {
	offset int
	msg    string
}

func (e *syntaxError) Error() string { return e.msg }

// stripComments blanks out // line comments and /* */ block comments that
// are outside JSON strings and removes a leading UTF-8 byte-order mark. It
// keeps every other byte, including newlines, at its offset (comments become
// spaces), so positions in the result are positions in the input.
func stripComments(data []byte) ([]byte, error) {
	out := make([]byte, len(data))
	copy(out, data)
	if len(out) >= 3 && out[0] == 0xEF && out[1] == 0xBB && out[2] == 0xBF {
		out[0], out[1], out[2] = ' ', ' ', ' '
	}
	inString, escaped := false, false
	for i := 0; i < len(out); i++ {
		c := out[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			case c == '\n':
				// JSON strings cannot span lines; let the decoder report it,
				// but do not treat the rest of the file as a string.
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
		case c == '/' && i+1 < len(out) && out[i+1] == '/':
			for ; i < len(out) && out[i] != '\n'; i++ {
				out[i] = ' '
			}
		case c == '/' && i+1 < len(out) && out[i+1] == '*':
			start := i
			end := -1
			for j := i + 2; j+1 < len(out); j++ {
				if out[j] == '*' && out[j+1] == '/' {
					end = j + 2
					break
				}
			}
			if end < 0 {
				return nil, &syntaxError{offset: start, msg: "comment /* is not closed"}
			}
			for ; i < end; i++ {
				if out[i] != '\n' && out[i] != '\r' {
					out[i] = ' '
				}
			}
			i--
		}
	}
	return out, nil
}

// position converts a byte offset in data to a 1-based line and a 1-based
// column counted in characters.
func position(data []byte, offset int) (line, col int) {
	offset = min(max(offset, 0), len(data))
	line, col = 1, 1
	for _, r := range string(data[:offset]) {
		if r == '\n' {
			line, col = line+1, 1
			continue
		}
		col++
	}
	return line, col
}

// applyEnv applies WSMON_* variables from env to cfg (see Load).
func applyEnv(env []string, cfg *Config) error {
	fields := fieldsOf(reflect.TypeFor[Config]())
	keys := keysOf(fields)
	dst := reflect.ValueOf(cfg).Elem()
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		key := strings.ToLower(strings.TrimPrefix(name, EnvPrefix))
		f, known := lookup(fields, key)
		if !known {
			if near := nearestWithin(key, keys, 2); near != "" {
				return errorf(name, "environment %s: unknown variable (did you mean %s%s?)",
					displayPath(name), EnvPrefix, strings.ToUpper(near))
			}
			continue
		}
		if value == "" {
			continue
		}
		src := source{name: "environment " + name, topKey: key}
		if err := setString(dst.Field(f.index), value, src, key); err != nil {
			return err
		}
	}
	return nil
}

// nearestWithin returns the key closest to got if its distance is at most
// limit, else "".
func nearestWithin(got string, keys []string, limit int) string {
	if utf8.RuneCountInString(got) > maxSuggestRunes {
		return ""
	}
	best, bestD := "", limit+1
	for _, k := range keys {
		if d := distance(got, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// applyOverrides applies flag values to cfg: Values first, then URL and Port.
func applyOverrides(o Overrides, cfg *Config) error {
	fields := fieldsOf(reflect.TypeFor[Config]())
	dst := reflect.ValueOf(cfg).Elem()
	names := make([]string, 0, len(o.Values))
	for k := range o.Values {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		key := strings.ReplaceAll(name, "-", "_")
		flag := "flag --" + strings.ReplaceAll(key, "_", "-")
		f, ok := lookup(fields, key)
		if !ok {
			return errorf(key, "%s: unknown configuration key %s%s", displayPath(flag), quoteShort(key), didYouMean(key, keysOf(fields)))
		}
		if err := setString(dst.Field(f.index), o.Values[name], source{name: displayPath(flag), topKey: key}, key); err != nil {
			return err
		}
	}
	if o.URL != nil {
		cfg.WebsocketURL = *o.URL
	}
	if o.Port != nil {
		cfg.WebPort = *o.Port
	}
	return nil
}
