package message

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// jsonMaxDepth is encoding/json's nesting limit; with it validateJSON must
// agree with json.Valid exactly.
const jsonMaxDepth = 10000

func TestValidateJSON(t *testing.T) {
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
		res, _ := validateJSON([]byte(in), jsonMaxDepth, nil)
		if got, want := res == scanOK, json.Valid([]byte(in)); got != want {
			t.Errorf("validateJSON(%.40q) = %v, json.Valid = %v", in, res, want)
		}
	}
}

func TestValidateJSONDepthAndErrPos(t *testing.T) {
	tests := []struct {
		in       string
		maxDepth int
		res      scanResult
		errPos   int
	}{
		{`{"a":1}`, 64, scanOK, 7},
		{`{"a":1`, 64, scanBad, 6},
		{`{"a":1,"b":x}`, 64, scanBad, 11},
		{`[[[]]]`, 3, scanOK, 6},
		{`[[[]]]`, 2, scanTooDeep, 2},
		{`[[1,[`, 2, scanTooDeep, 4},
		{`{}`, 0, scanTooDeep, 0},
		{`"s"`, 0, scanOK, 3},
		{"\"a\x01\"", 64, scanBad, 2},
	}
	for _, tt := range tests {
		res, pos := validateJSON([]byte(tt.in), tt.maxDepth, nil)
		if res != tt.res || pos != tt.errPos {
			t.Errorf("validateJSON(%q, %d) = %v, %d; want %v, %d", tt.in, tt.maxDepth, res, pos, tt.res, tt.errPos)
		}
	}
}

func TestValidateJSONOnMember(t *testing.T) {
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
		validateJSON(d, 64, func(key []byte, vs, ve int) {
			got = append(got, string(key)+"="+string(d[vs:ve]))
		})
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: members %q, want %q", tt.in, got, tt.want)
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
		got, nul := appendUnescaped(nil, []byte(body))
		if string(got) != want {
			t.Errorf("appendUnescaped(%q) = %q, want %q", body, got, want)
		}
		if nul != strings.Contains(want, "\x00") {
			t.Errorf("appendUnescaped(%q) nul = %v", body, nul)
		}
	}
}

func TestAppendCompact(t *testing.T) {
	for _, in := range []string{`{ "a" : [ 1 , 2 ] }`, "[\n\t\"a b\" ,\r\n\"\\\" \"\n]", `"  "`, `1`, `{}`} {
		var want bytes.Buffer
		if err := json.Compact(&want, []byte(in)); err != nil {
			t.Fatal(err)
		}
		if got := appendCompact(nil, []byte(in)); string(got) != want.String() {
			t.Errorf("appendCompact(%q) = %q, want %q", in, got, want.String())
		}
	}
}

// TestIteratorsOnGarbage checks that the trusted helpers stay in bounds and
// terminate on bytes that were never validated.
func TestIteratorsOnGarbage(t *testing.T) {
	for _, in := range []string{`{`, `{"`, `{"a`, `{"a"`, `{"a":`, `{"a":"`, `{"a":[`, `{"a":1`, `[`, `["`, `[1`, `[{]`, `{]`, `"\`, `"\\"`, `{"a\":1}`, `{,}`, `[,]`} {
		d := []byte(in)
		it := newObjIter(d, 0, len(d))
		for {
			if _, _, _, ok := it.next(); !ok {
				break
			}
		}
		ai := newArrIter(d, 0, len(d))
		for {
			if _, _, ok := ai.next(); !ok {
				break
			}
		}
		for i := range d {
			valueEnd(d, i)
			stringEnd(d, i)
		}
	}
}

// toAny decodes the validated value at d[i] into the shapes encoding/json
// produces with UseNumber, using only the scanner's iterators.
func toAny(t *testing.T, d []byte, i int) any {
	t.Helper()
	e := valueEnd(d, i)
	if e < 0 {
		t.Fatalf("valueEnd(%q, %d) = -1", d, i)
	}
	switch c := d[i]; {
	case c == '{':
		m := map[string]any{}
		it := newObjIter(d, i, len(d))
		for {
			key, vs, _, ok := it.next()
			if !ok {
				return m
			}
			k, _ := appendUnescaped(nil, key)
			m[string(k)] = toAny(t, d, vs)
		}
	case c == '[':
		a := []any{}
		it := newArrIter(d, i, len(d))
		for {
			vs, _, ok := it.next()
			if !ok {
				return a
			}
			a = append(a, toAny(t, d, vs))
		}
	case c == '"':
		s, _ := appendUnescaped(nil, d[i+1:e-1])
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
	res, errPos := validateJSON(data, jsonMaxDepth, nil)
	if valid := json.Valid(data); (res == scanOK) != valid {
		t.Fatalf("validateJSON = %v at %d, json.Valid = %v", res, errPos, valid)
	}

	// Members reported during validation are complete, valid values, in
	// order, also when the document as a whole is bad.
	root := skipSpace(data, 0)
	var members []string
	var memberVals [][]byte
	validateJSON(data, jsonMaxDepth, func(key []byte, vs, ve int) {
		members = append(members, string(key))
		memberVals = append(memberVals, data[vs:ve])
	})
	for i, v := range memberVals {
		if !json.Valid(v) {
			t.Fatalf("member %q value %q is not valid JSON", members[i], v)
		}
	}
	// The iterator with the error position as limit sees the same members.
	_, limit := validateJSON(data, jsonMaxDepth, nil)
	if res == scanOK {
		limit = len(data)
	}
	var iterated []string
	it := newObjIter(data, root, limit)
	for {
		key, _, _, ok := it.next()
		if !ok {
			break
		}
		iterated = append(iterated, string(key))
	}
	if root < len(data) && data[root] == '{' && !reflect.DeepEqual(members, iterated) {
		t.Fatalf("members during validation %q, by iteration %q", members, iterated)
	}

	if res == scanOK {
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
		end := valueEnd(data, root)
		if got := appendCompact(nil, data[root:end]); !bytes.Equal(got, want2.Bytes()) {
			t.Fatalf("appendCompact = %q, json.Compact = %q", got, want2.Bytes())
		}
	}

	// data as the body of a string.
	quoted := append(append([]byte{'"'}, data...), '"')
	if r, _ := validateJSON(quoted, 1, nil); (r == scanOK) != json.Valid(quoted) {
		t.Fatalf("validateJSON(quoted) = %v, json.Valid = %v", r, !(r == scanOK))
	}
	if json.Valid(quoted) {
		var want string
		if err := json.Unmarshal(quoted, &want); err != nil {
			t.Fatal(err)
		}
		if got, _ := appendUnescaped(nil, data); string(got) != want {
			t.Fatalf("appendUnescaped = %q, encoding/json %q", got, want)
		}
	}
}

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
