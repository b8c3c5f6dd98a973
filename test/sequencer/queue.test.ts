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
import { QUEUE_KEY, REDIS_URL, freshDb, freshPrefix, writeKey, type TestDb } from '../helpers/services.js';
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

    const seq = new ShardSequencer(db.storage, shard, loadSigner(keyFile), { poolSize: 100, poolPeriodMs: 5, sthIntervalMs: 60_000, clock: Date.now });
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
});
