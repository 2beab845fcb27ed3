package jsontok

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// demoFrame is a typical frame of the built-in demo server.
const demoFrame = `{"id":"m-123","seq":123,"type":"chat","user":"小明","room":"lobby","content":"今天的订单 #4521 已经发货了 hello 👍","timestamp":1764160000123}`

// jsonMaxDepth is encoding/json's nesting limit; with it Validate must
// agree with json.Valid exactly.
const jsonMaxDepth = 10000

// TestValidate agrees with encoding/json.Valid at its depth limit.
func TestValidate(t *testing.T) {
	tests := []string{
		``, ` `, `{}`, `[]`, ` {} `, `{"a":1}`, `{"a":1,}`, `[1,]`, `[,1]`, `[1 2]`, `{"a" 1}`, `{a:1}`, `{"a":}`, `{"a"}`,
		`{,}`, `{"a":1 "b":2}`, `"\u12"`, `"\u1234"`, `"\uD83D\uDC4D"`, `"\x"`, "\"\t\"", "\"\x7f\"", "\"\xff\"",
		`01`, `-0`, `-`, `-a`, `1.`, `.1`, `1.5e`, `1.5e+3`, `1E5`, `1e-`, `+1`, `0x1`, `1.0e+00`,
		`tru`, `true`, `truee`, `false`, `nul`, `null `, `NaN`, `Infinity`,
		`{"a":[1,{"b":null}]}`, `[[]]`, `[[],]`, `{"a":{}}`, `{"a":{},"b":[]}`, `[}`, `{]`, `{"a":[}`, `[{]}`,
		`"a`, `{"a":"b"}x`, `{"a":"b"}{}`, "{\"a\":1}\n", "\ufeff{}", "\u00a0{}", `"\/\b\f\n\r\t\\\""`,
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		strings.Repeat(`{"a":`, 9999) + "{}" + strings.Repeat("}", 9999),
		strings.Repeat(`{"a":`, 10000) + "{}" + strings.Repeat("}", 10000),
	}
	for _, in := range tests {
		res, _ := Validate([]byte(in), jsonMaxDepth, nil)
		if got, want := res == OK, json.Valid([]byte(in)); got != want {
			t.Errorf("Validate(%.40q) = %v, json.Valid = %v", in, res, want)
		}
	}
}

func TestValidateDepthAndErrPos(t *testing.T) {
	tests := []struct {
		in       string
		maxDepth int
		res      Result
		errPos   int
	}{
		{`{"a":1}`, 64, OK, 7},
		{`{"a":1`, 64, Bad, 6},
		{`{"a":1,"b":x}`, 64, Bad, 11},
		{`[[[]]]`, 3, OK, 6},
		{`[[[]]]`, 2, TooDeep, 2},
		{`[[1,[`, 2, TooDeep, 4},
		{`{}`, 0, TooDeep, 0},
		{`"s"`, 0, OK, 3},
		{"\"a\x01\"", 64, Bad, 2},
	}
	for _, tt := range tests {
		res, pos := Validate([]byte(tt.in), tt.maxDepth, nil)
		if res != tt.res || pos != tt.errPos {
			t.Errorf("Validate(%q, %d) = %v, %d; want %v, %d", tt.in, tt.maxDepth, res, pos, tt.res, tt.errPos)
		}
	}
}

func TestValidateOnMember(t *testing.T) {
	tests := []struct {
		in   string
		want []string // key=value
	}{
		{`{"a":1,"b":"x","c":{"d":[1,2]},"e":[]}`, []string{`a=1`, `b="x"`, `c={"d":[1,2]}`, `e=[]`}},
		{` { "a" : 1 , "b\"q" : { } } `, []string{`a=1`, `b\"q={ }`}},
		{`{}`, nil},
		{`[{"a":1}]`, nil},
		{`{"a":1,"b":{"c":2},"d":"tru`, []string{`a=1`, `b={"c":2}`}},
		{`{"a":1,"b":12`, []string{`a=1`}},
		{`{"a":1 "b":2}`, nil},
		{`{"a":{"b":1}} x`, []string{`a={"b":1}`}},
	}
	for _, tt := range tests {
		var got []string
		d := []byte(tt.in)
		Validate(d, 64, func(key []byte, vs, ve int) {
			got = append(got, string(key)+"="+string(d[vs:ve]))
		})
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: members %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestValidDepth: Valid refuses nesting past its limit, however deep the
// limit.
func TestValidDepth(t *testing.T) {
	for _, limit := range []int{1, 64, 256, 257, 300, 5000} {
		ok := strings.Repeat("[", limit) + strings.Repeat("]", limit)
		deep := strings.Repeat(`{"a":`, limit) + "{}" + strings.Repeat("}", limit)
		if !Valid([]byte(ok), limit) {
			t.Errorf("Valid refused %d levels with a limit of %d", limit, limit)
		}
		if Valid([]byte(deep), limit) {
			t.Errorf("Valid accepted %d levels with a limit of %d", limit+1, limit)
		}
	}
}

// TestTokens: StringEnd and NumberEnd find the end of valid tokens and
// refuse invalid ones; ValueEnd skips whole values of a valid document and
// says -1 for one that does not end.
func TestTokens(t *testing.T) {
	for in, want := range map[string]int{`"ab"x`: 4, `"a\"b"`: 6, `"\u00e9"`: 8, `"a`: -1, `"\q"`: -1, "\"\x01\"": -1, `"0123456789abcdef\n0123456789"`: 30} {
		if got := StringEnd([]byte(in), 0); got != want {
			t.Errorf("StringEnd(%q) = %d, want %d", in, got, want)
		}
	}
	for in, want := range map[string]int{`12,`: 2, `-0.5e+3]`: 7, `01`: 1, `-`: -1, `1.`: -1, `1e`: -1, `x`: -1} {
		if got := NumberEnd([]byte(in), 0); got != want {
			t.Errorf("NumberEnd(%q) = %d, want %d", in, got, want)
		}
	}
	for in, want := range map[string]int{`{"a":[1,"]"]} x`: 13, `"s\"" x`: 5, `123 x`: 3, `[[]],`: 4, `{"a":[1`: -1, `"ab`: -1} {
		if got := ValueEnd([]byte(in), 0); got != want {
			t.Errorf("ValueEnd(%q) = %d, want %d", in, got, want)
		}
	}
	if got := Trim([]byte(" \t\r\n{} \n")); string(got) != "{}" {
		t.Errorf("Trim = %q", got)
	}
}

// escapeTests are strings whose JSON form AppendString must produce as
// encoding/json does.
var escapeTests = []string{
	"",
	"plain ascii",
	`quote " and backslash \`,
	"controls \n\r\t\b\f \x00 \x01 \x1f \x7f",
	"中文 重要 紧急 😀 ❤️",
	"<script>alert('x')</script> & more",
	"line sep \u2028 para sep \u2029",
	"invalid \xff utf8 \xe4\xb8 truncated",
	"\xed\xa0\x80 surrogate half",
	"tail \xe4",
}

// encodingJSON is s as encoding/json writes it with HTML escaping off.
func encodingJSON(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range escapeTests {
		want := encodingJSON(t, s)
		if got := string(AppendString([]byte("x"), s)); got != "x"+want {
			t.Errorf("AppendString(%q) = %s, encoding/json gives %s", s, got, want)
		}
		if got := string(AppendString(nil, []byte(s))); got != want {
			t.Errorf("AppendString([]byte(%q)) = %s, encoding/json gives %s", s, got, want)
		}
	}
}

func TestAppendUnescaped(t *testing.T) {
	tests := []string{
		``, `plain`, `小明 👍`, `\"`, `\\`, `\/`, `\b\f\n\r\t`, `\u0041\u00e9\u4f60`, `\ud83d\udc4d`, `\ud83d`, `\udc4d`,
		`\ud83dx`, `\ud83d\u0041`, `\ud83d\ud83d\udc4d`, `\u0000`, "a\xffb", "\xe4\xbd", "\xed\xa0\x80", `\uDBFF\uDFFF`,
		`a\u0000b`, "\xf4\x90\x80\x80",
	}
	for _, body := range tests {
		var want string
		if err := json.Unmarshal([]byte(`"`+body+`"`), &want); err != nil {
			t.Fatalf("test case %q is not a JSON string body: %v", body, err)
		}
		got, nul := AppendUnescaped(nil, []byte(body))
		if string(got) != want {
			t.Errorf("AppendUnescaped(%q) = %q, want %q", body, got, want)
		}
		if nul != strings.Contains(want, "\x00") {
			t.Errorf("AppendUnescaped(%q) nul = %v", body, nul)
		}
	}
}

func TestAppendCompact(t *testing.T) {
	for _, in := range []string{`{ "a" : [ 1 , 2 ] }`, "[\n\t\"a b\" ,\r\n\"\\\" \"\n]", `"  "`, `1`, `{}`} {
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(in)); err != nil {
			t.Fatal(err)
		}
		if got := AppendCompact(nil, []byte(in)); string(got) != want.String() {
			t.Errorf("AppendCompact(%q) = %q, want %q", in, got, want.String())
		}
	}
}

// TestIteratorsOnGarbage checks that the trusted helpers stay in bounds and
// terminate on bytes that were never validated.
func TestIteratorsOnGarbage(t *testing.T) {
	for _, in := range []string{`{`, `{"`, `{"a`, `{"a"`, `{"a":`, `{"a":"`, `{"a":[`, `{"a":1`, `[`, `["`, `[1`, `[{]`, `{]`, `"\`, `"\\"`, `{"a\":1}`, `{,}`, `[,]`} {
		d := []byte(in)
		it := NewObjIter(d, 0, len(d))
		for {
			if _, _, _, ok := it.Next(); !ok {
				break
			}
		}
		ai := NewArrIter(d, 0, len(d))
		for {
			if _, _, ok := ai.Next(); !ok {
				break
			}
		}
		for i := range d {
			ValueEnd(d, i)
			skipString(d, i)
		}
	}
}

// toAny decodes the validated value at d[i] into the shapes encoding/json
// produces with UseNumber, using only the scanner's iterators.
func toAny(t *testing.T, d []byte, i int) any {
	t.Helper()
	e := ValueEnd(d, i)
	if e < 0 {
		t.Fatalf("ValueEnd(%q, %d) = -1", d, i)
	}
	switch c := d[i]; {
	case c == '{':
		m := map[string]any{}
		it := NewObjIter(d, i, len(d))
		for {
			key, vs, _, ok := it.Next()
			if !ok {
				return m
			}
			k, _ := AppendUnescaped(nil, key)
			m[string(k)] = toAny(t, d, vs)
		}
	case c == '[':
		a := []any{}
		it := NewArrIter(d, i, len(d))
		for {
			vs, _, ok := it.Next()
			if !ok {
				return a
			}
			a = append(a, toAny(t, d, vs))
		}
	case c == '"':
		s, _ := AppendUnescaped(nil, d[i+1:e-1])
		return string(s)
	case c == 't':
		return true
	case c == 'f':
		return false
	case c == 'n':
		return nil
	default:
		return json.Number(d[i:e])
	}
}

// checkScanner compares the scanner with encoding/json on data: validity,
// every decoded key and value, compact form, and the members reported
// during validation. Shared by the fuzz test and its seed corpus.
func checkScanner(t *testing.T, data []byte) {
	res, errPos := Validate(data, jsonMaxDepth, nil)
	if valid := json.Valid(data); (res == OK) != valid {
		t.Fatalf("Validate = %v at %d, json.Valid = %v", res, errPos, valid)
	}

	// Members reported during validation are complete, valid values, in
	// order, also when the document as a whole is bad.
	root := SkipSpace(data, 0)
	var members []string
	var memberVals [][]byte
	Validate(data, jsonMaxDepth, func(key []byte, vs, ve int) {
		members = append(members, string(key))
		memberVals = append(memberVals, data[vs:ve])
	})
	for i, v := range memberVals {
		if !json.Valid(v) {
			t.Fatalf("member %q value %q is not valid JSON", members[i], v)
		}
	}
	// The iterator with the error position as limit sees the same members.
	_, limit := Validate(data, jsonMaxDepth, nil)
	if res == OK {
		limit = len(data)
	}
	var iterated []string
	it := NewObjIter(data, root, limit)
	for {
		key, _, _, ok := it.Next()
		if !ok {
			break
		}
		iterated = append(iterated, string(key))
	}
	if root < len(data) && data[root] == '{' && !reflect.DeepEqual(members, iterated) {
		t.Fatalf("members during validation %q, by iteration %q", members, iterated)
	}

	if res == OK {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("json.Valid but Decode: %v", err)
		}
		if got := toAny(t, data, root); !reflect.DeepEqual(got, want) {
			t.Fatalf("scanner decoded %#v, encoding/json %#v", got, want)
		}
		var want2 bytes.Buffer
		if err := json.Compact(&want2, data); err != nil {
			t.Fatal(err)
		}
		end := ValueEnd(data, root)
		if got := AppendCompact(nil, data[root:end]); !bytes.Equal(got, want2.Bytes()) {
			t.Fatalf("AppendCompact = %q, json.Compact = %q", got, want2.Bytes())
		}
	}

	// ValueEnd of a valid document ends at its last byte.
	if res == OK && ValueEnd(data, root) != len(bytes.TrimRight(data, " \t\r\n")) {
		t.Fatalf("ValueEnd(%q) = %d", data, ValueEnd(data, root))
	}

	// The escaper writes what encoding/json writes, and it decodes back to
	// data (invalid UTF-8 as U+FFFD).
	esc := AppendString(nil, data)
	if want := encodingJSON(t, string(data)); string(esc) != want {
		t.Fatalf("AppendString = %s, encoding/json %s", esc, want)
	}
	if back, _ := AppendUnescaped(nil, esc[1:len(esc)-1]); string(back) != string([]rune(string(data))) {
		t.Fatalf("AppendString(%q) decodes to %q", data, back)
	}

	// data as the body of a string.
	quoted := append(append([]byte{'"'}, data...), '"')
	if r, _ := Validate(quoted, 1, nil); (r == OK) != json.Valid(quoted) {
		t.Fatalf("Validate(quoted) = %v, json.Valid = %v", r, !(r == OK))
	}
	if json.Valid(quoted) {
		var want string
		if err := json.Unmarshal(quoted, &want); err != nil {
			t.Fatal(err)
		}
		if got, _ := AppendUnescaped(nil, data); string(got) != want {
			t.Fatalf("AppendUnescaped = %q, encoding/json %q", got, want)
		}
	}
}

// FuzzScanner holds the scanner, the decoder and the escaper to
// encoding/json (checkScanner).
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		demoFrame, `{}`, `[]`, `{"a":[1,{"b":null,"c":true}],"d":false}`, `{"a":1,"a":2}`, `"\ud83d\udc4d"`, `"\ud83d"`,
		`{"\u0075ser":"x"}`, `[1.5e-3, -0, 0.1E+2]`, "{\"a\":\"\xff\"}", `{"a":1`, `{"a":1,"b":"x`, ` [ ] `, `"\u0000"`,
		`{"a":"b"}x`, `[[[[[[]]]]]]`, `{"a":"\"}"}`, `{"a\\":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkScanner(t, data)
	})
}

func BenchmarkValidate(b *testing.B) {
	data := []byte(demoFrame)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		Validate(data, 64, nil)
	}
}

func BenchmarkAppendString(b *testing.B) {
	s := "今天的订单 #4521 已经发货了 hello 👍 \"quoted\" and a much longer tail of plain ASCII text"
	var buf []byte
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendString(buf[:0], s)
	}
}
