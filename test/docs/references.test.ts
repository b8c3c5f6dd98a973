// Every document the code and the manifests cite is in the repository: a DESIGN.md,
// PERFORMANCE.md or STYLE.md reference names docs/…, the file exists, and a cited section
// ("The write path"), habit or invariant number is there.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '../..');
const SCANNED = ['src', 'k8s', 'bench', 'migrations', 'scripts', 'test', 'bin', 'README.md', 'Dockerfile', '.ci'];

function files(p: string): string[] {
  if (!existsSync(p)) return [];
  if (statSync(p).isDirectory()) return readdirSync(p).flatMap((n) => (n === 'node_modules' ? [] : files(join(p, n))));
  return /\.(ts|mjs|md|ya?ml|sh)$|Dockerfile$|\/run$/.test(p) ? [p] : [];
}

const docs = new Map(['DESIGN', 'PERFORMANCE', 'STYLE'].map((d) => [d, existsSync(join(ROOT, 'docs', `${d}.md`)) ? readFileSync(join(ROOT, 'docs', `${d}.md`), 'utf8') : '']));
const headings = (doc: string) => [...doc.matchAll(/^#+ (.+)$/gm)].map((m) => m[1]!);

test('docs/DESIGN.md, docs/PERFORMANCE.md and docs/STYLE.md exist', () => {
  for (const [d, text] of docs) assert.ok(text.length > 1000, `docs/${d}.md`);
});

test('every citation of a design document points into docs/, at a section that exists', () => {
  const problems: string[] = [];
  let cited = 0;
  for (const f of SCANNED.flatMap((p) => files(join(ROOT, p)))) {
    if (f === import.meta.filename) continue;
    const text = readFileSync(f, 'utf8');
    const at = relative(ROOT, f);
    // test/fixtures/*/README.md record where copied vectors came from: provenance, not a citation.
    if (/\/work\/shared|\.\.\/shared\//.test(text) && !at.startsWith('test/fixtures/')) problems.push(`${at}: refers to a document outside the repository`);
    for (const m of text.matchAll(/(docs\/)?\b(DESIGN|PERFORMANCE|STYLE)\.md(?:[:,]? ?(?:"([^"]+)"|habit (\d+)|[Ii]nvariants? (\d+)))?/g)) {
      cited++;
      const [, prefix, doc, section, habit, invariant] = m;
      if (!prefix) problems.push(`${at}: cites ${doc}.md; write docs/${doc}.md`);
      const body = docs.get(doc!)!;
      if (section && !headings(body).some((h) => h.startsWith(section))) problems.push(`${at}: docs/${doc}.md has no section "${section}"`);
      if (habit && !new RegExp(`^${habit}\\. \\*\\*`, 'm').test(body)) problems.push(`${at}: docs/STYLE.md has no habit ${habit}`);
      if (invariant && !new RegExp(`^${invariant}\\. `, 'm').test(body.slice(body.indexOf('## Invariants')))) problems.push(`${at}: docs/DESIGN.md has no invariant ${invariant}`);
    }
  }
  assert.ok(cited > 20, `only ${cited} citations found: is the scan looking in the right places?`);
  assert.deepEqual(problems, []);
});
