// check-no-html.mjs fails the build when web/src uses an HTML-string sink.
//
// Everything the dashboard shows (message content, user, room and target
// names, error texts) comes from the monitored chat and is attacker
// controlled, so the DOM is built with createElement + textContent only.
// This is a grep, not a parser: it also rejects the words in comments, which
// keeps the rule easy to state.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('./src', import.meta.url));
const forbidden = /\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write(ln)?|createContextualFragment|DOMParser|srcdoc)\b/;

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (/\.(ts|js|mjs|tsx|jsx)$/.test(name)) yield p;
  }
}

let bad = 0;
for (const file of walk(root)) {
  readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    const m = forbidden.exec(line);
    if (m) {
      console.error(`${relative(process.cwd(), file)}:${i + 1}: forbidden HTML sink "${m[0]}" (build DOM with createElement + textContent)`);
      bad++;
    }
  });
}
if (bad) {
  console.error(`check-no-html: ${bad} problem(s)`);
  process.exit(1);
}
console.log('check-no-html: ok');
