// What the read endpoints of one shard share: the current tree head (briefly cached), the
// hash tiles proofs are assembled from (kept in an LRU: full tiles never change, and a
// partial tile's prefix never changes), and the entries behind get-entries and data tiles.
import {
  HASH_SIZE, TileHashCache, assemble, planConsistency, planInclusion, planNodes, tileKey, tilesForNodes,
  type ProofPlan, type TileSource,
} from '../merkle/index.js';
import type { EntryRecord, TreeHead } from '../storage/log-storage.js';
import type { ShardStore } from './shard-store.js';
import type { ShardRuntime } from '../http/shard-runtime.js';
import { CtError, unavailable } from '../util/errors.js';
import { ByteLru } from './byte-lru.js';
import { LeafIndexBatcher } from './leaf-index-batcher.js';

export interface ShardReaderOptions {
  /** How long a read of the shard's tree head is reused (ms). */
  headTtlMs: number;
  /** Bytes of hash tiles kept in memory for this shard. */
  tileCacheBytes: number;
  clock: () => number;
  /**
   * Tells the other processes serving this shard's reads (a worker group) that a head of
   * this size is about to be served, and resolves once they will not serve a smaller one
   * (src/bin/workers.ts). Without it, only this process's own answers are monotonic.
   */
  announce?: (treeSize: number) => Promise<void>;
}

export class ShardReader {
  readonly #tiles: ByteLru<Uint8Array>;
  /** Interior nodes of tiles, memoised per tile buffer: the LRU hands back the same buffers. */
  readonly hashes = new TileHashCache();
  #head: { head: TreeHead; at: number } | undefined;
  #headRead: Promise<TreeHead> | undefined;
  /** Set while the database is behind the largest head served: its tree size. */
  #behind: number | undefined;
  /** The largest tree another process of the group has served (raiseFloor). */
  #floor = 0;
  /** The largest tree size announced to the group. */
  #announced = 0;
  readonly #leaves: LeafIndexBatcher;

  constructor(
    readonly rt: ShardRuntime,
    private readonly storage: ShardStore,
    private readonly opts: ShardReaderOptions,
  ) {
    this.#tiles = new ByteLru(opts.tileCacheBytes, (t) => t.byteLength);
    this.#leaves = new LeafIndexBatcher(storage, rt.id);
  }

  /**
   * The shard's current signed tree head. `fresh` reads the database (joining a read
   * already in flight); otherwise a head read in the last headTtlMs is reused. Tree heads
   * only move forward, so a reused head is an older, still valid STH.
   *
   * A read server never serves a smaller tree than one it already served, and never an STH
   * whose entries and tiles its database does not hold. So when its database answers a
   * smaller head than one served before (it was pointed at a replica further behind, or
   * a failover moved it), every read answers 503 + Retry-After until the database catches
   * up again: the load balancer's readiness check takes it out meanwhile.
   */
  async head(fresh = false): Promise<TreeHead> {
    const now = this.opts.clock();
    const cached = this.#head;
    if (!fresh && !this.#behind && cached && now - cached.at < this.opts.headTtlMs && cached.head.treeSize >= this.#floor) return cached.head;
    this.#headRead ??= this.storage
      .currentHead(this.rt.id)
      .then(async (first) => {
        // A read that began before the group's floor was raised may return less: read again.
        const h = first.treeSize < this.#floor ? await this.storage.currentHead(this.rt.id) : first;
        const served = Math.max(this.#head?.head.treeSize ?? 0, this.#floor);
        if (h.treeSize < served) {
          this.#behind = h.treeSize;
          throw unavailable(503, 'replica_behind', `this read server's database holds ${h.treeSize} entries of shard ${this.rt.config.name}, fewer than the tree head of size ${served} it already served; retry`, 1);
        }
        this.#behind = undefined;
        // Concurrent reads may complete out of order: never step back to a smaller head.
        if (!this.#head || h.treeSize >= this.#head.head.treeSize) this.#head = { head: h, at: now };
        const size = this.#head.head.treeSize;
        if (this.opts.announce && size > this.#announced) {
          await this.opts.announce(size);
          this.#announced = Math.max(this.#announced, size);
        }
        return this.#head.head;
      })
      .finally(() => {
        this.#headRead = undefined;
      });
    return this.#headRead;
  }

  /**
   * Another process of the group is about to serve a tree of this size: from now on this
   * one serves no smaller tree (the next head() reads the database again if its cached
   * head is smaller).
   */
  raiseFloor(treeSize: number): void {
    if (treeSize > this.#floor) this.#floor = treeSize;
  }

  /** The database's tree size when it is behind a head already served (see head()); undefined otherwise. */
  get behind(): number | undefined {
    return this.#behind;
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
   * The fetch step of plan, fetch, assemble: tiles come from the LRU when the cached copy
   * is wide enough, the rest from one storage read.
   *
   * Right-edge partial tiles are cached too, keyed like full ones, and used only for
   * requests that need no more than their width. That is safe because a tile is
   * prefix-stable (its first W hashes never change as it grows), and it matters: without
   * it every proof at the current size re-reads the edge tiles and rehashes up to ~255
   * interior nodes in each, since the memo is keyed by the buffer. A wider read replaces
   * the cached copy, so the edge costs one read and one rehash per new tree size.
   */
  async tileSource(plan: ProofPlan): Promise<TileSource> {
    const got = new Map<string, Uint8Array>();
    const missing: Array<{ level: number; index: number }> = [];
    for (const t of tilesForNodes(planNodes(plan))) {
      const key = tileKey(t.level, t.index);
      const cached = this.#tiles.get(key);
      if (cached && cached.byteLength >= t.minWidth * HASH_SIZE) got.set(key, cached);
      else missing.push({ level: t.level, index: t.index });
    }
    if (missing.length > 0) {
      const read = await this.storage.readTiles(this.rt.id, missing);
      for (const [key, data] of read) got.set(key, this.#keep(key, data));
    }
    return (level, index) => got.get(tileKey(level, index));
  }

  /** Caches a tile read from storage unless a wider copy is cached; returns the copy to use. */
  #keep(key: string, data: Uint8Array): Uint8Array {
    const cached = this.#tiles.get(key);
    if (cached && cached.byteLength >= data.byteLength) return cached;
    this.#tiles.set(key, data);
    return data;
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

  /**
   * Hash tile (level, index) as stored, when it has at least `width` hashes: from the LRU
   * when the cached copy is wide enough, else read. Undefined if absent or narrower.
   */
  async hashTile(level: number, index: number, width: number): Promise<Uint8Array | undefined> {
    const key = tileKey(level, index);
    const cached = this.#tiles.get(key);
    if (cached && cached.byteLength >= width * HASH_SIZE) return cached;
    const data = (await this.storage.readTiles(this.rt.id, [{ level, index }])).get(key);
    if (!data) return undefined;
    const kept = this.#keep(key, data);
    return kept.byteLength >= width * HASH_SIZE ? kept : undefined;
  }

  /** Entries [start, end) that exist, in one query. Rows must be consecutive from start. */
  async entries(start: number, end: number): Promise<EntryRecord[]> {
    const rows = await this.storage.readEntries(this.rt.id, start, end);
    rows.forEach((r, i) => {
      if (r.idx !== start + i) throw new CtError(500, 'missing_entry', `shard ${this.rt.config.name}: entry ${start + i} is missing from storage (found ${r.idx})`);
    });
    return rows;
  }

  /** The index of the entry with this leaf hash, if the log holds one (lookups are batched). */
  indexOfLeaf(hash: Uint8Array): Promise<number | undefined> {
    return this.#leaves.indexOf(hash);
  }

  clear(): void {
    this.#tiles.clear();
    this.#head = undefined;
  }
}
