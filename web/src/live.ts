// The live message stream: an EventSource on /api/live feeding a bounded
// list (newest on top); a row opens its context, its user link the user
// page, as search results do. Memory stays bounded however long the tab is open:
// at most `max` rows in the DOM, at most `max` messages waiting while
// paused or while the tab is hidden. The stream also carries the "alert"
// events: while it is open it hands them to the alert centre (the header
// badge), which then needs no stream of its own.

import { AlertCenter, parseAlert } from './alerts';
import { get, isAbort, MonitorStatus, Msg, Page, query, Stats } from './api';
import { h, setChildren } from './dom';
import { fmtNum } from './format';
import { t } from './i18n';
import { messageRow } from './msgrow';

export interface LiveOptions {
  max: number;
  signal: AbortSignal;
  onStatus: (monitor: MonitorStatus[]) => void;
  onStats: (s: Stats) => void;
  onMessage: (m: Msg) => void;
  /** opens a row's context (a click or Enter on the row) */
  onOpen?: (m: Msg) => void;
  /** the dashboard's selection: the stream shows only this target and room */
  base?: { target: string; room: string };
  /** receives the stream's alerts while the stream lives */
  alerts?: AlertCenter;
}

type Filters = { user: string; type: string; target: string; room: string };
type State = 'connecting' | 'live' | 'reconnecting' | 'offline';

const stateClass: Record<State, string> = {
  connecting: 'text-bg-secondary',
  live: 'text-bg-success',
  reconnecting: 'text-bg-warning',
  offline: 'text-bg-danger',
};

function parse<T>(data: string): T | null {
  try {
    return JSON.parse(data) as T;
  } catch {
    return null;
  }
}

export class LiveStream {
  readonly el: HTMLElement;
  private readonly list: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly pauseBtn: HTMLButtonElement;
  private readonly newBadge: HTMLElement;
  private readonly stateBadge: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly targets: HTMLDataListElement;
  private readonly max: number;

  private filters: Filters;
  private readonly base: { target: string; room: string };
  private es: EventSource | null = null;
  private gen = 0; // connection generation; events of older ones are ignored
  private state: State = 'connecting';
  private paused = false;
  private newCount = 0;
  private pending: Msg[] = []; // received while paused, oldest first
  private queue: Msg[] = []; // waiting for the next animation frame, oldest first
  private early: Msg[] = []; // received before the backfill finished
  private backfilling = false;
  private maxSeen = 0; // ids only grow: anything at or below was shown or skipped
  private frame = 0;
  private retry = 0;
  private retryTimer = 0;
  private dropped = 0;
  private knownTargets = '';

  constructor(private readonly opt: LiveOptions) {
    this.max = Math.max(10, Math.min(opt.max || 1000, 100000));
    this.base = { target: opt.base?.target ?? '', room: opt.base?.room ?? '' };
    this.filters = { user: '', type: '', target: this.base.target, room: this.base.room };
    this.list = h('div', { class: 'list-group list-group-flush live-list', id: 'live-list' });
    this.empty = h('div', { class: 'p-3 text-body-secondary small', id: 'live-empty' }, t('live.empty'));
    this.newBadge = h('span', { class: 'badge rounded-pill text-bg-info d-none', id: 'new-count', 'data-count': '0' });
    this.pauseBtn = h('button', { type: 'button', class: 'btn btn-sm btn-outline-secondary', id: 'pause-button', 'aria-pressed': 'false', onclick: () => this.togglePause() }, t('live.pause'));
    this.stateBadge = h('span', { class: 'badge', id: 'live-state' });
    this.notice = h('div', { id: 'live-notice' });
    this.targets = h('datalist', { id: 'live-targets' });

    const user = h('input', { class: 'form-control form-control-sm', id: 'live-user', name: 'user', placeholder: t('live.user'), 'aria-label': t('live.user'), autocomplete: 'off' });
    const target = h('input', { class: 'form-control form-control-sm', id: 'live-target', name: 'target', value: this.base.target, placeholder: t('live.target'), 'aria-label': t('live.target'), list: 'live-targets', autocomplete: 'off' });
    const type = h('select', { class: 'form-select form-select-sm', id: 'live-type', name: 'type', 'aria-label': t('live.type') },
      h('option', { value: '' }, `${t('live.type')}: ${t('common.all')}`),
      ['chat', 'system', 'join', 'leave', 'other'].map((ty) => h('option', { value: ty }, t(`type.${ty}` as 'type.chat'))));
    const form = h('form', { class: 'live-filters row g-2 align-items-center', id: 'live-filters', role: 'search' },
      h('div', { class: 'col-6 col-md' }, user),
      h('div', { class: 'col-6 col-md' }, type),
      h('div', { class: 'col-6 col-md' }, target, this.targets),
      h('div', { class: 'col-6 col-md-auto d-flex gap-2' },
        h('button', { type: 'submit', class: 'btn btn-sm btn-primary', id: 'live-apply' }, t('common.apply')),
        h('button', { type: 'reset', class: 'btn btn-sm btn-outline-secondary', id: 'live-reset' }, t('common.reset'))));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.setFilters({ user: user.value.trim(), type: type.value, target: target.value.trim(), room: this.base.room });
    });
    form.addEventListener('reset', () => {
      setTimeout(() => {
        target.value = this.base.target;
        this.setFilters({ user: '', type: '', target: this.base.target, room: this.base.room });
      });
    });

    this.el = h('div', { class: 'card h-100', id: 'live-card' },
      h('div', { class: 'card-header d-flex flex-wrap align-items-center gap-2' },
        h('h2', { class: 'h6 mb-0 me-auto' }, t('live.title')),
        this.stateBadge, this.newBadge, this.pauseBtn),
      h('div', { class: 'card-body border-bottom py-2' }, form),
      this.notice,
      h('div', { class: 'live-scroll' }, this.empty, this.list),
      h('div', { class: 'card-footer small text-body-secondary', id: 'live-footer' }, t('live.showing', { n: 0, max: fmtNum(this.max) })));

    const detach = opt.alerts?.attach();
    opt.signal.addEventListener('abort', () => {
      this.stop();
      detach?.();
    });
    this.renderState();
    this.connect(true);
  }

  /** setTargets fills the target suggestions from the monitor status. */
  setTargets(names: string[]): void {
    const key = names.join('\n');
    if (key === this.knownTargets) return;
    this.knownTargets = key;
    setChildren(this.targets, names.map((n) => h('option', { value: n })));
  }

  private setFilters(f: Filters): void {
    if (f.user === this.filters.user && f.type === this.filters.type && f.target === this.filters.target && f.room === this.filters.room) return;
    this.filters = f;
    this.connect(true);
  }

  private stop(): void {
    this.gen++;
    if (this.es) this.opt.alerts?.streamLost();
    this.es?.close();
    this.es = null;
    if (this.frame) cancelAnimationFrame(this.frame);
    clearTimeout(this.retryTimer);
  }

  /** connect (re)opens the EventSource; reset clears the list (filters changed). */
  private connect(reset: boolean): void {
    this.stop();
    const g = this.gen;
    if (reset) {
      this.list.replaceChildren();
      this.queue = [];
      this.pending = [];
      this.newCount = 0;
      this.maxSeen = 0;
      this.renderCounts();
    }
    this.setState('connecting');
    this.backfilling = true;
    this.early = [];

    const es = new EventSource('/api/live' + query(this.filters));
    this.es = es;
    es.addEventListener('open', () => {
      if (g !== this.gen) return;
      this.retry = 0;
      this.setState('live');
      this.opt.alerts?.streamOpened(); // alerts may have come while it was away
    });
    es.addEventListener('alert', (ev) => {
      if (g !== this.gen) return;
      this.opt.alerts?.receive(parseAlert((ev as MessageEvent).data));
    });
    es.addEventListener('message', (ev) => {
      if (g !== this.gen) return;
      const m = parse<Msg>((ev as MessageEvent).data);
      if (!m || typeof m.id !== 'number') return;
      if (this.backfilling) {
        this.early.push(m);
        if (this.early.length > this.max) this.early.splice(0, this.early.length - this.max);
      } else this.receive(m);
      this.opt.onMessage(m);
    });
    es.addEventListener('status', (ev) => {
      if (g !== this.gen) return;
      const s = parse<MonitorStatus[]>((ev as MessageEvent).data);
      if (Array.isArray(s)) this.opt.onStatus(s);
    });
    es.addEventListener('stats', (ev) => {
      if (g !== this.gen) return;
      const s = parse<Stats>((ev as MessageEvent).data);
      if (s && typeof s === 'object') this.opt.onStats(s);
    });
    es.addEventListener('dropped', (ev) => {
      if (g !== this.gen) return;
      const d = parse<{ missed: number }>((ev as MessageEvent).data);
      this.showDropped(d && typeof d.missed === 'number' ? d.missed : 0);
    });
    es.addEventListener('error', () => {
      if (g !== this.gen) return;
      this.opt.alerts?.streamLost();
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (HTTP error, e.g. 401, or a bad response):
        // probe the API so a 401 shows the login form, then retry with backoff.
        this.setState('offline');
        this.es = null;
        get<Page>('/api/messages', { limit: 1 }, this.opt.signal).catch(() => {});
        const delay = Math.min(30000, 1000 * 2 ** this.retry++);
        this.retryTimer = window.setTimeout(() => this.connect(false), delay);
      } else {
        this.setState('reconnecting'); // the browser retries by itself, sending Last-Event-ID
      }
    });

    get<Page>('/api/messages', { ...this.filters, limit: Math.min(this.max, 100) }, this.opt.signal)
      .then((p) => {
        if (g !== this.gen) return;
        const msgs = (p.messages ?? []).slice().reverse(); // API is newest first
        for (const m of msgs) this.receive(m);
      })
      .catch((e) => {
        if (isAbort(e)) return;
      })
      .finally(() => {
        if (g !== this.gen) return;
        this.backfilling = false;
        for (const m of this.early) this.receive(m);
        this.early = [];
      });
  }

  private receive(m: Msg): void {
    if (m.id <= this.maxSeen) return;
    this.maxSeen = m.id;
    if (this.paused) {
      this.newCount++;
      this.pending.push(m);
      if (this.pending.length > this.max) this.pending.splice(0, this.pending.length - this.max);
      this.renderCounts();
      return;
    }
    this.queue.push(m);
    if (this.queue.length > this.max) this.queue.splice(0, this.queue.length - this.max);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  private flush(): void {
    this.frame = 0;
    if (!this.queue.length) return;
    const frag = document.createDocumentFragment();
    const onOpen = this.opt.onOpen;
    for (let i = this.queue.length - 1; i >= 0; i--) frag.appendChild(messageRow(this.queue[i], { onOpen }));
    this.queue = [];
    this.list.prepend(frag);
    while (this.list.childElementCount > this.max) this.list.lastElementChild!.remove();
    this.renderCounts();
  }

  private togglePause(): void {
    this.paused = !this.paused;
    if (!this.paused) {
      this.queue.push(...this.pending);
      if (this.queue.length > this.max) this.queue.splice(0, this.queue.length - this.max);
      this.pending = [];
      this.newCount = 0;
      this.flush();
    }
    this.renderState();
    this.renderCounts();
  }

  private setState(s: State): void {
    this.state = s;
    this.renderState();
  }

  private renderState(): void {
    const shown = this.paused && this.state === 'live' ? 'paused' : this.state;
    this.stateBadge.className = 'badge ' + (shown === 'paused' ? 'text-bg-secondary' : stateClass[this.state]);
    this.stateBadge.dataset.state = shown;
    this.stateBadge.textContent = t(`live.state.${shown}` as 'live.state.live');
    this.pauseBtn.textContent = this.paused ? t('live.resume') : t('live.pause');
    this.pauseBtn.setAttribute('aria-pressed', String(this.paused));
    this.pauseBtn.classList.toggle('btn-warning', this.paused);
    this.pauseBtn.classList.toggle('btn-outline-secondary', !this.paused);
  }

  private renderCounts(): void {
    this.newBadge.textContent = t('live.newCount', { n: fmtNum(this.newCount) });
    this.newBadge.dataset.count = String(this.newCount);
    this.newBadge.classList.toggle('d-none', this.newCount === 0);
    const n = this.list.childElementCount;
    this.empty.classList.toggle('d-none', n > 0);
    this.el.querySelector('#live-footer')!.textContent = t('live.showing', { n: fmtNum(n), max: fmtNum(this.max) });
  }

  private showDropped(missed: number): void {
    this.dropped += missed;
    const close = h('button', { type: 'button', class: 'btn-close', 'aria-label': t('common.close') });
    const alert = h('div', { class: 'alert alert-warning alert-dismissible small m-2 mb-0', role: 'status', id: 'live-dropped', 'data-missed': String(this.dropped) },
      t('live.dropped', { n: fmtNum(this.dropped) }), close);
    close.addEventListener('click', () => {
      this.dropped = 0;
      this.notice.replaceChildren();
    });
    setChildren(this.notice, alert);
  }
}
