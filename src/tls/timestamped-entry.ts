import { TlsReader } from './reader.js';
import { TlsWriter } from './writer.js';
import { TlsError } from './tls-error.js';

/** RFC 6962 §3.1 LogEntryType x509_entry. */
export const X509_ENTRY = 0;
/** RFC 6962 §3.1 LogEntryType precert_entry. */
export const PRECERT_ENTRY = 1;

/**
 * The signed_entry of RFC 6962 §3.4: the leaf certificate DER, or for a precertificate the
 * SHA-256 of the issuer's SubjectPublicKeyInfo and the TBSCertificate DER (poison removed).
 */
export type SignedEntry =
  | { type: 'x509'; certificate: Uint8Array }
  | { type: 'precert'; issuerKeyHash: Uint8Array; tbsCertificate: Uint8Array };

/** RFC 6962 §3.4 TimestampedEntry. */
export interface TimestampedEntry {
  /** ms since the epoch, a safe integer. */
  timestamp: number;
  entry: SignedEntry;
  /** The CtExtensions content without its 2-byte length (see encodeCtExtensions). */
  extensions: Uint8Array;
}

/** Worst-case size, so the writer allocates once. */
export function timestampedEntrySize(te: TimestampedEntry): number {
  const body = te.entry.type === 'x509' ? 3 + te.entry.certificate.byteLength : 32 + 3 + te.entry.tbsCertificate.byteLength;
  return 8 + 2 + body + 2 + te.extensions.byteLength;
}

/** Appends a TimestampedEntry (§3.4) to `w`; also the tail of the §3.2 SCT signature input. */
export function writeTimestampedEntry(w: TlsWriter, te: TimestampedEntry): void {
  w.u64(te.timestamp, 'TimestampedEntry.timestamp');
  const e = te.entry;
  if (e.type === 'x509') {
    w.u16(X509_ENTRY, 'TimestampedEntry.entry_type');
    // ASN.1Cert is opaque<1..2^24-1> (§3.1).
    w.opaque(3, e.certificate, 'TimestampedEntry.signed_entry.certificate', 1);
  } else if (e.type === 'precert') {
    w.u16(PRECERT_ENTRY, 'TimestampedEntry.entry_type');
    w.fixed(e.issuerKeyHash, 32, 'TimestampedEntry.signed_entry.issuer_key_hash');
    w.opaque(3, e.tbsCertificate, 'TimestampedEntry.signed_entry.tbs_certificate', 1);
  } else {
    throw new TlsError('TimestampedEntry.entry', `unknown type ${(e as { type: unknown }).type}`);
  }
  w.opaque(2, te.extensions, 'TimestampedEntry.extensions');
}

/** Reads a TimestampedEntry at the reader's position. */
export function readTimestampedEntry(r: TlsReader): TimestampedEntry {
  const timestamp = r.u64('TimestampedEntry.timestamp');
  const type = r.u16('TimestampedEntry.entry_type');
  let entry: SignedEntry;
  if (type === X509_ENTRY) {
    entry = { type: 'x509', certificate: r.opaque(3, 'TimestampedEntry.signed_entry.certificate', 1) };
  } else if (type === PRECERT_ENTRY) {
    const issuerKeyHash = r.fixed(32, 'TimestampedEntry.signed_entry.issuer_key_hash');
    const tbsCertificate = r.opaque(3, 'TimestampedEntry.signed_entry.tbs_certificate', 1);
    entry = { type: 'precert', issuerKeyHash, tbsCertificate };
  } else {
    throw new TlsError('TimestampedEntry.entry_type', `unknown entry type ${type}`);
  }
  const extensions = r.opaque(2, 'TimestampedEntry.extensions');
  return { timestamp, entry, extensions };
}

export function encodeTimestampedEntry(te: TimestampedEntry): Uint8Array {
  const w = new TlsWriter(timestampedEntrySize(te));
  writeTimestampedEntry(w, te);
  return w.finish();
}

/** Decodes exactly one TimestampedEntry; trailing bytes are an error. Fields alias `b`. */
export function decodeTimestampedEntry(b: Uint8Array): TimestampedEntry {
  const r = new TlsReader(b, 'TimestampedEntry');
  const te = readTimestampedEntry(r);
  r.end();
  return te;
}

/**
 * Decodes the TimestampedEntry at the start of `b` and reports how many bytes it used
 * (for structures that embed one, like the static-ct-api TileLeaf). Fields alias `b`.
 */
export function decodeTimestampedEntryPrefix(b: Uint8Array): { entry: TimestampedEntry; length: number } {
  const r = new TlsReader(b, 'TimestampedEntry');
  const entry = readTimestampedEntry(r);
  return { entry, length: r.offset };
}
