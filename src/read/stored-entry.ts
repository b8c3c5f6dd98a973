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
import { LEAF_REBUILDERS, rebuildLeaf, type LeafRebuilders } from '../x509/index.js';
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
  const chainCerts = e.chain.map((f) => {
    const c = issuers.get(hex(f));
    if (!c) throw corrupt(e, `its chain cites issuer ${hex(f)}, which is not stored`);
    return c;
  });
  let built: ReturnType<typeof rebuildLeaf>;
  try {
    // Only a precert's rebuild reads its issuers (parsed once per issuer, lazily).
    built = rebuildLeaf(e, e.entryType === 1 ? chainCerts.slice(0, 2).map((c) => c.parsed) : [], rebuilders);
  } catch (err) {
    throw corrupt(e, `couldn't rebuild its leaf: ${(err as Error).message}`, err);
  }
  if (!equal(built.hash, e.leafHash)) throw corrupt(e, 'the rebuilt leaf does not hash to the stored leaf hash');
  return { te: built.te, leaf: built.leaf, chain: chainCerts.map((c) => c.der) };
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
