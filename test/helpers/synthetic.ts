// Synthetic submissions for sequencer tests (the sequencer trusts the CTFE's validation, so
// these need not be real certificates), and the whole-tree re-verification run after each step.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { leafHash, planConsistency, planRoot, assemble, verifyConsistency, planInclusion, verifyInclusion } from '../../src/merkle/index.js';
import type { Issuer, Submission } from '../../src/queue/submission.js';
import { verifySth } from '../../src/signing/index.js';
import { encodeCtExtensions, encodeMerkleTreeLeaf } from '../../src/tls/index.js';
import { fetchPlanTiles, type LogStorage, type ShardRecord } from '../../src/storage/log-storage.js';

const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());

export const ISSUERS: Issuer[] = Array.from({ length: 4 }, (_, i) => {
  const der = new Uint8Array(randomBytes(900 + i));
  return { fingerprint: sha(der), der };
});

/** A submission of a random ~1.2 KB "certificate"; half are precert entries. */
export function syntheticSubmission(i: number, certBytes = 1200): { sub: Submission; issuers: Issuer[] } {
  const cert = new Uint8Array(randomBytes(certBytes));
  const issuer = ISSUERS[i % ISSUERS.length]!;
  const precert = i % 2 === 1;
  const entry = precert
    ? ({ type: 'precert', issuerKeyHash: sha(issuer.der), tbsCertificate: cert.subarray(0, certBytes - 100) } as const)
    : ({ type: 'x509', certificate: cert } as const);
  const body = entry.type === 'precert' ? [entry.issuerKeyHash, entry.tbsCertificate] : [cert];
  const identity = sha(Buffer.concat([Buffer.from([0, precert ? 1 : 0]), ...body]));
  return { sub: { identity, entry, cert, chain: [issuer.fingerprint] }, issuers: [issuer] };
}

/**
 * Re-verifies the whole stored tree: every x509 entry's leaf hash is rebuilt from its row,
 * the root rebuilt from all leaf hashes equals the current head's root, the head's signature
 * verifies, the tiles give the same root, and every stored STH is consistent with the one before.
 */
export async function verifyWholeTree(storage: LogStorage, shard: ShardRecord): Promise<number> {
  const head = await storage.currentHead(shard.id);
  const entries = await storage.readEntries(shard.id, 0, head.treeSize);
  assert.equal(entries.length, head.treeSize, 'one row per leaf');
  const hashes: Uint8Array[] = [];
  entries.forEach((e, i) => {
    assert.equal(e.idx, i, 'indexes are consecutive');
    if (e.entryType === 0) {
      const leaf = encodeMerkleTreeLeaf({ timestamp: e.timestamp, entry: { type: 'x509', certificate: e.cert }, extensions: encodeCtExtensions({ leafIndex: e.idx }) });
      assert.deepEqual(Buffer.from(leafHash(leaf)), Buffer.from(e.leafHash), `leaf hash of entry ${i}`);
    }
    assert.ok(e.timestamp <= head.timestamp, 'the STH timestamp is >= every SCT timestamp');
    hashes.push(e.leafHash);
  });
  assert.deepEqual(Buffer.from(naiveRoot(hashes)), Buffer.from(head.rootHash), 'root rebuilt from all entries equals the STH root');
  assert.ok(verifySth(shard.publicKey, head, head.signature), 'the STH signature verifies');
  const rootPlan = planRoot(head.treeSize);
  if (head.treeSize > 0) {
    const [root] = assemble(rootPlan, await fetchPlanTiles(storage, shard.id, rootPlan));
    assert.deepEqual(Buffer.from(root!), Buffer.from(head.rootHash), 'tiles give the STH root');
  }
  const heads = await storage.treeHeads(shard.id);
  for (let i = 1; i < heads.length; i++) {
    const a = heads[i - 1]!;
    const b = heads[i]!;
    assert.ok(b.timestamp > a.timestamp, 'STH timestamps strictly increase');
    assert.ok(b.treeSize >= a.treeSize, 'trees only grow');
    if (a.treeSize === 0) continue; // RFC 6962 §2.1.2: no proof from the empty tree
    const plan = planConsistency(a.treeSize, b.treeSize);
    const proof = assemble(plan, await fetchPlanTiles(storage, shard.id, plan));
    verifyConsistency(a.treeSize, b.treeSize, proof, a.rootHash, b.rootHash);
  }
  return head.treeSize;
}

/** Proves entry idx is included in the current tree. */
export async function proveIncluded(storage: LogStorage, shardId: number, idx: number, leaf: Uint8Array): Promise<void> {
  const head = await storage.currentHead(shardId);
  const plan = planInclusion(idx, head.treeSize);
  const proof = assemble(plan, await fetchPlanTiles(storage, shardId, plan));
  verifyInclusion(leaf, idx, head.treeSize, proof, head.rootHash);
}

/** RFC 6962 §2.1 MTH over leaf hashes, written literally. */
export function naiveRoot(hashes: Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return sha(new Uint8Array());
  if (hashes.length === 1) return hashes[0]!;
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return sha(Buffer.concat([Buffer.from([1]), naiveRoot(hashes.slice(0, k)), naiveRoot(hashes.slice(k))]));
}
