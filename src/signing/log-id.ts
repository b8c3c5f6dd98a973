import { createHash } from 'node:crypto';

/** RFC 6962 §3.2 LogID: SHA-256 of the log's DER-encoded SubjectPublicKeyInfo. */
export function logIdFromSpki(spki: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(spki).digest());
}
