package demo

// The demo's vocabulary. Each table is a constant holding one entry per
// line, so the package has no mutable package-level state; newGenerator
// splits and pre-escapes them once per Server.
//
// Chat lines are templates. Placeholders are replaced when a message is
// generated:
//
//	{user}  another user's nickname    {order} an order number
//	{n}     a small number             {emoji} an emoji
//	{room}  a room name                {time}  a clock time (HH:MM)
//	{price} a price in yuan

// chatPhrasesZH are Chinese chat lines.
const chatPhrasesZH = `大家好！
有人在吗？
今天天气不错，适合出去走走
重要：今晚 {time} 系统维护，请提前保存数据
紧急！订单 {order} 支付失败，请尽快处理
我的订单 {order} 什么时候发货？
客服在吗？订单 {order} 一直显示待发货
谢谢大家的帮助 {emoji}
哈哈哈哈哈哈
笑死我了 {emoji}{emoji}
这个问题我也遇到过，重启一下就好了
有没有人一起开黑？
今晚几点开始？
{user} 你好呀 {emoji}
@{user} 看一下私信
收到，马上处理
好的，明白了
刚下班，累死了
周末有什么安排？
这家店的奶茶真好喝
推荐一部好看的电影吧
我觉得这个方案还可以再优化一下
紧急通知：{n} 号服务器节点异常，正在排查
重要的事情说三遍！重要的事情说三遍！重要的事情说三遍！
已经反馈给技术同事了，请耐心等待
麻烦提供一下订单号，我帮您查一下
退款已经处理，预计 {n} 个工作日内到账
价格是 {price}，包邮
这个多少钱？
有优惠券吗？
今天的抽奖谁中了？
恭喜 {user} 获得一等奖 {emoji}
新版本什么时候上线？
晚上吃什么好呢
楼上说得对
+1
同问
我也想知道
这波操作太秀了 {emoji}
有人知道怎么退货吗？
地址填错了，能改吗？订单号 {order}
快递 {n} 天了还没到
已经签收了，谢谢
这个群好热闹啊
新人报到，请多关照
欢迎新朋友 {emoji}
大佬带带我
我先去吃饭了，回来再聊
晚安各位 {emoji}
早上好！
今天也要加油鸭 {emoji}
这个 bug 复现不了
刚才网络断了，现在好了
消息发不出去是怎么回事？
卡了，重连一下
服务器是不是挂了？
页面一直在转圈
{room} 里有人吗？
我在 {room} 等你
这周的活动规则是什么？
积分怎么兑换？
会员到期了，续费有折扣吗？
发票怎么开？
他说 "明天见"，结果今天就来了
路径是 C:\Users\admin\下载，找不到文件
请勿刷屏，谢谢配合
禁止发广告，违者踢出
重要：请不要把验证码告诉任何人
紧急：发现异常登录，请立即修改密码
系统升级后数据还在吗？
我的账号被盗了怎么办？
这个功能在哪里设置？
找到了，在设置里面
截图发一下看看
图片加载不出来
视频卡成 PPT 了
今天排位连跪 {n} 把 {emoji}
终于上王者了 {emoji}
有没有人组队打副本？
这个装备怎么合成？
氪金 {price} 还没抽到
欧皇附体 {emoji}
非酋本酋
明天早上 {time} 开会，别迟到
需求又改了……
代码已经提交了，帮忙 review 一下
测试环境挂了，谁动了配置？
上线前再回归一遍
今天的日报写了吗
老板来了，快散
摸鱼被抓了 {emoji}
奶茶到了，{user} 请客
生日快乐 {user}！{emoji}{emoji}
中秋节快乐！
新年快乐，万事如意
好久不见，最近怎么样？
这个价格还能再便宜点吗？
亲，{price} 已经是最低价了哦
库存还有 {n} 件
已下单，订单号 {order}
物流单号发我一下
这个颜色有现货吗？
尺码偏大还是偏小？
质量怎么样？
好评！下次还来 {emoji}
差评，客服态度太差了
已经帮您升级处理了
稍等，我查一下
抱歉让您久等了
请问还有其他问题吗？
问题已解决，谢谢客服
这个回答很有帮助
能不能再详细说说？
我不太懂，能举个例子吗？
原来如此！
学到了 {emoji}
`

// chatPhrasesEN are English chat lines.
const chatPhrasesEN = `hello everyone!
hi all
hey {user}, how's it going?
good morning :)
anyone here?
brb
lol
that's hilarious {emoji}
same here
+1
agreed
I don't think so
can someone help me with order {order}?
my order {order} still hasn't shipped
refund for {order} was approved, thanks!
where is my package? it's been {n} days
the tracking number doesn't work
is support online?
IMPORTANT: maintenance tonight at {time}
URGENT: payment gateway is down, please check
urgent - need a manager in {room}
please don't spam the chat
no ads please
welcome aboard {user}! {emoji}
thanks for the help {emoji}
np!
see you tomorrow
good night folks
what time does the event start?
it starts at {time}
how much is it? I see {price}
is there a discount code?
just ordered, order number {order}
can I change my shipping address?
the app keeps crashing on startup
did you try turning it off and on again?
works for me
can't reproduce on my side
the page is stuck loading
I got error {n}, any idea?
server lag is terrible right now
ping is {n}ms, unplayable
gg wp
anyone up for a raid?
need one more for the team
just hit level {n}! {emoji}
that boss fight was insane
who's streaming tonight?
link please
check the pinned message
read the FAQ first
meeting moved to {time}
standup in 5 minutes
PR is up, please review
deployed to staging
rollback! rollback!
tests are green {emoji}
who broke the build?
coffee time {emoji}
lunch?
I'm back
afk for a bit
happy birthday {user}! {emoji}{emoji}
congrats on the new job!
that's awesome news
sorry, my bad
no worries
how do I reset my password?
never share your verification code with anyone
I think my account was hacked
got it, thanks
makes sense now
could you explain that again?
for example?
TIL {emoji}
quick question: does this support dark mode?
feature request: export to CSV
bug report: search returns nothing for "test"
she said "see you at {time}" and left
path is /home/user/downloads, file not found
the price went up to {price}
out of stock again
restocked! {n} left
5 stars, would buy again
1 star, never arrived
escalated to tier 2 support
please hold on a moment
sorry for the wait
is there anything else I can help with?
issue resolved, closing the ticket
`

// chatPhrasesMixed are code-switching lines, as in many real Chinese chats.
const chatPhrasesMixed = `hello 大家好
OK 收到
订单 {order} 还没发货，help!
urgent 紧急：线上出 bug 了
这个 feature 什么时候上线？
PR 提了，帮忙 review 一下
deploy 完了，大家测一下
今天的 meeting 改到 {time}
{user} 的 PPT 做完了吗？
这个 API 返回 500 了
log 里面全是 error
CPU 100% 了，谁在跑 job？
重要 notice：明天放假
thanks 老铁 {emoji}
Good night 晚安 {emoji}
这个 app 好用吗？
iPhone 还是 Android？
WiFi 密码是多少？
我的 VIP 过期了
有没有 discount code？
price 是 {price}，还行
打 boss 需要几个人？
今晚 rank 吗？
GG，下一把
666666
yyds {emoji}
这个 idea 不错
先 mark 一下
你 get 到我的点了吗？
check 一下 {room} 的公告
order {order} 退款 pending 中
客服 reply 好慢啊
email 已经发了，查收一下
zoom 链接发一下
周五 happy hour 走起 {emoji}
这个 UI 设计太丑了
bug 已修复，请更新到 v{n}.0
Q{n} 的 KPI 完成了吗
OKR 写好了吗
我先 offline 了
brb 去拿个快递
hhhhh 太真实了
emmm 我想想
所以 conclusion 是什么？
let's 开始吧
sorry 刚看到
nice! {emoji}
紧急 hotfix 已经上线
重要 update：请清除缓存后重试
login 不上去，提示 token expired
`

// systemPhrases are contents of "system" messages.
const systemPhrases = `欢迎来到聊天室 / welcome
请文明发言，禁止广告 / be nice, no ads
系统将于 {time} 进行维护 / maintenance at {time}
当前在线人数 {n} / {n} users online
公告：新版本已发布 / announcement: new version released
提示：请勿泄露验证码 / tip: never share verification codes
房间 {room} 已开放 / room {room} is open
服务器已恢复正常 / service restored
`

// nicknames are the simulated users' names. When Options.Users exceeds the
// list, names are reused with a numeric suffix.
const nicknames = `小明
小红
阿强
老王
张伟
李娜
王芳
刘洋
陈静
杨帆
赵磊
黄敏
打工人007
快乐小猫
夜猫子
咸鱼翻身
吃瓜群众
路人甲
小仙女
程序猿
产品汪
客服小美
技术支持-阿杰
月光宝盒
风清扬
alice
bob
charlie
dave
eve
frank_w
grace.h
heidi
ivan99
judy
oscar
peggy
victor
night_owl
coffee_lover
devops_dan
xX_gamer_Xx
Tom & Jerry
Kevin王
Lily_Chen
ZhangWei_SH
Tommy李
Mia🌸
`

// rooms are the chat rooms messages are posted in.
const rooms = `lobby
support
游戏大厅
技术交流
random
闲聊灌水
`

// emojis fill {emoji}.
const emojis = `😀
😂
🤣
😅
😭
😎
🥳
👍
👏
🙏
🎉
🔥
💯
❤️
🐶
🍵
🚀
✅
❌
⚠️
`
