// The dashboard (#/?target=&room=&range=&from=&to=): the view selection
// (target, room, time range: kept in the URL, so a view can be shared),
// summary cards, monitor status with the ingest counters, charts, the
// active-user leaderboard, the live message stream and the targets
// overview. A target, room or time range narrows the cards, the charts
// and the live stream (/api/stats?target=&room=&from=&to=; per room the
// server scans that room's messages, slower than the rollups). Charts refresh from the "stats"
// events the server pushes on /api/live; only when those do not come does
// it refetch /api/stats, at most every web_refresh_interval seconds and only
// while messages arrive. Anomalies (GET /api/analysis/anomalies, fetched at
// most once a minute, when /api/ui-config lists "anomalies" among the
// analyses turned on) are shaded on the daily chart where they overlap its
// days.

import type { Chart } from 'chart.js';
import { Anomaly, AnomalyPage, get, IngestCounters, isAbort, MonitorProcess, MonitorStatus, Page, post, Stats } from '../api';
import { barChart, lineChart, setSeries, setSpans, Series, Span } from '../charts';
import { h, setChildren } from '../dom';
import { errText, targetError } from '../errors';
import { fmtBytes, fmtDay, fmtNum, fmtRel, fmtTime, fromLocalInput, parseTime } from '../format';
import { num } from '../health';
import { Key, t, tOr } from '../i18n';
import { LiveStream } from '../live';
import { userHref } from '../msgrow';
import type { ViewContext } from '../main';
import { TargetsOverview } from '../overview';
import { monitorDead, shownState, stateClass } from '../state';
import { dayNum } from './analysis';
import { openContext } from './context';

/** anomalyRefresh is how often the dashboard asks for the anomalies of its chart's days. */
const anomalyRefresh = 60_000;

/**
 * daySpans places anomalies on a chart of days (dates "YYYY-MM-DD" in the
 * statistics time zone tz, oldest first): each day is one category of the
 * axis, and an anomaly covers the part of its days its start and end (now,
 * while open) do. Those outside the days are left out.
 */
export function daySpans(anomalies: Anomaly[], dates: string[], tz: string, now = Date.now()): Span[] {
  if (!dates.length) return [];
  let f: Intl.DateTimeFormat;
  const o: Intl.DateTimeFormatOptions = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' };
  try {
    f = new Intl.DateTimeFormat('en-CA', { ...o, timeZone: tz || undefined });
  } catch {
    f = new Intl.DateTimeFormat('en-CA', o); // an abbreviation Intl does not know: the browser's zone
  }
  const first = dayNum(dates[0]);
  const n = dates.length;
  const pos = (ms: number) => {
    const p: Record<string, string> = {};
    for (const x of f.formatToParts(new Date(ms))) p[x.type] = x.value;
    const day = dayNum(`${p.year}-${p.month}-${p.day}`);
    return day - first + (Number(p.hour) * 3600 + Number(p.minute) * 60 + Number(p.second)) / 86400;
  };
  const out: Span[] = [];
  for (const a of anomalies) {
    const start = new Date(a.start).getTime();
    const end = a.end ? new Date(a.end).getTime() : now;
    if (!Number.isFinite(start) || !Number.isFinite(end)) continue;
    const from = pos(start);
    const to = pos(Math.max(start, end));
    if (to < 0 || from > n || Number.isNaN(from) || Number.isNaN(to)) continue;
    out.push({ from: Math.max(0, from), to: Math.min(n, to), id: String(a.id) });
  }
  return out;
}


function numberCard(id: string, label: string): { el: HTMLElement; set: (n: number) => void } {
  const value = h('div', { class: 'card-value fs-3 fw-semibold', 'data-testid': `${id}-value` }, t('common.none'));
  const el = h('div', { class: 'col-6 col-sm-4 col-xl-2' },
    h('div', { class: 'card h-100 stat-card', id },
      h('div', { class: 'card-body' }, h('div', { class: 'card-label small text-body-secondary' }, label), value)));
  return {
    el,
    set(n: number) {
      value.textContent = fmtNum(n);
      value.dataset.value = String(n);
    },
  };
}

/** nextAttempt is "Next attempt in 12 s" while a target waits to reconnect, else null. */
export function nextAttempt(m: { state: string; next_attempt_at?: string | null; error_code?: string }): HTMLElement | null {
  if (monitorDead(m) || m.state === 'connected' || m.state === 'paused') return null;
  const at = parseTime(m.next_attempt_at ?? null);
  if (!at) return null;
  const text = at.getTime() <= Date.now() + 500 ? t('status.nextAttemptNow') : t('status.nextAttempt', { when: fmtRel(m.next_attempt_at) });
  return h('span', { class: 'status-next-attempt', title: fmtTime(m.next_attempt_at), dataset: { at: at.toISOString() } }, text);
}

/**
 * processNotice says when the capturing process is not running (a separate
 * wsmon web reading its heartbeat): dead (killed, crashed, hung), stopped,
 * or never reported. Null while it runs or when the server does not say.
 */
export function processNotice(p: MonitorProcess | null | undefined): HTMLElement | null {
  if (!p || p.alive || p.state === 'running') return null;
  let text: string;
  if (p.state === 'dead') text = p.heartbeat_at ? t('status.monitorDead', { time: fmtRel(p.heartbeat_at) }) : t('status.monitorDeadNoTime');
  else if (p.state === 'stopped') text = p.stopped_at ? t('status.monitorStopped', { time: fmtRel(p.stopped_at) }) : t('status.monitorStoppedNoTime');
  else text = t('status.monitorNone');
  return h('div', { class: 'alert alert-danger py-1 px-2 small mb-2', id: 'monitor-process', role: 'status', dataset: { state: p.state },
    title: p.heartbeat_at ? fmtTime(p.heartbeat_at) : '' }, text);
}

/** statusList renders one block per monitored target, under the process notice. */
export function statusList(monitor: MonitorStatus[], process?: MonitorProcess | null): HTMLElement {
  const notice = processNotice(process);
  if (!monitor.length) return h('div', null, notice, h('p', { class: 'text-body-secondary small mb-0' }, t('card.noTargets')));
  return h('div', { class: 'status-list' },
    notice,
    monitor.map((m) => {
      const state = shownState(m);
      const err = targetError(m.error_code, m.last_error);
      return h('div', { class: 'status-target', dataset: { target: m.target, state } },
        h('div', { class: 'd-flex align-items-center gap-2' },
          h('span', { class: 'fw-semibold text-truncate', title: m.url || m.target }, m.target),
          h('span', { class: `badge status-state ${stateClass[state] ?? 'text-bg-secondary'}` }, tOr('state.' + state, state || '?')),
          m.protocol ? h('span', { class: 'badge text-bg-light border status-protocol' }, m.protocol) : null),
        h('div', { class: 'small text-body-secondary d-flex flex-wrap column-gap-3' },
          m.since ? h('span', { title: fmtTime(m.since) }, t('status.since', { time: fmtRel(m.since) })) : null,
          h('span', null, t('status.reconnects', { n: fmtNum(m.reconnects ?? 0) })),
          h('span', { title: fmtTime(m.last_message_at) }, t('status.lastMessage', { time: m.last_message_at ? fmtRel(m.last_message_at) : t('common.none') })),
          nextAttempt(m)),
        err ? h('div', { class: 'small text-danger status-error', title: m.last_error, dataset: { code: m.error_code ?? '' } }, t('status.lastError', { err })) : null);
    }));
}

/**
 * ingestSummary is the compact ingest-health line: duplicates dropped, id
 * collisions, corrupt journal records skipped, frames dropped (a counter an
 * older server does not send shows 0), and the bytes waiting for the disk
 * when there are any. Counters that mean something was lost or damaged are
 * coloured when not 0.
 */
export function ingestSummary(c: IngestCounters): HTMLElement {
  const item = (name: string, key: Key, n: number, bad: string, title: string) =>
    h('span', { class: 'ingest-counter' + (n > 0 && bad ? ' ' + bad : ''), dataset: { counter: name, value: String(n) }, title },
      t(key, { n: fmtNum(n) }));
  const pending = num(c.journal_pending_bytes);
  return h('div', { class: 'd-flex flex-wrap column-gap-3 row-gap-1' },
    h('span', { class: 'fw-semibold' }, t('health.title')),
    item('duplicates', 'health.duplicates', num(c.duplicates), '', t('health.duplicatesTitle')),
    item('id_collisions', 'health.idCollisions', num(c.id_collisions), 'text-warning-emphasis', t('health.idCollisionsTitle')),
    item('journal_corrupt_records', 'health.corrupt', num(c.journal_corrupt_records), 'text-warning-emphasis',
      t('health.corruptTitle', { bytes: fmtBytes(num(c.journal_corrupt_bytes)) })),
    item('dropped_frames', 'health.dropped', num(c.dropped_frames), 'text-danger fw-semibold',
      t('health.droppedTitle', { bytes: fmtBytes(num(c.dropped_bytes)) })),
    pending > 0
      ? h('span', { class: 'ingest-counter text-danger', dataset: { counter: 'journal_pending_bytes', value: String(pending) } },
        t('health.pending', { bytes: fmtBytes(pending) }))
      : null);
}

/** Selection is the dashboard's view: target, room and time range, kept in the URL (#/?target=&room=&range=&from=&to=). */
export interface Selection {
  target: string;
  room: string;
  /** "" (30 days, the default), "7d", "today" or "custom" (from/to) */
  range: string;
  /** datetime-local values, for range "custom" */
  from: string;
  to: string;
}

const ranges = ['', '7d', 'today', 'custom'] as const;

export function selectionFrom(p: URLSearchParams): Selection {
  const range = p.get('range') ?? '';
  return {
    target: p.get('target') ?? '',
    room: p.get('room') ?? '',
    range: (ranges as readonly string[]).includes(range) ? range : '',
    from: p.get('from') ?? '',
    to: p.get('to') ?? '',
  };
}

/** selectionHash is the dashboard URL for sel (empty values left out). */
export function selectionHash(sel: Selection): string {
  const sp = new URLSearchParams();
  if (sel.target) sp.set('target', sel.target);
  if (sel.room) sp.set('room', sel.room);
  if (sel.range) sp.set('range', sel.range);
  if (sel.range === 'custom') {
    if (sel.from) sp.set('from', sel.from);
    if (sel.to) sp.set('to', sel.to);
  }
  const q = sp.toString();
  return '#/' + (q ? '?' + q : '');
}

/** rangeBounds turns the range into the from/to of /api/stats (RFC 3339; "" = open), or null when from is not before to. */
export function rangeBounds(sel: Selection, now = new Date()): { from: string; to: string } | null {
  const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  switch (sel.range) {
    case '7d':
      return { from: new Date(midnight.getFullYear(), midnight.getMonth(), midnight.getDate() - 6).toISOString(), to: '' };
    case 'today':
      return { from: midnight.toISOString(), to: '' };
    case 'custom': {
      const from = fromLocalInput(sel.from);
      const to = fromLocalInput(sel.to);
      if (from && to && from >= to) return null;
      return { from, to };
    }
    default:
      return { from: '', to: '' };
  }
}

/** filterBar is the target / room / time-range form; applying it changes the URL. */
function filterBar(sel: Selection, bad: boolean): { el: HTMLElement; setTargets: (names: string[]) => void; addRooms: (rooms: string[]) => void } {
  const target = h('select', { class: 'form-select form-select-sm', id: 'filter-target', name: 'target', 'aria-label': t('filter.target') },
    h('option', { value: '' }, t('filter.allTargets')));
  const room = h('input', { class: 'form-control form-control-sm', id: 'filter-room', name: 'room', value: sel.room, list: 'filter-rooms', placeholder: t('filter.allRooms'), 'aria-label': t('filter.room'), autocomplete: 'off' });
  const roomList = h('datalist', { id: 'filter-rooms' });
  const range = h('select', { class: 'form-select form-select-sm', id: 'filter-range', name: 'range', 'aria-label': t('filter.range') },
    h('option', { value: '' }, t('range.30d')),
    h('option', { value: '7d' }, t('range.7d')),
    h('option', { value: 'today' }, t('range.today')),
    h('option', { value: 'custom' }, t('range.custom')));
  range.value = sel.range;
  const from = h('input', { type: 'datetime-local', class: 'form-control form-control-sm', id: 'filter-from', name: 'from', value: sel.from, 'aria-label': t('filter.from') });
  const to = h('input', { type: 'datetime-local', class: 'form-control form-control-sm', id: 'filter-to', name: 'to', value: sel.to, 'aria-label': t('filter.to') });
  const custom = h('div', { class: 'col-12 col-sm-auto d-flex gap-2 align-items-center' + (sel.range === 'custom' ? '' : ' d-none'), id: 'filter-custom' },
    h('label', { class: 'small text-body-secondary text-nowrap', for: 'filter-from' }, t('filter.from')), from,
    h('label', { class: 'small text-body-secondary text-nowrap', for: 'filter-to' }, t('filter.to')), to);
  range.addEventListener('change', () => custom.classList.toggle('d-none', range.value !== 'custom'));
  const label = (forId: string, text: string) => h('label', { class: 'small text-body-secondary text-nowrap me-1', for: forId }, text);
  const form = h('form', { class: 'row g-2 align-items-center mb-3', id: 'dashboard-filters', role: 'search', 'aria-label': t('filter.title') },
    h('div', { class: 'col-12 col-sm-auto d-flex align-items-center' }, label('filter-target', t('filter.target')), target),
    h('div', { class: 'col-12 col-sm-auto d-flex align-items-center' }, label('filter-room', t('filter.room')), room, roomList),
    h('div', { class: 'col-12 col-sm-auto d-flex align-items-center' }, label('filter-range', t('filter.range')), range),
    custom,
    h('div', { class: 'col-12 col-sm-auto d-flex gap-2' },
      h('button', { type: 'submit', class: 'btn btn-sm btn-primary', id: 'filter-apply' }, t('common.apply')),
      h('a', { class: 'btn btn-sm btn-outline-secondary', id: 'filter-clear', href: '#/' }, t('filter.clear'))),
    bad ? h('div', { class: 'col-12' }, h('div', { class: 'alert alert-warning py-1 small mb-0', id: 'filter-error' }, t('filter.badRange'))) : null);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = selectionHash({ target: target.value, room: room.value.trim(), range: range.value, from: from.value, to: to.value });
  });
  let knownTargets = '';
  const setTargets = (names: string[]) => {
    const all = [...new Set([...names, ...(sel.target ? [sel.target] : [])])].sort();
    const key = all.join('\n');
    if (key === knownTargets) return;
    knownTargets = key;
    const keep = target.value || sel.target;
    setChildren(target, h('option', { value: '' }, t('filter.allTargets')), all.map((n) => h('option', { value: n }, n)));
    target.value = keep;
  };
  setTargets([]);
  const rooms = new Set<string>();
  const addRooms = (list: string[]) => {
    let added = false;
    for (const r of list) {
      if (r && !rooms.has(r) && rooms.size < 500) {
        rooms.add(r);
        added = true;
      }
    }
    if (added) setChildren(roomList, [...rooms].sort().map((r) => h('option', { value: r })));
  };
  return { el: form, setTargets, addRooms };
}

export function dashboardView(root: HTMLElement, ctx: ViewContext): void {
  const { cfg, signal, health } = ctx;
  const sel = selectionFrom(ctx.params);
  const bounds = rangeBounds(sel);
  const statsParams = { target: sel.target, room: sel.room, from: bounds?.from ?? '', to: bounds?.to ?? '' };
  // Pushed stats (event: stats) are unfiltered: a narrowed view fetches its own.
  const narrowed = Boolean(statsParams.target || statsParams.room || statsParams.from || statsParams.to);
  const filters = filterBar(sel, bounds === null);

  const totalLabel = statsParams.from || statsParams.to ? t('card.totalRange') : sel.target ? t('card.totalTarget', { target: sel.target }) : t('card.total');
  const total = numberCard('card-total', totalLabel);
  const active = numberCard('card-active', t('card.active'));
  const today = numberCard('card-today', t('card.today'));
  const statusBody = h('div', { class: 'card-body' }, h('span', { class: 'text-body-secondary small' }, t('common.loading')));
  // Hidden until stats say the monitor runs here (no "ingest" in a separate wsmon web).
  const ingest = h('div', { class: 'card-footer small text-body-secondary d-none', id: 'ingest-health' });
  const statusCard = h('div', { class: 'col-12 col-xl-6' },
    h('div', { class: 'card h-100', id: 'card-status' },
      h('div', { class: 'card-header small text-body-secondary' }, t('card.status')), statusBody, ingest));

  const dailyTitle = statsParams.from || statsParams.to ? t('chart.dailyRange') : t('chart.daily');
  const dailyCanvas = h('canvas', { id: 'chart-daily', role: 'img', 'aria-label': dailyTitle });
  const hourlyCanvas = h('canvas', { id: 'chart-hourly', role: 'img', 'aria-label': t('chart.hourly') });
  const hourlyTitle = h('h2', { class: 'h6 mb-0' }, t('chart.hourlyTz', { tz: cfg.time_zone || 'UTC' }));
  const anomalyNote = h('div', { class: 'small text-body-secondary mt-1 d-none', id: 'dashboard-anomalies' });
  const topUsers = h('div', { class: 'top-users-box', id: 'top-users-box' });
  const error = h('div', { id: 'dashboard-error' });
  const notes = h('div', { id: 'dashboard-notes', class: 'small text-body-secondary mb-2' },
    sel.room ? h('div', { id: 'filter-room-note' }, t('filter.roomNote', { room: sel.room })) : null,
    statsParams.from || statsParams.to ? h('div', { id: 'filter-today-note' }, t('filter.todayNote')) : null);

  let daily: Chart | null = null;
  let hourly: Chart | null = null;
  let monitor: MonitorStatus[] = [];
  let process: MonitorProcess | null = null;
  let lastStats = 0;
  let fallbackTimer = 0;
  let fetching = false;
  const interval = Math.max(1, cfg.web_refresh_interval || 5) * 1000;

  const live = new LiveStream({
    max: cfg.max_messages_in_memory,
    signal,
    base: { target: sel.target, room: sel.room },
    onStatus: (m) => renderStatus(m),
    onStats: (s) => {
      if (s.monitor_process !== undefined) process = s.monitor_process;
      if (Array.isArray(s.monitor)) renderStatus(s.monitor);
      if (narrowed) {
        scheduleFallback();
        return;
      }
      lastStats = Date.now();
      renderStats(s);
    },
    onMessage: (m) => {
      if (m.room) filters.addRooms([m.room]);
      scheduleFallback();
    },
    onOpen: (m) => openContext(m.id, null),
    alerts: ctx.alerts,
  });
  const overview = new TargetsOverview({ signal, interval, selected: sel.target, select: (name) => selectionHash({ ...sel, target: name }) });

  setChildren(root,
    error,
    filters.el,
    notes,
    h('div', { class: 'row g-3 mb-3' }, total.el, active.el, today.el, statusCard),
    h('div', { class: 'row g-3 mb-3' },
      h('div', { class: 'col-12 col-lg-7' },
        h('div', { class: 'card h-100' },
          h('div', { class: 'card-header' }, h('h2', { class: 'h6 mb-0' }, dailyTitle)),
          h('div', { class: 'card-body' }, h('div', { class: 'chart-box' }, dailyCanvas), anomalyNote))),
      h('div', { class: 'col-12 col-lg-5' },
        h('div', { class: 'card h-100' },
          h('div', { class: 'card-header' }, hourlyTitle),
          h('div', { class: 'card-body' }, h('div', { class: 'chart-box' }, hourlyCanvas))))),
    h('div', { class: 'row g-3 mb-3' },
      h('div', { class: 'col-12 col-lg-4' },
        h('div', { class: 'card h-100' },
          h('div', { class: 'card-header' }, h('h2', { class: 'h6 mb-0' }, t('chart.topUsers'))),
          topUsers)),
      h('div', { class: 'col-12 col-lg-8' }, live.el)),
    overview.el);

  // The status events carry the targets, not the process: when a target
  // says its monitor stopped or is not running, fetch the process's state.
  let processAsked = 0;
  function renderStatus(m: MonitorStatus[]) {
    monitor = m;
    const processGone = m.some((x) => x.error_code === 'monitor_stopped' || x.error_code === 'monitor_not_running');
    if (processGone && (!process || process.alive) && Date.now() - processAsked > interval) {
      processAsked = Date.now();
      get<Stats>('/api/stats', statsParams, signal)
        .then((s) => {
          if (s.monitor_process !== undefined) process = s.monitor_process;
          setChildren(statusBody, statusList(monitor, process));
        })
        .catch(() => {});
    }
    setChildren(statusBody, statusList(m, process));
    live.setTargets(m.map((x) => x.target));
    filters.setTargets(m.map((x) => x.target));
    overview.setStatus(m);
  }

  // "Back up now" (POST /api/backup), where the monitor runs: kept across
  // refreshes of the ingest line, so its result stays shown.
  const backupResult = h('span', { id: 'backup-result', role: 'status' });
  const backupButton = h('button', { type: 'button', class: 'btn btn-sm btn-outline-secondary py-0', id: 'backup-button' }, t('backup.button'));
  backupButton.addEventListener('click', () => {
    backupButton.disabled = true;
    backupResult.className = 'ms-2';
    backupResult.textContent = t('backup.running');
    post<{ file: string; bytes: number }>('/api/backup', {}, signal)
      .then((r) => { backupResult.textContent = t('backup.done', { file: r.file, bytes: fmtBytes(r.bytes) }); })
      .catch((e: unknown) => {
        if (isAbort(e)) return;
        backupResult.className = 'ms-2 text-danger';
        backupResult.textContent = t('backup.failed', { msg: errText(e) });
      })
      .finally(() => { backupButton.disabled = false; });
  });
  const backupBox = h('div', { class: 'mt-1' }, backupButton, backupResult);

  function renderIngest(c: IngestCounters | null) {
    ingest.classList.toggle('d-none', !c);
    if (c) setChildren(ingest, ingestSummary(c), backupBox);
    else ingest.replaceChildren();
  }
  health.subscribe(renderIngest, signal);
  renderIngest(health.current());

  function renderStats(s: Stats) {
    error.replaceChildren();
    health.update(s); // redraws the ingest line and the banner
    total.set(s.total_messages);
    active.set(s.active_users);
    today.set(s.today_messages);
    if (s.monitor_process !== undefined) process = s.monitor_process;
    if (Array.isArray(s.monitor)) renderStatus(s.monitor);
    if (s.time_zone) hourlyTitle.textContent = t('chart.hourlyTz', { tz: s.time_zone });

    const d: Series = { labels: (s.daily ?? []).map((x) => fmtDay(x.date)), data: (s.daily ?? []).map((x) => x.count), label: t('chart.messages') };
    const hr: Series = { labels: (s.hourly ?? []).map((x) => t('chart.hour', { h: x.hour })), data: (s.hourly ?? []).map((x) => x.count), label: t('chart.messages') };
    if (daily) setSeries(daily, d);
    else daily = lineChart(dailyCanvas, d);
    dailyDates = (s.daily ?? []).map((x) => x.date);
    statsZone = s.time_zone || cfg.time_zone;
    shadeAnomalies();
    if (Date.now() - anomaliesAsked >= anomalyRefresh) fetchAnomalies();
    if (hourly) setSeries(hourly, hr);
    else hourly = barChart(hourlyCanvas, hr);
    renderTopUsers(s.top_users ?? []);
  }

  // Anomalies on the daily chart.
  let dailyDates: string[] = [];
  let statsZone = cfg.time_zone;
  let anomalies: Anomaly[] = [];
  let anomaliesAsked = 0;
  function shadeAnomalies() {
    if (!daily) return;
    const spans = daySpans(anomalies, dailyDates, statsZone);
    setSpans(daily, spans);
    anomalyNote.classList.toggle('d-none', spans.length === 0);
    anomalyNote.dataset.n = String(spans.length);
    if (!spans.length) {
      anomalyNote.replaceChildren();
      return;
    }
    const sp = new URLSearchParams();
    if (sel.target) sp.set('target', sel.target);
    if (sel.room) sp.set('room', sel.room);
    const q = sp.toString();
    setChildren(anomalyNote, h('span', { class: 'legend-swatch anomaly-swatch' }), t('chart.anomalies', { n: fmtNum(spans.length) }), ' ',
      h('a', { href: '#/analysis/anomalies' + (q ? '?' + q : ''), id: 'dashboard-anomalies-link' }, t('chart.anomaliesLink')));
  }
  // Only where the server says anomaly detection is on (/api/ui-config
  // "analyses"): elsewhere the request would answer 404 or 409, which the
  // browser logs as an error on every dashboard load.
  const anomaliesOn = (cfg.analyses ?? []).includes('anomalies');
  function fetchAnomalies() {
    if (!anomaliesOn || !dailyDates.length) return;
    anomaliesAsked = Date.now();
    // From the day before the first (the chart's days are in the server's
    // zone, the request's instants in UTC); daySpans cuts to the days.
    const from = new Date((dayNum(dailyDates[0]) - 1) * 86400000).toISOString();
    get<AnomalyPage>('/api/analysis/anomalies', { target: sel.target, room: sel.room, from, limit: 500 }, signal)
      .then((p) => {
        anomalies = p.anomalies ?? [];
        shadeAnomalies();
      })
      .catch((e) => {
        if (isAbort(e)) return;
        // No anomaly detection here (404), or turned off (409): nothing to shade.
        anomalies = [];
        shadeAnomalies();
      });
  }

  function renderTopUsers(users: { user: string; count: number }[]) {
    // The empty state is a paragraph, not an item of the numbered list
    // (which read "1. No messages yet.").
    if (!users.length) {
      setChildren(topUsers, h('div', { class: 'p-3 text-body-secondary small', id: 'top-users-empty' },
        h('div', null, t('chart.noUsers')), h('div', null, t('chart.noUsersHint'))));
      return;
    }
    const top = Math.max(1, ...users.map((u) => u.count));
    setChildren(topUsers, h('ol', { class: 'list-group list-group-numbered list-group-flush top-users', id: 'top-users' },
      users.map((u) => {
        const bar = h('div', { class: 'top-user-bar' });
        bar.style.width = `${Math.max(1, (u.count / top) * 100)}%`;
        return h('li', { class: 'list-group-item d-flex align-items-start gap-2 top-user', dataset: { user: u.user } },
          h('div', { class: 'flex-grow-1 min-w-0' },
            h('div', { class: 'd-flex justify-content-between gap-2' },
              h('a', { class: 'text-truncate text-decoration-none', href: userHref(u.user), title: t('chart.topUsersTitle', { user: u.user, n: fmtNum(u.count) }) }, u.user || t('common.none')),
              h('span', { class: 'badge text-bg-light border' }, fmtNum(u.count))),
            bar));
      })));
  }

  function fetchStats() {
    if (fetching || bounds === null) return;
    fetching = true;
    get<Stats>('/api/stats', statsParams, signal)
      .then((s) => {
        lastStats = Date.now();
        renderStats(s);
      })
      .catch((e) => {
        if (isAbort(e)) return;
        setChildren(error, h('div', { class: 'alert alert-danger' }, t('common.error', { msg: errText(e) })));
      })
      .finally(() => {
        fetching = false;
      });
  }

  // Refetch when the server does not push stats (or pushes unfiltered ones
  // while the view is narrowed): one fetch at most every interval, only
  // while messages keep arriving, skipped if a usable push came.
  function scheduleFallback() {
    if (fallbackTimer) return;
    const scheduled = Date.now();
    fallbackTimer = window.setTimeout(() => {
      fallbackTimer = 0;
      if (lastStats < scheduled) fetchStats();
    }, interval);
  }

  // Relative times ("3 min ago", "next attempt in 5 s") age; redraw them.
  // A countdown redraws every second, the rest every 30 s.
  let ticks = 0;
  const tick = window.setInterval(() => {
    ticks++;
    if (!monitor.length || document.hidden) return;
    if (ticks % 30 === 0 || monitor.some((m) => nextAttempt(m) !== null)) setChildren(statusBody, statusList(monitor, process));
  }, 1000);

  signal.addEventListener('abort', () => {
    clearTimeout(fallbackTimer);
    clearInterval(tick);
    daily?.destroy();
    hourly?.destroy();
  });

  // Rooms for the room field: those of recent messages.
  get<Page>('/api/messages', { target: sel.target, limit: 200 }, signal)
    .then((p) => filters.addRooms((p.messages ?? []).map((m) => m.room)))
    .catch(() => {});
  if (bounds === null) setChildren(error);
  fetchStats();
}
