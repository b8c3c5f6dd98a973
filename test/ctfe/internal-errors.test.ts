// Probes of issue 10 about what leaks: a 503 body that named internal things (the sequencer's
// raw error, Redis keys), raw multi-line errors outside the JSON log (BullMQ printing
// "Error: read ECONNRESET" with console.error when Redis went away, knex printing
// "Acquire connection error" with a stack on stdout for every failed acquire), and one
// warning per failed batch. Real Redis throughout; the one that dies is our own.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createCtfe } from '../../src/ctfe/index.js';
import type { ShardRuntime } from '../../src/http/shard-runtime.js';
import { throttledLogger, type Logger } from '../../src/log/logger.js';
import { BullSubmissionConsumer, BullSubmissionQueue } from '../../src/queue/bullmq-queue.js';
import { openDatabase } from '../../src/storage/database.js';
import { RootStore } from '../../src/x509/index.js';
import { QUEUE_KEY, REDIS_URL, freshPrefix } from '../helpers/services.js';
import { generatedPki, type GeneratedPki } from './chains.js';
import { b64, listen, post, shardConfig } from './harness.js';

let pki: GeneratedPki;
let roots: RootStore;
before(async () => {
  pki = await generatedPki();
  roots = RootStore.fromCerts([pki.root.der]);
});

const runtime = (): ShardRuntime => ({
  config: shardConfig({ name: 'h1', prefix: '/2026h1', notAfterStart: '2026-01-01T00:00:00Z', notAfterLimit: '2026-07-01T00:00:00Z', deadlineMs: 5000 }, '/nonexistent'),
  id: 1,
  logId: new Uint8Array(32).fill(7),
  publicKey: new Uint8Array(91),
  roots,
  origin: '127.0.0.1/2026h1',
});

/** A logger that keeps records in memory. */
function memoryLog(): Logger & { lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push({ level, msg, fields });
  const log = { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => log };
  return log;
}

/**
 * Everything written with console.* while `f` runs: how BullMQ, ioredis ("Unhandled error
 * event") and knex print when nobody listens.
 */
async function rawOutput(f: () => Promise<void>): Promise<string[]> {
  const got: string[] = [];
  const saved = { log: console.log, warn: console.warn, error: console.error };
  const keep = (...a: unknown[]) => void got.push(a.map(String).join(' '));
  console.log = console.warn = console.error = keep;
  try {
    await f();
  } finally {
    Object.assign(console, saved);
  }
  return got;
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });

describe('nothing internal in answers', () => {
  test("a sequencer's own error reaches the CA as a plain 503, its text only in the log", async () => {
    const p = freshPrefix();
    const log = memoryLog();
    const queue = new BullSubmissionQueue({ redisUrl: REDIS_URL, prefix: p.prefix, lingerMs: 1, log, queueKey: QUEUE_KEY });
    const consumer = new BullSubmissionConsumer({ redisUrl: REDIS_URL, prefix: p.prefix, log, queueKey: QUEUE_KEY });
    const secret = `ER_LOCK_DEADLOCK: Deadlock on table entries, key ${p.prefix}:ctlog-h1:42`;
    await consumer.consume('h1', () => Promise.reject(new Error(secret)));
    const ctfe = createCtfe({ queue, shards: [runtime()], clock: () => Date.parse('2026-02-01T00:00:00Z'), log });
    const { server, url } = await listen(ctfe);
    try {
      const r = await post(`${url}/2026h1/ct/v1/add-chain`, { chain: pki.chains[1]!.ders.map(b64) });
      assert.equal(r.status, 503);
      assert.ok(r.headers.get('retry-after'), 'a 503 carries Retry-After');
      const body = JSON.stringify(r.body);
      for (const leak of ['ER_LOCK', 'entries', p.prefix, 'ctlog-h1']) assert.ok(!body.includes(leak), `the answer names ${leak}: ${body}`);
      assert.ok(log.lines.some((l) => String(l.fields?.err).includes('ER_LOCK_DEADLOCK')), 'the cause is in the log');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await ctfe.close();
      await queue.close();
      await consumer.close();
      await p.delete();
    }
  });
});

describe('errors go to the JSON log only, once per window', () => {
  let port: number;
  let redis: ReturnType<typeof spawn>;
  /** Our own redis-server on `port` (the shared one must never be stopped). */
  const startRedis = async () => {
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    for (let i = 0; i < 50; i++) {
      const up = await fetch(`http://127.0.0.1:${port}`).then(() => true, (e: Error & { cause?: { code?: string } }) => e.cause?.code !== 'ECONNREFUSED');
      if (up) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  before(async () => {
    port = await freePort();
    await startRedis();
  });
  after(() => {
    if (redis.exitCode === null) redis.kill('SIGKILL');
  });

  test('Redis going away: no raw lines from BullMQ, the answer names no key, warnings are throttled', async () => {
    const log = memoryLog();
    const tlog = throttledLogger(log, { windowMs: 60_000 });
    const queue = new BullSubmissionQueue({ redisUrl: `redis://127.0.0.1:${port}`, prefix: 'secretprefix', lingerMs: 1, waitMs: 1500, log: tlog, queueKey: QUEUE_KEY });
    const ctfe = createCtfe({ queue, shards: [runtime()], clock: () => Date.parse('2026-02-01T00:00:00Z'), log: tlog });
    const { server, url } = await listen(ctfe);
    const answers: Array<{ status: number; body: string }> = [];
    try {
      const raw = await rawOutput(async () => {
        // No consumer: the first submission waits for its job; then Redis dies under it.
        const first = post(`${url}/2026h1/ct/v1/add-chain`, { chain: pki.chains[1]!.ders.map(b64) });
        await new Promise((r) => setTimeout(r, 500));
        redis.kill('SIGKILL');
        await new Promise((r) => redis.once('exit', r));
        await new Promise((r) => setTimeout(r, 1500));
        for (const r of [await first, ...(await Promise.all([1, 2, 3].map(() => post(`${url}/2026h1/ct/v1/add-chain`, { chain: pki.chains[1]!.ders.map(b64) }))))]) {
          answers.push({ status: r.status, body: JSON.stringify(r.body) });
        }
      });
      assert.deepEqual(raw, [], 'nothing written outside the JSON log');
      for (const a of answers) {
        assert.equal(a.status, 503, a.body);
        assert.ok(!/secretprefix|ctlog-h1|bull/i.test(a.body), `the answer names an internal key: ${a.body}`);
      }
      const redisWarnings = log.lines.filter((l) => /Redis error/.test(l.msg));
      assert.ok(redisWarnings.length >= 1, 'the Redis trouble is in the log');
      const byKey = new Map<string, number>();
      for (const l of log.lines) byKey.set(`${l.level} ${l.msg} ${String(l.fields?.reason ?? '')}`, (byKey.get(`${l.level} ${l.msg} ${String(l.fields?.reason ?? '')}`) ?? 0) + 1);
      for (const [k, n] of byKey) assert.equal(n, 1, `"${k}" logged ${n} times within one window`);
    } finally {
      // BullMQ's close waits for Redis: bring ours back so that it can.
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await ctfe.close();
      // BullMQ's close() waits for a Redis that is gone (not this to fix): cut the
      // connections instead.
      const inner = (queue as unknown as { queues: Map<string, { queue: { disconnect(): Promise<void> }; events: { disconnect(): Promise<void> } }> }).queues;
      for (const q of inner.values()) for (const c of [q.queue, q.events]) void c.disconnect().catch(() => {});
      void queue.close().catch(() => {});
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  test('a database that refuses connections: knex says nothing raw', async () => {
    const log = memoryLog();
    const knex = openDatabase({ url: `mysql://root@127.0.0.1:${await freePort()}/nothing`, dataDir: '/nonexistent', log });
    try {
      const raw = await rawOutput(async () => {
        await assert.rejects(knex.raw('SELECT 1'));
      });
      assert.deepEqual(raw, [], 'nothing written outside the JSON log');
      // "Acquire connection error" is dropped: the rejected query carries it to its caller.
      assert.deepEqual(log.lines.filter((l) => /Acquire/.test(String(l.fields?.err))), []);
    } finally {
      await knex.destroy();
    }
  });
});
