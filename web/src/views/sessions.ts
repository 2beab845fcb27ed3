// The sessions page (#/sessions?target=): per target a horizontal timeline
// of connection sessions (green, red when they ended with an error), failed
// connection attempts (dark ticks) and gaps in coverage, then the sessions and gaps as tables that stack into
// cards on narrow screens.

import { Gap, get, isAbort, Session, Sessions } from '../api';
import { h, setChildren } from '../dom';
import { fmtDuration, fmtNum, fmtTime, parseTime } from '../format';
import { t } from '../i18n';
import type { ViewContext } from '../main';
import { errText, targetError } from '../errors';

function ms(s: string | null | undefined, fallback: number): number {
  return parseTime(s)?.getTime() ?? fallback;
}

/** span is when a session (or a failed attempt, an instant) began and ended, in ms. */
function extent(s: Session, now: number): [number, number] {
  if (s.attempt) {
    const at = ms(s.at ?? s.connected_at, now);
    return [at, at];
  }
  return [ms(s.connected_at, now), ms(s.disconnected_at, now)];
}

function td(label: string, ...children: (Node | string | null)[]): HTMLTableCellElement {
  return h('td', { 'data-label': label }, ...children);
}

export function sessionsView(root: HTMLElement, ctx: ViewContext): void {
  const target = ctx.params.get('target') ?? '';
  const input = h('input', { class: 'form-control form-control-sm', id: 'sessions-target', name: 'target', value: target, placeholder: t('sessions.target'), 'aria-label': t('sessions.target'), autocomplete: 'off' });
  const form = h('form', { class: 'd-flex align-items-center gap-2 sessions-filter', role: 'search' },
    input, h('button', { type: 'submit', class: 'btn btn-sm btn-primary text-nowrap' }, t('common.apply')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = input.value.trim();
    location.hash = '#/sessions' + (v ? '?target=' + encodeURIComponent(v) : '');
  });
  const body = h('div', null, h('p', { class: 'text-body-secondary' }, t('common.loading')));
  setChildren(root,
    h('div', { class: 'd-flex flex-wrap justify-content-between align-items-center gap-2 mb-3' },
      h('h1', { class: 'h4 mb-0' }, t('sessions.title')), form),
    body);

  get<Sessions>('/api/sessions', { target, limit: 100 }, ctx.signal)
    .then((data) => render(body, data.sessions ?? [], data.gaps ?? []))
    .catch((e) => {
      if (isAbort(e)) return;
      setChildren(body, h('div', { class: 'alert alert-danger' }, t('common.error', { msg: errText(e) })));
    });
}

function render(body: HTMLElement, sessions: Session[], gaps: Gap[]): void {
  if (!sessions.length && !gaps.length) {
    setChildren(body, h('div', { class: 'alert alert-info', id: 'sessions-empty' }, t('sessions.none')));
    return;
  }
  const now = Date.now();
  let start = Infinity;
  let end = -Infinity;
  for (const s of sessions) {
    const [a, b] = extent(s, now);
    start = Math.min(start, a);
    end = Math.max(end, b);
  }
  for (const g of gaps) {
    start = Math.min(start, ms(g.from, now));
    end = Math.max(end, ms(g.to, now));
  }
  const span = Math.max(1, end - start);
  const place = (el: HTMLElement, a: number, b: number) => {
    el.style.left = `${((a - start) / span) * 100}%`;
    el.style.width = `${Math.max(0.4, ((b - a) / span) * 100)}%`;
  };

  const targets = [...new Set([...sessions.map((s) => s.target), ...gaps.map((g) => g.target)])].sort();
  const rows = targets.map((name) => {
    const track = h('div', { class: 'timeline-track' });
    for (const s of sessions.filter((x) => x.target === name)) {
      const [a, b] = extent(s, now);
      if (s.attempt) {
        const tick = h('div', { class: 'timeline-attempt', dataset: { attempt: String(s.id) },
          title: t('sessions.attemptTitle', { time: fmtTime(s.at ?? null), err: targetError(s.error_code, s.error) }) });
        place(tick, a, b);
        track.appendChild(tick);
        continue;
      }
      const bar = h('div', {
        class: 'timeline-bar ' + (s.error ? 'bg-danger' : 'bg-success') + (s.disconnected_at ? '' : ' timeline-open'),
        dataset: { session: String(s.id) },
        title: t('sessions.barTitle', { from: fmtTime(s.connected_at), to: s.disconnected_at ? fmtTime(s.disconnected_at) : t('sessions.ongoing'), dur: fmtDuration((b - a) / 1000), n: fmtNum(s.messages) }) + (s.error ? '\n' + s.error : ''),
      });
      place(bar, a, b);
      track.appendChild(bar);
    }
    for (const g of gaps.filter((x) => x.target === name)) {
      const a = ms(g.from, now);
      const b = ms(g.to, now);
      const gap = h('div', { class: 'timeline-gap', title: t('sessions.gapTitle', { from: fmtTime(g.from), to: fmtTime(g.to), dur: fmtDuration(g.seconds) }) });
      place(gap, a, b);
      track.appendChild(gap);
    }
    return h('div', { class: 'timeline-row', dataset: { target: name } },
      h('div', { class: 'timeline-label text-truncate small fw-semibold', title: name }, name), track);
  });

  const iso = (ms: number) => new Date(ms).toISOString();
  const timeline = h('div', { class: 'card mb-3' },
    h('div', { class: 'card-header d-flex flex-wrap gap-3 align-items-center' },
      h('h2', { class: 'h6 mb-0 me-auto' }, t('sessions.timeline')),
      h('span', { class: 'small' }, h('span', { class: 'legend-swatch bg-success' }), t('sessions.legendSession')),
      h('span', { class: 'small' }, h('span', { class: 'legend-swatch bg-danger' }), t('sessions.legendError')),
      h('span', { class: 'small' }, h('span', { class: 'legend-swatch timeline-gap-swatch' }), t('sessions.legendGap')),
      h('span', { class: 'small' }, h('span', { class: 'legend-swatch timeline-attempt-swatch' }), t('sessions.legendAttempt'))),
    h('div', { class: 'card-body', id: 'sessions-timeline' },
      rows,
      h('div', { class: 'timeline-axis small text-body-secondary' },
        h('span', null, fmtTime(iso(start))), h('span', null, fmtTime(iso(end))))));

  const L = {
    id: '#', target: t('sessions.target'), url: t('sessions.url'), connected: t('sessions.connected'), disconnected: t('sessions.disconnected'),
    duration: t('sessions.duration'), close: t('sessions.close'), messages: t('sessions.messages'), error: t('sessions.error'),
  };
  const table = h('table', { class: 'table table-sm table-hover align-middle mb-0 table-stack', id: 'sessions-table' },
    h('thead', null, h('tr', null, Object.values(L).map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', null, sessions.map((s) => {
      const [a, b] = extent(s, now);
      const dur = (b - a) / 1000;
      const close = s.disconnected_at ? [s.close_code ? String(s.close_code) : '', s.close_reason].filter(Boolean).join(' ') : '';
      return h('tr', { dataset: { session: String(s.id), target: s.target, kind: s.attempt ? 'attempt' : 'session' }, class: s.attempt ? 'session-attempt' : '' },
        td(L.id, String(s.id)),
        td(L.target, s.target),
        td(L.url, h('span', { class: 'text-break small' }, s.url)),
        td(L.connected, fmtTime(s.attempt ? s.at ?? null : s.connected_at)),
        td(L.disconnected, s.attempt
          ? h('span', { class: 'badge text-bg-danger' }, t('sessions.attemptFailed'))
          : s.disconnected_at ? fmtTime(s.disconnected_at) : h('span', { class: 'badge text-bg-success' }, t('sessions.ongoing'))),
        td(L.duration, s.attempt ? t('common.none') : fmtDuration(dur)),
        td(L.close, close || t('common.none')),
        td(L.messages, fmtNum(s.messages)),
        td(L.error, s.error || s.http_status
          ? h('span', { class: 'text-danger text-break small session-error', dataset: { code: s.error_code ?? '' } },
            [s.http_status ? t('sessions.httpStatus', { status: s.http_status }) : '', targetError(s.error_code, s.error)].filter(Boolean).join(' · '))
          : t('common.none')));
    })));

  const G = { target: t('sessions.target'), from: t('sessions.gapFrom'), to: t('sessions.gapTo'), len: t('sessions.gapLength') };
  const gapsTable = gaps.length
    ? h('table', { class: 'table table-sm align-middle mb-0 table-stack', id: 'gaps-table' },
        h('thead', null, h('tr', null, Object.values(G).map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', null, gaps.map((g) => h('tr', { dataset: { target: g.target } },
          td(G.target, g.target), td(G.from, fmtTime(g.from)), td(G.to, fmtTime(g.to)), td(G.len, fmtDuration(g.seconds))))))
    : h('p', { class: 'text-body-secondary small m-3' }, t('sessions.noGaps'));

  setChildren(body,
    timeline,
    h('div', { class: 'card mb-3' },
      h('div', { class: 'card-header' }, h('h2', { class: 'h6 mb-0' }, t('sessions.table'))),
      h('div', { class: 'table-responsive-stack' }, table)),
    h('div', { class: 'card mb-3' },
      h('div', { class: 'card-header' }, h('h2', { class: 'h6 mb-0' }, t('sessions.gaps'))),
      gapsTable));
}
