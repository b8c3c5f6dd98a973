import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { equal, hex } from '../util/bytes.js';
import { decodeDigitallySigned, HASH_SHA256, SIG_ECDSA, SIG_RSA } from '../tls/digitally-signed.js';
import { sctSignatureInput, sthSignatureInput, type TreeHead } from '../tls/signature-input.js';
import type { SignedEntry } from '../tls/timestamped-entry.js';
import type { Sct } from '../tls/sct.js';
import { logIdFromSpki } from './log-id.js';

// createPublicKey costs more than a verify (docs/PERFORMANCE.md), so keys given as SPKI bytes are
// imported once. Bounded: a handful of log keys in practice; the least recently used goes first.
const keyCache = new LRUCache<string, KeyObject>({ max: 256 });

function publicKey(spki: Uint8Array | KeyObject): KeyObject {
  if (!(spki instanceof Uint8Array)) return spki;
  const id = hex(spki);
  let key = keyCache.get(id);
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    keyCache.set(id, key);
  }
  return key;
}

/**
 * Verifies an encoded DigitallySigned (RFC 5246 §4.7) over `data` with a log key: ECDSA P-256
 * or P-384 with SHA-256, or RSA PKCS#1 v1.5 with SHA-256 (RFC 6962 §2.1.4). Returns false for
 * a signature that does not verify, including one whose algorithm does not match the key.
 * Throws for a malformed DigitallySigned, a hash other than SHA-256, or an unsupported key.
 */
export function verifyDigitallySigned(spki: Uint8Array | KeyObject, data: Uint8Array, ds: Uint8Array): boolean {
  const d = decodeDigitallySigned(ds);
  if (d.hashAlgorithm !== HASH_SHA256) throw new Error(`DigitallySigned.hash_algorithm: unsupported ${d.hashAlgorithm}, want sha256(4)`);
  if (d.signatureAlgorithm !== SIG_ECDSA && d.signatureAlgorithm !== SIG_RSA) {
    throw new Error(`DigitallySigned.signature_algorithm: unsupported ${d.signatureAlgorithm}, want ecdsa(3) or rsa(1)`);
  }
  const key = publicKey(spki);
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve !== 'prime256v1' && curve !== 'secp384r1') throw new Error(`log key: unsupported curve ${curve}`);
    if (d.signatureAlgorithm !== SIG_ECDSA) return false;
  } else if (type === 'rsa') {
    if (d.signatureAlgorithm !== SIG_RSA) return false;
  } else {
    throw new Error(`log key: unsupported key type ${type}`);
  }
  try {
    // node's defaults are what RFC 6962 needs: DER ECDSA signatures, PKCS#1 v1.5 padding for RSA.
    return verify('sha256', data, key, d.signature);
  } catch {
    return false; // e.g. a signature that is not valid DER
  }
}

const spkiCache = new WeakMap<KeyObject, Uint8Array>();

function spkiOf(key: Uint8Array | KeyObject): Uint8Array {
  if (key instanceof Uint8Array) return key;
  let spki = spkiCache.get(key);
  if (spki === undefined) {
    spki = new Uint8Array(key.export({ type: 'spki', format: 'der' }));
    spkiCache.set(key, spki);
  }
  return spki;
}

/**
 * Verifies an SCT for `entry` (§3.2): its log ID must be the key's and its signature must
 * cover (timestamp, entry, extensions). False otherwise.
 */
export function verifySct(spki: Uint8Array | KeyObject, sct: Sct, entry: SignedEntry): boolean {
  if (sct.version !== 0) return false;
  if (!equal(sct.logId, logIdFromSpki(spkiOf(spki)))) return false;
  return verifyDigitallySigned(spki, sctSignatureInput(sct.timestamp, entry, sct.extensions), sct.signature);
}

/** Verifies an STH's TreeHeadSignature (§3.5), given as the encoded DigitallySigned. */
export function verifySth(spki: Uint8Array | KeyObject, sth: TreeHead, ds: Uint8Array): boolean {
  return verifyDigitallySigned(spki, sthSignatureInput(sth), ds);
}
