// What is served is what was signed (docs/OPERATIONS.md "Trust boundary"). A stored entry keeps the
// certificate (or the precertificate as submitted), its chain and a rebuild version, not the
// MerkleTreeLeaf: storing the leaf again would double the certificate bytes per entry. The
// leaf is rebuilt on every read, so the rebuild must never change for an entry once logged:
//  - a precertificate's logged TBS is derived by code (RFC 6962 §3.2), and that code is
//    versioned: each entry records the version it was logged with, and numbered versions
//    are frozen (a change is a new version, and `current` moves to it);
//  - the sequencer rebuilds every new row with this module before it signs, and refuses an
//    entry whose row does not rebuild to exactly the leaf it would sign;
//  - the read path rebuilds with the entry's own version and checks the stored leaf hash.
import { leafHash } from '../merkle/index.js';
import { encodeCtExtensions, encodeMerkleTreeLeaf, type SignedEntry, type TimestampedEntry } from '../tls/index.js';
import { parseCertificate, type ParsedCert } from './certificate.js';
import { precertTbsV1, type PrecertTbsFn } from './precert-tbs.js';

export interface LeafRebuilders {
  /** The version new entries are logged with. */
  current: number;
  /** Precertificate TBS rebuild by version. x509 entries need none: the certificate is the entry. */
  precert: ReadonlyMap<number, PrecertTbsFn>;
}

/** The rebuilds this code knows. Add versions; never change or remove one. */
export const LEAF_REBUILDERS: LeafRebuilders = Object.freeze({
  current: 1,
  precert: new Map<number, PrecertTbsFn>([[1, precertTbsV1]]),
});

/** The stored fields a leaf is rebuilt from. */
export interface StoredLeaf {
  idx: number;
  timestamp: number;
  entryType: 0 | 1;
  /** Certificate DER (x509_entry) or precertificate DER as submitted (precert_entry). */
  cert: Uint8Array;
  /** Rebuild version the entry was logged with. */
  rebuild: number;
}

/**
 * The signed_entry of a stored entry. `chain` holds the parsed chain certificates, leaf
 * issuer first (a precert needs chain[0], and chain[1] when chain[0] is a Precertificate
 * Signing Certificate). Throws on an unknown version or an entry that does not rebuild.
 */
export function rebuildSignedEntry(e: StoredLeaf, chain: readonly ParsedCert[], r: LeafRebuilders = LEAF_REBUILDERS): SignedEntry {
  if (e.entryType === 0 /* x509_entry */) return { type: 'x509', certificate: e.cert };
  const f = r.precert.get(e.rebuild);
  if (!f) throw new Error(`entry ${e.idx}: unknown rebuild version ${e.rebuild} (this code knows ${[...r.precert.keys()].join(', ')})`);
  if (chain.length === 0) throw new Error(`entry ${e.idx}: a precert entry with an empty chain`);
  const { tbs, issuerKeyHash } = f(parseCertificate(e.cert, `entry ${e.idx}`), chain[0]!, chain[1]);
  return { type: 'precert', issuerKeyHash, tbsCertificate: tbs };
}

/** The TimestampedEntry, MerkleTreeLeaf (RFC 6962 §3.4) and leaf hash (§2.1) of a stored entry. */
export function rebuildLeaf(
  e: StoredLeaf,
  chain: readonly ParsedCert[],
  r: LeafRebuilders = LEAF_REBUILDERS,
): { te: TimestampedEntry; leaf: Uint8Array; hash: Uint8Array } {
  return leafOf(e, rebuildSignedEntry(e, chain, r));
}

/** The leaf of a stored entry whose signed_entry is already rebuilt (rebuildLeaf's second half). */
export function leafOf(e: Pick<StoredLeaf, 'idx' | 'timestamp'>, entry: SignedEntry): { te: TimestampedEntry; leaf: Uint8Array; hash: Uint8Array } {
  // static-ct-api: every entry carries its leaf_index extension (the sequencer's invariant).
  const te: TimestampedEntry = { timestamp: e.timestamp, entry, extensions: encodeCtExtensions({ leafIndex: e.idx }) };
  const leaf = encodeMerkleTreeLeaf(te);
  return { te, leaf, hash: leafHash(leaf) };
}
