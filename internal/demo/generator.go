package demo

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Message types of the demo wire format.
const (
	typeChat   = "chat"
	typeSystem = "system"
	typeJoin   = "join"
	typeLeave  = "leave"
)

// systemUser is the "user" of system messages.
const systemUser = "system"

// slot is a template placeholder kind.
type slot uint8

const (
	slotLiteral slot = iota
	slotUser
	slotOrder
	slotNum
	slotEmoji
	slotRoom
	slotTime
	slotPrice
)

// part is one piece of a template: a literal (already JSON-escaped) or a slot.
type part struct {
	slot slot
	lit  string
}

// template is a parsed chat line.
type template []part

// simUser is a simulated user.
type simUser struct {
	esc  string // JSON-escaped nickname
	room int    // index of the user's usual room
}

// generator produces the demo's messages, already encoded as JSON. It is
// deterministic for a given seed and sequence of calls. It is not safe for
// concurrent use; the Server calls it with its broadcast lock held.
type generator struct {
	rng      *rand.Rand
	idPrefix string // JSON-safe, ends with '-'

	users   []simUser
	online  []int // indices into users
	offline []int

	rooms  []string // JSON-escaped
	emojis []string
	chat   []template
	system []template
}

// newGenerator builds a generator with the given number of simulated users.
// A zero seed picks a random one.
func newGenerator(seed int64, users int) *generator {
	var src *rand.PCG
	if seed == 0 {
		src = rand.NewPCG(rand.Uint64(), rand.Uint64())
	} else {
		src = rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15)
	}
	g := &generator{rng: rand.New(src)}
	g.idPrefix = strconv.FormatUint(g.rng.Uint64()&0xffffffff|1<<32, 16)[1:] + "-"

	for _, r := range lines(rooms) {
		g.rooms = append(g.rooms, escaped(r))
	}
	g.emojis = lines(emojis)
	for _, table := range []string{chatPhrasesZH, chatPhrasesEN, chatPhrasesMixed} {
		for _, l := range lines(table) {
			g.chat = append(g.chat, parseTemplate(l))
		}
	}
	for _, l := range lines(systemPhrases) {
		g.system = append(g.system, parseTemplate(l))
	}

	names := lines(nicknames)
	for i := range users {
		name := names[i%len(names)]
		if round := i / len(names); round > 0 {
			name += "_" + strconv.Itoa(round+1)
		}
		g.users = append(g.users, simUser{
			esc:  escaped(name),
			room: g.rng.IntN(len(g.rooms)),
		})
		// Half the users are online from the start, so there is chat at
		// once; the rest trickle in as join events.
		if i%2 == 0 {
			g.online = append(g.online, i)
		} else {
			g.offline = append(g.offline, i)
		}
	}
	return g
}

// lines splits a phrase table into its non-empty lines.
func lines(table string) []string {
	var out []string
	for l := range strings.SplitSeq(table, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// parseTemplate splits a phrase into escaped literals and slots. Unknown
// {words} stay literal text.
func parseTemplate(s string) template {
	names := map[string]slot{
		"{user}": slotUser, "{order}": slotOrder, "{n}": slotNum, "{emoji}": slotEmoji,
		"{room}": slotRoom, "{time}": slotTime, "{price}": slotPrice,
	}
	var t template
	lit := ""
	for len(s) > 0 {
		if s[0] == '{' {
			if end := strings.IndexByte(s, '}'); end > 0 {
				if sl, ok := names[s[:end+1]]; ok {
					if lit != "" {
						t = append(t, part{lit: escaped(lit)})
						lit = ""
					}
					t = append(t, part{slot: sl})
					s = s[end+1:]
					continue
				}
			}
		}
		_, size := utf8.DecodeRuneInString(s)
		lit += s[:size]
		s = s[size:]
	}
	if lit != "" {
		t = append(t, part{lit: escaped(lit)})
	}
	return t
}

// appendEvent appends the next simulated-traffic message: mostly chat, with
// users joining and leaving and the occasional system message.
func (g *generator) appendEvent(dst []byte, seq, ts int64) []byte {
	r := g.rng.IntN(100)
	switch {
	case (r < 5 || len(g.online) == 0) && len(g.offline) > 0:
		u := moveRandom(g.rng, &g.offline, &g.online)
		return g.appendPresence(dst, seq, ts, u, typeJoin, " 加入了聊天室 / joined ")
	case r < 9 && len(g.online) > 2:
		u := moveRandom(g.rng, &g.online, &g.offline)
		return g.appendPresence(dst, seq, ts, u, typeLeave, " 离开了聊天室 / left ")
	case r < 11 || len(g.online) == 0:
		dst = g.appendHead(dst, seq, typeSystem, systemUser, g.rooms[0])
		dst = g.appendTemplate(dst, g.system[g.rng.IntN(len(g.system))])
		return appendTail(dst, ts)
	default:
		return g.appendChat(dst, seq, ts)
	}
}

// appendChat appends a chat message from a random online user (any user if
// none is online).
// appendPresence encodes a join or leave message of user u.
func (g *generator) appendPresence(dst []byte, seq, ts int64, u int, typ, verb string) []byte {
	room := g.rooms[g.users[u].room]
	dst = g.appendHead(dst, seq, typ, g.users[u].esc, room)
	dst = append(dst, g.users[u].esc...)
	dst = append(dst, verb...)
	dst = append(dst, room...)
	return appendTail(dst, ts)
}

// moveRandom moves a random element of *from to the end of *to and
// returns it.
func moveRandom(rng *rand.Rand, from, to *[]int) int {
	f := *from
	i := rng.IntN(len(f))
	u := f[i]
	f[i] = f[len(f)-1]
	*from = f[:len(f)-1]
	*to = append(*to, u)
	return u
}

func (g *generator) appendChat(dst []byte, seq, ts int64) []byte {
	var u int
	if len(g.online) > 0 {
		u = g.online[g.rng.IntN(len(g.online))]
	} else {
		u = g.rng.IntN(len(g.users))
	}
	room := g.users[u].room
	if g.rng.IntN(5) == 0 {
		room = g.rng.IntN(len(g.rooms))
	}
	dst = g.appendHead(dst, seq, typeChat, g.users[u].esc, g.rooms[room])
	if g.rng.IntN(50) == 0 {
		// An occasional long message: many phrases run together.
		n := 8 + g.rng.IntN(24)
		for i := range n {
			if i > 0 {
				dst = append(dst, ' ')
			}
			dst = g.appendTemplate(dst, g.chat[g.rng.IntN(len(g.chat))])
		}
	} else {
		dst = g.appendTemplate(dst, g.chat[g.rng.IntN(len(g.chat))])
	}
	return appendTail(dst, ts)
}

// appendHead appends everything up to the opening quote's content of
// "content". user and room must already be JSON-escaped.
func (g *generator) appendHead(dst []byte, seq int64, typ, user, room string) []byte {
	dst = append(dst, `{"id":"`...)
	dst = append(dst, g.idPrefix...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `","seq":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `,"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","user":"`...)
	dst = append(dst, user...)
	dst = append(dst, `","room":"`...)
	dst = append(dst, room...)
	return append(dst, `","content":"`...)
}

// appendTail closes the content string and appends the timestamp.
func appendTail(dst []byte, ts int64) []byte {
	dst = append(dst, `","timestamp":`...)
	dst = strconv.AppendInt(dst, ts, 10)
	return append(dst, '}')
}

// chatMessage is the wire form of a message whose user, room and content
// are arbitrary strings, in the field order of every demo message.
type chatMessage struct {
	ID        string `json:"id"`
	Seq       int64  `json:"seq"`
	Type      string `json:"type"`
	User      string `json:"user"`
	Room      string `json:"room"`
	Content   string `json:"content"`
	Timestamp int64  `json:"timestamp"`
}

// appendMessage appends a complete message whose user, room and content are
// arbitrary (unescaped) strings, such as a chat message sent by a client.
func (g *generator) appendMessage(dst []byte, seq int64, typ, user, room, content string, ts int64) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(chatMessage{ID: g.idPrefix + strconv.FormatInt(seq, 10), Seq: seq, Type: typ, User: user, Room: room, Content: content, Timestamp: ts})
	return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
}

// appendTemplate appends t with its slots filled, JSON-escaped.
func (g *generator) appendTemplate(dst []byte, t template) []byte {
	for _, p := range t {
		switch p.slot {
		case slotLiteral:
			dst = append(dst, p.lit...)
		case slotUser:
			dst = append(dst, g.users[g.rng.IntN(len(g.users))].esc...)
		case slotOrder:
			dst = g.appendOrder(dst)
		case slotNum:
			dst = strconv.AppendInt(dst, int64(1+g.rng.IntN(99)), 10)
		case slotEmoji:
			dst = append(dst, g.emojis[g.rng.IntN(len(g.emojis))]...)
		case slotRoom:
			dst = append(dst, g.rooms[g.rng.IntN(len(g.rooms))]...)
		case slotTime:
			dst = appendTwoDigits(dst, g.rng.IntN(24))
			dst = append(dst, ':')
			dst = appendTwoDigits(dst, 5*g.rng.IntN(12))
		case slotPrice:
			dst = append(dst, "¥"...)
			dst = strconv.AppendInt(dst, int64(1+g.rng.IntN(2000)), 10)
			dst = append(dst, '.')
			dst = appendTwoDigits(dst, g.rng.IntN(100))
		}
	}
	return dst
}

// appendOrder appends an order number in one of a few real-world styles.
func (g *generator) appendOrder(dst []byte) []byte {
	switch g.rng.IntN(3) {
	case 0:
		dst = append(dst, '#')
		return strconv.AppendInt(dst, int64(10000000+g.rng.IntN(90000000)), 10)
	case 1:
		dst = append(dst, "DD2025"...)
		return strconv.AppendInt(dst, int64(100000000+g.rng.IntN(900000000)), 10)
	default:
		dst = append(dst, "ORD-"...)
		return strconv.AppendInt(dst, int64(100000+g.rng.IntN(900000)), 10)
	}
}

func appendTwoDigits(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}

// escaped returns s JSON-escaped, without the quotes, as encoding/json
// writes it with HTML escaping off. The generator escapes its phrase
// tables, names and rooms once, at start.
func escaped(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	q := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	return string(q[1 : len(q)-1])
}
