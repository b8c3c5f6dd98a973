// The initial schema: shards, entries, issuers, tiles, tree_heads (docs/DESIGN.md "Storage").
// Runs on MariaDB 10.11+ and SQLite through the same knex code. Every byte of an entry row
// counts (bytes per entry is a headline figure), so what can be rebuilt exactly is not stored:
// the MerkleTreeLeaf is rebuilt from (timestamp, entry_type, cert, chain, idx), and a
// precertificate's logged TBS and issuer_key_hash from its DER and the stored issuers.
import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  const mysql = knex.client.config.client === 'mysql2';

  await knex.schema.createTable('shards', (t) => {
    t.comment('One row per temporal shard: its identity, lifecycle state and current signed tree head.');
    t.smallint('id').unsigned().primary().comment('Short numeric id used in every other table.');
    t.string('name', 64).notNullable().unique().comment('Shard name from shards.yaml, e.g. 2027h1.');
    t.binary('log_id', 32).notNullable().comment('RFC 6962 §3.2 log id: SHA-256 of the public key SPKI.');
    t.binary('public_key', 256).notNullable().comment('DER SubjectPublicKeyInfo of the shard signing key.');
    t.string('state', 16).notNullable().comment('active | read-only | frozen | exported | pruned.');
    t.bigint('tree_size').unsigned().notNullable().comment('Size of the current tree head; every append is conditional on it.');
    t.binary('root_hash', 32).notNullable().comment('Root hash of the current tree head.');
    t.bigint('sth_timestamp').unsigned().notNullable().comment('Timestamp (ms) of the current signed tree head; strictly increasing.');
    t.binary('sth_signature', 128).notNullable().comment('TLS DigitallySigned over the current tree head (RFC 6962 §3.5).');
    t.bigint('created_at').unsigned().notNullable().comment('When the shard was created (ms since epoch).');
  });

  await knex.schema.createTable('entries', (t) => {
    t.comment('One row per Merkle tree leaf. Leaf bytes are rebuilt from these columns exactly.');
    t.smallint('shard_id').unsigned().notNullable().comment('shards.id.');
    t.bigint('idx').unsigned().notNullable().comment('Leaf index in the shard tree (also the static-ct-api leaf_index extension).');
    t.binary('leaf_hash', 32).notNullable().comment('RFC 6962 leaf hash SHA-256(0x00 || MerkleTreeLeaf), for get-proof-by-hash.');
    t.binary('identity', 32).notNullable().comment('Dedup identity: SHA-256(entry_type || issuer_key_hash || cert or logged TBS).');
    t.bigint('timestamp').unsigned().notNullable().comment('SCT timestamp (ms) chosen by the sequencer.');
    t.tinyint('entry_type').unsigned().notNullable().comment('0 = x509_entry, 1 = precert_entry.');
    t.specificType('cert', mysql ? 'MEDIUMBLOB' : 'BLOB').notNullable().comment('DER of the certificate (x509_entry) or of the precertificate as submitted (precert_entry).');
    t.specificType('chain', mysql ? 'VARBINARY(1024)' : 'BLOB').notNullable().comment('Issuer chain as concatenated 32-byte SHA-256 fingerprints into issuers, leaf issuer first, root last.');
    t.primary(['shard_id', 'idx']);
    t.unique(['shard_id', 'leaf_hash'], { indexName: 'entries_leaf_hash' });
    t.unique(['shard_id', 'identity'], { indexName: 'entries_identity' });
  });
  // Certificates are alike (issuer names, AIA and CRL URLs, policy OIDs, extension
  // layouts), so InnoDB page compression of the entries table halves its bytes per entry
  // (bench/sequencer.ts: ~1,740 -> ~910 bytes of data + indexes per entry over all log
  // tables) for ~25 % more commit CPU in MariaDB. 8 KB pages hold ~10 entries, enough for
  // zlib to find what they share.
  if (mysql) await knex.raw('ALTER TABLE entries ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8');

  await knex.schema.createTable('issuers', (t) => {
    t.comment('Chain certificates, stored once whatever the number of entries that cite them; also served as static-ct-api issuer/<fingerprint>.');
    t.binary('fingerprint', 32).primary().comment('SHA-256 of the DER.');
    t.specificType('der', mysql ? 'MEDIUMBLOB' : 'BLOB').notNullable().comment('The certificate DER.');
  });

  await knex.schema.createTable('tiles', (t) => {
    t.comment('tlog-tiles hash tiles of height 8 (C2SP tlog-tiles). Full tiles (256 hashes) are immutable; the right-edge partial tile of each level is rewritten as it grows.');
    t.smallint('shard_id').unsigned().notNullable().comment('shards.id.');
    t.tinyint('level').unsigned().notNullable().comment('Tile level L: holds hashes of subtrees of 256^L leaves.');
    t.bigint('idx').unsigned().notNullable().comment('Tile index N within the level.');
    t.specificType('data', mysql ? 'BLOB' : 'BLOB').notNullable().comment('width x 32 bytes of hashes; width = length / 32.');
    t.primary(['shard_id', 'level', 'idx']);
  });

  await knex.schema.createTable('tree_heads', (t) => {
    t.comment('Every signed tree head, in order: the history an auditor can ask about.');
    t.smallint('shard_id').unsigned().notNullable().comment('shards.id.');
    t.bigint('timestamp').unsigned().notNullable().comment('STH timestamp (ms); strictly increasing per shard.');
    t.bigint('tree_size').unsigned().notNullable().comment('Tree size the STH signs.');
    t.binary('root_hash', 32).notNullable().comment('Root hash the STH signs.');
    t.binary('signature', 128).notNullable().comment('TLS DigitallySigned over the tree head (RFC 6962 §3.5).');
    t.primary(['shard_id', 'timestamp']);
    t.index(['shard_id', 'tree_size'], 'tree_heads_size');
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['tree_heads', 'tiles', 'issuers', 'entries', 'shards']) await knex.schema.dropTableIfExists(table);
}
