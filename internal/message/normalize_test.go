package message

import (
	"strings"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
)

// expect is the part of a Message Normalize is responsible for.
type expect struct {
	User, Room, Content, ExtID, Reason string
	Type                               Type
	SentAt                             string // RFC 3339 (UTC), "" for zero
}

func got(m *Message) expect {
	e := expect{User: m.User, Room: m.Room, Content: m.Content, ExtID: m.ExtID, Reason: m.Reason, Type: m.Type}
	if !m.SentAt.IsZero() {
		e.SentAt = m.SentAt.Format(time.RFC3339Nano)
	}
	return e
}

// deep returns an object nesting n containers: {"a":{"a":...{}}}.
func deep(n int) string {
	return strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1)
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		ev      protocol.Event // Payload and Raw are set from payload
		reason  string         // preset by the caller
		want    expect
	}{
		// Field variants.
		{name: "demo frame", payload: demoFrame, want: expect{User: "小明", Room: "lobby", Type: TypeChat,
			Content: "今天的订单 #4521 已经发货了 hello 👍", ExtID: "m-123", SentAt: "2025-11-26T12:26:40.123Z"}},
		{name: "username msg", payload: `{"username":"bob","msg":"hi"}`, want: expect{User: "bob", Content: "hi", Type: TypeChat}},
		{name: "nickname text", payload: `{"nickname":"nn","text":"t"}`, want: expect{User: "nn", Content: "t", Type: TypeChat}},
		{name: "nick body", payload: `{"nick":"k","body":"b"}`, want: expect{User: "k", Content: "b", Type: TypeChat}},
		{name: "from message", payload: `{"from":"f","message":"m"}`, want: expect{User: "f", Content: "m", Type: TypeChat}},
		{name: "sender object", payload: `{"sender":{"id":1,"name":"s"},"content":"c"}`, want: expect{User: "s", Content: "c", Type: TypeChat}},
		{name: "author username", payload: `{"author":{"username":"au"},"content":"c"}`, want: expect{User: "au", Content: "c", Type: TypeChat}},
		{name: "from object", payload: `{"from":{"name":"fo"},"text":"x"}`, want: expect{User: "fo", Content: "x", Type: TypeChat}},
		{name: "name key", payload: `{"name":"nm","text":"y"}`, want: expect{User: "nm", Content: "y", Type: TypeChat}},
		{name: "user object nickname", payload: `{"user":{"id":5,"nickname":"nk"}}`, want: expect{User: "nk", Type: TypeOther}},
		{name: "user object name beats nick", payload: `{"user":{"nick":"k","name":"n"}}`, want: expect{User: "n", Type: TypeOther}},
		{name: "user object without name falls through", payload: `{"user":{"id":5},"username":"u2"}`, want: expect{User: "u2", Type: TypeOther}},
		{name: "user number", payload: `{"user":42,"text":"x"}`, want: expect{User: "42", Content: "x", Type: TypeChat}},
		{name: "user priority", payload: `{"name":"n","sender":"s","user":"u"}`, want: expect{User: "u", Type: TypeOther}},
		{name: "empty user skipped", payload: `{"user":"","nick":"n"}`, want: expect{User: "n", Type: TypeOther}},
		{name: "null user skipped", payload: `{"user":null,"nick":"n"}`, want: expect{User: "n", Type: TypeOther}},
		{name: "duplicate key last wins", payload: `{"user":"a","user":"b"}`, want: expect{User: "b", Type: TypeOther}},
		{name: "escaped key", payload: `{"\u0075ser":"esc","t\u0065xt":"x"}`, want: expect{User: "esc", Content: "x", Type: TypeChat}},
		{name: "keys are case sensitive", payload: `{"User":"U","Text":"T"}`, want: expect{Type: TypeOther}},
		{name: "whitespace everywhere", payload: " \r\n{ \"user\" : \"a\" ,\n\t\"text\" :\"b\" }\n", want: expect{User: "a", Content: "b", Type: TypeChat}},

		// Wrappers.
		{name: "data wrapper", payload: `{"type":"message","data":{"user":"w","text":"t","room":"r","ts":1764160000,"id":9}}`,
			want: expect{User: "w", Content: "t", Room: "r", Type: TypeChat, SentAt: "2025-11-26T12:26:40Z", ExtID: "9"}},
		{name: "message wrapper", payload: `{"event":"chat","message":{"from":{"name":"f"},"body":"b"}}`, want: expect{User: "f", Content: "b", Type: TypeChat}},
		{name: "payload wrapper", payload: `{"op":0,"payload":{"author":"p","content":"c","type":"join"}}`, want: expect{User: "p", Content: "c", Type: TypeJoin}},
		{name: "top level beats wrapper", payload: `{"user":"top","data":{"user":"in","text":"t"}}`, want: expect{User: "top", Content: "t", Type: TypeChat}},
		{name: "message wrapper beats data wrapper", payload: `{"data":{"text":"d"},"message":{"text":"m"}}`, want: expect{Content: "m", Type: TypeChat}},
		{name: "wrapper is one level deep", payload: `{"data":{"data":{"text":"deep"}}}`, want: expect{Type: TypeOther}},
		{name: "message object inside wrapper is compact json", payload: `{"data":{"message":{"a": 1}}}`, want: expect{Content: `{"a":1}`, Type: TypeChat}},
		{name: "wrapper without content", payload: `{"type":"join","data":{"user":"bob"}}`, want: expect{User: "bob", Type: TypeJoin}},

		// Content forms.
		{name: "data string", payload: `{"data":"hello"}`, want: expect{Content: "hello", Type: TypeChat}},
		{name: "data number is not content", payload: `{"data":5}`, want: expect{Type: TypeOther}},
		{name: "content number", payload: `{"content":42.5}`, want: expect{Content: "42.5", Type: TypeChat}},
		{name: "content object compact", payload: `{"content":{"a": [1, 2], "b" : "x y"}}`, want: expect{Content: `{"a":[1,2],"b":"x y"}`, Type: TypeChat}},
		{name: "content bool", payload: `{"text":true}`, want: expect{Content: "true", Type: TypeChat}},
		{name: "message array", payload: `{"message":[1, "two"]}`, want: expect{Content: `[1,"two"]`, Type: TypeChat}},
		{name: "empty content falls through", payload: `{"content":"","text":"t"}`, want: expect{Content: "t", Type: TypeChat}},
		{name: "content priority", payload: `{"body":"b","msg":"m","content":"c"}`, want: expect{Content: "c", Type: TypeChat}},

		// Escapes, Chinese, emoji.
		{name: "unicode escapes", payload: `{"text":"\u4f60\u597d \u00e9"}`, want: expect{Content: "你好 é", Type: TypeChat}},
		{name: "surrogate pair", payload: `{"text":"\ud83d\udc4d ok"}`, want: expect{Content: "👍 ok", Type: TypeChat}},
		{name: "lone high surrogate", payload: `{"text":"a\ud83db"}`, want: expect{Content: "a\uFFFDb", Type: TypeChat}},
		{name: "lone low surrogate", payload: `{"text":"a\udc4d"}`, want: expect{Content: "a\uFFFD", Type: TypeChat}},
		{name: "high then non-low", payload: `{"text":"\ud83d\u0041"}`, want: expect{Content: "\uFFFDA", Type: TypeChat}},
		{name: "simple escapes", payload: `{"text":"q\"b\\s\/n\nt\tr\rb\bf\f"}`, want: expect{Content: "q\"b\\s/n\nt\tr\rb\bf\f", Type: TypeChat}},
		{name: "raw emoji and cjk", payload: `{"user":"王小二","text":"👨‍👩‍👧 family 🇨🇳"}`, want: expect{User: "王小二", Content: "👨‍👩‍👧 family 🇨🇳", Type: TypeChat}},
		{name: "escaped user", payload: `{"user":"\u5c0f\u660e"}`, want: expect{User: "小明", Type: TypeOther}},

		// Rooms.
		{name: "channel", payload: `{"channel":"general"}`, want: expect{Room: "general", Type: TypeOther}},
		{name: "topic", payload: `{"topic":"news"}`, want: expect{Room: "news", Type: TypeOther}},
		{name: "room_id number", payload: `{"room_id":1001}`, want: expect{Room: "1001", Type: TypeOther}},
		{name: "roomId", payload: `{"roomId":"r-1"}`, want: expect{Room: "r-1", Type: TypeOther}},
		{name: "group", payload: `{"group":"g"}`, want: expect{Room: "g", Type: TypeOther}},
		{name: "room object name", payload: `{"channel":{"id":"c1","name":"General"}}`, want: expect{Room: "General", Type: TypeOther}},
		{name: "room object id", payload: `{"room":{"id":7}}`, want: expect{Room: "7", Type: TypeOther}},
		{name: "room priority", payload: `{"group":"g","room":"r"}`, want: expect{Room: "r", Type: TypeOther}},
		{name: "room from event", payload: `{"text":"x"}`, ev: protocol.Event{Room: "evroom"}, want: expect{Room: "evroom", Content: "x", Type: TypeChat}},
		{name: "payload room beats event room", payload: `{"room":"p"}`, ev: protocol.Event{Room: "evroom"}, want: expect{Room: "p", Type: TypeOther}},

		// IDs.
		{name: "msg_id number", payload: `{"msg_id":12345}`, want: expect{ExtID: "12345", Type: TypeOther}},
		{name: "message_id", payload: `{"message_id":"abc"}`, want: expect{ExtID: "abc", Type: TypeOther}},
		{name: "msgId", payload: `{"msgId":"x1"}`, want: expect{ExtID: "x1", Type: TypeOther}},
		{name: "uuid", payload: `{"uuid":"0b7e"}`, want: expect{ExtID: "0b7e", Type: TypeOther}},
		{name: "mongo id", payload: `{"_id":{"$oid": "65a1"}}`, want: expect{ExtID: `{"$oid":"65a1"}`, Type: TypeOther}},
		{name: "big id", payload: `{"id":123456789012345678901234567890}`, want: expect{ExtID: "123456789012345678901234567890", Type: TypeOther}},
		{name: "negative id", payload: `{"id":-7}`, want: expect{ExtID: "-7", Type: TypeOther}},
		{name: "bool id ignored", payload: `{"id":true,"uuid":"u"}`, want: expect{ExtID: "u", Type: TypeOther}},
		{name: "id priority", payload: `{"_id":"m","id":"i"}`, want: expect{ExtID: "i", Type: TypeOther}},

		// Timestamps.
		{name: "unix seconds", payload: `{"timestamp":1764160000}`, want: expect{SentAt: "2025-11-26T12:26:40Z", Type: TypeOther}},
		{name: "unix ms", payload: `{"ts":1764160000123}`, want: expect{SentAt: "2025-11-26T12:26:40.123Z", Type: TypeOther}},
		{name: "unix us", payload: `{"time":1764160000123456}`, want: expect{SentAt: "2025-11-26T12:26:40.123456Z", Type: TypeOther}},
		{name: "unix ns", payload: `{"time":1764160000123456789}`, want: expect{SentAt: "2025-11-26T12:26:40.123456789Z", Type: TypeOther}},
		{name: "float seconds", payload: `{"ts":1764160000.5}`, want: expect{SentAt: "2025-11-26T12:26:40.5Z", Type: TypeOther}},
		{name: "exponent ms", payload: `{"ts":1.764160000123e12}`, want: expect{SentAt: "2025-11-26T12:26:40.123Z", Type: TypeOther}},
		{name: "numeric string ms", payload: `{"created_at":"1764160000123"}`, want: expect{SentAt: "2025-11-26T12:26:40.123Z", Type: TypeOther}},
		{name: "rfc3339", payload: `{"createdAt":"2025-11-26T12:26:40Z"}`, want: expect{SentAt: "2025-11-26T12:26:40Z", Type: TypeOther}},
		{name: "rfc3339 offset and fraction", payload: `{"date":"2025-11-26T20:26:40.25+08:00"}`, want: expect{SentAt: "2025-11-26T12:26:40.25Z", Type: TypeOther}},
		{name: "rfc3339 negative offset", payload: `{"date":"2025-11-26T07:56:40-04:30"}`, want: expect{SentAt: "2025-11-26T12:26:40Z", Type: TypeOther}},
		{name: "sql datetime", payload: `{"sent_at":"2025-11-26 12:26:40"}`, want: expect{SentAt: "2025-11-26T12:26:40Z", Type: TypeOther}},
		{name: "bogus time falls through", payload: `{"time":"yesterday","ts":1764160000}`, want: expect{SentAt: "2025-11-26T12:26:40Z", Type: TypeOther}},
		{name: "impossible date", payload: `{"date":"2025-02-30 00:00:00"}`, want: expect{Type: TypeOther}},
		{name: "zero time", payload: `{"ts":0}`, want: expect{Type: TypeOther}},
		{name: "negative time", payload: `{"ts":-5}`, want: expect{Type: TypeOther}},
		{name: "huge time", payload: `{"ts":1e300}`, want: expect{Type: TypeOther}},
		{name: "object time", payload: `{"ts":{"s":1}}`, want: expect{Type: TypeOther}},
		{name: "time in wrapper", payload: `{"data":{"time":"2025-11-26T12:26:40Z","text":"x"}}`, want: expect{SentAt: "2025-11-26T12:26:40Z", Content: "x", Type: TypeChat}},

		// Classification.
		{name: "type message", payload: `{"type":"message","text":"x"}`, want: expect{Content: "x", Type: TypeChat}},
		{name: "type upper case", payload: `{"type":"CHAT_MESSAGE"}`, want: expect{Type: TypeChat}},
		{name: "type with spaces", payload: `{"event":"User Joined","user":"a"}`, want: expect{User: "a", Type: TypeJoin}},
		{name: "type with dash", payload: `{"action":"user-left"}`, want: expect{Type: TypeLeave}},
		{name: "kind", payload: `{"kind":"notice","text":"maintenance"}`, want: expect{Content: "maintenance", Type: TypeSystem}},
		{name: "cmd", payload: `{"cmd":"quit"}`, want: expect{Type: TypeLeave}},
		{name: "unknown type with content", payload: `{"type":"typing","text":"x"}`, want: expect{Content: "x", Type: TypeOther}},
		{name: "numeric type ignored", payload: `{"type":1,"text":"x"}`, want: expect{Content: "x", Type: TypeChat}},
		{name: "no type no content", payload: `{"foo":"bar"}`, want: expect{Type: TypeOther}},
		{name: "empty object", payload: `{}`, want: expect{Type: TypeOther}},
		{name: "type priority", payload: `{"cmd":"quit","type":"join"}`, want: expect{Type: TypeJoin}},
		{name: "escaped type", payload: `{"type":"\u006aoin"}`, want: expect{Type: TypeJoin}},
		{name: "event name fallback", payload: `{"user":"a"}`, ev: protocol.Event{Name: "user joined"}, want: expect{User: "a", Type: TypeJoin}},
		{name: "payload type beats event name", payload: `{"type":"leave"}`, ev: protocol.Event{Name: "chat"}, want: expect{Type: TypeLeave}},
		{name: "unknown event name", payload: `{"text":"x"}`, ev: protocol.Event{Name: "typing"}, want: expect{Content: "x", Type: TypeOther}},

		// Top-level arrays.
		{name: "event array", payload: `["chat",{"from":"x","msg":"y"}]`, want: expect{User: "x", Content: "y", Type: TypeChat}},
		{name: "array of object", payload: `[{"user":"a","text":"b"},{"user":"c"}]`, want: expect{User: "a", Content: "b", Type: TypeChat}},
		{name: "array type in object wins", payload: `["chat",{"type":"join"}]`, want: expect{Type: TypeJoin}},
		{name: "array of scalars", payload: `[1,2,3]`, want: expect{Type: TypeOther}},
		{name: "empty array", payload: `[]`, want: expect{Type: TypeOther}},

		// Plain text.
		{name: "plain text", payload: "hello world", want: expect{Content: "hello world", Type: TypeChat}},
		{name: "plain text looking like user colon", payload: "bob: hi", want: expect{Content: "bob: hi", Type: TypeChat}},
		{name: "json scalar is text", payload: `"quoted"`, want: expect{Content: `"quoted"`, Type: TypeChat}},
		{name: "number is text", payload: `42`, want: expect{Content: `42`, Type: TypeChat}},
		{name: "chinese text", payload: "大家好 👋", want: expect{Content: "大家好 👋", Type: TypeChat}},
		{name: "blank text", payload: " \n ", want: expect{Content: " \n ", Type: TypeOther}},
		{name: "empty", payload: "", want: expect{Type: TypeOther}},
		{name: "text with event name", payload: "server restarting", ev: protocol.Event{Name: "notice"}, want: expect{Content: "server restarting", Type: TypeSystem}},

		// Abnormal input.
		{name: "invalid utf8 text", payload: "ab\xff\xfecd", want: expect{Content: "ab\uFFFDcd", Type: TypeChat, Reason: ReasonInvalidUTF8}},
		{name: "invalid utf8 in json string", payload: "{\"user\":\"a\xff\",\"text\":\"x\"}", want: expect{User: "a\uFFFD", Content: "x", Type: TypeChat, Reason: ReasonInvalidUTF8}},
		{name: "invalid utf8 outside string", payload: "{\"a\":1\xff}", want: expect{Content: "{\"a\":1\uFFFD}", Type: TypeOther, Reason: ReasonInvalidUTF8}},
		{name: "truncated utf8", payload: "{\"text\":\"\xe4\xbd", want: expect{Content: "{\"text\":\"\uFFFD", Type: TypeOther, Reason: ReasonInvalidUTF8}},
		{name: "nul in text", payload: "a\x00b\x00", want: expect{Content: "ab", Type: TypeChat, Reason: ReasonNUL}},
		{name: "nul in json", payload: "{\"text\":\"a\x00b\"}\x00", want: expect{Content: "ab", Type: TypeChat, Reason: ReasonNUL}},
		{name: "escaped nul", payload: `{"user":"\u0000u","text":"a\u0000b"}`, want: expect{User: "u", Content: "ab", Type: TypeChat, Reason: ReasonNUL}},
		{name: "truncated json", payload: `{"user":"a","room":"r","id":7,"text":"hel`, want: expect{User: "a", Room: "r", ExtID: "7",
			Content: `{"user":"a","room":"r","id":7,"text":"hel`, Type: TypeOther, Reason: ReasonBadJSON}},
		{name: "truncated json keeps type", payload: `{"type":"chat","user":"a","text":"hel`, want: expect{User: "a",
			Content: `{"type":"chat","user":"a","text":"hel`, Type: TypeChat, Reason: ReasonBadJSON}},
		{name: "truncated number not used", payload: `{"user":"a","ts":17641`, want: expect{User: "a", Content: `{"user":"a","ts":17641`, Type: TypeOther, Reason: ReasonBadJSON}},
		{name: "member before error", payload: `{"user":"a" "text":"b"}`, want: expect{Content: `{"user":"a" "text":"b"}`, Type: TypeOther, Reason: ReasonBadJSON}},
		{name: "trailing garbage", payload: `{"user":"a"} x`, want: expect{User: "a", Content: `{"user":"a"} x`, Type: TypeOther, Reason: ReasonBadJSON}},
		{name: "two documents", payload: "{\"a\":1}\n{\"b\":2}", want: expect{Content: "{\"a\":1}\n{\"b\":2}", Type: TypeOther, Reason: ReasonBadJSON}},
		{name: "not json", payload: `{not json}`, want: expect{Content: `{not json}`, Type: TypeOther, Reason: ReasonBadJSON}},
		{name: "truncated array", payload: `[1,2`, want: expect{Content: `[1,2`, Type: TypeOther, Reason: ReasonBadJSON}},
		{name: "lone brace", payload: `{`, want: expect{Content: `{`, Type: TypeOther, Reason: ReasonBadJSON}},
		{name: "bad escape", payload: `{"user":"a","text":"\x"}`, want: expect{User: "a", Content: `{"user":"a","text":"\x"}`, Type: TypeOther, Reason: ReasonBadJSON}},
		{name: "control char in string", payload: "{\"text\":\"a\tb\"}", want: expect{Content: "{\"text\":\"a\tb\"}", Type: TypeOther, Reason: ReasonBadJSON}},
		{name: "depth 64 ok", payload: deep(64), want: expect{Type: TypeOther}},
		{name: "depth 65 too deep", payload: deep(65), want: expect{Content: deep(65), Type: TypeOther, Reason: ReasonTooDeep}},
		{name: "too deep keeps earlier members", payload: `{"user":"u","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
			want: expect{User: "u", Content: `{"user":"u","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, Type: TypeOther, Reason: ReasonTooDeep}},
		{name: "very deep", payload: strings.Repeat("[", 1_000_000), want: expect{Content: strings.Repeat("[", 1_000_000), Type: TypeOther, Reason: ReasonTooDeep}},
		{name: "caller reason kept on valid json", payload: `{"user":"a","text":"b"}`, reason: ReasonTooLarge, want: expect{User: "a", Content: "b", Type: TypeChat, Reason: ReasonTooLarge}},
		{name: "caller reason kept on truncated json", payload: `{"type":"chat","user":"a","text":"very lo`, reason: ReasonTooLarge,
			want: expect{User: "a", Content: `{"type":"chat","user":"a","text":"very lo`, Type: TypeChat, Reason: ReasonTooLarge}},
		{name: "caller reason beats invalid utf8", payload: "{\"text\":\"\xe4", reason: ReasonTooLarge, want: expect{Content: "{\"text\":\"\uFFFD", Type: TypeOther, Reason: ReasonTooLarge}},
		{name: "binary non text", payload: "\x82\xa4user\xa1a", ev: protocol.Event{Binary: true}, want: expect{Type: TypeOther, Reason: ReasonBinary}},
		{name: "binary with control bytes", payload: "ab\x01cd", ev: protocol.Event{Binary: true}, want: expect{Type: TypeOther, Reason: ReasonBinary}},
		{name: "binary with nul", payload: "{\"a\":1}\x00", ev: protocol.Event{Binary: true}, want: expect{Type: TypeOther, Reason: ReasonBinary}},
		{name: "binary json", payload: `{"user":"b","text":"bin"}`, ev: protocol.Event{Binary: true}, want: expect{User: "b", Content: "bin", Type: TypeChat}},
		{name: "binary text", payload: "line one\r\n\tline two", ev: protocol.Event{Binary: true}, want: expect{Content: "line one\r\n\tline two", Type: TypeChat}},
		{name: "binary room from event", payload: "\xff\xfe", ev: protocol.Event{Binary: true, Room: "r"}, want: expect{Room: "r", Type: TypeOther, Reason: ReasonBinary}},
	}
	n := NewNormalizer(FieldMap{}, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := tt.ev
			ev.Payload = []byte(tt.payload)
			ev.Raw = ev.Payload
			before := string(ev.Payload)
			m := Message{Reason: tt.reason}
			n.Normalize(ev, &m)
			if g := got(&m); g != tt.want {
				t.Errorf("Normalize(%.80q)\n got  %+v\n want %+v", tt.payload, g, tt.want)
			}
			if string(ev.Payload) != before {
				t.Errorf("Normalize modified the payload")
			}
			if m.Binary != tt.ev.Binary || string(m.Raw) != tt.payload {
				t.Errorf("Binary %v Raw %q", m.Binary, m.Raw)
			}
		})
	}
}

func TestNormalizeFieldMap(t *testing.T) {
	tests := []struct {
		name    string
		fm      FieldMap
		payload string
		ev      protocol.Event
		want    expect
	}{
		{name: "nested user", fm: FieldMap{User: "data.sender.nick"}, payload: `{"data":{"sender":{"nick":"N"}},"user":"ignored","text":"t"}`,
			want: expect{User: "N", Content: "t", Type: TypeChat}},
		{name: "array index", fm: FieldMap{Type: "args.0", Content: "args.1.text", User: "args.1.from"}, payload: `{"args":["chat",{"from":"f","text":"hello"}]}`,
			want: expect{User: "f", Content: "hello", Type: TypeChat}},
		{name: "root array", fm: FieldMap{Content: "2", User: "1"}, payload: `["msg","bob","hi there"]`, want: expect{User: "bob", Content: "hi there", Type: TypeChat}},
		{name: "mapped field is not detected", fm: FieldMap{User: "who"}, payload: `{"user":"u","text":"t"}`, want: expect{Content: "t", Type: TypeChat}},
		{name: "mapped room missing falls back to event", fm: FieldMap{Room: "where"}, payload: `{"room":"r"}`, ev: protocol.Event{Room: "evroom"},
			want: expect{Room: "evroom", Type: TypeOther}},
		{name: "time path ms", fm: FieldMap{Time: "meta.t"}, payload: `{"meta":{"t":1764160000123},"ts":1}`, want: expect{SentAt: "2025-11-26T12:26:40.123Z", Type: TypeOther}},
		{name: "id path number", fm: FieldMap{ID: "meta.seq"}, payload: `{"meta":{"seq":77},"id":"x"}`, want: expect{ExtID: "77", Type: TypeOther}},
		{name: "content object compact", fm: FieldMap{Content: "d"}, payload: `{"d":{"x": 1}}`, want: expect{Content: `{"x":1}`, Type: TypeChat}},
		{name: "user object name", fm: FieldMap{User: "a.b"}, payload: `{"a":{"b":{"username":"un"}}}`, want: expect{User: "un", Type: TypeOther}},
		{name: "escaped key on path", fm: FieldMap{User: "a.b"}, payload: `{"\u0061":{"\u0062":"x"}}`, want: expect{User: "x", Type: TypeOther}},
		{name: "last duplicate on path", fm: FieldMap{User: "a"}, payload: `{"a":"1","a":"2"}`, want: expect{User: "2", Type: TypeOther}},
		{name: "index out of range", fm: FieldMap{Content: "a.5"}, payload: `{"a":[1,2]}`, want: expect{Type: TypeOther}},
		{name: "index on object is a key", fm: FieldMap{Content: "a.0"}, payload: `{"a":{"0":"zero"}}`, want: expect{Content: "zero", Type: TypeChat}},
		{name: "path through scalar", fm: FieldMap{Content: "a.b"}, payload: `{"a":"s"}`, want: expect{Type: TypeOther}},
		{name: "non numeric index", fm: FieldMap{Content: "a.x"}, payload: `{"a":["s"]}`, want: expect{Type: TypeOther}},
		{name: "mapped type", fm: FieldMap{Type: "op"}, payload: `{"op":"LEAVE","type":"chat"}`, want: expect{Type: TypeLeave}},
		{name: "mapped on truncated json", fm: FieldMap{User: "m.u"}, payload: `{"m":{"u":"a"},"text":"tr`, want: expect{User: "a", Content: `{"m":{"u":"a"},"text":"tr`, Type: TypeOther, Reason: ReasonBadJSON}},
		{name: "mapped on plain text", fm: FieldMap{User: "u"}, payload: `hello`, want: expect{Content: "hello", Type: TypeChat}},
		{name: "all mapped", fm: FieldMap{User: "a", Content: "b", Type: "c", Room: "d", Time: "e", ID: "f"},
			payload: `{"a":"u","b":"x","c":"system","d":"r","e":"2025-11-26 12:26:40","f":1,"user":"no"}`,
			want:    expect{User: "u", Content: "x", Type: TypeSystem, Room: "r", SentAt: "2025-11-26T12:26:40Z", ExtID: "1"}},
		{name: "malformed path never matches", fm: FieldMap{User: "a..b"}, payload: `{"a":{"":{"b":"x"}}}`, want: expect{Type: TypeOther}},
		{name: "malformed leading dot never matches", fm: FieldMap{User: ".a"}, payload: `{"":{"a":"x"},"user":"u"}`, want: expect{Type: TypeOther}},
		{name: "malformed path on array root", fm: FieldMap{User: "0."}, payload: `[{"":"x"}]`, want: expect{Type: TypeOther}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := tt.ev
			ev.Payload = []byte(tt.payload)
			var m Message
			NewNormalizer(tt.fm, 0).Normalize(ev, &m)
			if g := got(&m); g != tt.want {
				t.Errorf("got  %+v\nwant %+v", g, tt.want)
			}
		})
	}
}

func TestNormalizeMaxDepth(t *testing.T) {
	tests := []struct {
		maxDepth int
		payload  string
		reason   string
	}{
		{1, `{"a":1}`, ""},
		{1, `{"a":{}}`, ReasonTooDeep},
		{2, `{"a":{}}`, ""},
		{2, `[[[]]]`, ReasonTooDeep},
		{0, deep(64), ""},
		{-1, deep(65), ReasonTooDeep},
		{10000, deep(5000), ""},
	}
	for _, tt := range tests {
		var m Message
		NewNormalizer(FieldMap{}, tt.maxDepth).Normalize(protocol.Event{Payload: []byte(tt.payload)}, &m)
		if m.Reason != tt.reason {
			t.Errorf("maxDepth %d, %.30q: Reason %q, want %q", tt.maxDepth, tt.payload, m.Reason, tt.reason)
		}
	}
}

func TestNormalizeLeavesCallerFields(t *testing.T) {
	n := NewNormalizer(FieldMap{}, 0)
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	m := Message{ID: 9, Target: "t", SessionID: 3, ReceivedAt: at, DedupKey: 5,
		User: "old", Room: "old", Content: "old", ExtID: "old", SentAt: at, Type: TypeJoin, Binary: true}
	n.Normalize(protocol.Event{Payload: []byte("new"), Raw: []byte("raw")}, &m)
	if m.ID != 9 || m.Target != "t" || m.SessionID != 3 || !m.ReceivedAt.Equal(at) || m.DedupKey != 5 {
		t.Errorf("caller fields changed: %+v", m)
	}
	if m.User != "" || m.Room != "" || m.ExtID != "" || !m.SentAt.IsZero() || m.Content != "new" || m.Type != TypeChat || m.Binary || string(m.Raw) != "raw" {
		t.Errorf("old values survived: %+v", m)
	}
	// Raw defaults to the payload when the adapter gave none.
	n.Normalize(protocol.Event{Payload: []byte("p")}, &m)
	if string(m.Raw) != "p" {
		t.Errorf("Raw = %q, want the payload", m.Raw)
	}
}

// TestNormalizeAllocs pins the allocation budget of the hot path: one string
// for all fields of a JSON frame.
func TestNormalizeAllocs(t *testing.T) {
	n := NewNormalizer(FieldMap{}, 0)
	ev := protocol.Event{Payload: []byte(demoFrame)}
	var m Message
	if a := testing.AllocsPerRun(100, func() { m.Reason = ""; n.Normalize(ev, &m) }); a > 1 {
		t.Errorf("Normalize allocates %v times per demo frame, want <= 1", a)
	}
}

// TestNormalizeConcurrent shares one Normalizer between goroutines (run with
// -race).
func TestNormalizeConcurrent(t *testing.T) {
	n := NewNormalizer(FieldMap{Room: "data.room"}, 0)
	frames := []string{demoFrame, `{"data":{"room":"r","user":"u","text":"x"}}`, "plain", `{"user":"a","text":"trunc`}
	want := make([]Message, len(frames))
	for i, f := range frames {
		n.Normalize(protocol.Event{Payload: []byte(f)}, &want[i])
	}
	done := make(chan bool)
	for g := range 4 {
		go func() {
			ok := true
			for i := range 200 {
				k := (g + i) % len(frames)
				var m Message
				n.Normalize(protocol.Event{Payload: []byte(frames[k])}, &m)
				ok = ok && got(&m) == got(&want[k])
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("concurrent Normalize gave a different result")
		}
	}
}

// TestClassifyEventNames: protocol event names in camelCase or snake_case
// (SignalR's ReceiveMessage, Phoenix's new_msg) classify like their words.
func TestClassifyEventNames(t *testing.T) {
	tests := []struct {
		name string
		want Type
	}{
		{"ReceiveMessage", TypeChat}, {"receive_message", TypeChat}, {"newMessage", TypeChat},
		{"new_msg", TypeChat}, {"shout", TypeChat}, {"chat message", TypeChat},
		{"UserJoined", TypeJoin}, {"user-left", TypeLeave}, {"SYSTEM", TypeSystem},
		{"URLUpdate", TypeOther}, {"", TypeOther},
		{"AVeryLongEventNameThatDoesNotFitTheBuffer", TypeOther},
	}
	for _, tt := range tests {
		if got := classify(tt.name); got != tt.want {
			t.Errorf("classify(%q) = %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestNormalizeDeliveryID: only the envelope's id (the protocol's own
// delivery id) is marked DeliveryID; a payload's id is not, and the mark
// does not survive into the next message.
func TestNormalizeDeliveryID(t *testing.T) {
	n := NewNormalizer(FieldMap{}, 0)
	tests := []struct {
		ev       protocol.Event
		id       string
		delivery bool
	}{
		{protocol.Event{Payload: []byte(`{"id":"room-1","text":"a"}`)}, "room-1", false},
		{protocol.Event{Payload: []byte(`{"id":"room-1","text":"a"}`), ID: "chan:epoch:7"}, "chan:epoch:7", true},
		{protocol.Event{Payload: []byte(`plain`), ID: "m-1"}, "m-1", true},
		{protocol.Event{Payload: []byte(`{"text":"a"}`)}, "", false},
	}
	var m Message
	for _, tt := range tests {
		n.Normalize(tt.ev, &m)
		if m.ExtID != tt.id || m.DeliveryID != tt.delivery {
			t.Errorf("%q (ID %q): ExtID %q DeliveryID %v; want %q %v", tt.ev.Payload, tt.ev.ID, m.ExtID, m.DeliveryID, tt.id, tt.delivery)
		}
	}
}
