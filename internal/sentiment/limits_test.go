package sentiment

import "testing"

// TestDocumentedLimits holds the scorer to what docs/analysis.md says it
// gets wrong, so the page stays true: when one of these changes, change
// the page.
func TestDocumentedLimits(t *testing.T) {
	for _, c := range []struct {
		text string
		want Label
		why  string
	}{
		{"great, another bug", Positive, "sarcasm is read literally"},
		{"another bug, great... 🙄", Negative, "bug and 🙄 together outweigh great"},
		{"I don't think this is good", Negative, "a negator reaches 4 tokens ahead"},
		{"别刷屏了", Positive, "别 with a negative word reads as a double negative"},
		{"好友善", Neutral, "longest match takes 好友 (friend)"},
		{"is it free?", Positive, "questions are scored like statements"},
		{"这就是你们的服务态度？", Neutral, "a complaint made only by a question"},
		{"the food was cold and soggy", Neutral, "words it does not list score nothing"},
		{"gooood", Neutral, "elongations are unknown words"},
		{"afk", Neutral, "afk scores nothing"},
		{"银行卡", Neutral, "卡 alone is not lag"},
	} {
		if _, got := Score(c.text); got != c.want {
			t.Errorf("Score(%q) = %v, docs/analysis.md says %v (%s)", c.text, got, c.want, c.why)
		}
	}
	if n := Default().Terms(); n < 1250 || n > 1350 {
		t.Errorf("the lexicon has %d terms; docs/analysis.md says about 1,300", n)
	}
}
