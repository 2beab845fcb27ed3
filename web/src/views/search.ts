// The search page (#/search?q=&user=&type=&from=&to=): the form state lives
// in the hash so results can be bookmarked and the back button works.
// With a keyword it queries /api/search; with filters only it lists
// /api/messages. Matches are highlighted with <mark> text nodes. The
// export link downloads, from /api/export, everything the applied keyword
// and filters select (a plain link: the browser sends the session cookie).

import { get, isAbort, Msg, Page, query, SearchPage } from '../api';
import { h, Highlighter, setChildren } from '../dom';
import { fmtNum, fromLocalInput } from '../format';
import { t } from '../i18n';
import type { ViewContext } from '../main';
import { messageRow } from '../msgrow';
import { openContext } from './context';
import { errText } from '../errors';

const fields = ['q', 'user', 'type', 'target', 'room', 'from', 'to'] as const;
const pageSize = 50;

export function searchView(root: HTMLElement, ctx: ViewContext): void {
  const p = ctx.params;
  const val = (k: string) => p.get(k) ?? '';

  const q = h('input', { type: 'search', class: 'form-control', id: 'search-input', name: 'q', value: val('q'), placeholder: t('search.keywordPh'), autocomplete: 'off', enterkeyhint: 'search' });
  const user = h('input', { class: 'form-control', id: 'search-user', name: 'user', value: val('user'), autocomplete: 'off' });
  const type = h('select', { class: 'form-select', id: 'search-type', name: 'type' },
    h('option', { value: '' }, t('common.all')),
    ['chat', 'system', 'join', 'leave', 'other'].map((ty) => h('option', { value: ty, selected: val('type') === ty }, t(`type.${ty}` as 'type.chat'))));
  const from = h('input', { type: 'datetime-local', class: 'form-control', id: 'search-from', name: 'from', value: val('from') });
  const to = h('input', { type: 'datetime-local', class: 'form-control', id: 'search-to', name: 'to', value: val('to') });
  const button = h('button', { type: 'submit', class: 'btn btn-primary w-100', id: 'search-button' }, t('search.button'));
  const label = (forId: string, text: string) => h('label', { class: 'form-label small mb-1', for: forId }, text);

  const form = h('form', { class: 'row g-2 align-items-end mb-3', id: 'search-form', role: 'search' },
    h('div', { class: 'col-12 col-lg-4' }, label('search-input', t('search.keyword')), q),
    h('div', { class: 'col-6 col-lg-2' }, label('search-user', t('search.user')), user),
    h('div', { class: 'col-6 col-lg-1' }, label('search-type', t('search.type')), type),
    h('div', { class: 'col-6 col-lg-2' }, label('search-from', t('search.from')), from),
    h('div', { class: 'col-6 col-lg-2' }, label('search-to', t('search.to')), to),
    h('div', { class: 'col-12 col-lg-1' }, button));

  const summary = h('div', { class: 'small text-body-secondary', id: 'search-summary', 'aria-live': 'polite' });
  const exportFormat = h('select', { class: 'form-select form-select-sm w-auto', id: 'search-export-format', 'aria-label': t('search.exportFormat') },
    ['csv', 'json', 'ndjson'].map((f) => h('option', { value: f }, f.toUpperCase())));
  const exportLink = h('a', { class: 'btn btn-sm btn-outline-secondary', id: 'search-export', download: '', title: t('search.exportTitle') }, t('search.export'));
  // What is exported is what the page shows: the keyword and filters in
  // the hash (applied), not unsubmitted edits of the form.
  const exportHref = () => {
    const fromISO = fromLocalInput(val('from'));
    const toISO = fromLocalInput(val('to'));
    exportLink.classList.toggle('disabled', Boolean(fromISO && toISO && fromISO >= toISO));
    exportLink.href = '/api/export' + query({
      format: exportFormat.value, q: val('q').trim(), user: val('user'), type: val('type'),
      target: val('target'), room: val('room'), from: fromISO, to: toISO,
    });
  };
  exportFormat.addEventListener('change', exportHref);
  exportHref();
  const results = h('div', { class: 'list-group', id: 'search-results' });
  const more = h('button', { type: 'button', class: 'btn btn-outline-primary d-none', id: 'search-more' }, t('search.more'));
  const error = h('div', { id: 'search-error' });

  setChildren(root,
    h('h1', { class: 'h4 mb-3' }, t('search.title')),
    form, error,
    h('div', { class: 'd-flex flex-wrap align-items-center justify-content-between gap-2 mb-2' },
      summary,
      h('div', { class: 'd-flex align-items-center gap-1 ms-auto' }, exportFormat, exportLink)),
    results,
    h('div', { class: 'text-center my-3' }, more));

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const sp = new URLSearchParams();
    const set = (k: string, v: string) => v.trim() && sp.set(k, v.trim());
    set('q', q.value);
    set('user', user.value);
    set('type', type.value);
    for (const k of ['target', 'room']) set(k, val(k)); // kept from links, no field
    set('from', from.value);
    set('to', to.value);
    const hash = '#/search' + (sp.toString() ? '?' + sp.toString() : '');
    if (location.hash === hash) run(); // same query: search again
    else location.hash = hash;
  });

  const hasQuery = fields.some((k) => val(k) !== '');
  if (!hasQuery) {
    summary.textContent = t('search.hint');
    q.focus();
    return;
  }
  run();

  function run() {
    error.replaceChildren();
    results.replaceChildren();
    more.classList.add('d-none');
    const fromISO = fromLocalInput(val('from'));
    const toISO = fromLocalInput(val('to'));
    if (fromISO && toISO && fromISO >= toISO) {
      setChildren(error, h('div', { class: 'alert alert-warning' }, t('search.badRange')));
      summary.textContent = '';
      return;
    }
    const keyword = val('q').trim();
    const hl = keyword ? new Highlighter(keyword) : null;
    const params = { q: keyword || undefined, user: val('user'), type: val('type'), target: val('target'), room: val('room'), from: fromISO, to: toISO, limit: pageSize };
    let shown = 0;
    let header = '';

    const load = (before: string | null) => {
      summary.textContent = shown ? summary.textContent : t('common.loading');
      more.disabled = true;
      const req = keyword
        ? get<SearchPage>('/api/search', { ...params, before }, ctx.signal)
        : get<Page>('/api/messages', { ...params, before }, ctx.signal);
      req
        .then((page) => {
          const msgs: Msg[] = page.messages ?? [];
          if (!before) {
            const sp = page as Partial<SearchPage>;
            if (typeof sp.total === 'number') header = t(sp.total_is_estimate ? 'search.totalEstimate' : 'search.total', { n: fmtNum(sp.total) });
            else header = t('search.browse');
          }
          const frag = document.createDocumentFragment();
          for (const m of msgs) frag.appendChild(messageRow(m, { highlight: hl, onOpen: (x) => openContext(x.id, hl) }));
          results.appendChild(frag);
          shown += msgs.length;
          summary.textContent = shown === 0 ? t('search.none') : `${header} · ${t('search.shown', { n: fmtNum(shown) })}`;
          summary.dataset.shown = String(shown);
          if (typeof (page as Partial<SearchPage>).total === 'number') summary.dataset.total = String((page as SearchPage).total);
          more.classList.toggle('d-none', !page.next);
          more.disabled = false;
          more.onclick = page.next ? () => load(page.next) : null;
        })
        .catch((e) => {
          if (isAbort(e)) return;
          more.disabled = false;
          summary.textContent = '';
          setChildren(error, h('div', { class: 'alert alert-danger' }, t('common.error', { msg: errText(e) })));
        });
    };
    load(null);
  }
}
