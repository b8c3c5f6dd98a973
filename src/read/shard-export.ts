// `ctlog shard export`: writes a frozen shard as a static-ct-api tree (export-format.ts)
// and verifies it from the files alone: the tree rebuilt from the data tiles must give the
// final STH's root and every exported hash tile, the leaf index must map every leaf hash to
// its index, the checkpoint must be the final STH's. Resumable: files are written under a
// temporary name and renamed, deterministic, and kept on a rerun; the manifest comes last.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EMPTY_ROOT, TILE_WIDTH, appendLeaves, dataTilePath, emptyEdge, tilePath, tilesForSize, type RightEdge } from '../merkle/index.js';
import { verifySth } from '../signing/index.js';
import type { LogStorage, ShardRecord, TreeHead } from '../storage/log-storage.js';
import { decodeCtExtensions, decodeDataTileAt, signedCheckpoint } from '../tls/index.js';
import { b64, equal, hex } from '../util/bytes.js';
import {
  FORMAT, IN_PROGRESS, LEAF_RECORD, MANIFEST, allBuckets, bucketOf, bucketPath, expectedPaths, headOfManifest, prefixDigits, sha256, sthJson,
  tileWidthIn, type ExportManifest,
} from './export-format.js';
import { IssuerCache } from './issuer-cache.js';
import { rebuildEntry, tileLeaf } from './stored-entry.js';

export interface ExportProgress {
  phase: 'hash tiles' | 'data tiles' | 'issuers' | 'leaf index' | 'verify';
  done: number;
  total: number;
}

export class ExportError extends Error {
  override name = 'ExportError';
}

/** Writes `data` to `path` via a temporary file and a rename: a file under its final name is always whole. */
function writeAtomic(path: string, data: Uint8Array | string, durable = false): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  if (durable) {
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** The leaf hash of a TileLeaf's TimestampedEntry: SHA-256(0x00 || version 0 || leaf type 0 || entry). */
function tileLeafHash(tile: Uint8Array, start: number, entryEnd: number): Buffer {
  return sha256(Buffer.concat([Buffer.from([0, 0, 0]), tile.subarray(start, entryEnd)]));
}

/** Files an interrupted run left under a temporary name (never under a final one). */
function removeTemporaries(dir: string): void {
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    if (/\.tmp-\d+$/.test(name)) rmSync(join(dir, name), { force: true });
  }
}

export interface ExportOptions {
  storage: LogStorage;
  shard: ShardRecord;
  origin: string;
  dir: string;
  onProgress?: (p: ExportProgress) => void;
  /** Entries read per database query. @defaultValue 4096 */
  chunk?: number;
}

export interface ExportResult {
  manifest: ExportManifest;
  manifestSha256: Uint8Array;
  /** False when a complete, verified export of the same final tree was already there. */
  written: boolean;
  resumed: boolean;
}

/**
 * Decides what to do with `dir`: a fresh directory, a resumable export of this same final
 * tree, or a finished one (returned as such). Anything else is refused.
 */
function prepareDir(dir: string, shard: ShardRecord): 'fresh' | 'resume' | 'complete' {
  if (!existsSync(dir)) return 'fresh';
  const names = readdirSync(dir);
  if (names.length === 0) return 'fresh';
  const same = (m: { log_id?: string; final_sth?: { tree_size?: number; sha256_root_hash?: string } }) =>
    m.log_id === b64(shard.logId) && m.final_sth?.tree_size === shard.head.treeSize && m.final_sth?.sha256_root_hash === b64(shard.head.rootHash);
  if (names.includes(MANIFEST)) {
    const m = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8')) as ExportManifest;
    if (same(m)) return 'complete';
    throw new ExportError(`${dir} holds a complete export of another tree (${m.shard}, size ${m.final_sth?.tree_size}); choose an empty directory`);
  }
  if (names.includes(IN_PROGRESS)) {
    const m = JSON.parse(readFileSync(join(dir, IN_PROGRESS), 'utf8'));
    if (same(m)) return 'resume';
    throw new ExportError(`${dir} holds an unfinished export of another tree; choose an empty directory or delete it`);
  }
  throw new ExportError(`${dir} is not empty (${names.length} entries, e.g. ${names[0]}); export into a new or empty directory`);
}

export async function exportShard(o: ExportOptions): Promise<ExportResult> {
  const { storage, shard, dir } = o;
  const head = shard.head;
  const size = head.treeSize;
  const progress = o.onProgress ?? (() => {});
  const mode = prepareDir(dir, shard);
  if (mode === 'complete') {
    const text = readFileSync(join(dir, MANIFEST));
    const manifest = JSON.parse(text.toString('utf8')) as ExportManifest;
    await verifyExport(dir, { publicKey: shard.publicKey, logId: shard.logId, manifest, onProgress: progress });
    return { manifest, manifestSha256: sha256(text), written: false, resumed: false };
  }
  mkdirSync(dir, { recursive: true });
  const digits = prefixDigits(size);
  const base: Omit<ExportManifest, 'files' | 'bytes'> = {
    format: FORMAT,
    shard: shard.name,
    origin: o.origin,
    log_id: b64(shard.logId),
    public_key: b64(shard.publicKey),
    final_sth: sthJson(head),
    leaf_index: { prefix_hex_digits: digits, record_bytes: LEAF_RECORD },
  };
  if (mode === 'fresh') writeAtomic(join(dir, IN_PROGRESS), JSON.stringify(base));
  else removeTemporaries(dir);
  const files = new Map<string, string>();
  let bytes = 0;
  /** Keeps a file already there (a resumed run) or writes it; records its hash either way. */
  const put = (path: string, make: () => Uint8Array | string): Uint8Array => {
    const full = join(dir, path);
    let data: Uint8Array;
    if (existsSync(full)) data = readFileSync(full);
    else {
      const made = make();
      data = typeof made === 'string' ? Buffer.from(made) : made;
      writeAtomic(full, data);
    }
    files.set(path, sha256(data).toString('hex'));
    bytes += data.byteLength;
    return data;
  };

  // 1. Hash tiles, as the database holds them (the verify step rebuilds them from the leaves).
  const tiles = tilesForSize(size);
  const BATCH = 256;
  for (let i = 0; i < tiles.length; i += BATCH) {
    const ids = tiles.slice(i, i + BATCH);
    const todo = ids.filter((t) => !existsSync(join(dir, tilePath(t))));
    const read = todo.length ? await storage.readTiles(shard.id, todo) : new Map<string, Uint8Array>();
    for (const t of ids) {
      put(tilePath(t), () => {
        const data = read.get(`${t.level}/${t.index}`);
        if (!data || data.byteLength < t.width * 32) throw new ExportError(`the database lacks hash tile ${t.level}/${t.index} of width ${t.width}: the shard's rows are incomplete`);
        return data.subarray(0, t.width * 32);
      });
    }
    progress({ phase: 'hash tiles', done: Math.min(tiles.length, i + BATCH), total: tiles.length });
  }

  // 2. Data tiles, rebuilt from the rows exactly as the read server builds them; leaf hashes
  // for the leaf index and the chains' fingerprints come from the tile bytes themselves.
  const issuers = new IssuerCache(storage, 64 * 1024 * 1024);
  const fingerprints = new Set<string>();
  const records = Buffer.alloc(size * LEAF_RECORD);
  const nTiles = Math.ceil(size / TILE_WIDTH);
  const perRead = Math.max(1, Math.floor((o.chunk ?? 4096) / TILE_WIDTH));
  const pathsOf = (t0: number) => {
    const paths: string[] = [];
    for (let t = t0; t < Math.min(nTiles, t0 + perRead); t++) paths.push(dataTilePath(t, Math.min(TILE_WIDTH, size - t * TILE_WIDTH)));
    return paths;
  };
  // The rows of a chunk, or none when its tiles are all there already (a resumed run).
  const readChunk = (t0: number) => {
    if (t0 >= nTiles || pathsOf(t0).every((p) => existsSync(join(dir, p)))) return Promise.resolve(undefined);
    return storage.readEntries(shard.id, t0 * TILE_WIDTH, Math.min(size, (t0 + perRead) * TILE_WIDTH));
  };
  // The next chunk is read from the database while this one is built and written.
  let pending = readChunk(0);
  for (let t0 = 0; t0 < nTiles; t0 += perRead) {
    const t1 = Math.min(nTiles, t0 + perRead);
    const paths = pathsOf(t0);
    const rows = await pending;
    pending = readChunk(t1);
    pending.catch(() => {}); // awaited next turn; a failure there is reported then
    if (rows) {
      const want = Math.min(size, t1 * TILE_WIDTH) - t0 * TILE_WIDTH;
      rows.forEach((r, i) => {
        if (r.idx !== t0 * TILE_WIDTH + i) throw new ExportError(`entry ${t0 * TILE_WIDTH + i} is missing from the database`);
      });
      if (rows.length !== want) throw new ExportError(`the database holds ${rows.length} of entries ${t0 * TILE_WIDTH}..${t0 * TILE_WIDTH + want - 1}`);
    }
    const known = rows ? await issuers.getMany(rows.flatMap((r) => r.chain)) : new Map();
    for (let t = t0; t < t1; t++) {
      const first = t * TILE_WIDTH;
      const data = put(paths[t - t0]!, () => {
        const mine = rows!.slice(first - t0 * TILE_WIDTH, first - t0 * TILE_WIDTH + TILE_WIDTH);
        return Buffer.concat(mine.map((e) => tileLeaf(e, rebuildEntry(e, known))));
      });
      decodeDataTileAt(data).forEach((l, i) => {
        const at = (first + i) * LEAF_RECORD;
        tileLeafHash(data, l.start, l.entryEnd).copy(records, at);
        records.writeBigUInt64BE(BigInt(first + i), at + 32);
        for (const f of l.leaf.chainFingerprints) fingerprints.add(hex(f));
      });
    }
    progress({ phase: 'data tiles', done: Math.min(size, t1 * TILE_WIDTH), total: size });
  }
  await pending;

  // 3. Issuers cited by the entries.
  const fps = [...fingerprints].sort();
  for (let i = 0; i < fps.length; i += 100) {
    const slice = fps.slice(i, i + 100);
    const todo = slice.filter((f) => !existsSync(join(dir, `issuer/${f}`)));
    const got = todo.length ? await storage.readIssuers(todo.map((f) => Buffer.from(f, 'hex'))) : new Map<string, Uint8Array>();
    for (const f of slice) {
      put(`issuer/${f}`, () => {
        const der = got.get(f);
        if (!der) throw new ExportError(`issuer ${f} is cited by an entry but not in the database`);
        return der;
      });
    }
    progress({ phase: 'issuers', done: Math.min(fps.length, i + 100), total: fps.length });
  }

  // 4. Leaf index: records grouped by bucket, sorted by hash within each.
  const buckets = new Map<string, number[]>();
  for (let i = 0; i < size; i++) {
    const b = bucketOf(records.subarray(i * LEAF_RECORD, i * LEAF_RECORD + 32), digits);
    let list = buckets.get(b);
    if (!list) buckets.set(b, (list = []));
    list.push(i);
  }
  const names = allBuckets(digits);
  names.forEach((b, n) => {
    const list = buckets.get(b) ?? [];
    list.sort((x, y) => records.compare(records, y * LEAF_RECORD, y * LEAF_RECORD + 32, x * LEAF_RECORD, x * LEAF_RECORD + 32));
    put(bucketPath(b), () => Buffer.concat(list.map((i) => records.subarray(i * LEAF_RECORD, (i + 1) * LEAF_RECORD))));
    if (n % 256 === 255 || n === names.length - 1) progress({ phase: 'leaf index', done: n + 1, total: names.length });
  });

  // 5. The checkpoint: the final STH as a signed note.
  put('checkpoint', () => signedCheckpoint(o.origin, size, head.rootHash, head.timestamp, head.signature, shard.logId));

  const manifest: ExportManifest = { ...base, files: Object.fromEntries([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), bytes };
  // Verify from the files before the manifest makes the export look complete.
  await verifyExport(dir, { publicKey: shard.publicKey, logId: shard.logId, manifest, onProgress: progress });
  const text = Buffer.from(JSON.stringify(manifest, null, 1) + '\n');
  writeAtomic(join(dir, MANIFEST), text, true);
  rmSync(join(dir, IN_PROGRESS), { force: true });
  return { manifest, manifestSha256: sha256(text), written: true, resumed: mode === 'resume' };
}

export interface VerifyOptions {
  publicKey: Uint8Array;
  logId: Uint8Array;
  /** The manifest to check the files against; read from the directory when absent. */
  manifest?: ExportManifest;
  /** When given, manifest.json must hash to this (the value recorded at export). */
  manifestSha256?: Uint8Array;
  onProgress?: (p: ExportProgress) => void;
}

/**
 * Checks an export from its files alone; throws ExportError naming the first problem.
 * Every file listed must hash as listed, every file the tree needs must be listed; the
 * tree rebuilt from the data tiles must give every hash tile and the final root; the STH
 * signature must verify under the shard key; the leaf index must map each leaf to its index.
 */
export async function verifyExport(dir: string, o: VerifyOptions): Promise<{ entries: number; files: number }> {
  let m = o.manifest;
  if (!m) {
    if (!existsSync(join(dir, MANIFEST))) throw new ExportError(`${dir} has no ${MANIFEST}: not a complete export`);
    const text = readFileSync(join(dir, MANIFEST));
    if (o.manifestSha256 && !equal(sha256(text), o.manifestSha256)) throw new ExportError(`${dir}/${MANIFEST} changed since the export was verified and recorded`);
    m = JSON.parse(text.toString('utf8')) as ExportManifest;
  }
  if (m.format !== FORMAT) throw new ExportError(`${dir}: unknown export format ${JSON.stringify(m.format)}`);
  if (m.log_id !== b64(o.logId)) throw new ExportError(`${dir}: export of log ${m.log_id}, not of this shard (${b64(o.logId)})`);
  const head: TreeHead = headOfManifest(m);
  if (!verifySth(o.publicKey, head, head.signature)) throw new ExportError(`${dir}: the final STH's signature does not verify under the shard key`);
  const size = head.treeSize;
  const progress = o.onProgress ?? (() => {});
  const digits = m.leaf_index.prefix_hex_digits;
  for (const p of expectedPaths(size, digits)) if (!(p in m.files)) throw new ExportError(`${dir}: the manifest lacks ${p}`);
  const read = (path: string): Buffer => {
    const want = m.files[path];
    if (want === undefined) throw new ExportError(`${dir}: ${path} is not in the manifest`);
    let data: Buffer;
    try {
      data = readFileSync(join(dir, path));
    } catch {
      throw new ExportError(`${dir}: ${path} is missing`);
    }
    if (sha256(data).toString('hex') !== want) throw new ExportError(`${dir}: ${path} does not match its SHA-256 in the manifest (changed after export)`);
    return data;
  };

  // Rebuild the tree from the data tiles; compare each hash tile when it reaches its final width.
  const leafHashes = Buffer.alloc(size * 32);
  const nTiles = Math.ceil(size / TILE_WIDTH);
  let edge: RightEdge = emptyEdge();
  let root: Uint8Array = new Uint8Array();
  let checkedTiles = 0;
  for (let t = 0; t < nTiles; t++) {
    const width = Math.min(TILE_WIDTH, size - t * TILE_WIDTH);
    const path = dataTilePath(t, width);
    const data = read(path);
    const leaves = decodeDataTileAt(data);
    if (leaves.length !== width) throw new ExportError(`${dir}: ${path} holds ${leaves.length} entries, not ${width}`);
    const hashes = leaves.map((l, i) => {
      const idx = t * TILE_WIDTH + i;
      const ext = decodeCtExtensions(l.leaf.entry.extensions);
      if (ext.leafIndex !== idx) throw new ExportError(`${dir}: entry ${idx} in ${path} carries leaf_index ${String(ext.leafIndex)}`);
      for (const f of l.leaf.chainFingerprints) if (!(`issuer/${hex(f)}` in m.files)) throw new ExportError(`${dir}: entry ${idx} cites issuer ${hex(f)}, which is not exported`);
      const h = tileLeafHash(data, l.start, l.entryEnd);
      h.copy(leafHashes, idx * 32);
      return new Uint8Array(h);
    });
    const r = appendLeaves(edge, hashes);
    edge = r.edge;
    root = r.root;
    for (const c of r.changed) {
      const w = c.data.byteLength / 32;
      if (w !== tileWidthIn(size, c.level, c.index)) continue;
      const p = tilePath({ level: c.level, index: c.index, width: w });
      if (!read(p).equals(c.data)) throw new ExportError(`${dir}: hash tile ${p} differs from the tree rebuilt from the data tiles`);
      checkedTiles++;
    }
    if (t % 64 === 63 || t === nTiles - 1) progress({ phase: 'verify', done: Math.min(size, (t + 1) * TILE_WIDTH), total: size });
  }
  if (size === 0) root = EMPTY_ROOT;
  if (!equal(root, head.rootHash)) throw new ExportError(`${dir}: the tree rebuilt from the data tiles has root ${b64(root)}, the final STH says ${b64(head.rootHash)}`);
  if (checkedTiles !== tilesForSize(size).length) throw new ExportError(`${dir}: checked ${checkedTiles} hash tiles, the tree has ${tilesForSize(size).length}`);

  // The checkpoint is the final STH; issuers hash to their names.
  const cp = read('checkpoint').toString('utf8');
  if (cp !== signedCheckpoint(m.origin, size, head.rootHash, head.timestamp, head.signature, o.logId)) throw new ExportError(`${dir}: checkpoint is not the final STH's`);
  for (const p of Object.keys(m.files)) {
    if (!p.startsWith('issuer/')) continue;
    if (sha256(read(p)).toString('hex') !== p.slice('issuer/'.length)) throw new ExportError(`${dir}: ${p} does not hash to its fingerprint`);
  }
  // The leaf index: sorted records in the right bucket, each naming the index of its hash, all leaves once.
  let seen = 0;
  for (const b of allBuckets(digits)) {
    const data = read(bucketPath(b));
    if (data.byteLength % LEAF_RECORD) throw new ExportError(`${dir}: ${bucketPath(b)} is not whole records`);
    for (let at = 0; at < data.byteLength; at += LEAF_RECORD) {
      const h = data.subarray(at, at + 32);
      const idx = Number(data.readBigUInt64BE(at + 32));
      if (bucketOf(h, digits) !== b) throw new ExportError(`${dir}: ${bucketPath(b)} holds a hash of another bucket`);
      if (at > 0 && Buffer.compare(data.subarray(at - LEAF_RECORD, at - LEAF_RECORD + 32), h) >= 0) throw new ExportError(`${dir}: ${bucketPath(b)} is not sorted`);
      if (idx >= size || !leafHashes.subarray(idx * 32, idx * 32 + 32).equals(h)) throw new ExportError(`${dir}: ${bucketPath(b)} maps a leaf hash to the wrong index ${idx}`);
      seen++;
    }
  }
  if (seen !== size) throw new ExportError(`${dir}: the leaf index holds ${seen} records, the tree ${size} leaves`);
  return { entries: size, files: Object.keys(m.files).length };
}
