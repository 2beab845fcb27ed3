// The 7×24 activity heatmap (day of week × local hour, Monday first) of
// GET /api/analysis/users/{name} and /api/analysis/activity, drawn as a
// table: a row header per day (the UI language's weekday names), a column
// per hour, each cell coloured by its count (six classes, heat-0 … heat-5,
// relative to the busiest cell) with its count as text for screen readers
// and a tooltip; a legend below. The table scrolls inside its box on a
// narrow screen (the page does not).

import type { Heatmap } from './api';
import { h } from './dom';
import { fmtNum } from './format';
import { locale, t } from './i18n';

/** levels is the number of coloured classes above heat-0 (no messages). */
const levels = 5;

/** weekdayNames are the weekdays Monday … Sunday, short, in the UI's language. */
export function weekdayNames(style: 'short' | 'long' = 'short'): string[] {
  const f = new Intl.DateTimeFormat(locale(), { weekday: style, timeZone: 'UTC' });
  // 2024-01-01 was a Monday.
  return Array.from({ length: 7 }, (_, i) => f.format(new Date(Date.UTC(2024, 0, 1 + i))));
}

/** level is the colour class (0 … levels) of count in a heatmap whose busiest cell is max. */
export function level(count: number, max: number): number {
  if (!(count > 0) || !(max > 0)) return 0;
  return Math.min(levels, Math.max(1, Math.ceil((count / max) * levels)));
}

/**
 * heatmapTable renders hm (7 rows of 24, missing values as 0). id names
 * the table; each cell carries data-day (0 = Monday), data-hour and
 * data-count.
 */
export function heatmapTable(id: string, hm: Heatmap | null | undefined, caption: string): HTMLElement {
  const rows = Array.from({ length: 7 }, (_, d) => Array.from({ length: 24 }, (_, hr) => Number(hm?.[d]?.[hr] ?? 0) || 0));
  const max = Math.max(0, ...rows.flat());
  const total = rows.flat().reduce((a, b) => a + b, 0);
  const short = weekdayNames('short');
  const long = weekdayNames('long');
  const table = h('table', { class: 'heatmap', id, dataset: { max: String(max), total: String(total) } },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, t('heat.day'))),
      rows[0].map((_, hr) => h('th', { scope: 'col', class: 'heat-hour', title: t('chart.hour', { h: hr }) }, hr % 3 === 0 ? String(hr) : h('span', { class: 'visually-hidden' }, String(hr)))))),
    h('tbody', null, rows.map((row, d) =>
      h('tr', null,
        h('th', { scope: 'row', class: 'heat-day', title: long[d] }, short[d]),
        row.map((n, hr) => {
          const tip = t('heat.cell', { day: long[d], h: hr, n: fmtNum(n) });
          return h('td', { class: 'heat-cell heat-' + level(n, max), title: tip, dataset: { day: String(d), hour: String(hr), count: String(n) } },
            h('span', { class: 'visually-hidden' }, fmtNum(n)));
        })))));
  // The legend: the count range of each colour.
  const step = max / levels;
  const legend = h('div', { class: 'heat-legend small text-body-secondary d-flex flex-wrap align-items-center gap-1 mt-2', 'aria-hidden': 'true' },
    h('span', { class: 'me-1' }, t('heat.less')),
    Array.from({ length: levels + 1 }, (_, l) => {
      const lo = l === 0 ? 0 : Math.floor(step * (l - 1)) + 1;
      const hi = l === 0 ? 0 : Math.ceil(step * l);
      const title = l === 0 ? t('heat.none') : lo >= hi ? fmtNum(hi) : `${fmtNum(lo)}–${fmtNum(hi)}`;
      return h('span', { class: 'heat-swatch heat-' + l, title });
    }),
    h('span', { class: 'ms-1' }, t('heat.more')),
    h('span', { class: 'ms-3' }, t('heat.max', { n: fmtNum(max) })));
  return h('div', null, h('div', { class: 'heatmap-scroll' }, table), legend);
}
