// RFC 6962 and static-ct-api structures written out by hand for the end-to-end checks, so
// that what the log returns is verified independently of src/tls and src/signing: ECDSA
// signatures with @noble/curves, precertificate TBS rebuilt with @peculiar/asn1-x509.
import 'reflect-metadata';
import { p256 } from '@noble/curves/nist.js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, Extension, Extensions } from '@peculiar/asn1-x509';
import { createHash } from 'node:crypto';

export const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/** The entry a submission must produce, as RFC 6962 §3.1 defines it. */
export type ExpectedEntry = { type: 'x509'; certificate: Uint8Array } | { type: 'precert'; issuerKeyHash: Uint8Array; tbs: Uint8Array };

const u = (n: number, bytes: number): Uint8Array => {
  const out = new Uint8Array(bytes);
  let v = n;
  for (let i = bytes - 1; i >= 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
};
const cat = (...p: Uint8Array[]) => new Uint8Array(Buffer.concat(p));

/** static-ct-api CtExtensions holding only leaf_index: extension_type 0, uint16 length 5, uint40 index. */
export function leafIndexExtensions(index: number): Uint8Array {
  return cat(new Uint8Array([0 /* leaf_index */]), u(5, 2), u(index, 5));
}

/** Inverse of leafIndexExtensions; throws unless the extensions are exactly one leaf_index. */
export function decodeLeafIndex(ext: Uint8Array): number {
  if (ext.length !== 8 || ext[0] !== 0 || ext[1] !== 0 || ext[2] !== 5) throw new Error(`extensions ${Buffer.from(ext).toString('hex')} are not one leaf_index extension`);
  let v = 0;
  for (let i = 3; i < 8; i++) v = v * 256 + ext[i]!;
  return v;
}

/** RFC 6962 §3.4 TimestampedEntry. */
export function timestampedEntry(timestamp: number, e: ExpectedEntry, extensions: Uint8Array): Uint8Array {
  const body =
    e.type === 'x509'
      ? cat(u(0 /* x509_entry */, 2), u(e.certificate.length, 3), e.certificate)
      : cat(u(1 /* precert_entry */, 2), e.issuerKeyHash, u(e.tbs.length, 3), e.tbs);
  return cat(u(timestamp, 8), body, u(extensions.length, 2), extensions);
}

/** RFC 6962 §3.4 MerkleTreeLeaf: version v1, leaf_type timestamped_entry. */
export function merkleTreeLeaf(timestamp: number, e: ExpectedEntry, extensions: Uint8Array): Uint8Array {
  return cat(new Uint8Array([0 /* v1 */, 0 /* timestamped_entry */]), timestampedEntry(timestamp, e, extensions));
}

/** RFC 6962 §2.1 leaf hash. */
export const leafHashOf = (mtl: Uint8Array): Uint8Array => sha256(new Uint8Array([0]), mtl);

/** RFC 6962 §2.1 MTH, written literally. */
export function naiveRoot(hashes: Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return sha256(new Uint8Array());
  if (hashes.length === 1) return hashes[0]!;
  let k = 1;
  while (k * 2 < hashes.length) k *= 2;
  return sha256(new Uint8Array([1]), naiveRoot(hashes.slice(0, k)), naiveRoot(hashes.slice(k)));
}

/** RFC 6962 §3.2 SCT signature input. */
export function sctSignatureInput(timestamp: number, e: ExpectedEntry, extensions: Uint8Array): Uint8Array {
  return cat(new Uint8Array([0 /* v1 */, 0 /* certificate_timestamp */]), timestampedEntry(timestamp, e, extensions));
}

/** RFC 6962 §3.5 TreeHeadSignature input. */
export function sthSignatureInput(timestamp: number, treeSize: number, root: Uint8Array): Uint8Array {
  return cat(new Uint8Array([0 /* v1 */, 1 /* tree_hash */]), u(timestamp, 8), u(treeSize, 8), root);
}

/**
 * Verifies an RFC 5246 DigitallySigned (sha256 = 4, ecdsa = 3, uint16 length, DER signature)
 * over `input` with the P-256 key in `spki`, using @noble/curves. Throws with the reason.
 */
export function verifyDigitallySigned(ds: Uint8Array, input: Uint8Array, spki: Uint8Array, what: string): void {
  if (ds[0] !== 4 || ds[1] !== 3) throw new Error(`${what}: algorithm ${ds[0]}/${ds[1]}, want sha256/ecdsa (4/3)`);
  const len = ds[2]! * 256 + ds[3]!;
  if (ds.length !== 4 + len) throw new Error(`${what}: DigitallySigned length ${ds.length}, want ${4 + len}`);
  if (spki.length !== 91) throw new Error(`${what}: SPKI of ${spki.length} bytes is not a P-256 key`);
  const point = spki.subarray(spki.length - 65);
  if (!p256.verify(ds.subarray(4), input, point, { format: 'der', lowS: false })) throw new Error(`${what}: signature does not verify (noble p256)`);
}

const POISON = '1.3.6.1.4.1.11129.2.4.3';
const AKI = '2.5.29.35';

/**
 * RFC 6962 §3.2 precert_entry for a chain [precert, (psc,) issuer, ...]: the TBS without the
 * poison extension; when issued by a Precertificate Signing Certificate, issuer Name and
 * Authority Key Identifier taken from the PSC (so they name the final issuer), and
 * issuer_key_hash over the final issuer's SPKI.
 */
export function expectedPrecert(chain: Uint8Array[], viaPsc: boolean): ExpectedEntry {
  const leaf = AsnConvert.parse(chain[0]!, Certificate);
  const tbs = leaf.tbsCertificate;
  let exts = (tbs.extensions ?? []).filter((e) => e.extnID !== POISON);
  if (viaPsc) {
    const psc = AsnConvert.parse(chain[1]!, Certificate).tbsCertificate;
    tbs.issuer = psc.issuer;
    const pscAki = psc.extensions?.find((e) => e.extnID === AKI);
    if (exts.some((e) => e.extnID === AKI)) {
      if (!pscAki) throw new Error('PSC has no AKI to copy');
      exts = exts.map((e) => (e.extnID === AKI ? new Extension({ extnID: AKI, critical: pscAki.critical, extnValue: pscAki.extnValue }) : e));
    }
  }
  tbs.extensions = new Extensions(exts);
  const issuer = AsnConvert.parse(chain[viaPsc ? 2 : 1]!, Certificate);
  const spki = new Uint8Array(AsnConvert.serialize(issuer.tbsCertificate.subjectPublicKeyInfo));
  return { type: 'precert', issuerKeyHash: sha256(spki), tbs: new Uint8Array(AsnConvert.serialize(tbs)) };
}

/** tlog-tiles path element for index n: 3-digit groups, all but the last prefixed with x. */
export function tileIndexPath(n: number): string {
  const groups: string[] = [];
  let v = n;
  do {
    groups.unshift(String(v % 1000).padStart(3, '0'));
    v = Math.floor(v / 1000);
  } while (v > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}
