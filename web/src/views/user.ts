// The user page (#/user/NAME): message count, first/last seen, a 24-hour
// activity chart and the user's recent messages.

import type { Chart } from 'chart.js';
import { ApiError, get, isAbort, seg, UserInfo } from '../api';
import { barChart } from '../charts';
import { h, setChildren } from '../dom';
import { fmtNum, fmtRel, fmtTime } from '../format';
import { t } from '../i18n';
import type { ViewContext } from '../main';
import { messageRow } from '../msgrow';
import { openContext } from './context';
import { errText } from '../errors';

export function userView(root: HTMLElement, ctx: ViewContext, name: string): void {
  setChildren(root,
    h('h1', { class: 'h4 mb-3 text-break', id: 'user-name' }, t('user.title', { name })),
    h('p', { class: 'text-body-secondary' }, t('common.loading')));
  let chart: Chart | null = null;
  ctx.signal.addEventListener('abort', () => chart?.destroy());

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
              recent))));
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
