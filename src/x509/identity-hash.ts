import { createHash } from 'node:crypto';
import type { SignedEntry } from '../tls/index.js';

/**
 * The dedup identity of a submission (docs/DESIGN.md "The write path"): SHA-256 of
 * uint16 entry_type || issuer_key_hash (precert only) || certificate DER or logged TBS.
 * Two submissions with the same identity produce the same signed_entry, so one leaf
 * serves both. The fields before the last are fixed-size, so no length prefix is needed.
 */
export function identityHash(entry: SignedEntry): Uint8Array {
  const h = createHash('sha256');
  if (entry.type === 'x509') {
    h.update(Uint8Array.of(0, 0 /* entry_type = x509_entry */)).update(entry.certificate);
  } else {
    h.update(Uint8Array.of(0, 1 /* entry_type = precert_entry */)).update(entry.issuerKeyHash).update(entry.tbsCertificate);
  }
  return new Uint8Array(h.digest());
}
