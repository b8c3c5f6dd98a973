// Import rules for src/ (docs/DESIGN.md "Layout", docs/STYLE.md habit 8):
//  - the pure core (merkle, tls, x509, signing) imports no I/O module and reads no clock
//    or environment;
//  - imports point down: services -> adapters -> pure core;
//  - the services (ctfe, sequencer, read, cli) never import each other;
//  - no import cycles anywhere in src/.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const src = join(root, 'src');

const PURE = new Set(['merkle', 'tls', 'x509', 'signing', 'util']);
const ADAPTERS = new Set(['config', 'storage', 'queue', 'metrics', 'log', 'http', 'hsm']);
const SERVICES = new Set(['ctfe', 'sequencer', 'read', 'cli']);
// lru-cache: a pure data structure (no I/O, no clock unless a TTL is asked for, and none is).
const PURE_ALLOWED_PACKAGES = [/^node:crypto$/, /^node:buffer$/, /^@noble\//, /^@peculiar\/x509$/, /^reflect-metadata$/, /^lru-cache$/];
const PURE_FORBIDDEN_CODE: Array<[RegExp, string]> = [
  [/\bprocess\.(env|argv|hrtime|exit|cwd)\b/, 'reads the process environment'],
  [/\bDate\.now\(/, 'reads the clock (pass the time in)'],
  [/\bnew Date\(\)/, 'reads the clock (pass the time in)'],
  [/\bperformance\.now\(/, 'reads the clock (pass the time in)'],
];

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function layerOf(file: string): string {
  return relative(src, file).split('/')[0] ?? '';
}

const importRe = /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

const files = walk(src);
const graph = new Map<string, string[]>();
const problems: string[] = [];

for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const layer = layerOf(file);
  const edges: string[] = [];
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec) continue;
    const rel = relative(root, file);
    if (spec.startsWith('.')) {
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      edges.push(target);
      const tl = layerOf(target);
      if (PURE.has(layer) && !PURE.has(tl)) problems.push(`${rel}: the pure core imports ${spec} (layer ${tl})`);
      if (ADAPTERS.has(layer) && SERVICES.has(tl)) problems.push(`${rel}: an adapter imports the service ${tl}`);
      if (SERVICES.has(layer) && SERVICES.has(tl) && tl !== layer) problems.push(`${rel}: service ${layer} imports service ${tl}; move the shared part down a layer`);
      if (tl === 'bin' && layer !== 'bin') problems.push(`${rel}: imports an entry point`);
    } else if (PURE.has(layer) && !PURE_ALLOWED_PACKAGES.some((re) => re.test(spec))) {
      problems.push(`${rel}: the pure core imports ${spec}`);
    }
  }
  if (PURE.has(layer)) {
    const code = text.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const [re, why] of PURE_FORBIDDEN_CODE) if (re.test(code)) problems.push(`${relative(root, file)}: ${why}`);
  }
  graph.set(file, edges);
}

// Cycle detection: depth-first search with colours.
const state = new Map<string, 1 | 2>();
const stack: string[] = [];
function visit(f: string): void {
  state.set(f, 1);
  stack.push(f);
  for (const t of graph.get(f) ?? []) {
    if (!graph.has(t)) continue;
    const s = state.get(t);
    if (s === 1) problems.push(`import cycle: ${[...stack.slice(stack.indexOf(t)), t].map((x) => relative(root, x)).join(' -> ')}`);
    else if (s === undefined) visit(t);
  }
  stack.pop();
  state.set(f, 2);
}
for (const f of files) if (!state.has(f)) visit(f);

if (problems.length) {
  console.error(`check-imports: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`check-imports: ${files.length} files, pure core clean, no cycles`);
