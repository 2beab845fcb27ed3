// build.mjs bundles web/src into internal/webui/dist, which the Go binary
// embeds (see internal/webui/ui.go).
//
// Output: dist/index.html plus dist/assets/app-<hash>.js and .css (minified,
// content-hashed so the server can cache them forever) and a .gz twin of
// each asset that the Go handler serves to clients accepting gzip.
import * as esbuild from 'esbuild';
import { readFile, writeFile, readdir, rm, mkdir } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants as zc } from 'node:zlib';

const here = fileURLToPath(new URL('.', import.meta.url));
const src = join(here, 'src');
const dist = join(here, '..', 'internal', 'webui', 'dist');
const assets = join(dist, 'assets');

// Empty dist but keep its .gitignore, the placeholder that keeps the folder
// in git so `go:embed all:dist` compiles in a fresh checkout.
await mkdir(dist, { recursive: true });
for (const name of await readdir(dist)) {
  if (name !== '.gitignore') await rm(join(dist, name), { recursive: true, force: true });
}

const result = await esbuild.build({
  entryPoints: { app: join(src, 'main.ts'), 'app-style': join(src, 'app.css') },
  outdir: assets,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
});

let js = '';
let css = '';
for (const [out, meta] of Object.entries(result.metafile.outputs)) {
  const url = '/assets/' + basename(out);
  if (meta.entryPoint?.endsWith('main.ts')) js = url;
  else if (out.endsWith('.css')) css = url;
}
if (!js || !css) throw new Error(`build: missing outputs (js=${js} css=${css})`);

const html = (await readFile(join(src, 'index.html'), 'utf8'))
  .replace('%APP_CSS%', css)
  .replace('%APP_JS%', js);
await writeFile(join(dist, 'index.html'), html);

let raw = 0;
let gz = 0;
for (const name of await readdir(assets)) {
  const p = join(assets, name);
  const data = await readFile(p);
  const z = gzipSync(data, { level: zc.Z_BEST_COMPRESSION });
  raw += data.length;
  gz += z.length;
  if (/\.(js|css|svg|json|txt)$/.test(name)) await writeFile(p + '.gz', z);
  console.log(`  ${relative(here, p).padEnd(52)} ${(data.length / 1024).toFixed(1).padStart(7)} KiB  gzip ${(z.length / 1024).toFixed(1).padStart(6)} KiB`);
}
console.log(`  total ${(raw / 1024).toFixed(1)} KiB, gzip ${(gz / 1024).toFixed(1)} KiB -> ${relative(here, dist)}`);
