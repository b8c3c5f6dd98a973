// Shard lifecycle (active -> read-only -> frozen -> exported -> pruned): the shards row
// records when its state last changed and the verified export that a prune relies on; on
// MariaDB the per-shard tables are partitioned by shard, so a prune drops one partition per
// table (its .ibd file is deleted: the space goes back to the operating system at once)
// instead of deleting millions of rows and rebuilding the table.
//
// Converting the tables to partitioned ones copies them once (ALTER TABLE ... PARTITION BY):
// minutes for a large log, so run `ctlog migrate` in a maintenance window. Every key of these
// tables starts with shard_id, as MariaDB requires of a partitioned table's unique keys.
import type { Knex } from 'knex';

export const PARTITIONED_TABLES = ['entries', 'tiles', 'tree_heads'] as const;

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('shards', (t) => {
    t.bigint('state_changed_at').unsigned().nullable().comment('When the state last changed (ms since epoch).');
    t.string('export_dir', 1024).nullable().comment('Directory of the verified static-ct-api export (ctlog shard export).');
    t.binary('export_manifest_sha256', 32).nullable().comment('SHA-256 of the export manifest.json: anchors every exported file (each listed with its SHA-256).');
    t.bigint('exported_at').unsigned().nullable().comment('When the export was verified (ms since epoch).');
  });
  if (knex.client.config.client !== 'mysql2') return;
  const ids = (await knex('shards').select('id').orderBy('id')).map((r) => Number(r.id));
  // p0 is the DEFAULT partition: rows of a shard that has no partition of its own (copied in
  // row by row, e.g. from a backup into a fresh schema) land there instead of being refused;
  // ensureShardPartitions moves them out, and a prune deletes what is left there.
  const parts = ['PARTITION p0 DEFAULT', ...ids.map((id) => `PARTITION s${id} VALUES IN (${id})`)].join(', ');
  for (const table of PARTITIONED_TABLES) await knex.raw(`ALTER TABLE ${table} PARTITION BY LIST (shard_id) (${parts})`);
}

export async function down(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'mysql2') {
    for (const table of PARTITIONED_TABLES) await knex.raw(`ALTER TABLE ${table} REMOVE PARTITIONING`);
  }
  await knex.schema.alterTable('shards', (t) => {
    t.dropColumn('state_changed_at');
    t.dropColumn('export_dir');
    t.dropColumn('export_manifest_sha256');
    t.dropColumn('exported_at');
  });
}
