// check-i18n.mjs: the UI's strings are complete in both languages.
// Run by `npm test` and by every `npm run build`. It bundles src/i18n.ts
// with esbuild, loads it in Node and fails when
//   - a key is missing from either language, or its string is empty;
//   - the two languages disagree on a key's {placeholders};
//   - the code calls tOr('key', …) with a key that does not exist;
//   - an API error code listed in docs/api.md ("Errors") has no err.<code>;
//   - a target state of src/state.ts, a message type or an abnormal-message
//     reason of docs/api.md has no state.<name> / type.<name> / reason.<name>;
//   - a target error code (the Code… constants of internal/capture/attempt.go
//     and internal/web/errors.go) has no targetErr.<code>.
import * as esbuild from 'esbuild';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const src = join(here, 'src');
const problems = [];

// i18n.ts reads the saved language and the browser's at load: give it a
// minimal browser.
const store = new Map();
globalThis.localStorage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, String(v)) };
Object.defineProperty(globalThis, 'navigator', { value: { language: 'en-US', languages: ['en-US'] }, configurable: true });
globalThis.document = { documentElement: {}, title: '' };

const out = await esbuild.build({
  entryPoints: [join(src, 'i18n.ts')], bundle: true, write: false, format: 'esm', platform: 'neutral', logLevel: 'error',
});
const mod = await import('data:text/javascript;base64,' + Buffer.from(out.outputFiles[0].text).toString('base64'));
const dicts = mod.dictionaries;
const langs = Object.keys(dicts);
if (langs.length !== 2 || !dicts.en || !dicts.zh) problems.push(`want languages en and zh, got ${langs.join(', ')}`);

const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');
const all = new Set(langs.flatMap((l) => Object.keys(dicts[l])));
for (const key of [...all].sort()) {
  for (const l of langs) {
    const v = dicts[l][key];
    if (typeof v !== 'string') problems.push(`${l}: missing key ${key}`);
    else if (v.trim() === '') problems.push(`${l}: empty string for ${key}`);
  }
  const ph = langs.map((l) => (typeof dicts[l][key] === 'string' ? placeholders(dicts[l][key]) : null));
  if (ph.every((p) => p !== null) && new Set(ph).size > 1) {
    problems.push(`placeholders differ for ${key}: ${langs.map((l, i) => `${l} {${ph[i]}}`).join(' vs ')}`);
  }
}

const need = (key, why) => {
  if (!all.has(key)) problems.push(`missing key ${key} (${why})`);
};

// tOr('literal', ...) is not type-checked: check its keys here.
async function sources(dir) {
  const files = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) files.push(...(await sources(p)));
    else if (e.name.endsWith('.ts')) files.push(p);
  }
  return files;
}
for (const f of await sources(src)) {
  const text = await readFile(f, 'utf8');
  for (const m of text.matchAll(/\btOr\(\s*'([^'+]+)'\s*,/g)) need(m[1], `tOr in ${f.slice(here.length)}`);
}

// Error codes, message types and reasons from the API documentation.
const api = await readFile(join(here, '..', 'docs', 'api.md'), 'utf8');
const errors = api.slice(api.indexOf('\n## Errors'));
for (const line of errors.split('\n')) {
  const m = /^\|\s*\d{3}\s*\|([^|]*)\|/.exec(line);
  if (!m) continue;
  for (const c of m[1].matchAll(/`([a-z_]+)`/g)) need('err.' + c[1], 'an error code in docs/api.md');
}
const typeRow = /^\| `type` \|(.*)$/m.exec(api);
for (const c of (typeRow?.[1] ?? '').matchAll(/`([a-z_]+)`/g)) need('type.' + c[1], 'a message type in docs/api.md');
const reasonRow = /^\| `reason` \|(.*)$/m.exec(api);
for (const c of (reasonRow?.[1] ?? '').matchAll(/`([a-z_0-9]+)`/g)) need('reason.' + c[1], 'a message reason in docs/api.md');
if (!typeRow || !reasonRow) problems.push('docs/api.md: the message object table (type, reason rows) was not found');

// Target error codes: the constants of capture and web (docs/api.md#error-codes).
for (const f of ['internal/capture/attempt.go', 'internal/web/errors.go']) {
  let text = '';
  try {
    text = await readFile(join(here, '..', f), 'utf8');
  } catch {
    continue; // an older tree without error codes
  }
  for (const m of text.matchAll(/^\s*Code[A-Z]\w*\s*=\s*"([a-z_]+)"/gm)) need('targetErr.' + m[1], 'a target error code in ' + f);
}

const state = await readFile(join(src, 'state.ts'), 'utf8');
const states = /stateClass[^{]*\{([^}]*)\}/.exec(state);
for (const m of (states?.[1] ?? '').matchAll(/^\s*([a-z_]+):/gm)) need('state.' + m[1], 'a state in src/state.ts');

if (problems.length) {
  console.error(`check-i18n: ${problems.length} problem(s):\n  ` + problems.join('\n  '));
  process.exit(1);
}
console.log(`check-i18n: ok (${all.size} keys in ${langs.join(', ')})`);
