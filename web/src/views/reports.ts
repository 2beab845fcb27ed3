// The reports tab of the analysis view (#/analysis/reports?kind=&date=
// &target=): a daily or weekly (Monday–Sunday) report of a day, by default
// yesterday / last week in the server's time zone. Links open the HTML
// report (GET /api/reports/{kind}?date=&format=html&lang=, in a new tab)
// and its JSON; the JSON's summary is shown here: volume against the
// period before, the peak hour, new and top users (links to their pages),
// targets, alerts and the connection.

import { get, isAbort, query, Report } from '../api';
import { h, setChildren } from '../dom';
import { fmtDay, fmtDuration, fmtNum } from '../format';
import { Key, lang, locale, t } from '../i18n';
import type { ViewContext } from '../main';
import { userHref } from '../msgrow';
import { dayNum, dayStr, failure, go, hashWith, label } from './analysis';

/** sectionName is the analysis of a report section listed in "unavailable". */
const sectionName: Record<string, Key> = { terms: 'analysis.tabTerms', sentiment: 'analysis.tabSentiment', anomalies: 'analysis.tabAnomalies' };

/** fmtPercent formats a signed percentage (23.4 → "+23.4%"). */
function fmtPercent(p: number): string {
  return new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: 1, signDisplay: 'exceptZero' }).format(p / 100);
}

type Kind = 'daily' | 'weekly';

/** todayIn is the "YYYY-MM-DD" of now in the time zone tz (the browser's when Intl does not know it). */
export function todayIn(tz: string, now = new Date()): string {
  try {
    return new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit', timeZone: tz || undefined }).format(now);
  } catch {
    return new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  }
}

/** defaultDate is yesterday for a daily report, a day of last week for a weekly one. */
export function defaultDate(kind: Kind, today: string): string {
  return dayStr(dayNum(today) - (kind === 'daily' ? 1 : 7));
}

/** reportURL is the report's address on the server. */
export function reportURL(kind: Kind, date: string, target: string, format: 'html' | 'json'): string {
  return `/api/reports/${kind}` + query({ date, target, format, lang: format === 'html' ? lang() : null });
}

export function reportsTab(root: HTMLElement, ctx: ViewContext): void {
  const val = (k: string) => ctx.params.get(k) ?? '';
  const kindNow: Kind = val('kind') === 'weekly' ? 'weekly' : 'daily';
  const today = todayIn(ctx.cfg.time_zone);
  const dateNow = /^\d{4}-\d{2}-\d{2}$/.test(val('date')) ? val('date') : defaultDate(kindNow, today);
  const kind = h('select', { class: 'form-select form-select-sm', id: 'reports-kind', name: 'kind' },
    h('option', { value: 'daily' }, t('reports.daily')), h('option', { value: 'weekly' }, t('reports.weekly')));
  kind.value = kindNow;
  const date = h('input', { type: 'date', class: 'form-control form-control-sm', id: 'reports-date', name: 'date', value: dateNow, max: today });
  const target = h('input', { class: 'form-control form-control-sm', id: 'reports-target', name: 'target', value: val('target'), placeholder: t('filter.allTargets'), autocomplete: 'off' });
  const form = h('form', { class: 'row g-2 align-items-end mb-3', id: 'reports-filter' },
    h('div', { class: 'col-6 col-md-3 col-lg-2' }, label('reports-kind', t('reports.kind')), kind),
    h('div', { class: 'col-6 col-md-3 col-lg-2' }, label('reports-date', t('reports.date')), date),
    h('div', { class: 'col-12 col-md-3 col-lg-2' }, label('reports-target', t('filter.target')), target),
    h('div', { class: 'col-12 col-md-auto d-flex gap-2' },
      h('button', { type: 'submit', class: 'btn btn-sm btn-primary', id: 'reports-apply' }, t('common.apply')),
      h('a', { class: 'btn btn-sm btn-outline-secondary', href: '#/analysis/reports' }, t('common.reset'))));
  // A new kind picks its default day unless a day was picked.
  kind.addEventListener('change', () => {
    if (!val('date')) date.value = defaultDate(kind.value as Kind, today);
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    go(hashWith('reports', { kind: kind.value === 'weekly' ? 'weekly' : '', date: date.value, target: target.value }), load);
  });
  const target0 = val('target').trim();
  const html = h('a', { class: 'btn btn-sm btn-outline-primary', id: 'reports-open', href: reportURL(kindNow, dateNow, target0, 'html'), target: '_blank', rel: 'noopener' }, t('reports.openHtml'));
  const json = h('a', { class: 'btn btn-sm btn-outline-secondary', id: 'reports-json', href: reportURL(kindNow, dateNow, target0, 'json'), target: '_blank', rel: 'noopener' }, t('reports.openJson'));
  const box = h('div', { id: 'reports-box' }, h('p', { class: 'text-body-secondary' }, t('common.loading')));
  setChildren(root, form, h('div', { class: 'd-flex flex-wrap gap-2 mb-3', id: 'reports-links' }, html, json), box);

  function load() {
    get<Report>(`/api/reports/${kindNow}`, { date: dateNow, target: target0, format: 'json' }, ctx.signal)
      .then(render)
      .catch((e) => {
        if (isAbort(e)) return;
        setChildren(box, failure(e, 'reports'));
      });
  }

  function render(r: Report) {
    const v = r.volume;
    const stat = (id: string, title: string, value: string, note?: string | null) =>
      h('div', { class: 'col-6 col-lg-3' },
        h('div', { class: 'card h-100', id },
          h('div', { class: 'card-body' },
            h('div', { class: 'small text-body-secondary' }, title),
            h('div', { class: 'fs-5 fw-semibold stat-value' }, value),
            note ? h('div', { class: 'small text-body-secondary' }, note) : null)));
    const period = r.from === r.to ? fmtDay(r.from) : `${fmtDay(r.from)} – ${fmtDay(r.to)}`;
    const prevPeriod = v.previous_from === v.previous_to ? fmtDay(v.previous_from) : `${fmtDay(v.previous_from)} – ${fmtDay(v.previous_to)}`;
    const card = (title: string, ...children: (Node | null)[]) =>
      h('div', { class: 'card h-100' }, h('div', { class: 'card-header' }, h('h2', { class: 'h6 mb-0' }, title)), ...children);
    const top = r.top_users ?? [];
    const U = { user: t('reports.user'), n: t('reports.userMessages') };
    const topTable = top.length
      ? h('div', { class: 'table-responsive-stack' }, h('table', { class: 'table table-sm align-middle mb-0 table-stack', id: 'reports-top-users' },
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, U.user), h('th', { scope: 'col', class: 'text-end' }, U.n))),
        h('tbody', null, top.map((u) => h('tr', { dataset: { user: u.user, messages: String(u.messages) } },
          h('td', { 'data-label': U.user }, h('a', { href: userHref(u.user), class: 'text-break' }, u.user || t('common.empty')),
            u.new ? h('span', { class: 'badge text-bg-success ms-2' }, t('reports.new')) : null),
          h('td', { 'data-label': U.n, class: 'text-end' }, fmtNum(u.messages)))))))
      : h('p', { class: 'text-body-secondary small m-3' }, t('reports.noUsers'));
    const names = r.new_users?.names ?? [];
    const newUsers = h('div', { class: 'card-body', id: 'reports-new-users', dataset: { count: String(r.new_users?.count ?? 0) } },
      h('div', { class: 'mb-2' }, t('reports.newUsersCount', { n: fmtNum(r.new_users?.count ?? 0) })),
      names.length ? h('div', { class: 'd-flex flex-wrap gap-2' },
        names.map((n) => h('a', { href: userHref(n), class: 'badge text-bg-light border text-break text-decoration-none' }, n || t('common.empty')))) : null);
    const targets = r.targets ?? [];
    const byRule = r.alerts?.by_rule ?? [];
    const c = r.connection;
    setChildren(box,
      h('div', { class: 'small text-body-secondary mb-2', id: 'reports-summary', dataset: { id: r.id, messages: String(v.messages) } },
        t(r.kind === 'weekly' ? 'reports.summaryWeekly' : 'reports.summaryDaily', { period, tz: r.time_zone || 'UTC' })),
      r.rollups_complete ? null : h('div', { class: 'alert alert-warning small py-2', id: 'reports-incomplete' }, t('reports.incomplete')),
      (r.unavailable ?? []).length ? h('div', { class: 'small text-body-secondary mb-2', id: 'reports-unavailable' }, t('reports.unavailable', { list: r.unavailable.map((x) => (x in sectionName ? t(sectionName[x]) : x)).join(lang() === 'zh' ? '、' : ', ') })) : null,
      h('div', { class: 'row g-3 mb-3' },
        stat('reports-volume', t('reports.volume'), fmtNum(v.messages), t('reports.previous', { n: fmtNum(v.previous), period: prevPeriod })),
        stat('reports-delta', t('reports.change'), v.delta_percent === null ? t('common.none') : fmtPercent(v.delta_percent), t('reports.delta', { n: (v.delta > 0 ? '+' : '') + fmtNum(v.delta) })),
        stat('reports-peak', t('reports.peak'), r.peak ? fmtNum(r.peak.count) : t('common.none'), r.peak ? t('reports.peakAt', { day: fmtDay(r.peak.date), h: r.peak.hour }) : null),
        stat('reports-new', t('reports.newUsers'), fmtNum(r.new_users?.count ?? 0))),
      h('div', { class: 'row g-3' },
        h('div', { class: 'col-12 col-lg-6' }, card(t('reports.topUsers'), topTable)),
        h('div', { class: 'col-12 col-lg-6' }, card(t('reports.newUsers'), newUsers)),
        h('div', { class: 'col-12 col-md-6 col-lg-4' }, card(t('reports.targets'),
          targets.length ? h('ul', { class: 'list-group list-group-flush', id: 'reports-targets' }, targets.map((x) =>
            h('li', { class: 'list-group-item d-flex gap-2' }, h('span', { class: 'text-break me-auto' }, x.target), fmtNum(x.count))))
            : h('p', { class: 'text-body-secondary small m-3' }, t('common.none')))),
        h('div', { class: 'col-12 col-md-6 col-lg-4' }, card(t('reports.alerts'),
          h('div', { class: 'card-body', id: 'reports-alerts' },
            h('div', null, t('reports.alertsTotal', { n: fmtNum(r.alerts?.total ?? 0) })),
            byRule.length ? h('ul', { class: 'small mb-0 mt-2' }, byRule.map((x) => h('li', null, h('span', { class: 'text-break' }, x.Rule), ': ', fmtNum(x.Count)))) : null))),
        h('div', { class: 'col-12 col-lg-4' }, card(t('reports.connection'),
          h('div', { class: 'card-body small', id: 'reports-connection' },
            h('div', null, t('reports.sessions', { n: fmtNum(c?.sessions ?? 0) })),
            h('div', null, t('reports.endedWithError', { n: fmtNum(c?.ended_with_error ?? 0) })),
            h('div', null, t('reports.failedAttempts', { n: fmtNum(c?.failed_attempts ?? 0) })),
            h('div', null, t('reports.gap', { d: fmtDuration(c?.gap_seconds ?? 0) })))))));
  }
  load();
}
