// The activity tab of the analysis view (#/analysis/activity?target=&room=
// &user=&from=&to=&step=): GET /api/analysis/activity. The messages per
// step of the range on a line chart with the previous period of the same
// length overlaid (dashed), the totals compared (Δ %), the 7×24 heatmap of
// the range and its top rooms; without a filter also the whole chat's
// users: new vs returning per day, retention of each day's new users
// (d1/d7/d30 as % of them, "—" where the day is still to come) and how the
// messages are spread over the users (buckets, the top 1 % / 10 % share).
// With analysis_behaviour off (/api/ui-config) it names that key and asks
// nothing.

import type { Chart } from 'chart.js';
import { Activity, ActivityStep, ActivityUsers, behaviourOn, get, isAbort, Target, TargetList } from '../api';
import { multiChart } from '../charts';
import { h, setChildren } from '../dom';
import { fmtDay, fmtNum, fromLocalInput, toLocalInput } from '../format';
import { heatmapTable } from '../heatmap';
import { locale, t } from '../i18n';
import type { ViewContext } from '../main';
import { failure, fillList, go, hashWith, label, offNote } from './analysis';

const steps: readonly ActivityStep[] = ['minute', 'hour', 'day'];
const colorNow = '#0d6efd';
const colorPrev = '#6c757d';
const colorNew = '#198754';
const colorReturning = '#0d6efd';

/** pct formats a share (0.123) as "12.3 %" in the UI's language, "—" for null. */
export function pct(x: number | null | undefined, digits = 1): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return t('common.none');
  return new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(x);
}

/** deltaPct is the change from prev to now as a signed percentage, "—" when prev is 0. */
export function deltaPct(now: number, prev: number): string {
  if (!prev) return t('common.none');
  return new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 1, signDisplay: 'exceptZero' }).format((now - prev) / prev);
}

/** timeLabels formats instants for a step in the server's zone (the browser's when Intl does not know it). */
function timeFormat(step: ActivityStep, tz: string): Intl.DateTimeFormat {
  const o: Intl.DateTimeFormatOptions = step === 'day'
    ? { month: 'short', day: 'numeric' }
    : { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  try {
    return new Intl.DateTimeFormat(locale(), { ...o, timeZone: tz || undefined });
  } catch {
    return new Intl.DateTimeFormat(locale(), o);
  }
}

export function activityTab(root: HTMLElement, ctx: ViewContext): void {
  if (!behaviourOn(ctx.cfg)) {
    setChildren(root, offNote(t('analysis.tabActivity'), 'analysis_behaviour'));
    return;
  }
  const val = (k: string) => ctx.params.get(k) ?? '';
  const targets = h('datalist', { id: 'activity-targets' });
  const input = (id: string, name: string, ph: string, list?: string) =>
    h('input', { class: 'form-control form-control-sm', id, name, value: val(name), placeholder: ph, autocomplete: 'off', list: list ?? null });
  const target = input('activity-target', 'target', t('filter.allTargets'), 'activity-targets');
  const room = input('activity-room', 'room', t('filter.allRooms'));
  const user = input('activity-user', 'user', t('activity.allUsers'));
  const from = h('input', { type: 'datetime-local', class: 'form-control form-control-sm', id: 'activity-from', name: 'from', value: val('from') });
  const to = h('input', { type: 'datetime-local', class: 'form-control form-control-sm', id: 'activity-to', name: 'to', value: val('to') });
  const step = h('select', { class: 'form-select form-select-sm', id: 'activity-step', name: 'step' },
    h('option', { value: '' }, t('activity.stepAuto')), steps.map((s) => h('option', { value: s }, t(`activity.step.${s}`))));
  step.value = (steps as readonly string[]).includes(val('step')) ? val('step') : '';
  const form = h('form', { class: 'row g-2 align-items-end mb-3', id: 'activity-filter' },
    h('div', { class: 'col-6 col-md-4 col-lg-2' }, label('activity-target', t('filter.target')), target, targets),
    h('div', { class: 'col-6 col-md-4 col-lg-2' }, label('activity-room', t('filter.room')), room),
    h('div', { class: 'col-6 col-md-4 col-lg-2' }, label('activity-user', t('activity.user')), user),
    h('div', { class: 'col-6 col-md-4 col-lg-2' }, label('activity-from', t('filter.from')), from),
    h('div', { class: 'col-6 col-md-4 col-lg-2' }, label('activity-to', t('filter.to')), to),
    h('div', { class: 'col-6 col-md-4 col-lg-1' }, label('activity-step', t('activity.stepLabel')), step),
    h('div', { class: 'col-12 col-lg-auto d-flex gap-2' },
      h('button', { type: 'submit', class: 'btn btn-sm btn-primary', id: 'activity-apply' }, t('common.apply')),
      h('a', { class: 'btn btn-sm btn-outline-secondary', href: '#/analysis/activity' }, t('common.reset'))));
  const current = () => ({ target: target.value, room: room.value, user: user.value, from: from.value, to: to.value, step: step.value });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go(hashWith('activity', current()), load);
  });
  const box = h('div', { id: 'activity-box' }, h('p', { class: 'text-body-secondary' }, t('common.loading')));
  setChildren(root, form, box);
  get<TargetList>('/api/targets', undefined, ctx.signal).then((l) => fillList(targets, (l.targets ?? []).map((x: Target) => x.name))).catch(() => {});

  const charts: Chart[] = [];
  const destroy = () => charts.splice(0).forEach((c) => c.destroy());
  ctx.signal.addEventListener('abort', destroy);

  function load() {
    const fromISO = fromLocalInput(val('from'));
    const toISO = fromLocalInput(val('to'));
    if (fromISO && toISO && fromISO >= toISO) {
      setChildren(box, h('div', { class: 'alert alert-warning' }, t('search.badRange')));
      return;
    }
    get<Activity>('/api/analysis/activity', { target: val('target').trim(), room: val('room').trim(), user: val('user').trim(), from: fromISO, to: toISO, step: val('step') }, ctx.signal)
      .then((res) => {
        if (!from.value) from.value = toLocalInput(res.from);
        if (!to.value) to.value = toLocalInput(res.to);
        render(res);
      })
      .catch((e) => {
        if (isAbort(e)) return;
        destroy();
        setChildren(box, failure(e, 'activity'));
      });
  }

  function render(res: Activity) {
    destroy();
    const series = res.series ?? [];
    const prev = res.previous?.series ?? [];
    const f = timeFormat(res.step, ctx.cfg.time_zone);
    const labels = series.map((p) => f.format(new Date(p.t)));
    const prevTotal = res.previous?.total ?? 0;
    const where = [val('target').trim() || t('filter.allTargets'), val('room').trim() || t('filter.allRooms')].join(' / ') +
      (val('user').trim() ? ' · ' + t('activity.byUser', { user: val('user').trim() }) : '');
    // The end is exclusive: a range of days shows its last day.
    const range = (a: string, b: string) => `${f.format(new Date(a))} – ${f.format(new Date(new Date(b).getTime() - (res.step === 'day' ? 1 : 0)))}`;
    const totals = h('div', { class: 'card mb-3', id: 'activity-totals', dataset: { total: String(res.total), previous: String(prevTotal), step: res.step, points: String(series.length) } },
      h('div', { class: 'card-body d-flex flex-wrap gap-4 align-items-end' },
        h('div', null,
          h('div', { class: 'small text-body-secondary' }, t('activity.total'), ' · ', where),
          h('div', { class: 'fs-4 fw-semibold', id: 'activity-total' }, fmtNum(res.total)),
          h('div', { class: 'small text-body-secondary' }, range(res.from, res.to))),
        h('div', null,
          h('div', { class: 'small text-body-secondary' }, t('activity.previous')),
          h('div', { class: 'fs-5', id: 'activity-previous' }, fmtNum(prevTotal)),
          h('div', { class: 'small text-body-secondary' }, res.previous ? range(res.previous.from, res.previous.to) : t('common.none'))),
        h('div', null,
          h('div', { class: 'small text-body-secondary' }, t('activity.change')),
          h('div', { class: 'fs-5 ' + (!prevTotal ? '' : res.total > prevTotal ? 'text-success' : res.total < prevTotal ? 'text-danger' : ''), id: 'activity-delta', title: t('activity.changeTitle') }, deltaPct(res.total, prevTotal))),
        h('div', { class: 'small text-body-secondary ms-auto' }, t('activity.stepIs', { step: t(`activity.step.${res.step}`) }))));
    const canvas = h('canvas', { id: 'activity-chart', role: 'img', 'aria-label': t('activity.chart') });
    const card = (id: string, title: string, hint: string | null, ...children: (Node | null)[]) =>
      h('div', { class: 'card h-100', id },
        h('div', { class: 'card-header' }, h('h2', { class: 'h6 mb-0' }, title), hint ? h('div', { class: 'small text-body-secondary' }, hint) : null),
        ...children);
    const rooms = res.rooms;
    const L = { target: t('filter.target'), room: t('filter.room'), n: t('chart.messages') };
    const roomsCard = rooms === undefined || rooms === null ? null : h('div', { class: 'col-12 col-xl-5' },
      card('activity-rooms-card', t('activity.rooms'), null,
        rooms.length
          ? h('div', { class: 'table-responsive-stack' }, h('table', { class: 'table table-sm align-middle mb-0 table-stack', id: 'activity-rooms' },
            h('thead', null, h('tr', null, h('th', { scope: 'col' }, L.target), h('th', { scope: 'col' }, L.room), h('th', { scope: 'col', class: 'text-end' }, L.n))),
            h('tbody', null, rooms.map((r) => h('tr', { dataset: { target: r.target, room: r.room, messages: String(r.messages) } },
              h('td', { 'data-label': L.target }, h('span', { class: 'text-break' }, r.target)),
              h('td', { 'data-label': L.room }, h('a', { class: 'text-break', href: hashWith('activity', { ...current(), target: r.target, room: r.room }) }, r.room || t('common.empty'))),
              h('td', { 'data-label': L.n, class: 'text-end' }, fmtNum(r.messages)))))))
          : h('p', { class: 'text-body-secondary small m-3', id: 'activity-rooms-empty' }, t('activity.noRooms'))));
    setChildren(box, totals,
      h('div', { class: 'row g-3' },
        h('div', { class: 'col-12' },
          card('activity-series', t('activity.chart'), t('activity.chartHint'),
            h('div', { class: 'card-body' }, h('div', { class: 'chart-box' }, canvas)))),
        h('div', { class: roomsCard ? 'col-12 col-xl-7' : 'col-12' },
          card('activity-heatmap-card', t('activity.heatmap'), t('activity.heatmapHint', { tz: ctx.cfg.time_zone || 'UTC' }),
            h('div', { class: 'card-body' }, heatmapTable('activity-heatmap', res.heatmap, t('activity.heatmap'))))),
        roomsCard),
      res.users ? usersPart(res.users) : h('p', { class: 'small text-body-secondary mt-3', id: 'activity-users-filtered' }, t('activity.usersFiltered')));
    charts.push(multiChart('line', canvas, labels, [
      { label: t('activity.thisPeriod'), data: series.map((p) => p.count), color: colorNow },
      { label: t('activity.prevPeriod'), data: series.map((_, i) => prev[i]?.count ?? 0), color: colorPrev, dashed: true },
    ]));
  }

  function usersPart(u: ActivityUsers): HTMLElement {
    const daily = u.daily ?? [];
    const canvas = h('canvas', { id: 'activity-users-chart', role: 'img', 'aria-label': t('activity.newReturning') });
    const card = (id: string, title: string, hint: string | null, ...children: (Node | null)[]) =>
      h('div', { class: 'card h-100', id },
        h('div', { class: 'card-header' }, h('h2', { class: 'h6 mb-0' }, title), hint ? h('div', { class: 'small text-body-secondary' }, hint) : null),
        ...children);
    const R = { date: t('activity.cohort'), n: t('activity.newUsers'), d1: t('activity.d1'), d7: t('activity.d7'), d30: t('activity.d30') };
    const share = (n: number | null, of: number) => (n === null || n === undefined ? t('common.none') : of ? pct(n / of) : t('common.none'));
    const retention = u.retention ?? [];
    const retentionTable = retention.length
      ? h('div', { class: 'table-responsive-stack' }, h('table', { class: 'table table-sm align-middle mb-0 table-stack', id: 'activity-retention' },
        h('thead', null, h('tr', null, Object.values(R).map((x, i) => h('th', { scope: 'col', class: i ? 'text-end' : '' }, x)))),
        h('tbody', null, retention.map((r) => h('tr', { dataset: { date: r.date, new: String(r.new), d1: String(r.d1), d7: String(r.d7), d30: String(r.d30) } },
          h('td', { 'data-label': R.date }, fmtDay(r.date)),
          h('td', { 'data-label': R.n, class: 'text-end' }, fmtNum(r.new)),
          (['d1', 'd7', 'd30'] as const).map((k) => h('td', { 'data-label': R[k], class: 'text-end', title: r[k] === null ? t('activity.future') : fmtNum(r[k]) }, share(r[k], r.new))))))))
      : h('p', { class: 'text-body-secondary small m-3', id: 'activity-retention-empty' }, t('activity.noRetention'));
    const d = u.distribution;
    const B = { range: t('activity.bucket'), users: t('activity.bucketUsers'), messages: t('activity.bucketMessages') };
    const buckets = d?.buckets ?? [];
    const distTable = buckets.length
      ? h('div', { class: 'table-responsive-stack' }, h('table', { class: 'table table-sm align-middle mb-0 table-stack', id: 'activity-distribution' },
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, B.range), h('th', { scope: 'col', class: 'text-end' }, B.users), h('th', { scope: 'col', class: 'text-end' }, B.messages))),
        h('tbody', null, buckets.map((b) => h('tr', { dataset: { min: String(b.min), max: String(b.max), users: String(b.users), messages: String(b.messages) } },
          h('td', { 'data-label': B.range }, b.min === b.max ? fmtNum(b.min) : `${fmtNum(b.min)}–${fmtNum(b.max)}`),
          h('td', { 'data-label': B.users, class: 'text-end' }, fmtNum(b.users), h('span', { class: 'text-body-secondary small ms-1' }, '(', d.users ? pct(b.users / d.users) : t('common.none'), ')')),
          h('td', { 'data-label': B.messages, class: 'text-end' }, fmtNum(b.messages), h('span', { class: 'text-body-secondary small ms-1' }, '(', d.messages ? pct(b.messages / d.messages) : t('common.none'), ')')))))))
      : h('p', { class: 'text-body-secondary small m-3', id: 'activity-distribution-empty' }, t('activity.noUsers'));
    const shares = h('div', { class: 'card-body border-bottom small', id: 'activity-shares', dataset: { top1: String(d?.top1_share ?? ''), top10: String(d?.top10_share ?? '') } },
      t('activity.shares', { users: fmtNum(d?.users), messages: fmtNum(d?.messages), top1: pct(d?.top1_share), top10: pct(d?.top10_share) }));
    const part = h('div', { class: 'row g-3 mt-0', id: 'activity-users' },
      h('div', { class: 'col-12 col-xl-6' },
        card('activity-users-card', t('activity.newReturning'), t('activity.newReturningHint'),
          h('div', { class: 'card-body' }, h('div', { class: 'chart-box' }, canvas)))),
      h('div', { class: 'col-12 col-xl-6' }, card('activity-retention-card', t('activity.retention'), t('activity.retentionHint'), retentionTable)),
      h('div', { class: 'col-12' }, card('activity-distribution-card', t('activity.distribution'), t('activity.distributionHint'), shares, distTable)));
    // Drawn once the canvas is in the page (Chart.js measures its box).
    queueMicrotask(() => {
      if (ctx.signal.aborted || !canvas.isConnected) return;
      charts.push(multiChart('bar', canvas, daily.map((x) => fmtDay(x.date)), [
        { label: t('activity.new'), data: daily.map((x) => x.new), color: colorNew },
        { label: t('activity.returning'), data: daily.map((x) => x.returning), color: colorReturning },
      ], true));
    });
    return part;
  }
  load();
}
