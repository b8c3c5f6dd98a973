// Synthetic submissions for sequencer tests, and the whole-tree re-verification run after
// each step. The sequencer trusts the CTFE's chain validation, so the x509 entries need not
// be real certificates; precert entries are real precertificates under real issuers, because
// the sequencer rebuilds each precert's logged TBS from its stored row before signing it.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { issue, makeIntermediate } from '../../src/cli/cert-factory.js';
import { leafHash, planConsistency, planRoot, assemble, verifyConsistency, planInclusion, verifyInclusion } from '../../src/merkle/index.js';
import type { Issuer, Submission } from '../../src/queue/submission.js';
import { verifySth } from '../../src/signing/index.js';
import { encodeCtExtensions, encodeMerkleTreeLeaf } from '../../src/tls/index.js';
import { identityHash, parseCertificate, precertTbs } from '../../src/x509/index.js';
import { fetchPlanTiles, type LogStorage, type ShardRecord, type TreeHead } from '../../src/storage/log-storage.js';

const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());

const NOW = Date.now();
const ROOT = issue(undefined, { cn: 'synthetic root', ca: true, notBefore: NOW - 86400_000, notAfter: NOW + 10 * 365 * 86400_000 });
const INTERMEDIATES = Array.from({ length: 4 }, () => makeIntermediate(ROOT, NOW));

export const ISSUERS: Issuer[] = INTERMEDIATES.map((c) => ({ fingerprint: sha(c.der), der: c.der }));

/** A submission: even i a random ~1.2 KB "certificate" (x509 entry), odd i a real precertificate. */
export function syntheticSubmission(i: number, certBytes = 1200): { sub: Submission; issuers: Issuer[] } {
  const issuer = ISSUERS[i % ISSUERS.length]!;
  if (i % 2 === 1) {
    const cn = `${randomBytes(8).toString('hex')}.synthetic.example`;
    const cert = issue(INTERMEDIATES[i % INTERMEDIATES.length], { cn, notBefore: NOW - 3600_000, notAfter: NOW + 90 * 86400_000, precert: true }).der;
    const { tbs, issuerKeyHash } = precertTbs(parseCertificate(cert), parseCertificate(issuer.der));
    const entry = { type: 'precert', issuerKeyHash, tbsCertificate: tbs } as const;
    return { sub: { identity: identityHash(entry), entry, cert, chain: [issuer.fingerprint] }, issuers: [issuer] };
  }
  const cert = new Uint8Array(randomBytes(certBytes));
  const entry = { type: 'x509', certificate: cert } as const;
  return { sub: { identity: identityHash(entry), entry, cert, chain: [issuer.fingerprint] }, issuers: [issuer] };
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
  const heads = await allTreeHeads(storage, shard.id);
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

/** The whole tree head history, page by page (treeHeads() never returns more than a page). */
export async function allTreeHeads(storage: LogStorage, shardId: number, pageSize = 1000): Promise<TreeHead[]> {
  const out: TreeHead[] = [];
  for (;;) {
    const page = await storage.treeHeads(shardId, { after: out.at(-1)?.timestamp, limit: pageSize });
    out.push(...page);
    if (page.length < pageSize) return out;
  }
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
