package sentiment

import (
	"encoding/json"
	"math"
	"path/filepath"
	"testing"
)

// FuzzScore: any text scores in [-1, 1] with the label of its score, the
// same every time, and the same whatever the case of its ASCII letters or
// the variation selectors after it.
func FuzzScore(f *testing.F) {
	for _, name := range []string{"en", "zh"} {
		for _, c := range readLabelled(f, filepath.Join("testdata", name+".tsv")) {
			f.Add(c.text)
		}
	}
	for _, s := range []string{"", "\xff\xfe", "not", "不", "好", "but", ":", "a'", "'a", "\u200d", "好好好好好好好好好好", "!!!!!!!!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, l := Score(text)
		if math.IsNaN(s) || s < -1 || s > 1 {
			t.Fatalf("Score(%q) = %v", text, s)
		}
		if l != LabelOf(s) {
			t.Fatalf("Score(%q) = %v %v: label is not LabelOf(score)", text, s, l)
		}
		if s2, _ := Score(text); s2 != s {
			t.Fatalf("Score(%q) = %v, then %v", text, s, s2)
		}
		up := []byte(text)
		for i, c := range up {
			if 'a' <= c && c <= 'z' {
				up[i] = c - ('a' - 'A')
			}
		}
		if s2, _ := Score(string(up)); s2 != s {
			t.Fatalf("Score(%q) = %v, Score(%q) = %v", text, s, up, s2)
		}
		if s2, _ := Score(text + "\ufe0f"); s2 != s {
			t.Fatalf("Score(%q) = %v, with a variation selector after it %v", text, s, s2)
		}
	})
}

// FuzzParseResponse: any body either fails or gives exactly n results in
// range, which encode back to a body that parses to the same results.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		`{"scores":[{"score":0.5,"label":"pos"}]}`,
		`{"scores":[{"score":-1},{"score":1,"label":"neu"}]}`,
		`{"scores":[]}`,
		`{"scores":null}`,
		`{"scores":[{"score":1e400}]}`,
		`{"scores":[{"score":-0}]}`,
		`{"scores":[{"score":0.1,"label":"pos","x":{"y":[1,2]}}],"model":"m"}`,
		`[]`, `null`, ``, `{"scores":[{"score":0.5}`,
	} {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, n uint8) {
		res, err := ParseResponse(data, int(n))
		if err != nil {
			if res != nil {
				t.Fatalf("error %v with results", err)
			}
			return
		}
		if len(res) != int(n) {
			t.Fatalf("%d results for %d texts", len(res), n)
		}
		type score struct {
			Score float64 `json:"score"`
			Label Label   `json:"label"`
		}
		var back struct {
			Scores []score `json:"scores"`
		}
		back.Scores = []score{}
		for _, r := range res {
			if math.IsNaN(r.Score) || r.Score < -1 || r.Score > 1 || r.Source != FromRemote || r.Label < Negative || r.Label > Positive {
				t.Fatalf("result %+v from %q", r, data)
			}
			back.Scores = append(back.Scores, score{r.Score, r.Label})
		}
		body, err := json.Marshal(back)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseResponse(body, int(n))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		for i := range res {
			if again[i] != res[i] {
				t.Fatalf("%s: %+v, first %+v", body, again[i], res[i])
			}
		}
	})
}
