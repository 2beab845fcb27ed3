// The user page (#/user/NAME): message count, first/last seen, a 24-hour
// activity chart and the user's recent messages (GET /api/users/{name});
// with analysis_behaviour on (/api/ui-config "analyses" lists
// "behaviour") also GET /api/analysis/users/{name}: days active, sessions,
// messages per day (Chart.js), the 7×24 heatmap, rooms, and who speaks
// right before and after them (links to their pages). With it off the page
// names the key that turns it on and asks nothing.

import type { Chart } from 'chart.js';
import { ApiError, behaviourOn, get, isAbort, seg, UserBehaviour, UserInfo, UserPeer } from '../api';
import { barChart } from '../charts';
import { h, setChildren } from '../dom';
import { fmtDay, fmtDuration, fmtNum, fmtRel, fmtTime } from '../format';
import { heatmapTable } from '../heatmap';
import { t } from '../i18n';
import type { ViewContext } from '../main';
import { messageRow, userHref } from '../msgrow';
import { offNote } from './analysis';
import { openContext } from './context';
import { errText } from '../errors';

export function userView(root: HTMLElement, ctx: ViewContext, name: string): void {
  setChildren(root,
    h('h1', { class: 'h4 mb-3 text-break', id: 'user-name' }, t('user.title', { name })),
    h('p', { class: 'text-body-secondary' }, t('common.loading')));
  let chart: Chart | null = null;
  ctx.signal.addEventListener('abort', () => chart?.destroy());
  const behaviour = behaviourSection(ctx, name);

  get<UserInfo>(`/api/users/${seg(name)}`, undefined, ctx.signal)
    .then((u) => {
      const stat = (id: string, label: string, value: string, title?: string) =>
        h('div', { class: 'col-12 col-sm-4' },
          h('div', { class: 'card h-100', id },
            h('div', { class: 'card-body' },
              h('div', { class: 'small text-body-secondary' }, label),
              h('div', { class: 'fs-5 fw-semibold', title: title ?? '' }, value))));
      const canvas = h('canvas', { id: 'chart-user-hours', role: 'img', 'aria-label': t('user.hours') });
      const recent = h('div', { class: 'list-group list-group-flush', id: 'user-recent' },
        (u.recent ?? []).map((m) => messageRow(m, { onOpen: (x) => openContext(x.id, null) })));
      if (!(u.recent ?? []).length) recent.appendChild(h('div', { class: 'list-group-item text-body-secondary small' }, t('user.notFound')));
      setChildren(root,
        h('div', { class: 'd-flex flex-wrap align-items-baseline gap-3 mb-3' },
          h('h1', { class: 'h4 mb-0 text-break', id: 'user-name' }, t('user.title', { name: u.user || name })),
          h('a', { href: '#/search?user=' + encodeURIComponent(u.user || name), id: 'user-search-link' }, t('user.searchAll'))),
        h('div', { class: 'row g-3 mb-3' },
          stat('user-count', t('user.messages'), fmtNum(u.message_count)),
          stat('user-first', t('user.firstSeen'), fmtTime(u.first_seen), fmtRel(u.first_seen)),
          stat('user-last', t('user.lastSeen'), fmtTime(u.last_seen), fmtRel(u.last_seen))),
        h('div', { class: 'row g-3' },
          h('div', { class: 'col-12 col-lg-5' },
            h('div', { class: 'card' },
              h('div', { class: 'card-header' }, h('h2', { class: 'h6 mb-0' }, t('user.hours'))),
              h('div', { class: 'card-body' }, h('div', { class: 'chart-box' }, canvas)))),
          h('div', { class: 'col-12 col-lg-7' },
            h('div', { class: 'card h-100' },
              h('div', { class: 'card-header' }, h('h2', { class: 'h6 mb-0' }, t('user.recent'))),
              recent))),
        behaviour);
      const hours = Array.from({ length: 24 }, (_, i) => Number(u.active_hours?.[i] ?? 0));
      chart = barChart(canvas, { labels: hours.map((_, i) => t('chart.hour', { h: i })), data: hours, label: t('chart.messages') });
    })
    .catch((e) => {
      if (isAbort(e)) return;
      const notFound = e instanceof ApiError && e.status === 404;
      setChildren(root,
        h('h1', { class: 'h4 mb-3 text-break', id: 'user-name' }, t('user.title', { name })),
        h('div', { class: notFound ? 'alert alert-info' : 'alert alert-danger' },
          notFound ? t('user.notFound') : t('common.error', { msg: errText(e) })));
    });
}

/**
 * behaviourSection is the box of the user's behaviour figures, filled when
 * GET /api/analysis/users/{name} answers (or the note that the analysis is
 * off, without asking, when /api/ui-config says so).
 */
function behaviourSection(ctx: ViewContext, name: string): HTMLElement {
  const box = h('section', { class: 'mt-3', id: 'user-behaviour', 'aria-labelledby': 'user-behaviour-title' },
    h('h2', { class: 'h5 mb-3', id: 'user-behaviour-title' }, t('ub.title')));
  if (!behaviourOn(ctx.cfg)) {
    box.appendChild(offNote(t('ub.title'), 'analysis_behaviour'));
    return box;
  }
  const body = h('div', { id: 'user-behaviour-body' }, h('p', { class: 'text-body-secondary' }, t('common.loading')));
  box.appendChild(body);
  let chart: Chart | null = null;
  ctx.signal.addEventListener('abort', () => chart?.destroy());
  get<UserBehaviour>(`/api/analysis/users/${seg(name)}`, undefined, ctx.signal)
    .then((b) => {
      const stat = (id: string, label: string, value: string, note?: string) =>
        h('div', { class: 'col-12 col-sm-4' },
          h('div', { class: 'card h-100', id },
            h('div', { class: 'card-body' },
              h('div', { class: 'small text-body-secondary' }, label),
              h('div', { class: 'fs-5 fw-semibold stat-value' }, value),
              note ? h('div', { class: 'small text-body-secondary' }, note) : null)));
      const daily = b.daily ?? [];
      const canvas = h('canvas', { id: 'chart-user-daily', role: 'img', 'aria-label': t('ub.daily') });
      const card = (title: string, ...children: (Node | null)[]) =>
        h('div', { class: 'card h-100' }, h('div', { class: 'card-header' }, h('h3', { class: 'h6 mb-0' }, title)), ...children);
      const rooms = b.rooms ?? [];
      const L = { target: t('filter.target'), room: t('filter.room'), n: t('user.messages'), last: t('user.lastSeen') };
      const td = (l: string, ...c: (Node | string)[]) => h('td', { 'data-label': l }, ...c);
      const roomsTable = rooms.length
        ? h('div', { class: 'table-responsive-stack' }, h('table', { class: 'table table-sm align-middle mb-0 table-stack', id: 'user-rooms' },
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, L.target), h('th', { scope: 'col' }, L.room), h('th', { scope: 'col', class: 'text-end' }, L.n), h('th', { scope: 'col' }, L.last))),
          h('tbody', null, rooms.map((r) => h('tr', { class: 'user-room', dataset: { target: r.target, room: r.room, messages: String(r.messages) } },
            td(L.target, h('span', { class: 'text-break' }, r.target)),
            td(L.room, h('a', { class: 'text-break', href: '#/search?' + new URLSearchParams({ user: b.user, target: r.target, room: r.room }).toString(), title: t('ub.roomSearch') }, r.room || t('common.empty'))),
            h('td', { 'data-label': L.n, class: 'text-end' }, fmtNum(r.messages)),
            td(L.last, h('span', { title: fmtRel(r.last_seen) }, fmtTime(r.last_seen))))))))
        : h('p', { class: 'text-body-secondary small m-3', id: 'user-rooms-empty' }, t('ub.noRooms'));
      const win = fmtDuration(b.window_seconds);
      setChildren(body,
        h('div', { class: 'row g-3 mb-3' },
          stat('user-days-active', t('ub.daysActive'), fmtNum(b.days_active)),
          stat('user-sessions', t('ub.sessions'), fmtNum(b.sessions?.count), t('ub.sessionsGap', { gap: fmtDuration(b.sessions?.gap_seconds ?? NaN) })),
          stat('user-behaviour-messages', t('ub.messages'), fmtNum(b.messages))),
        h('div', { class: 'row g-3' },
          h('div', { class: 'col-12 col-xl-5' },
            card(t('ub.daily'), h('div', { class: 'card-body' }, h('div', { class: 'chart-box' }, canvas)))),
          h('div', { class: 'col-12 col-xl-7' },
            card(t('ub.heatmap'), h('div', { class: 'card-body' }, heatmapTable('user-heatmap', b.heatmap, t('ub.heatmap'))))),
          h('div', { class: 'col-12 col-lg-6' }, card(t('ub.rooms'), roomsTable)),
          h('div', { class: 'col-12 col-sm-6 col-lg-3' }, card(t('ub.before'), h('div', { class: 'small text-body-secondary px-3 pt-2' }, t('ub.beforeHint', { window: win })), peerList('user-before', b.before))),
          h('div', { class: 'col-12 col-sm-6 col-lg-3' }, card(t('ub.after'), h('div', { class: 'small text-body-secondary px-3 pt-2' }, t('ub.afterHint', { window: win })), peerList('user-after', b.after)))));
      body.dataset.messages = String(b.messages);
      body.dataset.sessions = String(b.sessions?.count ?? 0);
      if (daily.length) chart = barChart(canvas, { labels: daily.map((d) => fmtDay(d.date)), data: daily.map((d) => d.count), label: t('chart.messages') });
    })
    .catch((e) => {
      if (isAbort(e)) return;
      if (e instanceof ApiError && e.code === 'analysis_off') setChildren(body, offNote(t('ub.title'), 'analysis_behaviour'));
      else if (e instanceof ApiError && e.status === 404) setChildren(body, h('div', { class: 'alert alert-info', id: 'user-behaviour-none' }, t('ub.none')));
      else setChildren(body, h('div', { class: 'alert alert-danger', id: 'user-behaviour-error' }, t('common.error', { msg: errText(e) })));
    });
  return box;
}

/** peerList lists users with counts, each a link to their page. */
function peerList(id: string, peers: UserPeer[] | null | undefined): HTMLElement {
  const list = peers ?? [];
  if (!list.length) return h('p', { class: 'text-body-secondary small m-3', id: id + '-empty' }, t('ub.noPeers'));
  return h('ol', { class: 'list-group list-group-flush list-group-numbered peer-list', id },
    list.map((p) => h('li', { class: 'list-group-item d-flex gap-2 align-items-baseline peer', dataset: { user: p.user, count: String(p.count) } },
      h('a', { href: userHref(p.user), class: 'text-break me-auto peer-user' }, p.user === '' ? t('common.empty') : p.user),
      h('span', { class: 'badge text-bg-light border peer-count', title: t('ub.peerCount', { n: fmtNum(p.count) }) }, fmtNum(p.count)))));
}
