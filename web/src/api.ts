// Client for the wsmon JSON API (same origin). Errors come back as
// {"error":{"code","message"}}; a 401 anywhere switches the app to the
// login form through the handler registered with onUnauthorized.

export interface Msg {
  id: number;
  target: string;
  received_at: string;
  sent_at: string | null;
  user: string;
  room: string;
  type: string;
  content: string;
  reason: string;
}

export interface MonitorStatus {
  target: string;
  url: string;
  state: string;
  since: string | null;
  reconnects: number;
  last_message_at: string | null;
  last_error: string;
  /** protocol of the current or last session ("" before the first) */
  protocol: string;
  /** stable code of last_error (docs/api.md#error-codes), translated by the UI; absent from older servers */
  error_code?: string;
  /** while waiting to reconnect: when the next attempt is due */
  next_attempt_at?: string | null;
}

/** MonitorProcess is the capturing process (monitor or all) as its heartbeat tells. */
export interface MonitorProcess {
  /** running, stopped (cleanly), dead (heartbeat too old: killed, crashed, hung) or none (never reported) */
  state: string;
  alive: boolean;
  pid?: number;
  mode?: string;
  version?: string;
  started_at?: string | null;
  heartbeat_at?: string | null;
  stopped_at?: string | null;
}

/**
 * IngestCounters is the monitor's ingest health (GET /api/stats "ingest").
 * Every field is optional: an older server sends only some of them, and a
 * separate `wsmon web` sends no "ingest" at all.
 */
export interface IngestCounters {
  /** replays dropped (the same message seen again) */
  duplicates?: number;
  /** same payload id with other content: stored, and counted */
  id_collisions?: number;
  /** records skipped as corrupt when the journal was opened */
  journal_corrupt_records?: number;
  journal_corrupt_bytes?: number;
  /** why the journal cannot write to disk; "" (or absent) when healthy */
  journal_error?: string;
  /** RFC 3339 time the current journal error began */
  journal_error_since?: string | null;
  /** bytes waiting in memory for the disk */
  journal_pending_bytes?: number;
  /** most the journal holds in memory before it drops frames */
  journal_memory_limit_bytes?: number;
  /** frames not kept: the disk failed and the memory limit was reached */
  dropped_frames?: number;
  dropped_bytes?: number;
}

export interface Stats {
  total_messages: number;
  today_messages: number;
  active_users: number;
  daily: { date: string; count: number }[];
  hourly: { hour: number; count: number }[];
  top_users: { user: string; count: number }[];
  monitor: MonitorStatus[];
  time_zone: string;
  /** absent where the monitor does not run (a separate wsmon web) */
  ingest?: IngestCounters;
  /** the capturing process's heartbeat (absent from older servers) */
  monitor_process?: MonitorProcess | null;
}

export interface UIConfig {
  version: string;
  web_refresh_interval: number;
  max_messages_in_memory: number;
  time_zone: string;
  auth: boolean;
  /** the analyses turned on ("terms", "sentiment", "anomalies"); absent from older servers */
  analyses?: string[];
}

export interface Page {
  messages: Msg[];
  next: string | null;
}

export interface SearchPage extends Page {
  total: number;
  total_is_estimate: boolean;
}

export interface Context {
  anchor: number;
  messages: Msg[];
}

export interface UserInfo {
  user: string;
  first_seen: string | null;
  last_seen: string | null;
  message_count: number;
  active_hours: number[];
  recent: Msg[];
}

export interface Session {
  id: number;
  target: string;
  url: string;
  connected_at: string;
  disconnected_at: string | null;
  close_code: number;
  close_reason: string;
  messages: number;
  error: string;
  /** stable code of error (docs/api.md#error-codes) */
  error_code?: string;
  /** true for a connection attempt that failed (no session was opened) */
  attempt?: boolean;
  /** when it started: connected_at of a session, the attempt's time */
  at?: string | null;
  /** attempts: the upgrade's HTTP status, 0 if there was none */
  http_status?: number;
  /** attempts: prepare, dial or handshake */
  step?: string;
}

export interface Gap {
  target: string;
  from: string;
  to: string;
  seconds: number;
}

export interface Sessions {
  sessions: Session[];
  gaps: Gap[];
}

export interface TargetConfig {
  name?: string;
  url?: string;
  protocol?: string;
  subscribe?: string[] | null;
  options?: Record<string, unknown> | null;
  [key: string]: unknown;
}

export interface Target {
  name: string;
  url: string;
  protocol: string;
  subscribe: string[];
  paused: boolean;
  source: string;
  state: string;
  protocol_in_use: string;
  last_error: string;
  error_code?: string;
  next_attempt_at?: string | null;
  stopped: string;
  since: string | null;
  reconnects: number;
  frames: number;
  last_message_at: string | null;
  config: TargetConfig;
}

export interface TargetList {
  targets: Target[];
  managed: boolean;
  /** every protocol name this build speaks ("auto" first) */
  protocols: string[];
}

/** ApiError is a failed request: HTTP status (0 for network errors) and the server's error code. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

let unauthorized: () => void = () => {};

/** onUnauthorized sets what happens when the server answers 401. */
export function onUnauthorized(fn: () => void): void {
  unauthorized = fn;
}

export type Params = Record<string, string | number | null | undefined>;

/** query encodes params, leaving out empty values; "" when nothing is left. */
export function query(params?: Params): string {
  if (!params) return '';
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') continue;
    sp.set(k, String(v));
  }
  const s = sp.toString();
  return s ? '?' + s : '';
}

async function request<T>(method: string, path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      signal,
      credentials: 'same-origin',
      headers: body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', e instanceof Error ? e.message : String(e));
  }
  let data: any = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const err = data && typeof data === 'object' && data.error ? data.error : null;
    const code = err && typeof err.code === 'string' ? err.code : `http_${res.status}`;
    const msg = err && typeof err.message === 'string' ? err.message : `${res.status} ${res.statusText}`;
    const e = new ApiError(res.status, code, msg);
    if (res.status === 401 && path !== '/api/login') unauthorized();
    throw e;
  }
  if (data === null && text) throw new ApiError(res.status, 'bad_response', 'invalid JSON from server');
  return data as T;
}

/** get fetches path (with params) as JSON. */
export function get<T>(path: string, params?: Params, signal?: AbortSignal): Promise<T> {
  return request<T>('GET', path + query(params), undefined, signal);
}

/** post sends body as JSON. */
export function post<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  return request<T>('POST', path, body, signal);
}

/** put sends body as JSON with PUT. */
export function put<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  return request<T>('PUT', path, body, signal);
}

/** del sends DELETE (with a JSON content type: the server's CSRF guard asks for it). */
export function del<T>(path: string, signal?: AbortSignal): Promise<T> {
  return request<T>('DELETE', path, {}, signal);
}

/** isAbort reports whether e is the rejection of an aborted fetch. */
export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}

/** seg encodes one path segment (user names may contain "/", "?", "#"...). */
export function seg(s: string | number): string {
  return encodeURIComponent(String(s));
}

/** Alert is one stored alert (GET /api/alerts, and "alert" events on /api/live). */
export interface Alert {
  id: number;
  rule: string;
  rule_type: string;
  target: string;
  room: string;
  user: string;
  content: string;
  /** the message that raised it; absent for rate, silence and connection alerts */
  message_id?: number;
  detail: string;
  at: string;
  /** hits the rule's cooldown folded into this alert */
  suppressed: number;
  acked_at: string | null;
  /** what the notifiers did ("slack: sent; hook: failed: HTTP 500"), "" when nothing (yet) */
  delivery: string;
  /** the automatic reply sent on the connection (rules with a reply) */
  reply?: string;
  /** why the rule's reply was not sent */
  reply_error?: string;
}

export interface AlertPage {
  alerts: Alert[];
  /** unacknowledged alerts in all, whatever the filters */
  unacked: number;
  /** delivery state of each notifier (absent from older servers) */
  notifiers?: NotifierStats[];
}

/** NotifierStats is one alert sink's delivery counts since the monitor started. */
export interface NotifierStats {
  name: string;
  type: string;
  /** alerts waiting now */
  queued: number;
  sent: number;
  /** given up (permanent error, or every attempt failed) */
  failed: number;
  retried: number;
  /** not queued: the queue was full */
  dropped: number;
  /** the latest failed attempt's error (kept after a later success: compare the times) */
  last_error?: string;
  last_error_at?: string;
  last_sent_at?: string;
}

/** RuleConfig is a rule as POST /api/rules and PUT /api/rules/{name} take it. */
export interface RuleConfig {
  name: string;
  type: string;
  targets?: string[];
  rooms?: string[];
  keywords?: string[];
  pattern?: string;
  users?: string[];
  threshold?: number;
  window?: number;
  per?: string;
  minutes?: number;
  cooldown?: number;
  notify?: string[];
  disabled?: boolean;
  /** keyword, regex, user: a template sent back on the connection when the rule alerts */
  reply?: string;
  /** fields of newer servers, kept as they are when a rule is edited */
  [key: string]: unknown;
}

/** RuleInfo is a rule as GET /api/rules lists it. */
export interface RuleInfo extends RuleConfig {
  source: string;
  updated_at: string | null;
  /** set when this version refuses the stored rule (it is not evaluated) */
  error?: string;
}

export interface RuleList {
  rules: RuleInfo[];
  /** false in a separate `wsmon web`: the rules are read-only there */
  managed: boolean;
  types: string[];
}

/** ackAlerts acknowledges alerts by id, or every unacknowledged one up to upTo. */
export function ackAlerts(sel: { ids: number[] } | { up_to: number }, signal?: AbortSignal): Promise<{ acknowledged: number }> {
  return post<{ acknowledged: number }>('/api/alerts/ack', sel, signal);
}

/** TermPoint is one day of a term's series (GET /api/analysis/terms). */
export interface TermPoint {
  date: string;
  /** days since 1970-01-01 */
  day: number;
  /** messages with the term that day (a lower bound) */
  count: number;
  /** the most there can have been; count is exact when they are equal */
  upper: number;
  /** messages counted that day (room or all) */
  messages: number;
}

export interface Term {
  term: string;
  count: number;
  expected: number;
  score: number;
  /** oldest first; days without messages are left out */
  series: TermPoint[];
}

export interface TermsResult {
  date: string;
  room: string;
  as_of_id: number;
  terms: Term[];
}

/** NegativeMessage is one of a day's most negative messages. */
export interface NegativeMessage {
  id: number;
  score: number;
  target: string;
  room: string;
  user: string;
  received_at: string;
  content: string;
  /** retention removed the message since it was scored */
  deleted: boolean;
}

export interface SentimentDay {
  date: string;
  n: number;
  pos: number;
  neu: number;
  neg: number;
  average: number;
  most_negative: NegativeMessage[];
}

export interface SentimentResult {
  target: string;
  room: string;
  from: string;
  to: string;
  as_of_id: number;
  days: SentimentDay[];
}

/** Anomaly is one detected anomaly (GET /api/analysis/anomalies; docs/analysis-anomaly.md lists the codes). */
export interface Anomaly {
  id: number;
  /** rate_spike, silence, new_user_flood, user_flood or type_mix (the same as code) */
  kind: string;
  target: string;
  room: string;
  user: string;
  score: number;
  start: string;
  /** null while it is open */
  end: string | null;
  open: boolean;
  /** rate_spike, silence, new_user_flood, user_flood, type_mix */
  code: string;
  params: Record<string, string>;
  /** the server's English sentence (the dashboard renders code + params itself) */
  explanation: string;
}

export interface AnomalyPage {
  anomalies: Anomaly[];
  as_of_id: number;
}

/** UIConfig "analyses" lists "behaviour" when analysis_behaviour is on. */
export function behaviourOn(cfg: UIConfig): boolean {
  return (cfg.analyses ?? []).includes('behaviour');
}

/** BehaviourUser is one row of GET /api/analysis/users. */
export interface BehaviourUser {
  user: string;
  messages: number;
  first_seen: string | null;
  last_seen: string | null;
  sessions: number;
}

export interface BehaviourUserPage {
  users: BehaviourUser[];
  /** all users with behaviour rollups (not the filtered count) */
  total: number;
  /** absent or null on the last page */
  next_cursor?: string | null;
}

export type UsersSort = 'messages' | 'last_seen' | 'first_seen' | 'name';

export interface DayPoint {
  date: string;
  count: number;
}

/** Heatmap is 7 rows (Monday … Sunday) of 24 local hours: message counts. */
export type Heatmap = number[][];

export interface UserPeer {
  user: string;
  count: number;
}

/** UserBehaviour is GET /api/analysis/users/{name}. */
export interface UserBehaviour {
  user: string;
  messages: number;
  first_seen: string | null;
  last_seen: string | null;
  days_active: number;
  sessions: { count: number; gap_seconds: number };
  /** 30 local days ending today, zeros included */
  daily: DayPoint[];
  heatmap: Heatmap;
  rooms: { target: string; room: string; messages: number; last_seen: string | null }[];
  /** who spoke right before them in the same room within window_seconds */
  before: UserPeer[];
  /** who spoke right after them */
  after: UserPeer[];
  window_seconds: number;
}

export type ActivityStep = 'minute' | 'hour' | 'day';

export interface TimePoint {
  t: string;
  count: number;
}

export interface ActivityUsers {
  daily: { date: string; active: number; new: number; returning: number }[];
  /** dN: of the day's new users, how many were active on day +N (null: in the future) */
  retention: { date: string; new: number; d1: number | null; d7: number | null; d30: number | null }[];
  distribution: {
    users: number;
    messages: number;
    buckets: { min: number; max: number; users: number; messages: number }[];
    top1_share: number;
    top10_share: number;
  };
}

/** Activity is GET /api/analysis/activity. */
export interface Activity {
  step: ActivityStep;
  from: string;
  to: string;
  series: TimePoint[];
  total: number;
  previous: { from: string; to: string; total: number; series: TimePoint[] };
  heatmap: Heatmap;
  /** top 20 rooms; absent when room or user is given */
  rooms?: { target: string; room: string; messages: number }[];
  /** the whole chat; absent when target, room or user is given */
  users?: ActivityUsers;
}

/** Report is GET /api/reports/daily|weekly (internal/report.Report), the fields the dashboard shows. */
export interface Report {
  id: string;
  kind: string;
  target: string;
  from: string;
  to: string;
  time_zone: string;
  generated_at: string;
  volume: { messages: number; previous: number; delta: number; delta_percent: number | null; previous_from: string; previous_to: string };
  peak: { date: string; hour: number; start: string; count: number } | null;
  days: DayPoint[];
  hours: number[];
  rollups_complete: boolean;
  targets: { target: string; count: number }[];
  new_users: { count: number; names: string[] };
  top_users: { user: string; messages: number; first_seen: string; last_seen: string; new: boolean }[];
  terms: { term: string; count: number; expected: number; score: number }[];
  sentiment: { n: number; pos: number; neu: number; neg: number; average: number } | null;
  anomalies: { kind: string; target: string; room: string; start: string; open: boolean; explanation: string }[];
  /** by_rule's fields are store.RuleCount's, untagged */
  alerts: { total: number; by_rule: { Rule: string; RuleType: string; Count: number }[] | null };
  connection: { sessions: number; ended_with_error: number; failed_attempts: number; gap_seconds: number };
  unavailable: string[];
}
