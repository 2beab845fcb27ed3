// The analysis view (#/analysis/terms, #/analysis/sentiment,
// #/analysis/anomalies, #/analysis/activity, #/analysis/reports), one tab
// each, its filters in the URL (activity: views/activity.ts; reports:
// views/reports.ts):
//
//   - terms (?date=&room=): a day's trending terms ranked by rise
//     (GET /api/analysis/terms), a sparkline of each term's last 15 days;
//     a term opens the search for it (in the room picked);
//   - sentiment (?target=&room=&from=&to=&day=): the average score per day
//     of the range as a chart, per room a table (the rooms of the latest
//     messages: the server lists no rooms), and a day's most negative
//     messages, each opening its context (GET /api/analysis/sentiment);
//   - anomalies (?kind=&target=&room=&open=1&from=&to=): the detected
//     anomalies, newest first, explained in the UI's language from their
//     code and parameters (GET /api/analysis/anomalies).
//
// An analysis turned off in the configuration answers 409 analysis_off: the
// tab then says which key turns it on. Terms, names and message contents
// come from the chat: they are only ever set as text.

import type { Chart } from 'chart.js';
import { Anomaly, AnomalyPage, ApiError, get, isAbort, Msg, NegativeMessage, Page, SentimentDay, SentimentResult, Target, TargetList, TermsResult } from '../api';
import { anomalyKinds, anomalyText, kindLabel, kindOf } from '../anomalytext';
import { scoreChart, sparkline } from '../charts';
import { h, setChildren } from '../dom';
import { errText } from '../errors';
import { fmtDay, fmtNum, fmtShort, fmtTime, fromLocalInput, toLocalInput } from '../format';
import { Key, locale, t } from '../i18n';
import type { ViewContext } from '../main';
import { messageRow } from '../msgrow';
import { activityTab } from './activity';
import { openContext } from './context';
import { reportsTab } from './reports';

export type AnalysisTab = 'terms' | 'sentiment' | 'anomalies' | 'activity' | 'reports';

/** The configuration key that turns each analysis on ("": none, reports are always on where they exist). */
export const analysisKeys: Record<AnalysisTab, string> = {
  terms: 'analysis_terms',
  sentiment: 'analysis_sentiment',
  anomalies: 'anomaly_detection',
  activity: 'analysis_behaviour',
  reports: '',
};

const tabTitle: Record<AnalysisTab, Key> = {
  terms: 'analysis.tabTerms',
  sentiment: 'analysis.tabSentiment',
  anomalies: 'analysis.tabAnomalies',
  activity: 'analysis.tabActivity',
  reports: 'analysis.tabReports',
};

/** The days of a term's sparkline: the day shown and the 14 before it (what the server keeps). */
const sparkDays = 15;
/** Rooms in the sentiment table at most (one request each). */
const maxRooms = 12;

// ---- days ------------------------------------------------------------------

/** dayNum is the number of days since 1970-01-01 of "YYYY-MM-DD", or NaN. */
export function dayNum(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3]) / 86400000 : NaN;
}

/** dayStr is the "YYYY-MM-DD" of a day number. */
export function dayStr(n: number): string {
  return new Date(n * 86400000).toISOString().slice(0, 10);
}

// ---- shared pieces ------------------------------------------------------------

/**
 * offNote says that the analysis what is turned off and which
 * configuration key turns it on (#analysis-off, data-key).
 */
export function offNote(what: string, key: string): HTMLElement {
  return h('div', { class: 'alert alert-info analysis-off', id: 'analysis-off', role: 'status', dataset: { key } },
    h('div', { class: 'fw-semibold' }, t('analysis.offTitle', { what })),
    h('div', null, t('analysis.offHow', { key })),
    h('code', { class: 'd-block mt-1 small' }, `"${key}": true`));
}

/**
 * failure is what a tab shows when its request failed: for analysis_off
 * which configuration key turns the analysis on; for a server without the
 * endpoint (404) that it has none; else the error.
 */
export function failure(e: unknown, tab: AnalysisTab): HTMLElement {
  const what = t(tabTitle[tab]);
  const key = analysisKeys[tab];
  if (e instanceof ApiError && e.code === 'analysis_off' && key) return offNote(what, key);
  if (e instanceof ApiError && e.status === 404) {
    return h('div', { class: 'alert alert-warning', id: 'analysis-missing', role: 'status' }, t('analysis.missing', { what }));
  }
  return h('div', { class: 'alert alert-danger', id: 'analysis-error' }, t('common.error', { msg: errText(e) }));
}

function tabs(active: AnalysisTab): HTMLElement {
  const tab = (name: AnalysisTab) =>
    h('li', { class: 'nav-item' },
      h('a', { class: 'nav-link' + (name === active ? ' active' : ''), id: 'tab-' + name, href: '#/analysis/' + name, 'aria-current': name === active ? 'page' : null }, t(tabTitle[name])));
  return h('ul', { class: 'nav nav-tabs mb-3', id: 'analysis-tabs' }, tab('terms'), tab('sentiment'), tab('anomalies'), tab('activity'), tab('reports'));
}

export const label = (forId: string, text: string) => h('label', { class: 'form-label small mb-1', for: forId }, text);

/** hashWith is #/analysis/<tab> with the non-empty values of params. */
export function hashWith(tab: AnalysisTab, params: Record<string, string>): string {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v.trim()) sp.set(k, v.trim());
  const q = sp.toString();
  return '#/analysis/' + tab + (q ? '?' + q : '');
}

/** go sets the hash, or runs again when it is the same (the same filters applied again). */
export function go(hash: string, again: () => void): void {
  if (location.hash === hash) again();
  else location.hash = hash;
}

/** roomsSeen lists the rooms of the latest messages (of target), busiest first. */
async function roomsSeen(target: string, signal: AbortSignal): Promise<string[]> {
  const page = await get<Page>('/api/messages', { target, limit: 500 }, signal);
  const n = new Map<string, number>();
  for (const m of page.messages ?? []) if (m.room) n.set(m.room, (n.get(m.room) ?? 0) + 1);
  return [...n.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([r]) => r);
}

export function fillList(list: HTMLDataListElement, values: string[]): void {
  setChildren(list, [...new Set(values)].sort().map((v) => h('option', { value: v })));
}

function fmtScore(n: number, digits = 2): string {
  return Number.isFinite(n) ? new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits, signDisplay: 'exceptZero' }).format(n) : t('common.none');
}

// ---- the view -------------------------------------------------------------------

export function analysisView(root: HTMLElement, ctx: ViewContext, tab: AnalysisTab): void {
  const body = h('div', { id: 'analysis-' + tab });
  setChildren(root, h('h1', { class: 'h4 mb-3', id: 'analysis-title' }, t('analysis.title')), tabs(tab), body);
  if (tab === 'terms') termsTab(body, ctx);
  else if (tab === 'sentiment') sentimentTab(body, ctx);
  else if (tab === 'anomalies') anomaliesTab(body, ctx);
  else if (tab === 'activity') activityTab(body, ctx);
  else reportsTab(body, ctx);
}

// ---- trending terms -------------------------------------------------------------

function termsTab(root: HTMLElement, ctx: ViewContext): void {
  const val = (k: string) => ctx.params.get(k) ?? '';
  const date = h('input', { type: 'date', class: 'form-control form-control-sm', id: 'terms-date', name: 'date', value: val('date') });
  const rooms = h('datalist', { id: 'terms-rooms' });
  const room = h('input', { class: 'form-control form-control-sm', id: 'terms-room', name: 'room', value: val('room'), list: 'terms-rooms', placeholder: t('filter.allRooms'), autocomplete: 'off' });
  const form = h('form', { class: 'row g-2 align-items-end mb-3', id: 'terms-filter' },
    h('div', { class: 'col-6 col-md-3 col-lg-2' }, label('terms-date', t('analysis.day')), date),
    h('div', { class: 'col-6 col-md-3 col-lg-2' }, label('terms-room', t('filter.room')), room, rooms),
    h('div', { class: 'col-12 col-md-auto d-flex gap-2' },
      h('button', { type: 'submit', class: 'btn btn-sm btn-primary', id: 'terms-apply' }, t('common.apply')),
      h('a', { class: 'btn btn-sm btn-outline-secondary', href: '#/analysis/terms' }, t('common.reset'))));
  const summary = h('div', { class: 'small text-body-secondary mb-2', id: 'terms-summary', 'aria-live': 'polite' }, t('common.loading'));
  const list = h('div', { id: 'terms-box' });
  setChildren(root, form,
    h('div', { class: 'card' },
      h('div', { class: 'card-header' }, h('h2', { class: 'h6 mb-0' }, t('terms.title')), h('div', { class: 'small text-body-secondary' }, t('terms.hint'))),
      h('div', { class: 'card-body' }, summary, list)));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go(hashWith('terms', { date: date.value, room: room.value }), load);
  });
  roomsSeen('', ctx.signal).then((r) => fillList(rooms, r)).catch(() => {});

  function load() {
    summary.textContent = t('common.loading');
    get<TermsResult>('/api/analysis/terms', { date: val('date'), room: val('room').trim(), limit: 50 }, ctx.signal)
      .then((res) => {
        if (!date.value && res.date) date.value = res.date;
        renderTerms(res);
      })
      .catch((e) => {
        if (isAbort(e)) return;
        summary.textContent = '';
        setChildren(list, failure(e, 'terms'));
      });
  }

  function renderTerms(res: TermsResult) {
    const terms = res.terms ?? [];
    const where = res.room ? t('terms.inRoom', { room: res.room }) : t('terms.allRooms');
    summary.textContent = t('terms.summary', { date: fmtDay(res.date), where, n: fmtNum(terms.length) });
    summary.dataset.date = res.date;
    if (!terms.length) {
      setChildren(list, h('p', { class: 'text-body-secondary mb-0', id: 'terms-empty' }, t('terms.none')));
      return;
    }
    const last = dayNum(res.date);
    setChildren(list, h('ol', { class: 'list-group list-group-numbered', id: 'terms-list' }, terms.map((x) => {
      const byDay = new Map((x.series ?? []).map((p) => [p.day, p.count]));
      const values: number[] = [];
      for (let d = last - sparkDays + 1; d <= last; d++) values.push(byDay.get(d) ?? 0);
      const exact = (x.series ?? []).some((p) => p.day === last && p.count === p.upper);
      const href = '#/search?' + new URLSearchParams(res.room ? { q: x.term, room: res.room } : { q: x.term }).toString();
      return h('li', { class: 'list-group-item d-flex align-items-center gap-3 term-row', dataset: { term: x.term, count: String(x.count) } },
        h('div', { class: 'flex-grow-1 min-w-0' },
          h('a', { class: 'term-link fw-semibold text-break', href, title: t('terms.searchTitle', { term: x.term }) }, x.term),
          h('div', { class: 'small text-body-secondary' },
            t(exact ? 'terms.count' : 'terms.countAtLeast', { n: fmtNum(x.count) }), ' · ',
            t('terms.expected', { n: fmtScore(x.expected, 1).replace(/^\+/, '') }), ' · ',
            h('span', { class: 'term-score', title: t('terms.scoreTitle') }, t('terms.score', { n: fmtScore(x.score, 2).replace(/^\+/, '') })))),
        sparkline(values, t('terms.sparkTitle', { term: x.term, days: sparkDays })));
    })));
  }
  load();
}

// ---- sentiment ----------------------------------------------------------------------

function sentimentTab(root: HTMLElement, ctx: ViewContext): void {
  const val = (k: string) => ctx.params.get(k) ?? '';
  const targets = h('datalist', { id: 'sentiment-targets' });
  const rooms = h('datalist', { id: 'sentiment-rooms' });
  const target = h('input', { class: 'form-control form-control-sm', id: 'sentiment-target', name: 'target', value: val('target'), list: 'sentiment-targets', placeholder: t('filter.allTargets'), autocomplete: 'off' });
  const room = h('input', { class: 'form-control form-control-sm', id: 'sentiment-room', name: 'room', value: val('room'), list: 'sentiment-rooms', placeholder: t('filter.allRooms'), autocomplete: 'off' });
  const from = h('input', { type: 'date', class: 'form-control form-control-sm', id: 'sentiment-from', name: 'from', value: val('from') });
  const to = h('input', { type: 'date', class: 'form-control form-control-sm', id: 'sentiment-to', name: 'to', value: val('to') });
  const form = h('form', { class: 'row g-2 align-items-end mb-3', id: 'sentiment-filter' },
    h('div', { class: 'col-6 col-md-3 col-lg-2' }, label('sentiment-target', t('filter.target')), target, targets),
    h('div', { class: 'col-6 col-md-3 col-lg-2' }, label('sentiment-room', t('filter.room')), room, rooms),
    h('div', { class: 'col-6 col-md-3 col-lg-2' }, label('sentiment-from', t('filter.from')), from),
    h('div', { class: 'col-6 col-md-3 col-lg-2' }, label('sentiment-to', t('filter.to')), to),
    h('div', { class: 'col-12 col-md-auto d-flex gap-2' },
      h('button', { type: 'submit', class: 'btn btn-sm btn-primary', id: 'sentiment-apply' }, t('common.apply')),
      h('a', { class: 'btn btn-sm btn-outline-secondary', href: '#/analysis/sentiment' }, t('common.reset'))));
  const current = () => ({ target: target.value, room: room.value, from: from.value, to: to.value });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go(hashWith('sentiment', current()), load);
  });

  const box = h('div', { id: 'sentiment-box' }, h('p', { class: 'text-body-secondary' }, t('common.loading')));
  setChildren(root, form, box);
  get<TargetList>('/api/targets', undefined, ctx.signal).then((l) => fillList(targets, (l.targets ?? []).map((x: Target) => x.name))).catch(() => {});

  let chart: Chart | null = null;
  ctx.signal.addEventListener('abort', () => chart?.destroy());

  function load() {
    get<SentimentResult>('/api/analysis/sentiment', { target: val('target').trim(), room: val('room').trim(), from: val('from'), to: val('to') }, ctx.signal)
      .then((res) => {
        if (!from.value) from.value = res.from;
        if (!to.value) to.value = res.to;
        render(res);
      })
      .catch((e) => {
        if (isAbort(e)) return;
        setChildren(box, failure(e, 'sentiment'));
      });
  }

  function render(res: SentimentResult) {
    chart?.destroy();
    chart = null;
    const days = res.days ?? [];
    const byDate = new Map(days.map((d) => [d.date, d]));
    const first = dayNum(res.from);
    const last = dayNum(res.to);
    const labels: string[] = [];
    const data: (number | null)[] = [];
    for (let d = first; d <= last && labels.length < 400; d++) {
      const s = dayStr(d);
      labels.push(fmtDay(s));
      data.push(byDate.get(s)?.average ?? null);
    }
    const sum = days.reduce((a, d) => ({ n: a.n + d.n, pos: a.pos + d.pos, neu: a.neu + d.neu, neg: a.neg + d.neg, total: a.total + d.average * d.n }), { n: 0, pos: 0, neu: 0, neg: 0, total: 0 });
    const where = [res.target || t('filter.allTargets'), res.room || t('filter.allRooms')].join(' / ');
    const summary = h('div', { class: 'small text-body-secondary', id: 'sentiment-summary', dataset: { n: String(sum.n) } },
      t('sentiment.summary', { where, from: fmtDay(res.from), to: fmtDay(res.to), n: fmtNum(sum.n), pos: fmtNum(sum.pos), neu: fmtNum(sum.neu), neg: fmtNum(sum.neg),
        avg: sum.n ? fmtScore(sum.total / sum.n) : t('common.none') }));
    const canvas = h('canvas', { id: 'sentiment-chart', role: 'img', 'aria-label': t('sentiment.chart') });
    const dayPick = h('select', { class: 'form-select form-select-sm w-auto', id: 'sentiment-day', 'aria-label': t('sentiment.day') },
      [...days].reverse().map((d) => h('option', { value: d.date }, fmtDay(d.date))));
    const negBox = h('div', { id: 'sentiment-negative-box' });
    const roomsBox = h('div', { id: 'sentiment-rooms-box' }, h('p', { class: 'text-body-secondary small m-3' }, t('common.loading')));
    setChildren(box,
      h('div', { class: 'row g-3' },
        h('div', { class: 'col-12 col-xl-7' },
          h('div', { class: 'card h-100' },
            h('div', { class: 'card-header' }, h('h2', { class: 'h6 mb-0' }, t('sentiment.chart')), summary),
            h('div', { class: 'card-body' },
              days.length ? h('div', { class: 'chart-box' }, canvas) : h('p', { class: 'text-body-secondary mb-0', id: 'sentiment-empty' }, t('sentiment.none'))))),
        h('div', { class: 'col-12 col-xl-5' },
          h('div', { class: 'card h-100' },
            h('div', { class: 'card-header' }, h('h2', { class: 'h6 mb-0' }, t('sentiment.rooms')),
              h('div', { class: 'small text-body-secondary' }, t('sentiment.roomsHint', { n: maxRooms }))),
            roomsBox)),
        h('div', { class: 'col-12' },
          h('div', { class: 'card' },
            h('div', { class: 'card-header d-flex flex-wrap align-items-center gap-2' },
              h('h2', { class: 'h6 mb-0 me-auto' }, t('sentiment.negative')),
              days.length ? h('label', { class: 'small text-body-secondary', for: 'sentiment-day' }, t('sentiment.day')) : null,
              days.length ? dayPick : null),
            negBox))));
    if (days.length) chart = scoreChart(canvas, labels, data, t('sentiment.average'));
    const pick = days.some((d) => d.date === val('day')) ? val('day') : days[days.length - 1]?.date ?? '';
    dayPick.value = pick;
    const showDay = (date: string) => renderNegative(negBox, byDate.get(date) ?? null);
    dayPick.addEventListener('change', () => {
      history.replaceState(null, '', hashWith('sentiment', { ...current(), day: dayPick.value }));
      showDay(dayPick.value);
    });
    showDay(pick);
    renderRooms(roomsBox, res, days);
  }

  function renderNegative(el: HTMLElement, day: SentimentDay | null) {
    const list = day?.most_negative ?? [];
    if (!list.length) {
      setChildren(el, h('p', { class: 'text-body-secondary small m-3', id: 'sentiment-negative-empty' }, t('sentiment.noNegative')));
      return;
    }
    setChildren(el, h('div', { class: 'list-group list-group-flush', id: 'sentiment-negative' }, list.map((x) => negativeRow(x))));
  }

  // Per room: one request per room, the rooms of the latest messages (and
  // of the day's negative messages), the busiest first.
  function renderRooms(el: HTMLElement, res: SentimentResult, days: SentimentDay[]) {
    roomsSeen(res.target, ctx.signal)
      .then((seen) => {
        const negRooms = days.flatMap((d) => d.most_negative ?? []).map((m) => m.room).filter(Boolean);
        const list = [...new Set([...seen, ...negRooms])].slice(0, maxRooms);
        fillList(rooms, list);
        if (!list.length) {
          setChildren(el, h('p', { class: 'text-body-secondary small m-3', id: 'sentiment-rooms-empty' }, t('sentiment.noRooms')));
          return;
        }
        return Promise.all(list.map((r) =>
          get<SentimentResult>('/api/analysis/sentiment', { target: res.target, room: r, from: res.from, to: res.to }, ctx.signal)
            .then((x) => ({ room: r, days: x.days ?? [] }))))
          .then((per) => {
            const rows = per.map((p) => {
              const s = p.days.reduce((a, d) => ({ n: a.n + d.n, pos: a.pos + d.pos, neu: a.neu + d.neu, neg: a.neg + d.neg, total: a.total + d.average * d.n }), { n: 0, pos: 0, neu: 0, neg: 0, total: 0 });
              return { room: p.room, ...s, avg: s.n ? s.total / s.n : NaN };
            }).filter((r) => r.n > 0).sort((a, b) => b.n - a.n || (a.room < b.room ? -1 : 1));
            if (!rows.length) {
              setChildren(el, h('p', { class: 'text-body-secondary small m-3', id: 'sentiment-rooms-empty' }, t('sentiment.noRooms')));
              return;
            }
            const L = { room: t('filter.room'), n: t('sentiment.n'), pos: t('sentiment.pos'), neu: t('sentiment.neu'), neg: t('sentiment.neg'), avg: t('sentiment.average') };
            const td = (l: string, ...c: (Node | string)[]) => h('td', { 'data-label': l }, ...c);
            setChildren(el, h('div', { class: 'table-responsive-stack' }, h('table', { class: 'table table-sm align-middle mb-0 table-stack', id: 'sentiment-rooms' },
              h('thead', null, h('tr', null, Object.values(L).map((x) => h('th', { scope: 'col' }, x)))),
              h('tbody', null, rows.map((r) => h('tr', { dataset: { room: r.room, n: String(r.n) } },
                td(L.room, h('a', { href: hashWith('sentiment', { ...current(), room: r.room }), class: 'text-break' }, r.room)),
                td(L.n, fmtNum(r.n)), td(L.pos, fmtNum(r.pos)), td(L.neu, fmtNum(r.neu)), td(L.neg, fmtNum(r.neg)),
                td(L.avg, h('span', { class: r.avg < -0.1 ? 'text-danger' : r.avg >= 0.1 ? 'text-success' : '' }, fmtScore(r.avg)))))))));
          });
      })
      .catch((e) => {
        if (isAbort(e)) return;
        setChildren(el, h('div', { class: 'alert alert-danger m-3' }, t('common.error', { msg: errText(e) })));
      });
  }
  load();
}

/** negativeRow is one of a day's most negative messages: a message row that opens its context, with its score. */
function negativeRow(x: NegativeMessage): HTMLElement {
  const score = h('span', { class: 'badge text-bg-danger neg-score', title: t('sentiment.scoreTitle') }, fmtScore(x.score));
  if (x.deleted) {
    return h('div', { class: 'list-group-item neg-row small text-body-secondary', dataset: { id: String(x.id), deleted: '1' } },
      score, ' ', t('sentiment.deleted', { id: x.id }));
  }
  const m: Msg = { id: x.id, target: x.target, received_at: x.received_at, sent_at: null, user: x.user, room: x.room, type: 'chat', content: x.content, reason: '' };
  const row = messageRow(m, { onOpen: (y) => openContext(y.id, null) });
  row.classList.add('neg-row');
  row.dataset.score = String(x.score);
  row.querySelector('.msg-meta')?.appendChild(score);
  return row;
}

// ---- anomalies --------------------------------------------------------------------------

function anomaliesTab(root: HTMLElement, ctx: ViewContext): void {
  const val = (k: string) => ctx.params.get(k) ?? '';
  const kind = h('select', { class: 'form-select form-select-sm', id: 'anomalies-kind', name: 'kind' },
    h('option', { value: '' }, t('common.all')),
    anomalyKinds.map((k) => h('option', { value: k }, kindLabel(k))));
  kind.value = (anomalyKinds as readonly string[]).includes(val('kind')) ? val('kind') : '';
  const target = h('input', { class: 'form-control form-control-sm', id: 'anomalies-target', name: 'target', value: val('target'), placeholder: t('filter.allTargets'), autocomplete: 'off' });
  const room = h('input', { class: 'form-control form-control-sm', id: 'anomalies-room', name: 'room', value: val('room'), placeholder: t('filter.allRooms'), autocomplete: 'off' });
  const from = h('input', { type: 'datetime-local', class: 'form-control form-control-sm', id: 'anomalies-from', name: 'from', value: val('from') });
  const to = h('input', { type: 'datetime-local', class: 'form-control form-control-sm', id: 'anomalies-to', name: 'to', value: val('to') });
  const open = h('input', { type: 'checkbox', class: 'form-check-input', id: 'anomalies-open', name: 'open', role: 'switch', checked: val('open') === '1' });
  const form = h('form', { class: 'row g-2 align-items-end mb-3', id: 'anomalies-filter' },
    h('div', { class: 'col-6 col-md-4 col-lg-2' }, label('anomalies-kind', t('anomaly.kind')), kind),
    h('div', { class: 'col-6 col-md-4 col-lg-2' }, label('anomalies-target', t('filter.target')), target),
    h('div', { class: 'col-6 col-md-4 col-lg-2' }, label('anomalies-room', t('filter.room')), room),
    h('div', { class: 'col-6 col-md-4 col-lg-2' }, label('anomalies-from', t('filter.from')), from),
    h('div', { class: 'col-6 col-md-4 col-lg-2' }, label('anomalies-to', t('filter.to')), to),
    h('div', { class: 'col-6 col-md-4 col-lg-auto' },
      h('div', { class: 'form-check form-switch mb-1' }, open, h('label', { class: 'form-check-label small', for: 'anomalies-open' }, t('anomaly.openOnly')))),
    h('div', { class: 'col-12 col-lg-auto d-flex gap-2' },
      h('button', { type: 'submit', class: 'btn btn-sm btn-primary', id: 'anomalies-apply' }, t('common.apply')),
      h('a', { class: 'btn btn-sm btn-outline-secondary', href: '#/analysis/anomalies' }, t('common.reset'))));
  const apply = () => go(hashWith('anomalies', { kind: kind.value, target: target.value, room: room.value, from: from.value, to: to.value, open: open.checked ? '1' : '' }), load);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    apply();
  });
  open.addEventListener('change', apply);
  kind.addEventListener('change', apply);
  const summary = h('div', { class: 'small text-body-secondary mb-2', id: 'anomalies-summary', 'aria-live': 'polite' }, t('common.loading'));
  const box = h('div', { id: 'anomalies-box' });
  setChildren(root, form, summary, box);

  function load() {
    const fromISO = fromLocalInput(val('from'));
    const toISO = fromLocalInput(val('to'));
    if (fromISO && toISO && fromISO >= toISO) {
      summary.textContent = '';
      setChildren(box, h('div', { class: 'alert alert-warning' }, t('search.badRange')));
      return;
    }
    summary.textContent = t('common.loading');
    get<AnomalyPage>('/api/analysis/anomalies', { kind: val('kind'), target: val('target').trim(), room: val('room').trim(), from: fromISO, to: toISO, open: val('open') === '1' ? 1 : null, limit: 200 }, ctx.signal)
      .then((page) => {
        const list = page.anomalies ?? [];
        summary.textContent = list.length ? t('anomaly.shown', { n: fmtNum(list.length) }) : '';
        summary.dataset.shown = String(list.length);
        setChildren(box, list.length
          ? h('div', { class: 'list-group', id: 'anomalies-list' }, list.map(anomalyRow))
          : h('p', { class: 'text-body-secondary', id: 'anomalies-empty' }, t('anomaly.none')));
      })
      .catch((e) => {
        if (isAbort(e)) return;
        summary.textContent = '';
        setChildren(box, failure(e, 'anomalies'));
      });
  }
  load();
}

/** anomalyRow is one anomaly: kind, where, when, score and its explanation in the UI's language. */
export function anomalyRow(a: Anomaly): HTMLElement {
  const kind = kindOf(a);
  const where = [a.target, a.room].filter(Boolean).join(' / ');
  const sp = new URLSearchParams();
  if (a.target) sp.set('target', a.target);
  if (a.room) sp.set('room', a.room);
  if (a.user) sp.set('user', a.user);
  const from = toLocalInput(a.start);
  if (from) sp.set('from', from);
  const endLocal = toLocalInput(a.end ? new Date(new Date(a.end).getTime() + 60000).toISOString() : null);
  if (endLocal) sp.set('to', endLocal);
  return h('div', { class: 'list-group-item anomaly-row' + (a.open ? ' anomaly-open' : ''), dataset: { id: String(a.id), code: a.code, kind, open: a.open ? '1' : '0' } },
    h('div', { class: 'msg-meta small' },
      h('span', { class: 'badge text-bg-warning anomaly-kind', dataset: { kind } }, kindLabel(kind)),
      where ? h('span', { class: 'anomaly-where fw-semibold text-truncate', title: where }, where) : null,
      a.user ? h('span', { class: 'anomaly-user' }, a.user) : null,
      h('span', { class: 'anomaly-when text-body-secondary', title: fmtTime(a.start) + ' – ' + (a.end ? fmtTime(a.end) : t('anomaly.ongoing')) },
        fmtShort(a.start), ' – ', a.end ? fmtShort(a.end) : null),
      a.open ? h('span', { class: 'badge text-bg-danger anomaly-state' }, t('anomaly.ongoing')) : null,
      h('span', { class: 'badge text-bg-light border anomaly-score', title: t('anomaly.scoreTitle') }, t('anomaly.score', { n: fmtScore(a.score, 1).replace(/^\+/, '') }))),
    h('div', { class: 'anomaly-text' }, anomalyText(a)),
    h('a', { class: 'small anomaly-messages', href: '#/search?' + sp.toString() }, t('anomaly.messages')));
}
