// After a fault case: is every SCT the log returned an SCT for its own submission, and is its
// entry in the final tree? Is every tree head the monitor saw one the final tree extends?
// The final tree is read back over HTTP (get-entries) and its root recomputed; a sample of
// SCTs is also proved with get-proof-by-hash, and the first head seen with
// get-sth-consistency, so the read server's proofs are checked too. checkSctsInDatabase
// looks the SCTs up in one MariaDB server's own copy of the log (a replica, a promoted primary).
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { EMPTY_ROOT, leafHash, nodeHash, verifyConsistency, verifyInclusion } from '../../src/merkle/index.js';
import { verifySct } from '../../src/signing/index.js';
import { openDatabase } from '../../src/storage/database.js';
import { LogStorage } from '../../src/storage/log-storage.js';
import { decodeCtExtensions, encodeMerkleTreeLeaf, sctFromJson } from '../../src/tls/index.js';
import { b64, equal, fromB64 } from '../../src/util/bytes.js';
import { httpRequest } from './http-request.js';
import type { Outcome } from './load.js';
import { sthVerifies, type SeenSth } from './monitor.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CaseCheck {
  submissions: number;
  /** Submissions answered 200 (each gets at most one: a client stops at its SCT). */
  scts: number;
  /** SCTs that verify over their own submission and whose entry is at their leaf_index in the final tree. */
  included: number;
  /** SCTs for their own submission whose entry is not in the final tree (past its end, or another entry at that index). */
  lost: number;
  /** SCTs that do not verify over their own submission's entry (another submission's SCT, or garbage). */
  wrong: number;
  /** Distinct tree heads seen that the final tree does not extend (two roots for one size, a size past the end, a bad signature). */
  sthConflicts: number;
  /** Times a tree head was smaller than one seen before it (not a fork; reported, not counted as a conflict). */
  wentBackwards: number;
  /** get-proof-by-hash answers that did not prove an included SCT. */
  proofFailures: number;
  proofsChecked: number;
  /** Submissions that never got an SCT before the battery gave up, and those refused with a 4xx. */
  unanswered: number;
  refused: number;
  finalSize: number;
  /** The first few problems of each kind, for the report. */
  problems: string[];
}

interface SthJson {
  tree_size: number;
  timestamp: number;
  sha256_root_hash: string;
  tree_head_signature: string;
}

async function getJson<T>(agent: Agent, url: string): Promise<T> {
  const a = await httpRequest(agent, url, 'GET', undefined, 30_000);
  if (a.status !== 200) throw new Error(`GET ${url}: ${a.status} ${a.text.slice(0, 200)}`);
  return JSON.parse(a.text) as T;
}

/** MTH of every prefix size in `sizes` (each <= hashes.length), in one pass over the leaves. */
export function prefixRoots(hashes: Uint8Array[], sizes: number[]): Map<number, Uint8Array> {
  const want = new Set(sizes);
  const out = new Map<number, Uint8Array>();
  if (want.has(0)) out.set(0, EMPTY_ROOT);
  const stack: Array<{ h: Uint8Array; n: number }> = [];
  for (let i = 0; i < hashes.length; i++) {
    let top = { h: hashes[i]!, n: 1 };
    while (stack.length && stack[stack.length - 1]!.n === top.n) {
      const left = stack.pop()!;
      top = { h: nodeHash(left.h, top.h), n: left.n * 2 };
    }
    stack.push(top);
    if (want.has(i + 1)) {
      let r = stack[stack.length - 1]!.h;
      for (let k = stack.length - 2; k >= 0; k--) r = nodeHash(stack[k]!.h, r);
      out.set(i + 1, r);
    }
  }
  return out;
}

/** The SCT's leaf_index and the leaf hash of its entry; throws unless it verifies over its own submission. */
function sctLeaf(spki: Uint8Array, out: Outcome, json: string): { index: number; timestamp: number; hash: Uint8Array } {
  const sct = sctFromJson(JSON.parse(json));
  const index = decodeCtExtensions(sct.extensions).leafIndex;
  if (!verifySct(spki, sct, out.sub.entry)) throw new Error(`SCT (leaf_index ${index}) does not verify over submission #${out.sub.n} (${out.sub.endpoint})`);
  if (index === undefined) throw new Error(`SCT for submission #${out.sub.n} has no leaf_index extension`);
  return { index, timestamp: sct.timestamp, hash: leafHash(encodeMerkleTreeLeaf({ timestamp: sct.timestamp, entry: out.sub.entry, extensions: sct.extensions })) };
}

export interface DatabaseCheck {
  /** Which server, and when, for the report. */
  what: string;
  /** SCTs (that verify over their own submission) looked up. */
  checked: number;
  /** Those whose entry is not in that database at their leaf_index with their timestamp and leaf hash. */
  missing: number;
  problems: string[];
}

/**
 * Every SCT among `outcomes` looked up in the log's database on one MariaDB server itself
 * (a replica, a promoted primary), with SQL rather than through a read server: its entry at
 * its leaf_index, with its timestamp and leaf hash. SCTs that do not verify are left to
 * checkCase (they count as wrong there).
 */
export async function checkSctsInDatabase(o: { what: string; url: string; shard: string; spki: Uint8Array; outcomes: Outcome[] }): Promise<DatabaseCheck> {
  const scts: Array<{ out: Outcome; index: number; timestamp: number; hash: Uint8Array }> = [];
  for (const out of o.outcomes) {
    if (out.sct === undefined) continue;
    try {
      scts.push({ out, ...sctLeaf(o.spki, out, out.sct) });
    } catch {
      // checkCase counts it
    }
  }
  const problems: string[] = [];
  const storage = new LogStorage(openDatabase({ url: o.url, dataDir: tmpdir(), poolSize: 1 }));
  try {
    const shard = await storage.getShard(o.shard);
    if (!shard) throw new Error(`${o.what}: no shard ${o.shard} in the database`);
    const end = scts.reduce((m, x) => Math.max(m, x.index + 1), 0);
    const stored = new Map<number, { timestamp: number; leafHash: Uint8Array }>();
    for (let start = 0; start < end; start += 1000) {
      for (const e of await storage.readEntries(shard.id, start, Math.min(end, start + 1000))) stored.set(e.idx, e);
    }
    let missing = 0;
    for (const x of scts) {
      const e = stored.get(x.index);
      if (e && e.timestamp === x.timestamp && equal(e.leafHash, x.hash)) continue;
      missing++;
      if (problems.length < 4) problems.push(`${o.what}: submission #${x.out.sub.n}: SCT for leaf_index ${x.index} (timestamp ${x.timestamp}): ${e ? 'another entry is at that index' : 'no entry at that index'}`);
    }
    return { what: o.what, checked: scts.length, missing, problems };
  } finally {
    await storage.knex.destroy();
  }
}

export async function checkCase(o: {
  readBase: string;
  spki: Uint8Array;
  outcomes: Outcome[];
  seen: SeenSth[];
  /** How many included SCTs to prove with get-proof-by-hash (spread over the tree). */
  proofSample: number;
  /** How long to wait for the tree to cover every SCT. */
  waitMs: number;
}): Promise<CaseCheck> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const problems: string[] = [];
  const perKind = new Map<string, number>();
  // At most four of each kind (wrong, lost, proof, conflict), so one kind cannot hide another.
  const problem = (s: string) => {
    const kind = s.slice(0, s.indexOf(':'));
    const n = perKind.get(kind) ?? 0;
    perKind.set(kind, n + 1);
    if (n < 4) problems.push(s);
  };
  try {
    // 1. Every SCT over its own submission.
    const good: Array<{ out: Outcome; index: number; hash: Uint8Array }> = [];
    let wrong = 0;
    for (const out of o.outcomes) {
      if (out.sct === undefined) continue;
      try {
        good.push({ out, ...sctLeaf(o.spki, out, out.sct) });
      } catch (err) {
        wrong++;
        problem(`wrong: ${(err as Error).message}`);
      }
    }

    // 2. The final tree: wait until a signed head covers every SCT's index and stops growing.
    const maxIndex = good.reduce((m, g) => Math.max(m, g.index), -1);
    const until = Date.now() + o.waitMs;
    let sth = await getJson<SthJson>(agent, `${o.readBase}/ct/v1/get-sth`);
    for (;;) {
      await sleep(600);
      const next = await getJson<SthJson>(agent, `${o.readBase}/ct/v1/get-sth`);
      const stable = next.tree_size === sth.tree_size;
      sth = next;
      if ((sth.tree_size > maxIndex && stable) || Date.now() > until) break;
    }
    const size = sth.tree_size;
    const root = fromB64(sth.sha256_root_hash)!;
    let sthConflicts = 0;
    if (!sthVerifies(o.spki, { timestamp: sth.timestamp, treeSize: size, rootHash: root }, fromB64(sth.tree_head_signature)!)) {
      sthConflicts++;
      problem(`the final STH (size ${size}) has a bad signature`);
    }
    const hashes: Uint8Array[] = [];
    while (hashes.length < size) {
      const page = await getJson<{ entries: Array<{ leaf_input: string }> }>(agent, `${o.readBase}/ct/v1/get-entries?start=${hashes.length}&end=${size - 1}`);
      if (page.entries.length === 0) throw new Error(`get-entries from ${hashes.length} returned nothing (tree size ${size})`);
      for (const e of page.entries) hashes.push(leafHash(fromB64(e.leaf_input)!));
    }
    const sizes = [...new Set(o.seen.map((s) => s.size).filter((s) => s <= size)), size];
    const roots = prefixRoots(hashes, sizes);
    if (!equal(roots.get(size)!, root)) {
      sthConflicts++;
      problem(`the leaves get-entries returns do not hash to the final STH root (size ${size})`);
    }

    // 3. Each good SCT's entry at its index.
    let included = 0;
    let lost = 0;
    const inTree: typeof good = [];
    for (const g of good) {
      if (g.index < size && equal(hashes[g.index]!, g.hash)) {
        included++;
        inTree.push(g);
      } else {
        lost++;
        problem(`lost: submission #${g.out.sub.n}: SCT for leaf_index ${g.index}, ${g.index >= size ? `past the final tree (size ${size})` : 'which holds another entry'}`);
      }
    }

    // 4. get-proof-by-hash for a spread sample.
    let proofFailures = 0;
    const step = Math.max(1, Math.floor(inTree.length / Math.max(1, o.proofSample)));
    const sample = inTree.filter((_, i) => i % step === 0).slice(0, o.proofSample);
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = w; i < sample.length; i += 8) {
          const g = sample[i]!;
          try {
            const p = await getJson<{ leaf_index: number; audit_path: string[] }>(agent, `${o.readBase}/ct/v1/get-proof-by-hash?hash=${encodeURIComponent(b64(g.hash))}&tree_size=${size}`);
            if (p.leaf_index !== g.index) throw new Error(`leaf_index ${p.leaf_index}, SCT says ${g.index}`);
            verifyInclusion(g.hash, p.leaf_index, size, p.audit_path.map((h) => fromB64(h)!), root);
          } catch (err) {
            proofFailures++;
            problem(`proof: submission #${g.out.sub.n}: ${(err as Error).message}`);
          }
        }
      }),
    );

    // 5. Every tree head seen: signed, and a prefix of the final tree.
    const bad = new Set<string>();
    for (const s of o.seen) {
      const k = `${s.size} ${s.root}`;
      if (bad.has(k)) continue;
      const want = s.size <= size ? roots.get(s.size) : undefined;
      if (!s.signatureOk) {
        bad.add(k);
        problem(`conflict: ${s.source} of ${s.server} showed a tree head of size ${s.size} with a bad signature`);
      } else if (want === undefined) {
        bad.add(k);
        problem(`conflict: ${s.source} of ${s.server} showed size ${s.size}, past the final tree (size ${size}): a rolled-back tree`);
      } else if (b64(want) !== s.root) {
        bad.add(k);
        problem(`conflict: ${s.source} of ${s.server} showed size ${s.size} with root ${s.root}; the final tree's root at that size is ${b64(want)}`);
      }
    }
    sthConflicts += bad.size;
    // The read server's own consistency proof from the first non-empty head seen.
    const first = o.seen.find((s) => s.size > 0 && s.size <= size && !bad.has(`${s.size} ${s.root}`));
    if (first) {
      try {
        const c = await getJson<{ consistency: string[] }>(agent, `${o.readBase}/ct/v1/get-sth-consistency?first=${first.size}&second=${size}`);
        verifyConsistency(first.size, size, c.consistency.map((h) => fromB64(h)!), fromB64(first.root)!, root);
      } catch (err) {
        sthConflicts++;
        problem(`conflict: get-sth-consistency ${first.size}..${size}: ${(err as Error).message}`);
      }
    }
    let wentBackwards = 0;
    let maxSize = 0;
    for (const s of [...o.seen].sort((a, b) => a.at - b.at)) {
      if (s.size < maxSize) wentBackwards++;
      maxSize = Math.max(maxSize, s.size);
    }

    return {
      submissions: o.outcomes.length,
      scts: o.outcomes.filter((x) => x.sct !== undefined).length,
      included,
      lost,
      wrong,
      sthConflicts,
      wentBackwards,
      proofFailures,
      proofsChecked: sample.length,
      unanswered: o.outcomes.filter((x) => x.sct === undefined && x.refused === undefined).length,
      refused: o.outcomes.filter((x) => x.refused !== undefined).length,
      finalSize: size,
      problems,
    };
  } finally {
    agent.destroy();
  }
}
