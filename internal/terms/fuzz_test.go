package terms

import (
	"bytes"
	"hash/crc32"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzTokenize: any text tokenizes without panic into non-empty, valid
// UTF-8, lower-case terms that are not stop words, no longer than a
// phrase of two words of maxTermBytes, and the same each time.
func FuzzTokenize(f *testing.F) {
	for _, s := range []string{
		"今天天气不错，适合出去走走", "Hello World! don't", "https://x.cn/a 链接", "@小明 hi", "ＧＯＯＤ 👍 666",
		"订单支付失败", "a'b'c''d ' '", "\xff\xfe 坏", strings.Repeat("哈", 200), "İSTANBUL ǅ", "x\u0301y",
	} {
		f.Add(s)
	}
	tk, err := New(Options{Phrases: true, Stop: []string{"refund failed"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := tk.Tokenize(s)
		for _, w := range got {
			if w == "" || !utf8.ValidString(w) || len(w) > maxSavedTerm {
				t.Fatalf("%q: bad term %q", s, w)
			}
			if _, stop := tk.stop[w]; stop {
				t.Fatalf("%q: stop word %q kept", s, w)
			}
			for _, r := range w {
				if unicode.IsUpper(r) && unicode.ToLower(r) != r && foldRune(r) != r {
					t.Fatalf("%q: term %q not folded", s, w)
				}
			}
		}
		if again := tk.Tokenize(s); strings.Join(again, "\x00") != strings.Join(got, "\x00") {
			t.Fatalf("%q: %q then %q", s, got, again)
		}
	})
}

// FuzzState: any bytes either load or are refused with ErrState, and a
// state that loads saves and loads again to the same bytes. The checksum
// is fixed up first so the fuzzer reaches the decoder.
func FuzzState(f *testing.F) {
	tk, err := New(Options{Phrases: true})
	if err != nil {
		f.Fatal(err)
	}
	c := NewCounter(CounterOptions{All: 32, Room: 8, PastAll: 16, PastRoom: 4, Days: 4})
	var ts Terms
	for i, line := range []string{"服务器 卡顿", "refund failed", "服务器 掉线", "hello world"} {
		ts.Reset()
		tk.Append(&ts, line)
		c.Add(Day(100+i), []string{"", "lobby", "游戏大厅"}[i%3], &ts)
	}
	good, _ := c.MarshalBinary()
	f.Add(good)
	empty, _ := NewCounter(CounterOptions{}).MarshalBinary()
	f.Add(empty)
	f.Add([]byte("WSTM\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) >= len(stateMagic)+1+4 {
			b = withChecksum(b)
		}
		c := NewCounter(CounterOptions{All: 32, Room: 8, PastAll: 16, PastRoom: 4, Days: 4, Rooms: 2})
		if err := c.UnmarshalBinary(b); err != nil {
			if !strings.Contains(err.Error(), ErrState.Error()) {
				t.Fatalf("error %v does not wrap ErrState", err)
			}
			return
		}
		saved, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		c2 := NewCounter(c.opt)
		if err := c2.UnmarshalBinary(saved); err != nil {
			t.Fatalf("a saved state does not load: %v", err)
		}
		if again, _ := c2.MarshalBinary(); !bytes.Equal(saved, again) {
			t.Fatal("saved state changed through a load")
		}
		for _, dc := range c.days {
			for _, s := range append([]*summary{dc.all}, mapValues(dc.rooms)...) {
				if err := s.check(); err != nil {
					t.Fatal(err)
				}
			}
		}
		st := c.Stats()
		if st.Days > 4 || st.Entries > 4*(32+2*8) {
			t.Fatalf("loaded past the options: %+v", st)
		}
		// What loaded can be ranked and counted on.
		for d := st.Newest - 4; d <= st.Newest; d++ {
			c.Trending(d, "", 10)
			c.Trending(d, "lobby", 10)
		}
		ts := Terms{}
		tk.Append(&ts, "服务器 卡顿")
		c.Add(st.Newest, "lobby", &ts)
	})
}

func withChecksum(b []byte) []byte {
	b = bytes.Clone(b)
	body := b[:len(b)-4]
	sum := crc32.ChecksumIEEE(body)
	b[len(b)-4], b[len(b)-3], b[len(b)-2], b[len(b)-1] = byte(sum), byte(sum>>8), byte(sum>>16), byte(sum>>24)
	return b
}

func mapValues(m map[string]*summary) []*summary {
	var out []*summary
	for _, s := range m {
		out = append(out, s)
	}
	return out
}
