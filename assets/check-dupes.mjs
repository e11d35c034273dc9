// Check that no top-level function name is defined in two scripts under web/: the pages share
// code through the kit (web/kit*.js, window.Zhili), never through copies. build.mjs runs this
// before building and stops on a finding; `node check-dupes.mjs` runs it alone.
//
// "Top level" is a script's own scope or the scope of the one IIFE wrapping it (indented at most
// two spaces). Definitions counted: `function name(`, `async function name(`,
// `const|let|var name = (…) =>` (or `= async (…) =>`, `= x =>`) and `name = function`.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DEF = [
  /^ {0,2}(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)\s*\(/,
  /^ {0,2}(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:async\s+)?(?:\([^)]*\)|[A-Za-z_$][\w$]*)\s*=>/,
  /^ {0,2}(?:(?:const|let|var)\s+)?([A-Za-z_$][\w$]*)\s*=\s*(?:async\s+)?function\b/,
];

// definitionsOf returns the top-level function names defined in a script's source.
export function definitionsOf(src) {
  const names = new Set();
  for (const line of src.split('\n')) {
    for (const re of DEF) {
      const m = re.exec(line);
      if (m) names.add(m[1]);
    }
  }
  return names;
}

// duplicates maps each name defined in more than one of files ({name: source}) to those files.
export function duplicates(files) {
  const where = new Map();
  for (const [file, src] of Object.entries(files)) {
    for (const name of definitionsOf(src)) {
      if (!where.has(name)) where.set(name, []);
      where.get(name).push(file);
    }
  }
  return [...where].filter(([, list]) => list.length > 1).sort((a, b) => a[0].localeCompare(b[0]));
}

// checkDupes reads the scripts of dir and returns the messages of its findings.
export function checkDupes(dir) {
  const files = {};
  for (const name of readdirSync(dir).sort()) {
    if (name.endsWith('.js') && !name.startsWith('.')) files[name] = readFileSync(join(dir, name), 'utf8');
  }
  return duplicates(files).map(([name, list]) => `function ${name} is defined in ${list.join(' and ')}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problems = checkDupes(join(dirname(fileURLToPath(import.meta.url)), 'web'));
  for (const p of problems) console.error(`check-dupes: ${p}`);
  if (problems.length) {
    console.error('check-dupes: move shared code into the kit (web/kit*.js) or rename page-specific functions');
    process.exit(1);
  }
  console.log('check-dupes: no function defined twice');
}
