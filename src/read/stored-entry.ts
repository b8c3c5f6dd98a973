// Rebuilding what a stored entry commits to. A row keeps the certificate (or the
// precertificate as submitted), its chain as fingerprints and its rebuild version; the
// MerkleTreeLeaf, the RFC 6962 extra_data and the static-ct-api TileLeaf are all rebuilt
// from it with the code of that version (src/x509/leaf-rebuild.ts), which the sequencer ran
// on the same row before it signed the leaf.
import {
  encodePrecertChainEntry, encodeTileLeaf, encodeX509ChainEntry,
  type TimestampedEntry,
} from '../tls/index.js';
import { equal, hex } from '../util/bytes.js';
import { CtError } from '../util/errors.js';
import { LEAF_REBUILDERS, rebuildLeaf, rebuildLeafFast, type LeafRebuilders } from '../x509/index.js';
import type { EntryRecord } from '../storage/log-storage.js';
import type { IssuerCert } from './issuer-cache.js';

/** The parts of one entry the read endpoints serve. */
export interface RebuiltEntry {
  te: TimestampedEntry;
  /** RFC 6962 §3.4 MerkleTreeLeaf: get-entries leaf_input. */
  leaf: Uint8Array;
  /** The chain's DERs, leaf issuer first. */
  chain: Uint8Array[];
}

function corrupt(e: EntryRecord, what: string, cause?: unknown): CtError {
  return new CtError(500, 'corrupt_entry', `stored entry ${e.idx}: ${what}`, { cause });
}

/**
 * Rebuilds the TimestampedEntry and MerkleTreeLeaf of a stored entry with the rebuild
 * version it was logged with. `issuers` must hold every fingerprint of the entry's chain.
 * The result is checked against the stored leaf hash: a mismatch is a 500, never a wrong
 * answer.
 */
export function rebuildEntry(e: EntryRecord, issuers: Map<string, IssuerCert>, rebuilders: LeafRebuilders = LEAF_REBUILDERS): RebuiltEntry {
  return rebuildWithChain(e, chainOf(e, issuers), rebuilders);
}

/** The entry's chain certificates, leaf issuer first; a fingerprint not in `issuers` is a 500. */
export function chainOf(e: EntryRecord, issuers: Map<string, IssuerCert>): IssuerCert[] {
  return e.chain.map((f) => {
    const c = issuers.get(hex(f));
    if (!c) throw corrupt(e, `its chain cites issuer ${hex(f)}, which is not stored`);
    return c;
  });
}

/** rebuildEntry with the chain already looked up (chainOf). */
export function rebuildWithChain(e: EntryRecord, chainCerts: readonly IssuerCert[], rebuilders: LeafRebuilders = LEAF_REBUILDERS): RebuiltEntry {
  const chain = chainCerts.map((c) => c.der);
  let built: ReturnType<typeof rebuildLeaf>;
  try {
    // Only a precert's rebuild reads its issuers (parsed once per issuer, lazily).
    const parsed = e.entryType === 1 ? chainCerts.slice(0, 2).map((c) => c.parsed) : [];
    // The shortcut is trusted only when it hashes to the stored leaf hash (the hash of the
    // leaf the sequencer signed); otherwise the frozen version decides, and is checked too.
    const fast = rebuildLeafFast(e, parsed, rebuilders);
    if (fast && equal(fast.hash, e.leafHash)) return { te: fast.te, leaf: fast.leaf, chain };
    built = rebuildLeaf(e, parsed, rebuilders);
  } catch (err) {
    throw corrupt(e, `couldn't rebuild its leaf: ${(err as Error).message}`, err);
  }
  if (!equal(built.hash, e.leafHash)) throw corrupt(e, 'the rebuilt leaf does not hash to the stored leaf hash');
  return { te: built.te, leaf: built.leaf, chain };
}

/** RFC 6962 §4.6 extra_data: X509ChainEntry's chain, or the whole PrecertChainEntry. */
export function extraData(e: EntryRecord, r: RebuiltEntry): Uint8Array {
  return e.entryType === 0 ? encodeX509ChainEntry(r.chain) : encodePrecertChainEntry(e.cert, r.chain);
}

/** static-ct-api TileLeaf of the entry (data tiles). */
export function tileLeaf(e: EntryRecord, r: RebuiltEntry): Uint8Array {
  return encodeTileLeaf(
    e.entryType === 0
      ? { entry: r.te, chainFingerprints: e.chain }
      : { entry: r.te, preCertificate: e.cert, chainFingerprints: e.chain },
  );
}
