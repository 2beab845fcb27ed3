// Error text for the operator, in the UI's language. The API's errors carry
// a stable code ({"error":{"code","message"}}, docs/api.md "Errors"): a
// known code is shown translated (err.<code>), with the server's English
// message kept where it names what was wrong (bad_param: "limit: must
// be ..."). An unknown code shows the server's message as it is. Target
// status errors work the same way through their own code when the server
// sends one (targetError).

import { ApiError } from './api';
import { t, tOr } from './i18n';

/** errText is the message of a failed request or any other error. */
export function errText(e: unknown): string {
  if (!(e instanceof ApiError)) return e instanceof Error ? e.message : String(e);
  if (e.code === 'bad_param') return t('err.bad_param', { msg: e.message });
  const key = 'err.' + e.code;
  const known = tOr(key, '');
  if (known) return known;
  if (/^http_\d+$/.test(e.code)) return e.message || t('err.http', { status: e.status });
  return e.message;
}

/**
 * targetError is a target's last error: translated by its code when this
 * UI knows the code (targetErr.<code>), else the server's text.
 */
export function targetError(code: string | undefined, message: string): string {
  if (code) {
    const known = tOr('targetErr.' + code, '');
    if (known) return message && known.includes('{msg}') ? known.replace('{msg}', message) : known;
  }
  return message;
}

