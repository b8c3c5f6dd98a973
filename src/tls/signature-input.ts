import { hash } from 'node:crypto';
import { TlsWriter } from './writer.js';
import { timestampedEntrySize, writeTimestampedEntry, type SignedEntry } from './timestamped-entry.js';

/**
 * RFC 6962 §3.2: the digitally-signed struct of an SCT, i.e. sct_version v1(0),
 * signature_type certificate_timestamp(0), timestamp, entry_type, signed_entry, extensions.
 * After the two leading bytes it is byte-identical to the TimestampedEntry (§3.4), which is
 * why an SCT verifies against the leaf the log stores.
 */
export function sctSignatureInput(timestamp: number, entry: SignedEntry, extensions: Uint8Array): Uint8Array {
  const te = { timestamp, entry, extensions };
  const w = new TlsWriter(2 + timestampedEntrySize(te));
  w.u8(0 /* sct_version = v1 */, 'SCT.sct_version');
  w.u8(0 /* signature_type = certificate_timestamp */, 'SCT.signature_type');
  writeTimestampedEntry(w, te);
  return w.finish();
}

/**
 * SHA-256 of sctSignatureInput: what an SCT's ECDSA signature is computed over, up to the
 * hash. The sequencer reports it with each SCT and the CTFE recomputes it from its own
 * submission (docs/DESIGN.md "Every answer belongs to its submission").
 */
export function sctSignedDigest(timestamp: number, entry: SignedEntry, extensions: Uint8Array): Uint8Array {
  const b = hash('sha256', sctSignatureInput(timestamp, entry, extensions), 'buffer');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** The fields of a signed tree head that its signature covers. */
export interface TreeHead {
  /** ms since the epoch. */
  timestamp: number;
  treeSize: number;
  /** 32-byte SHA-256 Merkle Tree Hash. */
  rootHash: Uint8Array;
}

/**
 * RFC 6962 §3.5 TreeHeadSignature input: version v1(0), signature_type tree_hash(1),
 * uint64 timestamp, uint64 tree_size, opaque sha256_root_hash[32]. 50 bytes.
 */
export function sthSignatureInput(sth: TreeHead): Uint8Array {
  const w = new TlsWriter(50);
  w.u8(0 /* version = v1 */, 'TreeHeadSignature.version');
  w.u8(1 /* signature_type = tree_hash */, 'TreeHeadSignature.signature_type');
  w.u64(sth.timestamp, 'TreeHeadSignature.timestamp');
  w.u64(sth.treeSize, 'TreeHeadSignature.tree_size');
  w.fixed(sth.rootHash, 32, 'TreeHeadSignature.sha256_root_hash');
  return w.finish();
}
