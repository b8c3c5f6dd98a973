// What the read endpoints of one shard share: the current tree head (briefly cached), the
// hash tiles proofs are assembled from (full tiles kept in an LRU, since they never
// change), and the entries behind get-entries and data tiles.
import {
  HASH_SIZE, TILE_WIDTH, TileHashCache, assemble, planConsistency, planInclusion, planNodes, tileKey, tilesForNodes,
  type ProofPlan, type TileSource,
} from '../merkle/index.js';
import type { EntryRecord, LogStorage, TreeHead } from '../storage/log-storage.js';
import type { ShardRuntime } from '../http/shard-runtime.js';
import { CtError } from '../util/errors.js';
import { ByteLru } from './byte-lru.js';

const FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE;

export interface ShardReaderOptions {
  /** How long a read of the shard's tree head is reused (ms). */
  headTtlMs: number;
  /** Bytes of full hash tiles kept in memory for this shard. */
  tileCacheBytes: number;
  clock: () => number;
}

export class ShardReader {
  readonly #tiles: ByteLru<Uint8Array>;
  /** Interior nodes of tiles, memoised per tile buffer: the LRU hands back the same buffers. */
  readonly hashes = new TileHashCache();
  #head: { head: TreeHead; at: number } | undefined;
  #headRead: Promise<TreeHead> | undefined;

  constructor(
    readonly rt: ShardRuntime,
    private readonly storage: LogStorage,
    private readonly opts: ShardReaderOptions,
  ) {
    this.#tiles = new ByteLru(opts.tileCacheBytes, (t) => t.byteLength);
  }

  /**
   * The shard's current signed tree head. `fresh` reads the database (joining a read
   * already in flight); otherwise a head read in the last headTtlMs is reused. Tree heads
   * only move forward, so a reused head is an older, still valid STH.
   */
  async head(fresh = false): Promise<TreeHead> {
    const now = this.opts.clock();
    if (!fresh && this.#head && now - this.#head.at < this.opts.headTtlMs) return this.#head.head;
    this.#headRead ??= this.storage
      .currentHead(this.rt.id)
      .then((h) => {
        // Concurrent reads may complete out of order: never step back to a smaller head.
        if (!this.#head || h.treeSize >= this.#head.head.treeSize) this.#head = { head: h, at: now };
        return this.#head.head;
      })
      .finally(() => {
        this.#headRead = undefined;
      });
    return this.#headRead;
  }

  /**
   * A head whose tree has at least `size` entries if the log has one: the cached head, or
   * a fresh read when the cached one is smaller (a client may have just received an SCT
   * for an entry the cached head does not cover yet).
   */
  async headCovering(size: number): Promise<TreeHead> {
    const h = await this.head();
    return h.treeSize >= size ? h : this.head(true);
  }

  /**
   * The fetch step of plan, fetch, assemble: full tiles come from the LRU, the rest from
   * one storage read. Partial tiles are used for this request only (they grow).
   */
  async tileSource(plan: ProofPlan): Promise<TileSource> {
    const want = tilesForNodes(planNodes(plan));
    const got = new Map<string, Uint8Array>();
    const missing: Array<{ level: number; index: number }> = [];
    for (const t of want) {
      const key = tileKey(t.level, t.index);
      const cached = this.#tiles.get(key);
      if (cached) got.set(key, cached);
      else missing.push({ level: t.level, index: t.index });
    }
    if (missing.length > 0) {
      const read = await this.storage.readTiles(this.rt.id, missing);
      for (const [key, data] of read) {
        got.set(key, data);
        if (data.byteLength === FULL_TILE_BYTES) this.#tiles.set(key, data);
      }
    }
    return (level, index) => got.get(tileKey(level, index));
  }

  /** Assembles a plan against the stored tiles; a tile that is missing or too narrow is our fault (500). */
  async prove(plan: ProofPlan, what: string): Promise<Uint8Array[]> {
    if (plan.elements.length === 0) return [];
    const tiles = await this.tileSource(plan);
    try {
      return assemble(plan, tiles, this.hashes);
    } catch (err) {
      throw new CtError(500, 'missing_tile', `couldn't assemble the ${what} of shard ${this.rt.config.name}: ${(err as Error).message}`, { cause: err });
    }
  }

  inclusion(index: number, treeSize: number): Promise<Uint8Array[]> {
    return this.prove(planInclusion(index, treeSize), `inclusion proof of ${index} in ${treeSize}`);
  }

  consistency(first: number, second: number): Promise<Uint8Array[]> {
    return this.prove(planConsistency(first, second), `consistency proof ${first} -> ${second}`);
  }

  /** Hash tile (level, index) as stored now, from the LRU when full; undefined if absent. */
  async hashTile(level: number, index: number): Promise<Uint8Array | undefined> {
    const key = tileKey(level, index);
    const cached = this.#tiles.get(key);
    if (cached) return cached;
    const data = (await this.storage.readTiles(this.rt.id, [{ level, index }])).get(key);
    if (data && data.byteLength === FULL_TILE_BYTES) this.#tiles.set(key, data);
    return data;
  }

  /** Entries [start, end) that exist, in one query. Rows must be consecutive from start. */
  async entries(start: number, end: number): Promise<EntryRecord[]> {
    const rows = await this.storage.readEntries(this.rt.id, start, end);
    rows.forEach((r, i) => {
      if (r.idx !== start + i) throw new CtError(500, 'missing_entry', `shard ${this.rt.config.name}: entry ${start + i} is missing from storage (found ${r.idx})`);
    });
    return rows;
  }

  /** The entry with this leaf hash, if the log holds one. */
  findByLeafHash(hash: Uint8Array): Promise<EntryRecord | undefined> {
    return this.storage.findByLeafHash(this.rt.id, hash);
  }

  clear(): void {
    this.#tiles.clear();
    this.#head = undefined;
  }
}
