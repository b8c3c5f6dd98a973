// `ctlog monitor` against a real ctlog (startLog, embedded SQLite) behind a proxy that breaks
// it on purpose: each way of breaking must raise its own alarm, and a healthy run none.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startLog, type RunningLog } from '../../src/bin/start-log.js';
import { Monitor } from '../../src/cli/monitor/run-monitor.js';
import type { MonitorTarget, Problem } from '../../src/cli/monitor/log-monitor.js';
import { targetsFromLogList } from '../../src/cli/monitor/monitor-targets.js';
import { TestIssuer } from '../../src/cli/test-issuer.js';
import { loadSigner } from '../../src/config/key-file.js';
import { createLogger } from '../../src/log/logger.js';
import type { LogSigner } from '../../src/signing/index.js';
import { sctToJson, signedCheckpoint } from '../../src/tls/index.js';
import { PublicKeyCache, RootStore, validateChain } from '../../src/x509/index.js';

const DEMO = resolve(import.meta.dirname, '../../demo');
const quiet = createLogger({ level: 'error', write: () => {} });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CTLOG = resolve(import.meta.dirname, '../../bin/ctlog.mjs');

function runCli(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [CTLOG, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

type Mode = 'pass' | 'bad-signature' | 'old-sth' | 'fork' | 'drop' | '500' | 'bad-entries' | 'bad-checkpoint';

describe('ctlog monitor against broken logs', () => {
  let dir: string;
  let log: RunningLog;
  let proxy: Server;
  let proxyUrl: string;
  let signer: LogSigner;
  let issuer: TestIssuer;
  let mode: Mode = 'pass';
  let firstSth = '';
  const roots = RootStore.fromPem(readFileSync(join(DEMO, 'demo-root.pem'), 'utf8'));
  const keys = new PublicKeyCache();

  async function forward(req: IncomingMessage, body: Buffer): Promise<{ status: number; text: string }> {
    const r = await fetch(log.url + req.url, { method: req.method, body: req.method === 'POST' ? body.toString() : undefined, headers: { 'content-type': 'application/json' } });
    return { status: r.status, text: await r.text() };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const send = (status: number, text: string): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(text);
    const path = req.url!.split('?')[0]!;
    if (mode === '500') return send(500, '{"error":"internal"}');
    if (path.endsWith('/get-sth')) {
      const real = await forward(req, body);
      const sth = JSON.parse(real.text);
      if (mode === 'bad-signature') {
        const sig = Buffer.from(sth.tree_head_signature, 'base64');
        sig[sig.length - 3]! ^= 0x01;
        sth.tree_head_signature = sig.toString('base64');
      } else if (mode === 'old-sth') {
        return send(200, firstSth);
      } else if (mode === 'fork') {
        // The log's own key signs a second tree of the same size: a split view.
        const rootHash = new Uint8Array(randomBytes(32));
        sth.sha256_root_hash = Buffer.from(rootHash).toString('base64');
        sth.tree_head_signature = Buffer.from(await signer.signSth({ treeSize: sth.tree_size, timestamp: sth.timestamp, rootHash })).toString('base64');
      }
      return send(200, JSON.stringify(sth));
    }
    if (mode === 'drop' && (path.endsWith('/add-chain') || path.endsWith('/add-pre-chain'))) {
      // A valid SCT, signed with the log key, for an entry that is never sequenced.
      const chain = (JSON.parse(body.toString()).chain as string[]).map((c) => new Uint8Array(Buffer.from(c, 'base64')));
      const v = validateChain(path.endsWith('/add-chain') ? 'x509' : 'precert', chain, { roots, notAfterStart: 0, notAfterLimit: Date.parse('2100-01-01T00:00:00Z'), now: Date.now() }, keys);
      return send(200, JSON.stringify(sctToJson(await signer.signSct(Date.now(), v.entry, new Uint8Array(0)))));
    }
    if (mode === 'bad-entries' && path.endsWith('/get-entries')) {
      // One byte of one certificate changed: the entries no longer hash to the signed root.
      const real = JSON.parse((await forward(req, body)).text);
      const leaf = Buffer.from(real.entries[0].leaf_input, 'base64');
      leaf[40]! ^= 0x01;
      real.entries[0].leaf_input = leaf.toString('base64');
      return send(200, JSON.stringify(real));
    }
    if (mode === 'bad-checkpoint' && path.endsWith('/checkpoint')) {
      // A checkpoint the log key signed for another root of the size get-sth shows.
      const sth = JSON.parse((await forward({ url: '/s1/ct/v1/get-sth', method: 'GET' } as IncomingMessage, body)).text);
      const rootHash = new Uint8Array(randomBytes(32));
      const origin = (await forward(req, body)).text.split('\n')[0]!;
      const sig = await signer.signSth({ treeSize: sth.tree_size, timestamp: sth.timestamp, rootHash });
      return void res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(signedCheckpoint(origin, sth.tree_size, rootHash, sth.timestamp, sig, signer.logId));
    }
    const real = await forward(req, body);
    return send(real.status, real.text);
  }

  const target = (over: Partial<MonitorTarget> = {}): MonitorTarget => ({ url: `${proxyUrl}/s1/`, key: signer.publicKeySpki, mmdSeconds: 3, ...over });
  const monitor = (over: Partial<ConstructorParameters<typeof Monitor>[0]> = {}) =>
    new Monitor({ targets: [target()], statePath: join(dir, 'state.json'), intervalMs: 200, maxSthAgeMs: 60_000, entriesPerRound: 1000, timeoutMs: 5000, log: quiet, ...over });
  const kinds = (ps: Problem[]) => ps.map((p) => `${p.check}/${p.kind}`);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ctlog-monitor-'));
    writeFileSync(
      join(dir, 'shards.yaml'),
      `log: { base_url: http://127.0.0.1:6962 }
defaults: { roots: [${join(DEMO, 'demo-root.pem')}], pool_period_ms: 20, sth_interval_ms: 200, mmd: 3 }
shards:
  - { name: s1, not_after_start: 2000-01-01T00:00:00Z, not_after_limit: 2100-01-01T00:00:00Z }
`,
    );
    log = await startLog({ roles: ['ctfe', 'sequencer', 'read'], configFile: join(dir, 'shards.yaml'), dataDir: join(dir, 'data'), listen: '127.0.0.1:0', log: quiet });
    signer = loadSigner(log.config.shards[0]!.keyFile);
    issuer = TestIssuer.fromFiles(join(DEMO, 'demo-root.pem'), join(DEMO, 'demo-root-key.pem'), Date.now());
    proxy = createServer((req, res) => void handle(req, res).catch((err) => res.writeHead(502).end(String(err))));
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    firstSth = await (await fetch(`${log.url}/s1/ct/v1/get-sth`)).text();
  });
  after(async () => {
    proxy?.close();
    await log?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a healthy log over a run of rounds with canaries raises no alarm', async () => {
    // The continuous mode, a round every 150 ms (a canary and the entries walk each round),
    // until 10 canaries are proven included (bounded by rounds, not by time: a busy machine
    // runs fewer rounds a second).
    const m = monitor({ issuer, intervalMs: 150 });
    const included = async () => Number(/ctlog_monitor_inclusion_latency_seconds_count\{log="[^"]+"\} (\d+)/.exec(await m.metrics.registry.metrics())?.[1] ?? 0);
    m.start();
    for (const end = Date.now() + 60_000; (await included()) < 10 && Date.now() < end; ) await sleep(200);
    await m.close();
    const rest = await m.once(200); // one more round, then waits for every canary
    assert.deepEqual(kinds(m.problems), [], JSON.stringify(m.problems));
    assert.deepEqual(rest, []);
    assert.equal(m.logs[0]!.waitingCanaries, 0, 'every canary was included');
    const text = await m.metrics.registry.metrics();
    const rounds = await included();
    assert.ok(rounds >= 10, `one latency per canary, one canary a round: ${rounds} rounds`);
    assert.match(text, /ctlog_monitor_check_last_success_timestamp_seconds\{log="[^"]+",check="checkpoint"\}/);
    assert.match(text, /ctlog_monitor_check_last_success_timestamp_seconds\{log="[^"]+",check="entries"\}/);
    assert.match(text, /ctlog_monitor_tree_growth_entries_per_second/);
    assert.doesNotMatch(text, /ctlog_monitor_check_failures_total\{/);
  });

  test('an altered STH signature: sth/bad_signature, and the STH is not adopted', async () => {
    mode = 'bad-signature';
    try {
      const m = monitor();
      const problems = await m.once();
      assert.deepEqual(kinds(problems), ['sth/bad_signature']);
      assert.match(await m.metrics.registry.metrics(), /ctlog_monitor_check_failures_total\{log="[^"]+",check="sth",kind="bad_signature"\} 1/);
    } finally {
      mode = 'pass';
    }
  });

  test('an older STH (tree going backwards): consistency/tree_shrank', async () => {
    assert.ok(JSON.parse(firstSth).tree_size < JSON.parse(await (await fetch(`${log.url}/s1/ct/v1/get-sth`)).text()).tree_size);
    mode = 'old-sth';
    try {
      // The old head is also older than the MMD by now, which is an alarm of its own.
      const got = kinds(await monitor().once());
      assert.ok(got.includes('consistency/tree_shrank'), got.join());
      assert.deepEqual(got.filter((k) => k !== 'consistency/tree_shrank' && k !== 'freshness/older_than_mmd'), []);
    } finally {
      mode = 'pass';
    }
  });

  test('an inconsistent root, signed by the log, across a monitor restart: consistency/inconsistent', async () => {
    assert.deepEqual(await monitor().once(), [], 'the state file now holds the real tree head');
    mode = 'fork';
    try {
      // A new Monitor: only the state file links it to the tree head verified before.
      const problems = await monitor().once();
      assert.ok(kinds(problems).includes('consistency/inconsistent'), JSON.stringify(problems));
      assert.deepEqual(kinds(problems).filter((k) => k !== 'consistency/inconsistent' && k !== 'checkpoint/mismatch'), []);
    } finally {
      mode = 'pass';
    }
    assert.deepEqual(await monitor().once(), [], 'the forged head was never adopted');
  });

  test('a dropped submission (SCT issued, never included): canary_inclusion/inclusion_overdue within the MMD', async () => {
    mode = 'drop';
    try {
      // Its own state file: the dropped canary stays pending there (as it should) for good.
      const m = monitor({ issuer, targets: [target({ mmdSeconds: 1 })], statePath: join(dir, 'drop-state.json') });
      const t0 = Date.now();
      const problems = await m.once(200);
      assert.deepEqual(kinds(problems), ['canary_inclusion/inclusion_overdue']);
      assert.ok(Date.now() - t0 < 20_000, 'raised once the MMD passed, not at some later timeout');
      assert.match(await m.metrics.registry.metrics(), /ctlog_monitor_canary_overdue\{log="[^"]+"\} 1/);
    } finally {
      mode = 'pass';
    }
  });

  test('--once stops waiting for a canary after its wait: canary_inclusion/inclusion_timeout', async () => {
    mode = 'drop';
    try {
      const problems = await monitor({ issuer, statePath: join(dir, 'timeout-state.json') }).once(200, 600);
      assert.deepEqual(kinds(problems), ['canary_inclusion/inclusion_timeout']);
    } finally {
      mode = 'pass';
    }
  });

  test('500 answers: sth/http_5xx and canary_submit/http_5xx', async () => {
    mode = '500';
    try {
      const problems = await monitor({ issuer }).once(200);
      assert.deepEqual(kinds(problems).sort(), ['canary_submit/http_5xx', 'sth/http_5xx']);
      assert.equal(problems[0]!.status, 500);
    } finally {
      mode = 'pass';
    }
  });

  test('entries that do not hash to the signed root: entries/root_mismatch', async () => {
    mode = 'bad-entries';
    try {
      const problems = await monitor({ statePath: join(dir, 'entries-state.json') }).once();
      assert.deepEqual(kinds(problems), ['entries/root_mismatch']);
    } finally {
      mode = 'pass';
    }
    assert.deepEqual(await monitor({ statePath: join(dir, 'entries-state.json') }).once(), [], 'rebuilt from the start, the real entries match');
  });

  test('a checkpoint signing another root than get-sth: checkpoint/mismatch', async () => {
    mode = 'bad-checkpoint';
    try {
      assert.deepEqual(kinds(await monitor().once()), ['checkpoint/mismatch']);
    } finally {
      mode = 'pass';
    }
  });

  test('freshness: a stale STH alarms; a frozen log whose STH does not change does not', async () => {
    assert.deepEqual(kinds(await monitor({ maxSthAgeMs: 1 }).once()), ['freshness/stale']);
    assert.deepEqual(await monitor({ maxSthAgeMs: 1, targets: [target({ frozen: true })] }).once(), []);
  });

  test('`ctlog monitor --once` against our log by a log list (with canaries) exits 0; by --log against a 500ing log exits 1', async () => {
    const key = Buffer.from(signer.publicKeySpki).toString('base64');
    writeFileSync(join(dir, 'list.json'), JSON.stringify({ version: '1.0', operators: [{ name: 'test', logs: [{ url: `${log.url}/s1/`, key, mmd: 3, state: { usable: { timestamp: '2026-01-01T00:00:00Z' } } }] }] }));
    const ok = await runCli(['monitor', '--once', '--log-list', join(dir, 'list.json'), '--demo-ca', '--entries', '1000', '--state', join(dir, 'cli-state.json')]);
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /1 log\(s\) passed every check, canaries included/);
    mode = '500';
    try {
      const bad = await runCli(['monitor', '--once', '--log', `${proxyUrl}/s1/,${key},mmd=3`, '--state', join(dir, 'cli-state.json')]);
      assert.equal(bad.code, 1, bad.out);
      const line = JSON.parse(bad.out.split('\n').find((l) => l.startsWith('{'))!);
      assert.deepEqual([line.msg, line.check, line.kind, line.status], ['monitor alarm', 'sth', 'http_5xx', 500]);
    } finally {
      mode = 'pass';
    }
    const usage = await runCli(['monitor', '--once']);
    assert.equal(usage.code, 2);
    assert.match(usage.out, /no log to watch/);
  });

  test('a log list: readonly logs are watched as frozen, with their final tree head', () => {
    const key = Buffer.from(signer.publicKeySpki).toString('base64');
    const root = Buffer.alloc(32, 7).toString('base64');
    const list = {
      operators: [{
        name: 'x',
        logs: [
          { url: 'https://a.example/', key, mmd: 60, state: { usable: { timestamp: '2026-01-01T00:00:00Z' } }, temporal_interval: { start_inclusive: '2026-01-01T00:00:00Z', end_exclusive: '2026-07-01T00:00:00Z' } },
          { url: 'https://b.example/', key, mmd: 86400, state: { readonly: { timestamp: '2026-01-01T00:00:00Z', final_tree_head: { sha256_root_hash: root, tree_size: 5 } } } },
          { url: 'https://c.example/', key, state: { retired: { timestamp: '2026-01-01T00:00:00Z' } } },
        ],
        tiled_logs: [{ monitoring_url: 'https://d.example/' }],
      }],
    };
    const { targets, skipped } = targetsFromLogList(JSON.stringify(list), 'list.json');
    assert.equal(targets.length, 2);
    assert.deepEqual({ mmd: targets[0]!.mmdSeconds, frozen: targets[0]!.frozen, window: targets[0]!.notAfterWindow }, { mmd: 60, frozen: undefined, window: { start: Date.parse('2026-01-01T00:00:00Z'), end: Date.parse('2026-07-01T00:00:00Z') } });
    assert.equal(targets[1]!.frozen, true);
    assert.equal(targets[1]!.finalTreeHead!.treeSize, 5);
    assert.deepEqual(skipped, ['https://d.example/ (tiled log)', 'https://c.example/ (retired)']);
  });
});
