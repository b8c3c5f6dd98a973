// `npm run build` and the production layout: the compiled JavaScript in dist/ runs the log
// with no TypeScript loader. The layout is the Docker image's (package.json, bin/, dist/,
// node_modules without tsx and typescript, no src/), built from this checkout into a temp dir.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

const REPO = join(import.meta.dirname, '../..');
const run = promisify(execFile);
let app: string;

before(async () => {
  app = mkdtempSync(join(tmpdir(), 'ctlog-build-'));
  await run(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(REPO, 'tsconfig.build.json'), '--outDir', join(app, 'dist')], { cwd: REPO });
  mkdirSync(join(app, 'bin'));
  copyFileSync(join(REPO, 'bin/ctlog.mjs'), join(app, 'bin/ctlog.mjs'));
  copyFileSync(join(REPO, 'package.json'), join(app, 'package.json'));
  // The image prunes the development packages: without tsx, no TypeScript can load.
  mkdirSync(join(app, 'node_modules'));
  for (const name of readdirSync(join(REPO, 'node_modules'))) {
    if (name === 'tsx' || name === 'typescript' || name === '.bin') continue;
    symlinkSync(join(REPO, 'node_modules', name), join(app, 'node_modules', name));
  }
});
after(() => rmSync(app, { recursive: true, force: true }));

test('npm run build writes dist/src and dist/migrations as JavaScript', () => {
  assert.ok(existsSync(join(app, 'dist/src/bin/ctlog.js')));
  assert.ok(readdirSync(join(app, 'dist/migrations')).some((f) => /^\d+_.*\.js$/.test(f)));
  assert.ok(!existsSync(join(app, 'node_modules/tsx')));
});

test('the compiled CLI serves the shipped shards.yaml, takes a submission, and stops on SIGTERM', async () => {
  const help = await run(process.execPath, [join(app, 'bin/ctlog.mjs'), 'shard', 'create', '--help']);
  assert.match(help.stdout, /^Usage: ctlog shard create/);

  const { stdout: body } = await run(process.execPath, [join(REPO, 'bin/ctlog.mjs'), 'demo-chain']);
  const child = spawn(process.execPath, [join(app, 'bin/ctlog.mjs'), 'serve', '--config', join(REPO, 'shards.yaml'), '--data', join(app, 'data'), '--listen', '127.0.0.1:0'], {
    env: { ...process.env, CTLOG_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line in 30 s:\n${out}`)), 30_000);
      child.stdout.on('data', () => {
        const m = /ctlog serve listening on (http:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      void exited.then((code) => reject(new Error(`exited ${code}:\n${out}`)));
    });
    // The demo chain's NotAfter is 90 days from now: the shipped shard whose window holds it.
    let accepted: { sct_version: number } | undefined;
    for (const shard of ['2026h2', '2027h1', '2027h2', '2028h1', '2028h2']) {
      const res = await fetch(`${url}/${shard}/ct/v1/add-chain`, { method: 'POST', body });
      if (res.status === 200) accepted = (await res.json()) as { sct_version: number };
      else assert.equal(res.status, 400, await res.text());
    }
    assert.equal(accepted?.sct_version, 0, 'one shipped shard returned an SCT');
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, out);
});
