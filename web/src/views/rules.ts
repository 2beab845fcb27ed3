// The rules page (#/rules): every alert rule with its type, a summary,
// its scope and source; add, edit and delete through a form whose fields
// follow the type (keyword: keywords; regex: pattern; user: users; rate:
// threshold, window, per; silence and connection: minutes; the message
// rules may also reply on the connection with a template). The server
// validates: its 400 message (which starts with the field) is shown next
// to the form and marks that field. In a separate `wsmon web` (managed:
// false) the page is read-only. Rule names, keywords, patterns and errors
// are shown as text only.

import { ApiError, del, get, isAbort, post, put, RuleConfig, RuleInfo, RuleList, seg } from '../api';
import { h, setChildren } from '../dom';
import { fmtNum, fmtRel, fmtTime } from '../format';
import { Key, t, tOr } from '../i18n';
import type { ViewContext } from '../main';
import { alertTabs, ruleTypeBadge } from './alerts';
import { errText as apiErrText } from '../errors';

const fallbackTypes = ['keyword', 'regex', 'user', 'rate', 'silence', 'connection'];
/** the fields the form edits (anything else a rule has is kept on edit) */
const formFields = ['name', 'type', 'targets', 'rooms', 'keywords', 'pattern', 'users', 'threshold', 'window', 'per', 'minutes', 'cooldown', 'notify', 'disabled', 'reply'];
/** what GET /api/rules adds to a rule */
const infoFields = ['source', 'updated_at', 'error'];
/** the fields each type uses, besides the common ones */
const typeFields: Record<string, string[]> = {
  keyword: ['keywords', 'rooms', 'reply'],
  regex: ['pattern', 'rooms', 'reply'],
  user: ['users', 'rooms', 'reply'],
  rate: ['threshold', 'window', 'per', 'rooms'],
  silence: ['minutes'],
  connection: ['minutes'],
};

// A 400 names the field first ("pattern: ..."): shown as it is, on the field.
function errText(e: unknown): string {
  return e instanceof ApiError && e.code === 'bad_param' ? e.message : apiErrText(e);
}

/** listText shows at most n items of a list, then "+k". */
function listText(xs: string[] | undefined, n = 5): string {
  const l = xs ?? [];
  return l.slice(0, n).join(', ') + (l.length > n ? ' ' + t('rules.andMore', { n: fmtNum(l.length - n) }) : '');
}

/** ruleSummary is a one-line description of what the rule matches. */
export function ruleSummary(r: RuleConfig): string {
  switch (r.type) {
    case 'keyword':
      return t('rules.sumKeyword', { list: listText(r.keywords) });
    case 'regex':
      return t('rules.sumRegex', { pattern: r.pattern ?? '' });
    case 'user':
      return t('rules.sumUser', { list: listText(r.users) });
    case 'rate':
      return t('rules.sumRate', { n: fmtNum(r.threshold ?? 0), w: fmtNum(r.window || 60), per: t(('rules.per.' + (r.per || 'target')) as Key) });
    case 'silence':
      return t('rules.sumSilence', { m: fmtNum(r.minutes ?? 0) });
    case 'connection':
      return r.minutes ? t('rules.sumConnection', { m: fmtNum(r.minutes) }) : t('rules.sumConnectionNow');
  }
  return '';
}

export function rulesView(root: HTMLElement, ctx: ViewContext): void {
  const notice = h('div', { id: 'rules-notice', role: 'status' });
  const body = h('div', null, h('p', { class: 'text-body-secondary' }, t('common.loading')));
  const formSlot = h('div');
  setChildren(root,
    h('h1', { class: 'h4 mb-3', id: 'rules-title' }, t('rules.title')),
    alertTabs('rules'), notice, body, formSlot);
  const say = (kind: 'success' | 'danger' | 'info', msg: string, id?: string) =>
    setChildren(notice, h('div', { class: `alert alert-${kind} py-2`, id: id ?? null, dataset: { kind } }, msg));

  let form: RuleForm | null = null;
  const load = () => {
    get<RuleList>('/api/rules', undefined, ctx.signal)
      .then((data) => {
        renderTable(body, data, (r) => form?.edit(r), remove);
        if (!data.managed) {
          say('info', t('rules.readOnly'), 'rules-readonly');
          formSlot.replaceChildren();
          form = null;
        } else if (!form) {
          form = new RuleForm(data.types?.length ? data.types : fallbackTypes, (name, created) => {
            say('success', t(created ? 'rules.added' : 'rules.saved', { name }));
            load();
          });
          setChildren(formSlot, form.el);
        }
      })
      .catch((e) => {
        if (!isAbort(e)) setChildren(body, h('div', { class: 'alert alert-danger' }, t('common.error', { msg: errText(e) })));
      });
  };
  const remove = (r: RuleInfo) => {
    if (!window.confirm(t('rules.confirmDelete', { name: r.name }))) return;
    del(`/api/rules/${seg(r.name)}`)
      .then(() => {
        say('success', t('rules.deleted', { name: r.name }));
        form?.forget(r.name);
        load();
      })
      .catch((e) => say('danger', t('common.error', { msg: errText(e) })));
  };
  load();
}

function renderTable(body: HTMLElement, data: RuleList, edit: (r: RuleInfo) => void, remove: (r: RuleInfo) => void): void {
  const rs = data.rules ?? [];
  if (!rs.length) {
    setChildren(body, h('div', { class: 'alert alert-info', id: 'rules-empty' }, t('rules.none')));
    return;
  }
  const L = { name: t('rules.name'), type: t('rules.type'), summary: t('rules.summary'), scope: t('rules.scope'),
    cooldown: t('rules.cooldown'), notify: t('rules.notify'), source: t('rules.source'), actions: t('rules.actions') };
  const td = (label: string, ...children: (Node | string | null)[]) => h('td', { 'data-label': label }, ...children);
  const rows = rs.map((r) => {
    const scope = [
      r.targets?.length ? t('rules.scopeTargets', { list: listText(r.targets) }) : '',
      r.rooms?.length ? t('rules.scopeRooms', { list: listText(r.rooms) }) : '',
    ].filter(Boolean).join('; ') || t('rules.scopeAll');
    return h('tr', { dataset: { rule: r.name, type: r.type, source: r.source, disabled: r.disabled ? '1' : '0' } },
      td(L.name, h('span', { class: 'fw-semibold rule-name' }, r.name),
        r.disabled ? h('span', { class: 'badge text-bg-secondary ms-1 rule-disabled' }, t('rules.disabled')) : null),
      td(L.type, ruleTypeBadge(r.type)),
      td(L.summary, h('span', { class: 'rule-summary text-break' }, ruleSummary(r)),
        r.reply ? h('div', { class: 'small text-body-secondary rule-reply text-break' }, t('rules.replies', { reply: r.reply.length > 120 ? r.reply.slice(0, 119) + '…' : r.reply })) : null,
        r.error ? h('div', { class: 'small text-danger rule-error text-break' }, t('rules.storedError', { msg: r.error })) : null),
      td(L.scope, h('span', { class: 'small' }, scope)),
      td(L.cooldown, t('rules.seconds', { n: fmtNum(r.cooldown || 60) })),
      td(L.notify, r.notify?.length ? listText(r.notify) : t('common.none')),
      td(L.source, r.source === 'api' ? t('rules.sourceApi') : t('rules.sourceConfig'),
        r.updated_at ? h('div', { class: 'small text-body-secondary', title: fmtTime(r.updated_at) }, fmtRel(r.updated_at)) : null),
      td(L.actions, data.managed
        ? h('div', { class: 'd-flex flex-wrap gap-1' },
            h('button', { type: 'button', class: 'btn btn-sm btn-outline-primary', dataset: { action: 'edit' }, onclick: () => edit(r) }, t('rules.edit')),
            h('button', { type: 'button', class: 'btn btn-sm btn-outline-danger', dataset: { action: 'delete' }, onclick: () => remove(r) }, t('rules.delete')))
        : t('common.none')));
  });
  setChildren(body,
    h('div', { class: 'card mb-3' },
      h('div', { class: 'table-responsive-stack' },
        h('table', { class: 'table table-sm table-hover align-middle mb-0 table-stack', id: 'rules-table' },
          h('thead', null, h('tr', null, Object.values(L).map((x) => h('th', { scope: 'col' }, x)))),
          h('tbody', null, rows)))));
}

/** lines splits a textarea into its non-empty trimmed lines. */
function lines(v: string): string[] {
  return v.split('\n').map((s) => s.trim()).filter(Boolean);
}

/** RuleForm adds a rule, or edits one (PUT) after edit(). */
class RuleForm {
  readonly el: HTMLFormElement;
  private editing: string | null = null;
  private original: RuleInfo | null = null; // the rule being edited, as listed
  private readonly title: HTMLElement;
  private readonly submit: HTMLButtonElement;
  private readonly cancel: HTMLButtonElement;
  private readonly error: HTMLElement;
  private readonly inputs: Record<string, HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement> = {};
  private readonly groups: Record<string, HTMLElement> = {};
  private readonly type: HTMLSelectElement;
  private readonly disabled: HTMLInputElement;

  constructor(types: string[], private readonly saved: (name: string, created: boolean) => void) {
    const input = (name: string, props: Record<string, string | boolean>) =>
      (this.inputs[name] = h('input', { class: 'form-control form-control-sm', id: 'rule-' + name, name, autocomplete: 'off', ...props }));
    const area = (name: string, placeholder: string) =>
      (this.inputs[name] = h('textarea', { class: 'form-control form-control-sm', id: 'rule-' + name, name, rows: 2, placeholder }));
    const group = (name: string, label: string, el: HTMLElement, hint?: string, cls = 'col-12 col-md-6') =>
      (this.groups[name] = h('div', { class: cls, dataset: { field: name } },
        h('label', { class: 'form-label small mb-1', for: 'rule-' + name }, label), el,
        hint ? h('div', { class: 'form-text' }, hint) : null,
        h('div', { class: 'invalid-feedback', id: `rule-${name}-feedback` })));

    this.type = h('select', { class: 'form-select form-select-sm', id: 'rule-type', name: 'type' },
      types.map((ty) => h('option', { value: ty }, tOr('ruleType.' + ty, ty))));
    this.inputs.type = this.type;
    const per = h('select', { class: 'form-select form-select-sm', id: 'rule-per', name: 'per' },
      ['target', 'room', 'user'].map((p) => h('option', { value: p }, t(('rules.per.' + p) as Key))));
    this.inputs.per = per;
    this.disabled = h('input', { type: 'checkbox', class: 'form-check-input', id: 'rule-disabled', name: 'disabled' });
    const num = { type: 'number', min: '0', step: 'any', inputmode: 'decimal' };

    this.title = h('h2', { class: 'h6 mb-0', id: 'rule-form-title' });
    this.submit = h('button', { type: 'submit', class: 'btn btn-sm btn-primary', id: 'rule-submit' });
    this.cancel = h('button', { type: 'button', class: 'btn btn-sm btn-outline-secondary d-none', id: 'rule-cancel' }, t('rules.cancel'));
    this.error = h('div', { id: 'rule-error', role: 'alert' });
    this.el = h('form', { class: 'card', id: 'rule-form', novalidate: true },
      h('div', { class: 'card-header' }, this.title),
      h('div', { class: 'card-body row g-2' },
        group('name', t('rules.name'), input('name', {})),
        group('type', t('rules.type'), this.type),
        group('keywords', t('rules.keywords'), area('keywords', '紧急\nurgent'), t('rules.keywordsHint')),
        group('pattern', t('rules.pattern'), input('pattern', { class: 'form-control form-control-sm font-monospace', placeholder: '(?i)refund|退款' }), t('rules.patternHint')),
        group('users', t('rules.users'), area('users', ''), t('rules.onePerLine')),
        group('threshold', t('rules.threshold'), input('threshold', { ...num, step: '1', inputmode: 'numeric' }), undefined, 'col-6 col-md-2'),
        group('window', t('rules.window'), input('window', { ...num, placeholder: '60' }), undefined, 'col-6 col-md-2'),
        group('per', t('rules.per'), per, undefined, 'col-6 col-md-2'),
        group('minutes', t('rules.minutes'), input('minutes', num), t('rules.minutesHint'), 'col-6 col-md-3'),
        group('targets', t('rules.targets'), area('targets', ''), t('rules.targetsHint')),
        group('rooms', t('rules.rooms'), area('rooms', ''), t('rules.roomsHint')),
        group('cooldown', t('rules.cooldownSeconds'), input('cooldown', { ...num, placeholder: '60' }), t('rules.cooldownHint'), 'col-6 col-md-3'),
        group('reply', t('rules.reply'), area('reply', ''), t('rules.replyHint'), 'col-12'),
        group('notify', t('rules.notify'), area('notify', ''), t('rules.notifyHint'), 'col-12 col-md-5'),
        h('div', { class: 'col-12 col-md-4 d-flex align-items-center' },
          h('div', { class: 'form-check form-switch' }, this.disabled, h('label', { class: 'form-check-label small', for: 'rule-disabled' }, t('rules.disabledLabel')))),
        h('div', { class: 'col-12' }, this.error),
        h('div', { class: 'col-12 d-flex gap-2' }, this.submit, this.cancel)));
    this.type.addEventListener('change', () => this.showFields());
    this.cancel.addEventListener('click', () => this.reset());
    this.el.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.send();
    });
    this.reset();
  }

  /** edit fills the form with r for a PUT. */
  edit(r: RuleInfo): void {
    this.reset();
    this.editing = r.name;
    this.original = r;
    const v = this.inputs;
    v.name.value = r.name;
    (v.name as HTMLInputElement).readOnly = true;
    if (![...this.type.options].some((o) => o.value === r.type)) this.type.appendChild(h('option', { value: r.type }, r.type));
    this.type.value = r.type;
    v.keywords.value = (r.keywords ?? []).join('\n');
    v.pattern.value = r.pattern ?? '';
    v.users.value = (r.users ?? []).join('\n');
    v.threshold.value = r.threshold ? String(r.threshold) : '';
    v.window.value = r.window ? String(r.window) : '';
    v.per.value = r.per || 'target';
    v.minutes.value = r.minutes ? String(r.minutes) : '';
    v.targets.value = (r.targets ?? []).join('\n');
    v.rooms.value = (r.rooms ?? []).join('\n');
    v.cooldown.value = r.cooldown ? String(r.cooldown) : '';
    v.notify.value = (r.notify ?? []).join('\n');
    v.reply.value = r.reply ?? '';
    this.disabled.checked = Boolean(r.disabled);
    this.title.textContent = t('rules.editTitle', { name: r.name });
    this.submit.textContent = t('rules.save');
    this.cancel.classList.remove('d-none');
    this.el.dataset.mode = 'edit';
    this.showFields();
    this.el.scrollIntoView({ block: 'nearest' });
    v.type.focus();
  }

  /** forget leaves edit mode when the rule being edited was deleted. */
  forget(name: string): void {
    if (this.editing === name) this.reset();
  }

  private reset(): void {
    this.el.reset();
    this.editing = null;
    this.original = null;
    (this.inputs.name as HTMLInputElement).readOnly = false;
    this.title.textContent = t('rules.addTitle');
    this.submit.textContent = t('rules.add');
    this.cancel.classList.add('d-none');
    this.el.dataset.mode = 'add';
    this.clearErrors();
    this.showFields();
  }

  private showFields(): void {
    const used = typeFields[this.type.value] ?? [];
    for (const f of ['keywords', 'pattern', 'users', 'threshold', 'window', 'per', 'minutes', 'rooms', 'reply']) {
      this.groups[f].classList.toggle('d-none', !used.includes(f));
    }
  }

  private clearErrors(): void {
    this.error.replaceChildren();
    for (const el of Object.values(this.inputs)) el.classList.remove('is-invalid');
    for (const g of Object.values(this.groups)) g.querySelector('.invalid-feedback')!.textContent = '';
  }

  /**
   * body is the rule as the form describes it: only the fields its type
   * uses, plus, when editing, the rule's fields the form does not know
   * (a newer server's), unchanged.
   */
  private body(): RuleConfig {
    const v = this.inputs;
    const type = this.type.value;
    const used = typeFields[type] ?? [];
    const r: RuleConfig = { name: v.name.value.trim(), type };
    for (const [k, x] of Object.entries(this.original ?? {})) {
      if (!formFields.includes(k) && !infoFields.includes(k)) r[k] = x;
    }
    const number = (s: string) => (s.trim() === '' ? undefined : Number(s));
    const list = (name: 'targets' | 'rooms' | 'keywords' | 'users' | 'notify') => {
      const l = lines(v[name].value);
      if (l.length) r[name] = l;
    };
    if (used.includes('keywords')) list('keywords');
    if (used.includes('pattern') && v.pattern.value !== '') r.pattern = v.pattern.value;
    if (used.includes('users')) list('users');
    if (used.includes('threshold')) r.threshold = number(v.threshold.value);
    if (used.includes('window')) r.window = number(v.window.value);
    if (used.includes('per') && v.per.value !== 'target') r.per = v.per.value;
    if (used.includes('minutes')) r.minutes = number(v.minutes.value);
    if (used.includes('rooms')) list('rooms');
    if (used.includes('reply') && v.reply.value.trim() !== '') r.reply = v.reply.value;
    list('targets');
    r.cooldown = number(v.cooldown.value);
    list('notify');
    if (this.disabled.checked) r.disabled = true;
    return r;
  }

  private send(): void {
    this.clearErrors();
    const r = this.body();
    for (const [k, x] of Object.entries(r)) {
      if (typeof x === 'number' && !Number.isFinite(x)) {
        this.showError(`${k}: ${t('rules.notNumber')}`);
        return;
      }
    }
    const editing = this.editing;
    this.submit.disabled = true;
    const req = editing === null ? post<RuleInfo>('/api/rules', r) : put<RuleInfo>(`/api/rules/${seg(editing)}`, r);
    req
      .then(() => {
        this.reset();
        this.saved(r.name, editing === null);
      })
      .catch((e) => this.showError(errText(e)))
      .finally(() => {
        this.submit.disabled = false;
      });
  }

  /**
   * showError shows the server's message next to the form and, when it
   * starts with a field of the form ("pattern: ...", "keywords[2]: ..."),
   * marks that field.
   */
  private showError(msg: string): void {
    setChildren(this.error, h('div', { class: 'alert alert-danger py-2 mb-0', id: 'rule-error-message' }, msg));
    const m = /^([a-z_]+)(\[\d+\])?:/.exec(msg);
    const field = m?.[1];
    if (field && this.inputs[field] && this.groups[field]) {
      this.inputs[field].classList.add('is-invalid');
      this.groups[field].querySelector('.invalid-feedback')!.textContent = msg.slice(m[0].length).trim();
      this.el.dataset.errorField = field;
    } else {
      delete this.el.dataset.errorField;
    }
  }
}
