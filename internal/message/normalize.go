package message

import (
	"bytes"
	"math/bits"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/jsontok"
	"github.com/wsmon/wsmon/internal/protocol"
)

// DefaultMaxDepth is the JSON nesting limit used when NewNormalizer is given
// a non-positive one.
const DefaultMaxDepth = 64

// field indexes the normalised fields a FieldMap can map.
type field int

const (
	fUser field = iota
	fContent
	fType
	fRoom
	fTime
	fID
	numFields
)

// Normalizer turns protocol events into Messages. It is immutable after
// NewNormalizer and safe for concurrent use by any number of goroutines.
type Normalizer struct {
	paths    [numFields][]string // mapped paths by field; nil: detect
	mapped   []field             // the fields with a path
	detect   bool                // some field is not mapped
	maxDepth int
}

// NewNormalizer returns a Normalizer applying fm (the zero FieldMap detects
// every field) and rejecting JSON nested deeper than maxDepth containers
// (DefaultMaxDepth when maxDepth <= 0). fm is expected to come from
// ParseFieldMap; a malformed path in a hand-built FieldMap never matches.
func NewNormalizer(fm FieldMap, maxDepth int) *Normalizer {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	n := &Normalizer{paths: fm.paths(), maxDepth: maxDepth}
	for f, p := range n.paths {
		if p == nil {
			n.detect = true
		} else {
			n.mapped = append(n.mapped, field(f))
		}
	}
	return n
}

// Normalize fills m's User, Room, Type, Content, SentAt, ExtID, DeliveryID,
// Reason, Raw and Binary from ev, overwriting what was there; every other
// field (Target, SessionID, ReceivedAt, ID, DedupKey) is the caller's and
// left alone. It never panics and never modifies ev's bytes; m's strings do
// not alias them. Raw is ev.Raw (ev.Payload when ev.Raw is nil).
//
// What the protocol envelope says: ev.Text makes the payload plain text
// (never parsed as JSON); ev.User is the user when the payload names none;
// ev.ID, the protocol's own delivery id, wins over the payload's id and
// sets DeliveryID; ev.Room is the room when the payload names none;
// ev.Reason is an abnormality the adapter found (kept unless the caller set
// one).
//
// Reason: a Reason already set by the caller (e.g. ReasonTooLarge for a
// truncated frame) is kept, and the payload is still read as far as it goes.
// Otherwise Reason records the first abnormality found, checked in this
// order: ReasonBinary, ReasonInvalidUTF8, ReasonNUL, then ReasonBadJSON or
// ReasonTooDeep. NUL characters (raw, or decoded from \u0000 escapes) are
// removed from every field and invalid UTF-8 is replaced with U+FFFD, so all
// strings in m are valid UTF-8.
//
// How the payload (ev.Payload) is read:
//   - A binary frame that is UTF-8 text without control characters other
//     than tab, CR and LF is read like a text frame (Binary stays true). Any
//     other binary frame gives TypeOther, empty Content and ReasonBinary.
//   - Text whose first non-space byte is '{' or '[' is JSON. Fields come from
//     the FieldMap paths, or are detected (see below). A top-level array is
//     read through its first object element, with a leading string element
//     ("event name" style, ["chat", {...}]) used as the type when the object
//     has none. JSON that does not parse, or nests deeper than the limit,
//     gets ReasonBadJSON or ReasonTooDeep and Content = the whole text; the
//     other fields are still taken from the members that parsed completely
//     before the error (useful for truncated frames).
//   - Any other text is plain text: Content = the text unchanged, User and
//     SentAt empty, Type from ev.Name if set, else TypeChat (TypeOther for
//     blank text). No "user: text" guessing is done: it misfires too often.
//
// Detection, each field from the first of its keys, in this order, holding a
// usable value; top-level keys first, then the same keys inside the first of
// message, data or payload that is an object (the common {"type":"message",
// "data":{"user":..,"text":..}} wrapping):
//   - User: user, username, nickname, nick, from, sender, author, name. A
//     string or number is used as is; an object is searched for name,
//     username, nickname, nick.
//   - Content: content, message, msg, text, body, data. A string is
//     unescaped; any other value (number, object, array, bool) is rendered as
//     compact JSON, except that an object under message or data is the
//     wrapper described above and data is only used when it is a string.
//   - Type: type, event, action, kind, cmd, string values only (numeric type
//     codes are ignored). Then ev.Name. Classified by classify; with no type
//     at all, a message with Content is TypeChat, one without is TypeOther
//     (and a JSON error always TypeOther).
//   - Room: room, channel, topic, room_id, roomId, group: a string, a
//     number, or an object's name or id. Then ev.Room.
//   - SentAt: timestamp, ts, time, created_at, createdAt, date, sent_at: see
//     numberTime (numbers and numeric strings in s, ms, µs or ns by
//     magnitude) and textTime (RFC 3339, "2006-01-02 15:04:05" as UTC). In
//     UTC; zero when absent or unparseable.
//   - ExtID: id, msg_id, message_id, msgId, uuid, _id: a string, a number
//     as written (an integer's decimal text), or an object or array as
//     compact JSON ({"$oid":..}).
//
// Empty strings and nulls count as absent. Keys match exactly (case
// sensitive, after unescaping); for duplicate keys the last one wins, as in
// encoding/json.
func (n *Normalizer) Normalize(ev protocol.Event, m *Message) {
	reason := m.Reason
	m.Raw = ev.Raw
	if m.Raw == nil {
		m.Raw = ev.Payload
	}
	m.Binary = ev.Binary
	m.User, m.Room, m.Content, m.ExtID = "", "", "", ""
	m.SentAt = time.Time{}
	m.Type = TypeOther

	d := ev.Payload
	reason = orReason(reason, ev.Reason)
	switch {
	case ev.Binary && !isText(d):
		reason = orReason(reason, ReasonBinary)
	default:
		if !utf8.Valid(d) {
			reason = orReason(reason, ReasonInvalidUTF8)
			d = bytes.ToValidUTF8(d, []byte("\uFFFD"))
		}
		if bytes.IndexByte(d, 0) >= 0 {
			reason = orReason(reason, ReasonNUL)
			d = bytes.ReplaceAll(d, []byte{0}, nil)
		}
		if root := jsontok.SkipSpace(d, 0); !ev.Text && root < len(d) && (d[root] == '{' || d[root] == '[') {
			reason = n.normalizeJSON(d, root, ev.Name, m, reason)
		} else {
			m.Content = string(d)
			switch {
			case ev.Name != "":
				m.Type = classify(ev.Name)
			case jsontok.SkipSpace(d, 0) < len(d):
				m.Type = TypeChat
			}
		}
	}
	if m.Room == "" {
		m.Room = ev.Room
	}
	if m.User == "" {
		m.User = cleanString(ev.User)
	}
	m.DeliveryID = false
	if ev.ID != "" {
		m.ExtID = cleanString(ev.ID)
		m.DeliveryID = true
	}
	m.Reason = reason
}

// cleanString makes an envelope string valid UTF-8 without NULs, as every
// string of a Message is.
func cleanString(v string) string {
	if utf8.ValidString(v) && strings.IndexByte(v, 0) < 0 {
		return v
	}
	return strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "")
}

// orReason returns have if set, else r.
func orReason(have, r string) string {
	if have != "" {
		return have
	}
	return r
}

// isText reports whether a binary payload can be read as text: valid UTF-8
// with no control characters but tab, CR and LF.
func isText(d []byte) bool {
	for _, c := range d {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return utf8.Valid(d)
}

// pickKind says how a picked value becomes text.
type pickKind uint8

const (
	pickNone    pickKind = iota
	pickString           // a JSON string, quotes included: unescape
	pickLiteral          // a number: copy
	pickCompact          // any value: compact JSON
)

// pick is a value chosen for a field: d[s:e]. (SentAt is parsed at once
// and not picked.)
type pick struct {
	s, e int
	kind pickKind
}

// normalizeJSON fills m from the JSON text d whose first value byte is
// d[root], and returns the updated reason.
func (n *Normalizer) normalizeJSON(d []byte, root int, evName string, m *Message, reason string) string {
	// The members of a root object are collected during validation.
	c := rootMembers{n: n}
	var onMember func([]byte, int, int)
	if d[root] == '{' {
		onMember = c.member
	}
	res, limit := jsontok.Validate(d, n.maxDepth, onMember)
	switch res {
	case jsontok.OK:
		limit = len(d)
	case jsontok.TooDeep:
		reason = orReason(reason, ReasonTooDeep)
	default:
		reason = orReason(reason, ReasonBadJSON)
	}

	var picks [numFields]pick
	var sent time.Time
	for _, f := range n.mapped {
		segs := n.paths[f]
		var s, e int
		var ok bool
		if onMember == nil {
			s, e, ok = lookupPath(d, root, limit, segs)
		} else if sp := c.mapped[f]; sp.e > 0 {
			s, e, ok = lookupPath(d, sp.s, limit, segs[1:])
		}
		if !ok {
			continue
		}
		if f == fTime {
			sent, _ = valueTime(d, s, e)
		} else {
			picks[f] = interpret(f, -1, d, s, e, limit)
		}
	}
	top := &c.top
	if n.detect {
		n.detectFields(d, root, limit, top, &picks, &sent)
	}

	// Copy every string into one buffer and make one string of it: one
	// allocation for all fields. Unescaping valid UTF-8 and compacting only
	// shrink a value, so the spans bound the buffer size (append would grow
	// it anyway).
	need := 0
	for _, p := range picks {
		need += p.e - p.s
	}
	var stack [256]byte
	b := stack[:0]
	if need > len(stack) {
		b = make([]byte, 0, need)
	}
	var spans [numFields][2]int
	nul := false
	for _, f := range [...]field{fUser, fContent, fRoom, fID} {
		if f == fContent && res != jsontok.OK {
			continue
		}
		start := len(b)
		var z bool
		b, z = appendPick(b, d, picks[f])
		if z {
			b = append(b[:start], dropNUL(b[start:])...)
			nul = true
		}
		spans[f] = [2]int{start, len(b)}
	}
	if nul {
		reason = orReason(reason, ReasonNUL)
	}
	all := string(b)
	m.User = all[spans[fUser][0]:spans[fUser][1]]
	m.Room = all[spans[fRoom][0]:spans[fRoom][1]]
	m.ExtID = all[spans[fID][0]:spans[fID][1]]
	if res == jsontok.OK {
		m.Content = all[spans[fContent][0]:spans[fContent][1]]
	} else {
		m.Content = string(d)
	}
	m.SentAt = sent

	switch p := picks[fType]; {
	case p.kind == pickString:
		m.Type = classifyJSON(d[p.s+1 : p.e-1])
	case evName != "":
		m.Type = classify(evName)
	case res == jsontok.OK && m.Content != "":
		m.Type = TypeChat
	default:
		m.Type = TypeOther
	}
	return reason
}

// rootMembers collects, while the document is validated, the members of a
// root object that normalisation needs.
type rootMembers struct {
	n      *Normalizer
	top    keyTable        // detection keys
	mapped [numFields]span // by field: the member named by the first path segment; e == 0: none
}

// member is jsontok.Validate's onMember callback.
func (c *rootMembers) member(key []byte, vs, ve int) {
	if c.n.detect {
		c.top.record(key, vs, ve)
	}
	for _, f := range c.n.mapped {
		if seg := c.n.paths[f][0]; seg != "" && keyEquals(key, seg) {
			c.mapped[f] = span{vs, ve} // the last duplicate wins
		}
	}
}

// detectFields fills the unmapped fields of picks by key detection. top
// holds the keys of a root object; for a root array it is filled here.
func (n *Normalizer) detectFields(d []byte, root, limit int, top *keyTable, picks *[numFields]pick, sent *time.Time) {
	var hint pick // type from a leading string in a top-level array
	if d[root] == '[' {
		doc := -1
		it := jsontok.NewArrIter(d, root, limit)
		for i := 0; ; i++ {
			s, e, ok := it.Next()
			if !ok {
				break
			}
			if i == 0 && d[s] == '"' && e-s > 2 {
				hint = pick{s: s, e: e, kind: pickString}
			}
			if d[s] == '{' {
				doc = s
				break
			}
		}
		top.fill(d, doc, limit)
	}
	missing := false
	for f := range numFields {
		switch {
		case n.paths[f] != nil:
		case f == fTime:
			*sent = top.resolveTime(d)
			missing = missing || sent.IsZero()
		default:
			top.resolve(f, d, limit, false, &picks[f])
			missing = missing || picks[f].kind == pickNone
		}
	}
	if missing {
		if w := top.wrapper(d); w >= 0 {
			var in keyTable
			in.fill(d, w, limit)
			for f := range numFields {
				switch {
				case n.paths[f] != nil:
				case f == fTime:
					if sent.IsZero() {
						*sent = in.resolveTime(d)
					}
				case picks[f].kind == pickNone:
					in.resolve(f, d, limit, true, &picks[f])
				}
			}
		}
	}
	if n.paths[fType] == nil && picks[fType].kind == pickNone {
		picks[fType] = hint
	}
}

// Detection keys. Each field's candidates are a contiguous range, in
// priority order (see fieldKeys).
const (
	kUser = iota
	kUsername
	kNickname
	kNick
	kFrom
	kSender
	kAuthor
	kName
	kContent
	kMessage
	kMsg
	kText
	kBody
	kData
	kType
	kEvent
	kAction
	kKind
	kCmd
	kRoom
	kChannel
	kTopic
	kRoomSnake
	kRoomCamel
	kGroup
	kTimestamp
	kTs
	kTime
	kCreatedSnake
	kCreatedCamel
	kDate
	kSentAt
	kID
	kMsgIDSnake
	kMessageID
	kMsgIDCamel
	kUUID
	kMongoID
	kPayload // a wrapper only
	numKeys
)

// fieldKeys returns the range [lo, hi) of detection keys for f.
func fieldKeys(f field) (lo, hi int) {
	switch f {
	case fUser:
		return kUser, kContent
	case fContent:
		return kContent, kType
	case fType:
		return kType, kRoom
	case fRoom:
		return kRoom, kTimestamp
	case fTime:
		return kTimestamp, kID
	case fID:
		return kID, kPayload
	}
	return 0, 0
}

// keySlot returns the detection key index of a JSON key, or -1.
func keySlot[T string | []byte](k T) int {
	switch string(k) {
	case "user":
		return kUser
	case "username":
		return kUsername
	case "nickname":
		return kNickname
	case "nick":
		return kNick
	case "from":
		return kFrom
	case "sender":
		return kSender
	case "author":
		return kAuthor
	case "name":
		return kName
	case "content":
		return kContent
	case "message":
		return kMessage
	case "msg":
		return kMsg
	case "text":
		return kText
	case "body":
		return kBody
	case "data":
		return kData
	case "type":
		return kType
	case "event":
		return kEvent
	case "action":
		return kAction
	case "kind":
		return kKind
	case "cmd":
		return kCmd
	case "room":
		return kRoom
	case "channel":
		return kChannel
	case "topic":
		return kTopic
	case "room_id":
		return kRoomSnake
	case "roomId":
		return kRoomCamel
	case "group":
		return kGroup
	case "timestamp":
		return kTimestamp
	case "ts":
		return kTs
	case "time":
		return kTime
	case "created_at":
		return kCreatedSnake
	case "createdAt":
		return kCreatedCamel
	case "date":
		return kDate
	case "sent_at":
		return kSentAt
	case "id":
		return kID
	case "msg_id":
		return kMsgIDSnake
	case "message_id":
		return kMessageID
	case "msgId":
		return kMsgIDCamel
	case "uuid":
		return kUUID
	case "_id":
		return kMongoID
	case "payload":
		return kPayload
	}
	return -1
}

// span is a value's position in the document.
type span struct{ s, e int }

// keyTable holds, for one object, the value of each detection key present:
// v[k] is meaningful when bit k of present is set.
type keyTable struct {
	present uint64
	v       [numKeys]span
}

// keyMask returns the present bits of the keys in [lo, hi).
func keyMask(lo, hi int) uint64 { return (uint64(1)<<uint(hi) - 1) &^ (uint64(1)<<uint(lo) - 1) }

// fill records the detection keys of the object at d[obj] (nothing when obj
// is -1). The last of duplicate keys wins.
func (t *keyTable) fill(d []byte, obj, limit int) {
	it := jsontok.NewObjIter(d, obj, limit)
	for {
		key, s, e, ok := it.Next()
		if !ok {
			return
		}
		t.record(key, s, e)
	}
}

// record notes the member key: d[s:e] if key is a detection key.
func (t *keyTable) record(key []byte, s, e int) {
	if k := rawKeySlot(key); k >= 0 {
		t.v[k] = span{s, e}
		t.present |= 1 << uint(k)
	}
}

// rawKeySlot is keySlot for a raw (possibly escaped) key.
func rawKeySlot(key []byte) int {
	if k := keySlot(key); k >= 0 || !jsontok.HasEscapes(key) {
		return k
	}
	var buf [32]byte
	u, _ := jsontok.AppendUnescaped(buf[:0], key)
	return keySlot(u)
}

// wrapper returns the offset of the wrapper object (message, data or
// payload, first that is an object), or -1.
func (t *keyTable) wrapper(d []byte) int {
	for _, k := range [...]int{kMessage, kData, kPayload} {
		if t.present&(1<<uint(k)) != 0 && d[t.v[k].s] == '{' {
			return t.v[k].s
		}
	}
	return -1
}

// resolve sets *p to f's value from the first usable candidate key (f is
// not fTime), leaving it alone when there is none. nested is set inside a
// wrapper, where message and data are not wrappers any more.
func (t *keyTable) resolve(f field, d []byte, limit int, nested bool, p *pick) {
	for m := t.present & keyMask(fieldKeys(f)); m != 0; m &= m - 1 {
		k := bits.TrailingZeros64(m)
		sp := t.v[k]
		if f == fContent && !nested && (k == kMessage || k == kData) && d[sp.s] == '{' {
			continue // the wrapper, searched later
		}
		if f == fContent && k == kData && d[sp.s] != '"' {
			continue
		}
		if *p = interpret(f, k, d, sp.s, sp.e, limit); p.kind != pickNone {
			return
		}
	}
}

// resolveTime returns the time from the first candidate key whose value
// parses, or the zero time.
func (t *keyTable) resolveTime(d []byte) time.Time {
	for m := t.present & keyMask(fieldKeys(fTime)); m != 0; m &= m - 1 {
		sp := t.v[bits.TrailingZeros64(m)]
		if tm, ok := valueTime(d, sp.s, sp.e); ok {
			return tm
		}
	}
	return time.Time{}
}

// valueTime parses the JSON value d[s:e] as a timestamp: a number, or a
// string holding a number or a date-time (see numberTime, textTime).
func valueTime(d []byte, s, e int) (time.Time, bool) {
	switch c := d[s]; {
	case c == '-' || (c >= '0' && c <= '9'):
		return numberTime(d[s:e])
	case c == '"' && e-s <= 66:
		body := d[s+1 : e-1]
		if !jsontok.HasEscapes(body) {
			return textTime(body)
		}
		var buf [64]byte
		u, _ := jsontok.AppendUnescaped(buf[:0], body)
		return textTime(u)
	}
	return time.Time{}, false
}

// interpret turns the value d[s:e] found for f (under detection key k, -1
// when mapped; f is not fTime) into a pick, or pickNone when it is not
// usable.
func interpret(f field, k int, d []byte, s, e, limit int) pick {
	c := d[s]
	if c == 'n' || (c == '"' && e-s <= 2) { // null or ""
		return pick{}
	}
	isNum := c == '-' || (c >= '0' && c <= '9')
	switch f {
	case fUser, fRoom:
		switch {
		case c == '"':
			return pick{s: s, e: e, kind: pickString}
		case isNum:
			return pick{s: s, e: e, kind: pickLiteral}
		case c == '{':
			rank := userNameRank
			if f == fRoom {
				rank = roomNameRank
			}
			return nameMember(d, s, limit, rank)
		}
	case fContent:
		if c == '"' {
			return pick{s: s, e: e, kind: pickString}
		}
		return pick{s: s, e: e, kind: pickCompact}
	case fType:
		if c == '"' {
			return pick{s: s, e: e, kind: pickString}
		}
	case fID:
		switch {
		case c == '"':
			return pick{s: s, e: e, kind: pickString}
		case isNum:
			return pick{s: s, e: e, kind: pickLiteral}
		case c == '{' || c == '[':
			return pick{s: s, e: e, kind: pickCompact}
		}
	}
	return pick{}
}

// userNameRank ranks the keys naming a user inside a user object; -1: none.
func userNameRank(k []byte) int {
	switch string(k) {
	case "name":
		return 0
	case "username":
		return 1
	case "nickname":
		return 2
	case "nick":
		return 3
	}
	return -1
}

// roomNameRank ranks the keys naming a room inside a room object.
func roomNameRank(k []byte) int {
	switch string(k) {
	case "name":
		return 0
	case "id":
		return 1
	}
	return -1
}

// nameMember returns the best-ranked non-empty string or number member of
// the object at d[obj].
func nameMember(d []byte, obj, limit int, rank func([]byte) int) pick {
	best, bestRank := pick{}, 1<<30
	it := jsontok.NewObjIter(d, obj, limit)
	for {
		key, s, e, ok := it.Next()
		if !ok {
			return best
		}
		r := rank(key)
		if r < 0 && jsontok.HasEscapes(key) {
			var buf [32]byte
			u, _ := jsontok.AppendUnescaped(buf[:0], key)
			r = rank(u)
		}
		if r < 0 || r > bestRank {
			continue
		}
		switch c := d[s]; {
		case c == '"' && e-s > 2:
			best, bestRank = pick{s: s, e: e, kind: pickString}, r
		case c == '-' || (c >= '0' && c <= '9'):
			best, bestRank = pick{s: s, e: e, kind: pickLiteral}, r
		}
	}
}

// lookupPath follows segs from the value at d[root] and returns the span of
// the value found (the root value itself when segs is empty).
func lookupPath(d []byte, root, limit int, segs []string) (s, e int, ok bool) {
	s, e = root, jsontok.ValueEnd(d, root)
	if len(segs) > 0 {
		e = -1 // a truncated root still has members to look in
	}
	for _, seg := range segs {
		if seg == "" { // malformed path (see NewNormalizer)
			return 0, 0, false
		}
		switch d[s] {
		case '{':
			found := false
			it := jsontok.NewObjIter(d, s, limit)
			for {
				key, vs, ve, more := it.Next()
				if !more {
					break
				}
				if keyEquals(key, seg) {
					s, e, found = vs, ve, true // keep going: the last duplicate wins
				}
			}
			if !found {
				return 0, 0, false
			}
		case '[':
			idx, isIdx := index(seg)
			if !isIdx {
				return 0, 0, false
			}
			it := jsontok.NewArrIter(d, s, limit)
			found := false
			for i := 0; ; i++ {
				vs, ve, more := it.Next()
				if !more {
					break
				}
				if i == idx {
					s, e, found = vs, ve, true
					break
				}
			}
			if !found {
				return 0, 0, false
			}
		default:
			return 0, 0, false
		}
	}
	return s, e, e > s
}

// keyEquals reports whether the raw JSON key equals name once unescaped.
func keyEquals(raw []byte, name string) bool {
	if string(raw) == name {
		return true
	}
	if len(raw) <= len(name) || !jsontok.HasEscapes(raw) {
		return false // escapes only make the raw form longer
	}
	var buf [64]byte
	u, _ := jsontok.AppendUnescaped(buf[:0], raw)
	return string(u) == name
}

// index parses a path segment as an array index.
func index(seg string) (int, bool) {
	if len(seg) == 0 || len(seg) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// appendPick appends p's text to b; nul reports a NUL in it.
func appendPick(b, d []byte, p pick) (out []byte, nul bool) {
	switch p.kind {
	case pickString:
		if s := d[p.s+1 : p.e-1]; !jsontok.HasEscapes(s) {
			return append(b, s...), false // d is valid UTF-8 without NULs
		}
		return jsontok.AppendUnescaped(b, d[p.s+1:p.e-1])
	case pickLiteral:
		return append(b, d[p.s:p.e]...), false
	case pickCompact:
		return jsontok.AppendCompact(b, d[p.s:p.e]), false
	}
	return b, false
}

// dropNUL removes NUL bytes from b in place.
func dropNUL(b []byte) []byte {
	out := b[:0]
	for _, c := range b {
		if c != 0 {
			out = append(out, c)
		}
	}
	return out
}

// classifyJSON classifies a raw JSON string body (escapes allowed).
func classifyJSON(raw []byte) Type {
	if !jsontok.HasEscapes(raw) {
		return classify(raw)
	}
	var buf [64]byte
	u, _ := jsontok.AppendUnescaped(buf[:0], raw)
	return classify(u)
}

// classify maps a type or event name to a Type, ignoring ASCII case and
// treating ' ' and '-' as '_':
//
//	chat:   chat message msg text say chat_message new_message broadcast
//	system: system notice announcement info server welcome error
//	join:   join joined user_joined user_join enter connect connected online presence_join
//	leave:  leave left user_left user_leave exit quit disconnect disconnected offline part
//
// Anything else is TypeOther.
func classify[T string | []byte](v T) Type {
	// Lower case, with '_' for ' ' and '-' and before an upper-case letter
	// that follows a lower-case one (camelCase: ReceiveMessage ->
	// receive_message).
	var buf [32]byte
	n := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if n == len(buf) {
			return TypeOther
		}
		switch {
		case c >= 'A' && c <= 'Z':
			if i > 0 && v[i-1] >= 'a' && v[i-1] <= 'z' {
				buf[n] = '_'
				if n++; n == len(buf) {
					return TypeOther
				}
			}
			c += 'a' - 'A'
		case c == ' ' || c == '-':
			c = '_'
		}
		buf[n] = c
		n++
	}
	switch string(buf[:n]) {
	case "chat", "message", "msg", "text", "say", "chat_message", "new_message", "broadcast",
		"new_msg", "chat_msg", "shout", "receive_message", "send_message", "message_created",
		"message_sent", "room_message", "public_message", "post", "comment", "danmaku", "bullet":
		return TypeChat
	case "system", "notice", "announcement", "info", "server", "welcome", "error":
		return TypeSystem
	case "join", "joined", "user_joined", "user_join", "enter", "connect", "connected", "online", "presence_join":
		return TypeJoin
	case "leave", "left", "user_left", "user_leave", "exit", "quit", "disconnect", "disconnected", "offline", "part":
		return TypeLeave
	}
	return TypeOther
}
