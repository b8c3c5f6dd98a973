// The shard lifecycle as the database holds it: active -> read-only -> frozen -> exported ->
// pruned, forward only. Every change is one conditional UPDATE (`WHERE state IN (...)`), so
// processes that race (two operators, the automatic rule and a command) agree on one order,
// and every serving process follows the row (shard-state-watch.ts) instead of its config.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Knex } from 'knex';
import type { LogSigner } from '../signing/index.js';
import { toIndex, type LogStorage, type ShardRecord, type ShardState, type TreeHead } from './log-storage.js';

export const SHARD_STATES: readonly ShardState[] = ['active', 'read-only', 'frozen', 'exported', 'pruned'];

/** Position in the lifecycle: a shard only ever moves to a higher rank. */
export function stateRank(s: ShardState): number {
  const i = SHARD_STATES.indexOf(s);
  if (i < 0) throw new Error(`unknown shard state ${JSON.stringify(s)}`);
  return i;
}

/** A lifecycle command refused because of the shard's state (or name): exit code 1, message says why. */
export class LifecycleError extends Error {
  override name = 'LifecycleError';
}

/** Sunlight's grace: a shard stops accepting a week after its NotAfter window closed. */
export const DEFAULT_READ_ONLY_GRACE_MS = 7 * 86400_000;

const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** What the lifecycle columns of a shards row hold (migration 20261201000001). */
export interface ShardLifecycle {
  state: ShardState;
  stateChangedAt: number | undefined;
  exportDir: string | undefined;
  exportManifestSha256: Uint8Array | undefined;
  exportedAt: number | undefined;
}

export async function shardLifecycle(storage: LogStorage, shardId: number): Promise<ShardLifecycle> {
  const r = await storage.knex('shards')
    .where({ id: shardId })
    .first('state', 'state_changed_at', 'export_dir', 'export_manifest_sha256', 'exported_at')
    .catch((err: { code?: string; message?: string }) => {
      if (err.code === 'ER_BAD_FIELD_ERROR' || /no such column/.test(String(err.message))) {
        throw new LifecycleError('the database schema predates the shard lifecycle: run `ctlog migrate` (with the processes of the old version stopped)');
      }
      throw err;
    });
  if (!r) throw new LifecycleError(`no shard with id ${shardId}`);
  return {
    state: String(r.state) as ShardState,
    stateChangedAt: r.state_changed_at == null ? undefined : toIndex(r.state_changed_at, 'shards.state_changed_at'),
    exportDir: r.export_dir == null ? undefined : String(r.export_dir),
    exportManifestSha256: r.export_manifest_sha256 == null ? undefined : new Uint8Array(r.export_manifest_sha256 as Buffer),
    exportedAt: r.exported_at == null ? undefined : toIndex(r.exported_at, 'shards.exported_at'),
  };
}

/** The shard named, or a LifecycleError naming the shards that exist. */
export async function requireShard(storage: LogStorage, name: string): Promise<ShardRecord> {
  const s = await storage.getShard(name);
  if (s) return s;
  const names = (await storage.listShards()).map((x) => x.name);
  throw new LifecycleError(`no shard named "${name}" in the database${names.length ? ` (shards: ${names.join(', ')})` : ''}`);
}

/**
 * Moves the shard to `to` if its state is one of `from`; true when this call moved it.
 * Backward moves are refused whatever `from` says.
 */
export async function moveState(storage: LogStorage, shardId: number, from: readonly ShardState[], to: ShardState, now: number, extra: Record<string, unknown> = {}): Promise<boolean> {
  if (from.some((f) => stateRank(f) > stateRank(to))) throw new Error(`state ${to} is behind one of ${from.join(', ')}: shards never move backwards`);
  const n = await storage.knex('shards').where({ id: shardId }).whereIn('state', from as ShardState[]).update({ state: to, state_changed_at: now, ...extra });
  return n === 1;
}

/** When the automatic rule makes an active shard read-only: `grace` after its NotAfter limit. */
export function readOnlyDueAt(notAfterLimit: number, graceMs: number): number {
  return notAfterLimit + graceMs;
}

/**
 * The automatic rule: an active shard becomes read-only once `now` is past its NotAfter
 * limit plus the grace. Returns true when this call made the change.
 */
export async function applyReadOnlyRule(storage: LogStorage, shard: { id: number; notAfterLimit: number; graceMs: number }, now: number): Promise<boolean> {
  if (now < readOnlyDueAt(shard.notAfterLimit, shard.graceMs)) return false;
  return moveState(storage, shard.id, ['active'], 'read-only', now);
}

export interface FreezeResult {
  shard: string;
  /** The final signed tree head: never changes again. */
  head: TreeHead;
  /** False when the shard was already frozen (or later): nothing was signed. */
  changed: boolean;
}

/**
 * Freezes a shard: marks it read-only (if active), so no sequencer can commit to it any
 * more (every commit is conditional on state = 'active' and takes the shard row's lock: a
 * batch in flight either committed before this, and is in the final tree, or fails), then
 * signs a final STH over the tree as it stands and records it and state 'frozen' in one
 * conditional transaction. Idempotent: a frozen (or later) shard returns its final head
 * (then `signer` may be undefined).
 * `settleMs` waits between the two steps so that sequencers hear of the change and stop
 * their idle re-signing quietly (they would be refused anyway).
 */
export async function freezeShard(storage: LogStorage, name: string, signer: LogSigner | undefined, clock: () => number, opts: { settleMs?: number; onProgress?: (msg: string) => void } = {}): Promise<FreezeResult> {
  const shard = await requireShard(storage, name);
  if (stateRank(shard.state) >= stateRank('frozen')) return { shard: name, head: shard.head, changed: false };
  if (!signer) throw new LifecycleError(`shard ${name} is ${shard.state}: freezing signs a final STH, which needs the shard's key`);
  if (Buffer.compare(buf(signer.logId), buf(shard.logId)) !== 0) {
    throw new LifecycleError(`shard ${name}: the key file's log id is not the shard's; freeze needs the shard's own signing key`);
  }
  if (shard.state === 'active') {
    await moveState(storage, shard.id, ['active'], 'read-only', clock());
    opts.onProgress?.(`${name}: read-only; no new entries are committed from now on`);
  }
  if (opts.settleMs) await new Promise((r) => setTimeout(r, opts.settleMs));
  for (let attempt = 0; attempt < 10; attempt++) {
    const cur = await storage.getShard(name);
    if (!cur) throw new LifecycleError(`shard ${name} disappeared`);
    if (stateRank(cur.state) >= stateRank('frozen')) return { shard: name, head: cur.head, changed: false };
    const head: TreeHead = { treeSize: cur.head.treeSize, rootHash: cur.head.rootHash, timestamp: Math.max(clock(), cur.head.timestamp + 1), signature: new Uint8Array() };
    head.signature = await signer.signSth(head);
    const done = await storage.knex.transaction(async (trx) => {
      const n = await trx('shards')
        .where({ id: cur.id, state: 'read-only', tree_size: cur.head.treeSize, root_hash: buf(cur.head.rootHash), sth_timestamp: cur.head.timestamp })
        .update({ state: 'frozen', state_changed_at: clock(), sth_timestamp: head.timestamp, sth_signature: buf(head.signature) });
      if (n !== 1) return false;
      await trx('tree_heads').insert({ shard_id: cur.id, timestamp: head.timestamp, tree_size: head.treeSize, root_hash: buf(head.rootHash), signature: buf(head.signature) });
      return true;
    });
    if (done) return { shard: name, head, changed: true };
    // A sequencer's last idle STH landed between our read and our update: read again.
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new LifecycleError(`shard ${name}: its tree head kept moving; is a sequencer still writing to it?`);
}

/** Records a verified export and moves frozen -> exported (or updates an exported shard's record). */
export async function recordExport(storage: LogStorage, shardId: number, dir: string, manifestSha256: Uint8Array, now: number): Promise<void> {
  const ok = await moveState(storage, shardId, ['frozen', 'exported'], 'exported', now, { export_dir: dir, export_manifest_sha256: buf(manifestSha256), exported_at: now });
  if (!ok) throw new LifecycleError('the shard is no longer frozen or exported; the export was not recorded');
}

/** Bytes the database spends on one shard (or the whole file on SQLite), for prune reports. */
export interface ShardBytes {
  /** Data + index bytes of the shard's partitions (MariaDB) or of the whole database file (SQLite). */
  bytes: number;
  scope: 'shard partitions' | 'database file';
}

export async function shardBytes(storage: LogStorage, shardId: number, dataDir?: string): Promise<ShardBytes> {
  if (storage.dialect === 'mysql') {
    await storage.knex.raw('ANALYZE TABLE entries, tiles, tree_heads');
    const [rows] = (await storage.knex.raw(
      'SELECT COALESCE(SUM(data_length + index_length), 0) AS b FROM information_schema.partitions WHERE table_schema = DATABASE() AND partition_name = ?',
      [`s${shardId}`],
    )) as [Array<{ b: number | string }>];
    return { bytes: Number(rows[0]?.b ?? 0), scope: 'shard partitions' };
  }
  let bytes = 0;
  for (const f of ['ctlog.sqlite', 'ctlog.sqlite-wal']) {
    try {
      bytes += statSync(join(dataDir ?? '.', f)).size;
    } catch {
      // no WAL file: nothing to add
    }
  }
  return { bytes, scope: 'database file' };
}

async function hasPartition(knex: Knex, table: string, shardId: number): Promise<boolean> {
  const [rows] = (await knex.raw('SELECT 1 FROM information_schema.partitions WHERE table_schema = DATABASE() AND table_name = ? AND partition_name = ?', [table, `s${shardId}`])) as [unknown[]];
  return rows.length > 0;
}

/**
 * Gives the shard a partition of its own in each per-shard table (MariaDB); idempotent.
 * REORGANIZE of the DEFAULT partition, never ADD PARTITION: MariaDB's ADD hides rows of the
 * new value that sit in the DEFAULT partition, while REORGANIZE moves them (and copies only
 * that partition, which normally holds nothing).
 */
export async function ensureShardPartitions(knex: Knex, shardId: number, tables: readonly string[] = ['entries', 'tiles', 'tree_heads']): Promise<void> {
  if (knex.client.config.client !== 'mysql2') return;
  if (!Number.isSafeInteger(shardId) || shardId < 1) throw new Error(`bad shard id ${shardId}`);
  for (const table of tables) {
    if (await hasPartition(knex, table, shardId)) continue;
    await knex.raw(`ALTER TABLE ${table} REORGANIZE PARTITION p0 INTO (PARTITION p0 DEFAULT, PARTITION s${shardId} VALUES IN (${shardId}))`);
  }
}

/**
 * Deletes a pruned shard's entries, tiles and tree heads, keeping the shards row and one
 * tree_heads row: the final STH, which stays what get-sth answers. MariaDB drops the
 * shard's partition of each table (instant; the .ibd file is removed, and with it the
 * space); SQLite deletes in chunks and then VACUUMs, which rewrites the file without the
 * freed pages (it needs as much free disk as the database for a moment).
 */
export async function deleteShardRows(storage: LogStorage, shard: ShardRecord, onProgress?: (msg: string) => void): Promise<void> {
  const k = storage.knex;
  const final = shard.head;
  if (storage.dialect === 'mysql') {
    for (const table of ['entries', 'tiles', 'tree_heads']) {
      if (await hasPartition(k, table, shard.id)) {
        await k.raw(`ALTER TABLE ${table} DROP PARTITION s${shard.id}`);
        onProgress?.(`dropped partition s${shard.id} of ${table}`);
      }
      // Rows in the DEFAULT partition (a shard without one of its own): deleted in chunks.
      for (;;) {
        const n = await k(table).where({ shard_id: shard.id }).limit(20_000).del();
        if (n === 0) break;
        onProgress?.(`deleted ${n} rows of ${table} from the default partition`);
      }
    }
    // The shard keeps a partition of tree_heads for its final STH.
    await ensureShardPartitions(k, shard.id, ['tree_heads']);
  } else {
    const CHUNK = 20_000;
    for (const table of ['entries', 'tiles', 'tree_heads']) {
      let total = 0;
      for (;;) {
        const n = await k.raw(`DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE shard_id = ? LIMIT ${CHUNK})`, [shard.id]);
        const changes = (n as { changes?: number }).changes ?? 0;
        total += changes;
        if (changes < CHUNK) break;
        onProgress?.(`deleted ${total} rows of ${table}`);
      }
      onProgress?.(`deleted ${total} rows of ${table}`);
    }
  }
  await k('tree_heads')
    .insert({ shard_id: shard.id, timestamp: final.timestamp, tree_size: final.treeSize, root_hash: buf(final.rootHash), signature: buf(final.signature) })
    .onConflict(['shard_id', 'timestamp'])
    .ignore();
  if (storage.dialect === 'sqlite') {
    onProgress?.('VACUUM: rewriting the database file without the freed pages');
    await k.raw('VACUUM');
    await k.raw('PRAGMA wal_checkpoint(TRUNCATE)');
  }
}


/**
 * shards.yaml may declare a state; the database's is the truth. A declared state behind the
 * database's (frozen -> active) is refused: the config would ask for a fork or a lost
 * freeze. One ahead is applied: read-only at once; frozen is returned for the caller with
 * the signing key (the sequencer) to freeze properly. Undeclared states follow the database.
 */
export async function reconcileDeclaredStates(
  storage: LogStorage,
  shards: ReadonlyArray<{ name: string; state: 'active' | 'read-only' | 'frozen'; stateDeclared?: boolean }>,
  now: number,
  file = 'shards.yaml',
): Promise<{ toFreeze: string[] }> {
  const toFreeze: string[] = [];
  for (const cfg of shards) {
    if (!cfg.stateDeclared) continue;
    const rec = await storage.getShard(cfg.name);
    if (!rec) continue;
    if (stateRank(cfg.state) < stateRank(rec.state)) {
      throw new LifecycleError(
        `${file}: shard ${cfg.name} declares state: ${cfg.state}, but the database has it ${rec.state}; a shard never moves backwards (active -> read-only -> frozen -> exported -> pruned). Set state: ${rec.state === 'read-only' ? 'read-only' : 'frozen'} or remove the state: line`,
      );
    }
    if (cfg.state === 'read-only' && rec.state === 'active') await moveState(storage, rec.id, ['active'], 'read-only', now);
    if (cfg.state === 'frozen' && stateRank(rec.state) < stateRank('frozen')) toFreeze.push(cfg.name);
  }
  return { toFreeze };
}
