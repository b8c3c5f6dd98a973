// Signature checks with node:crypto. Importing a public key (createPublicKey, ~200 µs)
// costs more than verifying with it, and a log sees the same few hundred issuer keys
// over and over, so KeyObjects are cached by their SubjectPublicKeyInfo bytes.
import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { equal } from '../util/bytes.js';
import { badRequest } from '../util/errors.js';
import { DerError, TAG_INTEGER, TAG_OID, TAG_SEQUENCE, decodeOid, expectTlv, readTlv, valueOf } from './der.js';
import type { ParsedCert } from './certificate.js';

/**
 * LRU cache of issuer public keys keyed by SPKI bytes. `get` imports a key on a miss and
 * throws CtError 400 "bad_public_key" if node cannot import it. Signature checks cache a key
 * only after it verified something, so junk issuers never displace real ones.
 *
 * It also remembers CA-to-CA links that verified (intermediate X signed by Y, by both
 * fingerprints): every chain of a CA repeats the same intermediate, and re-verifying its
 * signature would double the cost of a submission. A verification over identical bytes
 * always gives the same answer, so the memo cannot change an outcome.
 */
export class PublicKeyCache {
  private readonly map: LRUCache<string, KeyObject>;
  private readonly links: LRUCache<string, true>;

  /** @param maxEntries keys kept before the least recently used is dropped. @defaultValue 10000 */
  constructor(readonly maxEntries = 10000) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
    this.map = new LRUCache({ max: maxEntries });
    this.links = new LRUCache({ max: maxEntries });
  }

  get size(): number {
    return this.map.size;
  }

  /**
   * The KeyObject for `spki`. With `remember` false a miss is imported but not cached (see
   * `remember`): verifySignature caches a key only once it has verified a signature, so
   * submitters cannot push the real issuer keys out with made-up ones.
   */
  get(spki: Uint8Array, remember = true): KeyObject {
    const id = spkiId(spki);
    const hit = this.map.get(id);
    if (hit) return hit;
    let key: KeyObject;
    try {
      key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
    } catch (e) {
      throw badRequest('bad_public_key', `unsupported or malformed public key: ${(e as Error).message}`, { cause: e });
    }
    if (remember) this.remember(spki, key);
    return key;
  }

  /** Caches `key` as the import of `spki`, evicting the least recently used beyond maxEntries. */
  remember(spki: Uint8Array, key: KeyObject): void {
    const id = spkiId(spki);
    if (this.map.has(id)) return;
    this.map.set(id, key);
  }

  /** Whether `child` (a CA certificate) was already verified as signed by `issuer`. */
  hasLink(child: ParsedCert, issuer: ParsedCert): boolean {
    return this.links.has(linkId(child, issuer));
  }

  /** Records a verified CA-to-CA link; bounded like the key map. */
  addLink(child: ParsedCert, issuer: ParsedCert): void {
    this.links.set(linkId(child, issuer), true);
  }
}

function spkiId(spki: Uint8Array): string {
  return Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength).toString('latin1');
}

function linkId(child: ParsedCert, issuer: ParsedCert): string {
  const b = (x: Uint8Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('latin1');
  return b(child.fingerprint) + b(issuer.fingerprint);
}

/** How node:crypto verifies one signature algorithm. */
interface Scheme {
  name: string;
  /** Digest for crypto.verify; null for Ed25519. */
  hash: string | null;
  keyType: 'rsa' | 'ec' | 'ed25519';
  /** RSASSA-PSS salt length (RFC 4055 §3.1); undefined for PKCS#1 v1.5 and ECDSA. */
  pssSaltLength?: number;
}

// SHA-1 schemes stay: a CT log records what CAs issued (RFC 6962 logs accepted SHA-1
// chains, and the CT project's own test PKI is SHA-1); MD2/MD5 are refused.
const SCHEMES = new Map<string, Scheme>([
  ['1.2.840.113549.1.1.5', { name: 'sha1WithRSAEncryption', hash: 'sha1', keyType: 'rsa' }],
  ['1.2.840.113549.1.1.11', { name: 'sha256WithRSAEncryption', hash: 'sha256', keyType: 'rsa' }],
  ['1.2.840.113549.1.1.12', { name: 'sha384WithRSAEncryption', hash: 'sha384', keyType: 'rsa' }],
  ['1.2.840.113549.1.1.13', { name: 'sha512WithRSAEncryption', hash: 'sha512', keyType: 'rsa' }],
  ['1.2.840.10045.4.1', { name: 'ecdsa-with-SHA1', hash: 'sha1', keyType: 'ec' }],
  ['1.2.840.10045.4.3.2', { name: 'ecdsa-with-SHA256', hash: 'sha256', keyType: 'ec' }],
  ['1.2.840.10045.4.3.3', { name: 'ecdsa-with-SHA384', hash: 'sha384', keyType: 'ec' }],
  ['1.2.840.10045.4.3.4', { name: 'ecdsa-with-SHA512', hash: 'sha512', keyType: 'ec' }],
  ['1.3.101.112', { name: 'Ed25519', hash: null, keyType: 'ed25519' }],
]);
const OID_RSASSA_PSS = '1.2.840.113549.1.1.10';
const OID_MGF1 = '1.2.840.113549.1.1.8';
const HASH_OIDS = new Map<string, string>([
  ['1.3.14.3.2.26', 'sha1'],
  ['2.16.840.1.101.3.4.2.1', 'sha256'],
  ['2.16.840.1.101.3.4.2.2', 'sha384'],
  ['2.16.840.1.101.3.4.2.3', 'sha512'],
]);
const NAMES = new Map<string, string>([
  ['1.2.840.113549.1.1.2', 'md2WithRSAEncryption'],
  ['1.2.840.113549.1.1.4', 'md5WithRSAEncryption'],
]);

const pssCache = new Map<string, Scheme>();

/**
 * The verification scheme of `cert`'s signature. Throws CtError 400
 * "unsupported_signature_algorithm" naming the algorithm and `what` ("chain[0]").
 */
export function signatureScheme(cert: ParsedCert, what = 'certificate'): Scheme {
  const s = SCHEMES.get(cert.signatureAlgorithm);
  if (s) return s;
  if (cert.signatureAlgorithm === OID_RSASSA_PSS) return pssScheme(cert.signatureAlgorithmParams, what);
  const name = NAMES.get(cert.signatureAlgorithm);
  throw badRequest(
    'unsupported_signature_algorithm',
    `${what} is signed with an unsupported algorithm ${cert.signatureAlgorithm}${name ? ` (${name})` : ''}`,
  );
}

// RFC 4055 §3.1 RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] DEFAULT sha1,
//   maskGenAlgorithm [1] DEFAULT mgf1SHA1, saltLength [2] DEFAULT 20, trailerField [3] DEFAULT 1 }
// node's PSS verify uses MGF1 with the message digest, so the two hashes must agree.
function pssScheme(params: Uint8Array | undefined, what: string): Scheme {
  const key = params ? Buffer.from(params).toString('latin1') : '';
  const cached = pssCache.get(key);
  if (cached) return cached;
  const bad = (why: string) => badRequest('unsupported_signature_algorithm', `${what} has unsupported RSASSA-PSS parameters: ${why}`);
  let hash = 'sha1';
  let mgfHash = 'sha1';
  let saltLength = 20;
  try {
    if (!params) throw new DerError('parameters are missing');
    const seq = expectTlv(params, 0, params.length, TAG_SEQUENCE, 'RSASSA-PSS-params');
    if (seq.end !== params.length) throw new DerError('trailing bytes');
    for (let pos = seq.valueStart; pos < seq.end; ) {
      const f = readTlv(params, pos, seq.end);
      const inner = readTlv(params, f.valueStart, f.end);
      if (f.tag === 0xa0) hash = hashOf(params, inner);
      else if (f.tag === 0xa1) {
        const mgfOid = expectTlv(params, inner.valueStart, inner.end, TAG_OID, 'maskGenAlgorithm');
        if (decodeOid(valueOf(params, mgfOid)) !== OID_MGF1) throw new DerError('mask generation function is not MGF1');
        mgfHash = hashOf(params, readTlv(params, mgfOid.end, inner.end));
      } else if (f.tag === 0xa2) {
        if (inner.tag !== TAG_INTEGER || inner.end - inner.valueStart > 2) throw new DerError('bad saltLength');
        saltLength = 0;
        for (let i = inner.valueStart; i < inner.end; i++) saltLength = saltLength * 256 + params[i]!;
      } else if (f.tag === 0xa3) {
        if (inner.tag !== TAG_INTEGER || inner.end - inner.valueStart !== 1 || params[inner.valueStart] !== 1) throw new DerError('trailerField is not 1');
      } else throw new DerError(`unexpected field 0x${f.tag.toString(16)}`);
      pos = f.end;
    }
  } catch (e) {
    if (e instanceof DerError) throw bad(e.message);
    throw e;
  }
  if (mgfHash !== hash) throw bad(`MGF1 hash ${mgfHash} differs from the message hash ${hash}`);
  const s: Scheme = { name: `RSASSA-PSS/${hash}`, hash, keyType: 'rsa', pssSaltLength: saltLength };
  if (pssCache.size < 64) pssCache.set(key, s);
  return s;
}

function hashOf(buf: Uint8Array, alg: { tag: number; valueStart: number; end: number }): string {
  if (alg.tag !== TAG_SEQUENCE) throw new DerError('bad hash AlgorithmIdentifier');
  const o = expectTlv(buf, alg.valueStart, alg.end, TAG_OID, 'hash algorithm');
  const oid = decodeOid(valueOf(buf, o));
  const h = HASH_OIDS.get(oid);
  if (!h) throw new DerError(`unsupported hash ${oid}`);
  return h;
}

/**
 * True when `issuer` signed `child`: child's issuer Name equals issuer's subject byte for
 * byte, and child's signature over its TBS verifies with issuer's key. Returns false for a
 * key of the wrong type or a malformed signature. Throws CtError 400 if child's signature
 * algorithm is unsupported (call signatureScheme first for a message naming the cert) or
 * the issuer key cannot be imported.
 */
export function verifySignedBy(child: ParsedCert, issuer: ParsedCert, keys: PublicKeyCache): boolean {
  if (!equal(child.issuer, issuer.subject)) return false;
  if (!child.isCA) return verifySignature(child, issuer.spki, keys);
  if (keys.hasLink(child, issuer)) return true;
  const ok = verifySignature(child, issuer.spki, keys);
  if (ok) keys.addLink(child, issuer);
  return ok;
}

/** Verifies child's signature with the key in `spki` (names are not compared). */
export function verifySignature(child: ParsedCert, spki: Uint8Array, keys: PublicKeyCache): boolean {
  const scheme = signatureScheme(child);
  const key = keys.get(spki, false);
  if (key.asymmetricKeyType !== scheme.keyType && !(scheme.keyType === 'rsa' && key.asymmetricKeyType === 'rsa-pss')) return false;
  let ok: boolean;
  try {
    ok = scheme.pssSaltLength !== undefined
      ? verify(scheme.hash, child.tbs, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: scheme.pssSaltLength }, child.signature)
      : verify(scheme.hash, child.tbs, key, child.signature);
  } catch {
    // node throws on some malformed signatures (e.g. a bad ECDSA DER encoding).
    return false;
  }
  if (ok) keys.remember(spki, key);
  return ok;
}
