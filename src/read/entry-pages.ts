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
import { chainOf, rebuildEntry, rebuildWithChain, tileLeaf } from './stored-entry.js';
import { encodeX509ChainEntry } from '../tls/index.js';
import type { IssuerCert } from './issuer-cache.js';
import type { LeafRebuilders } from '../x509/index.js';

/** The concatenation of ASCII strings and ASCII bytes, as one buffer (no rope to flatten). */
function asciiConcat(parts: Array<string | Buffer>): Buffer {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = Buffer.allocUnsafe(n);
  let at = 0;
  for (const p of parts) at += typeof p === 'string' ? out.write(p, at, 'latin1') : p.copy(out, at);
  return out;
}

/**
 * One chain as pages use it: its certificates, and the base64 of its certificate_chain
 * vector (RFC 6962 §4.6) from byte 0, 1 or 2 on. That vector is an x509 entry's whole
 * extra_data and the tail of a precert's, and most of a page's bytes: with it encoded once
 * per chain, an entry only encodes its own certificate. A precert's head (3 + DER bytes)
 * is topped up to a multiple of 3 with the first bytes of the vector, so the two base64
 * texts join with no padding in between.
 */
export class ChainText {
  readonly #vector: Buffer;
  /** As ASCII bytes: copying bytes into a page is cheaper than writing a string. */
  readonly #b64: Buffer[];
  constructor(readonly certs: IssuerCert[]) {
    const v = encodeX509ChainEntry(certs.map((c) => c.der));
    this.#vector = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    this.#b64 = [0, 1, 2].map((skip) => Buffer.from(this.#vector.toString('base64', skip), 'latin1'));
  }

  /** base64 of the vector from byte `skip` (0-2) on. */
  vectorB64(skip: number): Buffer {
    return this.#b64[skip]!;
  }

  /** base64 of a precert entry's PrecertChainEntry: its certificate, then this chain. */
  precertB64(cert: Uint8Array): [string, Buffer] {
    const headLength = 3 + cert.byteLength;
    const skip = Math.min((3 - (headLength % 3)) % 3, this.#vector.length);
    const head = Buffer.allocUnsafe(headLength + skip);
    head[0] = cert.byteLength >>> 16;
    head[1] = (cert.byteLength >>> 8) & 0xff;
    head[2] = cert.byteLength & 0xff;
    head.set(cert, 3);
    this.#vector.copy(head, headLength, 0, skip);
    return [head.toString('base64'), this.vectorB64(skip)];
  }

  /** Bytes held: the vector, its three texts and (shared with the issuer cache) the DERs. */
  get size(): number {
    return 2 * this.#vector.length + this.#b64.reduce((n, s) => n + s.length, 0) + 200;
  }
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
  /** Chains by their fingerprints (hex, concatenated). */
  readonly #chains = new ByteLru<ChainText>(32 * 1024 * 1024, (c) => c.size);
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
      const chains = await this.#chainsOf(rows);
      // Built as text: base64 needs no JSON escaping, and this is several times faster
      // than JSON.stringify over objects. The pieces are copied into one buffer (ASCII, so
      // latin1 is a plain copy) rather than joined into one huge string first.
      const parts: Array<string | Buffer> = ['{"entries":['];
      rows.forEach((e, i) => {
        const chain = chains[i]!;
        const r = rebuildWithChain(e, chain.certs, this.#rebuilders);
        parts.push(i === 0 ? '{"leaf_input":"' : ',{"leaf_input":"', b64(r.leaf), '","extra_data":"');
        if (e.entryType === 0) parts.push(chain.vectorB64(0));
        else parts.push(...chain.precertB64(e.cert));
        parts.push('"}');
      });
      parts.push(']}');
      const body = asciiConcat(parts);
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
   * The chain of each row. Chains are few: a page's rows share a handful, each looked up
   * once, and issuers are fetched only for chains not seen before.
   */
  async #chainsOf(rows: EntryRecord[]): Promise<ChainText[]> {
    const keys = rows.map((e) => e.chain.map(hex).join(''));
    // The LRU is asked once per distinct chain of the page, not once per row.
    const seen = new Map<string, ChainText | undefined>();
    const out = keys.map((k) => {
      if (!seen.has(k)) seen.set(k, this.#chains.get(k));
      return seen.get(k);
    });
    const missing = rows.filter((_, i) => out[i] === undefined);
    if (missing.length === 0) return out as ChainText[];
    const issuers = await this.issuers.getMany(missing.flatMap((r) => r.chain));
    return rows.map((e, i) => {
      let c = out[i] ?? seen.get(keys[i]!);
      if (!c) {
        c = new ChainText(chainOf(e, issuers));
        seen.set(keys[i]!, c);
        this.#chains.set(keys[i]!, c);
      }
      return c;
    });
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
