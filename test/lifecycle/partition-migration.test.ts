// The lifecycle migration on a MariaDB database that already holds shards: their rows move
// into per-shard partitions intact, a shard created afterwards gets its own, and dropping
// one shard's partitions leaves the other's rows alone.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { dropMysqlDatabase, ensureMysqlDatabase, openDatabase } from '../../src/storage/database.js';
import { LogStorage } from '../../src/storage/log-storage.js';
import { createShard } from '../../src/storage/shard-init.js';
import { deleteShardRows, ensureShardPartitions } from '../../src/storage/shard-lifecycle.js';
import { loadSigner } from '../../src/config/key-file.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as initial from '../../migrations/20261123000001_initial.js';
import * as lifecycle from '../../migrations/20261201000001_shard_lifecycle.js';
import * as leafRebuild from '../../migrations/20261202000010_leaf_rebuild_version.js';
import * as pruneHeads from '../../migrations/20261202000020_prune_idle_tree_heads.js';
import { MYSQL_BASE, writeKey } from '../helpers/services.js';
import { fastFill } from './fast-fill.js';

test('MariaDB: existing shards are partitioned by the migration; a prune drops only its own', async () => {
  const url = `${MYSQL_BASE}/ctlog_test_${randomBytes(6).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'ctlog-partitions-'));
  await ensureMysqlDatabase(url);
  const knex = openDatabase({ url, dataDir: dir });
  try {
    await initial.up(knex);
    const storage = new LogStorage(knex);
    const signer = loadSigner(writeKey(dir, 'a'));
    // Before the migration: no partitions, and no lifecycle columns (createShard adds none on this schema).
    const a = await storage.createShard({ name: 'a', logId: signer.logId, publicKey: signer.publicKeySpki, head: { treeSize: 0, timestamp: 1, rootHash: new Uint8Array(32), signature: await signer.signSth({ treeSize: 0, timestamp: 1, rootHash: new Uint8Array(32) }) }, now: 1 });
    await lifecycle.up(knex);
    const parts = async (table: string) =>
      ((await knex.raw('SELECT partition_name AS p FROM information_schema.partitions WHERE table_schema = DATABASE() AND table_name = ? ORDER BY p', [table])) as [Array<{ p: string }>])[0].map((r) => r.p);
    assert.deepEqual(await parts('entries'), ['p0', 's1']);
    // The migrations after it, as `ctlog migrate` would run them, before anything is sequenced.
    await leafRebuild.up(knex);
    await pruneHeads.up(knex);
    // Fill shard a (it was created empty under the old schema, with a made-up empty root: start from a real one).
    await knex('shards').where({ id: a.id }).del();
    await knex('tree_heads').where({ shard_id: a.id }).del();
    const sa = await createShard(storage, 'a', signer, Date.now());
    const signerB = loadSigner(writeKey(dir, 'b'));
    const sb = await createShard(storage, 'b', signerB, Date.now());
    assert.deepEqual(await parts('tiles'), ['p0', 's1', 's2']);
    await fastFill(storage, sa, signer, 600, { clock: Date.now, witnessFile: join(dir, 'wa.json'), batch: 300 });
    await fastFill(storage, sb, signerB, 300, { clock: Date.now, witnessFile: join(dir, 'wb.json'), batch: 300 });
    await deleteShardRows(storage, (await storage.getShard('a'))!);
    const count = async (table: string, id: number) => Number((await knex(table).where({ shard_id: id }).count({ n: '*' }).first())!.n);
    assert.equal(await count('entries', sa.id), 0);
    assert.equal(await count('tree_heads', sa.id), 1, 'the final STH stays');
    assert.equal(await count('entries', sb.id), 300, "the other shard's rows are untouched");
    assert.ok((await count('tiles', sb.id)) > 0);
    assert.deepEqual(await parts('entries'), ['p0', 's2']);
    assert.deepEqual(await parts('tree_heads'), ['p0', 's1', 's2']);

    // Rows of shards without partitions of their own (copied in row by row) land in the
    // DEFAULT partition; giving the shard its partition moves them, never hides them.
    const rows = (id: number) => Array.from({ length: 5 }, (_, i) => ({ shard_id: id, level: 0, idx: i, data: Buffer.alloc(32) }));
    await knex('tiles').insert([...rows(7), ...rows(8)]);
    await ensureShardPartitions(knex, 7);
    assert.equal(await count('tiles', 7), 5);
    assert.equal(Number(((await knex.raw('SELECT COUNT(*) AS n FROM tiles PARTITION (s7)')) as [Array<{ n: number }>])[0][0]!.n), 5);
    // A shard pruned without a partition of its own: its rows are deleted from the DEFAULT one.
    await deleteShardRows(storage, { ...(await storage.getShard('b'))!, id: 8 });
    assert.equal(await count('tiles', 8), 0);
    assert.equal(await count('tiles', 7), 5);
    assert.equal(await count('entries', sb.id), 300);
  } finally {
    await knex.destroy();
    await dropMysqlDatabase(url);
    rmSync(dir, { recursive: true, force: true });
  }
});
