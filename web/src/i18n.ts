// UI strings in English and Chinese. Every visible string goes through t();
// the language comes from localStorage (the navbar switch) or
// navigator.language (zh* → Chinese).

const en = {
  'app.title': 'wsmon — WebSocket chat monitor',
  'nav.dashboard': 'Dashboard',
  'nav.search': 'Search',
  'nav.sessions': 'Sessions',
  'nav.switch': '中文',
  'nav.switchTitle': 'Switch language',
  'nav.menu': 'Menu',

  'nav.logout': 'Log out',
  'nav.logoutFailed': 'Logging out failed: {msg}',

  'health.title': 'Ingest',
  'health.duplicates': 'Duplicates dropped: {n}',
  'health.duplicatesTitle': 'Replays of messages already stored (such as history a server sends again after a reconnect)',
  'health.idCollisions': 'Id collisions: {n}',
  'health.idCollisionsTitle': 'Messages reusing the id of another message with other content; they are stored too',
  'health.corrupt': 'Corrupt journal records skipped: {n}',
  'health.corruptTitle': '{bytes} skipped when the journal was opened, kept in journal/quarantine/',
  'health.dropped': 'Frames dropped: {n}',
  'health.droppedTitle': '{bytes} not kept: the journal could not write to disk and its memory limit was reached',
  'health.pending': 'Waiting for the disk: {bytes}',
  'health.bannerSince': 'Disk writes failing since {time}: {error}.',
  'health.bannerNoSince': 'Disk writes failing: {error}.',
  'health.bannerHeld': '{pending} held in memory (limit {limit}); {n} frames dropped.',
  'health.bannerHeldNoLimit': '{pending} held in memory; {n} frames dropped.',

  'common.loading': 'Loading…',
  'common.error': 'Error: {msg}',
  'common.retry': 'Retry',
  'common.none': '—',
  'common.all': 'All',
  'common.empty': '(empty)',
  'common.close': 'Close',
  'common.apply': 'Apply',
  'common.reset': 'Reset',
  'common.notFound': 'Page not found.',
  'common.backHome': 'Back to the dashboard',
  'common.network': 'Cannot reach the wsmon server.',

  'card.total': 'Total messages',
  'card.active': 'Active users (24 h)',
  'card.today': "Today's messages",
  'card.status': 'Monitor status',
  'card.noTargets': 'No targets configured.',
  'status.since': 'Since {time}',
  'status.reconnects': 'Reconnects: {n}',
  'status.lastMessage': 'Last message: {time}',
  'status.lastError': 'Last error: {err}',
  'state.connected': 'connected',
  'state.connecting': 'connecting',
  'state.reconnecting': 'reconnecting',
  'state.disconnected': 'disconnected',
  'state.stopped': 'stopped',
  'state.error': 'error',

  'chart.daily': 'Daily messages (30 days)',
  'chart.hourly': 'Messages by hour',
  'chart.hourlyTz': 'Messages by hour ({tz})',
  'chart.messages': 'Messages',
  'chart.hour': '{h}:00',
  'chart.topUsers': 'Most active users',
  'chart.noUsers': 'No messages yet.',

  'live.title': 'Live messages',
  'live.user': 'User',
  'live.type': 'Type',
  'live.target': 'Target',
  'live.pause': 'Pause',
  'live.resume': 'Resume',
  'live.newCount': '{n} new',
  'live.state.connecting': 'connecting',
  'live.state.live': 'live',
  'live.state.reconnecting': 'reconnecting',
  'live.state.paused': 'paused',
  'live.state.offline': 'offline',
  'live.dropped': 'The server skipped {n} message(s) because this page could not keep up. Search shows everything that was stored.',
  'live.empty': 'Waiting for messages…',
  'live.showing': 'Showing the latest {n} (at most {max}).',

  'type.chat': 'chat',
  'type.system': 'system',
  'type.join': 'join',
  'type.leave': 'leave',
  'type.other': 'other',
  'reason.too_large': 'too large',
  'reason.invalid_utf8': 'invalid UTF-8',
  'reason.bad_json': 'bad JSON',
  'reason.json_too_deep': 'JSON too deep',
  'reason.nul_bytes': 'NUL bytes',
  'reason.binary': 'binary',
  'msg.sentAt': 'Sent at {time}',
  'msg.receivedAt': 'Received at {time}',
  'msg.openUser': 'Open user page',
  'msg.openContext': 'Show context',

  'search.title': 'Search messages',
  'search.keyword': 'Keyword',
  'search.keywordPh': 'e.g. 紧急 or "exact phrase"',
  'search.user': 'User',
  'search.type': 'Type',
  'search.from': 'From',
  'search.to': 'To',
  'search.button': 'Search',
  'search.total': '{n} results',
  'search.totalEstimate': 'about {n} results',
  'search.browse': 'Latest messages matching the filters (no keyword).',
  'search.none': 'No messages found.',
  'search.more': 'Load more',
  'search.shown': '{n} shown',
  'search.hint': 'Enter a keyword or pick a filter, then search.',
  'search.badRange': '"From" must be before "To".',
  'search.export': 'Export',
  'search.exportTitle': 'Download every message these filters and this keyword select (all pages, newest first)',
  'search.exportFormat': 'Export format',

  'context.title': 'Message context',
  'context.hint': 'Messages around the selected one, oldest first.',

  'user.title': 'User {name}',
  'user.messages': 'Messages',
  'user.firstSeen': 'First seen',
  'user.lastSeen': 'Last seen',
  'user.hours': 'Activity by hour',
  'user.recent': 'Recent messages',
  'user.searchAll': 'Search all messages by this user',
  'user.notFound': 'No messages from this user.',

  'sessions.title': 'Connection sessions',
  'sessions.timeline': 'Timeline',
  'sessions.table': 'Sessions',
  'sessions.gaps': 'Gaps in coverage',
  'sessions.target': 'Target',
  'sessions.connected': 'Connected',
  'sessions.disconnected': 'Disconnected',
  'sessions.duration': 'Duration',
  'sessions.close': 'Close',
  'sessions.messages': 'Messages',
  'sessions.error': 'Error',
  'sessions.url': 'URL',
  'sessions.ongoing': 'connected now',
  'sessions.none': 'No sessions recorded.',
  'sessions.noGaps': 'No gaps.',
  'sessions.gapFrom': 'From',
  'sessions.gapTo': 'To',
  'sessions.gapLength': 'Length',
  'sessions.legendSession': 'connected',
  'sessions.legendGap': 'gap',
  'sessions.legendError': 'ended with an error',
  'sessions.barTitle': '{from} → {to} ({dur}), {n} messages',
  'sessions.gapTitle': 'Gap: {from} → {to} ({dur})',

  'nav.targets': 'Targets',
  'state.paused': 'paused',
  'state.refused': 'refused',
  'state.gave_up': 'gave up',
  'targets.title': 'Monitored targets',
  'targets.none': 'No targets.',
  'targets.name': 'Name',
  'targets.url': 'URL',
  'targets.protocol': 'Protocol',
  'targets.inUse': 'in use: {p}',
  'targets.state': 'State',
  'targets.source': 'Source',
  'targets.sourceConfig': 'config.json',
  'targets.sourceApi': 'added here',
  'targets.lastError': 'Last error',
  'targets.actions': 'Actions',
  'targets.pause': 'Pause',
  'targets.resume': 'Resume',
  'targets.retry': 'Retry',
  'targets.remove': 'Remove',
  'targets.confirmRemove': 'Remove target {name}? Its stored messages stay.',
  'targets.add': 'Add target',
  'targets.subscribe': 'Subscribe (one per line)',
  'targets.options': 'Options (JSON object)',
  'targets.badOptions': 'Options must be a JSON object.',
  'targets.added': 'Target {name} added.',
  'targets.readOnly': 'Targets are managed by the monitor process; this dashboard only shows them.',
  'targets.reconnects': 'Reconnects: {n}',

  'login.title': 'Sign in to wsmon',
  'login.token': 'Access token',
  'login.password': 'User and password',
  'login.tokenLabel': 'Token',
  'login.user': 'User',
  'login.pass': 'Password',
  'login.submit': 'Sign in',
  'login.failed': 'Sign-in failed: {msg}',

  'dur.d': '{n}d',
  'dur.h': '{n}h',
  'dur.m': '{n}m',
  'dur.s': '{n}s',
};

export type Key = keyof typeof en;

const zh: Record<Key, string> = {
  'app.title': 'wsmon — WebSocket 聊天监控',
  'nav.dashboard': '监控面板',
  'nav.search': '消息搜索',
  'nav.sessions': '连接记录',
  'nav.switch': 'English',
  'nav.switchTitle': '切换语言',
  'nav.menu': '菜单',

  'nav.logout': '退出登录',
  'nav.logoutFailed': '退出登录失败：{msg}',

  'health.title': '采集',
  'health.duplicates': '已丢弃重复消息：{n}',
  'health.duplicatesTitle': '已保存消息的重放（例如服务器在重连后重发的历史消息）',
  'health.idCollisions': 'ID 冲突：{n}',
  'health.idCollisionsTitle': '与另一条消息 ID 相同但内容不同的消息；它们也已保存',
  'health.corrupt': '已跳过损坏的预写日志记录：{n}',
  'health.corruptTitle': '打开预写日志时跳过了 {bytes}，保存在 journal/quarantine/ 中',
  'health.dropped': '已丢弃帧：{n}',
  'health.droppedTitle': '{bytes} 未能保存：预写日志无法写入磁盘，且已达到内存上限',
  'health.pending': '等待写入磁盘：{bytes}',
  'health.bannerSince': '自 {time} 起磁盘写入失败：{error}。',
  'health.bannerNoSince': '磁盘写入失败：{error}。',
  'health.bannerHeld': '内存中暂存 {pending}（上限 {limit}）；已丢弃 {n} 帧。',
  'health.bannerHeldNoLimit': '内存中暂存 {pending}；已丢弃 {n} 帧。',

  'common.loading': '加载中…',
  'common.error': '出错：{msg}',
  'common.retry': '重试',
  'common.none': '—',
  'common.all': '全部',
  'common.empty': '（空）',
  'common.close': '关闭',
  'common.apply': '应用',
  'common.reset': '重置',
  'common.notFound': '页面不存在。',
  'common.backHome': '返回监控面板',
  'common.network': '无法连接 wsmon 服务器。',

  'card.total': '消息总数',
  'card.active': '活跃用户（24 小时）',
  'card.today': '今日消息',
  'card.status': '监控状态',
  'card.noTargets': '未配置监控目标。',
  'status.since': '自 {time}',
  'status.reconnects': '重连次数：{n}',
  'status.lastMessage': '最后消息：{time}',
  'status.lastError': '最近错误：{err}',
  'state.connected': '已连接',
  'state.connecting': '连接中',
  'state.reconnecting': '重连中',
  'state.disconnected': '已断开',
  'state.stopped': '已停止',
  'state.error': '错误',

  'chart.daily': '每日消息趋势（30 天）',
  'chart.hourly': '24 小时消息分布',
  'chart.hourlyTz': '24 小时消息分布（{tz}）',
  'chart.messages': '消息数',
  'chart.hour': '{h}时',
  'chart.topUsers': '活跃用户排行',
  'chart.noUsers': '暂无消息。',

  'live.title': '实时消息',
  'live.user': '用户',
  'live.type': '类型',
  'live.target': '目标',
  'live.pause': '暂停',
  'live.resume': '继续',
  'live.newCount': '{n} 条新消息',
  'live.state.connecting': '连接中',
  'live.state.live': '实时',
  'live.state.reconnecting': '重连中',
  'live.state.paused': '已暂停',
  'live.state.offline': '离线',
  'live.dropped': '由于页面处理不及，服务器跳过了 {n} 条消息。所有已保存的消息仍可搜索。',
  'live.empty': '等待消息…',
  'live.showing': '显示最新 {n} 条（最多 {max} 条）。',

  'type.chat': '聊天',
  'type.system': '系统',
  'type.join': '加入',
  'type.leave': '离开',
  'type.other': '其他',
  'reason.too_large': '过大',
  'reason.invalid_utf8': '无效 UTF-8',
  'reason.bad_json': 'JSON 错误',
  'reason.json_too_deep': 'JSON 嵌套过深',
  'reason.nul_bytes': '含 NUL 字节',
  'reason.binary': '二进制',
  'msg.sentAt': '发送于 {time}',
  'msg.receivedAt': '接收于 {time}',
  'msg.openUser': '查看用户',
  'msg.openContext': '查看上下文',

  'search.title': '搜索消息',
  'search.keyword': '关键词',
  'search.keywordPh': '例如 紧急 或 "完整短语"',
  'search.user': '用户',
  'search.type': '类型',
  'search.from': '开始时间',
  'search.to': '结束时间',
  'search.button': '搜索',
  'search.total': '共 {n} 条结果',
  'search.totalEstimate': '约 {n} 条结果',
  'search.browse': '符合筛选条件的最新消息（未输入关键词）。',
  'search.none': '没有找到消息。',
  'search.more': '加载更多',
  'search.shown': '已显示 {n} 条',
  'search.hint': '输入关键词或选择筛选条件后搜索。',
  'search.badRange': '开始时间必须早于结束时间。',
  'search.export': '导出',
  'search.exportTitle': '下载当前筛选条件和关键词选中的全部消息（所有页，最新的在前）',
  'search.exportFormat': '导出格式',

  'context.title': '消息上下文',
  'context.hint': '所选消息前后的消息，按时间顺序排列。',

  'user.title': '用户 {name}',
  'user.messages': '消息数',
  'user.firstSeen': '首次出现',
  'user.lastSeen': '最后出现',
  'user.hours': '24 小时活跃分布',
  'user.recent': '最近消息',
  'user.searchAll': '搜索该用户的全部消息',
  'user.notFound': '该用户没有消息。',

  'sessions.title': '连接记录',
  'sessions.timeline': '时间线',
  'sessions.table': '连接会话',
  'sessions.gaps': '监控中断',
  'sessions.target': '目标',
  'sessions.connected': '连接时间',
  'sessions.disconnected': '断开时间',
  'sessions.duration': '时长',
  'sessions.close': '关闭',
  'sessions.messages': '消息数',
  'sessions.error': '错误',
  'sessions.url': '地址',
  'sessions.ongoing': '当前已连接',
  'sessions.none': '没有连接记录。',
  'sessions.noGaps': '没有中断。',
  'sessions.gapFrom': '开始',
  'sessions.gapTo': '结束',
  'sessions.gapLength': '时长',
  'sessions.legendSession': '已连接',
  'sessions.legendGap': '中断',
  'sessions.legendError': '因错误结束',
  'sessions.barTitle': '{from} → {to}（{dur}），{n} 条消息',
  'sessions.gapTitle': '中断：{from} → {to}（{dur}）',

  'nav.targets': '监控目标',
  'state.paused': '已暂停',
  'state.refused': '被拒绝',
  'state.gave_up': '已放弃',
  'targets.title': '监控目标',
  'targets.none': '没有监控目标。',
  'targets.name': '名称',
  'targets.url': '地址',
  'targets.protocol': '协议',
  'targets.inUse': '当前：{p}',
  'targets.state': '状态',
  'targets.source': '来源',
  'targets.sourceConfig': '配置文件',
  'targets.sourceApi': '页面添加',
  'targets.lastError': '最近错误',
  'targets.actions': '操作',
  'targets.pause': '暂停',
  'targets.resume': '恢复',
  'targets.retry': '重试',
  'targets.remove': '删除',
  'targets.confirmRemove': '删除目标 {name}？已保存的消息会保留。',
  'targets.add': '添加目标',
  'targets.subscribe': '订阅（每行一个）',
  'targets.options': '选项（JSON 对象）',
  'targets.badOptions': '选项必须是 JSON 对象。',
  'targets.added': '已添加目标 {name}。',
  'targets.readOnly': '监控目标由监控进程管理，此页面只能查看。',
  'targets.reconnects': '重连次数：{n}',

  'login.title': '登录 wsmon',
  'login.token': '访问令牌',
  'login.password': '用户名和密码',
  'login.tokenLabel': '令牌',
  'login.user': '用户名',
  'login.pass': '密码',
  'login.submit': '登录',
  'login.failed': '登录失败：{msg}',

  'dur.d': '{n}天',
  'dur.h': '{n}小时',
  'dur.m': '{n}分',
  'dur.s': '{n}秒',
};

export type Lang = 'en' | 'zh';
const dicts: Record<Lang, Record<Key, string>> = { en, zh };
const storageKey = 'wsmon.lang';

function initialLang(): Lang {
  try {
    const saved = localStorage.getItem(storageKey);
    if (saved === 'en' || saved === 'zh') return saved;
  } catch {
    // storage disabled: fall through to the browser language
  }
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || 'en';
  return nav.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

let current: Lang = initialLang();

/** lang is the current UI language. */
export function lang(): Lang {
  return current;
}

/** locale is the BCP 47 tag used for Intl formatting and <html lang>. */
export function locale(): string {
  return current === 'zh' ? 'zh-CN' : 'en';
}

/** setLang switches the language, persists it and updates <html lang>. */
export function setLang(l: Lang): void {
  current = l;
  try {
    localStorage.setItem(storageKey, l);
  } catch {
    // not persisted; still switch for this page
  }
  applyLang();
}

/** applyLang updates document.documentElement.lang and the title. */
export function applyLang(): void {
  document.documentElement.lang = locale();
  document.title = t('app.title');
}

/** t returns the string for key with {name} placeholders filled from params. */
export function t(key: Key, params?: Record<string, string | number>): string {
  const s = dicts[current][key] ?? en[key] ?? key;
  if (!params) return s;
  return s.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

/** tOr translates key when it exists in the dictionary, else returns fallback. */
export function tOr(key: string, fallback: string): string {
  return key in en ? t(key as Key) : fallback;
}
