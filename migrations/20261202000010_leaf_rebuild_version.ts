// Each entry records the version of the code that rebuilds its leaf (src/x509/leaf-rebuild.ts):
// a precertificate's logged TBS is derived by code, and a later change to that code must not
// change what an old entry serves. One byte per row; rows logged before this migration were
// logged with version 1, the only rebuild there was.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('entries', (t) => {
    t.tinyint('rebuild').unsigned().notNullable().defaultTo(1).comment('Leaf rebuild version the entry was logged with (src/x509/leaf-rebuild.ts); frozen per version.');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('entries', (t) => {
    t.dropColumn('rebuild');
  });
}
