// RFC 6962 §4.3-4.8 GET endpoints. Field names are byte-exact to the RFC; hashes and
// signatures are base64; empty proofs are []. Parameter errors are 400s that name the
// parameter; a hash the log does not hold is a 404, as certificate-transparency-go's CTFE
// answers (its backend's NotFound).
import type { ServerResponse } from 'node:http';
import { sendBytes, sendJson } from '../http/respond.js';
import { b64 } from '../util/bytes.js';
import { badRequest, notFound, unavailable, type CtError } from '../util/errors.js';
import { IMMUTABLE_CACHE, SHORT_CACHE } from './cache-control.js';
import type { EntryPages } from './entry-pages.js';
import type { IssuerCache } from './issuer-cache.js';
import { intParam, leafHashParam } from './query-params.js';
import type { ShardReader } from './shard-reader.js';
import { extraData, rebuildEntry } from './stored-entry.js';
import type { LeafRebuilders } from '../x509/index.js';

export interface Rfc6962Context {
  pages: EntryPages;
  issuers: IssuerCache;
  /** The leaf rebuild code; absent: LEAF_REBUILDERS. */
  rebuilders?: LeafRebuilders;
}

const proofJson = (proof: Uint8Array[]): string => `[${proof.map((h) => `"${b64(h)}"`).join(',')}]`;

/**
 * A request beyond the tree this server holds. For a shard that still grows it is
 * retryable (503 + Retry-After): the client may hold an STH from a read server whose
 * replica is ahead of ours, or the log will get there; never wrong data. A shard that no
 * longer grows will not get there: 400.
 */
function beyondTree(shard: ShardReader, reason: string, message: string): CtError {
  if (shard.rt.config.state !== 'active') return badRequest(reason, message);
  return unavailable(503, reason, `${message}; retry: this server's copy may be behind the log`, 1);
}

/** Rejects a tree size this server has not reached (after a fresh look at the head). */
async function requireSize(shard: ShardReader, treeSize: number, param: string): Promise<void> {
  const head = await shard.headCovering(treeSize);
  if (treeSize > head.treeSize) {
    throw beyondTree(shard, 'tree_size_too_large', `parameter "${param}" (${treeSize}) is larger than the current tree size ${head.treeSize}`);
  }
}

/** §4.3 get-sth: the latest signed tree head. */
export async function getSth(shard: ShardReader, res: ServerResponse): Promise<void> {
  const h = await shard.head(true);
  sendJson(
    res,
    200,
    `{"tree_size":${h.treeSize},"timestamp":${h.timestamp},"sha256_root_hash":"${b64(h.rootHash)}","tree_head_signature":"${b64(h.signature)}"}`,
    { 'Cache-Control': SHORT_CACHE },
  );
}

/** §4.4 get-sth-consistency?first&second, for any 0 <= first <= second <= current size. */
export async function getSthConsistency(shard: ShardReader, q: URLSearchParams, res: ServerResponse): Promise<void> {
  const first = intParam(q, 'first');
  const second = intParam(q, 'second');
  if (first > second) throw badRequest('bad_range', `parameter "first" (${first}) is larger than "second" (${second})`);
  await requireSize(shard, second, 'second');
  // PROOF(0, D[n]) is undefined (§2.1.2): like the CTFE, answer an empty proof.
  const proof = first === 0 ? [] : await shard.consistency(first, second);
  sendJson(res, 200, `{"consistency":${proofJson(proof)}}`, { 'Cache-Control': IMMUTABLE_CACHE });
}

/** §4.5 get-proof-by-hash?hash&tree_size. */
export async function getProofByHash(shard: ShardReader, q: URLSearchParams, res: ServerResponse): Promise<void> {
  const hash = leafHashParam(q);
  const treeSize = intParam(q, 'tree_size');
  if (treeSize < 1) throw badRequest('bad_param', 'parameter "tree_size" must be at least 1');
  await requireSize(shard, treeSize, 'tree_size');
  const idx = await shard.indexOfLeaf(hash);
  if (idx === undefined) throw notFound('unknown_leaf_hash', `no entry with leaf hash ${b64(hash)} in this log`);
  if (idx >= treeSize) {
    throw badRequest('leaf_not_in_tree', `the entry with this leaf hash has index ${idx}, not in the tree of size ${treeSize}`);
  }
  const proof = await shard.inclusion(idx, treeSize);
  sendJson(res, 200, `{"leaf_index":${idx},"audit_path":${proofJson(proof)}}`, { 'Cache-Control': IMMUTABLE_CACHE });
}

/**
 * §4.6 get-entries?start&end: at most getEntriesMax entries, starting exactly at `start`,
 * cut at the tree size. A request for more than the cap is also cut at the next multiple of
 * the cap (as the CTFE does), so that a monitor walking the log falls onto aligned pages,
 * which never change and are served from memory with an immutable Cache-Control.
 */
export async function getEntries(shard: ShardReader, q: URLSearchParams, res: ServerResponse, ctx: Rfc6962Context): Promise<void> {
  const start = intParam(q, 'start');
  let end = intParam(q, 'end');
  if (start > end) throw badRequest('bad_range', `parameter "start" (${start}) is larger than "end" (${end})`);
  const max = shard.rt.config.getEntriesMax;
  if (end - start + 1 > max) {
    end = start + max - 1;
    const pageEnd = (Math.floor(start / max) + 1) * max - 1;
    if (pageEnd < end) end = pageEnd;
  }
  const head = await shard.headCovering(start + 1);
  if (start >= head.treeSize) {
    throw beyondTree(shard, 'start_beyond_tree', `parameter "start" (${start}) is not below the current tree size ${head.treeSize}`);
  }
  if (end >= head.treeSize) end = head.treeSize - 1;
  const immutable = start % max === 0 && end === start + max - 1;
  const body = await ctx.pages.entries(shard, start, end, immutable);
  sendBytes(res, 200, body, 'application/json', { 'Cache-Control': immutable ? IMMUTABLE_CACHE : SHORT_CACHE });
}

/** §4.7 get-roots: the accepted roots, as configured (pre-serialized once per shard). */
export function getRoots(rootsJson: Buffer, res: ServerResponse): void {
  sendBytes(res, 200, rootsJson, 'application/json', { 'Cache-Control': SHORT_CACHE });
}

/** §4.8 get-entry-and-proof?leaf_index&tree_size. */
export async function getEntryAndProof(shard: ShardReader, q: URLSearchParams, res: ServerResponse, ctx: Rfc6962Context): Promise<void> {
  const index = intParam(q, 'leaf_index');
  const treeSize = intParam(q, 'tree_size');
  if (index >= treeSize) throw badRequest('leaf_not_in_tree', `parameter "leaf_index" (${index}) is not below "tree_size" (${treeSize})`);
  await requireSize(shard, treeSize, 'tree_size');
  const [e] = await shard.entries(index, index + 1);
  if (!e) throw notFound('unknown_leaf', `no entry ${index} in this log`);
  const issuers = await ctx.issuers.getMany(e.chain);
  const r = rebuildEntry(e, issuers, ctx.rebuilders);
  const proof = await shard.inclusion(index, treeSize);
  sendJson(res, 200, `{"leaf_input":"${b64(r.leaf)}","extra_data":"${b64(extraData(e, r))}","audit_path":${proofJson(proof)}}`, {
    'Cache-Control': IMMUTABLE_CACHE,
  });
}
