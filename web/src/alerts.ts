// The alert centre, shared by every view: the header badge with the count
// of unacknowledged alerts, kept live from the "alert" events of
// /api/live, the optional browser notification, and the feed the alerts
// view listens to.
//
// One EventSource per tab: while the dashboard's live stream is open it
// carries the alerts (LiveStream hands them over through attach()/receive);
// on the other views the centre opens its own stream with a filter that
// selects no messages, so it costs a status event now and then. The count
// is taken from the server (GET /api/alerts "unacked") whenever a stream
// (re)connects, when the tab becomes visible again and every 30 s, so
// alerts missed while disconnected and acknowledgements made in another
// tab show up too.
//
// Alert texts come from the monitored chat: the badge shows a number, the
// notification's body is plain text (the Notification API does not render
// markup) and nothing here builds DOM from them.

import { Alert, AlertPage, get, isAbort } from './api';
import { h } from './dom';
import { fmtNum } from './format';
import { t } from './i18n';

type Listener = (a: Alert) => void;

const notifyKey = 'wsmon.alertNotify';
const resyncEvery = 30000;
/** a live filter no message has (a system message never has this user): alerts and status only */
const alertsOnly = '/api/live?type=system&user=' + encodeURIComponent('\u2063wsmon-alerts-only');
const maxRecent = 1000;
const bodyChars = 180;

/** truncate cuts s to n characters (code points), marking the cut with "…". */
export function truncate(s: string, n: number): string {
  const chars = Array.from(s);
  return chars.length <= n ? s : chars.slice(0, n - 1).join('') + '…';
}

/** notificationsSupported reports whether this page can use the Notification API (it needs a secure context: HTTPS or localhost). */
export function notificationsSupported(): boolean {
  return typeof window !== 'undefined' && 'Notification' in window && window.isSecureContext !== false;
}

export class AlertCenter {
  /** badge is the header's count; main.ts puts it in the "Alerts" nav link. */
  readonly badge: HTMLElement;
  private count = 0;
  private maxSeen = 0; // highest alert id received live
  private recent: number[] = []; // ids of unacknowledged alerts received live and not yet in a server count, ascending
  private readonly listeners = new Set<Listener>();
  private readonly openListeners = new Set<() => void>();
  private running = false;
  private attached = 0; // streams that carry alerts for us (the dashboard's)
  private es: EventSource | null = null;
  private gen = 0;
  private retry = 0;
  private openTimer = 0;
  private retryTimer = 0;
  private resyncTimer = 0;
  private fetching: AbortController | null = null;
  private again = false; // a resync was asked for while one was running

  constructor() {
    // data-live says whether a stream carrying alerts is open ("1") or not.
    this.badge = h('span', { class: 'badge rounded-pill text-bg-danger ms-1 d-none', id: 'alert-badge', 'data-count': '0', 'data-live': '0', role: 'status' });
    this.render();
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) this.resync();
    });
  }

  /** start begins keeping the count (after the UI config loaded, not while logged out). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.resync();
    this.scheduleOwn();
  }

  /** stop ends the stream and polling (logged out) and hides the badge. */
  stop(): void {
    this.running = false;
    this.closeOwn();
    clearTimeout(this.openTimer);
    clearTimeout(this.resyncTimer);
    this.fetching?.abort();
    this.fetching = null;
    this.count = 0;
    this.render();
  }

  /**
   * attach tells the centre that another stream of /api/live (the
   * dashboard's) delivers alerts to receive() until the returned function
   * is called; meanwhile the centre keeps no stream of its own.
   */
  attach(): () => void {
    this.attached++;
    clearTimeout(this.openTimer);
    this.closeOwn();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.attached--;
      this.streamLost();
      this.scheduleOwn();
    };
  }

  /**
   * subscribe calls fn with every new alert, and reconnected (if given)
   * whenever a stream carrying alerts (re)connects — alerts may have been
   * missed meanwhile (the stream does not replay them) — until signal
   * aborts.
   */
  subscribe(fn: Listener, signal: AbortSignal, reconnected?: () => void): void {
    this.listeners.add(fn);
    if (reconnected) this.openListeners.add(reconnected);
    signal.addEventListener('abort', () => {
      this.listeners.delete(fn);
      if (reconnected) this.openListeners.delete(reconnected);
    });
  }

  /** receive takes an alert from a live stream: count it, notify, tell the listeners. */
  receive(a: Alert | null): void {
    if (!a || typeof a.id !== 'number' || a.id <= this.maxSeen) return;
    this.maxSeen = a.id;
    if (!a.acked_at) {
      this.count++;
      this.recent.push(a.id);
      if (this.recent.length > maxRecent) this.recent.splice(0, this.recent.length - maxRecent);
      this.render();
      this.notify(a);
    }
    for (const fn of this.listeners) fn(a);
  }

  /**
   * setUnacked takes the server's count of unacknowledged alerts. upTo is
   * the highest alert id the server had when it counted (the newest alert
   * of an unfiltered list): alerts received live with a higher id are not
   * in n and are added.
   */
  setUnacked(n: number, upTo: number): void {
    if (typeof n !== 'number' || !Number.isFinite(n)) return;
    this.recent = this.recent.filter((id) => id > upTo);
    this.count = n + this.recent.length;
    this.render();
  }

  /** resync fetches the count from the server (a stream connected, alerts were acknowledged...). */
  resync(): void {
    if (!this.running) return;
    if (this.fetching) {
      this.again = true;
      return;
    }
    clearTimeout(this.resyncTimer);
    const ac = new AbortController();
    this.fetching = ac;
    get<AlertPage>('/api/alerts', { limit: 1 }, ac.signal)
      .then((p) => {
        if (this.running) this.setUnacked(p.unacked, p.alerts?.[0]?.id ?? 0);
      })
      .catch((e) => {
        if (isAbort(e)) return;
        // Keep what is shown; a 401 has switched the app to the login form.
      })
      .finally(() => {
        if (this.fetching !== ac) return;
        this.fetching = null;
        if (this.again) {
          this.again = false;
          this.resync();
          return;
        }
        // A hidden tab does not poll; visibilitychange resyncs when it shows.
        if (this.running) this.resyncTimer = window.setTimeout(() => document.hidden || this.resync(), resyncEvery);
      });
  }

  /** notificationsOn reports whether the user switched browser notifications on (and the browser allows them). */
  notificationsOn(): boolean {
    return this.notifyWanted() && notificationsSupported() && Notification.permission === 'granted';
  }

  /** notifyWanted reports the user's stored choice. */
  notifyWanted(): boolean {
    try {
      return localStorage.getItem(notifyKey) === '1';
    } catch {
      return false;
    }
  }

  /**
   * setNotifications switches browser notifications on (asking the browser
   * for permission: call it from the user's click only) or off, and
   * remembers the choice. It resolves to whether they are on.
   */
  async setNotifications(on: boolean): Promise<boolean> {
    const store = (v: string) => {
      try {
        localStorage.setItem(notifyKey, v);
      } catch {
        // not remembered; still applies to this page
      }
    };
    if (!on || !notificationsSupported()) {
      store('0');
      return false;
    }
    let perm = Notification.permission;
    if (perm === 'default') perm = await Notification.requestPermission();
    store(perm === 'granted' ? '1' : '0');
    return perm === 'granted';
  }

  private notify(a: Alert): void {
    if (!this.notificationsOn()) return;
    try {
      const n = new Notification(t('alerts.notifyTitle', { rule: truncate(a.rule, 60) }), {
        body: truncate(a.detail ? `${a.rule}: ${a.detail}` : a.rule, bodyChars),
        // one notification per alert, even with the dashboard open in several tabs
        tag: 'wsmon-alert-' + a.id,
      });
      n.onclick = () => {
        window.focus();
        location.hash = '#/alerts';
        n.close();
      };
    } catch {
      // some browsers only allow notifications from a service worker
    }
  }

  private render(): void {
    const n = this.count;
    this.badge.textContent = n > 999 ? '999+' : fmtNum(n);
    this.badge.dataset.count = String(n);
    const title = t('alerts.badgeTitle', { n: fmtNum(n) });
    this.badge.title = title;
    this.badge.setAttribute('aria-label', title);
    this.badge.classList.toggle('d-none', n === 0);
  }

  /** rerender redraws the badge (the language changed). */
  rerender(): void {
    this.render();
  }

  // ---- the centre's own stream -------------------------------------------

  /** scheduleOwn opens the own stream soon, unless a view attaches first (a route change does both at once). */
  private scheduleOwn(): void {
    clearTimeout(this.openTimer);
    if (!this.running || this.attached > 0 || this.es) return;
    this.openTimer = window.setTimeout(() => this.openOwn(), 0);
  }

  private closeOwn(): void {
    this.gen++;
    if (this.es) this.streamLost();
    this.es?.close();
    this.es = null;
    clearTimeout(this.retryTimer);
  }

  private openOwn(): void {
    if (!this.running || this.attached > 0) return;
    this.closeOwn();
    const g = this.gen;
    const es = new EventSource(alertsOnly);
    this.es = es;
    es.addEventListener('open', () => {
      if (g !== this.gen) return;
      this.retry = 0;
      this.streamOpened();
    });
    es.addEventListener('alert', (ev) => {
      if (g !== this.gen) return;
      this.receive(parseAlert((ev as MessageEvent).data));
    });
    es.addEventListener('error', () => {
      if (g !== this.gen) return;
      this.streamLost();
      if (es.readyState !== EventSource.CLOSED) return; // the browser retries by itself
      this.es = null;
      this.resync(); // a 401 shows the login form
      const delay = Math.min(30000, 1000 * 2 ** this.retry++);
      this.retryTimer = window.setTimeout(() => this.openOwn(), delay);
    });
  }

  /** streamOpened: a stream carrying alerts (re)connected; alerts may have been missed meanwhile. */
  streamOpened(): void {
    this.badge.dataset.live = '1';
    this.resync();
    for (const fn of this.openListeners) fn();
  }

  /** streamLost: the stream carrying alerts is closed or reconnecting. */
  streamLost(): void {
    this.badge.dataset.live = '0';
  }
}

/** parseAlert decodes the data of an "alert" event (null when it is not one). */
export function parseAlert(data: string): Alert | null {
  try {
    const a = JSON.parse(data) as Alert;
    return a && typeof a === 'object' && typeof a.id === 'number' ? a : null;
  } catch {
    return null;
  }
}
