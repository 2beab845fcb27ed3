package message

import (
	"encoding/binary"
	"hash/fnv"
	"strings"
	"testing"
	"time"
)

func TestDedupKey(t *testing.T) {
	n := NewNormalizer(FieldMap{}, 0)
	at := time.Date(2025, 11, 26, 12, 26, 40, 123_000_000, time.UTC)
	key := func(m Message) uint64 {
		k, ok := n.DedupKey(&m)
		if !ok {
			t.Fatalf("DedupKey(%+v) has no key", m)
		}
		return k
	}

	// The key is persisted, so its construction must never change: check it
	// against hash/fnv over the documented encoding, and pin two values.
	ref := func(fields ...any) uint64 {
		h := fnv.New64a()
		for _, f := range fields {
			var b [8]byte
			switch f := f.(type) {
			case string:
				h.Write(binary.AppendUvarint(nil, uint64(len(f))))
				h.Write([]byte(f))
			case int64:
				binary.LittleEndian.PutUint64(b[:], uint64(f))
				h.Write(b[:])
			}
		}
		return h.Sum64()
	}
	idKey := key(Message{Target: "demo", ExtID: "m-123", DeliveryID: true})
	if want := ref("demo", "id", "m-123"); idKey != want {
		t.Errorf("id key = %#x, want %#x", idKey, want)
	}
	if k, ok := n.IDKey(&Message{Target: "demo", ExtID: "m-123"}); !ok || k != idKey {
		t.Errorf("payload id's IDKey = %#x, %v; want the delivery id's key %#x", k, ok, idKey)
	}
	if _, ok := n.IDKey(&Message{Target: "demo", ExtID: "m-123", DeliveryID: true}); ok {
		t.Error("a delivery id has an IDKey")
	}
	pidKey := key(Message{Target: "demo", ExtID: "m-123", SentAt: at, User: "小明", Room: "r", Content: "hi"})
	if want := ref("demo", "pid", "m-123", at.UnixMilli(), "小明", "r", "hi"); pidKey != want {
		t.Errorf("payload id key = %#x, want %#x", pidKey, want)
	}
	if got, want := key(Message{Target: "demo", ExtID: "m-123"}), ref("demo", "pid", "m-123", int64(0), "", "", ""); got != want {
		t.Errorf("payload id key without time = %#x, want %#x", got, want)
	}
	timeKey := key(Message{Target: "demo", SentAt: at, User: "小明", Content: "hi"})
	if want := ref("demo", "t", at.UnixMilli(), "小明", "hi"); timeKey != want {
		t.Errorf("time key = %#x, want %#x", timeKey, want)
	}
	long := strings.Repeat("长", 100) // 300 bytes: a two-byte length prefix
	if got, want := key(Message{SentAt: at, Content: long}), ref("", "t", at.UnixMilli(), "", long); got != want {
		t.Errorf("long content key = %#x, want %#x", got, want)
	}
	if idKey != 0x49b853a67496d740 || timeKey != 0xe198319de81812af {
		t.Errorf("keys changed: %#x %#x", idKey, timeKey)
	}

	tests := []struct {
		name string
		a, b Message
		same bool
	}{
		{"same delivery id, other fields differ", Message{Target: "t", ExtID: "1", DeliveryID: true, Content: "a", ID: 1}, Message{Target: "t", ExtID: "1", DeliveryID: true, Content: "b", ID: 2, ReceivedAt: at}, true},
		{"same delivery id, other target", Message{Target: "t", ExtID: "1", DeliveryID: true}, Message{Target: "u", ExtID: "1", DeliveryID: true}, false},
		{"length prefix", Message{Target: "ab", ExtID: "c", DeliveryID: true}, Message{Target: "a", ExtID: "bc", DeliveryID: true}, false},
		{"same payload id, other content", Message{Target: "t", ExtID: "1", Content: "a"}, Message{Target: "t", ExtID: "1", Content: "b"}, false},
		{"same payload id, other user", Message{Target: "t", ExtID: "1", User: "a", Content: "c"}, Message{Target: "t", ExtID: "1", User: "b", Content: "c"}, false},
		{"same payload id, other room", Message{Target: "t", ExtID: "1", Room: "a"}, Message{Target: "t", ExtID: "1", Room: "b"}, false},
		{"same payload id, other time", Message{Target: "t", ExtID: "1", SentAt: at}, Message{Target: "t", ExtID: "1", SentAt: at.Add(time.Second)}, false},
		{"same payload id and content, other arrival", Message{Target: "t", ExtID: "1", SentAt: at, User: "u", Room: "r", Content: "c", ID: 1}, Message{Target: "t", ExtID: "1", SentAt: at, User: "u", Room: "r", Content: "c", ID: 2, ReceivedAt: at}, true},
		{"payload id vs delivery id", Message{Target: "t", ExtID: "1"}, Message{Target: "t", ExtID: "1", DeliveryID: true}, false},
		{"same time user content", Message{Target: "t", SentAt: at, User: "u", Content: "c"}, Message{Target: "t", SentAt: at.Add(400 * time.Microsecond), User: "u", Content: "c", Room: "x"}, true},
		{"time zone does not matter", Message{Target: "t", SentAt: at, User: "u"}, Message{Target: "t", SentAt: at.In(time.FixedZone("x", 3600)), User: "u"}, true},
		{"other ms", Message{Target: "t", SentAt: at, User: "u"}, Message{Target: "t", SentAt: at.Add(time.Millisecond), User: "u"}, false},
		{"other content", Message{Target: "t", SentAt: at, Content: "a"}, Message{Target: "t", SentAt: at, Content: "b"}, false},
		{"user/content boundary", Message{Target: "t", SentAt: at, User: "ab", Content: "c"}, Message{Target: "t", SentAt: at, User: "a", Content: "bc"}, false},
		{"id vs time schemes", Message{Target: "t", ExtID: "x"}, Message{Target: "t", SentAt: at, User: "x"}, false},
	}
	for _, tt := range tests {
		if same := key(tt.a) == key(tt.b); same != tt.same {
			t.Errorf("%s: same key = %v, want %v", tt.name, same, tt.same)
		}
	}

	for _, m := range []Message{{Target: "t", User: "u", Content: "ok"}, {}} {
		if k, ok := n.DedupKey(&m); ok || k != 0 {
			t.Errorf("DedupKey(%+v) = %#x, %v; want no key", m, k, ok)
		}
	}
}
