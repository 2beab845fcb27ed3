package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/message"
	"github.com/wsmon/wsmon/internal/protocol/registry"
)

// FuzzLoad drives Load as the program calls it: a config file on disk,
// one WSMON_ environment variable and one flag, each fuzzed (the key of
// the variable and of the flag are picked among the real keys, their
// values and the file are free). Whatever the input:
//   - an error is an *Error with one non-empty line;
//   - a configuration Load accepts can be run: every resolved target's
//     field_map parses and its protocol adapter builds, as the monitor
//     does at start and for targets added through the API;
//   - it round-trips: written back as JSON and loaded again it is the
//     same configuration, and still valid (when its text values are
//     UTF-8, which JSON can hold).
func FuzzLoad(f *testing.F) {
	brief, err := os.ReadFile("testdata/brief_config.json")
	if err != nil {
		f.Fatal(err)
	}
	keys := keysOf(fieldsOf(reflect.TypeFor[Config]()))
	key := func(name string) uint8 {
		for i, k := range keys {
			if k == name {
				return uint8(i)
			}
		}
		f.Fatalf("no key %s", name)
		return 0
	}
	for _, s := range []struct {
		file           string
		envKey, env    string
		flagKey, flagV string
	}{
		{string(brief), "web_port", "9001", "log_level", "debug"},
		{"", "web_port", "", "web_port", ""},
		{"{}", "web_port", "-1", "web_port", "65536"},
		{"{}", "web_port", "9223372036854775808", "batch_size", "1e3"},
		{"{}", "reconnect_interval", "NaN", "reconnect_interval", "Inf"},
		{"{}", "reconnect_interval", "1e-320", "ping_interval", "-0"},
		{"{}", "notification_keywords", " a, b ,,c", "notification_keywords", `["a,b",null]`},
		{"{}", "headers", `{"Origin":"http://x"}`, "headers", `{"Upgrade":"x"}`},
		{"{}", "headers", `{"X-A":"a\r\nb"}`, "headers", `{"X A":"b"}`},
		{"{}", "targets", `[{"url":"ws://a:1/"}]`, "targets", `[{"ulr":"ws://a:1/"}]`},
		{`{"targets":[{"name":"a","url":"ws://h/x","field_map":{"user":"a.b"}}]}`, "field_map", `{"user":"a..b"}`, "target_name", "x"},
		{`{"field_map":{"user":"data..nick"}}`, "log_level", "INFO", "log_level", "INFO"},
		{`{"field_map":{"content":"."}}`, "log_level", "INFO", "log_level", "INFO"},
		{`{"targets":[{"url":"ws://h/","protocol":"mqtt","subscribe":["#","a/+/b"],"options":{"qos":1,"keepalive":30}}]}`, "protocol", "mqtt", "subscribe", "x"},
		{`{"targets":[{"url":"ws://h/","protocol":"stomp","subscribe":["/topic/a"],"auth":{"username":"u","password":"p"}}]}`, "auth", `{"user":"x"}`, "options", `{"qos":3}`},
		{`{"targets":[{"url":"ws://h/","name":"a\u0000b"}]}`, "target_name", "a\x00b", "target_name", "\xff"},
		{`{"targets":[{"url":"ws://h/"},{"url":"ws://h/"}]}`, "websocket_url", "ws://[::1]:99999/", "websocket_url", "wss://h:0/"},
		{`{"web_host":"0.0.0.0","web_token":"short"}`, "web_token", " padded-token-0123456789 ", "web_password", "aaaaaaaaaaaaaaaa"},
		{`{"web_host":"0.0.0.0","web_insecure_no_auth":true}`, "web_trusted_proxies", "10.0.0.0/8, ::1", "web_allowed_hosts", "a,,b"},
		{`{"web_trusted_proxies":["10.0.0.0/33"]}`, "time_zone", "Mars/Base", "time_zone", "../../etc/passwd"},
		{`{"read_limit_bytes":1023,"options":{"big":1e400}}`, "read_limit_bytes", "1073741825", "retention_days", "-1"},
		{`{"message_log":null,"options":{"n":12345678901234567890}}`, "message_log", "maybe", "message_log", "off"},
		{"\uFEFF// c\n{/* x */\"web_port\": 9002,}", "log_dir", "\x00", "data_dir", ""},
		{`{"web_port":9002,"web_port":9003}`, "WEB_PORT", "1", "web-port", "2"},
		{`{"websocket_url":"ws://h/\u2028x"}`, "websocket_url", "ws://h/\xff", "websocket_url", "ws://user:pa ss@h/"},
	} {
		f.Add([]byte(s.file), key(strings.ToLower(strings.ReplaceAll(s.envKey, "-", "_"))), s.env,
			key(strings.ToLower(strings.ReplaceAll(s.flagKey, "-", "_"))), s.flagV)
	}
	f.Fuzz(func(t *testing.T, file []byte, envKey uint8, envValue string, flagKey uint8, flagValue string) {
		path := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		ek, fk := keys[int(envKey)%len(keys)], keys[int(flagKey)%len(keys)]
		opts := LoadOptions{ConfigPath: path, Env: []string{EnvPrefix + strings.ToUpper(ek) + "=" + envValue}}
		if flagValue != "" {
			opts.Overrides.Values = map[string]string{strings.ReplaceAll(fk, "_", "-"): flagValue}
		}
		c, err := Load(opts)
		if err != nil {
			var ce *Error
			if msg := err.Error(); !errors.As(err, &ce) || msg == "" || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error is not one non-empty line of an *Error: %T %q", err, msg)
			}
			return
		}
		for _, tg := range c.ResolvedTargets() {
			if _, err := message.ParseFieldMap(tg.FieldMap); err != nil {
				t.Fatalf("accepted, but target %q cannot start: field_map: %v", tg.Name, err)
			}
			if _, _, err := registry.New(tg.Protocol, tg.AdapterConfig()); err != nil {
				t.Fatalf("accepted, but target %q cannot start: %v", tg.Name, err)
			}
			if err := CheckTarget(tg); err != nil {
				t.Fatalf("accepted, but target %q fails the API's check: %v", tg.Name, err)
			}
		}
		if !utf8.ValidString(envValue) || !utf8.ValidString(flagValue) {
			// Text values are taken as bytes (a path may be any bytes);
			// JSON cannot hold them, so there is no round trip to check.
			return
		}
		js, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again := Defaults()
		if err := parseFile("again.json", js, &again); err != nil {
			t.Fatalf("the loaded configuration, written as JSON, does not load: %v\n%s", err, js)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("round trip changed the configuration:\n got %+v\nwant %+v\njson %s", again, c, js)
		}
		if err := again.Validate(); err != nil {
			t.Fatalf("round trip is not valid: %v", err)
		}
		_ = c.String()
	})
}

// FuzzCheckTarget fuzzes a target as POST /api/targets receives it (a
// JSON object decoded into Target), resolved against the top level and
// checked with CheckTarget, as the monitor does before adding it. A
// target CheckTarget accepts can be started: its field_map parses and its
// adapter builds. An error is an *Error whose Key starts its message.
func FuzzCheckTarget(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","url":"ws://127.0.0.1:9/x"}`,
		`{"url":"ws://h/","field_map":{"user":"data.sender.nick","content":"text"}}`,
		`{"url":"ws://h/","field_map":{"user":"a..b"}}`,
		`{"url":"ws://h/","field_map":{"room":".x"}}`,
		`{"url":"ws://h/","field_map":{"time":"x."}}`,
		`{"url":"ws://h/","protocol":"mqtt","subscribe":["a/#"],"options":{"qos":2}}`,
		`{"url":"ws://h/","protocol":"socketio","subscribe":["/chat"],"auth":{"token":"t"}}`,
		`{"url":"ws://h/","protocol":"graphql-ws","subscribe":["subscription { m }"]}`,
		`{"url":"ws://h/","protocol":"nats","subscribe":["a.>"],"read_limit_bytes":1024}`,
		`{"url":"ws://h/","headers":{"Cookie":"a\u0000b"}}`,
		`{"url":"http://h/"}`, `{"url":"ws://"}`, `{"url":"ws://h:99999/"}`, `{"name":" "}`,
		`{"url":"ws://h/","read_limit_bytes":-1}`, `{"url":"ws://h/","options":{"qos":1e400}}`,
	} {
		f.Add([]byte(s))
	}
	top := Defaults()
	f.Fuzz(func(t *testing.T, body []byte) {
		var tg Target
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if dec.Decode(&tg) != nil {
			return
		}
		r := top.ResolveTarget(tg)
		if err := CheckTarget(r); err != nil {
			var ce *Error
			if !errors.As(err, &ce) || ce.Key == "" || !strings.HasPrefix(err.Error(), ce.Key) || strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error %q (key %q) does not start with its key on one line", err, errKey(err))
			}
			return
		}
		if _, err := message.ParseFieldMap(r.FieldMap); err != nil {
			t.Fatalf("CheckTarget accepted %s, but its field_map does not parse: %v", body, err)
		}
		if _, _, err := registry.New(r.Protocol, r.AdapterConfig()); err != nil {
			t.Fatalf("CheckTarget accepted %s, but its adapter does not build: %v", body, err)
		}
	})
}

func errKey(err error) string {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Key
	}
	return ""
}

// TestFuzzFindings: what the fuzzers above found, as fixed cases. A
// field_map path with an empty segment passed Validate and CheckTarget,
// then stopped the monitor at start (message.ParseFieldMap refused it) or
// made POST /api/targets answer 500; a config.json target name with a NUL
// or a line break, or over 200 bytes, passed Validate though the API
// refuses it, so the target could not be changed through the API; and a
// target named "." or ".." (from either) could not be paused, changed or
// removed: /api/targets/. is cleaned to /api/targets and redirected.
func TestFuzzFindings(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, c := range []struct{ file, want string }{
		{`{"field_map":{"user":"data..nick"}}`, `field_map: path "data..nick" for "user" has an empty segment (a path is dotted keys, e.g. data.sender.nick)`},
		{`{"field_map":{"content":"."}}`, `field_map: path "." for "content" has an empty segment`},
		{`{"targets":[{"url":"ws://h/","field_map":{"room":"x."}}]}`, `targets[0].field_map: path "x." for "room" has an empty segment`},
		{`{"targets":[{"url":"ws://h/","name":"a\u0000b"}]}`, `targets[0].name: at most 200 bytes, without line breaks or NUL`},
		{`{"target_name":"a\nb"}`, `target_name: at most 200 bytes, without line breaks or NUL`},
		{`{"target_name":"` + strings.Repeat("n", 201) + `"}`, `target_name: at most 200 bytes`},
		{`{"targets":[{"url":"ws://h/","name":"."}]}`, `targets[0].name: must not be "." (it cannot be named in an API path)`},
		{`{"target_name":".."}`, `target_name: must not be ".."`},
	} {
		path := filepath.Join(t.TempDir(), "config.json")
		if err := os.WriteFile(path, []byte(c.file), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(LoadOptions{ConfigPath: path})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.file, err, c.want)
		}
	}
	err := CheckTarget(Target{Name: "a", URL: "ws://h/", FieldMap: map[string]string{"user": "a..b"}})
	var ce *Error
	if !errors.As(err, &ce) || ce.Key != "field_map" {
		t.Errorf("CheckTarget with field_map a..b: %v, want a field_map error", err)
	}
}
