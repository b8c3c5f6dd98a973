// The checks a CA and a monitor make against a running log over HTTP, each verified
// independently (wire.ts): SCTs, STHs, inclusion and consistency proofs, get-entries,
// the static-ct-api checkpoint and tiles.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { verifyConsistency, verifyInclusion } from '../../src/merkle/index.js';
import { decodeDataTileAt, parseSignedCheckpoint } from '../../src/tls/index.js';
import type { Submission } from './corpus.js';
import {
  decodeLeafIndex,
  leafHashOf,
  merkleTreeLeaf,
  naiveRoot,
  sctSignatureInput,
  sha256,
  sthSignatureInput,
  tileIndexPath,
  verifyDigitallySigned,
} from './wire.js';

export interface ShardInfo {
  name: string;
  /** The shard's URL prefix, e.g. "/old" (no trailing slash). */
  prefix: string;
  /** SubjectPublicKeyInfo DER, from `ctlog loglist`. */
  spki: Uint8Array;
}

export interface Endpoints {
  /** Where add-chain / add-pre-chain go (the CTFE). */
  submitUrl: string;
  /** Where every GET goes (the read server). */
  readUrl: string;
  shards: Record<Submission['shard'], ShardInfo>;
}

export interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
  headers: Headers;
}

export async function http(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(60_000) });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text, headers: res.headers };
}

export async function getJson(url: string): Promise<any> {
  const a = await http(url);
  assert.equal(a.status, 200, `GET ${url}: ${a.status} ${a.text.slice(0, 300)}`);
  return a.body;
}

/**
 * POST through node:http, for bodies the server refuses before reading them (413): undici's
 * fetch may fail with "other side closed" when the answer arrives mid-upload, a real client
 * reads the answer and ignores the broken upload.
 */
export function rawPost(url: string, body: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text, headers: new Headers(res.headers as Record<string, string>) });
      });
      res.on('error', reject);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`POST ${url}: no answer in 30 s`)));
    req.end(body);
  });
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

export interface Logged {
  sub: Submission;
  timestamp: number;
  extensions: Uint8Array;
  index: number;
  leafHash: Uint8Array;
}

/** Runs f over items with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, f: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]!, i);
      }
    }),
  );
  return out;
}

/**
 * Submits one chain and verifies the SCT (RFC 6962 §4.1, §3.2): version 0, log id =
 * SHA-256(SPKI), signature by the shard key over the input built by hand, extensions exactly
 * one leaf_index.
 */
export async function submit(ep: Endpoints, sub: Submission): Promise<Logged> {
  const shard = ep.shards[sub.shard];
  const a = await http(`${ep.submitUrl}${shard.prefix}/ct/v1/${sub.endpoint}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ chain: sub.chain.map(b64) }),
  });
  assert.equal(a.status, 200, `${sub.name}: ${sub.endpoint} answered ${a.status} ${a.text.slice(0, 300)}`);
  const sct = a.body;
  assert.equal(sct.sct_version, 0, `${sub.name}: sct_version`);
  assert.equal(sct.id, b64(sha256(shard.spki)), `${sub.name}: SCT log id is SHA-256 of the shard key`);
  assert.equal(typeof sct.extensions, 'string', `${sub.name}: extensions is a string`);
  const extensions = unb64(sct.extensions);
  const index = decodeLeafIndex(extensions);
  verifyDigitallySigned(unb64(sct.signature), sctSignatureInput(sct.timestamp, sub.expected, extensions), shard.spki, `${sub.name}: SCT`);
  return { sub, timestamp: sct.timestamp, extensions, index, leafHash: leafHashOf(merkleTreeLeaf(sct.timestamp, sub.expected, extensions)) };
}

export interface Sth {
  tree_size: number;
  timestamp: number;
  sha256_root_hash: string;
  tree_head_signature: string;
}

/** get-sth with its signature verified by hand (RFC 6962 §3.5, §4.3). */
export async function getSth(ep: Endpoints, shard: ShardInfo): Promise<Sth> {
  const sth = (await getJson(`${ep.readUrl}${shard.prefix}/ct/v1/get-sth`)) as Sth;
  assert.ok(Number.isSafeInteger(sth.tree_size) && Number.isSafeInteger(sth.timestamp), `get-sth fields: ${JSON.stringify(sth)}`);
  verifyDigitallySigned(unb64(sth.tree_head_signature), sthSignatureInput(sth.timestamp, sth.tree_size, unb64(sth.sha256_root_hash)), shard.spki, `${shard.name}: STH`);
  return sth;
}

/** get-sth until tree_size reaches at least `size` (a serve/read replica may lag by an STH interval). */
export async function waitForSize(ep: Endpoints, shard: ShardInfo, size: number, timeoutMs = 20_000): Promise<Sth> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const sth = await getSth(ep, shard);
    if (sth.tree_size >= size) return sth;
    if (Date.now() > until) assert.fail(`${shard.name}: tree size ${sth.tree_size} after ${timeoutMs} ms, want >= ${size}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** get-proof-by-hash for every logged leaf, each verified against the STH root. */
export async function checkInclusion(ep: Endpoints, shard: ShardInfo, sth: Sth, logged: Logged[]): Promise<void> {
  const root = unb64(sth.sha256_root_hash);
  await pool(logged, 32, async (l) => {
    const p = await getJson(`${ep.readUrl}${shard.prefix}/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(l.leafHash))}&tree_size=${sth.tree_size}`);
    assert.equal(p.leaf_index, l.index, `${l.sub.name}: get-proof-by-hash leaf_index`);
    assert.ok(Array.isArray(p.audit_path), `${l.sub.name}: audit_path is an array`);
    verifyInclusion(l.leafHash, l.index, sth.tree_size, p.audit_path.map(unb64), root);
  });
}

export async function checkConsistency(ep: Endpoints, shard: ShardInfo, early: Sth, final: Sth): Promise<void> {
  const c = await getJson(`${ep.readUrl}${shard.prefix}/ct/v1/get-sth-consistency?first=${early.tree_size}&second=${final.tree_size}`);
  assert.ok(Array.isArray(c.consistency), 'consistency is an array');
  verifyConsistency(early.tree_size, final.tree_size, c.consistency.map(unb64), unb64(early.sha256_root_hash), unb64(final.sha256_root_hash));
}

/**
 * Walks get-entries with `end` past the tree size, checks each leaf_input is the
 * MerkleTreeLeaf built by hand for the submission at that index, and rebuilds the root.
 */
export async function checkEntries(ep: Endpoints, shard: ShardInfo, sth: Sth, byIndex: Map<number, Logged>): Promise<Uint8Array[]> {
  const hashes: Uint8Array[] = [];
  while (hashes.length < sth.tree_size) {
    const start = hashes.length;
    const page = await getJson(`${ep.readUrl}${shard.prefix}/ct/v1/get-entries?start=${start}&end=${sth.tree_size + 500}`);
    assert.ok(Array.isArray(page.entries) && page.entries.length > 0, `get-entries from ${start}: ${JSON.stringify(page).slice(0, 200)}`);
    for (const e of page.entries as Array<{ leaf_input: string; extra_data: string }>) {
      const idx = hashes.length;
      const leaf = unb64(e.leaf_input);
      const l = byIndex.get(idx);
      if (l) assert.deepEqual(Buffer.from(leaf), Buffer.from(merkleTreeLeaf(l.timestamp, l.sub.expected, l.extensions)), `get-entries[${idx}] is the MerkleTreeLeaf of ${l.sub.name}`);
      assert.ok(unb64(e.extra_data).length > 0, `get-entries[${idx}] has extra_data`);
      hashes.push(leafHashOf(leaf));
      if (hashes.length === sth.tree_size) break;
    }
  }
  assert.equal(b64(naiveRoot(hashes)), sth.sha256_root_hash, `${shard.name}: root rebuilt from get-entries`);
  return hashes;
}

async function getBytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  const body = new Uint8Array(await res.arrayBuffer());
  assert.equal(res.status, 200, `GET ${url}: ${res.status} ${Buffer.from(body).toString().slice(0, 200)}`);
  return body;
}

/**
 * static-ct-api: the checkpoint is the same signed tree head as `sth` (RFC6962NoteSignature
 * verified by hand), level-0 tiles hold every leaf hash, level-1 tiles the subtree roots of
 * full level-0 tiles, data tiles decode to leaves with those hashes, and issuers hash to
 * their fingerprints.
 */
export async function checkStatic(ep: Endpoints, shard: ShardInfo, sth: Sth, leafHashes: Uint8Array[]): Promise<void> {
  const text = new TextDecoder().decode(await getBytes(`${ep.readUrl}${shard.prefix}/checkpoint`));
  const cp = parseSignedCheckpoint(text);
  assert.equal(cp.treeSize, sth.tree_size, 'checkpoint size is the STH size');
  assert.equal(b64(cp.rootHash), sth.sha256_root_hash, 'checkpoint root is the STH root');
  assert.equal(cp.signatures.length, 1);
  const sig = cp.signatures[0]!;
  assert.equal(sig.name, cp.origin, 'signature line names the origin');
  // static-ct-api: key ID = SHA-256(origin || 0x0A || 0x05 || log ID)[:4].
  const keyId = sha256(new TextEncoder().encode(cp.origin), new Uint8Array([0x0a, 0x05]), sha256(shard.spki)).subarray(0, 4);
  assert.deepEqual(Buffer.from(sig.keyId), Buffer.from(keyId), 'checkpoint key ID');
  const ts = Number(Buffer.from(sig.signature.subarray(0, 8)).readBigUInt64BE());
  // An idle shard signs a fresh STH every sth_interval_ms: if one was signed between the
  // get-sth and the checkpoint, the checkpoint must be the newer get-sth instead.
  const later = ts === sth.timestamp ? sth : await getSth(ep, shard);
  assert.ok(sth.timestamp <= ts && ts <= later.timestamp, `checkpoint timestamp ${ts} is that of an STH get-sth served (${sth.timestamp}..${later.timestamp})`);
  verifyDigitallySigned(sig.signature.subarray(8), sthSignatureInput(ts, cp.treeSize, cp.rootHash), shard.spki, `${shard.name}: checkpoint`);

  const size = sth.tree_size;
  const tilePath = (level: string, n: number, count: number) => `${ep.readUrl}${shard.prefix}/tile/${level}/${tileIndexPath(n)}${count < 256 ? `.p/${count}` : ''}`;
  const fromTiles: Uint8Array[] = [];
  const fingerprints = new Set<string>();
  for (let n = 0; n * 256 < size; n++) {
    const count = Math.min(256, size - n * 256);
    const tile = await getBytes(tilePath('0', n, count));
    assert.equal(tile.length, 32 * count, `tile/0/${n} width ${count}`);
    for (let i = 0; i < count; i++) fromTiles.push(tile.subarray(32 * i, 32 * i + 32));
    const data = await getBytes(tilePath('data', n, count));
    const leaves = decodeDataTileAt(data);
    assert.equal(leaves.length, count, `tile/data/${n} holds ${count} entries`);
    leaves.forEach((l, i) => {
      const mtl = new Uint8Array([0, 0, ...data.subarray(l.start, l.entryEnd)]);
      assert.deepEqual(Buffer.from(leafHashOf(mtl)), Buffer.from(leafHashes[n * 256 + i]!), `data tile leaf ${n * 256 + i} hashes to the get-entries leaf`);
      for (const f of l.leaf.chainFingerprints) fingerprints.add(Buffer.from(f).toString('hex'));
    });
  }
  assert.equal(b64(naiveRoot(fromTiles)), sth.sha256_root_hash, `${shard.name}: root rebuilt from level-0 tiles`);
  const full = Math.floor(size / 256);
  if (full > 0) {
    const t1 = await getBytes(tilePath('1', 0, Math.min(256, full)));
    for (let n = 0; n < Math.min(256, full); n++) {
      assert.deepEqual(Buffer.from(t1.subarray(32 * n, 32 * n + 32)), Buffer.from(naiveRoot(fromTiles.slice(n * 256, n * 256 + 256))), `tile/1/000 hash ${n}`);
    }
  }
  for (const f of [...fingerprints].slice(0, 20)) {
    const der = await getBytes(`${ep.readUrl}${shard.prefix}/issuer/${f}`);
    assert.equal(Buffer.from(sha256(der)).toString('hex'), f, 'issuer bytes hash to their fingerprint');
  }
}
