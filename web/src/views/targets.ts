// The targets page (#/targets): every monitored target with its state
// badge, protocol, source and last error; pause / resume / remove buttons
// and an "add target" form. Everything from the server (names, URLs,
// errors) is shown through text nodes only. In a separate `wsmon web`
// (managed: false) the page is read-only.

import { del, get, isAbort, post, Target, TargetConfig, TargetList, seg } from '../api';
import { h, setChildren } from '../dom';
import { fmtNum, fmtRel, fmtTime } from '../format';
import { t, tOr } from '../i18n';
import type { ViewContext } from '../main';
import { errText, targetError } from '../errors';
import { shownState, stateClass } from '../state';
import { nextAttempt } from './dashboard';


export function targetsView(root: HTMLElement, ctx: ViewContext): void {
  const alert = h('div', { id: 'targets-alert', role: 'status' });
  const body = h('div', null, h('p', { class: 'text-body-secondary' }, t('common.loading')));
  const formSlot = h('div');
  setChildren(root, h('h1', { class: 'h4 mb-3' }, t('targets.title')), alert, body, formSlot);

  const say = (kind: 'success' | 'danger', msg: string) =>
    setChildren(alert, h('div', { class: `alert alert-${kind} py-2`, dataset: { kind } }, msg));

  let timer = 0;
  const load = () => {
    get<TargetList>('/api/targets', undefined, ctx.signal)
      .then((data) => {
        render(body, data, act);
        if (!formSlot.firstChild && data.managed) formSlot.appendChild(addForm(say, load, data.protocols ?? ['auto']));
        if (!data.managed && !alert.firstChild) setChildren(alert, h('div', { class: 'alert alert-info py-2', id: 'targets-readonly' }, t('targets.readOnly')));
      })
      .catch((e) => {
        if (!isAbort(e)) setChildren(body, h('div', { class: 'alert alert-danger' }, t('common.error', { msg: errText(e) })));
      });
  };
  const act = (name: string, action: 'pause' | 'resume' | 'remove') => {
    if (action === 'remove' && !window.confirm(t('targets.confirmRemove', { name }))) return;
    const p = action === 'remove' ? del(`/api/targets/${seg(name)}`) : post(`/api/targets/${seg(name)}/${action}`, {});
    p.then(() => { setChildren(alert); load(); }).catch((e) => say('danger', t('common.error', { msg: errText(e) })));
  };
  load();
  timer = window.setInterval(load, Math.max(2, ctx.cfg.web_refresh_interval) * 1000);
  ctx.signal.addEventListener('abort', () => window.clearInterval(timer));
}

function td(label: string, ...children: (Node | string | null)[]): HTMLTableCellElement {
  return h('td', { 'data-label': label }, ...children);
}

function render(body: HTMLElement, data: TargetList, act: (name: string, a: 'pause' | 'resume' | 'remove') => void): void {
  const ts = data.targets ?? [];
  if (!ts.length) {
    setChildren(body, h('div', { class: 'alert alert-info', id: 'targets-empty' }, t('targets.none')));
    return;
  }
  const L = { name: t('targets.name'), url: t('targets.url'), protocol: t('targets.protocol'), state: t('targets.state'),
    source: t('targets.source'), error: t('targets.lastError'), actions: t('targets.actions') };
  const button = (tg: Target, a: 'pause' | 'resume' | 'remove', label: string, cls: string) =>
    h('button', { type: 'button', class: `btn btn-sm ${cls}`, dataset: { action: a }, onclick: () => act(tg.name, a) }, label);
  const rows = ts.map((tg) => {
    const stoppedForGood = tg.state === 'refused' || tg.state === 'gave_up' || tg.state === 'stopped';
    const actions = data.managed
      ? h('div', { class: 'd-flex flex-wrap gap-1' },
          tg.paused
            ? button(tg, 'resume', t('targets.resume'), 'btn-outline-success')
            : stoppedForGood
              ? button(tg, 'resume', t('targets.retry'), 'btn-outline-success')
              : button(tg, 'pause', t('targets.pause'), 'btn-outline-secondary'),
          button(tg, 'remove', t('targets.remove'), 'btn-outline-danger'))
      : t('common.none');
    const err = tg.stopped || targetError(tg.error_code, tg.last_error);
    const state = shownState(tg);
    return h('tr', { dataset: { target: tg.name, state } },
      td(L.name, h('span', { class: 'fw-semibold' }, tg.name)),
      td(L.url, h('span', { class: 'text-break small' }, tg.url)),
      td(L.protocol, tg.protocol || 'auto',
        tg.protocol_in_use && tg.protocol_in_use !== tg.protocol ? h('div', { class: 'small text-body-secondary' }, t('targets.inUse', { p: tg.protocol_in_use })) : null),
      td(L.state,
        h('span', { class: `badge target-state ${stateClass[state] ?? 'text-bg-secondary'}` }, tOr('state.' + state, state || '?')),
        h('div', { class: 'small text-body-secondary' },
          tg.since ? h('span', { title: fmtTime(tg.since) }, fmtRel(tg.since)) : null,
          ' ', t('targets.reconnects', { n: fmtNum(tg.reconnects ?? 0) })),
        h('div', { class: 'small text-body-secondary' }, nextAttempt(tg))),
      td(L.source, tg.source === 'api' ? t('targets.sourceApi') : t('targets.sourceConfig')),
      td(L.error, err ? h('span', { class: 'text-danger text-break small target-error' }, err) : t('common.none')),
      td(L.actions, actions));
  });
  setChildren(body,
    h('div', { class: 'card mb-3' },
      h('div', { class: 'table-responsive-stack' },
        h('table', { class: 'table table-sm table-hover align-middle mb-0 table-stack', id: 'targets-table' },
          h('thead', null, h('tr', null, Object.values(L).map((x) => h('th', { scope: 'col' }, x)))),
          h('tbody', null, rows)))));
}

function addForm(say: (kind: 'success' | 'danger', msg: string) => void, reload: () => void, protocols: string[]): HTMLElement {
  const field = (id: string, label: string, input: HTMLElement) =>
    h('div', { class: 'col-12 col-md-6' }, h('label', { class: 'form-label small', for: id }, label), input);
  const name = h('input', { class: 'form-control form-control-sm', id: 'target-name', name: 'name', autocomplete: 'off' });
  const url = h('input', { class: 'form-control form-control-sm', id: 'target-url', name: 'url', required: true, placeholder: 'wss://chat.example.com/ws', autocomplete: 'off' });
  const proto = h('select', { class: 'form-select form-select-sm', id: 'target-protocol', name: 'protocol' },
    protocols.map((p) => h('option', { value: p }, p)));
  const sub = h('textarea', { class: 'form-control form-control-sm', id: 'target-subscribe', name: 'subscribe', rows: 2 });
  const opts = h('textarea', { class: 'form-control form-control-sm font-monospace', id: 'target-options', name: 'options', rows: 2, placeholder: '{}' });
  const form = h('form', { class: 'card', id: 'target-add' },
    h('div', { class: 'card-header' }, h('h2', { class: 'h6 mb-0' }, t('targets.add'))),
    h('div', { class: 'card-body row g-2' },
      field('target-name', t('targets.name'), name),
      field('target-url', t('targets.url'), url),
      field('target-protocol', t('targets.protocol'), proto),
      field('target-subscribe', t('targets.subscribe'), sub),
      h('div', { class: 'col-12' }, h('label', { class: 'form-label small', for: 'target-options' }, t('targets.options')), opts),
      h('div', { class: 'col-12' }, h('button', { type: 'submit', class: 'btn btn-sm btn-primary', id: 'target-submit' }, t('targets.add')))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body: TargetConfig = { name: name.value.trim(), url: url.value.trim(), protocol: proto.value };
    const subs = sub.value.split('\n').map((s) => s.trim()).filter(Boolean);
    if (subs.length) body.subscribe = subs;
    if (opts.value.trim()) {
      let o: unknown;
      try {
        o = JSON.parse(opts.value);
      } catch {
        o = null;
      }
      if (!o || typeof o !== 'object' || Array.isArray(o)) {
        say('danger', t('targets.badOptions'));
        return;
      }
      body.options = o as Record<string, unknown>;
    }
    post<{ name: string }>('/api/targets', body)
      .then((r) => {
        say('success', t('targets.added', { name: r.name || body.name || body.url || '' }));
        form.reset();
        reload();
      })
      .catch((e) => say('danger', t('common.error', { msg: errText(e) })));
  });
  return form;
}
