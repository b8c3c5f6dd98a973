import { TlsReader } from './reader.js';
import { TlsWriter } from './writer.js';
import { TlsError } from './tls-error.js';
import { readTimestampedEntry, timestampedEntrySize, writeTimestampedEntry, type TimestampedEntry } from './timestamped-entry.js';

/**
 * RFC 6962 §3.4 MerkleTreeLeaf: version v1(0), leaf_type timestamped_entry(0), then the
 * TimestampedEntry. Its SHA-256 with a 0x00 prefix is the leaf hash (§2.1).
 */
export function encodeMerkleTreeLeaf(te: TimestampedEntry): Uint8Array {
  const w = new TlsWriter(2 + timestampedEntrySize(te));
  w.u8(0 /* version = v1 */, 'MerkleTreeLeaf.version');
  w.u8(0 /* leaf_type = timestamped_entry */, 'MerkleTreeLeaf.leaf_type');
  writeTimestampedEntry(w, te);
  return w.finish();
}

/** Decodes a MerkleTreeLeaf (e.g. get-entries leaf_input); strict, fields alias `b`. */
export function decodeMerkleTreeLeaf(b: Uint8Array): TimestampedEntry {
  const r = new TlsReader(b, 'MerkleTreeLeaf');
  const version = r.u8('MerkleTreeLeaf.version');
  if (version !== 0) throw new TlsError('MerkleTreeLeaf.version', `unsupported version ${version}`);
  const leafType = r.u8('MerkleTreeLeaf.leaf_type');
  if (leafType !== 0) throw new TlsError('MerkleTreeLeaf.leaf_type', `unsupported leaf type ${leafType}`);
  const te = readTimestampedEntry(r);
  r.end();
  return te;
}
