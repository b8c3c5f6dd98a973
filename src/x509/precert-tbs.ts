// RFC 6962 §3.2: the TBSCertificate a log signs for a precertificate is the precert's
// TBS "without the signature and the poison extension"; when a Precertificate Signing
// Certificate (PSC) signed it, the issuer Name and the authorityKeyIdentifier are changed
// to those of the CA that will issue the final certificate. Only the changed fields are
// re-encoded; every other byte is copied, so the result matches the final certificate's
// TBS minus its SCT list byte for byte.
import { createHash } from 'node:crypto';
import { badRequest } from '../util/errors.js';
import { TAG_OCTET_STRING, TAG_SEQUENCE, encodeLength, encodeTlv, readTlv, tlvOf } from './der.js';
import { tbsLayout, type ParsedCert } from './certificate.js';
import { formatName } from './format-name.js';
import { OID_AUTHORITY_KEY_ID, OID_CT_POISON, OID_CT_PRECERT_SIGNING } from './oids.js';

/** True if `cert` carries the CT Precertificate Signing EKU (RFC 6962 §3.1). */
export function isPrecertSigningCert(cert: ParsedCert): boolean {
  return cert.extKeyUsage?.includes(OID_CT_PRECERT_SIGNING) ?? false;
}

/** The logged TBSCertificate and issuer_key_hash of a precertificate. */
export type PrecertTbsFn = (precert: ParsedCert, issuer: ParsedCert, finalIssuer?: ParsedCert) => { tbs: Uint8Array; issuerKeyHash: Uint8Array };

/**
 * Builds the logged TBSCertificate and issuer_key_hash of a precertificate, as the write
 * path does for a new submission: today the current rebuild version (leaf-rebuild.ts).
 * A stricter check belongs here or in validateChain, never in a numbered version: stored
 * entries are rebuilt by the version they were logged with.
 */
export const precertTbs: PrecertTbsFn = (precert, issuer, finalIssuer) => precertTbsV1(precert, issuer, finalIssuer);

/**
 * Version 1 of the precertificate rebuild, frozen: entries logged with rebuild version 1
 * are served by this code for as long as they are served, so it must never change what it
 * returns (test/x509/leaf-rebuild.test.ts pins its output). A change means a version 2.
 *
 * `issuer` is the certificate that signed it (chain[0] of its issuers). If that is a PSC,
 * `finalIssuer` (chain[1], the CA that issues the final certificate) is required: its
 * subject becomes the issuer Name, its SPKI gives issuer_key_hash, and a precert AKI is
 * replaced by the PSC's AKI (RFC 6962 §3.2 requires the PSC to have one then).
 * Throws CtError 400 when the precert has no poison or the PSC rules are not met.
 */
export function precertTbsV1(
  precert: ParsedCert,
  issuer: ParsedCert,
  finalIssuer?: ParsedCert,
): { tbs: Uint8Array; issuerKeyHash: Uint8Array } {
  if (!precert.extensions.some((e) => e.oid === OID_CT_POISON)) {
    throw badRequest('missing_poison', `not a precertificate: no CT poison extension (${OID_CT_POISON})`);
  }
  const psc = isPrecertSigningCert(issuer);
  let realIssuer = issuer;
  let newAki: Uint8Array | undefined;
  if (psc) {
    if (!finalIssuer) {
      throw badRequest('psc_without_issuer', `the Precertificate Signing Certificate (${formatName(issuer.subject)}) must be followed by the CA that certified it`);
    }
    realIssuer = finalIssuer;
    if (precert.extensions.some((e) => e.oid === OID_AUTHORITY_KEY_ID)) {
      const pscAki = issuer.extensions.find((e) => e.oid === OID_AUTHORITY_KEY_ID);
      if (!pscAki) {
        throw badRequest(
          'psc_missing_aki',
          `the precertificate has an authorityKeyIdentifier but its Precertificate Signing Certificate (${formatName(issuer.subject)}) has none (RFC 6962 §3.2)`,
        );
      }
      newAki = pscAki.value;
    }
  }

  const exts: Uint8Array[] = [];
  for (const e of precert.extensions) {
    if (e.oid === OID_CT_POISON) continue;
    if (newAki && e.oid === OID_AUTHORITY_KEY_ID) exts.push(replaceExtnValue(e.tlv, newAki));
    else exts.push(e.tlv);
  }

  const tbs = precert.tbs;
  const layout = tbsLayout(tbs);
  const head = readTlv(tbs, 0);
  const wrapper = layout.extensions!; // present: the poison extension was found in it
  const parts: Uint8Array[] = [tbs.subarray(head.valueStart, layout.issuer.start)];
  parts.push(psc ? realIssuer.subject : tlvOf(tbs, layout.issuer));
  parts.push(tbs.subarray(layout.issuer.end, wrapper.start));
  // Extensions ::= SEQUENCE SIZE (1..MAX): with nothing left, the [3] field is omitted.
  if (exts.length > 0) parts.push(encodeTlv(0xa3 /* [3] EXPLICIT extensions */, encodeTlv(TAG_SEQUENCE, ...exts)));
  parts.push(tbs.subarray(wrapper.end));
  return {
    tbs: encodeTlv(TAG_SEQUENCE, ...parts),
    issuerKeyHash: issuerKeyHash(realIssuer),
  };
}

// Issuers are few and long-lived (the read path rebuilds every stored precertificate's leaf
// with the same handful of parsed issuers): their key hashes are computed once.
const keyHashes = new WeakMap<ParsedCert, Uint8Array>();

/** issuer_key_hash (RFC 6962 §3.2): SHA-256 of the issuer's SubjectPublicKeyInfo. */
function issuerKeyHash(issuer: ParsedCert): Uint8Array {
  let h = keyHashes.get(issuer);
  if (!h) {
    h = new Uint8Array(createHash('sha256').update(issuer.spki).digest());
    keyHashes.set(issuer, h);
  }
  return h;
}

// Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }:
// keeps extnID and critical as encoded, swaps the OCTET STRING.
function replaceExtnValue(extTlv: Uint8Array, value: Uint8Array): Uint8Array {
  const seq = readTlv(extTlv, 0);
  let t = readTlv(extTlv, seq.valueStart, seq.end);
  const start = seq.valueStart;
  while (t.tag !== TAG_OCTET_STRING) t = readTlv(extTlv, t.end, seq.end);
  return encodeTlv(TAG_SEQUENCE, extTlv.subarray(start, t.start), encodeTlv(TAG_OCTET_STRING, value));
}

// DER of the two extnIDs the rebuild looks for: OBJECT IDENTIFIER tag, length, content.
const POISON_OID_TLV = Uint8Array.of(0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x03);
const AKI_OID_TLV = Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x23);

function startsWithAt(buf: Uint8Array, at: number, end: number, what: Uint8Array): boolean {
  if (at + what.length > end) return false;
  for (let i = 0; i < what.length; i++) if (buf[at + i] !== what[i]) return false;
  return true;
}

/**
 * Version 1's TBSCertificate as pieces: `tbs` is a SEQUENCE whose content is the
 * concatenation of `parts` (`contentLength` bytes). Nothing is copied.
 */
export interface PrecertTbsPieces {
  parts: Uint8Array[];
  contentLength: number;
  issuerKeyHash: Uint8Array;
}

/**
 * precertTbsV1 for the read path, from the precertificate's DER with a DER walk instead of
 * a full parse (which costs more than the rest of serving the entry). Meant for stored
 * entries only, whose leaf hash is known: it does not validate the certificate, so its
 * result is trusted only once it hashes to the stored leaf hash (src/read/stored-entry.ts
 * falls back to the frozen version otherwise). Undefined whenever the DER is not the
 * simple, well-formed shape this walk understands; the caller then uses precertTbsV1.
 */
export function precertTbsV1Pieces(der: Uint8Array, issuer: ParsedCert, finalIssuer?: ParsedCert): PrecertTbsPieces | undefined {
  let tbsT;
  let layout;
  try {
    const cert = readTlv(der, 0);
    if (cert.tag !== TAG_SEQUENCE || cert.end !== der.length) return undefined;
    tbsT = readTlv(der, cert.valueStart, cert.end);
    if (tbsT.tag !== TAG_SEQUENCE) return undefined;
    layout = tbsLayout(der.subarray(tbsT.start, tbsT.end));
  } catch {
    return undefined;
  }
  const tbs = der.subarray(tbsT.start, tbsT.end);
  const wrapper = layout.extensions;
  if (!wrapper) return undefined;
  const psc = isPrecertSigningCert(issuer);
  if (psc && !finalIssuer) return undefined;
  const realIssuer = psc ? finalIssuer! : issuer;

  // Extensions ::= SEQUENCE OF Extension, inside the [3] wrapper.
  const exts: Uint8Array[] = [];
  let extsLength = 0;
  let poison = false;
  try {
    const seq = readTlv(tbs, wrapper.valueStart, wrapper.end);
    if (seq.tag !== TAG_SEQUENCE || seq.end !== wrapper.end) return undefined;
    for (let pos = seq.valueStart; pos < seq.end; ) {
      const ext = readTlv(tbs, pos, seq.end);
      if (ext.tag !== TAG_SEQUENCE) return undefined;
      pos = ext.end;
      let tlv = tbs.subarray(ext.start, ext.end);
      if (startsWithAt(tbs, ext.valueStart, ext.end, POISON_OID_TLV)) {
        if (poison) return undefined; // a duplicate: the full parse refuses it
        poison = true;
        continue;
      }
      if (psc && startsWithAt(tbs, ext.valueStart, ext.end, AKI_OID_TLV)) {
        const pscAki = issuer.extensions.find((e) => e.oid === OID_AUTHORITY_KEY_ID);
        if (!pscAki) return undefined;
        tlv = replaceExtnValue(tlv, pscAki.value);
      }
      exts.push(tlv);
      extsLength += tlv.length;
    }
  } catch {
    return undefined;
  }
  if (!poison) return undefined;

  const head = readTlv(tbs, 0);
  const parts: Uint8Array[] = [tbs.subarray(head.valueStart, layout.issuer.start), psc ? realIssuer.subject : tlvOf(tbs, layout.issuer), tbs.subarray(layout.issuer.end, wrapper.start)];
  if (exts.length > 0) {
    const seqHead = derHead(TAG_SEQUENCE, extsLength);
    parts.push(derHead(0xa3, seqHead.length + extsLength), seqHead, ...exts);
  }
  parts.push(tbs.subarray(wrapper.end));
  let contentLength = 0;
  for (const p of parts) contentLength += p.length;
  return { parts, contentLength, issuerKeyHash: issuerKeyHash(realIssuer) };
}

/** Identifier and length octets of a DER element with `length` content octets. */
export function derHead(tag: number, length: number): Uint8Array {
  const l = encodeLength(length);
  const out = new Uint8Array(1 + l.length);
  out[0] = tag;
  out.set(l, 1);
  return out;
}
