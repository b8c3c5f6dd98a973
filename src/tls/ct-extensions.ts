import { TlsReader } from './reader.js';
import { TlsWriter } from './writer.js';
import { TlsError } from './tls-error.js';

/** static-ct-api ExtensionType leaf_index. */
export const LEAF_INDEX_EXTENSION = 0;

/** The CtExtensions this log understands (static-ct-api "SCT Extension"). */
export interface CtExtensions {
  /** 0-based index of the entry in the log, a uint40. */
  leafIndex?: number;
}

/**
 * Encodes the CtExtensions content (without the outer 2-byte length that TimestampedEntry and
 * SCT add): `Extension { uint8 extension_type; opaque extension_data<0..2^16-1> }` list.
 * With a leaf_index that is 8 bytes: 00 0005 <uint40 big-endian>. Empty when there is none.
 */
export function encodeCtExtensions(e: CtExtensions): Uint8Array {
  if (e.leafIndex === undefined) return new Uint8Array(0);
  const w = new TlsWriter(8);
  w.u8(LEAF_INDEX_EXTENSION, 'CtExtensions.extension_type');
  w.u16(5 /* uint40 */, 'CtExtensions.leaf_index.length');
  w.u40(e.leafIndex, 'CtExtensions.leaf_index');
  return w.finish();
}

/**
 * Decodes the CtExtensions content. Unknown extension types are skipped (their order and
 * presence are not ours to judge); a duplicate of any type, or a leaf_index whose data is not
 * exactly 5 bytes, is rejected (static-ct-api: duplicates MUST NOT be included).
 */
export function decodeCtExtensions(b: Uint8Array): CtExtensions {
  const r = new TlsReader(b, 'CtExtensions');
  const seen = new Set<number>();
  const out: CtExtensions = {};
  while (r.remaining > 0) {
    const type = r.u8('CtExtensions.extension_type');
    if (seen.has(type)) throw new TlsError('CtExtensions.extension_type', `duplicate extension ${type}`);
    seen.add(type);
    const data = r.opaque(2, 'CtExtensions.extension_data');
    if (type === LEAF_INDEX_EXTENSION) {
      if (data.byteLength !== 5) throw new TlsError('CtExtensions.leaf_index', `length ${data.byteLength}, want 5`);
      out.leafIndex = new TlsReader(data, 'CtExtensions.leaf_index').u40('CtExtensions.leaf_index');
    }
  }
  return out;
}
