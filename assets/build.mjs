// Build the wall-screen front-end into dist/ for embedding in the Go binary.
//
// No bundler: the page sources in web/ are plain ES2020 and CSS. JS and CSS files are copied
// with a content hash in their names (name.<hash>.ext) so the server can cache them forever;
// every page (web/*.html: index.html, and screens such as hotspots.html served at /screen/<name>)
// is rewritten to reference the hashed names and is served with no-cache.
// ECharts comes from node_modules (installed by `npm ci`), never from a CDN.
//
// Usage: npm ci && npm run build
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkDupes } from './check-dupes.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const web = join(here, 'web');
const dist = join(here, 'dist');
const echartsPath = join(here, 'node_modules', 'echarts', 'dist', 'echarts.min.js');

// Files in dist/ that are part of the repository and survive a rebuild.
const keep = new Set(['.keep', '.gitignore']);

function hashOf(buf) {
  return createHash('sha256').update(buf).digest('hex').slice(0, 10);
}

function fail(msg) {
  console.error(`build: ${msg}`);
  process.exit(1);
}

// The pages share code through the kit (web/kit*.js): a function defined in two scripts is a
// copy that will drift, and stops the build.
const dupes = checkDupes(web);
if (dupes.length) {
  fail('functions defined twice under web/ (move them into the kit, or rename page-specific ones):\n  ' + dupes.join('\n  '));
}

if (!existsSync(echartsPath)) {
  fail('node_modules/echarts is missing: run `npm ci` in assets/ first');
}

mkdirSync(dist, { recursive: true });
for (const name of readdirSync(dist)) {
  if (!keep.has(name)) rmSync(join(dist, name), { recursive: true, force: true });
}

// Logical name (as written in index.html) -> source buffer.
const sources = new Map();
sources.set('echarts.min.js', readFileSync(echartsPath));
for (const name of readdirSync(web)) {
  if (name.endsWith('.html') || name.startsWith('.')) continue;
  sources.set(name, readFileSync(join(web, name)));
}

const renamed = new Map();
for (const [name, buf] of sources) {
  let out = name;
  const m = /^(.*?)(\.min)?\.(js|css)$/.exec(name);
  if (m) out = `${m[1]}.${hashOf(buf)}.${m[3]}`;
  writeFileSync(join(dist, out), buf);
  renamed.set(name, out);
}

// Pages: index.html first, then the other screens in name order.
const pages = readdirSync(web)
  .filter((name) => name.endsWith('.html') && !name.startsWith('.'))
  .sort((a, b) => (a === 'index.html' ? -1 : b === 'index.html' ? 1 : a.localeCompare(b)));
if (!pages.includes('index.html')) fail('web/index.html is missing');
const hashedNames = new Set(renamed.values());
for (const page of pages) {
  let html = readFileSync(join(web, page), 'utf8');
  for (const [name, out] of renamed) {
    if (name === out) continue;
    const ref = new RegExp(`(["'/])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(["'?#])`, 'g');
    html = html.replace(ref, `$1${out}$2`);
  }
  // Every local script and stylesheet must have been renamed: a stale reference is a build error.
  for (const m of html.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)) {
    // Pages served below the root (/screen/<name>) reference assets by absolute path.
    if (!hashedNames.has(m[1].replace(/^\//, ''))) fail(`${page} references ${m[1]}, which is not in web/`);
  }
  writeFileSync(join(dist, page), html);
}

for (const [name, out] of renamed) console.log(`${name} -> dist/${out}`);
for (const page of pages) console.log(`${page} -> dist/${page}`);
