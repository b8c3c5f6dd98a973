// Rate limiters: the in-memory token bucket (injected clock) and the Redis one (real
// Redis, fresh prefix; Redis's own clock), including the Redis one failing open.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { RedisRateLimiter, TokenBucketRateLimiter } from '../../src/ctfe/index.js';
import { REDIS_URL, freshPrefix } from '../helpers/services.js';

describe('TokenBucketRateLimiter', () => {
  test('burst, refill, per-key buckets', () => {
    let now = 1_000_000;
    const rl = new TokenBucketRateLimiter({ ratePerSecond: 2, burst: 4, clock: () => now });
    const takes = (k: string, n: number) => Array.from({ length: n }, () => rl.take(k));
    assert.deepEqual(takes('a', 5), [true, true, true, true, false]);
    assert.deepEqual(takes('b', 1), [true]);
    now += 500; // one token at 2/s
    assert.deepEqual(takes('a', 2), [true, false]);
    now += 60_000; // refills to the burst, not beyond
    assert.deepEqual(takes('a', 5), [true, true, true, true, false]);
    now -= 10_000; // a clock stepping back refills nothing
    assert.equal(rl.take('a'), false);
  });

  test('memory stays bounded under a flood of distinct clients', () => {
    let now = 0;
    const rl = new TokenBucketRateLimiter({ ratePerSecond: 1, burst: 1, clock: () => now, maxClients: 100 });
    for (let i = 0; i < 10_000; i++) {
      now += 1;
      assert.equal(rl.take(`client-${i}`), true);
    }
    const size = rl.size;
    assert.ok(size <= 100, `remembered ${size} clients`);
  });

  const bad: Array<[string, ConstructorParameters<typeof TokenBucketRateLimiter>[0], RegExp]> = [
    ['zero rate', { ratePerSecond: 0, clock: () => 0 }, /ratePerSecond/],
    ['NaN rate', { ratePerSecond: NaN, clock: () => 0 }, /ratePerSecond/],
    ['burst below one', { ratePerSecond: 1, burst: 0.5, clock: () => 0 }, /burst/],
    ['zero clients', { ratePerSecond: 1, clock: () => 0, maxClients: 0 }, /maxClients/],
  ];
  for (const [name, opts, msg] of bad) test(`rejects ${name}`, () => assert.throws(() => new TokenBucketRateLimiter(opts), msg));
});

describe('RedisRateLimiter on real Redis', () => {
  test('burst then refusal; buckets per key; shared between two limiters (replicas)', async () => {
    const p = freshPrefix();
    // Generous timeouts: on a loaded machine a first call (connect, script load) can take
    // longer than the default 100 ms, and would then be decided locally.
    const a = new RedisRateLimiter({ redis: REDIS_URL, ratePerSecond: 0.01, burst: 3, prefix: `${p.prefix}:rl:`, timeoutMs: 5000 });
    const b = new RedisRateLimiter({ redis: REDIS_URL, ratePerSecond: 0.01, burst: 3, prefix: `${p.prefix}:rl:`, timeoutMs: 5000 });
    try {
      const k = `1.2.3.4 ca/${randomUUID()}`;
      assert.deepEqual([await a.take(k), await b.take(k), await a.take(k), await b.take(k)], [true, true, true, false]);
      assert.equal(await a.take('another client'), true);
      assert.equal(a.retryAfterSeconds, 100);
    } finally {
      await a.close();
      await b.close();
      await p.delete();
    }
  });

  // Probe of issue 10: the limiter failed open when its Redis calls timed out, so a flood
  // that slowed Redis switched the limit off. Now a local bucket per client decides.
  test('does not fail open when Redis is unreachable: a local bucket keeps the limit', async () => {
    const warned: string[] = [];
    const log = { debug() {}, info() {}, warn: (m: string) => warned.push(m), error() {}, child: () => log };
    const fallbacks: string[] = [];
    const rl = new RedisRateLimiter({ redis: 'redis://127.0.0.1:1', ratePerSecond: 0.01, burst: 2, timeoutMs: 50, log, onFallback: (c) => fallbacks.push(c) });
    try {
      const got = [];
      for (let i = 0; i < 5; i++) got.push(await rl.take('x'));
      assert.deepEqual(got, [true, true, false, false, false]);
      assert.equal(await rl.take('y'), true, 'another client has its own local bucket');
      assert.equal(warned.length, 1, 'warned once');
      assert.equal(fallbacks.length, 6);
    } finally {
      await rl.close();
    }
  });

  test('a Redis that hangs: calls beyond maxPending are decided locally at once', async () => {
    // A TCP server that accepts and never answers: every Redis call waits for its timeout.
    const { createServer } = await import('node:net');
    const sockets = new Set<import('node:net').Socket>();
    const srv = createServer((s) => (sockets.add(s), s.on('error', () => {})));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as import('node:net').AddressInfo).port;
    const rl = new RedisRateLimiter({ redis: `redis://127.0.0.1:${port}`, ratePerSecond: 0.01, burst: 1, timeoutMs: 300, maxPending: 4 });
    try {
      const t0 = performance.now();
      const got = await Promise.all(Array.from({ length: 10 }, () => rl.take('z')));
      // 4 wait for Redis and then fall back; 6 are decided at once. One token in all.
      assert.equal(got.filter(Boolean).length, 1, JSON.stringify(got));
      assert.ok(performance.now() - t0 < 5000, 'decided within the timeouts');
    } finally {
      await rl.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => srv.close(r));
    }
  });
});
