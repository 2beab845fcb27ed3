// The alerts view (#/alerts?rule=&target=&from=&to=&unacked=1): the alert
// history newest first, filtered by rule, target and time, "older" paging
// (before=), acknowledge per alert and for all shown, and the switch for
// browser notifications. New alerts that pass the filters are added at the
// top as they arrive on the live stream. Rule names, details, contents,
// users and delivery texts come from the server (the content and the user
// from the monitored chat): they are only ever set as text.

import { ackAlerts, Alert, AlertPage, get, isAbort, NotifierStats, RuleList } from '../api';
import { notificationsSupported } from '../alerts';
import { h, setChildren } from '../dom';
import { fmtNum, fmtShort, fmtTime, fromLocalInput, parseTime } from '../format';
import { t, tOr } from '../i18n';
import type { ViewContext } from '../main';
import { userHref } from '../msgrow';
import { openContext } from './context';
import { errText } from '../errors';

const pageSize = 50;
const maxRows = 2000; // live arrivals beyond this push the oldest rows out
const maxAckIds = 1000; // per POST /api/alerts/ack

/** alertTabs is the switch between the alert history and the rules. */
export function alertTabs(active: 'alerts' | 'rules'): HTMLElement {
  const tab = (id: string, href: string, key: 'alerts.tabHistory' | 'alerts.tabRules', on: boolean) =>
    h('li', { class: 'nav-item' }, h('a', { class: 'nav-link' + (on ? ' active' : ''), id, href, 'aria-current': on ? 'page' : null }, t(key)));
  return h('ul', { class: 'nav nav-tabs mb-3', id: 'alerts-tabs' },
    tab('tab-alerts', '#/alerts', 'alerts.tabHistory', active === 'alerts'),
    tab('tab-rules', '#/rules', 'alerts.tabRules', active === 'rules'));
}

/** ruleTypeBadge shows a rule type. */
export function ruleTypeBadge(type: string): HTMLElement {
  return h('span', { class: 'badge text-bg-light border rule-type', dataset: { type } }, tOr('ruleType.' + type, type || '?'));
}

export function alertsView(root: HTMLElement, ctx: ViewContext): void {
  const p = ctx.params;
  const val = (k: string) => p.get(k) ?? '';
  const f = { rule: val('rule'), target: val('target'), from: val('from'), to: val('to'), unacked: val('unacked') === '1' };
  const fromISO = fromLocalInput(f.from);
  const toISO = fromLocalInput(f.to);
  const filtered = Boolean(f.rule || f.target || fromISO || toISO); // beyond "unacknowledged only"

  const label = (forId: string, text: string) => h('label', { class: 'form-label small mb-1', for: forId }, text);
  const ruleNames = h('datalist', { id: 'alerts-rule-names' });
  const rule = h('input', { class: 'form-control form-control-sm', id: 'alerts-rule', name: 'rule', value: f.rule, list: 'alerts-rule-names', autocomplete: 'off' });
  const target = h('input', { class: 'form-control form-control-sm', id: 'alerts-target', name: 'target', value: f.target, autocomplete: 'off' });
  const from = h('input', { type: 'datetime-local', class: 'form-control form-control-sm', id: 'alerts-from', name: 'from', value: f.from });
  const to = h('input', { type: 'datetime-local', class: 'form-control form-control-sm', id: 'alerts-to', name: 'to', value: f.to });
  const unacked = h('input', { type: 'checkbox', class: 'form-check-input', id: 'alerts-unacked', name: 'unacked', role: 'switch', checked: f.unacked });
  const form = h('form', { class: 'row g-2 align-items-end mb-3', id: 'alerts-filter' },
    h('div', { class: 'col-6 col-lg-2' }, label('alerts-rule', t('alerts.rule')), rule, ruleNames),
    h('div', { class: 'col-6 col-lg-2' }, label('alerts-target', t('alerts.target')), target),
    h('div', { class: 'col-6 col-lg-2' }, label('alerts-from', t('alerts.from')), from),
    h('div', { class: 'col-6 col-lg-2' }, label('alerts-to', t('alerts.to')), to),
    h('div', { class: 'col-6 col-lg-2' },
      h('div', { class: 'form-check form-switch mb-1' }, unacked, h('label', { class: 'form-check-label small', for: 'alerts-unacked' }, t('alerts.unackedOnly')))),
    h('div', { class: 'col-6 col-lg-2 d-flex gap-2' },
      h('button', { type: 'submit', class: 'btn btn-sm btn-primary', id: 'alerts-apply' }, t('common.apply')),
      h('a', { class: 'btn btn-sm btn-outline-secondary', id: 'alerts-reset', href: '#/alerts' }, t('common.reset'))));
  const apply = () => {
    const sp = new URLSearchParams();
    const set = (k: string, v: string) => v.trim() && sp.set(k, v.trim());
    set('rule', rule.value);
    set('target', target.value);
    set('from', from.value);
    set('to', to.value);
    if (unacked.checked) sp.set('unacked', '1');
    const hash = '#/alerts' + (sp.toString() ? '?' + sp.toString() : '');
    if (location.hash === hash) load(null);
    else location.hash = hash;
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    apply();
  });
  unacked.addEventListener('change', apply);

  const notice = h('div', { id: 'alerts-notice', role: 'status' });
  const say = (kind: 'success' | 'danger' | 'warning', msg: string) =>
    setChildren(notice, h('div', { class: `alert alert-${kind} py-2`, dataset: { kind } }, msg));

  // Browser notifications: off until the user switches them on here.
  const notifyBtn = h('button', { type: 'button', class: 'btn btn-sm', id: 'alerts-notify' });
  const renderNotify = () => {
    const supported = notificationsSupported();
    const on = ctx.alerts.notificationsOn();
    const denied = supported && Notification.permission === 'denied';
    notifyBtn.textContent = on ? t('alerts.notifyOn') : t('alerts.notifyOff');
    notifyBtn.className = 'btn btn-sm ' + (on ? 'btn-success' : 'btn-outline-secondary');
    notifyBtn.setAttribute('aria-pressed', String(on));
    notifyBtn.dataset.state = on ? 'on' : 'off';
    notifyBtn.disabled = !supported || (denied && !on);
    notifyBtn.title = !supported ? t('alerts.notifyUnsupported') : denied ? t('alerts.notifyDenied') : t('alerts.notifyHint');
  };
  notifyBtn.addEventListener('click', () => {
    notifyBtn.disabled = true;
    ctx.alerts.setNotifications(!ctx.alerts.notificationsOn())
      .catch(() => false)
      .then(() => {
        renderNotify();
        if (notificationsSupported() && Notification.permission === 'denied') say('warning', t('alerts.notifyDenied'));
      });
  });
  renderNotify();

  const ackAll = h('button', { type: 'button', class: 'btn btn-sm btn-outline-primary', id: 'alerts-ack-all', title: filtered ? t('alerts.ackShownTitle') : t('alerts.ackAllTitle') },
    filtered ? t('alerts.ackShown') : t('alerts.ackAll'));
  const summary = h('div', { class: 'small text-body-secondary me-auto', id: 'alerts-summary', 'aria-live': 'polite' }, t('common.loading'));
  const sinks = h('div', { class: 'small d-flex flex-wrap column-gap-3 row-gap-1 mb-2', id: 'alerts-notifiers' });
  const list = h('div', { class: 'list-group', id: 'alerts-list' });
  const older = h('button', { type: 'button', class: 'btn btn-outline-primary d-none', id: 'alerts-older' }, t('alerts.older'));

  setChildren(root,
    h('h1', { class: 'h4 mb-3', id: 'alerts-title' }, t('alerts.title')),
    alertTabs('alerts'),
    form, notice,
    h('div', { class: 'd-flex flex-wrap align-items-center gap-2 mb-2' }, summary, notifyBtn, ackAll),
    sinks,
    list,
    h('div', { class: 'text-center my-3' }, older));

  // Rule names for the filter's suggestions (rules that were deleted
  // still have alerts: the field takes any name).
  get<RuleList>('/api/rules', undefined, ctx.signal)
    .then((r) => setChildren(ruleNames, (r.rules ?? []).map((x) => h('option', { value: x.name }))))
    .catch(() => {});

  type Shown = { a: Alert; row: HTMLElement };
  const shown = new Map<number, Shown>(); // by id
  let oldest = 0; // paging cursor: the oldest id shown

  const renderSummary = () => {
    const n = shown.size;
    summary.textContent = n === 0 ? t('alerts.none') : t('alerts.shown', { n: fmtNum(n) });
    summary.dataset.shown = String(n);
    const pending = [...shown.values()].some((s) => !s.a.acked_at);
    ackAll.disabled = !pending;
  };

  const ack = (ids: number[], upTo: number | null, button: HTMLButtonElement | null) => {
    if (button) button.disabled = true;
    notice.replaceChildren();
    const reqs: Promise<{ acknowledged: number }>[] = [];
    if (upTo !== null) reqs.push(ackAlerts({ up_to: upTo }));
    else for (let i = 0; i < ids.length; i += maxAckIds) reqs.push(ackAlerts({ ids: ids.slice(i, i + maxAckIds) }));
    Promise.all(reqs)
      .then(() => {
        const now = new Date().toISOString();
        for (const s of shown.values()) {
          const hit = upTo !== null ? s.a.id <= upTo : ids.includes(s.a.id);
          if (!hit || s.a.acked_at) continue;
          s.a = { ...s.a, acked_at: now };
          const row = alertRow(s.a, onAck);
          s.row.replaceWith(row);
          s.row = row;
        }
        renderSummary();
        ctx.alerts.resync();
      })
      .catch((e) => {
        if (button) button.disabled = false;
        say('danger', t('alerts.ackFailed', { msg: errText(e) }));
      });
  };
  const onAck = (a: Alert, button: HTMLButtonElement) => ack([a.id], null, button);
  ackAll.addEventListener('click', () => {
    const pending = [...shown.values()].filter((s) => !s.a.acked_at).map((s) => s.a.id);
    if (!pending.length) return;
    // Unfiltered, "all" is every alert up to the newest shown (pages not
    // loaded yet included); with filters, only the alerts shown, since
    // up_to would also take the alerts the filters hide.
    if (filtered) ack(pending, null, ackAll);
    else ack(pending, Math.max(...shown.keys()), ackAll);
  });

  const addRows = (alerts: Alert[], atTop: boolean) => {
    const frag = document.createDocumentFragment();
    for (const a of alerts) {
      if (shown.has(a.id)) continue;
      const row = alertRow(a, onAck);
      shown.set(a.id, { a, row });
      frag.appendChild(row);
      if (oldest === 0 || a.id < oldest) oldest = a.id;
    }
    if (atTop) list.prepend(frag);
    else list.appendChild(frag);
    while (shown.size > maxRows) {
      const last = list.lastElementChild as HTMLElement | null;
      if (!last) break;
      shown.delete(Number(last.dataset.id));
      last.remove();
      oldest = Number((list.lastElementChild as HTMLElement | null)?.dataset.id ?? 0);
      older.classList.remove('d-none');
    }
    renderSummary();
  };

  // Alerts arriving live: shown when they pass the filters. When the
  // stream (re)connects, the ones that came meanwhile are fetched (the
  // stream does not replay them); after a gap longer than a page the list
  // is loaded again.
  const from0 = parseTime(fromISO);
  const to0 = parseTime(toISO);
  let loaded = false;
  let catchUpLater = false;
  const catchUp = () => {
    if (!loaded) {
      catchUpLater = true; // after the first load (the stream may have opened after its query)
      return;
    }
    get<AlertPage>('/api/alerts', { rule: f.rule, target: f.target, from: fromISO, to: toISO, unacked: f.unacked ? 1 : null, limit: pageSize }, ctx.signal)
      .then((page) => {
        const newest = shown.size ? Math.max(...shown.keys()) : 0;
        const fresh = (page.alerts ?? []).filter((a) => a.id > newest);
        if (fresh.length >= pageSize && shown.size) load(null);
        else addRows(fresh, true);
      })
      .catch(() => {});
  };
  ctx.alerts.subscribe((a) => {
    if (f.rule && a.rule !== f.rule) return;
    if (f.target && a.target !== f.target) return;
    if (f.unacked && a.acked_at) return;
    const at = parseTime(a.at);
    if ((from0 && (!at || at < from0)) || (to0 && (!at || at >= to0))) return;
    addRows([a], true);
  }, ctx.signal, catchUp);

  function load(before: number | null) {
    if (before === null) {
      list.replaceChildren();
      shown.clear();
      oldest = 0;
      summary.textContent = t('common.loading');
    }
    older.disabled = true;
    if (fromISO && toISO && fromISO >= toISO) {
      setChildren(notice, h('div', { class: 'alert alert-warning py-2', id: 'alerts-bad-range' }, t('search.badRange')));
      summary.textContent = '';
      return;
    }
    get<AlertPage>('/api/alerts', {
      rule: f.rule, target: f.target, from: fromISO, to: toISO, unacked: f.unacked ? 1 : null, before, limit: pageSize,
    }, ctx.signal)
      .then((page) => {
        const alerts = page.alerts ?? [];
        // The server's count keeps the badge right; unfiltered, the newest
        // alert listed is the newest there was when it counted.
        if (before === null && !filtered) ctx.alerts.setUnacked(page.unacked ?? 0, alerts[0]?.id ?? 0);
        else ctx.alerts.resync();
        if (before === null) setChildren(sinks, (page.notifiers ?? []).map(sinkStatus));
        addRows(alerts, false);
        loaded = true;
        if (catchUpLater) {
          catchUpLater = false;
          catchUp();
        }
        older.classList.toggle('d-none', alerts.length < pageSize);
        older.disabled = false;
      })
      .catch((e) => {
        if (isAbort(e)) return;
        older.disabled = false;
        summary.textContent = '';
        say('danger', t('common.error', { msg: errText(e) }));
      });
  }
  older.addEventListener('click', () => load(oldest || null));
  load(null);
}

/**
 * sinkStatus is one notifier's delivery counts; red while its latest
 * attempt failed, or when it gave up or dropped alerts.
 */
function sinkStatus(s: NotifierStats): HTMLElement {
  const lastErr = parseTime(s.last_error_at ?? null);
  const lastSent = parseTime(s.last_sent_at ?? null);
  const failing = Boolean(s.last_error && lastErr && (!lastSent || lastErr > lastSent));
  const bad = failing || s.failed > 0 || s.dropped > 0;
  return h('span', { class: 'al-sink' + (bad ? ' text-danger' : ' text-body-secondary'), dataset: { name: s.name, failing: failing ? '1' : '0' }, title: s.last_error ? t('alerts.sinkLastError', { err: s.last_error, time: fmtTime(s.last_error_at) }) : null },
    h('span', { class: 'fw-semibold' }, s.name), ` (${s.type}): `,
    t('alerts.sinkCounts', { sent: fmtNum(s.sent), failed: fmtNum(s.failed), queued: fmtNum(s.queued), dropped: fmtNum(s.dropped) }),
    failing ? ' — ' + t('alerts.sinkFailing', { err: s.last_error ?? '' }) : null);
}

/** alertRow renders one alert as an .al-row with data-id and data-acked. */
function alertRow(a: Alert, onAck: (a: Alert, button: HTMLButtonElement) => void): HTMLElement {
  const where = [a.target, a.room].filter(Boolean).join(' / ');
  const acked = Boolean(a.acked_at);
  const failed = /fail|error/i.test(a.delivery);
  const ackBtn = acked ? null : h('button', { type: 'button', class: 'btn btn-sm btn-outline-primary al-ack' }, t('alerts.ack'));
  if (ackBtn) ackBtn.addEventListener('click', () => onAck(a, ackBtn));
  const context = a.message_id
    ? h('a', { class: 'al-context small', href: '#', dataset: { message: String(a.message_id) }, title: t('msg.openContext') }, t('alerts.context', { id: a.message_id }))
    : null;
  context?.addEventListener('click', (ev) => {
    ev.preventDefault();
    openContext(a.message_id!, null);
  });
  return h('div', { class: 'list-group-item al-row' + (acked ? ' al-acked' : ''), dataset: { id: String(a.id), acked: acked ? '1' : '0', rule: a.rule } },
    h('div', { class: 'msg-meta small' },
      h('time', { class: 'al-time msg-time text-body-secondary', datetime: a.at, title: fmtTime(a.at) }, fmtShort(a.at)),
      h('span', { class: 'al-rule fw-semibold' }, a.rule),
      ruleTypeBadge(a.rule_type),
      where ? h('span', { class: 'al-where text-body-secondary text-truncate', title: where }, where) : null,
      a.user ? h('a', { class: 'al-user text-decoration-none', href: userHref(a.user), title: t('msg.openUser') }, a.user) : null,
      a.suppressed > 0 ? h('span', { class: 'badge text-bg-warning al-suppressed', title: t('alerts.suppressedTitle'), dataset: { n: String(a.suppressed) } },
        t('alerts.suppressed', { n: fmtNum(a.suppressed) })) : null,
      acked
        ? h('span', { class: 'badge text-bg-secondary al-state', dataset: { state: 'acked' }, title: fmtTime(a.acked_at) }, t('alerts.acked'))
        : h('span', { class: 'badge text-bg-danger al-state', dataset: { state: 'new' } }, t('alerts.unacked'))),
    h('div', { class: 'al-detail' }, a.detail),
    a.content ? h('div', { class: 'al-content msg-content border-start ps-2' }, a.content) : null,
    a.reply ? h('div', { class: 'small text-success-emphasis al-reply text-break' }, t('alerts.replied', { reply: a.reply })) : null,
    a.reply_error ? h('div', { class: 'small text-danger al-reply-error text-break' }, t('alerts.replyError', { err: a.reply_error })) : null,
    h('div', { class: 'd-flex flex-wrap align-items-center column-gap-3 row-gap-1 mt-1' },
      context,
      h('span', { class: 'small al-delivery' + (failed ? ' text-danger' : ' text-body-secondary'), dataset: { delivery: a.delivery }, title: a.delivery ? null : t('alerts.deliveryNoneTitle') },
        a.delivery ? t('alerts.delivery', { d: a.delivery }) : t('alerts.deliveryNone')),
      ackBtn ? h('span', { class: 'ms-auto' }, ackBtn) : null));
}
