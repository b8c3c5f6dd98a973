// STH history (issue 10, step 6): the heads that matter are kept (the first of every tree
// size and the latest), idle re-signed heads do not pile up, history reads are paged, and
// /readyz says "database unavailable" without the driver's text.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startLog } from '../../src/bin/start-log.js';
import { loadSigner } from '../../src/config/key-file.js';
import { createLogger } from '../../src/log/logger.js';
import { ShardSequencer } from '../../src/sequencer/shard-sequencer.js';
import { TREE_HEAD_PAGE_MAX, type ShardRecord } from '../../src/storage/log-storage.js';
import { createShard } from '../../src/storage/shard-init.js';
import { up as pruneMigration } from '../../migrations/20261202000020_prune_idle_tree_heads.js';
import { BACKENDS, REDIS_URL, freshDb, testWitness, writeKey, type TestDb } from '../helpers/services.js';
import { allTreeHeads, syntheticSubmission, verifyWholeTree } from '../helpers/synthetic.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DEMO = resolve(import.meta.dirname, '../../demo');

for (const backend of BACKENDS) {
  describe(`tree head history on ${backend}`, () => {
    let db: TestDb;
    let shard: ShardRecord;
    let keyFile: string;

    before(async () => {
      db = await freshDb(backend);
      keyFile = writeKey(db.dataDir);
      shard = await createShard(db.storage, 'h', loadSigner(keyFile), Date.now());
    });
    after(() => db.drop());

    test('idle re-signed heads replace each other; the first head of every size and the latest stay', async () => {
      const seq = new ShardSequencer(db.storage, shard, loadSigner(keyFile), { witness: testWitness(db.dataDir, shard), poolSize: 100, poolPeriodMs: 5, sthIntervalMs: 20, clock: Date.now });
      await seq.start();
      const signed: Array<{ size: number; ts: number }> = [];
      const note = () => signed.push({ size: seq.treeHead.treeSize, ts: seq.treeHead.timestamp });
      try {
        for (let round = 0; round < 3; round++) {
          // Idle for a while: many heads are signed at this size.
          for (let i = 0; i < 8; i++) {
            await sleep(30);
            note();
          }
          await seq.add([syntheticSubmission(2 * round).sub], syntheticSubmission(2 * round).issuers);
          note();
        }
        await sleep(100);
        note();
      } finally {
        await seq.stop();
      }
      const heads = await allTreeHeads(db.storage, shard.id);
      const current = await db.storage.currentHead(shard.id);
      assert.ok(new Set(signed.map((s) => s.ts)).size > 10, 'many heads were signed');
      assert.deepEqual([...new Set(heads.map((h) => h.treeSize))], [0, 1, 2, 3], 'every size the tree had is in the history');
      const sizes = heads.map((h) => h.treeSize);
      for (const size of [0, 1, 2]) assert.equal(sizes.filter((s) => s === size).length, 1, `one head of the past size ${size}: the first`);
      assert.ok(sizes.filter((s) => s === 3).length <= 2, 'the current size: its first head and the latest');
      assert.deepEqual(heads.at(-1), current, 'the latest head is kept');
      assert.ok(heads.length <= 5, `${heads.length} rows, not one per signed head`);
      await verifyWholeTree(db.storage, shard);
    });

    test('history queries are paged and bounded', async () => {
      const all = await allTreeHeads(db.storage, shard.id, 1000);
      assert.deepEqual(await allTreeHeads(db.storage, shard.id, 1), all, 'pages of one give the same history');
      assert.deepEqual(await db.storage.treeHeads(shard.id, { limit: 2 }), all.slice(0, 2));
      assert.deepEqual(await db.storage.treeHeads(shard.id, { after: all[0]!.timestamp, limit: 2 }), all.slice(1, 3));
      // A huge limit is clamped: treeHeads() never loads more than a page.
      for (let i = 0; i < 21; i++) {
        await db.storage.knex('tree_heads').insert(
          Array.from({ length: 100 }, (_, j) => ({ shard_id: 99, timestamp: i * 100 + j + 1, tree_size: i * 100 + j, root_hash: Buffer.alloc(32), signature: Buffer.alloc(8) })),
        );
      }
      assert.equal((await db.storage.treeHeads(99, { limit: 1_000_000 })).length, TREE_HEAD_PAGE_MAX);
      assert.equal((await allTreeHeads(db.storage, 99)).length, 2100);
      await db.storage.knex('tree_heads').where('shard_id', 99).del();
    });

    test('the migration drops the idle heads an older version kept, and only those', async () => {
      const rows = [
        [1, 0], [2, 0], [3, 0], // size 0: first kept, idle ones dropped
        [4, 5], [5, 5], [6, 5],
        [7, 7], [8, 7], [9, 7], // size 7 is current: first and latest kept
      ].map(([timestamp, size]) => ({ shard_id: 98, timestamp, tree_size: size, root_hash: Buffer.alloc(32, size), signature: Buffer.alloc(8) }));
      await db.storage.knex('tree_heads').insert(rows);
      const otherBefore = await allTreeHeads(db.storage, shard.id);
      await pruneMigration(db.storage.knex);
      const kept = (await allTreeHeads(db.storage, 98)).map((h) => [h.timestamp, h.treeSize]);
      assert.deepEqual(kept, [[1, 0], [4, 5], [7, 7], [9, 7]]);
      assert.deepEqual(await allTreeHeads(db.storage, shard.id), otherBefore, 'an already pruned history is unchanged');
      await db.storage.knex('tree_heads').where('shard_id', 98).del();
    });
  });
}

describe('/readyz and /healthz', () => {
  let db: TestDb;
  before(async () => {
    db = await freshDb('mysql');
  });
  after(() => db.drop());

  test('say "database unavailable", never the driver\'s text', async () => {
    mkdirSync(join(db.dataDir, 'keys'), { recursive: true });
    const keyFile = writeKey(join(db.dataDir, 'keys'), 'r1');
    await createShard(db.storage, 'r1', loadSigner(keyFile), Date.now());
    writeFileSync(
      join(db.dataDir, 'shards.yaml'),
      `log: { base_url: http://127.0.0.1:6962 }
defaults: { roots: [${join(DEMO, 'demo-root.pem')}] }
shards:
  - { name: r1, not_after_start: 2000-01-01T00:00:00Z, not_after_limit: 2100-01-01T00:00:00Z }
`,
    );
    const logged: string[] = [];
    const running = await startLog({
      roles: ['read'],
      configFile: join(db.dataDir, 'shards.yaml'),
      dataDir: db.dataDir,
      listen: '127.0.0.1:0',
      databaseUrl: db.url,
      redisUrl: REDIS_URL,
      log: createLogger({ level: 'warn', write: (l: string) => logged.push(l) }),
    });
    try {
      assert.equal((await fetch(`${running.url}/readyz`)).status, 200);
      // The database goes away under the running server (its name is in the driver's error).
      await running.storage.knex.raw(`DROP DATABASE \`${new URL(db.url!).pathname.slice(1)}\``);
      for (const path of ['/readyz', '/healthz']) {
        const r = await fetch(`${running.url}${path}`);
        const body = await r.text();
        assert.equal(r.status, 503, path);
        assert.match(body, /database unavailable/, path);
        assert.doesNotMatch(body, /ctlog_test_|Unknown database|ER_/, `${path} leaks nothing of the driver's text: ${body}`);
      }
      assert.ok(logged.some((l) => /database unavailable/.test(l)), 'the cause goes to the log');
    } finally {
      await running.close();
    }
  });
});
