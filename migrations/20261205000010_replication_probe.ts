// One row the sequencer rewrites when it cannot tell whether a replica holds everything the
// primary committed (it just started, or the primary restarted: MariaDB's semi-sync counters
// and status start afresh then). With AFTER_SYNC the rewrite's COMMIT returns only once a
// replica has acknowledged it, and a replica receives the binary log in order, so it then
// holds every earlier commit too (src/storage/replication.ts).
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('replication_probe', (t) => {
    t.comment('Rewritten by the sequencer to learn that a replica holds every earlier commit (log.require_replica_ack).');
    t.tinyint('id').unsigned().primary();
    t.bigint('at').unsigned().notNullable().comment('When it was last written (ms since the epoch).');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('replication_probe');
}
