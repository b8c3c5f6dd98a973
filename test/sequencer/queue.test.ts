// The BullMQ queue between the CTFE and the sequencer, on real Redis (fresh prefix) and a real
// sequencer on SQLite: what happens to submissions whose job Redis lost.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BullSubmissionConsumer, BullSubmissionQueue } from '../../src/queue/bullmq-queue.js';
import { deletePrefix } from '../../src/queue/delete-prefix.js';
import { loadSigner } from '../../src/config/key-file.js';
import { ShardSequencer } from '../../src/sequencer/shard-sequencer.js';
import type { ShardRecord } from '../../src/storage/log-storage.js';
import { createShard } from '../../src/storage/shard-init.js';
import type { CtError } from '../../src/util/errors.js';
import { QUEUE_KEY, REDIS_URL, freshDb, freshPrefix, testWitness, writeKey, type TestDb } from '../helpers/services.js';
import { syntheticSubmission, verifyWholeTree } from '../helpers/synthetic.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('BullMQ queue', () => {
  let db: TestDb;
  let shard: ShardRecord;
  let keyFile: string;
  const redis = freshPrefix();

  before(async () => {
    db = await freshDb('sqlite');
    keyFile = writeKey(db.dataDir);
    shard = await createShard(db.storage, 'q', loadSigner(keyFile), Date.now());
  });
  after(async () => {
    await redis.delete();
    await db.drop();
  });

  test('a job Redis lost does not pin its submissions: a retry is sequenced once a sequencer runs', async () => {
    const queue = new BullSubmissionQueue({ redisUrl: REDIS_URL, prefix: redis.prefix, lingerMs: 1, waitMs: 300, queueKey: QUEUE_KEY });
    const s = syntheticSubmission(1);
    // No sequencer yet: the caller's deadline passes; the job waits in Redis.
    await assert.rejects(queue.submit('q', s.sub, s.issuers, 100), (e: CtError) => e.status === 503);
    assert.equal(queue.depth('q'), 1);
    // Redis loses it (a restart without persistence).
    await deletePrefix(REDIS_URL, redis.prefix);
    await sleep(500);
    assert.equal(queue.depth('q'), 0, 'the lost batch was released');

    const seq = new ShardSequencer(db.storage, shard, loadSigner(keyFile), { witness: testWitness(db.dataDir, shard), poolSize: 100, poolPeriodMs: 5, sthIntervalMs: 60_000, clock: Date.now });
    await seq.start();
    const consumer = new BullSubmissionConsumer({ redisUrl: REDIS_URL, prefix: redis.prefix, queueKey: QUEUE_KEY });
    await consumer.consume('q', (subs, iss) => seq.add(subs, iss));
    try {
      const r = await queue.submit('q', s.sub, s.issuers, 5000);
      assert.equal(r.duplicate, false);
      assert.equal(await verifyWholeTree(db.storage, shard), 1);
    } finally {
      await queue.close();
      await consumer.close();
      await seq.stop();
    }
  });

  test('a job Redis lost frees its waiters within seconds, not after waitMs: the retry is not stuck behind it', async () => {
    const queue = new BullSubmissionQueue({ redisUrl: REDIS_URL, prefix: redis.prefix, lingerMs: 1, queueKey: QUEUE_KEY }); // waitMs: the default 60 s
    const s = syntheticSubmission(2);
    try {
      // No sequencer: the job waits in Redis; the caller's own deadline is long.
      const first = queue.submit('q2', s.sub, s.issuers, 30_000);
      const retry = queue.submit('q2', s.sub, s.issuers, 30_000); // a concurrent retry shares the in-flight batch
      await sleep(300);
      const t0 = Date.now();
      await deletePrefix(REDIS_URL, redis.prefix); // what a Redis restart without persistence does
      for (const p of [first, retry]) {
        await assert.rejects(p, (e: CtError) => e.status === 503 && e.reason === 'job_lost' && e.retryAfter === 1);
      }
      const waited = Date.now() - t0;
      assert.ok(waited < 5_000, `freed after ${waited} ms`);
      assert.equal(queue.depth('q2'), 0, 'nothing pinned in flight');
    } finally {
      await queue.close();
    }
  });

  test('job ids are random, never a counter that restarts when Redis loses its data', async () => {
    const queue = new BullSubmissionQueue({ redisUrl: REDIS_URL, prefix: redis.prefix, lingerMs: 1, queueKey: QUEUE_KEY });
    const { Queue } = await import('bullmq');
    const q = new Queue('ctlog-q3', { connection: { host: '127.0.0.1', port: Number(new URL(REDIS_URL).port || 6379) }, prefix: redis.prefix });
    try {
      void queue.submit('q3', syntheticSubmission(3).sub, [], 2_000).catch(() => {});
      await sleep(300);
      const jobs = await q.getJobs(['waiting', 'active', 'completed', 'failed']);
      assert.equal(jobs.length, 1);
      assert.match(String(jobs[0]!.id), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    } finally {
      await q.close();
      await queue.close();
    }
  });
});
