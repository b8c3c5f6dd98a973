// Invariants 1 and 4 under kill -9: a sequencer child process on MariaDB + BullMQ is killed
// mid-batch, repeatedly, under a stream of submissions. Afterwards every SCT that was
// returned has its entry at its index and timestamp, provably included, and the tree and
// every STH re-verify.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { leafHash } from '../../src/merkle/index.js';
import { BullSubmissionQueue } from '../../src/queue/bullmq-queue.js';
import type { Sequenced, Submission } from '../../src/queue/submission.js';
import { loadSigner } from '../../src/config/key-file.js';
import { verifySct } from '../../src/signing/index.js';
import { createShard } from '../../src/storage/shard-init.js';
import type { ShardRecord } from '../../src/storage/log-storage.js';
import { encodeMerkleTreeLeaf } from '../../src/tls/index.js';
import { QUEUE_KEY, REDIS_URL, freshDb, freshPrefix, writeKey, type TestDb } from '../helpers/services.js';
import { ISSUERS, proveIncluded, syntheticSubmission, verifyWholeTree } from '../helpers/synthetic.js';

let db: TestDb;
let shard: ShardRecord;
let keyFile: string;
const redis = freshPrefix();

before(async () => {
  db = await freshDb('mysql');
  keyFile = writeKey(db.dataDir);
  shard = await createShard(db.storage, 'crash', loadSigner(keyFile), Date.now());
});
after(async () => {
  await redis.delete();
  await db.drop();
});

function startChild(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../helpers/sequencer-child.ts')], {
    env: {
      ...process.env,
      CTLOG_CHILD: JSON.stringify({ dbUrl: db.url, redisUrl: REDIS_URL, queueKey: Buffer.from(QUEUE_KEY).toString('hex'), prefix: redis.prefix, dataDir: db.dataDir, keyFile, shard: 'crash', poolSize: 200, poolPeriodMs: 10 }),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`sequencer child exited with ${code} before it was ready`)));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('kill -9 of the sequencer mid-batch, repeatedly: no SCT without its entry, no half batch', { timeout: 180_000 }, async () => {
  const queue = new BullSubmissionQueue({ redisUrl: REDIS_URL, prefix: redis.prefix, lingerMs: 2, maxBatch: 50, queueKey: QUEUE_KEY });
  const answered: Array<{ sub: Submission; r: Sequenced }> = [];
  let failures = 0;
  let stop = false;
  let n = 0;
  // 24 submitters; a failed submission (503 while the sequencer is down) is retried once
  // later, which also exercises dedup of entries that did land before the kill.
  const submitters = Array.from({ length: 24 }, async () => {
    const retry: Submission[] = [];
    while (!stop) {
      const s = retry.shift() ?? syntheticSubmission(n++).sub;
      try {
        // As a CTFE does, every submission travels with its chain's certificates: the sequencer
        // logs a precertificate only if it can rebuild its entry from what it stores.
        const r = await queue.submit('crash', s, ISSUERS, 2500);
        answered.push({ sub: s, r });
      } catch {
        failures++;
        if (retry.length < 3) retry.push(s);
        await sleep(50);
      }
    }
  });
  // The issuers the synthetic chains cite are stored by the first batches.
  const first = syntheticSubmission(0);
  let child = await startChild();
  await queue.submit('crash', first.sub, first.issuers, 10_000).then((r) => answered.push({ sub: first.sub, r }));
  for (let kill = 0; kill < 6; kill++) {
    await sleep(400 + Math.random() * 800);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await sleep(100 + Math.random() * 300);
    child = await startChild();
  }
  await sleep(1500);
  stop = true;
  await Promise.all(submitters);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await queue.close();

  assert.ok(answered.length > 200, `enough SCTs were returned to mean something (${answered.length}, ${failures} failures)`);
  const size = await verifyWholeTree(db.storage, shard);
  for (const { sub, r } of answered) {
    const [e] = await db.storage.readEntries(shard.id, r.idx, r.idx + 1);
    assert.ok(e, `entry ${r.idx} of a returned SCT exists`);
    assert.equal(e.timestamp, r.timestamp, `entry ${r.idx} has the SCT's timestamp`);
    const leaf = leafHash(encodeMerkleTreeLeaf({ timestamp: r.timestamp, entry: sub.entry, extensions: r.extensions }));
    assert.deepEqual(Buffer.from(e.leafHash), Buffer.from(leaf), `entry ${r.idx} is the SCT's leaf`);
    const sct = { version: 0 as const, logId: shard.logId, timestamp: r.timestamp, extensions: r.extensions, signature: r.signature };
    assert.ok(verifySct(shard.publicKey, sct, sub.entry), 'the SCT verifies');
  }
  for (const { r } of answered.filter((_, i) => i % 25 === 0)) {
    const [e] = await db.storage.readEntries(shard.id, r.idx, r.idx + 1);
    await proveIncluded(db.storage, shard.id, r.idx, e!.leafHash);
  }
  const idents = new Set((await db.storage.readEntries(shard.id, 0, size)).map((e) => Buffer.from(e.identity).toString('hex')));
  assert.equal(idents.size, size, 'no identity is logged twice');
  console.log(`# crash test: ${answered.length} SCTs returned, ${failures} failed submissions, tree size ${size}, 6 kills`);
});
