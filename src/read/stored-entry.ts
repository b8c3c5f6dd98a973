// Rebuilding what a stored entry commits to. A row keeps the certificate (or the
// precertificate as submitted) and its chain as fingerprints; the MerkleTreeLeaf, the
// RFC 6962 extra_data and the static-ct-api TileLeaf are all rebuilt from it exactly as the
// sequencer built them at submission.
import { leafHash } from '../merkle/index.js';
import {
  encodeCtExtensions, encodeMerkleTreeLeaf, encodePrecertChainEntry, encodeTileLeaf, encodeX509ChainEntry,
  type TimestampedEntry,
} from '../tls/index.js';
import { equal, hex } from '../util/bytes.js';
import { CtError } from '../util/errors.js';
import { parseCertificate, precertTbs } from '../x509/index.js';
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
 * Rebuilds the TimestampedEntry and MerkleTreeLeaf of a stored entry. `issuers` must hold
 * every fingerprint of the entry's chain. For a precert entry the logged TBS and
 * issuer_key_hash are recomputed with precertTbs (chain[0] the issuer, chain[1] the final
 * issuer when chain[0] is a Precertificate Signing Certificate) and the result is checked
 * against the stored leaf hash: a mismatch is a 500, never a wrong answer.
 */
export function rebuildEntry(e: EntryRecord, issuers: Map<string, IssuerCert>): RebuiltEntry {
  const chainCerts = e.chain.map((f) => {
    const c = issuers.get(hex(f));
    if (!c) throw corrupt(e, `its chain cites issuer ${hex(f)}, which is not stored`);
    return c;
  });
  // static-ct-api: every entry carries its leaf_index extension (the sequencer's invariant).
  const extensions = encodeCtExtensions({ leafIndex: e.idx });
  let te: TimestampedEntry;
  if (e.entryType === 0 /* x509_entry */) {
    te = { timestamp: e.timestamp, entry: { type: 'x509', certificate: e.cert }, extensions };
  } else {
    if (chainCerts.length === 0) throw corrupt(e, 'a precert entry with an empty chain');
    let built: { tbs: Uint8Array; issuerKeyHash: Uint8Array };
    try {
      built = precertTbs(parseCertificate(e.cert, `entry ${e.idx}`), chainCerts[0]!.parsed, chainCerts[1]?.parsed);
    } catch (err) {
      throw corrupt(e, "couldn't rebuild the precertificate's logged TBS", err);
    }
    te = { timestamp: e.timestamp, entry: { type: 'precert', issuerKeyHash: built.issuerKeyHash, tbsCertificate: built.tbs }, extensions };
  }
  const leaf = encodeMerkleTreeLeaf(te);
  if (e.entryType !== 0 && !equal(leafHash(leaf), e.leafHash)) throw corrupt(e, 'the rebuilt precert leaf does not hash to the stored leaf hash');
  return { te, leaf, chain: chainCerts.map((c) => c.der) };
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
