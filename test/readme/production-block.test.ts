// The README's production block, run as written by bash from the checkout, against the real
// MariaDB and Redis and the shipped shards.yaml. Only the environment differs from an
// operator's shell: a fresh database (CTLOG_DATABASE_URL), Redis prefix (CTLOG_REDIS_PREFIX)
// and data directory (CTLOG_DATA), which the block keeps because it only defaults them.
// Then the processes it started take a submission end to end, and are stopped (SIGTERM to
// the process group the test started for the block).
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { MYSQL_BASE, REDIS_URL, freshPrefix } from '../helpers/services.js';
import { dropMysqlDatabase } from '../../src/storage/database.js';
import { deletePrefix } from '../../src/queue/delete-prefix.js';

const REPO = join(import.meta.dirname, '../..');
const run = promisify(execFile);
const MARKER = '<!-- test/readme/production-block.test.ts runs the next block as written -->';
/** The ports the block names (ctfe, read) and the sequencer's default. */
const PORTS = { ctfe: 6962, read: 6963, sequencer: 6964 };

/** The ```sh block right after the marker comment, byte for byte. */
export function productionBlock(readme: string): string {
  const at = readme.indexOf(MARKER);
  assert.ok(at >= 0, 'README.md has the production block marker');
  const m = /^```sh\n([\s\S]*?)^```$/m.exec(readme.slice(at + MARKER.length));
  assert.ok(m, 'a ```sh block follows the marker');
  return m[1]!;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

async function until<T>(what: string, f: () => Promise<T | undefined>, log: () => string, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms; the block's output:\n${log()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const dbName = `ctlog_test_readme_${process.pid}`;
const dbUrl = `${MYSQL_BASE}/${dbName}`;
const prefix = freshPrefix();
let data: string;
let block: ChildProcess | undefined;
let output = '';

before(() => {
  data = mkdtempSync(join(tmpdir(), 'ctlog-readme-'));
});

after(async () => {
  if (block?.pid !== undefined) await stopGroup(block.pid);
  await dropMysqlDatabase(dbUrl);
  await deletePrefix(REDIS_URL, prefix.prefix);
  rmSync(data, { recursive: true, force: true });
});

/** SIGTERM to the block's process group (bash and the ctlog processes it started), then waits. */
async function stopGroup(pid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(-pid, 'SIGTERM');
  const end = Date.now() + 20_000;
  while (alive() && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  if (alive()) process.kill(-pid, 'SIGKILL');
}

test("the README's production block runs as written and the log it starts works", async () => {
  const script = productionBlock(readFileSync(join(REPO, 'README.md'), 'utf8'));
  for (const [role, port] of Object.entries(PORTS)) assert.ok(await portFree(port), `port ${port} (${role} in the README block) is in use by another process; stop it and re-run`);

  // bash -e: a failing command stops the block, as it would stop an operator reading it.
  // `wait` keeps the group alive until the test stops it.
  block = spawn('bash', ['-e', '-c', `${script}\nwait`], {
    cwd: REPO,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CTLOG_DATABASE_URL: dbUrl, CTLOG_REDIS_URL: REDIS_URL, CTLOG_REDIS_PREFIX: prefix.prefix, CTLOG_DATA: data, CTLOG_LOG_LEVEL: 'warn' },
  });
  block.stdout!.on('data', (d) => (output += d));
  block.stderr!.on('data', (d) => (output += d));
  let exited: number | null | undefined;
  block.on('exit', (code) => (exited = code));
  const log = () => `${output}${exited !== undefined ? `\n(bash exited ${exited})` : ''}`;

  // migrate and shard create --all ran, for every shard of the shipped shards.yaml.
  const shards = ['2026h2', '2027h1', '2027h2', '2028h1', '2028h2'];
  await until('ctfe, read and sequencer listening', async () => (/ctlog ctfe listening/.test(output) && /ctlog read listening/.test(output) && /ctlog sequencer listening/.test(output) ? true : undefined), log, 90_000);
  assert.equal(exited, undefined, log());
  assert.match(output, /applied \d+ migration\(s\)|schema is up to date/);
  for (const s of shards) assert.match(output, new RegExp(`^created shard ${s} \\(id \\d+\\), log id \\S+, new key ${data}/keys/${s}\\.pem`, 'm'));
  assert.deepEqual(readdirSync(join(data, 'keys')).sort(), shards.map((s) => `${s}.pem`));

  // Banners: the sequencer prints no log URL (it serves none); the ctfe only submission URLs.
  const seqBanner = output.slice(output.indexOf('ctlog sequencer listening')).split('\n').slice(0, shards.length + 2).join('\n');
  assert.match(seqBanner, /^ctlog sequencer listening on http:\/\/127\.0\.0\.1:6964$/m);
  assert.doesNotMatch(seqBanner, /\/ct\/v1\//);
  const ctfeBanner = output.slice(output.indexOf('ctlog ctfe listening')).split('\n').slice(1, shards.length + 1);
  for (const l of ctfeBanner) assert.match(l, /POST http:\/\/0\.0\.0\.0:6962\/\S+\/ct\/v1\/add-chain, add-pre-chain/);

  // Every URL the banners print answers on that process.
  for (const path of ['/metrics', '/livez', '/readyz', '/healthz']) {
    for (const port of Object.values(PORTS)) {
      const r = await until(`${path} on ${port}`, async () => {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        await res.arrayBuffer();
        return res.status === 200 ? res.status : undefined;
      }, log, 20_000);
      assert.equal(r, 200);
    }
  }

  // A submission through the ctfe, sequenced by the sequencer, read from the read server.
  const { stdout: body } = await run(process.execPath, [join(REPO, 'bin/ctlog.mjs'), 'demo-chain', '--not-after', '2027-03-01T00:00:00Z'], { cwd: REPO });
  const add = await fetch(`http://127.0.0.1:${PORTS.ctfe}/2027h1/ct/v1/add-chain`, { method: 'POST', body });
  assert.equal(add.status, 200, await add.clone().text());
  const sth = await until('the entry in the read server\'s STH', async () => {
    const r = (await (await fetch(`http://127.0.0.1:${PORTS.read}/2027h1/ct/v1/get-sth`)).json()) as { tree_size: number };
    return r.tree_size >= 1 ? r : undefined;
  }, log);
  assert.equal(sth.tree_size, 1);

  // The set-up steps are idempotent: the block's first two commands again change nothing.
  const env = { ...process.env, CTLOG_DATABASE_URL: dbUrl, CTLOG_DATA: data };
  const again = await run(process.execPath, [join(REPO, 'bin/ctlog.mjs'), 'shard', 'create', '--all'], { cwd: REPO, env });
  assert.equal(again.stdout.trim().split('\n').filter((l) => /: unchanged$/.test(l)).length, shards.length, again.stdout);

  await stopGroup(block.pid!);
  assert.match(output, /SIGTERM: shutting down/);
});
