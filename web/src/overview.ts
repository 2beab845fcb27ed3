// The targets overview on the dashboard: one row per target with its state,
// protocol, a messages-per-minute sparkline, the age of its last message,
// its reconnects today and its message counts. Built only from existing
// APIs:
//
//   - /api/targets every refresh interval: state, protocol, last message
//     and `frames` (records received since the monitor started). The rate
//     is the growth of `frames` between two polls, per minute; the
//     sparkline holds the samples taken while this page is open (the API
//     has no per-minute history).
//   - /api/sessions (limit 1000) every minute: reconnects today are the
//     sessions (and recorded failed attempts) started since local midnight,
//     not counting a target's very first connection. When the 1000 returned
//     all fall within today the count is shown as "≥ n".
//   - /api/stats?target= every minute for each target (at most 50): total
//     and today's messages, answered from the rollups.
//
// Clicking a target narrows the dashboard to it (the URL changes).

import { get, isAbort, MonitorStatus, Sessions, Stats, TargetList } from './api';
import { h, setChildren } from './dom';
import { fmtNum, fmtRel, fmtTime, parseTime } from './format';
import { t, tOr } from './i18n';
import { monitorDead, shownState, stateClass } from './state';

const svgNS = 'http://www.w3.org/2000/svg';
const maxSamples = 30;
const maxStatTargets = 50;

interface Row {
  name: string;
  state: string;
  protocol: string;
  lastMessageAt: string | null;
  frames: number | null;
  errorCode?: string;
}

interface Sample {
  at: number;
  frames: number;
}

export interface OverviewOptions {
  signal: AbortSignal;
  /** web_refresh_interval in ms */
  interval: number;
  /** the target the dashboard is narrowed to, "" for all */
  selected: string;
  /** the dashboard URL narrowed to a target */
  select: (target: string) => string;
}

/** perMinute turns frame-counter samples into rates per minute (one per pair of samples). */
export function perMinute(samples: Sample[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = samples[i].at - samples[i - 1].at;
    const df = samples[i].frames - samples[i - 1].frames;
    if (dt <= 0) continue;
    out.push(df < 0 ? 0 : (df * 60000) / dt); // a restarted monitor counts from 0 again
  }
  return out;
}

/** reconnectsToday counts per target the connection attempts since midnight, the first ever one left out. */
export function reconnectsToday(data: Sessions, now = new Date()): { counts: Map<string, number>; truncated: boolean } {
  const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  const counts = new Map<string, number>();
  const sessions = data.sessions ?? [];
  // Newest first: the oldest of a target in the answer is its first ever
  // unless the answer was cut at the limit.
  const truncated = sessions.length >= 1000;
  const oldest = new Map<string, number>();
  for (const s of sessions) oldest.set(s.target, s.id);
  for (const s of sessions) {
    const at = parseTime(s.attempt ? s.at ?? null : s.connected_at)?.getTime() ?? 0;
    if (at < midnight) continue;
    if (!truncated && oldest.get(s.target) === s.id) continue; // the first connection is no reconnect
    counts.set(s.target, (counts.get(s.target) ?? 0) + 1);
  }
  return { counts, truncated };
}

function sparkline(values: number[]): SVGSVGElement {
  const w = 96;
  const hgt = 24;
  const svg = document.createElementNS(svgNS, 'svg');
  svg.setAttribute('class', 'sparkline');
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  svg.setAttribute('width', String(w));
  svg.setAttribute('height', String(hgt));
  svg.setAttribute('aria-hidden', 'true');
  if (values.length < 2) return svg;
  const top = Math.max(1, ...values);
  const step = w / (maxSamples - 2);
  const x0 = w - step * (values.length - 1);
  const pts = values.map((v, i) => `${(x0 + i * step).toFixed(1)},${(hgt - 2 - (v / top) * (hgt - 4)).toFixed(1)}`).join(' ');
  const line = document.createElementNS(svgNS, 'polyline');
  line.setAttribute('points', pts);
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#0d6efd');
  line.setAttribute('stroke-width', '1.5');
  svg.appendChild(line);
  return svg;
}

export class TargetsOverview {
  readonly el: HTMLElement;
  private readonly body: HTMLElement;
  private rows = new Map<string, Row>();
  private samples = new Map<string, Sample[]>();
  private reconnects: { counts: Map<string, number>; truncated: boolean } | null = null;
  private stats = new Map<string, Stats>();
  private asked = new Set<string>();
  private timers: number[] = [];

  constructor(private readonly opt: OverviewOptions) {
    this.body = h('div', { class: 'table-responsive-stack' }, h('p', { class: 'text-body-secondary small m-3' }, t('common.loading')));
    this.el = h('div', { class: 'card mb-3', id: 'targets-overview' },
      h('div', { class: 'card-header' }, h('h2', { class: 'h6 mb-0' }, t('overview.title'))),
      this.body);
    this.pollTargets();
    this.pollSlow();
    this.timers.push(window.setInterval(() => this.pollTargets(), Math.max(2000, opt.interval)));
    this.timers.push(window.setInterval(() => this.pollSlow(), 60000));
    opt.signal.addEventListener('abort', () => this.timers.forEach((x) => clearInterval(x)));
  }

  /** setStatus takes the monitor status of stats and the live stream. */
  setStatus(monitor: MonitorStatus[]): void {
    for (const m of monitor) {
      const r = this.rows.get(m.target);
      const row: Row = { frames: r?.frames ?? null, ...r, name: m.target, state: m.state, protocol: m.protocol || r?.protocol || '',
        lastMessageAt: m.last_message_at, errorCode: m.error_code };
      this.rows.set(m.target, row);
    }
    this.render();
  }

  private pollTargets(): void {
    if (document.hidden) return;
    get<TargetList>('/api/targets', undefined, this.opt.signal)
      .then((list) => {
        const now = Date.now();
        const seen = new Set<string>();
        for (const tg of list.targets ?? []) {
          seen.add(tg.name);
          this.rows.set(tg.name, {
            name: tg.name, state: tg.state, protocol: tg.protocol_in_use || tg.protocol || '',
            lastMessageAt: tg.last_message_at, frames: typeof tg.frames === 'number' ? tg.frames : null, errorCode: tg.error_code,
          });
          if (typeof tg.frames === 'number') {
            const s = this.samples.get(tg.name) ?? [];
            s.push({ at: now, frames: tg.frames });
            if (s.length > maxSamples) s.splice(0, s.length - maxSamples);
            this.samples.set(tg.name, s);
          }
        }
        for (const name of [...this.rows.keys()]) if (!seen.has(name)) this.rows.delete(name);
        // A target seen for the first time gets its counts now, not at the next minute.
        this.fetchStats([...this.rows.keys()].filter((n) => !this.stats.has(n) && !this.asked.has(n)).slice(0, maxStatTargets));
        this.render();
      })
      .catch((e) => {
        if (!isAbort(e)) this.render();
      });
  }

  private pollSlow(): void {
    if (document.hidden) return;
    get<Sessions>('/api/sessions', { limit: 1000 }, this.opt.signal)
      .then((s) => {
        this.reconnects = reconnectsToday(s);
        this.render();
      })
      .catch(() => {});
    this.fetchStats([...this.rows.keys()].slice(0, maxStatTargets));
  }

  private fetchStats(names: string[]): void {
    for (const name of names) {
      this.asked.add(name);
      get<Stats>('/api/stats', { target: name }, this.opt.signal)
        .then((st) => {
          this.stats.set(name, st);
          this.render();
        })
        .catch(() => {});
    }
  }

  private render(): void {
    const rows = [...this.rows.values()].sort((a, b) => a.name.localeCompare(b.name));
    if (!rows.length) {
      setChildren(this.body, h('p', { class: 'text-body-secondary small m-3', id: 'overview-empty' }, t('overview.none')));
      return;
    }
    const L = {
      target: t('overview.target'), state: t('overview.state'), protocol: t('overview.protocol'), rate: t('overview.rate'),
      last: t('overview.lastMessage'), reconnects: t('overview.reconnectsToday'), total: t('overview.total'), today: t('overview.today'),
    };
    const td = (label: string, ...children: (Node | string | null)[]) => h('td', { 'data-label': label }, ...children);
    const body = rows.map((r) => {
      const state = shownState({ state: r.state, error_code: r.errorCode });
      const rates = perMinute(this.samples.get(r.name) ?? []);
      const rate = rates.length ? rates[rates.length - 1] : null;
      const rc = this.reconnects?.counts.get(r.name) ?? 0;
      const st = this.stats.get(r.name);
      const selected = r.name === this.opt.selected;
      return h('tr', { dataset: { target: r.name, state }, class: selected ? 'table-active' : '', 'aria-current': selected ? 'true' : null },
        td(L.target, h('a', { class: 'fw-semibold text-decoration-none overview-select', href: this.opt.select(r.name), title: t('overview.select', { target: r.name }) }, r.name)),
        td(L.state, h('span', { class: `badge ${stateClass[state] ?? 'text-bg-secondary'}` }, tOr('state.' + state, state || '?'))),
        td(L.protocol, r.protocol || t('common.none')),
        td(L.rate, h('span', { class: 'd-inline-flex align-items-center gap-2 overview-rate', title: t('overview.rateTitle'), dataset: { rate: rate === null ? '' : String(Math.round(rate)) } },
          sparkline(rates),
          h('span', { class: 'small' }, rate === null ? t('overview.collecting') : t('overview.rateNow', { n: fmtNum(Math.round(rate)) })))),
        td(L.last, h('span', { title: fmtTime(r.lastMessageAt), class: 'overview-last' }, r.lastMessageAt ? fmtRel(r.lastMessageAt) : t('common.none'))),
        td(L.reconnects, this.reconnects
          ? h('span', { class: 'overview-reconnects', title: t('overview.reconnectsTitle'), dataset: { value: String(rc) } },
            this.reconnects.truncated ? t('overview.atLeast', { n: fmtNum(rc) }) : fmtNum(rc))
          : t('common.none')),
        td(L.total, st ? h('span', { class: 'overview-total', dataset: { value: String(st.total_messages) } }, fmtNum(st.total_messages)) : t('common.none')),
        td(L.today, st ? fmtNum(st.today_messages) : t('common.none')));
    });
    const dead = rows.some((r) => monitorDead({ state: r.state, error_code: r.errorCode }));
    setChildren(this.body,
      h('table', { class: 'table table-sm table-hover align-middle mb-0 table-stack', id: 'overview-table', dataset: { dead: String(dead) } },
        h('thead', null, h('tr', null, Object.values(L).map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', null, body)));
  }
}
