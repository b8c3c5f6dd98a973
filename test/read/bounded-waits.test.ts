// Probes of issue 10: the read path's wait lists had no bound (the range-read semaphore's
// waiters in entry-pages, the LeafIndexBatcher queue). Under a flood they grew with every
// request; now the one past the bound gets 503 + Retry-After at once. The database side is
// replaced by one that never answers: the only way to hold builds in flight on purpose.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EntryPages } from '../../src/read/entry-pages.js';
import { IssuerCache } from '../../src/read/issuer-cache.js';
import { LeafIndexBatcher } from '../../src/read/leaf-index-batcher.js';
import type { ShardReader } from '../../src/read/shard-reader.js';
import type { LogStorage } from '../../src/storage/log-storage.js';
import { CtError } from '../../src/util/errors.js';

const never = () => new Promise<never>(() => {});

/** Settles within `ms` or resolves 'pending'. */
const settled = <T>(p: Promise<T>, ms = 200) =>
  Promise.race([p.then((v) => ({ ok: v }), (e: unknown) => ({ err: e })), new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);

describe('bounded wait lists on the read path', () => {
  test('range reads: past maxConcurrentBuilds + maxWaitingBuilds a request gets 503 at once', async () => {
    const storage = { readIssuers: never } as unknown as LogStorage;
    const pages = new EntryPages(new IssuerCache(storage, 1024), { pageCacheBytes: 1024, dataTileCacheBytes: 1024, maxConcurrentBuilds: 2, maxWaitingBuilds: 3 });
    const shard = { rt: { id: 1 }, entries: never } as unknown as ShardReader;
    const held = Array.from({ length: 5 }, (_, i) => pages.entries(shard, i * 10, i * 10 + 9, false));
    held.forEach((p) => p.catch(() => {}));
    const extra = await settled(pages.entries(shard, 1000, 1009, false));
    assert.ok(extra !== 'pending' && 'err' in extra, 'the sixth distinct read is refused, not queued');
    const err = (extra as { err: unknown }).err;
    assert.ok(err instanceof CtError && err.status === 503 && err.retryAfter === 1, String(err));
    // An identical read joins the one in flight instead of being refused.
    assert.equal(await settled(pages.entries(shard, 0, 9, false)), 'pending');
  });

  test('leaf index lookups: past maxWaiting a lookup gets 503 at once', async () => {
    const storage = { findIndexesByLeafHashes: never } as unknown as LogStorage;
    const b = new LeafIndexBatcher(storage, 1, 4);
    const hash = (i: number) => new Uint8Array(32).fill(i);
    // The first batch leaves the queue for its (never-answering) query; the next 4 wait.
    const first = b.indexOf(hash(0));
    first.catch(() => {});
    await new Promise((r) => setImmediate(r));
    const waiting = Array.from({ length: 4 }, (_, i) => b.indexOf(hash(i + 1)));
    waiting.forEach((p) => p.catch(() => {}));
    assert.equal(b.waiting, 4);
    const extra = await settled(b.indexOf(hash(9)));
    assert.ok(extra !== 'pending' && 'err' in extra, 'the lookup past the bound is refused, not queued');
    const err = (extra as { err: unknown }).err;
    assert.ok(err instanceof CtError && err.status === 503, String(err));
    assert.equal(b.waiting, 4);
  });
});
