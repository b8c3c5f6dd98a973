// get-entries bodies and static-ct-api data tiles, built from one range read each. Full,
// aligned ranges below the tree size never change, so their serialized bytes are kept in an
// LRU (docs/PERFORMANCE.md: pre-serialized pages serve 3-4x more entries/s than serializing per
// request). Identical builds in flight are shared, and builds that go to the database are
// limited in number, since many large concurrent reads only raise everyone's latency.
import pLimit, { type LimitFunction } from 'p-limit';
import { TILE_WIDTH } from '../merkle/index.js';
import type { EntryRecord } from '../storage/log-storage.js';
import { b64, hex } from '../util/bytes.js';
import { notFound, unavailable } from '../util/errors.js';
import { ByteLru } from './byte-lru.js';
import type { IssuerCache } from './issuer-cache.js';
import type { ShardReader } from './shard-reader.js';
import { extraData, rebuildEntry, tileLeaf, type RebuiltEntry } from './stored-entry.js';
import type { LeafRebuilders } from '../x509/index.js';

/** head + parts joined by sep + tail, as one buffer; every string must be ASCII. */
function asciiJoin(head: string, parts: string[], sep: string, tail: string): Buffer {
  let n = head.length + tail.length + Math.max(0, parts.length - 1) * sep.length;
  for (const p of parts) n += p.length;
  const out = Buffer.allocUnsafe(n);
  let at = out.write(head, 0, 'latin1');
  parts.forEach((p, i) => {
    if (i > 0) at += out.write(sep, at, 'latin1');
    at += out.write(p, at, 'latin1');
  });
  out.write(tail, at, 'latin1');
  return out;
}

export interface EntryPagesOptions {
  /** Bytes of serialized full get-entries pages kept, all shards together. */
  pageCacheBytes: number;
  /** Bytes of full data tiles kept, all shards together. */
  dataTileCacheBytes: number;
  /** Range reads running at once; more wait. */
  maxConcurrentBuilds: number;
  /** Range reads waiting for a turn; beyond, a request gets 503 + Retry-After. */
  maxWaitingBuilds: number;
  /** The leaf rebuild code (src/x509/leaf-rebuild.ts); tests inject other versions. @defaultValue LEAF_REBUILDERS */
  rebuilders?: LeafRebuilders;
}

export class EntryPages {
  readonly #pages: ByteLru<Buffer>;
  readonly #dataTiles: ByteLru<Buffer>;
  /** base64 X509ChainEntry by chain (fingerprints in hex, concatenated). */
  readonly #chains = new ByteLru<string>(16 * 1024 * 1024, (s) => s.length);
  readonly #inflight = new Map<string, Promise<Buffer>>();
  readonly #builds: LimitFunction;
  readonly #maxWaiting: number;
  readonly #rebuilders: LeafRebuilders | undefined;

  constructor(
    private readonly issuers: IssuerCache,
    opts: EntryPagesOptions,
  ) {
    this.#pages = new ByteLru(opts.pageCacheBytes, (b) => b.byteLength);
    this.#dataTiles = new ByteLru(opts.dataTileCacheBytes, (b) => b.byteLength);
    this.#builds = pLimit(opts.maxConcurrentBuilds);
    this.#maxWaiting = opts.maxWaitingBuilds;
    this.#rebuilders = opts.rebuilders;
  }

  /**
   * The get-entries body (RFC 6962 §4.6) for entries [start, end] inclusive, all of which
   * exist. `immutable` marks a full page aligned to the cap: it is cached.
   */
  async entries(shard: ShardReader, start: number, end: number, immutable: boolean): Promise<Buffer> {
    const key = `${shard.rt.id}/e/${start}/${end}`;
    if (immutable) {
      const hit = this.#pages.get(key);
      if (hit) return hit;
    }
    return this.#shared(key, async () => {
      const rows = await shard.entries(start, end + 1);
      const issuers = await this.issuers.getMany(rows.flatMap((r) => r.chain));
      // Built as text: base64 needs no JSON escaping, and this is several times faster
      // than JSON.stringify over objects. Each entry's text is copied into one buffer
      // (ASCII, so latin1 is a plain copy) rather than joined into one huge string first.
      const parts = rows.map((e) => {
        const r = rebuildEntry(e, issuers, this.#rebuilders);
        return `{"leaf_input":"${b64(r.leaf)}","extra_data":"${this.#extraDataB64(e, r)}"}`;
      });
      const body = asciiJoin('{"entries":[', parts, ',', ']}');
      if (immutable) this.#pages.set(key, body);
      return body;
    });
  }

  /**
   * The static-ct-api data tile `index` of `width` entries: concatenated TileLeafs of
   * entries [256 * index, 256 * index + width). 404 unless every one of them exists.
   */
  async dataTile(shard: ShardReader, index: number, width: number): Promise<Buffer> {
    const key = `${shard.rt.id}/d/${index}/${width}`;
    const full = width === TILE_WIDTH;
    if (full) {
      const hit = this.#dataTiles.get(key);
      if (hit) return hit;
    }
    return this.#shared(key, async () => {
      const start = index * TILE_WIDTH;
      const rows = await shard.entries(start, start + width);
      if (rows.length < width) throw notFound('no_tile', `data tile ${index} of width ${width} does not exist yet (the tree has ${start + rows.length} entries or fewer)`);
      const issuers = await this.issuers.getMany(rows.flatMap((r) => r.chain));
      const body = Buffer.concat(rows.map((e) => tileLeaf(e, rebuildEntry(e, issuers, this.#rebuilders))));
      if (full) this.#dataTiles.set(key, body);
      return body;
    });
  }

  /**
   * base64 extra_data. An x509 entry's extra_data is its chain alone, shared by every entry
   * with that chain (and chains are few), so its base64 is kept: it is most of a page.
   */
  #extraDataB64(e: EntryRecord, r: RebuiltEntry): string {
    if (e.entryType !== 0) return b64(extraData(e, r));
    const key = e.chain.map(hex).join('');
    let s = this.#chains.get(key);
    if (s === undefined) {
      s = b64(extraData(e, r));
      this.#chains.set(key, s);
    }
    return s;
  }

  #shared(key: string, build: () => Promise<Buffer>): Promise<Buffer> {
    let p = this.#inflight.get(key);
    if (!p) {
      // Every in-flight build is running or waiting in the limiter, so bounding the waiters
      // bounds this map too.
      if (this.#builds.pendingCount >= this.#maxWaiting) {
        return Promise.reject(unavailable(503, 'busy', 'too many range reads waiting; retry shortly', 1));
      }
      p = this.#builds(build).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    return p;
  }

  clear(): void {
    this.#pages.clear();
    this.#dataTiles.clear();
    this.#chains.clear();
  }
}
