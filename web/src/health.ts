// Ingest health, shared by every view: the monitor's ingest counters from
// /api/stats ("ingest") and the red banner under the navbar while the
// journal cannot write to disk. Whoever has fresh stats (the dashboard's
// pushes and fetches) hands them to update(); when nobody has for a refresh
// interval, Health fetches /api/stats itself, so the banner appears and
// clears on every page. The error text comes from the server: it is only
// ever set as text.

import { get, IngestCounters, isAbort, Stats } from './api';
import { h, setChildren } from './dom';
import { fmtBytes, fmtNum, fmtShort, fmtTime, parseTime } from './format';
import { lang, t } from './i18n';

type Listener = (c: IngestCounters | null) => void;

/** num is a counter's value, 0 when an older server does not send it. */
export function num(v: number | null | undefined): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** journalError is the journal's current error, "" when it is healthy or unknown. */
export function journalError(c: IngestCounters | null): string {
  return c && typeof c.journal_error === 'string' ? c.journal_error : '';
}

/** bannerText is the banner's sentence for a failing journal. */
export function bannerText(c: IngestCounters): string {
  const error = journalError(c);
  const since = parseTime(c.journal_error_since ?? null) ? fmtShort(c.journal_error_since) : '';
  const first = since ? t('health.bannerSince', { time: since, error }) : t('health.bannerNoSince', { error });
  const pending = fmtBytes(num(c.journal_pending_bytes));
  const n = fmtNum(num(c.dropped_frames));
  const limit = num(c.journal_memory_limit_bytes);
  const second = limit > 0
    ? t('health.bannerHeld', { pending, limit: fmtBytes(limit), n })
    : t('health.bannerHeldNoLimit', { pending, n });
  return first + (lang() === 'zh' ? '' : ' ') + second;
}

export class Health {
  /** el holds the banner; main.ts places it between the navbar and the view. */
  readonly el: HTMLElement;
  private counters: IngestCounters | null = null;
  private readonly listeners = new Set<Listener>();
  private interval = 5000;
  private last = 0; // when stats last arrived, from anyone
  private timer = 0;
  private running = false;
  private fetching: AbortController | null = null;
  private banner: HTMLElement | null = null;

  constructor() {
    this.el = h('div', { class: 'container-fluid', id: 'health-banner-area' });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) this.poll();
    });
  }

  /** current is the latest counters, null when the server sends none. */
  current(): IngestCounters | null {
    return this.counters;
  }

  /**
   * update takes fresh stats from a view (a push or a fetch). Stats without
   * "ingest" come from a process without the monitor (a separate wsmon web),
   * which never has any: polling stops.
   */
  update(s: Stats): void {
    this.last = Date.now();
    this.counters = s && typeof s.ingest === 'object' && s.ingest !== null ? s.ingest : null;
    if (!this.counters) {
      this.running = false;
      clearTimeout(this.timer);
    }
    this.render();
    for (const fn of this.listeners) fn(this.counters);
  }

  /** subscribe calls fn with every update until signal aborts. */
  subscribe(fn: Listener, signal: AbortSignal): void {
    this.listeners.add(fn);
    signal.addEventListener('abort', () => this.listeners.delete(fn));
  }

  /**
   * start fetches stats in a second, then whenever none came for
   * intervalSeconds (web_refresh_interval).
   */
  start(intervalSeconds: number): void {
    if (this.running) return;
    this.interval = Math.max(1, intervalSeconds || 5) * 1000;
    this.running = true;
    // Not at once: the view just opened may be fetching stats itself.
    clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.poll(), 1000);
  }

  /** stop ends the polling and hides the banner (logged out). */
  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.fetching?.abort();
    this.fetching = null;
    this.counters = null;
    this.render();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (!this.running) return;
    const wait = Math.max(250, this.interval - (Date.now() - this.last));
    this.timer = window.setTimeout(() => this.poll(), wait);
  }

  private poll(): void {
    // A hidden tab does not poll; visibilitychange starts it again.
    if (!this.running || this.fetching || document.hidden) return;
    if (Date.now() - this.last < this.interval) {
      this.schedule();
      return;
    }
    const ac = new AbortController();
    this.fetching = ac;
    get<Stats>('/api/stats', undefined, ac.signal)
      .then((s) => {
        if (this.running) this.update(s);
      })
      .catch((e) => {
        // Unreachable or failing: keep what is shown and try again later.
        // (A 401 has already switched the app to the login form.)
        if (!isAbort(e)) this.last = Date.now();
      })
      .finally(() => {
        if (this.fetching === ac) this.fetching = null;
        this.schedule();
      });
  }

  private render(): void {
    const c = this.counters;
    if (!c || !journalError(c)) {
      this.banner = null;
      this.el.replaceChildren();
      return;
    }
    // One element for as long as the failure lasts, updated in place: a
    // new role="alert" node on every refresh would be announced each time.
    if (!this.banner) {
      this.banner = h('div', { class: 'alert text-bg-danger border-0 fw-semibold journal-banner', id: 'journal-banner', role: 'alert' });
      setChildren(this.el, this.banner);
    }
    const b = this.banner;
    const since = c.journal_error_since ?? '';
    b.title = since ? fmtTime(since) : '';
    b.dataset.error = journalError(c);
    b.dataset.dropped = String(num(c.dropped_frames));
    b.dataset.pending = String(num(c.journal_pending_bytes));
    const text = bannerText(c);
    if (b.textContent !== text) b.textContent = text;
  }

  /** rerender redraws the banner (the language changed). */
  rerender(): void {
    this.render();
  }
}
