// check-anomaly.mjs: every anomaly code of docs/analysis-anomaly.md is put
// into words by the dashboard in both languages (src/anomalytext.ts), with
// each of its parameters. Run by `npm test` and by every `npm run build`.
// It reads the doc's table of codes (| `code` | `param`, ... | example |),
// renders an anomaly of each code with made-up parameter values in English
// and Chinese and fails when
//   - a sentence still holds a {placeholder} or a "?" (a parameter the
//     template wants is not among the code's);
//   - a parameter's value, the target or the room is missing from it
//     (hour_of_week and baseline are shown as a weekday and hour, type by
//     its translated name; jsd, and type_mix's observed count, are not
//     shown, as in the server's English sentence);
//   - the sentence is the server's English one (the code is not translated).
import * as esbuild from 'esbuild';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const problems = [];

const store = new Map();
globalThis.localStorage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, String(v)) };
Object.defineProperty(globalThis, 'navigator', { value: { language: 'en-US', languages: ['en-US'] }, configurable: true });
globalThis.document = { documentElement: {}, title: '' };

const out = await esbuild.build({
  stdin: { contents: "export * from './anomalytext'; export { setLang, dictionaries } from './i18n';", resolveDir: join(here, 'src'), loader: 'ts' },
  bundle: true, write: false, format: 'esm', platform: 'neutral', logLevel: 'error',
});
const mod = await import('data:text/javascript;base64,' + Buffer.from(out.outputFiles[0].text).toString('base64'));

const doc = await readFile(join(here, '..', 'docs', 'analysis-anomaly.md'), 'utf8');
const codes = [];
for (const line of doc.split('\n')) {
  const m = /^\|\s*`([a-z_]+)`\s*\|([^|]*)\|/.exec(line);
  if (!m) continue;
  const params = [...m[2].matchAll(/`([a-z_]+)`/g)].map((x) => x[1]).filter((p) => !['week', 'day', 'ewma'].includes(p));
  if (params.length) codes.push({ code: m[1], params });
}
if (codes.length < 5) problems.push(`docs/analysis-anomaly.md: found ${codes.length} codes with parameters in its table, want at least 5`);

const special = { hour_of_week: '75', baseline: 'day', type: 'leave' };
for (const { code, params } of codes) {
  const p = {};
  params.forEach((name, i) => { p[name] = special[name] ?? String(101 + i * 7); });
  if (params.includes('user')) p.user = 'U-flood';
  const a = { code, params: p, target: 'T-target', room: 'R-room', user: p.user ?? '', explanation: 'SERVER-ENGLISH' };
  for (const lang of ['en', 'zh']) {
    mod.setLang(lang);
    const s = mod.anomalyText(a);
    const where = `${lang} ${code}: ${JSON.stringify(s)}`;
    if (s === a.explanation) { problems.push(`${where}: not translated (the server's sentence)`); continue; }
    if (/\{\w+\}/.test(s) || s.includes('?')) problems.push(`${where}: a placeholder is left`);
    for (const v of ['T-target', 'R-room']) if (!s.includes(v)) problems.push(`${where}: ${v} missing`);
    for (const name of params) {
      if (name === 'jsd' || name === 'baseline' || (code === 'type_mix' && name === 'observed')) continue;
      let want = p[name];
      if (name === 'hour_of_week') want = mod.dictionaries[lang]['anomaly.dow.3'] + ' 03:00';
      if (name === 'type') want = mod.dictionaries[lang]['type.leave'];
      if (!s.includes(want)) problems.push(`${where}: parameter ${name} (${want}) missing`);
    }
    if (params.includes('baseline') && !s.includes(mod.dictionaries[lang]['anomaly.baselineDay'].trim())) problems.push(`${where}: the baseline (day) is not said`);
    const kind = mod.kindOf({ kind: '', code });
    if (!(('anomaly.kind.' + kind) in mod.dictionaries[lang])) problems.push(`${lang} ${code}: no name for its kind ${kind}`);
  }
}
// A code this UI does not know: the server's sentence.
mod.setLang('zh');
if (mod.anomalyText({ code: 'brand_new', params: {}, target: 't', room: '', user: '', explanation: 'as the server says' }) !== 'as the server says') {
  problems.push('an unknown code does not fall back to the server\'s explanation');
}

if (problems.length) {
  console.error(`check-anomaly: ${problems.length} problem(s):\n  ` + problems.join('\n  '));
  process.exit(1);
}
console.log(`check-anomaly: ok (${codes.length} codes in en, zh)`);
