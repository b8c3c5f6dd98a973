// tree_heads keeps the heads that matter (LogStorage.pruneHeads): the first head of every
// tree size and the latest one. Before, every idle re-signed head was kept (~86,000 rows a
// day per idle shard); this drops those, once. Heads of one size share one root, so the
// history still proves the same trees.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  if (knex.client.config.client === 'mysql2') {
    // MariaDB refuses a DELETE whose subquery reads the same table; derived tables are
    // materialised first, so the join form is allowed.
    await knex.raw(`
      DELETE t FROM tree_heads t
      JOIN (SELECT shard_id, tree_size, MIN(timestamp) AS first_ts FROM tree_heads GROUP BY shard_id, tree_size) f
        ON f.shard_id = t.shard_id AND f.tree_size = t.tree_size
      JOIN (SELECT shard_id, MAX(timestamp) AS latest_ts FROM tree_heads GROUP BY shard_id) l
        ON l.shard_id = t.shard_id
      WHERE t.timestamp > f.first_ts AND t.timestamp < l.latest_ts`);
  } else {
    await knex.raw(`
      DELETE FROM tree_heads
      WHERE timestamp > (SELECT MIN(f.timestamp) FROM tree_heads f WHERE f.shard_id = tree_heads.shard_id AND f.tree_size = tree_heads.tree_size)
        AND timestamp < (SELECT MAX(l.timestamp) FROM tree_heads l WHERE l.shard_id = tree_heads.shard_id)`);
  }
}

export async function down(): Promise<void> {
  // Dropped heads cannot come back; nothing to undo.
}
