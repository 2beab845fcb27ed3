// Formatting of numbers, instants and durations for the current language.
// Instants from the API are RFC 3339 and shown in the browser's time zone.

import { locale, t } from './i18n';

type Cache = { loc: string; num: Intl.NumberFormat; full: Intl.DateTimeFormat; time: Intl.DateTimeFormat; short: Intl.DateTimeFormat; day: Intl.DateTimeFormat; rel: Intl.RelativeTimeFormat };
let cache: Cache | null = null;

function fmts(): Cache {
  const loc = locale();
  if (cache && cache.loc === loc) return cache;
  cache = {
    loc,
    num: new Intl.NumberFormat(loc),
    full: new Intl.DateTimeFormat(loc, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }),
    time: new Intl.DateTimeFormat(loc, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }),
    short: new Intl.DateTimeFormat(loc, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }),
    day: new Intl.DateTimeFormat(loc, { month: 'short', day: 'numeric', timeZone: 'UTC' }),
    rel: new Intl.RelativeTimeFormat(loc, { numeric: 'auto', style: 'short' }),
  };
  return cache;
}

/** parseTime returns the instant or null for empty/invalid input. */
export function parseTime(s: string | null | undefined): Date | null {
  if (!s) return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) || d.getFullYear() < 1971 ? null : d;
}

export function fmtNum(n: number | null | undefined): string {
  return typeof n === 'number' && Number.isFinite(n) ? fmts().num.format(n) : t('common.none');
}

/** fmtTime: full local date and time, "—" when absent. */
export function fmtTime(s: string | null | undefined): string {
  const d = parseTime(s);
  return d ? fmts().full.format(d) : t('common.none');
}

/** fmtShort: time only for today, else short date and time. */
export function fmtShort(s: string | null | undefined): string {
  const d = parseTime(s);
  if (!d) return t('common.none');
  const now = new Date();
  const today = d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
  return (today ? fmts().time : fmts().short).format(d);
}

/** fmtRel: "3 min. ago" style relative time. */
export function fmtRel(s: string | null | undefined): string {
  const d = parseTime(s);
  if (!d) return t('common.none');
  const sec = Math.round((d.getTime() - Date.now()) / 1000);
  const abs = Math.abs(sec);
  const f = fmts().rel;
  if (abs < 60) return f.format(sec, 'second');
  if (abs < 3600) return f.format(Math.round(sec / 60), 'minute');
  if (abs < 86400) return f.format(Math.round(sec / 3600), 'hour');
  return f.format(Math.round(sec / 86400), 'day');
}

/** fmtDay formats a calendar date "2026-11-26" (a date in the server's stats zone, not an instant). */
export function fmtDay(s: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return s;
  return fmts().day.format(new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])));
}

/** fmtDuration: "1h 2m 3s" / "1小时2分3秒", at most two units. */
export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return t('common.none');
  if (seconds < 10) return t('dur.s', { n: Math.round(seconds * 10) / 10 });
  let s = Math.round(seconds);
  const parts: string[] = [];
  const units: [ 'dur.d' | 'dur.h' | 'dur.m' | 'dur.s', number][] = [['dur.d', 86400], ['dur.h', 3600], ['dur.m', 60], ['dur.s', 1]];
  for (const [key, size] of units) {
    if (s >= size || (key === 'dur.s' && parts.length === 0)) {
      parts.push(t(key, { n: Math.floor(s / size) }));
      s %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(locale().startsWith('zh') ? '' : ' ');
}

/** toLocalInput converts an RFC 3339 instant into a datetime-local value. */
export function toLocalInput(s: string | null): string {
  const d = parseTime(s);
  if (!d) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** fromLocalInput converts a datetime-local value (browser time) into RFC 3339 UTC. */
export function fromLocalInput(v: string): string {
  if (!v) return '';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** fmtBytes: "512 B", "1.5 KiB", "12 MiB" (binary units), "—" when absent. */
export function fmtBytes(n: number | null | undefined): string {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return t('common.none');
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = u === 0 || v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(v) + ' ' + units[u];
}
