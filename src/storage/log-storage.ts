// The narrow storage operations the services need (docs/STYLE.md habit 3), on knex over MariaDB
// or SQLite. Contracts are written on each method; the one that matters most is appendBatch:
// when it resolves, the entries, tiles and tree head are durably committed together, and it
// only commits if the tree head it extends is still the shard's current one.
import type { Knex } from 'knex';
import { planNodes, tilesForNodes, type ProofPlan, type TileSource } from '../merkle/index.js';
import { CtError } from '../util/errors.js';
import { dialectOf, type Dialect } from './database.js';

export type ShardState = 'active' | 'read-only' | 'frozen' | 'exported' | 'pruned';

export interface TreeHead {
  treeSize: number;
  timestamp: number;
  rootHash: Uint8Array;
  /** Encoded TLS DigitallySigned over the tree head. */
  signature: Uint8Array;
}

export interface ShardRecord {
  id: number;
  name: string;
  logId: Uint8Array;
  publicKey: Uint8Array;
  state: ShardState;
  head: TreeHead;
  /** When the shard was created (ms since epoch). */
  createdAt: number;
}

/** One leaf as stored; the MerkleTreeLeaf is rebuilt from these fields exactly. */
export interface EntryRecord {
  idx: number;
  leafHash: Uint8Array;
  identity: Uint8Array;
  timestamp: number;
  entryType: 0 | 1;
  /** Certificate DER (x509_entry) or precertificate DER as submitted (precert_entry). */
  cert: Uint8Array;
  /** SHA-256 fingerprints of the chain, leaf issuer first, root last. */
  chain: Uint8Array[];
  /** Rebuild version the leaf was logged with (src/x509/leaf-rebuild.ts). */
  rebuild: number;
}

export interface TileWrite {
  level: number;
  index: number;
  data: Uint8Array;
}

export interface AppendBatch {
  /** The tree head this batch extends; the commit fails with StaleHeadError if it moved. */
  expected: { treeSize: number; rootHash: Uint8Array };
  entries: EntryRecord[];
  /** Chain certificates the entries cite; stored once (existing fingerprints are skipped). */
  issuers: Array<{ fingerprint: Uint8Array; der: Uint8Array }>;
  tiles: TileWrite[];
  /** The new signed tree head. Its timestamp must exceed the current one. */
  head: TreeHead;
}

/** The shard is no longer active (read-only, frozen, ...): it takes no new entries or tree heads. */
export class ShardNotActiveError extends Error {
  override name = 'ShardNotActiveError';
}

/** The shard's tree head moved under us: another writer committed first. Never a fork. */
export class StaleHeadError extends Error {
  override name = 'StaleHeadError';
}

const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** BIGINT from either driver to a safe integer, or an error (never a silent rounding). */
export function toIndex(v: unknown, what: string): number {
  const n = typeof v === 'string' ? Number(v) : typeof v === 'bigint' ? Number(v) : (v as number);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${what}: ${String(v)} is not a safe non-negative integer`);
  return n;
}

function splitChain(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i + 32 <= b.length; i += 32) out.push(b.subarray(i, i + 32));
  return out;
}

function rowToEntry(r: Record<string, unknown>): EntryRecord {
  return {
    idx: toIndex(r.idx, 'entries.idx'),
    leafHash: r.leaf_hash as Uint8Array,
    identity: r.identity as Uint8Array,
    timestamp: toIndex(r.timestamp, 'entries.timestamp'),
    entryType: Number(r.entry_type) as 0 | 1,
    cert: r.cert as Uint8Array,
    chain: splitChain(r.chain as Uint8Array),
    rebuild: Number(r.rebuild ?? 1),
  };
}

function rowToShard(r: Record<string, unknown>): ShardRecord {
  return {
    id: Number(r.id),
    name: String(r.name),
    logId: r.log_id as Uint8Array,
    publicKey: r.public_key as Uint8Array,
    state: String(r.state) as ShardState,
    head: {
      treeSize: toIndex(r.tree_size, 'shards.tree_size'),
      timestamp: toIndex(r.sth_timestamp, 'shards.sth_timestamp'),
      rootHash: r.root_hash as Uint8Array,
      signature: r.sth_signature as Uint8Array,
    },
    createdAt: toIndex(r.created_at, 'shards.created_at'),
  };
}

/** The largest page treeHeads() returns. */
export const TREE_HEAD_PAGE_MAX = 1000;

// Rows per INSERT statement: large enough to amortise round trips, small enough to stay
// far below max_allowed_packet with 2 KB certificates (docs/PERFORMANCE.md: >1000 gains nothing).
const INSERT_CHUNK = 500;

/**
 * Rows for the next INSERT of `left` rows: full chunks, then the largest power of two that
 * fits. Each statement shape is prepared once per connection and kept (mysql2 caches it), so
 * the shapes must be few: at most ten, whatever the batch sizes.
 */
function chunkRows(left: number): number {
  return left >= INSERT_CHUNK ? INSERT_CHUNK : 2 ** Math.floor(Math.log2(left));
}

/** mysql2's own (callback) connection, which knex hands out under a transaction. */
interface Mysql2Connection {
  execute(sql: string, values: unknown[], cb: (err: Error | null, rows?: unknown) => void): void;
}

/**
 * Runs a statement in the transaction through mysql2's binary protocol (a prepared statement,
 * cached per connection). knex.raw goes through the text protocol, where every blob is
 * escaped into the statement as hex: twice the bytes on the wire for MariaDB to parse, and
 * the escaping was most of the driver's CPU per entry (profile of bench/sequencer.ts).
 */
async function execute(trx: Knex.Transaction, sql: string, values: unknown[]): Promise<void> {
  // Under a transaction knex's client hands back the transaction's own connection.
  await execOn((await trx.client.acquireConnection()) as Mysql2Connection, sql, values);
}

/** A prepared statement on one mysql2 connection: its rows (or result header). */
function execOn(conn: Mysql2Connection, sql: string, values: unknown[]): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => conn.execute(sql, values, (err, rows) => (err ? reject(err) : resolve(rows as Array<Record<string, unknown>>))));
}

/** knex.raw's rows: mysql2 answers [rows, fields], SQLite the rows alone. */
function rawRows(result: unknown): Array<Record<string, unknown>> {
  return (Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result) as Array<Record<string, unknown>>;
}

/**
 * A read through mysql2's binary protocol on a connection of knex's pool: knex's builder and
 * its text protocol escape every blob of an IN list into the statement (the dedup lookup's
 * 32-byte identities were a few µs of CPU per entry).
 */
async function executeRead(knex: Knex, sql: string, values: unknown[]): Promise<Array<Record<string, unknown>>> {
  const conn = (await knex.client.acquireConnection()) as Mysql2Connection;
  try {
    return await execOn(conn, sql, values);
  } finally {
    await knex.client.releaseConnection(conn);
  }
}

/** `n` placeholders, padded to a power of two (at most ten statement shapes to prepare per connection). */
function inListShape(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

export class LogStorage {
  readonly dialect: Dialect;

  constructor(readonly knex: Knex) {
    this.dialect = dialectOf(knex);
  }

  async listShards(): Promise<ShardRecord[]> {
    const rows = await this.knex('shards').select('*').orderBy('id');
    return rows.map(rowToShard);
  }

  async getShard(name: string): Promise<ShardRecord | undefined> {
    const row = await this.knex('shards').where({ name }).first();
    return row ? rowToShard(row) : undefined;
  }

  /**
   * Creates a shard with its empty tree head. Explicit by design: a log is never created
   * implicitly, since recreating one that exists elsewhere under the same key is a fork.
   * Fails if a shard of that name exists.
   */
  async createShard(s: { name: string; logId: Uint8Array; publicKey: Uint8Array; head: TreeHead; now: number }): Promise<ShardRecord> {
    return this.knex.transaction(async (trx) => {
      const existing = await trx('shards').where({ name: s.name }).first();
      if (existing) throw new Error(`shard ${s.name} already exists`);
      const max = await trx('shards').max({ m: 'id' }).first();
      const id = Number(max?.m ?? 0) + 1;
      await trx('shards').insert({
        id,
        name: s.name,
        log_id: buf(s.logId),
        public_key: buf(s.publicKey),
        state: 'active',
        tree_size: s.head.treeSize,
        root_hash: buf(s.head.rootHash),
        sth_timestamp: s.head.timestamp,
        sth_signature: buf(s.head.signature),
        created_at: s.now,
      });
      await trx('tree_heads').insert(this.headRow(id, s.head));
      return rowToShard((await trx('shards').where({ id }).first())!);
    });
  }

  async setShardState(shardId: number, state: ShardState): Promise<void> {
    await this.knex('shards').where({ id: shardId }).update({ state });
  }

  /** The shard's current signed tree head (the one every append must extend). */
  async currentHead(shardId: number): Promise<TreeHead> {
    const row = await this.knex('shards').where({ id: shardId }).first();
    if (!row) throw new Error(`no shard with id ${shardId}`);
    return rowToShard(row).head;
  }

  private headRow(shardId: number, h: TreeHead) {
    return { shard_id: shardId, timestamp: h.timestamp, tree_size: h.treeSize, root_hash: buf(h.rootHash), signature: buf(h.signature) };
  }

  /**
   * Commits a batch atomically: entries, new issuers, tiles and the new tree head, in one
   * transaction whose first statement is the conditional update of the shard's head
   * (`WHERE tree_size = ? AND root_hash = ?`). That update takes the shard row's lock, so a
   * second writer waits, then finds the head moved and fails with StaleHeadError: two
   * sequencers can never fork the tree (docs/DESIGN.md invariant 2). When this resolves the batch
   * is durable; when it rejects nothing of it is visible.
   */
  async appendBatch(shardId: number, b: AppendBatch): Promise<void> {
    try {
      await this.appendBatchTx(shardId, b);
    } catch (err) {
      // SQLite: another connection holds the write lock. Same meaning as a moved head:
      // nothing of ours was written; reload and retry.
      if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY')) throw new StaleHeadError(`shard ${shardId}: database busy with another writer`, { cause: err });
      throw err;
    }
  }

  private async appendBatchTx(shardId: number, b: AppendBatch): Promise<void> {
    await this.knex.transaction(async (trx) => {
      // Only an active shard grows: a freeze that set another state wins over a sequencer
      // that has not heard of it yet.
      const updated = await trx('shards')
        .where({ id: shardId, state: 'active', tree_size: b.expected.treeSize, root_hash: buf(b.expected.rootHash) })
        .where('sth_timestamp', '<', b.head.timestamp)
        .update({
          tree_size: b.head.treeSize,
          root_hash: buf(b.head.rootHash),
          sth_timestamp: b.head.timestamp,
          sth_signature: buf(b.head.signature),
        });
      if (updated !== 1) {
        const row = await trx('shards').where({ id: shardId }).first('state');
        if (row && row.state !== 'active') throw new ShardNotActiveError(`shard ${shardId} is ${String(row.state)}: it takes no new entries or tree heads`);
        throw new StaleHeadError(`shard ${shardId}: tree head moved from size ${b.expected.treeSize}; another writer committed first`);
      }
      await this.pruneHeads(trx, shardId, b.expected.treeSize);
      await trx('tree_heads').insert(this.headRow(shardId, b.head));
      for (let i = 0; i < b.issuers.length; i += 100) {
        await trx('issuers')
          .insert(b.issuers.slice(i, i + 100).map((x) => ({ fingerprint: buf(x.fingerprint), der: buf(x.der) })))
          .onConflict('fingerprint')
          .ignore();
      }
      for (let i = 0; i < b.entries.length; ) {
        const n = chunkRows(b.entries.length - i);
        await this.insertEntries(trx, shardId, b.entries.slice(i, i + n));
        i += n;
      }
      if (b.tiles.length) {
        await trx('tiles')
          .insert(b.tiles.map((t) => ({ shard_id: shardId, level: t.level, idx: t.index, data: buf(t.data) })))
          .onConflict(['shard_id', 'level', 'idx'])
          .merge(['data']);
      }
    });
  }

  private async insertEntries(trx: Knex.Transaction, shardId: number, entries: EntryRecord[]): Promise<void> {
    if (entries.length === 0) return;
    // One multi-row statement per chunk, built by hand: knex's insert builder costs several
    // times more CPU per row than the driver itself on the hot path (docs/PERFORMANCE.md).
    const sql = `INSERT INTO entries (shard_id, idx, leaf_hash, identity, timestamp, entry_type, cert, chain, rebuild) VALUES ${'(?,?,?,?,?,?,?,?,?),'.repeat(entries.length).slice(0, -1)}`;
    const values: unknown[] = [];
    for (const e of entries) {
      values.push(shardId, e.idx, buf(e.leafHash), buf(e.identity), e.timestamp, e.entryType, buf(e.cert), Buffer.concat(e.chain), e.rebuild);
    }
    if (this.dialect === 'mysql') await execute(trx, sql, values);
    else await trx.raw(sql, values as Knex.RawBinding[]);
  }

  /**
   * The history keeps the heads that matter: the first head of every tree size (where the
   * tree grew) and the latest. An idle shard re-signs its head every second or so; without
   * this, tree_heads would gain ~86,000 rows a day per idle shard. Heads of one size share
   * one root, so a dropped one is still provably the same tree as the kept one. Called, in
   * the commit's transaction, before the new head is inserted: the head it replaces stops
   * being the latest, so every head at its size but the first goes (at most one row). One
   * statement, one round trip inside the commit that holds the shard's lock (MariaDB, like
   * SQLite, lets a DELETE read the table it deletes from in a subquery).
   */
  private async pruneHeads(trx: Knex.Transaction, shardId: number, size: number): Promise<void> {
    await trx.raw('DELETE FROM tree_heads WHERE shard_id = ? AND tree_size = ? AND timestamp > (SELECT MIN(timestamp) FROM tree_heads WHERE shard_id = ? AND tree_size = ?)', [shardId, size, shardId, size]);
  }

  /** A new tree head with no new entries (the periodic STH of an idle shard). Conditional like appendBatch. */
  async publishHead(shardId: number, expected: { treeSize: number; rootHash: Uint8Array }, head: TreeHead): Promise<void> {
    await this.appendBatch(shardId, { expected, entries: [], issuers: [], tiles: [], head });
  }

  /** Entries [start, end) that exist, in index order. */
  async readEntries(shardId: number, start: number, end: number): Promise<EntryRecord[]> {
    // Every get-entries page and data tile starts here: plain SQL skips the query builder.
    const rows = rawRows(
      await this.knex.raw('SELECT idx, leaf_hash, identity, timestamp, entry_type, cert, chain, rebuild FROM entries WHERE shard_id = ? AND idx >= ? AND idx < ? ORDER BY idx', [shardId, start, end]),
    );
    return rows.map(rowToEntry);
  }

  /** The entry with this leaf hash, if any (get-proof-by-hash). */
  async findByLeafHash(shardId: number, leafHash: Uint8Array): Promise<EntryRecord | undefined> {
    const row = await this.knex('entries').where({ shard_id: shardId, leaf_hash: buf(leafHash) }).first();
    return row ? rowToEntry(row) : undefined;
  }

  /** Indexes of the entries with these leaf hashes (hex keys); one query per 500 hashes. Absent hashes are absent. */
  async findIndexesByLeafHashes(shardId: number, leafHashes: Uint8Array[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (let i = 0; i < leafHashes.length; i += INSERT_CHUNK) {
      const chunk = leafHashes.slice(i, i + INSERT_CHUNK).map(buf);
      // Every get-proof-by-hash goes through here: plain SQL skips the query builder.
      const rows = rawRows(await this.knex.raw(`SELECT idx, leaf_hash FROM entries WHERE shard_id = ? AND leaf_hash IN (${chunk.map(() => '?').join(',')})`, [shardId, ...chunk]));
      for (const r of rows) out.set(Buffer.from(r.leaf_hash as Uint8Array).toString('hex'), toIndex(r.idx, 'entries.idx'));
    }
    return out;
  }

  /** Entries already logged under these dedup identities, keyed by hex identity; one query. */
  async findByIdentities(shardId: number, identities: Uint8Array[]): Promise<Map<string, { idx: number; timestamp: number }>> {
    const out = new Map<string, { idx: number; timestamp: number }>();
    for (let i = 0; i < identities.length; i += INSERT_CHUNK) {
      const chunk = identities.slice(i, i + INSERT_CHUNK).map(buf);
      let rows: Array<Record<string, unknown>>;
      if (this.dialect === 'mysql') {
        // Padded with repeats of the last identity: one shape per power of two, same answer.
        const n = inListShape(chunk.length);
        while (chunk.length < n) chunk.push(chunk[chunk.length - 1]!);
        rows = await executeRead(this.knex, `SELECT identity, idx, timestamp FROM entries WHERE shard_id = ? AND identity IN (${'?,'.repeat(n).slice(0, -1)})`, [shardId, ...chunk]);
      } else {
        rows = await this.knex('entries').where('shard_id', shardId).whereIn('identity', chunk).select('identity', 'idx', 'timestamp');
      }
      for (const r of rows) out.set(Buffer.from(r.identity as Uint8Array).toString('hex'), { idx: toIndex(r.idx, 'entries.idx'), timestamp: toIndex(r.timestamp, 'entries.timestamp') });
    }
    return out;
  }

  /** Hash tiles by (level, index), in one query; the map is keyed "level/index". Missing tiles are absent. */
  async readTiles(shardId: number, ids: Array<{ level: number; index: number }>): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    if (ids.length === 0) return out;
    const rows = await this.knex('tiles')
      .where('shard_id', shardId)
      .where((q) => {
        for (const id of ids) q.orWhere((w) => w.where('level', id.level).where('idx', id.index));
      })
      .select('level', 'idx', 'data');
    for (const r of rows) out.set(`${Number(r.level)}/${toIndex(r.idx, 'tiles.idx')}`, r.data as Uint8Array);
    return out;
  }

  /** Issuer certificates by fingerprint (hex keys); one query. */
  async readIssuers(fingerprints: Uint8Array[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    if (fingerprints.length === 0) return out;
    const rows = await this.knex('issuers').whereIn('fingerprint', fingerprints.map(buf)).select('fingerprint', 'der');
    for (const r of rows) out.set(Buffer.from(r.fingerprint as Uint8Array).toString('hex'), r.der as Uint8Array);
    return out;
  }

  /**
   * One page of the shard's tree head history, oldest first: the heads with a timestamp
   * after `after` (exclusive; omit for the first page), at most `limit` of them (at most
   * TREE_HEAD_PAGE_MAX). The next page starts after the last timestamp of this one; a page
   * shorter than `limit` is the last. The history holds the first head of every tree size
   * and the latest head (pruneHeads).
   */
  async treeHeads(shardId: number, opts: { after?: number; limit?: number } = {}): Promise<TreeHead[]> {
    const limit = Math.min(Math.max(1, Math.floor(opts.limit ?? TREE_HEAD_PAGE_MAX)), TREE_HEAD_PAGE_MAX);
    const q = this.knex('tree_heads').where('shard_id', shardId);
    if (opts.after !== undefined) q.where('timestamp', '>', opts.after);
    const rows = await q.orderBy('timestamp').limit(limit).select('tree_size', 'timestamp', 'root_hash', 'signature');
    return rows.map((r) => ({
      treeSize: toIndex(r.tree_size, 'tree_heads.tree_size'),
      timestamp: toIndex(r.timestamp, 'tree_heads.timestamp'),
      rootHash: r.root_hash as Uint8Array,
      signature: r.signature as Uint8Array,
    }));
  }

  /** MariaDB data + index bytes of the log tables (information_schema), for bytes-per-entry figures. */
  async tableBytes(opts: { analyze?: boolean } = { analyze: true }): Promise<Record<string, { data: number; index: number; rows: number }>> {
    if (this.dialect !== 'mysql') throw new CtError(400, 'unsupported', 'table sizes are measured on MariaDB only');
    if (opts.analyze) await this.knex.raw('ANALYZE TABLE entries, issuers, tiles, tree_heads, shards');
    const [rows] = (await this.knex.raw(
      'SELECT table_name AS t, data_length AS d, index_length AS i, table_rows AS r FROM information_schema.tables WHERE table_schema = DATABASE()',
    )) as [Array<{ t: string; d: number; i: number; r: number }>];
    const out: Record<string, { data: number; index: number; rows: number }> = {};
    for (const r of rows) out[r.t] = { data: Number(r.d), index: Number(r.i), rows: Number(r.r) };
    return out;
  }
}

/** Data + index bytes of all log tables over the number of entries (MariaDB), or undefined. */
export async function bytesPerEntry(storage: LogStorage): Promise<number | undefined> {
  if (storage.dialect !== 'mysql') return undefined;
  const sizes = await storage.tableBytes({ analyze: false });
  const total = ['entries', 'tiles', 'issuers', 'tree_heads', 'shards'].reduce((a, t) => a + (sizes[t]?.data ?? 0) + (sizes[t]?.index ?? 0), 0);
  const shards = await storage.listShards();
  const entries = shards.reduce((a, s) => a + s.head.treeSize, 0);
  return entries > 0 ? total / entries : undefined;
}

/**
 * The fetch step of plan, fetch, assemble (docs/DESIGN.md "The tree"): every hash tile a proof
 * plan needs, in one query, as a TileSource for assemble().
 */
export async function fetchPlanTiles(storage: LogStorage, shardId: number, plan: ProofPlan): Promise<TileSource> {
  const tiles = await storage.readTiles(shardId, tilesForNodes(planNodes(plan)));
  return (level, index) => tiles.get(`${level}/${index}`);
}
