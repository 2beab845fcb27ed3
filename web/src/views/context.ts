// The context view: a modal listing the messages around one message, the
// selected one marked and the search query highlighted. Built by hand on
// Bootstrap's modal classes (no Bootstrap JS needed).

import { Context, get, isAbort, seg } from '../api';
import { h, Highlighter, setChildren } from '../dom';
import { t } from '../i18n';
import { messageRow } from '../msgrow';
import { errText } from '../errors';

let closeCurrent: (() => void) | null = null;

/** closeContext closes the modal if open (route changes call it). */
export function closeContext(): void {
  closeCurrent?.();
}

/** openContext shows the messages around message id. */
export function openContext(id: number, hl: Highlighter | null): void {
  closeContext();
  const ctrl = new AbortController();
  const opener = document.activeElement as HTMLElement | null;
  const body = h('div', { class: 'modal-body p-0' }, h('p', { class: 'p-3 mb-0 text-body-secondary' }, t('common.loading')));
  const closeBtn = h('button', { type: 'button', class: 'btn-close', 'aria-label': t('common.close') });
  const titleId = 'context-title';
  const dialog = h('div', { class: 'modal-dialog modal-lg modal-dialog-scrollable modal-fullscreen-sm-down' },
    h('div', { class: 'modal-content' },
      h('div', { class: 'modal-header' },
        h('div', null, h('h5', { class: 'modal-title', id: titleId }, t('context.title')), h('div', { class: 'small text-body-secondary' }, t('context.hint'))),
        closeBtn),
      body));
  const modal = h('div', { class: 'modal d-block', id: 'context-modal', tabindex: '-1', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId }, dialog);
  const backdrop = h('div', { class: 'modal-backdrop show' });

  const onKey = (ev: KeyboardEvent) => {
    if (ev.key === 'Escape') close();
  };
  function close() {
    ctrl.abort();
    modal.remove();
    backdrop.remove();
    document.body.classList.remove('modal-open');
    document.removeEventListener('keydown', onKey);
    closeCurrent = null;
    opener?.focus?.();
  }
  closeCurrent = close;
  closeBtn.addEventListener('click', close);
  modal.addEventListener('click', (ev) => {
    if (ev.target === modal) close();
  });
  document.addEventListener('keydown', onKey);
  document.body.classList.add('modal-open');
  document.body.append(backdrop, modal);
  requestAnimationFrame(() => modal.classList.add('show'));
  closeBtn.focus();

  get<Context>(`/api/messages/${seg(id)}/context`, { n: 20 }, ctrl.signal)
    .then((c) => {
      const list = h('div', { class: 'list-group list-group-flush', id: 'context-list' });
      let anchorRow: HTMLElement | null = null;
      for (const m of c.messages ?? []) {
        const isAnchor = m.id === (c.anchor ?? id);
        // Another row opens its own context (the conversation around it).
        const row = messageRow(m, { highlight: hl, anchor: isAnchor, onOpen: isAnchor ? undefined : (x) => openContext(x.id, hl) });
        if (isAnchor) {
          row.setAttribute('aria-current', 'true');
          anchorRow = row;
        }
        list.appendChild(row);
      }
      setChildren(body, list);
      anchorRow?.scrollIntoView({ block: 'center' });
    })
    .catch((e) => {
      if (isAbort(e)) return;
      setChildren(body, h('div', { class: 'alert alert-danger m-3' }, t('common.error', { msg: errText(e) })));
    });
}
