// wsmon dashboard entry point: loads /api/ui-config, draws the navbar (with
// "Log out" when the server requires a login, and the badge of
// unacknowledged alerts) and the ingest-health banner, and routes on the URL
// hash (#/, #/search, #/users, #/user/NAME, #/sessions, #/targets, #/alerts,
// #/rules, #/analysis/terms|sentiment|anomalies|activity|reports). Each view gets an
// AbortSignal that fires when the route changes, which closes its
// EventSource, timers, charts and pending requests.

import { AlertCenter } from './alerts';
import { ApiError, get, isAbort, onUnauthorized, post, UIConfig } from './api';
import { h, setChildren } from './dom';
import { Health } from './health';
import { applyLang, lang, setLang, t } from './i18n';
import { alertsView } from './views/alerts';
import { analysisView, AnalysisTab } from './views/analysis';
import { closeContext } from './views/context';
import { dashboardView } from './views/dashboard';
import { loginView } from './views/login';
import { rulesView } from './views/rules';
import { searchView } from './views/search';
import { sessionsView } from './views/sessions';
import { targetsView } from './views/targets';
import { userView } from './views/user';
import { usersView } from './views/users';
import { errText } from './errors';

export interface ViewContext {
  cfg: UIConfig;
  params: URLSearchParams;
  signal: AbortSignal;
  /** ingest health: views with fresh stats hand them to health.update */
  health: Health;
  /** unacknowledged alerts (the header badge) and the live alert feed */
  alerts: AlertCenter;
}

const defaults: UIConfig = { version: '', web_refresh_interval: 5, max_messages_in_memory: 1000, time_zone: '', auth: false, analyses: [] };

let cfg: UIConfig = defaults;
let current: AbortController | null = null;
let loggedOut = false;
const health = new Health();
const alerts = new AlertCenter();
const nav = h('nav', { class: 'navbar navbar-expand bg-body-tertiary border-bottom mb-3', id: 'navbar' });
// Notices shown above every view: a failed logout.
const notice = h('div', { class: 'container-fluid', id: 'app-notice' });
const main = h('main', { class: 'container-fluid pb-4', id: 'view' });

/**
 * versionLabel shows a release as "v1.2.3" and anything else (a commit
 * hash from git describe --always, "dev") as it is: "a1cc8ca", not
 * "va1cc8ca".
 */
export function versionLabel(v: string): string {
  if (/^v\d/.test(v)) return v;
  return /^\d+(\.\d+)+/.test(v) ? 'v' + v : v;
}

function parseHash(): { path: string; params: URLSearchParams } {
  const raw = location.hash.replace(/^#/, '');
  const i = raw.indexOf('?');
  const path = (i >= 0 ? raw.slice(0, i) : raw) || '/';
  return { path: path.startsWith('/') ? path : '/' + path, params: new URLSearchParams(i >= 0 ? raw.slice(i + 1) : '') };
}

function renderNav(path: string): void {
  const link = (href: string, key: 'nav.dashboard' | 'nav.search' | 'nav.sessions' | 'nav.targets' | 'nav.alerts' | 'nav.analysis' | 'nav.users', active: boolean, id: string, extra?: Node) =>
    h('li', { class: 'nav-item' }, h('a', { class: 'nav-link' + (active ? ' active' : ''), href, id, 'aria-current': active ? 'page' : null }, t(key), extra));
  const other = lang() === 'zh' ? 'en' : 'zh';
  setChildren(nav,
    h('div', { class: 'container-fluid flex-wrap' },
      h('a', { class: 'navbar-brand fw-semibold', href: '#/' }, 'wsmon', cfg.version ? h('small', { class: 'text-body-secondary fw-normal ms-1 d-none d-sm-inline', id: 'version', title: t('version.title') }, versionLabel(cfg.version)) : null),
      h('ul', { class: 'navbar-nav me-auto flex-wrap' },
        loggedOut ? null : [
          link('#/', 'nav.dashboard', path === '/', 'nav-dashboard'),
          link('#/search', 'nav.search', path === '/search', 'nav-search'),
          link('#/sessions', 'nav.sessions', path === '/sessions', 'nav-sessions'),
          link('#/targets', 'nav.targets', path === '/targets', 'nav-targets'),
          link('#/users', 'nav.users', path === '/users' || path.startsWith('/user/'), 'nav-users'),
          link('#/analysis', 'nav.analysis', path === '/analysis' || path.startsWith('/analysis/'), 'nav-analysis'),
          link('#/alerts', 'nav.alerts', path === '/alerts' || path === '/rules', 'nav-alerts', alerts.badge),
        ]),
      h('div', { class: 'd-flex gap-2' },
        cfg.auth && !loggedOut
          ? h('button', { type: 'button', class: 'btn btn-sm btn-outline-secondary', id: 'logout-button', onclick: logout }, t('nav.logout'))
          : null,
        h('button', { type: 'button', class: 'btn btn-sm btn-outline-secondary', id: 'lang-switch', lang: other === 'zh' ? 'zh-CN' : 'en', title: t('nav.switchTitle'), 'data-lang': lang(), onclick: () => { setLang(other); health.rerender(); alerts.rerender(); route(); } }, t('nav.switch')))));
}

/** logout ends the cookie's session on the server, then shows the login form. */
function logout(ev: Event): void {
  const button = ev.currentTarget as HTMLButtonElement;
  button.disabled = true;
  notice.replaceChildren();
  post('/api/logout', {})
    .then(() => showLogin())
    .catch((e) => {
      button.disabled = false;
      setChildren(notice, h('div', { class: 'alert alert-danger', id: 'logout-error', role: 'alert' },
        t('nav.logoutFailed', { msg: errText(e) })));
    });
}

function route(): void {
  current?.abort();
  closeContext();
  current = new AbortController();
  notice.replaceChildren();
  if (loggedOut) {
    health.stop();
    alerts.stop();
    renderNav('');
    loginView(main);
    return;
  }
  const { path, params } = parseHash();
  renderNav(path);
  const ctx: ViewContext = { cfg, params, signal: current.signal, health, alerts };
  window.scrollTo(0, 0);
  const user = /^\/user\/(.+)$/.exec(path);
  const analysis = /^\/analysis(?:\/(terms|sentiment|anomalies|activity|reports))?$/.exec(path);
  if (path === '/') dashboardView(main, ctx);
  else if (path === '/search') searchView(main, ctx);
  else if (path === '/sessions') sessionsView(main, ctx);
  else if (path === '/targets') targetsView(main, ctx);
  else if (path === '/users') usersView(main, ctx);
  else if (path === '/alerts') alertsView(main, ctx);
  else if (path === '/rules') rulesView(main, ctx);
  else if (analysis) analysisView(main, ctx, (analysis[1] ?? 'terms') as AnalysisTab);
  else if (user) {
    let name = user[1];
    try {
      name = decodeURIComponent(name);
    } catch {
      // keep the raw segment
    }
    userView(main, ctx, name);
  } else {
    setChildren(main, h('div', { class: 'alert alert-warning' }, t('common.notFound'), ' ', h('a', { href: '#/' }, t('common.backHome'))));
  }
}

function showLogin(): void {
  if (loggedOut) return;
  loggedOut = true;
  route();
}

async function start(): Promise<void> {
  applyLang();
  const root = document.getElementById('app') ?? document.body;
  setChildren(root, nav, health.el, notice, main);
  onUnauthorized(showLogin);
  try {
    cfg = { ...defaults, ...(await get<UIConfig>('/api/ui-config')) };
  } catch (e) {
    if (isAbort(e)) return;
    if (e instanceof ApiError && e.status === 401) return; // login form already shown
    renderNav('');
    const retry = h('button', { type: 'button', class: 'btn btn-sm btn-outline-danger ms-2', onclick: () => location.reload() }, t('common.retry'));
    setChildren(main, h('div', { class: 'alert alert-danger', id: 'fatal-error' },
      e instanceof ApiError && e.status === 0 ? t('common.network') : t('common.error', { msg: errText(e) }), retry));
    return;
  }
  window.addEventListener('hashchange', route);
  route();
  if (!loggedOut) {
    health.start(cfg.web_refresh_interval);
    alerts.start();
  }
}

void start();
