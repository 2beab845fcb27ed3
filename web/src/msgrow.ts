// Rendering of one message as a list row, shared by the live stream,
// search results, the context view and the user page.

import type { Msg } from './api';
import { h, Highlighter } from './dom';
import { fmtShort, fmtTime } from './format';
import { t, tOr } from './i18n';

const typeClass: Record<string, string> = {
  chat: 'text-bg-primary',
  system: 'text-bg-secondary',
  join: 'text-bg-success',
  leave: 'text-bg-warning',
  other: 'text-bg-light border',
};

export function userHref(name: string): string {
  return '#/user/' + encodeURIComponent(name);
}

export interface RowOptions {
  highlight?: Highlighter | null;
  anchor?: boolean;
  onOpen?: (m: Msg) => void; // click on the row (not on a link)
}

/** typeBadge renders the message type as a coloured badge. */
export function typeBadge(type: string): HTMLElement {
  return h('span', { class: `badge msg-type ${typeClass[type] ?? 'text-bg-light border'}`, dataset: { type } }, tOr('type.' + type, type || '?'));
}

/** messageRow renders m as a .msg-row with data-id; the text is in .msg-content. */
export function messageRow(m: Msg, opt: RowOptions = {}): HTMLElement {
  const where = [m.target, m.room].filter(Boolean).join(' / ');
  const time = h('time', { class: 'msg-time text-body-secondary', datetime: m.received_at, title: t('msg.receivedAt', { time: fmtTime(m.received_at) }) + (m.sent_at ? '\n' + t('msg.sentAt', { time: fmtTime(m.sent_at) }) : '') }, fmtShort(m.received_at));
  const user = m.user
    ? h('a', { class: 'msg-user fw-semibold text-decoration-none', href: userHref(m.user), title: t('msg.openUser') }, m.user)
    : h('span', { class: 'msg-user text-body-secondary' }, t('common.none'));
  const content = h('div', { class: 'msg-content' + (m.content ? '' : ' text-body-secondary fst-italic') });
  if (!m.content) content.textContent = t('common.empty');
  else if (opt.highlight) content.appendChild(opt.highlight.render(m.content));
  else content.textContent = m.content;

  const row = h(
    'div',
    { class: 'msg-row list-group-item' + (opt.anchor ? ' msg-anchor' : '') + (opt.onOpen ? ' msg-clickable list-group-item-action' : ''), dataset: { id: String(m.id), type: m.type } },
    h('div', { class: 'msg-meta small' },
      time,
      where ? h('span', { class: 'msg-where text-body-secondary text-truncate', title: where }, where) : null,
      user,
      typeBadge(m.type),
      m.reason ? h('span', { class: 'badge text-bg-danger msg-reason', title: m.reason, dataset: { reason: m.reason } }, tOr('reason.' + m.reason, m.reason)) : null,
    ),
    content,
  );
  if (opt.onOpen) {
    const open = opt.onOpen;
    row.tabIndex = 0;
    row.title = t('msg.openContext');
    row.addEventListener('click', (ev) => {
      if ((ev.target as Element).closest('a')) return;
      if (window.getSelection()?.toString()) return; // selecting text is not a click
      row.focus({ preventScroll: true }); // closing the context gives the focus back here
      open(m);
    });
    // Enter opens the context when the key comes up, not down: the
    // context focuses its close button, which the rest of the key press
    // (keypress) would otherwise press at once.
    let enterDown = false;
    row.addEventListener('keydown', (ev) => {
      enterDown = ev.key === 'Enter' && ev.target === row;
      if (enterDown) ev.preventDefault();
    });
    row.addEventListener('keyup', (ev) => {
      if (ev.key !== 'Enter' || ev.target !== row || !enterDown) return;
      enterDown = false;
      open(m);
    });
  }
  return row;
}
