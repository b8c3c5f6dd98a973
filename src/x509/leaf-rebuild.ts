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
//    It takes a shortcut for version 1 (rebuildLeafFast: a DER walk instead of a full
//    parse, the leaf written in one buffer), which the stored leaf hash check makes safe:
//    a shortcut whose bytes differ from what was signed cannot hash to the signed leaf's
//    hash, and the entry is then rebuilt the slow, frozen way.
import { hash as digest } from 'node:crypto';
import { leafHash } from '../merkle/index.js';
import { encodeCtExtensions, encodeMerkleTreeLeaf, type SignedEntry, type TimestampedEntry } from '../tls/index.js';
import { parseCertificate, type ParsedCert } from './certificate.js';
import { derHead, precertTbsV1, precertTbsV1Pieces, type PrecertTbsFn } from './precert-tbs.js';

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

/**
 * rebuildLeaf's result for the common cases, built without a full certificate parse and
 * written in one buffer: an x509 entry, or a precert entry whose version is the frozen
 * precertTbsV1 itself (an injected or later version never takes this path). The result is
 * not checked here; callers must compare `hash` with the stored leaf hash and fall back to
 * rebuildLeaf on a mismatch. Undefined when there is no shortcut for this entry.
 */
export function rebuildLeafFast(
  e: StoredLeaf,
  chain: readonly ParsedCert[],
  r: LeafRebuilders = LEAF_REBUILDERS,
): { te: TimestampedEntry; leaf: Uint8Array; hash: Uint8Array } | undefined {
  if (e.entryType === 0) {
    const { buf, at } = leafBuffer(e, 3 + e.cert.length, 0);
    writeU24(buf, at, e.cert.length);
    buf.set(e.cert, at + 3);
    return finish(e, buf, { type: 'x509', certificate: e.cert });
  }
  if (r.precert.get(e.rebuild) !== precertTbsV1 || chain.length === 0) return undefined;
  const p = precertTbsV1Pieces(e.cert, chain[0]!, chain[1]);
  if (!p) return undefined;
  const seqHead = derHead(0x30 /* SEQUENCE */, p.contentLength);
  const tbsLength = seqHead.length + p.contentLength;
  const { buf, at } = leafBuffer(e, 32 + 3 + tbsLength, 1);
  buf.set(p.issuerKeyHash, at);
  writeU24(buf, at + 32, tbsLength);
  let o = at + 35;
  buf.set(seqHead, o);
  o += seqHead.length;
  for (const part of p.parts) {
    buf.set(part, o);
    o += part.length;
  }
  return finish(e, buf, { type: 'precert', issuerKeyHash: p.issuerKeyHash, tbsCertificate: new Uint8Array(buf.buffer, buf.byteOffset + at + 35, o - at - 35) });
}

// The leaf_index extension (static-ct-api): extension_type 0, uint16 length 5, uint40 index.
const EXTENSIONS_LENGTH = 8;

/**
 * A buffer for 0x00 || MerkleTreeLeaf (the leaf-hash prefix first, so the leaf is hashed
 * without a copy), its header and CtExtensions written, `at` where the signed_entry goes.
 */
function leafBuffer(e: Pick<StoredLeaf, 'idx' | 'timestamp'>, entryLength: number, entryType: 0 | 1): { buf: Buffer; at: number } {
  const buf = Buffer.allocUnsafe(1 + 2 + 8 + 2 + entryLength + 2 + EXTENSIONS_LENGTH);
  buf[0] = 0x00; // leaf hash prefix (RFC 6962 §2.1)
  buf[1] = 0; // MerkleTreeLeaf.version v1
  buf[2] = 0; // leaf_type timestamped_entry
  buf.writeUInt32BE(Math.floor(e.timestamp / 2 ** 32), 3);
  buf.writeUInt32BE(e.timestamp >>> 0, 7);
  buf.writeUInt16BE(entryType, 11);
  let o = 13 + entryLength;
  buf.writeUInt16BE(EXTENSIONS_LENGTH, o);
  buf[o + 2] = 0; // leaf_index
  buf.writeUInt16BE(5, o + 3);
  buf[o + 5] = Math.floor(e.idx / 2 ** 32);
  buf.writeUInt32BE(e.idx >>> 0, o + 6);
  o += 10;
  if (o !== buf.length) throw new Error('leaf layout');
  return { buf, at: 13 };
}

function writeU24(buf: Buffer, at: number, n: number): void {
  if (n >= 2 ** 24) throw new Error(`a certificate of ${n} bytes does not fit an ASN.1Cert`);
  buf[at] = n >>> 16;
  buf[at + 1] = (n >>> 8) & 0xff;
  buf[at + 2] = n & 0xff;
}

function finish(e: Pick<StoredLeaf, 'timestamp'>, buf: Buffer, entry: SignedEntry): { te: TimestampedEntry; leaf: Uint8Array; hash: Uint8Array } {
  const leaf = new Uint8Array(buf.buffer, buf.byteOffset + 1, buf.length - 1);
  const h = digest('sha256', buf, 'buffer');
  return {
    te: { timestamp: e.timestamp, entry, extensions: leaf.subarray(leaf.length - EXTENSIONS_LENGTH) },
    leaf,
    hash: new Uint8Array(h.buffer, h.byteOffset, h.byteLength),
  };
}
