package message

// FNV-1a 64-bit parameters.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// fnv64a is an FNV-1a 64 hash state. It is written inline rather than with
// hash/fnv so DedupKey does not allocate.
type fnv64a uint64

func (h *fnv64a) byte(c byte) { *h = (*h ^ fnv64a(c)) * fnvPrime64 }

// u64 hashes v as 8 little-endian bytes.
func (h *fnv64a) u64(v uint64) {
	for range 8 {
		h.byte(byte(v))
		v >>= 8
	}
}

// field hashes s prefixed with its length as a uvarint (as
// encoding/binary.AppendUvarint writes it), so ("ab","c") and ("a","bc")
// differ.
func (h *fnv64a) field(s string) {
	n := uint64(len(s))
	for n >= 0x80 {
		h.byte(byte(n) | 0x80)
		n >>= 7
	}
	h.byte(byte(n))
	for i := 0; i < len(s); i++ {
		h.byte(s[i])
	}
}

// DedupKey returns the key identifying m for duplicate suppression (the
// same message seen twice, e.g. replayed by the server after a reconnect),
// and whether m has one:
//   - with a delivery id (DeliveryID: the protocol's own message id, such as
//     STOMP's message-id or Centrifugo's offset), the key covers
//     (Target, ExtID): the id identifies the message on its own;
//   - with an id from the payload, it covers (Target, ExtID, SentAt in
//     milliseconds, User, Room, Content): payload ids are not trusted to be
//     unique (servers put room or thread ids there), so a message is a
//     duplicate only when its content is the same too (see IDKey for the
//     id alone);
//   - else with a non-zero SentAt, it covers (Target, SentAt in milliseconds,
//     User, Content);
//   - else there is no key (0, false): a message with neither id nor time
//     may legitimately repeat ("ok", "+1") and is never deduplicated.
//
// The key is FNV-1a 64 over the fields, each prefixed with its length as a
// uvarint, and the time as 8 little-endian bytes: stable across processes
// and versions, so it may be persisted. It depends only on m.
func (n *Normalizer) DedupKey(m *Message) (uint64, bool) {
	h := fnv64a(fnvOffset64)
	switch {
	case m.ExtID != "" && m.DeliveryID:
		return idKey(m), true
	case m.ExtID != "":
		h.field(m.Target)
		h.field("pid")
		h.field(m.ExtID)
		h.u64(uint64(sentMilli(m)))
		h.field(m.User)
		h.field(m.Room)
		h.field(m.Content)
	case !m.SentAt.IsZero():
		h.field(m.Target)
		h.field("t")
		h.u64(uint64(m.SentAt.UnixMilli()))
		h.field(m.User)
		h.field(m.Content)
	default:
		return 0, false
	}
	return uint64(h), true
}

// IDKey returns the key of m's payload id alone, (Target, ExtID), and
// whether m has a payload id (an ExtID that is not a delivery id). Two
// messages with the same IDKey and different DedupKeys share an id but not
// their content: an id collision, both are stored. A delivery id's DedupKey
// is this same key.
func (n *Normalizer) IDKey(m *Message) (uint64, bool) {
	if m.ExtID == "" || m.DeliveryID {
		return 0, false
	}
	return idKey(m), true
}

func idKey(m *Message) uint64 {
	h := fnv64a(fnvOffset64)
	h.field(m.Target)
	h.field("id")
	h.field(m.ExtID)
	return uint64(h)
}

// sentMilli is m.SentAt in Unix milliseconds, 0 when unknown.
func sentMilli(m *Message) int64 {
	if m.SentAt.IsZero() {
		return 0
	}
	return m.SentAt.UnixMilli()
}
