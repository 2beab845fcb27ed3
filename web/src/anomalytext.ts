// Anomalies in words, in the UI's language: the sentence is built here from
// the anomaly's stable code and parameters (docs/analysis-anomaly.md), the
// same figures the server's English `explanation` is made of, so Chinese
// reads as well as English. A code this UI does not know shows the
// server's English sentence. Target, room and user names are chat content:
// they are put into plain strings, which the views set as text only.

import type { Anomaly } from './api';
import { Key, t, tOr } from './i18n';

/** anomalyKinds are the kinds of GET /api/analysis/anomalies?kind=, in
 * order; an anomaly's kind is also its explanation code. */
export const anomalyKinds = ['rate_spike', 'silence', 'new_user_flood', 'user_flood', 'type_mix'] as const;

/** kindOf is a's kind: its kind field, else its code (the same). */
export function kindOf(a: Pick<Anomaly, 'kind' | 'code'>): string {
  return a.kind || a.code || '';
}

/** kindLabel is the name of a kind ("Rate spike", "消息激增"). */
export function kindLabel(kind: string): string {
  return tOr('anomaly.kind.' + kind, kind || '?');
}

/** whereText is "in room "r" of target "t"" / "目标“t”的房间“r”", or the target alone. */
export function whereText(a: Pick<Anomaly, 'target' | 'room'>): string {
  return a.room ? t('anomaly.whereRoom', { target: a.target, room: a.room }) : t('anomaly.whereTarget', { target: a.target });
}

/**
 * whenText is the hour of the week the baseline was taken for (" for Wed
 * 20:00"), with how it was taken when not from that hour's weeks; "" when
 * the parameters name no hour.
 */
function whenText(p: Record<string, string>): string {
  const hw = p.hour_of_week;
  if (hw === undefined || !/^\d+$/.test(hw)) return '';
  const h = Number(hw);
  if (h >= 168) return '';
  let s = t('anomaly.when', { day: t(('anomaly.dow.' + Math.floor(h / 24)) as Key), hour: String(h % 24).padStart(2, '0') });
  if (p.baseline === 'day') s += t('anomaly.baselineDay');
  else if (p.baseline === 'ewma') s += t('anomaly.baselineEwma');
  return s;
}

const templates: Record<string, Key> = {
  rate_spike: 'anomaly.text.rate_spike',
  silence: 'anomaly.text.silence',
  new_user_flood: 'anomaly.text.new_user_flood',
  user_flood: 'anomaly.text.user_flood',
  type_mix: 'anomaly.text.type_mix',
};

/**
 * anomalyText is a's explanation in the current language, from its code
 * and parameters (numbers as the server wrote them); the server's English
 * sentence for a code this UI does not know.
 */
export function anomalyText(a: Pick<Anomaly, 'code' | 'params' | 'target' | 'room' | 'user' | 'explanation'>): string {
  const key = templates[a.code];
  if (!key) return a.explanation || a.code;
  const p = a.params ?? {};
  const v = (name: string) => p[name] ?? '?';
  const type = p.type ?? '';
  return t(key, {
    where: whereText(a),
    when: whenText(p),
    observed: v('observed'),
    expected: v('expected'),
    window: v('window_minutes'),
    minutes: v('minutes'),
    total: v('total'),
    share: v('share'),
    usual: a.code === 'type_mix' ? v('usual_share') : v('usual'),
    user: p.user ?? a.user ?? '',
    type: type ? tOr('type.' + type, type) : '?',
  });
}
