// Package bench owns `wsmon bench`: a deterministic synthetic chat corpus
// (Chinese and English, Zipf-distributed users and words), ingestion of it
// through the real pipeline (journal, ingest, SQLite store, indexer), a
// fixed mix of search queries and statistics requests, and a report of
// throughput, latency percentiles, size and memory.
package bench

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/wsmon/wsmon/internal/jsontok"
)

var zhWords = strings.Fields(`你好 谢谢 订单 发货 退款 客服 紧急 重要 问题 已经 今天 明天 晚上 游戏 王者 开黑 组队 队友 上分 
	掉线 卡顿 服务器 维护 更新 活动 奖励 充值 价格 优惠 快递 物流 地址 电话 账号 密码 登录 注册 验证码 
	好的 收到 马上 稍等 处理 解决 反馈 投诉 建议 感谢 抱歉 不好意思 没问题 可以 不行 为什么 怎么 什么 
	时候 哪里 多少 一起 大家 朋友 老板 同学 老师 工作 下班 吃饭 睡觉 周末 假期 天气 下雨 太阳 开心 
	难过 哈哈 厉害 牛 加油 冲 稳 赢了 输了 再来 一把 等等 快点 慢点 小心 注意 通知 公告 系统 消息 
	机器人 人工 智能 模型 回答 提问 翻译 代码 测试 上线 发布 版本 功能 界面 手机 电脑 网络 信号 
	红包 转账 支付 微信 支付宝 银行卡 发票 合同 会议 项目 进度 计划 目标 数据 报表 分析 用户 客户`)

var enWords = strings.Fields(`hello hi thanks order shipped refund support urgent important issue already today tomorrow
	tonight game rank team play lag server maintenance update event reward price discount delivery address
	phone account password login code ok sure wait please help fix bug report feedback sorry problem yes no
	why how what when where many together everyone friend boss work lunch dinner sleep weekend holiday weather
	rain sun happy sad lol nice great good bad win lose again quick slow careful notice system message bot
	model answer question translate deploy release version feature screen mobile network signal payment
	invoice meeting project progress plan goal data report analysis user customer the a an is are was to of
	and in on for with it this that you we they i me my your our`)

var emojis = []string{"👍", "😂", "🎉", "🙏", "🔥", "✅", "❤️", "🤔"}

var syllables = strings.Fields(`xiao ming hong li wang zhang chen liu yang zhao huang zhou wu xu sun ma zhu hu guo he
	lin luo gao zheng liang song tang han feng deng cao peng zeng xiao tian dong pan yuan cai jiang yu du ye cheng wei su lv ding ren lu yao shen zhong jiang cui tan`)

var zhNames = strings.Fields(`小明 小红 张伟 王芳 李娜 刘洋 陈静 杨帆 赵磊 黄敏 周杰 吴昊 徐丽 孙强 马超 朱琳 胡斌 郭靖 何欢 林峰`)

// Corpus generates a deterministic stream of chat frames.
type Corpus struct {
	rng   *rand.Rand
	users *rand.Zipf
	words *rand.Zipf
	vocab []string
	names []string
	rooms []string
	seq   int64
	ts    int64
	buf   []byte
	// longest is the longest content among the first 100,000 messages
	// (a long query that is present).
	longest string
}

// NewCorpus returns a corpus; the same seed gives the same frames (ids,
// users, text; timestamps advance from start by a fixed step).
func NewCorpus(seed uint64, users int, startMs int64) *Corpus {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	c := &Corpus{rng: rng, ts: startMs}
	c.vocab = append(append([]string{}, zhWords...), enWords...)
	c.words = rand.NewZipf(rng, 1.1, 2, uint64(len(c.vocab)-1))
	c.users = rand.NewZipf(rng, 1.2, 5, uint64(users-1))
	names := make([]string, users)
	for i := range names {
		if i < len(zhNames) {
			names[i] = zhNames[i]
			continue
		}
		if i%3 == 0 {
			names[i] = zhNames[i%len(zhNames)] + strconv.Itoa(i)
		} else {
			names[i] = syllables[i%len(syllables)] + "_" + syllables[(i/7)%len(syllables)] + strconv.Itoa(i)
		}
	}
	c.names = names
	c.rooms = []string{"lobby", "support", "游戏大厅", "random", "闲聊灌水", "vip", "tech", "news"}
	return c
}

// Next returns the next frame (valid until the next call), its user and its
// content. Messages are 80% chat, the rest join/leave/system.
func (c *Corpus) Next() (frame []byte) {
	c.seq++
	c.ts += 1 + int64(c.rng.IntN(20)) // a few ms apart
	user := c.names[c.users.Uint64()]
	room := c.rooms[c.rng.IntN(len(c.rooms))]
	typ := "chat"
	var content string
	switch r := c.rng.IntN(100); {
	case r < 80:
		content = c.sentence()
	case r < 88:
		typ, content = "join", user+" 加入了房间 joined"
	case r < 96:
		typ, content = "leave", user+" 离开了房间 left"
	default:
		typ, user, content = "system", "", "系统通知 system notice #"+strconv.Itoa(c.rng.IntN(1000))
	}
	if c.seq <= 100_000 && len(content) > len(c.longest) {
		c.longest = content
	}
	b := c.buf[:0]
	b = append(b, `{"id":"m-`...)
	b = strconv.AppendInt(b, c.seq, 10)
	b = append(b, `","type":"`...)
	b = append(b, typ...)
	b = append(b, `","user":`...)
	b = jsontok.AppendString(b, user)
	b = append(b, `,"room":`...)
	b = jsontok.AppendString(b, room)
	b = append(b, `,"content":`...)
	b = jsontok.AppendString(b, content)
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, c.ts, 10)
	b = append(b, '}')
	c.buf = b
	return b
}

func (c *Corpus) sentence() string {
	n := 3 + c.rng.IntN(12)
	var sb strings.Builder
	for i := 0; i < n; i++ {
		w := c.vocab[c.words.Uint64()]
		if i > 0 && (w[0] < 0x80 || c.rng.IntN(3) == 0) {
			sb.WriteByte(' ')
		}
		sb.WriteString(w)
		switch c.rng.IntN(40) {
		case 0:
			sb.WriteString(emojis[c.rng.IntN(len(emojis))])
		case 1:
			fmt.Fprintf(&sb, " #%d", c.rng.IntN(100000))
		case 2:
			sb.WriteString("！")
		case 3:
			sb.WriteString("?")
		}
	}
	return sb.String()
}

// Vocabulary returns every word the corpus uses (for query generation).
func Vocabulary() []string {
	return append(append(append([]string{}, zhWords...), enWords...), emojis...)
}
