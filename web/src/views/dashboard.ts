// The dashboard (#/): summary cards, monitor status with the ingest counters,
// charts, the active-user leaderboard and the live message stream. Charts refresh from the "stats"
// events the server pushes on /api/live; only when those do not come does
// it refetch /api/stats, at most every web_refresh_interval seconds and only
// while messages arrive.

import type { Chart } from 'chart.js';
import { ApiError, get, IngestCounters, isAbort, MonitorStatus, post, Stats } from '../api';
import { barChart, lineChart, setSeries, Series } from '../charts';
import { h, setChildren } from '../dom';
import { fmtBytes, fmtDay, fmtNum, fmtRel, fmtTime } from '../format';
import { num } from '../health';
import { Key, t, tOr } from '../i18n';
import { LiveStream } from '../live';
import { userHref } from '../msgrow';
import type { ViewContext } from '../main';

export const stateClass: Record<string, string> = {
  connected: 'text-bg-success',
  paused: 'text-bg-info',
  refused: 'text-bg-danger',
  gave_up: 'text-bg-danger',
  connecting: 'text-bg-warning',
  reconnecting: 'text-bg-warning',
  disconnected: 'text-bg-danger',
  error: 'text-bg-danger',
  failed: 'text-bg-danger',
  stopped: 'text-bg-secondary',
};

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

/** statusList renders one block per monitored target. */
export function statusList(monitor: MonitorStatus[]): HTMLElement {
  if (!monitor.length) return h('p', { class: 'text-body-secondary small mb-0' }, t('card.noTargets'));
  return h('div', { class: 'status-list' },
    monitor.map((m) =>
      h('div', { class: 'status-target', dataset: { target: m.target, state: m.state } },
        h('div', { class: 'd-flex align-items-center gap-2' },
          h('span', { class: 'fw-semibold text-truncate', title: m.url || m.target }, m.target),
          h('span', { class: `badge status-state ${stateClass[m.state] ?? 'text-bg-secondary'}` }, tOr('state.' + m.state, m.state || '?')),
          m.protocol ? h('span', { class: 'badge text-bg-light border status-protocol' }, m.protocol) : null),
        h('div', { class: 'small text-body-secondary d-flex flex-wrap column-gap-3' },
          m.since ? h('span', { title: fmtTime(m.since) }, t('status.since', { time: fmtRel(m.since) })) : null,
          h('span', null, t('status.reconnects', { n: fmtNum(m.reconnects ?? 0) })),
          h('span', { title: fmtTime(m.last_message_at) }, t('status.lastMessage', { time: m.last_message_at ? fmtRel(m.last_message_at) : t('common.none') }))),
        m.last_error ? h('div', { class: 'small text-danger status-error', title: m.last_error }, t('status.lastError', { err: m.last_error })) : null)));
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

export function dashboardView(root: HTMLElement, ctx: ViewContext): void {
  const { cfg, signal, health } = ctx;
  const total = numberCard('card-total', t('card.total'));
  const active = numberCard('card-active', t('card.active'));
  const today = numberCard('card-today', t('card.today'));
  const statusBody = h('div', { class: 'card-body' }, h('span', { class: 'text-body-secondary small' }, t('common.loading')));
  // Hidden until stats say the monitor runs here (no "ingest" in a separate wsmon web).
  const ingest = h('div', { class: 'card-footer small text-body-secondary d-none', id: 'ingest-health' });
  const statusCard = h('div', { class: 'col-12 col-xl-6' },
    h('div', { class: 'card h-100', id: 'card-status' },
      h('div', { class: 'card-header small text-body-secondary' }, t('card.status')), statusBody, ingest));

  const dailyCanvas = h('canvas', { id: 'chart-daily', role: 'img', 'aria-label': t('chart.daily') });
  const hourlyCanvas = h('canvas', { id: 'chart-hourly', role: 'img', 'aria-label': t('chart.hourly') });
  const hourlyTitle = h('h2', { class: 'h6 mb-0' }, t('chart.hourlyTz', { tz: cfg.time_zone || 'UTC' }));
  const topUsers = h('ol', { class: 'list-group list-group-numbered list-group-flush top-users', id: 'top-users' });
  const error = h('div', { id: 'dashboard-error' });

  let daily: Chart | null = null;
  let hourly: Chart | null = null;
  let monitor: MonitorStatus[] = [];
  let lastStats = 0;
  let fallbackTimer = 0;
  let fetching = false;
  const interval = Math.max(1, cfg.web_refresh_interval || 5) * 1000;

  const live = new LiveStream({
    max: cfg.max_messages_in_memory,
    signal,
    onStatus: (m) => renderStatus(m),
    onStats: (s) => {
      lastStats = Date.now();
      renderStats(s);
    },
    onMessage: () => scheduleFallback(),
    alerts: ctx.alerts,
  });

  setChildren(root,
    error,
    h('div', { class: 'row g-3 mb-3' }, total.el, active.el, today.el, statusCard),
    h('div', { class: 'row g-3 mb-3' },
      h('div', { class: 'col-12 col-lg-7' },
        h('div', { class: 'card h-100' },
          h('div', { class: 'card-header' }, h('h2', { class: 'h6 mb-0' }, t('chart.daily'))),
          h('div', { class: 'card-body' }, h('div', { class: 'chart-box' }, dailyCanvas)))),
      h('div', { class: 'col-12 col-lg-5' },
        h('div', { class: 'card h-100' },
          h('div', { class: 'card-header' }, hourlyTitle),
          h('div', { class: 'card-body' }, h('div', { class: 'chart-box' }, hourlyCanvas))))),
    h('div', { class: 'row g-3' },
      h('div', { class: 'col-12 col-lg-4' },
        h('div', { class: 'card h-100' },
          h('div', { class: 'card-header' }, h('h2', { class: 'h6 mb-0' }, t('chart.topUsers'))),
          topUsers)),
      h('div', { class: 'col-12 col-lg-8' }, live.el)));

  function renderStatus(m: MonitorStatus[]) {
    monitor = m;
    setChildren(statusBody, statusList(m));
    live.setTargets(m.map((x) => x.target));
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
        backupResult.textContent = t('backup.failed', { msg: e instanceof ApiError ? e.message : String(e) });
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
    if (Array.isArray(s.monitor)) renderStatus(s.monitor);
    if (s.time_zone) hourlyTitle.textContent = t('chart.hourlyTz', { tz: s.time_zone });

    const d: Series = { labels: (s.daily ?? []).map((x) => fmtDay(x.date)), data: (s.daily ?? []).map((x) => x.count), label: t('chart.messages') };
    const hr: Series = { labels: (s.hourly ?? []).map((x) => t('chart.hour', { h: x.hour })), data: (s.hourly ?? []).map((x) => x.count), label: t('chart.messages') };
    if (daily) setSeries(daily, d);
    else daily = lineChart(dailyCanvas, d);
    if (hourly) setSeries(hourly, hr);
    else hourly = barChart(hourlyCanvas, hr);
    renderTopUsers(s.top_users ?? []);
  }

  function renderTopUsers(users: { user: string; count: number }[]) {
    if (!users.length) {
      setChildren(topUsers, h('li', { class: 'list-group-item text-body-secondary small' }, t('chart.noUsers')));
      return;
    }
    const top = Math.max(1, ...users.map((u) => u.count));
    setChildren(topUsers, users.map((u) => {
      const bar = h('div', { class: 'top-user-bar' });
      bar.style.width = `${Math.max(1, (u.count / top) * 100)}%`;
      return h('li', { class: 'list-group-item d-flex align-items-start gap-2 top-user', dataset: { user: u.user } },
        h('div', { class: 'flex-grow-1 min-w-0' },
          h('div', { class: 'd-flex justify-content-between gap-2' },
            h('a', { class: 'text-truncate text-decoration-none', href: userHref(u.user) }, u.user || t('common.none')),
            h('span', { class: 'badge text-bg-light border' }, fmtNum(u.count))),
          bar));
    }));
  }

  function fetchStats() {
    if (fetching) return;
    fetching = true;
    get<Stats>('/api/stats', undefined, signal)
      .then((s) => {
        lastStats = Date.now();
        renderStats(s);
      })
      .catch((e) => {
        if (isAbort(e)) return;
        setChildren(error, h('div', { class: 'alert alert-danger' }, t('common.error', { msg: e instanceof ApiError ? e.message : String(e) })));
      })
      .finally(() => {
        fetching = false;
      });
  }

  // Fallback when the server does not push stats: one refetch at most every
  // interval, only while messages keep arriving, skipped if a push came.
  function scheduleFallback() {
    if (fallbackTimer) return;
    const scheduled = Date.now();
    fallbackTimer = window.setTimeout(() => {
      fallbackTimer = 0;
      if (lastStats < scheduled) fetchStats();
    }, interval);
  }

  // Relative times ("3 min ago") in the status card age; redraw them.
  const tick = window.setInterval(() => {
    if (monitor.length && !document.hidden) setChildren(statusBody, statusList(monitor));
  }, 30000);

  signal.addEventListener('abort', () => {
    clearTimeout(fallbackTimer);
    clearInterval(tick);
    daily?.destroy();
    hourly?.destroy();
  });

  fetchStats();
}
