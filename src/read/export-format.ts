// The on-disk layout of a shard export: a static-ct-api tree any static web server can
// serve (checkpoint, tile/<L>/<N>[.p/<W>], tile/data/<N>[.p/<W>], issuer/<fingerprint>), plus
// what RFC 6962 reads need without a database: leaf-index/<hex prefix> files mapping leaf
// hashes to indexes, and manifest.json, which names the final STH and the SHA-256 of every
// other file. manifest.json is written last and atomically: a directory without it is an
// unfinished export, whatever else it holds.
import { createHash } from 'node:crypto';
import { HASH_SIZE, TILE_WIDTH, dataTilePath, tilePath, tilesForSize } from '../merkle/index.js';
import type { TreeHead } from '../storage/log-storage.js';
import { b64, fromB64 } from '../util/bytes.js';

export const MANIFEST = 'manifest.json';
/** Marks a directory as an export in progress of one shard's final tree (for resuming). */
export const IN_PROGRESS = '.ctlog-export-in-progress.json';
export const FORMAT = 'ctlog-shard-export/1';
/** A leaf-index record: the 32-byte leaf hash, then the index as an 8-byte big-endian integer. */
export const LEAF_RECORD = HASH_SIZE + 8;

export interface ExportManifest {
  format: typeof FORMAT;
  shard: string;
  /** static-ct-api origin (checkpoint first line). */
  origin: string;
  log_id: string;
  public_key: string;
  final_sth: { tree_size: number; timestamp: number; sha256_root_hash: string; tree_head_signature: string };
  /** leaf-index/<first prefix_hex_digits hex digits of the leaf hash>: sorted LEAF_RECORD records. */
  leaf_index: { prefix_hex_digits: number; record_bytes: number };
  /** Every file but the manifest, by path relative to the export directory: SHA-256 in hex. */
  files: Record<string, string>;
  /** Sum of the files' sizes. */
  bytes: number;
}

export const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest();

export function headOfManifest(m: ExportManifest): TreeHead {
  return {
    treeSize: m.final_sth.tree_size,
    timestamp: m.final_sth.timestamp,
    rootHash: fromB64(m.final_sth.sha256_root_hash)!,
    signature: fromB64(m.final_sth.tree_head_signature)!,
  };
}

export function sthJson(h: TreeHead): ExportManifest['final_sth'] {
  return { tree_size: h.treeSize, timestamp: h.timestamp, sha256_root_hash: b64(h.rootHash), tree_head_signature: b64(h.signature) };
}

/**
 * Hex digits of the leaf-index bucket names: enough buckets that each holds ~1,600 records
 * (64 KiB), so a lookup reads and checks one small file; 1 to 6 digits.
 */
export function prefixDigits(treeSize: number): number {
  let d = 1;
  while (d < 6 && treeSize / 16 ** d > 1600) d++;
  return d;
}

export function bucketPath(hashHexPrefix: string): string {
  return `leaf-index/${hashHexPrefix}`;
}

export function bucketOf(leafHash: Uint8Array, digits: number): string {
  return Buffer.from(leafHash.subarray(0, Math.ceil(digits / 2))).toString('hex').slice(0, digits);
}

/** Every bucket name for `digits` hex digits, in order. */
export function allBuckets(digits: number): string[] {
  return Array.from({ length: 16 ** digits }, (_, i) => i.toString(16).padStart(digits, '0'));
}

/** Every path of an export of a tree of `size` entries, but issuers (which depend on the entries). */
export function expectedPaths(size: number, digits: number): string[] {
  const out = ['checkpoint'];
  for (const t of tilesForSize(size)) out.push(tilePath(t));
  const full = Math.floor(size / TILE_WIDTH);
  for (let i = 0; i < full; i++) out.push(dataTilePath(i, TILE_WIDTH));
  if (size % TILE_WIDTH) out.push(dataTilePath(full, size % TILE_WIDTH));
  for (const b of allBuckets(digits)) out.push(bucketPath(b));
  return out;
}

/** Width of hash tile (level, index) in the final tree, or 0 if the tree has no such tile. */
export function tileWidthIn(size: number, level: number, index: number): number {
  const n = Math.floor(size / 2 ** (8 * level));
  const start = index * TILE_WIDTH;
  return n <= start ? 0 : Math.min(TILE_WIDTH, n - start);
}
