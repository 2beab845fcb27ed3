package jsontok

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestValid agrees with encoding/json.Valid, and refuses nesting past the
// limit.
func TestValid(t *testing.T) {
	const depth = 256
	tests := []string{
		``, ` `, `{}`, `[]`, `{"a":1}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{"a" 1}`, `{a:1}`, `"\u12"`, `"\u1234"`,
		`"\x"`, "\"\t\"", `01`, `-0`, `-`, `1.`, `1.5e`, `1.5e+3`, `1E5`, `tru`, `true`, `nul`, `null `,
		`{"a":[1,{"b":null}]}`, `[[]]`, `[[],]`, `{"a":{}}`, `{"a":{},"b":[]}`, `[}`, `{]`, `"a`, `{"a":"b"}x`,
		strings.Repeat("[", depth) + strings.Repeat("]", depth),
	}
	for _, in := range tests {
		if got, want := Valid([]byte(in), depth), json.Valid([]byte(in)); got != want {
			t.Errorf("Valid(%q) = %v, want %v", in, got, want)
		}
	}
	deep := strings.Repeat("[", depth+1) + strings.Repeat("]", depth+1)
	if Valid([]byte(deep), depth) {
		t.Errorf("Valid accepted %d levels with a limit of %d", depth+1, depth)
	}
	if Valid([]byte(strings.Repeat("[", MaxDepth+1)+strings.Repeat("]", MaxDepth+1)), MaxDepth+100) {
		t.Errorf("Valid accepted more than MaxDepth levels")
	}
}

// TestTokens: StringEnd and NumberEnd find the end of valid tokens and
// refuse invalid ones; ValueEnd skips whole values of a valid document.
func TestTokens(t *testing.T) {
	for in, want := range map[string]int{`"ab"x`: 4, `"a\"b"`: 6, `"\u00e9"`: 8, `"a`: -1, `"\q"`: -1, "\"\x01\"": -1} {
		if got := StringEnd([]byte(in), 0); got != want {
			t.Errorf("StringEnd(%q) = %d, want %d", in, got, want)
		}
	}
	for in, want := range map[string]int{`12,`: 2, `-0.5e+3]`: 7, `01`: 1, `-`: -1, `1.`: -1, `1e`: -1, `x`: -1} {
		if got := NumberEnd([]byte(in), 0); got != want {
			t.Errorf("NumberEnd(%q) = %d, want %d", in, got, want)
		}
	}
	for in, want := range map[string]int{`{"a":[1,"]"]} x`: 13, `"s\"" x`: 5, `123 x`: 3, `[[]],`: 4} {
		if got := ValueEnd([]byte(in), 0); got != want {
			t.Errorf("ValueEnd(%q) = %d, want %d", in, got, want)
		}
	}
}

// FuzzValid: Valid agrees with encoding/json.Valid for shallow documents,
// and ValueEnd of a valid document ends at its last byte.
func FuzzValid(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":null}]}`, `[1,2]`, `"x"`, `{"a":"\u00e9"}`, `[[[`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, d []byte) {
		got := Valid(d, MaxDepth)
		if strings.Count(string(d), "[")+strings.Count(string(d), "{") < MaxDepth && got != json.Valid(d) {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", d, got, !got)
		}
		if got {
			i := SkipSpace(d, 0)
			if e := ValueEnd(d, i); len(Trim(d)) != e-i {
				t.Fatalf("ValueEnd(%q) = %d", d, e)
			}
		}
	})
}
