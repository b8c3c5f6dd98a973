// Issues certificates, precertificates and Precertificate Signing Certificates fast (a DER
// template and one node:crypto ECDSA signature each, ~0.1 ms), for `ctlog demo-chain`, the
// end-to-end benchmark and tests. Not a CA: no policy, no revocation, test keys only.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { encodeTlv, parseCertificate } from '../x509/index.js';

const SEQ = 0x30;
const cat = (...p: Uint8Array[]) => new Uint8Array(Buffer.concat(p));
const seq = (...p: Uint8Array[]) => encodeTlv(SEQ, ...p);

function oid(dotted: string): Uint8Array {
  const parts = dotted.split('.').map(Number);
  const bytes = [40 * parts[0]! + parts[1]!];
  for (const n of parts.slice(2)) {
    const b = [n % 128];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) b.unshift(128 + (v % 128));
    bytes.push(...b);
  }
  return encodeTlv(0x06, new Uint8Array(bytes));
}

function utf8(s: string): Uint8Array {
  return encodeTlv(0x0c, new Uint8Array(Buffer.from(s)));
}

function name(cn: string, org = 'ctlog demo'): Uint8Array {
  const rdn = (o: string, v: string) => encodeTlv(0x31, seq(oid(o), utf8(v)));
  return seq(rdn('2.5.4.10', org), rdn('2.5.4.3', cn));
}

function time(ms: number): Uint8Array {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const p = (n: number) => String(n).padStart(2, '0');
  const s = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return y < 2050 ? encodeTlv(0x17, new Uint8Array(Buffer.from(`${String(y % 100).padStart(2, '0')}${s}`))) : encodeTlv(0x18, new Uint8Array(Buffer.from(`${y}${s}`)));
}

function ext(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return seq(oid(id), ...(critical ? [new Uint8Array([0x01, 0x01, 0xff])] : []), encodeTlv(0x04, value));
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const RSA_SHA256 = seq(oid('1.2.840.113549.1.1.11'), new Uint8Array([0x05, 0x00]));

export interface Issuer {
  der: Uint8Array;
  key: KeyObject;
  /** Subject Name TLV and SPKI of the issuer. */
  subject: Uint8Array;
  spki: Uint8Array;
}

export interface IssueOptions {
  cn: string;
  notBefore: number;
  notAfter: number;
  ca?: boolean;
  precert?: boolean;
  /** Make a Precertificate Signing Certificate (CT EKU, RFC 6962 §3.1). */
  psc?: boolean;
  /** Subject public key; a fresh key of keyType when omitted. */
  publicKey?: KeyObject;
  /** Type of a fresh subject key. @defaultValue 'ec' (P-256); 'rsa' is RSA-2048. */
  keyType?: 'ec' | 'rsa';
  /** Subject key; returned so the certificate can issue others (CAs and PSCs). */
  privateKey?: KeyObject;
  dnsNames?: string[];
  /** The subject's SubjectPublicKeyInfo bytes as they are (benchmarks vary key bytes without key generation). */
  spki?: Uint8Array;
  /** Extra DER Extension structures, appended as given. */
  extensions?: Uint8Array[];
}

function keyId(spki: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha1').update(spki).digest());
}

/** Issues one certificate signed by issuer (or self-signed when issuer is undefined). */
export function issue(issuer: Issuer | undefined, o: IssueOptions): Issuer {
  let priv = o.privateKey;
  let pub = o.publicKey;
  if (!pub && !o.spki) {
    const kp = o.keyType === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    pub = kp.publicKey;
    priv = kp.privateKey;
  }
  const spki = o.spki ?? new Uint8Array(pub!.export({ type: 'spki', format: 'der' }));
  const subject = name(o.cn, o.ca ? 'ctlog demo CA' : 'ctlog demo');
  const serial = new Uint8Array(randomBytes(16));
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive, no leading zero octet
  const exts: Uint8Array[] = [];
  if (o.ca) {
    exts.push(ext('2.5.29.19', true, seq(new Uint8Array([0x01, 0x01, 0xff]))));
    exts.push(ext('2.5.29.15', true, encodeTlv(0x03, new Uint8Array([0x01, 0x06]))));
  } else {
    exts.push(ext('2.5.29.19', true, seq()));
    exts.push(ext('2.5.29.15', true, encodeTlv(0x03, new Uint8Array([0x05, 0xa0]))));
  }
  exts.push(ext('2.5.29.14', false, encodeTlv(0x04, keyId(spki))));
  if (issuer) exts.push(ext('2.5.29.35', false, seq(encodeTlv(0x80, keyId(issuer.spki)))));
  if (o.psc) exts.push(ext('2.5.29.37', false, seq(oid('1.3.6.1.4.1.11129.2.4.4'))));
  else if (!o.ca) exts.push(ext('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))));
  const dns = o.dnsNames ?? (o.ca || o.psc ? [] : [o.cn]);
  if (dns.length) exts.push(ext('2.5.29.17', false, seq(...dns.map((d) => encodeTlv(0x82, new Uint8Array(Buffer.from(d)))))));
  if (o.precert) exts.push(ext('1.3.6.1.4.1.11129.2.4.3', true, new Uint8Array([0x05, 0x00])));
  if (o.extensions) exts.push(...o.extensions);
  const signer = issuer ? issuer.key : priv!;
  const sigAlg = signer.asymmetricKeyType === 'rsa' ? RSA_SHA256 : ECDSA_SHA256;
  const tbs = seq(
    encodeTlv(0xa0, encodeTlv(0x02, new Uint8Array([2]))), // version v3
    encodeTlv(0x02, serial),
    sigAlg,
    issuer ? issuer.subject : subject,
    seq(time(o.notBefore), time(o.notAfter)),
    subject,
    spki,
    encodeTlv(0xa3, seq(...exts)),
  );
  const sig = new Uint8Array(sign('sha256', tbs, signer));
  const der = seq(tbs, sigAlg, encodeTlv(0x03, cat(new Uint8Array([0]), sig)));
  return { der, key: priv ?? signer, subject, spki };
}

const ia5 = (s: string) => new Uint8Array(Buffer.from(s));

/**
 * The extensions a typical publicly-trusted DV leaf carries besides those issue() adds:
 * AIA (OCSP and CA issuers), CRL distribution point, the CA/B Forum DV policy, and for a
 * final certificate an embedded SCT list of two SCTs (RFC 6962 §3.3). With them a leaf
 * weighs what real ones do (~1.2–1.5 KB), which matters when measuring bytes per entry.
 */
export function typicalLeafExtensions(final: boolean): Uint8Array[] {
  const uri = (u: string) => encodeTlv(0x86, ia5(u));
  const out = [
    ext('1.3.6.1.5.5.7.1.1', false, seq(
      seq(oid('1.3.6.1.5.5.7.48.1'), uri('http://ocsp.demo.example')),
      seq(oid('1.3.6.1.5.5.7.48.2'), uri('http://demo.example/ctlog-demo-intermediate.der')),
    )),
    ext('2.5.29.31', false, seq(seq(encodeTlv(0xa0, encodeTlv(0xa0, uri('http://crl.demo.example/ctlog-demo-intermediate.crl')))))),
    ext('2.5.29.32', false, seq(seq(oid('2.23.140.1.2.1')))),
  ];
  if (final) {
    // SignedCertificateTimestampList: two v1 SCTs of 119 bytes (32-byte log id, ECDSA signature).
    const sct = () => cat(new Uint8Array([0, 119, 0]), new Uint8Array(randomBytes(32)), new Uint8Array(randomBytes(8)), new Uint8Array([0, 0, 4, 3, 0, 72]), new Uint8Array(randomBytes(72)));
    const list = cat(sct(), sct());
    out.push(ext('1.3.6.1.4.1.11129.2.4.2', false, encodeTlv(0x04, cat(new Uint8Array([list.length >> 8, list.length & 0xff]), list))));
  }
  return out;
}

/** Loads a CA from its certificate and PKCS#8 private key (PEM). */
export function loadIssuer(certPem: string, keyPem: string): Issuer {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(certPem);
  if (!m) throw new Error('no certificate in the CA PEM');
  const der = new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  const c = parseCertificate(der);
  const key = createPrivateKey(keyPem);
  createPublicKey(key);
  return { der, key, subject: c.subject, spki: c.spki };
}

export interface ChainOptions {
  kind: 'x509' | 'precert';
  /** Issue the precertificate through a Precertificate Signing Certificate. */
  psc?: boolean;
  notBefore: number;
  notAfter: number;
  cn?: string;
}

/**
 * A submission chain [leaf, intermediate(, psc)] under root, as add-chain / add-pre-chain
 * take it (the root itself omitted, as CAs usually do). The intermediate is made once per
 * call of makeIntermediate and reused.
 */
export function makeIntermediate(root: Issuer, now: number, keyType: 'ec' | 'rsa' = 'ec'): Issuer {
  return issue(root, { cn: `ctlog demo Intermediate ${keyType.toUpperCase()}`, ca: true, keyType, notBefore: now - 86400_000, notAfter: now + 5 * 365 * 86400_000 });
}

export function makeChain(intermediate: Issuer, o: ChainOptions, leafKey?: KeyObject): Uint8Array[] {
  const cn = o.cn ?? `${randomBytes(6).toString('hex')}.demo.example`;
  if (o.kind === 'precert' && o.psc) {
    const psc = issue(intermediate, { cn: 'ctlog demo Precertificate Signing', ca: true, psc: true, notBefore: o.notBefore, notAfter: o.notAfter + 86400_000 });
    const leaf = issue(psc, { cn, notBefore: o.notBefore, notAfter: o.notAfter, precert: true, publicKey: leafKey });
    return [leaf.der, psc.der, intermediate.der];
  }
  const leaf = issue(intermediate, { cn, notBefore: o.notBefore, notAfter: o.notAfter, precert: o.kind === 'precert', publicKey: leafKey });
  return [leaf.der, intermediate.der];
}
