// The hot-path certificate reader: one pass over the DER (RFC 5280 §4.1) that slices out
// what a CT log needs — TBS, names, SPKI, validity, extensions — as views into the input,
// without building an object tree. A full parser costs 100x more per submission.
import { hash } from 'node:crypto';
import { equal } from '../util/bytes.js';
import { badRequest } from '../util/errors.js';
import {
  DerError, TAG_BIT_STRING, TAG_BOOLEAN, TAG_GENERALIZED_TIME, TAG_INTEGER, TAG_OCTET_STRING, TAG_OID,
  TAG_SEQUENCE, TAG_UTC_TIME, decodeOid, expectTlv, readTlv, tlvOf, valueOf, type Tlv,
} from './der.js';
import {
  OID_AUTHORITY_KEY_ID, OID_BASIC_CONSTRAINTS, OID_EXT_KEY_USAGE, OID_SUBJECT_KEY_ID,
} from './oids.js';

/** One certificate extension (RFC 5280 §4.1.2.9); byte fields are views into `der`. */
export interface Extension {
  oid: string;
  critical: boolean;
  /** The extnValue OCTET STRING's contents: the DER of the extension's own value. */
  value: Uint8Array;
  /** The whole Extension SEQUENCE as it appears in the certificate. */
  tlv: Uint8Array;
}

/**
 * What the log needs from a certificate. Byte fields are views into `der` (no copies):
 * callers that keep them past the submission must not mutate the input.
 */
export interface ParsedCert {
  der: Uint8Array;
  /** The full TBSCertificate TLV, the bytes the issuer signed. */
  tbs: Uint8Array;
  /** INTEGER contents (two's complement, as encoded). */
  serial: Uint8Array;
  /** Name TLV, compared byte for byte with an issuer's subject. */
  issuer: Uint8Array;
  subject: Uint8Array;
  /** SubjectPublicKeyInfo TLV: the input of issuer_key_hash and of createPublicKey. */
  spki: Uint8Array;
  /** ms since the epoch, from UTCTime or GeneralizedTime. */
  notBefore: number;
  notAfter: number;
  extensions: Extension[];
  /** Outer signatureAlgorithm OID (equal to the TBS copy, checked). */
  signatureAlgorithm: string;
  /** Encoded parameters after the OID, if any (e.g. 05 00 for RSA, RSASSA-PSS-params). */
  signatureAlgorithmParams?: Uint8Array;
  /** BIT STRING contents without the unused-bits octet. */
  signature: Uint8Array;
  /** basicConstraints cA is TRUE. */
  isCA: boolean;
  /** extKeyUsage OIDs; undefined when the extension is absent. */
  extKeyUsage?: string[];
  /** authorityKeyIdentifier keyIdentifier [0] contents, if present. */
  authorityKeyId?: Uint8Array;
  /** subjectKeyIdentifier contents, if present. */
  subjectKeyId?: Uint8Array;
  /** SHA-256 of der. */
  fingerprint: Uint8Array;
}

/** Offsets of the TBSCertificate fields that the precertificate rebuild splices. */
export interface TbsLayout {
  issuer: Tlv;
  /** The [3] EXPLICIT extensions wrapper, if present (always the last TBS field). */
  extensions?: Tlv;
}

/**
 * Parses a DER certificate. `what` names it in messages ("chain[1]"). Throws CtError 400
 * "bad_certificate" with "<what>: not a DER certificate: <why>" on any malformed input,
 * including trailing bytes, duplicate extensions and mismatched signature algorithms.
 */
export function parseCertificate(der: Uint8Array, what = 'certificate'): ParsedCert {
  try {
    return parse(der);
  } catch (e) {
    if (e instanceof DerError) throw badRequest('bad_certificate', `${what}: not a DER certificate: ${e.message}`, { cause: e });
    throw e;
  }
}

function parse(der: Uint8Array): ParsedCert {
  const cert = expectTlv(der, 0, der.length, TAG_SEQUENCE, 'Certificate');
  if (cert.end !== der.length) throw new DerError(`${der.length - cert.end} trailing bytes after the certificate`);
  const tbsT = expectTlv(der, cert.valueStart, cert.end, TAG_SEQUENCE, 'tbsCertificate');
  const algT = expectTlv(der, tbsT.end, cert.end, TAG_SEQUENCE, 'signatureAlgorithm');
  const sigT = expectTlv(der, algT.end, cert.end, TAG_BIT_STRING, 'signatureValue');
  if (sigT.end !== cert.end) throw new DerError('extra fields after signatureValue');
  if (sigT.end - sigT.valueStart < 1 || der[sigT.valueStart] !== 0) throw new DerError('signatureValue has unused bits');

  const fields = walkTbs(der, tbsT);
  if (!equal(tlvOf(der, fields.signature), tlvOf(der, algT))) {
    throw new DerError('TBSCertificate signature algorithm differs from the outer signatureAlgorithm');
  }
  const oidT = expectTlv(der, algT.valueStart, algT.end, TAG_OID, 'signatureAlgorithm.algorithm');
  const nbT = readTlv(der, fields.validity.valueStart, fields.validity.end);
  const naT = readTlv(der, nbT.end, fields.validity.end);
  if (naT.end !== fields.validity.end) throw new DerError('extra fields in validity');

  const out: ParsedCert = {
    der,
    tbs: tlvOf(der, tbsT),
    serial: valueOf(der, fields.serial),
    issuer: tlvOf(der, fields.issuer),
    subject: tlvOf(der, fields.subject),
    spki: tlvOf(der, fields.spki),
    notBefore: parseTime(der, nbT, 'notBefore'),
    notAfter: parseTime(der, naT, 'notAfter'),
    extensions: [],
    signatureAlgorithm: decodeOid(valueOf(der, oidT)),
    signature: der.subarray(sigT.valueStart + 1, sigT.end),
    isCA: false,
    // Computed on first use: the read path parses every stored precertificate to rebuild
    // its leaf and never needs the leaf's own fingerprint.
    get fingerprint(): Uint8Array {
      const fp = plain(hash('sha256', der, 'buffer'));
      Object.defineProperty(this, 'fingerprint', { value: fp, enumerable: true });
      return fp;
    },
  };
  if (oidT.end < algT.end) out.signatureAlgorithmParams = der.subarray(oidT.end, algT.end);
  if (fields.extensions) readExtensions(der, fields.extensions, out);
  return out;
}

interface TbsFields extends TbsLayout {
  serial: Tlv;
  signature: Tlv;
  validity: Tlv;
  subject: Tlv;
  spki: Tlv;
}

function walkTbs(der: Uint8Array, tbsT: Tlv): TbsFields {
  const lim = tbsT.end;
  let t = readTlv(der, tbsT.valueStart, lim);
  if (t.tag === 0xa0 /* [0] EXPLICIT version */) {
    const v = expectTlv(der, t.valueStart, t.end, TAG_INTEGER, 'version');
    if (v.end !== t.end || v.end - v.valueStart !== 1 || der[v.valueStart]! > 2) throw new DerError('bad version');
    t = readTlv(der, t.end, lim);
  }
  if (t.tag !== TAG_INTEGER) throw new DerError('serialNumber: expected INTEGER');
  if (t.end === t.valueStart) throw new DerError('serialNumber: empty INTEGER');
  const serial = t;
  const signature = expectTlv(der, serial.end, lim, TAG_SEQUENCE, 'signature');
  const issuer = expectTlv(der, signature.end, lim, TAG_SEQUENCE, 'issuer');
  const validity = expectTlv(der, issuer.end, lim, TAG_SEQUENCE, 'validity');
  const subject = expectTlv(der, validity.end, lim, TAG_SEQUENCE, 'subject');
  const spki = expectTlv(der, subject.end, lim, TAG_SEQUENCE, 'subjectPublicKeyInfo');
  const fields: TbsFields = { serial, signature, issuer, validity, subject, spki };
  let pos = spki.end;
  let lastTag = 0;
  while (pos < lim) {
    const f = readTlv(der, pos, lim);
    // issuerUniqueID [1], subjectUniqueID [2], extensions [3], each at most once, in order.
    const order = f.tag === 0x81 || f.tag === 0xa1 ? 1 : f.tag === 0x82 || f.tag === 0xa2 ? 2 : f.tag === 0xa3 ? 3 : 0;
    if (order === 0 || order <= lastTag) throw new DerError(`unexpected field with tag 0x${f.tag.toString(16)} in TBSCertificate`);
    lastTag = order;
    if (order === 3) fields.extensions = f;
    pos = f.end;
  }
  return fields;
}

/** Locates the issuer and extensions of a TBSCertificate TLV (for the precert rebuild). */
export function tbsLayout(tbs: Uint8Array): TbsLayout {
  try {
    const t = expectTlv(tbs, 0, tbs.length, TAG_SEQUENCE, 'tbsCertificate');
    if (t.end !== tbs.length) throw new DerError('trailing bytes after the TBSCertificate');
    const f = walkTbs(tbs, t);
    return f.extensions ? { issuer: f.issuer, extensions: f.extensions } : { issuer: f.issuer };
  } catch (e) {
    if (e instanceof DerError) throw badRequest('bad_certificate', `not a DER TBSCertificate: ${e.message}`, { cause: e });
    throw e;
  }
}

function readExtensions(der: Uint8Array, wrapper: Tlv, out: ParsedCert): void {
  const seq = expectTlv(der, wrapper.valueStart, wrapper.end, TAG_SEQUENCE, 'extensions');
  if (seq.end !== wrapper.end) throw new DerError('extra data after extensions');
  if (seq.end === seq.valueStart) throw new DerError('empty extensions (SIZE (1..MAX))');
  const seen = new Set<string>();
  let pos = seq.valueStart;
  while (pos < seq.end) {
    const ext = expectTlv(der, pos, seq.end, TAG_SEQUENCE, 'Extension');
    const oidT = expectTlv(der, ext.valueStart, ext.end, TAG_OID, 'extnID');
    let t = readTlv(der, oidT.end, ext.end);
    let critical = false;
    if (t.tag === TAG_BOOLEAN) {
      if (t.end - t.valueStart !== 1) throw new DerError('bad critical BOOLEAN');
      const b = der[t.valueStart]!;
      // DER (X.690 §11.1) spells TRUE 0xff and omits the DEFAULT FALSE; an explicit FALSE
      // occurs in CA-issued certificates and Go's crypto/x509 accepts it, so the log does too
      // (the Extension TLV is kept byte for byte, so nothing is re-encoded).
      if (b !== 0xff && b !== 0) throw new DerError('bad critical BOOLEAN');
      critical = b === 0xff;
      t = readTlv(der, t.end, ext.end);
    }
    if (t.tag !== TAG_OCTET_STRING) throw new DerError('extnValue: expected OCTET STRING');
    if (t.end !== ext.end) throw new DerError('extra data in Extension');
    const oid = decodeOid(valueOf(der, oidT));
    if (seen.has(oid)) throw new DerError(`duplicate extension ${oid}`);
    seen.add(oid);
    const value = valueOf(der, t);
    out.extensions.push({ oid, critical, value, tlv: tlvOf(der, ext) });
    switch (oid) {
      case OID_BASIC_CONSTRAINTS: out.isCA = readBasicConstraints(value); break;
      case OID_EXT_KEY_USAGE: out.extKeyUsage = readOidSequence(value, 'extKeyUsage'); break;
      case OID_AUTHORITY_KEY_ID: {
        const id = readAuthorityKeyId(value);
        if (id) out.authorityKeyId = id;
        break;
      }
      case OID_SUBJECT_KEY_ID: {
        const k = expectTlv(value, 0, value.length, TAG_OCTET_STRING, 'subjectKeyIdentifier');
        if (k.end !== value.length) throw new DerError('subjectKeyIdentifier: trailing bytes');
        out.subjectKeyId = valueOf(value, k);
        break;
      }
    }
    pos = ext.end;
  }
}

// BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }
function readBasicConstraints(v: Uint8Array): boolean {
  const s = expectTlv(v, 0, v.length, TAG_SEQUENCE, 'basicConstraints');
  if (s.end !== v.length) throw new DerError('basicConstraints: trailing bytes');
  if (s.valueStart === s.end) return false;
  const t = readTlv(v, s.valueStart, s.end);
  return t.tag === TAG_BOOLEAN && t.end - t.valueStart === 1 && v[t.valueStart] !== 0;
}

function readOidSequence(v: Uint8Array, what: string): string[] {
  const s = expectTlv(v, 0, v.length, TAG_SEQUENCE, what);
  if (s.end !== v.length) throw new DerError(`${what}: trailing bytes`);
  const oids: string[] = [];
  for (let pos = s.valueStart; pos < s.end; ) {
    const o = expectTlv(v, pos, s.end, TAG_OID, what);
    oids.push(decodeOid(valueOf(v, o)));
    pos = o.end;
  }
  return oids;
}

// AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, ... }
function readAuthorityKeyId(v: Uint8Array): Uint8Array | undefined {
  const s = expectTlv(v, 0, v.length, TAG_SEQUENCE, 'authorityKeyIdentifier');
  if (s.end !== v.length) throw new DerError('authorityKeyIdentifier: trailing bytes');
  if (s.valueStart === s.end) return undefined;
  const t = readTlv(v, s.valueStart, s.end);
  return t.tag === 0x80 ? valueOf(v, t) : undefined;
}

function plain(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Decodes one UTCTime or GeneralizedTime TLV to ms since the epoch; throws DerError. */
export function parseTimeTlv(tlv: Uint8Array): number {
  const t = readTlv(tlv, 0);
  if (t.end !== tlv.length) throw new DerError('trailing bytes after the time');
  return parseTime(tlv, t, 'time');
}

// RFC 5280 §4.1.2.5: UTCTime YYMMDDHHMMSSZ (YY >= 50 means 19YY) through 2049,
// GeneralizedTime YYYYMMDDHHMMSSZ, both in UTC with seconds and no fraction.
function parseTime(der: Uint8Array, t: Tlv, what: string): number {
  const utc = t.tag === TAG_UTC_TIME;
  if (!utc && t.tag !== TAG_GENERALIZED_TIME) throw new DerError(`${what}: expected UTCTime or GeneralizedTime`);
  const len = t.end - t.valueStart;
  const digits = utc ? 12 : 14;
  if (len !== digits + 1 || der[t.end - 1] !== 0x5a /* 'Z' */) throw new DerError(`${what}: malformed time (${timeText(der, t)})`);
  const v = t.valueStart;
  let year: number;
  let o: number;
  if (utc) {
    year = decimal(der, v, 2);
    if (year >= 0) year += year >= 50 ? 1900 : 2000;
    o = v + 2;
  } else {
    year = decimal(der, v, 4);
    o = v + 4;
  }
  const mo = decimal(der, o, 2), d = decimal(der, o + 2, 2), h = decimal(der, o + 4, 2);
  const mi = decimal(der, o + 6, 2), sec = decimal(der, o + 8, 2);
  if (Math.min(year, mo, d, h, mi, sec) < 0) throw new DerError(`${what}: malformed time (${timeText(der, t)})`);
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(year, mo) || h > 23 || mi > 59 || sec > 59) {
    throw new DerError(`${what}: invalid date (${timeText(der, t)})`);
  }
  // Date.UTC maps years 0-99 to 1900-1999; GeneralizedTime years below 100 are not certificates.
  if (year < 100) throw new DerError(`${what}: year ${year} is out of range`);
  return Date.UTC(year, mo - 1, d, h, mi, sec);
}

/** n ASCII digits at `at` as a number; -1 if any is not a digit. */
function decimal(der: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const c = der[at + i]! - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function timeText(der: Uint8Array, t: Tlv): string {
  let s = '';
  for (let i = t.valueStart; i < t.end && i < t.valueStart + 24; i++) s += String.fromCharCode(der[i]!);
  return JSON.stringify(s);
}
