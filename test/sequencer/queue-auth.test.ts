// The probe of issue 10: a job written straight into Redis (BullMQ's own Queue.add, as
// anyone with Redis write access can) must never get an SCT or create an entry. Real Redis
// (fresh prefix), a real sequencer on MariaDB, the real consumer.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Queue, QueueEvents } from 'bullmq';
import { loadSigner } from '../../src/config/key-file.js';
import { MISSING_QUEUE_KEY, loadQueueKey, parseQueueKey } from '../../src/config/queue-key.js';
import { BullSubmissionConsumer, BullSubmissionQueue, redisConnection } from '../../src/queue/bullmq-queue.js';
import { QueueAuth, QueueAuthError } from '../../src/queue/queue-auth.js';
import { encodeBatch } from '../../src/queue/submission.js';
import { ShardSequencer } from '../../src/sequencer/shard-sequencer.js';
import type { ShardRecord } from '../../src/storage/log-storage.js';
import { createShard } from '../../src/storage/shard-init.js';
import type { CtError } from '../../src/util/errors.js';
import { QUEUE_KEY, REDIS_URL, freshDb, freshPrefix, testWitness, writeKey, type TestDb } from '../helpers/services.js';
import { syntheticSubmission, verifyWholeTree } from '../helpers/synthetic.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const b64 = (b: Uint8Array | string) => Buffer.from(b).toString('base64');

describe('queue messages are authenticated end to end', () => {
  let db: TestDb;
  let shard: ShardRecord;
  let seq: ShardSequencer;
  let consumer: BullSubmissionConsumer;
  let raw: Queue;
  let events: QueueEvents;
  const refused: string[] = [];
  const redis = freshPrefix();

  before(async () => {
    db = await freshDb('mysql');
    const keyFile = writeKey(db.dataDir);
    shard = await createShard(db.storage, 'p', loadSigner(keyFile), Date.now());
    seq = new ShardSequencer(db.storage, shard, loadSigner(keyFile), { witness: testWitness(db.dataDir, shard), poolSize: 100, poolPeriodMs: 5, sthIntervalMs: 60_000, clock: Date.now });
    await seq.start();
    consumer = new BullSubmissionConsumer({ redisUrl: REDIS_URL, prefix: redis.prefix, queueKey: QUEUE_KEY, onRefused: ({ err }) => refused.push(err.message) });
    await consumer.consume('p', (subs, iss) => seq.add(subs, iss));
    // The attacker's view: BullMQ itself, pointed at the log's queue.
    raw = new Queue('ctlog-p', { connection: redisConnection(REDIS_URL), prefix: redis.prefix });
    events = new QueueEvents('ctlog-p', { connection: redisConnection(REDIS_URL), prefix: redis.prefix });
    await events.waitUntilReady();
  });
  after(async () => {
    await consumer.close();
    await seq.stop();
    await events.close();
    await raw.close();
    await redis.delete();
    await db.drop();
  });

  /** Writes a job as the attacker would and waits for its end: its error, or its result. */
  async function inject(data: unknown): Promise<{ failed?: string; result?: unknown }> {
    const job = await raw.add('batch', data, { attempts: 1 });
    try {
      return { result: await job.waitUntilFinished(events, 10_000) };
    } catch (err) {
      return { failed: (err as Error).message };
    }
  }

  const junk = () => ({
    s: [{ i: b64(randomBytes(32)), t: 1, c: b64(Uint8Array.of(1, 2, 3)), ch: [], k: b64(randomBytes(32)), tbs: b64('not even a TBSCertificate') }],
    iss: [],
  });

  const probes: Array<[string, () => unknown]> = [
    ['the probe of issue 10: junk TBS, cert 010203, empty chain, unsealed', junk],
    ['the same junk sealed under another key', () => new QueueAuth(randomBytes(32)).seal('p', junk(), Date.now())],
    ['a real submission sealed under another key', () => new QueueAuth(randomBytes(32)).seal('p', encodeBatch([syntheticSubmission(1).sub], syntheticSubmission(1).issuers), Date.now())],
    ['a genuine sealed batch for another shard, replayed into this one', () => new QueueAuth(QUEUE_KEY).seal('other', encodeBatch([syntheticSubmission(3).sub], syntheticSubmission(3).issuers), Date.now())],
    ['a genuine sealed batch captured an hour ago', () => new QueueAuth(QUEUE_KEY).seal('p', encodeBatch([syntheticSubmission(5).sub], syntheticSubmission(5).issuers), Date.now() - 3600_000)],
    ['a genuine sealed batch with one payload byte changed', () => {
      const m = new QueueAuth(QUEUE_KEY).seal('p', encodeBatch([syntheticSubmission(7).sub], syntheticSubmission(7).issuers), Date.now());
      const b = JSON.parse(JSON.stringify(m.b)) as { s: Array<{ t: number }> };
      b.s[0]!.t = 0; // the precert now claims to be an x509 entry
      return { ...m, b };
    }],
  ];
  for (const [name, make] of probes) {
    test(`refused, no SCT, no entry: ${name}`, async () => {
      const before = refused.length;
      const r = await inject(make());
      assert.equal(r.result, undefined, 'no result, so no SCT');
      assert.match(r.failed ?? '', /refused/);
      assert.equal(refused.length, before + 1, 'counted by onRefused');
      assert.equal((await db.storage.currentHead(shard.id)).treeSize, 0, 'no entry');
      assert.equal((await db.storage.readEntries(shard.id, 0, 10)).length, 0, 'no row');
    });
  }

  test('a CTFE holding the key still gets its SCT (and a CTFE with the wrong key gets a 503, no SCT)', async () => {
    const wrong = new BullSubmissionQueue({ redisUrl: REDIS_URL, prefix: redis.prefix, lingerMs: 1, waitMs: 5000, queueKey: new Uint8Array(randomBytes(32)) });
    const good = new BullSubmissionQueue({ redisUrl: REDIS_URL, prefix: redis.prefix, lingerMs: 1, queueKey: QUEUE_KEY });
    try {
      const a = syntheticSubmission(11);
      await assert.rejects(wrong.submit('p', a.sub, a.issuers, 5000), (e: CtError) => e.status === 503);
      assert.equal((await db.storage.currentHead(shard.id)).treeSize, 0);
      const r = await good.submit('p', a.sub, a.issuers, 5000);
      assert.equal(r.idx, 0);
      assert.equal(await verifyWholeTree(db.storage, shard), 1);
    } finally {
      await wrong.close();
      await good.close();
    }
  });

  test('a sealed payload survives the queue\'s JSON round trip; any change to it does not authenticate', () => {
    const auth = new QueueAuth(QUEUE_KEY);
    const s = syntheticSubmission(13);
    const m = auth.seal('p', encodeBatch([s.sub], s.issuers), Date.now());
    const copy = () => JSON.parse(JSON.stringify(m)) as typeof m & { b: { s: Array<Record<string, unknown>>; iss: unknown[] } };
    assert.ok(auth.open('p', copy(), Date.now()));
    const changes: Array<(c: ReturnType<typeof copy>) => void> = [
      (c) => void (c.b.s[0]!.c = `${String(c.b.s[0]!.c).slice(0, -4)}AAAA`),
      (c) => void (c.b.s[0]!.extra = 1),
      (c) => void c.b.iss.pop(),
      (c) => void (c.b.s[0] = Object.fromEntries(Object.entries(c.b.s[0]!).reverse())),
      (c) => void (c.at += 1),
      (c) => void (c.b = ['s', c.b] as never),
    ];
    for (const change of changes) {
      const c = copy();
      change(c);
      assert.throws(() => auth.open('p', c, Date.now()), QueueAuthError, change.toString());
    }
  });

  test('key rotation: old,new then new,old then new — every step opens what the step before sealed', () => {
    const oldKey = new Uint8Array(randomBytes(32));
    const newKey = new Uint8Array(randomBytes(32));
    const steps = [[oldKey], [oldKey, newKey], [newKey, oldKey], [newKey]].map((k) => new QueueAuth(k));
    const payload = { s: [], iss: [] };
    for (let i = 1; i < steps.length; i++) {
      const [before, after] = [steps[i - 1]!, steps[i]!];
      // Mixed processes during a rolling restart: each side opens what the other sealed.
      for (const [a, b] of [[before, after], [after, before]] as const) {
        const req = a.seal('p', payload, Date.now());
        assert.ok(b.open('p', req, Date.now()));
        assert.deepEqual(a.openResult(req.mac, b.sealResult(req.mac, [1])), [1]);
      }
    }
    // Skipping a step is refused, never silently accepted.
    assert.throws(() => steps[3]!.open('p', steps[0]!.seal('p', payload, Date.now()), Date.now()), QueueAuthError);
  });

  test('the CTFE refuses a result that was not sealed for its request (moved from another job)', () => {
    const auth = new QueueAuth(QUEUE_KEY);
    const mine = auth.seal('p', { s: [], iss: [] }, Date.now());
    const theirs = auth.seal('p', { s: [], iss: [] }, Date.now() + 1);
    const result = auth.sealResult(theirs.mac, [{ ok: true, x: 0, ts: 1, e: '', sig: '', dup: false }]);
    assert.throws(() => auth.openResult(mine.mac, result), QueueAuthError);
    assert.deepEqual(auth.openResult(theirs.mac, result), [{ ok: true, x: 0, ts: 1, e: '', sig: '', dup: false }]);
  });
});

describe('the queue key', () => {
  test('both sides refuse to start on Redis without one, saying how to make one', () => {
    assert.throws(() => new BullSubmissionQueue({ redisUrl: REDIS_URL, queueKey: undefined as unknown as Uint8Array }), /queue key.*CTLOG_QUEUE_KEY/);
    assert.throws(() => new BullSubmissionConsumer({ redisUrl: REDIS_URL, queueKey: undefined as unknown as Uint8Array }), /queue key.*CTLOG_QUEUE_KEY/);
    assert.throws(() => new BullSubmissionQueue({ redisUrl: REDIS_URL, queueKey: new Uint8Array(16) }), /at least 32 bytes/);
    assert.match(MISSING_QUEUE_KEY, /openssl rand -hex 32/);
  });

  test('loaded from a file, the environment or <data>/queue.key; short or malformed keys are refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctlog-qk-'));
    const hexKey = randomBytes(32).toString('hex');
    assert.equal(loadQueueKey({ dataDir: dir }), undefined, 'none configured');
    const keys = (o: Parameters<typeof loadQueueKey>[0]) => loadQueueKey(o)?.map((k) => Buffer.from(k).toString('hex'));
    assert.deepEqual(keys({ dataDir: dir, value: hexKey }), [hexKey]);
    writeFileSync(join(dir, 'queue.key'), `${hexKey}\n`);
    assert.deepEqual(keys({ dataDir: dir }), [hexKey]);
    const b64Key = randomBytes(48).toString('base64');
    writeFileSync(join(dir, 'other.key'), b64Key);
    assert.deepEqual(keys({ dataDir: dir, file: join(dir, 'other.key') }), [Buffer.from(b64Key, 'base64').toString('hex')]);
    const older = randomBytes(32).toString('hex');
    assert.deepEqual(keys({ dataDir: dir, value: `${hexKey}, ${older}` }), [hexKey, older], 'a rotation: several keys, the first seals');
    assert.throws(() => loadQueueKey({ dataDir: dir, value: `${hexKey},abcd` }), /CTLOG_QUEUE_KEY \(key 2\) has 2 bytes/);
    assert.throws(() => parseQueueKey('abcd', 'test'), /2 bytes, at least 32/);
    assert.throws(() => parseQueueKey('not a key!', 'test'), /neither hex nor base64/);
    assert.throws(() => loadQueueKey({ dataDir: dir, file: join(dir, 'missing.key') }), /couldn't read the queue key file/);
  });
});
