// The login form, shown when the API answers 401. It posts a token or a
// user and password to /api/login; the server sets a cookie, then the page
// reloads.

import { ApiError, post } from '../api';
import { h, setChildren } from '../dom';
import { t } from '../i18n';
import { errText } from '../errors';

export function loginView(root: HTMLElement): void {
  let mode: 'token' | 'password' = 'token';
  const token = h('input', { type: 'password', class: 'form-control', id: 'login-token', name: 'token', autocomplete: 'current-password', required: true });
  const user = h('input', { class: 'form-control', id: 'login-user', name: 'user', autocomplete: 'username' });
  const pass = h('input', { type: 'password', class: 'form-control', id: 'login-password', name: 'password', autocomplete: 'current-password' });
  const tokenFields = h('div', { class: 'mb-3' }, h('label', { class: 'form-label', for: 'login-token' }, t('login.tokenLabel')), token);
  const passFields = h('div', { class: 'd-none' },
    h('div', { class: 'mb-3' }, h('label', { class: 'form-label', for: 'login-user' }, t('login.user')), user),
    h('div', { class: 'mb-3' }, h('label', { class: 'form-label', for: 'login-password' }, t('login.pass')), pass));
  const error = h('div', { id: 'login-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary w-100', id: 'login-submit' }, t('login.submit'));

  const tab = (m: typeof mode, label: string) =>
    h('li', { class: 'nav-item' }, h('button', { type: 'button', class: 'nav-link', dataset: { mode: m }, onclick: () => setMode(m) }, label));
  const tabs = h('ul', { class: 'nav nav-pills nav-fill mb-3' }, tab('token', t('login.token')), tab('password', t('login.password')));

  function setMode(m: typeof mode) {
    mode = m;
    tabs.querySelectorAll<HTMLButtonElement>('button').forEach((b) => {
      b.classList.toggle('active', b.dataset.mode === m);
      b.setAttribute('aria-pressed', String(b.dataset.mode === m));
    });
    tokenFields.classList.toggle('d-none', m !== 'token');
    passFields.classList.toggle('d-none', m !== 'password');
    token.required = m === 'token';
    user.required = pass.required = m === 'password';
    (m === 'token' ? token : user).focus();
  }

  const form = h('form', { class: 'card card-body shadow-sm login-card mx-auto', id: 'login-form' },
    h('h1', { class: 'h5 mb-3' }, t('login.title')), tabs, tokenFields, passFields, error, submit);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.replaceChildren();
    submit.disabled = true;
    const body = mode === 'token' ? { token: token.value } : { user: user.value, password: pass.value };
    post('/api/login', body)
      .then(() => location.reload())
      .catch((e) => {
        submit.disabled = false;
        setChildren(error, h('div', { class: 'alert alert-danger py-2' }, t('login.failed', { msg: e instanceof ApiError && e.status === 401 && e.code !== 'bad_credentials' ? t('login.wrong') : errText(e) })));
      });
  });
  setChildren(root, h('div', { class: 'py-5' }, form));
  setMode('token');
}
