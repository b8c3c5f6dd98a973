// The sequencer's one step, pure: a pool of submissions and the tree as it stands in, the
// new entries, the changed tiles and the (unsigned) new tree head out. No clock, no I/O:
// the caller passes "now" and what the database already knows, and does the commit, the
// fork-guard record and the signing around it (shard-sequencer.ts). Every rule about what
// a batch may contain sits here:
//  - one identity is logged once: duplicates within the batch, of recent commits and of
//    stored entries get the stored entry's index and timestamp;
//  - indexes are consecutive from the current tree size;
//  - the batch's timestamp exceeds the current head's and the fork-guard floor, so STH
//    timestamps strictly increase and each STH's timestamp is >= every SCT timestamp in
//    its tree (RFC 6962 §3.5).
import { appendLeaves, leafHash, type RightEdge } from '../merkle/index.js';
import { encodeCtExtensions, encodeMerkleTreeLeaf } from '../tls/index.js';
import { hex } from '../util/bytes.js';
import type { Submission } from '../queue/submission.js';
import type { EntryRecord, TileWrite, TreeHead } from '../storage/log-storage.js';

export interface TreeState {
  head: TreeHead;
  edge: RightEdge;
  /** Every new head's timestamp must exceed this (the newest published head's, from the fork-guard record). */
  minTimestamp: number;
}

/** Where a submission's entry is: its index and timestamp in the tree. */
export interface Placement {
  idx: number;
  timestamp: number;
}

export interface SequencedBatch {
  /** New entries, in index order. */
  entries: EntryRecord[];
  tiles: TileWrite[];
  edge: RightEdge;
  /** The new head, still unsigned (signature empty); equal in size and root to the old one when nothing is new. */
  head: TreeHead;
  /** Per submission, in pool order: its placement and whether it was already logged (or repeated in this pool). */
  answers: Array<Placement & { duplicate: boolean }>;
  /** The placements this batch assigned, by hex identity (to remember after the commit). */
  assigned: Map<string, Placement>;
}

export interface SequenceOptions {
  /** hex(pool[i].identity), when the caller has them already. */
  keys?: readonly string[];
  /**
   * The leaf hash of a new entry (the leaf check's, which hashes the row's rebuilt entry).
   * @defaultValue the hash of its MerkleTreeLeaf over the submitted entry
   */
  leafHash?: (sub: Submission, idx: number, timestamp: number) => Uint8Array;
}

const submittedLeafHash = (sub: Submission, idx: number, timestamp: number): Uint8Array =>
  leafHash(encodeMerkleTreeLeaf({ timestamp, entry: sub.entry, extensions: encodeCtExtensions({ leafIndex: idx }) }));

/**
 * Sequences a pool on top of `state`. `known` holds the placements of identities already in
 * the tree (recent commits and a database lookup), by hex identity. `rebuild` is the leaf
 * rebuild version the new entries are logged with (src/x509/leaf-rebuild.ts).
 */
export function sequenceBatch(state: TreeState, pool: readonly Submission[], known: ReadonlyMap<string, Placement>, now: number, rebuild: number, opts: SequenceOptions = {}): SequencedBatch {
  const hashOf = opts.leafHash ?? submittedLeafHash;
  const timestamp = Math.max(now, state.head.timestamp + 1, state.minTimestamp + 1);
  const size0 = state.head.treeSize;
  const assigned = new Map<string, Placement>();
  const entries: EntryRecord[] = [];
  const hashes: Uint8Array[] = [];
  const answers: SequencedBatch['answers'] = [];
  for (let i = 0; i < pool.length; i++) {
    const sub = pool[i]!;
    const k = opts.keys?.[i] ?? hex(sub.identity);
    const before = known.get(k);
    if (before) {
      answers.push({ ...before, duplicate: true });
      continue;
    }
    const again = assigned.get(k);
    if (again) {
      answers.push({ ...again, duplicate: true });
      continue;
    }
    const idx = size0 + entries.length;
    const h = hashOf(sub, idx, timestamp);
    hashes.push(h);
    entries.push({ idx, leafHash: h, identity: sub.identity, timestamp, entryType: sub.entry.type === 'x509' ? 0 : 1, cert: sub.cert, chain: sub.chain, rebuild });
    const p = { idx, timestamp };
    assigned.set(k, p);
    answers.push({ ...p, duplicate: false });
  }
  if (hashes.length === 0) {
    return { entries, tiles: [], edge: state.edge, head: { ...state.head, timestamp, signature: new Uint8Array() }, answers, assigned };
  }
  const r = appendLeaves(state.edge, hashes);
  return {
    entries,
    tiles: r.changed,
    edge: r.edge,
    head: { treeSize: size0 + hashes.length, timestamp, rootHash: r.root, signature: new Uint8Array() },
    answers,
    assigned,
  };
}
