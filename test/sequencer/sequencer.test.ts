// The sequencer on real MariaDB and on SQLite: batches append and the whole tree re-verifies
// after each step; duplicates collapse; two sequencers on one shard never fork the tree.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { leafHash } from '../../src/merkle/index.js';
import { InProcessQueue } from '../../src/queue/in-process-queue.js';
import type { Sequenced } from '../../src/queue/submission.js';
import { ShardSequencer } from '../../src/sequencer/shard-sequencer.js';
import { loadSigner } from '../../src/config/key-file.js';
import { createShard } from '../../src/storage/shard-init.js';
import { StaleHeadError, type ShardRecord } from '../../src/storage/log-storage.js';
import { verifySct } from '../../src/signing/index.js';
import { encodeMerkleTreeLeaf } from '../../src/tls/index.js';
import type { CtError } from '../../src/util/errors.js';
import { BACKENDS, freshDb, testWitness, writeKey, type TestDb } from '../helpers/services.js';
import { proveIncluded, syntheticSubmission, verifyWholeTree } from '../helpers/synthetic.js';

for (const backend of BACKENDS) {
  describe(`sequencer on ${backend}`, () => {
    let db: TestDb;
    let shard: ShardRecord;
    let keyFile: string;
    const clock = () => Date.now();

    before(async () => {
      db = await freshDb(backend);
      keyFile = writeKey(db.dataDir);
      shard = await createShard(db.storage, 'test', loadSigner(keyFile), clock());
    });
    after(async () => db.drop());

    const newSequencer = (storage = db.storage, poolSize = 300) =>
      new ShardSequencer(storage, shard, loadSigner(keyFile), { witness: testWitness(db.dataDir, shard), poolSize, poolPeriodMs: 5, sthIntervalMs: 60_000, clock });

    test('a new shard has a signed empty tree', async () => {
      assert.equal(await verifyWholeTree(db.storage, shard), 0);
    });

    test('shards are never created twice', async () => {
      await assert.rejects(createShard(db.storage, 'test', loadSigner(keyFile), clock()), /already exists/);
    });

    test('batches of many sizes append; the whole tree re-verifies after each step', async () => {
      const seq = newSequencer();
      await seq.start();
      let n = 0;
      for (const size of [1, 2, 3, 250, 7, 600, 1, 256, 40]) {
        const subs = Array.from({ length: size }, () => syntheticSubmission(n++));
        const results = await Promise.all(subs.map((s) => seq.add([s.sub], s.issuers).then((r) => r[0]!)));
        const treeSize = await verifyWholeTree(db.storage, shard);
        assert.equal(treeSize, n);
        for (const [i, r] of results.entries()) {
          assert.equal(r.duplicate, false);
          const sct = { version: 0 as const, logId: shard.logId, timestamp: r.timestamp, extensions: r.extensions, signature: r.signature };
          assert.ok(verifySct(shard.publicKey, sct, subs[i]!.sub.entry), 'SCT verifies with the shard key');
        }
      }
      // Every SCT's entry is provably included at its index and timestamp.
      const entries = await db.storage.readEntries(shard.id, 0, n);
      for (const e of entries.filter((_, i) => i % 97 === 0)) await proveIncluded(db.storage, shard.id, e.idx, e.leafHash);
      await seq.stop();
    });

    test('the same certificate submitted 100 times concurrently gives one entry and one answer', async () => {
      const seq = newSequencer();
      await seq.start();
      const before = (await db.storage.currentHead(shard.id)).treeSize;
      const s = syntheticSubmission(12345);
      const queue = new InProcessQueue({ lingerMs: 1, maxBatch: 7 });
      await queue.consume('test', (subs, iss) => seq.add(subs, iss));
      // Half through the CTFE-side batcher, half straight into the pool (as from other CTFE replicas).
      const results: Sequenced[] = await Promise.all(
        Array.from({ length: 100 }, (_, i) => (i % 2 ? queue.submit('test', s.sub, s.issuers, 10_000) : seq.add([s.sub], s.issuers).then((r) => r[0]!))),
      );
      assert.equal((await db.storage.currentHead(shard.id)).treeSize, before + 1);
      assert.equal(new Set(results.map((r) => `${r.idx}/${r.timestamp}`)).size, 1, 'every answer has the same index and timestamp');
      // And again later: the stored entry's SCT, no new entry.
      const again = await queue.submit('test', s.sub, s.issuers, 10_000);
      assert.equal(again.duplicate, true);
      assert.equal(again.idx, results[0]!.idx);
      assert.equal(again.timestamp, results[0]!.timestamp);
      assert.equal((await db.storage.currentHead(shard.id)).treeSize, before + 1);
      await queue.close();
      await seq.stop();
      await verifyWholeTree(db.storage, shard);
    });

    test('a pool timer firing on an already drained pool does not stall the shard', async () => {
      // Regression: A's batch commits while B arrives (B's pool timer starts); the flush loop
      // then commits B before B's timer fires; the timer found an empty pool and left the
      // sequencer believing a flush was running, so C was never sequenced.
      const seq = new ShardSequencer(db.storage, shard, loadSigner(keyFile), { witness: testWitness(db.dataDir, shard), poolSize: 1000, poolPeriodMs: 150, sthIntervalMs: 60_000, clock });
      await seq.start();
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const within = <T,>(p: Promise<T>, what: string) =>
        Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`${what} not sequenced within 5 s`)), 5000).unref())]);
      const a = Array.from({ length: 600 }, (_, i) => syntheticSubmission(60_000 + i));
      const pa = Promise.all(a.map((s) => seq.add([s.sub], s.issuers)));
      await sleep(152); // A's flush has started and is committing 600 entries
      const b = syntheticSubmission(70_000);
      const pb = seq.add([b.sub], b.issuers);
      await within(pa, 'A');
      await within(pb, 'B');
      await sleep(200); // B's timer has fired on the drained pool
      const c = syntheticSubmission(70_001);
      await within(seq.add([c.sub], c.issuers), 'C');
      await seq.stop();
      await verifyWholeTree(db.storage, shard);
    });

    test('a duplicate whose recent-commit memory is evicted by its own batch still gets its SCT', async () => {
      // Regression: the batch's new entries evicted the oldest remembered identities before
      // the answers were built, so a duplicate found only in that memory had no answer (a
      // TypeError), and the whole batch got 503 although its entries were committed.
      const seq = new ShardSequencer(db.storage, shard, loadSigner(keyFile), { witness: testWitness(db.dataDir, shard), poolSize: 100, poolPeriodMs: 5, sthIntervalMs: 60_000, clock, recentMax: 8 });
      await seq.start();
      const old = Array.from({ length: 8 }, (_, i) => syntheticSubmission(80_000 + i));
      const first: Sequenced[] = [];
      for (const s of old) first.push((await seq.add([s.sub], s.issuers))[0]!);
      const fresh = syntheticSubmission(80_100);
      const [dup, added] = await Promise.all([seq.add([old[0]!.sub], []).then((r) => r[0]!), seq.add([fresh.sub], fresh.issuers).then((r) => r[0]!)]);
      assert.equal(dup.duplicate, true);
      assert.equal(dup.idx, first[0]!.idx);
      assert.equal(dup.timestamp, first[0]!.timestamp);
      assert.equal(added.duplicate, false);
      await seq.stop();
      await verifyWholeTree(db.storage, shard);
    });

    test('a failed commit answers 503 with a short message and leaves nothing half-written', async () => {
      // A database error on the entries insert: knex puts the whole statement with every
      // certificate into its message by default, which then went to every waiter (and into
      // each BullMQ job result, once per submission).
      const storage = db.open();
      let fail = true;
      const appendBatch = storage.appendBatch.bind(storage);
      storage.appendBatch = (id, b) => {
        // Two rows with one index: the primary key refuses the insert after the head moved.
        if (fail && b.entries.length > 1) b = { ...b, entries: b.entries.map((e, i) => (i === 1 ? { ...e, idx: b.entries[0]!.idx } : e)) };
        return appendBatch(id, b);
      };
      const seq = newSequencer(storage, 300);
      await seq.start();
      const before = (await db.storage.currentHead(shard.id)).treeSize;
      const subs = Array.from({ length: 40 }, (_, i) => syntheticSubmission(90_000 + i));
      const outcomes = await Promise.allSettled(subs.map((s) => seq.add([s.sub], s.issuers)));
      assert.ok(outcomes.every((o) => o.status === 'rejected'));
      for (const o of outcomes) {
        const e = (o as PromiseRejectedResult).reason as CtError;
        assert.equal(e.status, 503);
        assert.ok(e.message.length < 300, `message of ${e.message.length} chars: ${e.message.slice(0, 300)}`);
      }
      assert.equal((await db.storage.currentHead(shard.id)).treeSize, before);
      await verifyWholeTree(db.storage, shard);
      fail = false;
      const again = await Promise.all(subs.map((s) => seq.add([s.sub], s.issuers).then((r) => r[0]!)));
      assert.ok(again.every((r) => !r.duplicate));
      await seq.stop();
      assert.equal(await verifyWholeTree(db.storage, shard), before + subs.length);
    });

    for (const c of [
      { name: 'a root its tiles do not give', treeSize: 0, want: /fork guard: .* same size .* but another root/ },
      { name: 'a size its tiles do not cover', treeSize: 1, want: /missing right-edge tile/ },
    ]) {
      test(`an idle sequencer whose head moves to ${c.name} stops (fatal), not only at the next batch`, async () => {
        const idle = await createShard(db.storage, `idle-${c.treeSize}`, loadSigner(keyFile), clock());
        let fatal: Error | undefined;
        const seq = new ShardSequencer(db.storage, idle, loadSigner(keyFile), { witness: testWitness(db.dataDir, idle), poolSize: 10, poolPeriodMs: 5, sthIntervalMs: 100, clock, onFatal: (e) => (fatal = e) });
        await seq.start();
        // A head written elsewhere that the stored tiles cannot rebuild (a fork, or lost tiles).
        await db.storage.knex('shards').where({ id: idle.id }).update({ tree_size: c.treeSize, root_hash: Buffer.alloc(32, 7), sth_timestamp: clock() + 1 });
        for (let i = 0; i < 40 && !fatal; i++) await new Promise((r) => setTimeout(r, 50));
        await seq.stop();
        assert.match(String(fatal?.message), c.want);
        await assert.rejects(seq.add([syntheticSubmission(1).sub], []), /stopped/);
      });
    }

    test('a shard made read-only under a running sequencer takes no new entry; the sequencer retires (403), the process goes on', async () => {
      // A separate shard, so the others' tests keep an active one.
      const signer = loadSigner(writeKey(db.dataDir, 'ro'));
      const ro = await createShard(db.storage, 'ro', signer, clock());
      let fatal: Error | undefined;
      let retired: string | undefined;
      const seq = new ShardSequencer(db.storage, ro, signer, { witness: testWitness(db.dataDir, ro), poolSize: 10, poolPeriodMs: 5, sthIntervalMs: 60_000, clock, onFatal: (e) => (fatal = e), onRetired: (r) => (retired = r.shard) });
      await seq.start();
      const a = syntheticSubmission(80_000);
      await seq.add([a.sub], a.issuers);
      await db.storage.setShardState(ro.id, 'read-only');
      const b = syntheticSubmission(80_001);
      await assert.rejects(seq.add([b.sub], b.issuers), (e: Error & { status?: number }) => e.status === 403 && /no longer active/.test(e.message));
      assert.equal(fatal, undefined, 'a state change is not a fatal error');
      assert.equal(retired, 'ro');
      assert.ok(seq.isRetired);
      assert.equal((await db.storage.currentHead(ro.id)).treeSize, 1, 'nothing appended after the state change');
      await seq.stop();
    });

    test('a stale writer fails instead of writing', async () => {
      const head = await db.storage.currentHead(shard.id);
      await assert.rejects(
        db.storage.appendBatch(shard.id, {
          expected: { treeSize: head.treeSize - 1, rootHash: head.rootHash },
          entries: [],
          issuers: [],
          tiles: [],
          head: { ...head, timestamp: head.timestamp + 1 },
        }),
        StaleHeadError,
      );
    });

    test('two sequencers at once on one shard: one linear tree, no lost SCT', async () => {
      const a = newSequencer(db.storage, 50);
      const b = newSequencer(db.open(), 50);
      await a.start();
      await b.start();
      const subs = Array.from({ length: 600 }, (_, i) => syntheticSubmission(100_000 + i));
      const results = await Promise.all(subs.map((s, i) => (i % 2 ? a : b).add([s.sub], s.issuers).then((r) => r[0]!)));
      await verifyWholeTree(db.storage, shard);
      const idx = new Set(results.map((r) => r.idx));
      assert.equal(idx.size, subs.length, 'every submission has its own index');
      for (const [i, r] of results.entries()) {
        const [e] = await db.storage.readEntries(shard.id, r.idx, r.idx + 1);
        assert.ok(e, `entry ${r.idx} exists`);
        assert.equal(e.timestamp, r.timestamp);
        const leaf = encodeMerkleTreeLeaf({ timestamp: r.timestamp, entry: subs[i]!.sub.entry, extensions: r.extensions });
        assert.deepEqual(Buffer.from(e.leafHash), Buffer.from(leafHash(leaf)));
      }
      await a.stop();
      await b.stop();
    });
  });
}
