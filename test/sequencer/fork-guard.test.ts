// The fork guard (docs/OPERATIONS.md "Fork guard"), on MariaDB and SQLite. The scenario the
// issue found: a log takes 10 entries, its database is copied (what a lagging replica or a
// backup holds), it takes 10 more and publishes size 20, then restarts on the copy. Before
// the guard it re-used indexes 10..19 and signed a second tree of size 20. Now the
// sequencer stops with an error that names both heads and the ways out; it starts again on
// a database that holds the published head; and the operator's explicit override is the
// only way past. Plus every way the record itself can be wrong.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { shardWitness } from '../../src/cli/shard-witness.js';
import type { ShardConfig } from '../../src/config/config.js';
import { loadSigner } from '../../src/config/key-file.js';
import { ShardSequencer } from '../../src/sequencer/shard-sequencer.js';
import type { LogSigner } from '../../src/signing/index.js';
import { HeadWitness } from '../../src/storage/head-witness.js';
import type { LogStorage, ShardRecord, TreeHead } from '../../src/storage/log-storage.js';
import { createShard } from '../../src/storage/shard-init.js';
import { BACKENDS, freshDb, writeKey, type TestDb } from '../helpers/services.js';
import { ISSUERS, syntheticSubmission, verifyWholeTree } from '../helpers/synthetic.js';

const TABLES = ['shards', 'tree_heads', 'issuers', 'entries', 'tiles'];

/** Copies every row of the log tables: the state a replica or a backup holds at this moment. */
async function snapshot(from: LogStorage, to: LogStorage): Promise<void> {
  for (const t of TABLES) {
    await to.knex(t).del();
    const rows = await from.knex(t).select('*');
    for (let i = 0; i < rows.length; i += 200) await to.knex(t).insert(rows.slice(i, i + 200));
  }
}

let n = 0;
const submit = (seq: ShardSequencer, count: number) =>
  seq.add(
    Array.from({ length: count }, () => syntheticSubmission(n++).sub),
    ISSUERS,
  );

for (const backend of BACKENDS) {
  describe(`fork guard on ${backend}`, () => {
    let db: TestDb;
    let copy: TestDb;
    let keyFile: string;
    let signer: LogSigner;
    let shard: ShardRecord;
    /** The sequencer host's data directory, which holds the record (not the database's). */
    let hostDir: string;
    const clock = () => Date.now();

    before(async () => {
      db = await freshDb(backend);
      copy = await freshDb(backend);
      hostDir = mkdtempSync(join(tmpdir(), 'ctlog-host-'));
      keyFile = writeKey(hostDir);
      signer = loadSigner(keyFile);
      shard = await createShard(db.storage, 'guarded', signer, clock());
    });
    after(async () => {
      await db.drop();
      await copy.drop();
    });

    const recordPath = () => join(hostDir, 'witness', 'guarded.json');
    const sequencer = (storage: LogStorage, onFatal?: (e: Error) => void) =>
      new ShardSequencer(storage, shard, signer, { witness: new HeadWitness(recordPath(), shard), poolSize: 100, poolPeriodMs: 2, sthIntervalMs: 60_000, clock, onFatal });
    const config = (): ShardConfig => ({ name: 'guarded', witnessFile: recordPath() }) as ShardConfig;
    const readRecord = () => JSON.parse(readFileSync(recordPath(), 'utf8')) as { tree_size: number; sha256_root_hash: string };

    test('first start of a new shard writes the record of the empty tree', async () => {
      assert.equal(existsSync(recordPath()), false);
      const seq = sequencer(db.storage);
      await seq.start();
      await seq.stop();
      assert.equal(readRecord().tree_size, 0);
    });

    test('every new head is recorded before its SCTs are released', async () => {
      const seq = sequencer(db.storage);
      await seq.start();
      const scts = await submit(seq, 10);
      // The record already holds the head that covers every SCT just returned.
      assert.equal(readRecord().tree_size, 10);
      assert.ok(scts.every((s) => s.idx < 10));
      await seq.stop();
    });

    test('a rollback (restart on a copy taken at size 10, after size 20 was published) stops the sequencer, naming both heads', async () => {
      await snapshot(db.storage, copy.storage); // the lagging replica / the backup: size 10
      const seq = sequencer(db.storage);
      await seq.start();
      await submit(seq, 10);
      await seq.stop();
      const published = await db.storage.currentHead(shard.id);
      assert.equal(published.treeSize, 20);

      const onCopy = sequencer(copy.storage);
      await assert.rejects(onCopy.start(), (err: Error) => {
        assert.equal(err.name, 'FatalSequencerError');
        assert.match(err.message, /fork guard: shard guarded: the database's tree head \(size 10, .*\) is behind the published head recorded in .*guarded\.json \(size 20, /);
        assert.match(err.message, /Bring back the missing entries/);
        assert.match(err.message, /ctlog shard witness guarded --adopt-database-head/);
        return true;
      });
      // Nothing was signed on the copy: it still holds the old tree, untouched.
      assert.equal((await copy.storage.currentHead(shard.id)).treeSize, 10);
      assert.equal(readRecord().tree_size, 20, 'the record is not moved back');
      const report = await shardWitness(copy.storage, config(), { adopt: false });
      assert.equal(report.ok, false);
      assert.match(report.text, /REFUSED: fork guard/);
    });

    test('a running sequencer whose database is rolled back under it stops at its next reload', async () => {
      // The primary is replaced by the copy while the sequencer runs; its next commit fails
      // (the head moved) and the reload meets the guard.
      const live = copy.open();
      await snapshot(db.storage, live); // live = size 20, the real primary
      let fatal: Error | undefined;
      const seq = sequencer(live, (e) => (fatal = e));
      await seq.start();
      await submit(seq, 5); // size 25, recorded
      const back = db.open();
      await snapshot(back, live); // the database goes back to size 20 under the sequencer
      await assert.rejects(submit(seq, 3), /stopped|commit/);
      for (let i = 0; i < 40 && !fatal; i++) await new Promise((r) => setTimeout(r, 25));
      assert.match(String(fatal?.message), /fork guard: .* behind the published head .*size 25/);
      await seq.stop();
      await snapshot(db.storage, live);
    });

    test('bringing back the published head (the database that has it) lets the sequencer start again', async () => {
      // The record now says 25 (the previous test); the original database is at 20. Put the
      // 25-entry tree back where it was lost: the guard accepts the consistent database.
      const seq25 = sequencer(db.storage);
      await assert.rejects(seq25.start(), /behind the published head/);
      // A database ahead of the record (a crash between commit and record) is accepted.
      await new HeadWitness(recordPath(), shard).overwrite((await db.storage.treeHeads(shard.id)).find((h) => h.treeSize === 10)!);
      const seq = sequencer(db.storage);
      await seq.start();
      assert.equal(readRecord().tree_size, 20, 'the record catches up with the database');
      await submit(seq, 5);
      await seq.stop();
      assert.equal(await verifyWholeTree(db.storage, shard), 25);
    });

    test("the operator's override adopts the database head deliberately", async () => {
      await snapshot(db.storage, copy.storage); // size 25 everywhere
      const seq = sequencer(db.storage);
      await seq.start();
      await submit(seq, 4); // published 29
      await seq.stop();
      await assert.rejects(sequencer(copy.storage).start(), /behind the published head/);
      const r = await shardWitness(copy.storage, config(), { adopt: true });
      assert.equal(r.ok, true);
      assert.match(r.text, /adopted the database head/);
      const seq2 = sequencer(copy.storage);
      await seq2.start();
      await seq2.stop();
      assert.equal(readRecord().tree_size, 25);
      // Back to the real database for the rest of the file.
      await new HeadWitness(recordPath(), shard).overwrite(await db.storage.currentHead(shard.id));
    });

    test('a database of the same size with another root, or an inconsistent larger one, is refused', async () => {
      // Another tree under the same key and shard name: the same size, another root.
      const other = await freshDb(backend);
      try {
        const twin = await createShard(other.storage, 'guarded', signer, clock());
        const twinSeq = new ShardSequencer(other.storage, twin, signer, { witness: new HeadWitness(join(other.dataDir, 'w.json'), twin), poolSize: 100, poolPeriodMs: 2, sthIntervalMs: 60_000, clock });
        await twinSeq.start();
        const size = (await db.storage.currentHead(shard.id)).treeSize;
        await submit(twinSeq, size);
        await twinSeq.stop();
        const onTwin = () => new ShardSequencer(other.storage, twin, signer, { witness: new HeadWitness(recordPath(), twin), poolSize: 100, poolPeriodMs: 2, sthIntervalMs: 60_000, clock });
        await assert.rejects(onTwin().start(), /same size as the published head .* but another root/);
        // Larger and not an extension: the consistency proof from its own tiles fails.
        const more = new ShardSequencer(other.storage, twin, signer, { witness: new HeadWitness(join(other.dataDir, 'w.json'), twin), poolSize: 100, poolPeriodMs: 2, sthIntervalMs: 60_000, clock });
        await more.start();
        await submit(more, 7);
        await more.stop();
        await assert.rejects(onTwin().start(), /is not a consistent extension of the published head/);
      } finally {
        await other.drop();
      }
    });

    test('a restored database with an older STH timestamp at the same size: new heads still move forward in time', async () => {
      const rec = (await new HeadWitness(recordPath(), shard).load())!;
      const future: TreeHead = { ...rec, timestamp: clock() + 60_000, signature: new Uint8Array() };
      future.signature = await signer.signSth(future);
      await new HeadWitness(recordPath(), shard).overwrite(future);
      const seq = sequencer(db.storage);
      await seq.start();
      const [sct] = await submit(seq, 1);
      await seq.stop();
      assert.ok(sct!.timestamp > future.timestamp, 'SCT and STH timestamps exceed the recorded head');
    });

    describe('a record that cannot be trusted stops the sequencer with a clear error', () => {
      const cases: Array<{ name: string; write: () => void; want: RegExp }> = [
        { name: 'missing (the database holds entries)', write: () => writeFileSync(recordPath(), ''), want: /there is no record of the published tree head at .*guarded\.json, but the database holds a tree of size \d+/ },
        { name: 'corrupt', write: () => writeFileSync(recordPath(), '{"format":"ctlog-head-witness/v1", "tree_si'), want: /is corrupt \(not JSON\)/ },
        { name: 'for another shard', write: () => writeFileSync(recordPath(), JSON.stringify({ ...saved(), shard: '2027h1' })), want: /belongs to shard "2027h1", not guarded/ },
        { name: 'for another key', write: () => writeFileSync(recordPath(), JSON.stringify({ ...saved(), log_id: Buffer.alloc(32, 1).toString('base64') })), want: /belongs to log id .* \(another key\)/ },
        { name: 'with a root that its signature does not cover', write: () => writeFileSync(recordPath(), JSON.stringify({ ...saved(), sha256_root_hash: Buffer.alloc(32, 9).toString('base64') })), want: /signature does not verify with shard guarded's key/ },
      ];
      let good = '';
      const saved = () => JSON.parse(good) as Record<string, unknown>;
      before(() => {
        good = readFileSync(recordPath(), 'utf8');
      });
      after(() => writeFileSync(recordPath(), good));
      for (const c of cases) {
        test(c.name, async () => {
          c.write();
          if (c.name.startsWith('missing')) (await import('node:fs')).rmSync(recordPath());
          await assert.rejects(sequencer(db.storage).start(), (err: Error) => {
            assert.equal(err.name, 'FatalSequencerError');
            assert.match(err.message, c.want);
            assert.match(err.message, /--adopt-database-head/);
            return true;
          });
        });
      }
    });
  });
}
