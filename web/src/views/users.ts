// The users page (#/users?q=&sort=&order=): the users of the behaviour
// rollups (GET /api/analysis/users), sorted by messages, last seen, first
// seen or name, ascending or descending, narrowed by a substring of the
// name (typed: applied after a pause), one page of 50 at a time with
// "More" (keyset paging on next_cursor: nothing loads all users, there
// may be millions). Each name opens its user page. With analysis_behaviour
// off (/api/ui-config "analyses" lacks "behaviour") it says which key
// turns it on and asks nothing. User names are set as text only.

import { ApiError, behaviourOn, BehaviourUser, BehaviourUserPage, get, isAbort, UsersSort } from '../api';
import { h, setChildren } from '../dom';
import { errText } from '../errors';
import { fmtNum, fmtRel, fmtTime } from '../format';
import { Key, t } from '../i18n';
import type { ViewContext } from '../main';
import { userHref } from '../msgrow';
import { offNote } from './analysis';

const sorts: readonly UsersSort[] = ['messages', 'last_seen', 'first_seen', 'name'];
const sortKey: Record<UsersSort, Key> = { messages: 'users.sortMessages', last_seen: 'users.sortLastSeen', first_seen: 'users.sortFirstSeen', name: 'users.sortName' };
const pageSize = 50;
/** debounce is how long typing pauses before the search runs. */
const debounce = 300;

export function usersView(root: HTMLElement, ctx: ViewContext): void {
  const title = h('h1', { class: 'h4 mb-3', id: 'users-title' }, t('users.title'));
  if (!behaviourOn(ctx.cfg)) {
    setChildren(root, title, offNote(t('users.title'), 'analysis_behaviour'));
    return;
  }
  const p = ctx.params;
  const state = {
    q: p.get('q') ?? '',
    sort: (sorts as readonly string[]).includes(p.get('sort') ?? '') ? (p.get('sort') as UsersSort) : 'messages',
    order: p.get('order') === 'asc' ? 'asc' : 'desc',
  };

  const q = h('input', { type: 'search', class: 'form-control form-control-sm', id: 'users-q', name: 'q', value: state.q, placeholder: t('users.searchPh'), autocomplete: 'off', maxlength: 256 });
  const sort = h('select', { class: 'form-select form-select-sm', id: 'users-sort', name: 'sort' }, sorts.map((s) => h('option', { value: s }, t(sortKey[s]))));
  sort.value = state.sort;
  const order = h('select', { class: 'form-select form-select-sm', id: 'users-order', name: 'order' },
    h('option', { value: 'desc' }, t('users.desc')), h('option', { value: 'asc' }, t('users.asc')));
  order.value = state.order;
  const label = (forId: string, text: string) => h('label', { class: 'form-label small mb-1', for: forId }, text);
  const form = h('form', { class: 'row g-2 align-items-end mb-3', id: 'users-filter', role: 'search' },
    h('div', { class: 'col-12 col-md-5 col-lg-4' }, label('users-q', t('users.search')), q),
    h('div', { class: 'col-6 col-md-3 col-lg-2' }, label('users-sort', t('users.sort')), sort),
    h('div', { class: 'col-6 col-md-3 col-lg-2' }, label('users-order', t('users.order')), order));
  const summary = h('div', { class: 'small text-body-secondary mb-2', id: 'users-summary', 'aria-live': 'polite' }, t('common.loading'));
  const thead = h('thead');
  const tbody = h('tbody');
  const table = h('table', { class: 'table table-sm table-hover align-middle mb-0 table-stack users-table', id: 'users-table' }, thead, tbody);
  const more = h('button', { type: 'button', class: 'btn btn-sm btn-outline-primary d-none', id: 'users-more' }, t('users.more'));
  const box = h('div', { id: 'users-box' });
  setChildren(root, title, form, summary,
    h('div', { class: 'card mb-3' }, h('div', { class: 'table-responsive-stack' }, table)),
    box, more);

  const cols: { key: string; sort?: UsersSort; num?: boolean }[] = [
    { key: 'users.colName', sort: 'name' }, { key: 'users.colMessages', sort: 'messages', num: true },
    { key: 'users.colSessions', num: true }, { key: 'users.colFirstSeen', sort: 'first_seen' }, { key: 'users.colLastSeen', sort: 'last_seen' },
  ];
  function header() {
    setChildren(thead, h('tr', null, cols.map((c) => {
      const text = t(c.key as Key);
      const active = c.sort === state.sort;
      const cls = c.num ? 'text-end' : '';
      if (!c.sort) return h('th', { scope: 'col', class: cls }, text);
      const s = c.sort;
      return h('th', { scope: 'col', class: cls, 'aria-sort': active ? (state.order === 'asc' ? 'ascending' : 'descending') : null },
        h('button', { type: 'button', class: 'sort-button', dataset: { sort: s }, title: t('users.sortBy', { col: text }),
          onclick: () => {
            if (state.sort === s) state.order = state.order === 'asc' ? 'desc' : 'asc';
            else {
              state.sort = s;
              state.order = s === 'name' ? 'asc' : 'desc';
            }
            sort.value = state.sort;
            order.value = state.order;
            apply();
          } },
          text, active ? (state.order === 'asc' ? ' ▲' : ' ▼') : null));
    })));
  }

  let cursor: string | null = null;
  let shown = 0;
  let req: AbortController | null = null;
  ctx.signal.addEventListener('abort', () => req?.abort());

  /** apply writes the state into the URL (no new history entry) and loads the first page. */
  function apply() {
    const sp = new URLSearchParams();
    if (state.q) sp.set('q', state.q);
    if (state.sort !== 'messages') sp.set('sort', state.sort);
    if (state.order !== 'desc') sp.set('order', state.order);
    const qs = sp.toString();
    history.replaceState(null, '', '#/users' + (qs ? '?' + qs : ''));
    load(false);
  }

  function load(append: boolean) {
    req?.abort();
    const ac = new AbortController();
    req = ac;
    if (!append) {
      header();
      cursor = null;
      summary.textContent = t('common.loading');
    }
    more.disabled = true;
    get<BehaviourUserPage>('/api/analysis/users', { q: state.q, sort: state.sort, order: state.order, limit: pageSize, cursor: append ? cursor : null }, ac.signal)
      .then((page) => {
        const users = page.users ?? [];
        if (!append) {
          tbody.replaceChildren();
          shown = 0;
          box.replaceChildren();
        }
        for (const u of users) tbody.appendChild(row(u));
        shown += users.length;
        cursor = page.next_cursor || null;
        more.classList.toggle('d-none', !cursor);
        more.disabled = false;
        summary.dataset.total = String(page.total);
        summary.dataset.shown = String(shown);
        summary.dataset.sort = state.sort + ':' + state.order + ':' + state.q;
        summary.textContent = t(state.q ? 'users.summaryQ' : 'users.summary', { n: fmtNum(shown), total: fmtNum(page.total), q: state.q }) +
          (cursor ? ' ' + t('users.hasMore') : '');
        if (!shown) setChildren(box, h('p', { class: 'text-body-secondary', id: 'users-empty' }, t(state.q ? 'users.noneQ' : 'users.none')));
      })
      .catch((e) => {
        if (isAbort(e)) return;
        more.disabled = false;
        summary.textContent = '';
        if (e instanceof ApiError && e.code === 'analysis_off') setChildren(box, offNote(t('users.title'), 'analysis_behaviour'));
        else setChildren(box, h('div', { class: 'alert alert-danger', id: 'users-error' }, t('common.error', { msg: errText(e) })));
      });
  }

  function row(u: BehaviourUser): HTMLElement {
    const td = (key: Key, cls: string, ...c: (Node | string)[]) => h('td', { 'data-label': t(key), class: cls }, ...c);
    return h('tr', { class: 'user-row', dataset: { user: u.user, messages: String(u.messages), sessions: String(u.sessions) } },
      td('users.colName', 'users-name', h('a', { href: userHref(u.user), class: 'user-link' }, u.user === '' ? t('common.empty') : u.user)),
      td('users.colMessages', 'text-end', fmtNum(u.messages)),
      td('users.colSessions', 'text-end', fmtNum(u.sessions)),
      td('users.colFirstSeen', '', h('span', { title: fmtRel(u.first_seen) }, fmtTime(u.first_seen))),
      td('users.colLastSeen', '', h('span', { title: fmtRel(u.last_seen) }, fmtTime(u.last_seen))));
  }

  let timer = 0;
  ctx.signal.addEventListener('abort', () => clearTimeout(timer));
  q.addEventListener('input', () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => {
      if (q.value === state.q) return;
      state.q = q.value;
      apply();
    }, debounce);
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearTimeout(timer);
    state.q = q.value;
    apply();
  });
  sort.addEventListener('change', () => {
    state.sort = sort.value as UsersSort;
    apply();
  });
  order.addEventListener('change', () => {
    state.order = order.value === 'asc' ? 'asc' : 'desc';
    apply();
  });
  more.addEventListener('click', () => load(true));
  load(false);
}
