// Serving a pruned shard from its export directory: the same questions LogStorage answers
// (tree head, hash tiles, entries, leaf-hash lookups, issuers), answered from the files, so
// the read endpoints give byte-for-byte the answers they gave from the database. Every file
// is checked against its SHA-256 in the manifest before use, and the manifest against the
// hash recorded in the database at export: a changed file is a 500 naming it, never a
// wrong answer. Checked files are kept in a bounded LRU.
import { LEAF_REBUILDERS } from '../x509/index.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HASH_SIZE, TILE_WIDTH, dataTilePath, tileKey, tilePath } from '../merkle/index.js';
import { verifySth } from '../signing/index.js';
import type { EntryRecord, TreeHead } from '../storage/log-storage.js';
import { decodeDataTile } from '../tls/index.js';
import { b64, equal, hex } from '../util/bytes.js';
import { CtError } from '../util/errors.js';
import { ByteLru } from './byte-lru.js';
import { FORMAT, LEAF_RECORD, MANIFEST, bucketOf, bucketPath, headOfManifest, sha256, tileWidthIn, type ExportManifest } from './export-format.js';
import type { ShardStore } from './shard-store.js';

const NO_IDENTITY = new Uint8Array(32);

export class ExportStore implements ShardStore {
  readonly #files: ByteLru<Buffer>;
  readonly #head: TreeHead;

  private constructor(
    readonly dir: string,
    readonly manifest: ExportManifest,
    cacheBytes: number,
  ) {
    this.#files = new ByteLru(cacheBytes, (b) => b.byteLength);
    this.#head = headOfManifest(manifest);
  }

  /**
   * Opens an export for serving: the manifest must hash to `manifestSha256` (recorded when
   * the export was verified), be of this log, and carry a final STH signed by its key.
   */
  static async open(dir: string, expect: { logId: Uint8Array; publicKey: Uint8Array; manifestSha256?: Uint8Array; cacheBytes?: number }): Promise<ExportStore> {
    let text: Buffer;
    try {
      text = await readFile(join(dir, MANIFEST));
    } catch (err) {
      throw new Error(`${dir}: no readable ${MANIFEST} (${(err as Error).message}); is the export there?`);
    }
    if (expect.manifestSha256 && !equal(sha256(text), expect.manifestSha256)) throw new Error(`${dir}/${MANIFEST} is not the manifest recorded at export (changed afterwards)`);
    const m = JSON.parse(text.toString('utf8')) as ExportManifest;
    if (m.format !== FORMAT) throw new Error(`${dir}: unknown export format ${JSON.stringify(m.format)}`);
    if (m.log_id !== b64(expect.logId)) throw new Error(`${dir}: an export of log ${m.log_id}, not of ${b64(expect.logId)}`);
    const head = headOfManifest(m);
    if (!verifySth(expect.publicKey, head, head.signature)) throw new Error(`${dir}: the manifest's final STH does not verify under the shard key`);
    return new ExportStore(dir, m, expect.cacheBytes ?? 64 * 1024 * 1024);
  }

  /** A file of the export, checked against the manifest; undefined if the export has no such file. */
  async #file(path: string): Promise<Buffer | undefined> {
    const hit = this.#files.get(path);
    if (hit) return hit;
    const want = this.manifest.files[path];
    if (want === undefined) return undefined;
    let data: Buffer;
    try {
      data = await readFile(join(this.dir, path));
    } catch (err) {
      throw new CtError(500, 'export_unreadable', `export of shard ${this.manifest.shard}: cannot read ${path}`, { cause: err });
    }
    if (sha256(data).toString('hex') !== want) {
      throw new CtError(500, 'export_tampered', `export of shard ${this.manifest.shard}: ${path} does not match its SHA-256 in the manifest; restore the export (ctlog shard export --verify-only names every bad file)`);
    }
    this.#files.set(path, data);
    return data;
  }

  async currentHead(): Promise<TreeHead> {
    return this.#head;
  }

  async readTiles(_shardId: number, ids: Array<{ level: number; index: number }>): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    const size = this.#head.treeSize;
    await Promise.all(
      ids.map(async (t) => {
        const width = tileWidthIn(size, t.level, t.index);
        if (width === 0) return;
        const data = await this.#file(tilePath({ level: t.level, index: t.index, width }));
        if (data) out.set(tileKey(t.level, t.index), data);
      }),
    );
    return out;
  }

  async readEntries(_shardId: number, start: number, end: number): Promise<EntryRecord[]> {
    const size = this.#head.treeSize;
    end = Math.min(end, size);
    const out: EntryRecord[] = [];
    for (let t = Math.floor(start / TILE_WIDTH); t * TILE_WIDTH < end; t++) {
      const first = t * TILE_WIDTH;
      const width = Math.min(TILE_WIDTH, size - first);
      const data = await this.#file(dataTilePath(t, width));
      const hashes = await this.#file(tilePath({ level: 0, index: t, width }));
      if (!data || !hashes) throw new CtError(500, 'export_incomplete', `export of shard ${this.manifest.shard} lacks tile ${t}`);
      const leaves = decodeDataTile(data);
      for (let i = Math.max(0, start - first); i < leaves.length && first + i < end; i++) {
        const e = leaves[i]!;
        out.push({
          idx: first + i,
          leafHash: hashes.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE),
          identity: NO_IDENTITY,
          timestamp: e.entry.timestamp,
          entryType: e.entry.entry.type === 'x509' ? 0 : 1,
          // The export does not record each entry's rebuild version; every entry so far was
          // logged with version 1, the only one. The read path checks every rebuilt leaf
          // against the exported leaf hash, so a mismatch would be a 500, never other bytes.
          rebuild: LEAF_REBUILDERS.current,
          cert: e.entry.entry.type === 'x509' ? e.entry.entry.certificate : e.preCertificate!,
          chain: e.chainFingerprints,
        });
      }
    }
    return out;
  }

  async findIndexesByLeafHashes(_shardId: number, leafHashes: Uint8Array[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const digits = this.manifest.leaf_index.prefix_hex_digits;
    for (const h of leafHashes) {
      const bucket = await this.#file(bucketPath(bucketOf(h, digits)));
      if (!bucket) continue;
      const key = Buffer.from(h.buffer, h.byteOffset, h.byteLength);
      let lo = 0;
      let hi = bucket.byteLength / LEAF_RECORD;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const c = Buffer.compare(bucket.subarray(mid * LEAF_RECORD, mid * LEAF_RECORD + 32), key);
        if (c === 0) {
          out.set(hex(h), Number(bucket.readBigUInt64BE(mid * LEAF_RECORD + 32)));
          break;
        }
        if (c < 0) lo = mid + 1;
        else hi = mid;
      }
    }
    return out;
  }

  async readIssuers(fingerprints: Uint8Array[]): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    for (const f of fingerprints) {
      const der = await this.#file(`issuer/${hex(f)}`);
      if (der) out.set(hex(f), der);
    }
    return out;
  }
}
