package terms

import (
	"slices"
	"strings"
	"testing"
)

func TestTokenize(t *testing.T) {
	plain, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	phrases, err := New(Options{Phrases: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tk   *Tokenizer
		in   string
		want []string
	}{
		{"zh", plain, "今天天气不错，适合出去走走", []string{"天气", "不错", "适合", "出去", "走走"}},
		{"zh chat words", plain, "客服在吗？我的快递一直没到，要退款", []string{"客服", "快递", "退款"}},
		{"zh stop words and single characters", plain, "我们已经在这里了吧", nil},
		{"en lower-cased", plain, "Hello World, the SERVER is DOWN again!", []string{"hello", "world", "server", "down"}},
		{"en apostrophes", plain, "Don't panic, it’s John's fault", []string{"panic", "john's", "fault"}},
		{"full-width", plain, "ＧＯＯＤ　Ｊｏｂ", []string{"good", "job"}},
		{"mixed", plain, "hello 大家好，新版本 v2 上线了 bug 很多", []string{"hello", "新版本", "v2", "上线", "bug"}},
		{"urls", plain, "看看 https://Example.com/a/b?x=1&y=2 和 www.test.cn/x 链接http://t.cn/abc下载", []string{"链接", "下载"}},
		{"mention", plain, "@小明 看一下私信 @bob_99 ping", []string{"私信", "ping"}},
		{"emoji", plain, "🔥🔥 火锅 😂 nice👍", []string{"火锅", "nice"}},
		{"numbers", plain, "12345 3.14 E1234567890 13800138000 ps5 4k 2fa", []string{"ps5", "4k", "2fa"}},
		{"punctuation only", plain, "!!!???。。。……——~~ ~", nil},
		{"empty", plain, "", nil},
		{"junk word", plain, strings.Repeat("a", maxTermBytes+1) + " ok", nil},
		{"phrases zh", phrases, "订单支付失败，服务器节点异常", []string{"订单", "支付失败", "订单支付失败", "服务器", "节点", "服务器节点", "异常", "节点异常"}},
		{"phrases en", phrases, "refund failed, refund failed again", []string{"refund", "failed", "refund failed", "refund", "failed", "refund failed"}},
		{"phrases broken by stop words", phrases, "server is down", []string{"server", "down"}},
		{"phrases mixed", phrases, "新版本 bug", []string{"新版本", "bug", "新版本 bug"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.tk.Tokenize(tc.in)
			if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("Tokenize(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestOperatorStop(t *testing.T) {
	tk, err := New(Options{Phrases: true, Stop: []string{"WSMON", "订单", "refund failed", "  支付 失败 "}})
	if err != nil {
		t.Fatal(err)
	}
	got := tk.Tokenize("wsmon refund failed 订单 服务器 refund")
	want := []string{"refund", "failed", "服务器", "refund", "服务器 refund"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	// "支付 失败" stops the phrase 支付失败 (one word in the dictionary).
	if got := tk.Tokenize("支付失败"); len(got) != 0 {
		t.Errorf("支付失败: got %q", got)
	}
	if _, err := New(Options{Stop: []string{"one two three"}}); err == nil {
		t.Error("a three-word stop entry: no error")
	}
	// An entry that is never a term is accepted and does nothing.
	if _, err := New(Options{Stop: []string{"123", "的", "!!!"}}); err != nil {
		t.Error(err)
	}
}

func TestAppendAllocatesNothing(t *testing.T) {
	tk, err := New(Options{Phrases: true})
	if err != nil {
		t.Fatal(err)
	}
	var ts Terms
	line := "客服在吗？订单 E9449103790 一直显示待发货 Refund FAILED again 😂 https://x.cn/a"
	tk.Append(&ts, line)
	if a := testing.AllocsPerRun(100, func() { ts.Reset(); tk.Append(&ts, line) }); a != 0 {
		t.Errorf("Append: %.1f allocations", a)
	}
}

// TestEmbeddedLists checks the embedded lists load and hold what their
// comments say: stop words that the tokenizer would produce.
func TestEmbeddedLists(t *testing.T) {
	d, err := loadDict()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.m) < 60000 {
		t.Errorf("dictionary: %d entries", len(d.m))
	}
	for _, w := range []string{"客服", "微信", "开黑", "订单"} {
		if !d.m[w].word {
			t.Errorf("%s is not in the dictionary", w)
		}
	}
	stops, err := loadStop()
	if err != nil {
		t.Fatal(err)
	}
	if len(stops) < 300 {
		t.Errorf("%d stop words", len(stops))
	}
}
