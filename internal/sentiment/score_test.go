package sentiment

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestDefaultLexicon(t *testing.T) {
	l := Default()
	if l.Terms() < 1000 {
		t.Fatalf("embedded lexicon has %d terms", l.Terms())
	}
}

// TestScoreRules holds each rule of Score to one example: the label it
// gives, and where two texts are compared, which is stronger.
func TestScoreRules(t *testing.T) {
	cases := []struct {
		text string
		want Label
	}{
		{"", Neutral},
		{"the order number is 12345", Neutral},
		{"good", Positive},
		{"GOOD", Positive},
		{"ｇｏｏｄ", Positive},     // full-width
		{"not good", Negative}, // negator
		{"not bad", Positive},  // phrase
		{"I don’t like it", Negative},
		{"no lag at all today", Positive},                          // negated negative
		{"now it loads", Neutral},                                  // "no" is not found in "now"
		{"goodness me", Neutral},                                   // nor "good" in "goodness"
		{"the agent was nice but it still doesn't work", Negative}, // contrast
		{"it crashed twice but support fixed it fast, thanks", Positive},
		{"不错", Positive}, // 不 inside a word of its own
		{"不好", Negative},
		{"很不好", Negative},
		{"一点都不好玩", Negative},
		{"不用担心", Positive},
		{"不好意思，我想问一下", Neutral},
		{"好卡啊", Negative}, // 好 as "so"
		{"好开心", Positive},
		{"菜单在哪里", Neutral}, // 菜 is not "noob" in 菜单
		{"别人的账号", Neutral},
		{"谢谢客服👍", Positive},
		{"👍🏻", Positive}, // skin tone ignored
		{"❤️", Positive}, // variation selector ignored
		{"😡😡", Negative},
		{"not 😊", Positive}, // emoji are never negated
		{"ok :(", Negative},
		{"[强][强]", Positive},
		{"这个update太buggy了", Negative}, // mixed
		{"游戏很好玩but服务器太卡", Negative},
	}
	for _, c := range cases {
		s, got := Score(c.text)
		if got != c.want {
			t.Errorf("Score(%q) = %.3f %v, want %v", c.text, s, got, c.want)
		}
		if s < -1 || s > 1 {
			t.Errorf("Score(%q) = %v, outside [-1, 1]", c.text, s)
		}
	}
	stronger := [][2]string{ // |first| > |second|, same sign
		{"very good", "good"},
		{"good", "a bit good"},
		{"bad", "not good"},
		{"很不好", "不是很好"},
		{"great!!!", "great"},
		{"太好了", "还行"},
		{"垃圾游戏", "有点慢"},
	}
	for _, p := range stronger {
		a, _ := Score(p[0])
		b, _ := Score(p[1])
		if a*b <= 0 || abs(a) <= abs(b) {
			t.Errorf("Score(%q) = %.3f, Score(%q) = %.3f: want the first stronger, same sign", p[0], a, p[1], b)
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestParseLexiconErrors(t *testing.T) {
	base := map[string]string{}
	for _, k := range lexiconKinds {
		base[k.file] = ""
	}
	for _, c := range []struct{ file, text, want string }{
		{"words_en.txt", "good\n", "needs a weight"},
		{"words_en.txt", "good 9\n", "outside"},
		{"words_en.txt", "good 1\ngood 2\n", "already"},
		{"emoji.txt", "good 1\n", ""}, // alone it is fine
		{"intensifiers.txt", "good 0.5\n", "outside"},
		{"contrast.txt", "but\n", ""},
		{"words_en.txt", "thank  you 2\n", "one space"},
	} {
		fsys := fstest.MapFS{}
		for name, text := range base {
			fsys[name] = &fstest.MapFile{Data: []byte(text)}
		}
		fsys[c.file] = &fstest.MapFile{Data: []byte(c.text)}
		_, err := ParseLexicon(fsys)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s %q: err = %v, want %q", c.file, c.text, err, c.want)
		}
	}
	// A word that is also a modifier is allowed, an emoji that is also a
	// word is not.
	fsys := fstest.MapFS{}
	for name := range base {
		fsys[name] = &fstest.MapFile{}
	}
	fsys["words_en.txt"] = &fstest.MapFile{Data: []byte("damn -1\n")}
	fsys["intensifiers.txt"] = &fstest.MapFile{Data: []byte("damn 1.5\n")}
	if _, err := ParseLexicon(fsys); err != nil {
		t.Errorf("word and modifier: %v", err)
	}
	fsys["emoji.txt"] = &fstest.MapFile{Data: []byte("damn -1\n")}
	if _, err := ParseLexicon(fsys); err == nil {
		t.Errorf("word and emoji: no error")
	}
}

func TestScoreAllocatesNothing(t *testing.T) {
	Default()
	for _, text := range benchLines {
		if n := testing.AllocsPerRun(100, func() { Score(text) }); n != 0 {
			t.Errorf("Score(%q): %v allocations", text, n)
		}
	}
}

// benchLines are typical chat lines of about 40 characters.
var benchLines = []string{
	"客服你好，我的订单三天了还没发货，能不能帮忙查一下物流情况啊，太慢了😤", // 37 runes
	"the new patch is really laggy, I got disconnected twice in one match :(",
	"哈哈哈这把打得太爽了，队友都是大神，gg wp 下把继续冲👍",
}

func BenchmarkScore(b *testing.B) {
	for _, name := range []string{"zh", "en", "mixed"} {
		text := benchLines[map[string]int{"zh": 0, "en": 1, "mixed": 2}[name]]
		b.Run(name, func(b *testing.B) {
			Default()
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				Score(text)
			}
		})
	}
}

func TestLexiconSubmit(t *testing.T) {
	var got Result
	var s Scorer = Default()
	s.Submit("太棒了", func(r Result) { got = r })
	if want, _ := Score("太棒了"); got.Score != want || got.Label != Positive || got.Source != FromLexicon {
		t.Errorf("Submit: %+v", got)
	}
}
