// Test helpers: fixture loading and a small PKI generator on @peculiar/x509 (an
// implementation independent of the DER walk under test).
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);
export { x509 };

export const FIXTURES = join(import.meta.dirname, '../fixtures/certs');

/** Every CERTIFICATE block of a PEM fixture, as DER, in file order. */
export function pemCerts(file: string): Uint8Array[] {
  const text = readFileSync(join(FIXTURES, file), 'utf8');
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map(
    (m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')),
  );
}

export function fixture(file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(FIXTURES, file)));
}

export const ms = (iso: string): number => Date.parse(iso);

export type Alg = 'p256' | 'p384' | 'rsa' | 'rsa-pss' | 'ed25519';

const ALGS: Record<Alg, RsaHashedKeyGenParams | EcKeyGenParams | Algorithm> = {
  p256: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as EcKeyGenParams,
  p384: { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' } as EcKeyGenParams,
  rsa: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 },
  'rsa-pss': { name: 'RSA-PSS', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 },
  ed25519: { name: 'Ed25519' },
};

function signingAlg(alg: Alg): Algorithm {
  const a = ALGS[alg] as Algorithm & { hash?: string };
  if (alg === 'rsa-pss') return { name: 'RSA-PSS', hash: 'SHA-256', saltLength: 32 } as Algorithm;
  return a.hash ? ({ name: a.name, hash: a.hash } as Algorithm) : { name: a.name };
}

/** A generated certificate with its key pair. */
export interface Node {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  der: Uint8Array;
  alg: Alg;
  name: string;
}

const keyCache = new Map<string, CryptoKeyPair>();

/** Key pairs are cached by label so a suite generates each RSA key once. */
export async function keyPair(alg: Alg, label: string): Promise<CryptoKeyPair> {
  const k = `${alg}/${label}`;
  let kp = keyCache.get(k);
  if (!kp) {
    kp = (await webcrypto.subtle.generateKey(ALGS[alg] as EcKeyGenParams, true, ['sign', 'verify'])) as CryptoKeyPair;
    keyCache.set(k, kp);
  }
  return kp;
}

let serial = 1;

export interface IssueOptions {
  alg?: Alg;
  /** Key label (same label and alg = same key). Defaults to the name. */
  key?: string;
  ca?: boolean;
  /** Omit basicConstraints entirely. */
  noBasicConstraints?: boolean;
  eku?: string[];
  poison?: 'ok' | 'noncritical' | 'bad-value';
  notBefore?: string;
  notAfter?: string;
  /** Add subject/authority key identifiers (default true). */
  keyIds?: boolean;
  extra?: x509.Extension[];
  /** Serial number as hex (default: a fresh one). */
  serial?: string;
  /** Subject DN instead of CN=name. */
  subject?: string;
}

/** Issues a certificate named CN=`name` under `issuer`, or self-signed if issuer is undefined. */
export async function issue(name: string, issuer: Node | undefined, o: IssueOptions = {}): Promise<Node> {
  const alg = o.alg ?? 'p256';
  const keys = await keyPair(alg, o.key ?? name);
  const exts: x509.Extension[] = [];
  if (!o.noBasicConstraints) exts.push(new x509.BasicConstraintsExtension(o.ca ?? false, undefined, true));
  if (o.eku) exts.push(new x509.ExtendedKeyUsageExtension(o.eku, false));
  if (o.keyIds ?? true) {
    exts.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
    if (issuer) exts.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey));
  }
  if (o.poison === 'ok') exts.push(new x509.Extension('1.3.6.1.4.1.11129.2.4.3', true, new Uint8Array([5, 0])));
  if (o.poison === 'noncritical') exts.push(new x509.Extension('1.3.6.1.4.1.11129.2.4.3', false, new Uint8Array([5, 0])));
  if (o.poison === 'bad-value') exts.push(new x509.Extension('1.3.6.1.4.1.11129.2.4.3', true, new Uint8Array([4, 0])));
  exts.push(...(o.extra ?? []));
  const common = {
    serialNumber: o.serial ?? (serial++).toString(16).padStart(4, '0'),
    notBefore: new Date(o.notBefore ?? '2026-01-01T00:00:00Z'),
    notAfter: new Date(o.notAfter ?? '2026-03-01T00:00:00Z'),
    extensions: exts,
  };
  const cert = issuer
    ? await x509.X509CertificateGenerator.create({
        ...common,
        subject: o.subject ?? `CN=${name}`,
        issuer: issuer.cert.subject,
        publicKey: keys.publicKey,
        signingKey: issuer.keys.privateKey,
        signingAlgorithm: signingAlg(issuer.alg),
      })
    : await x509.X509CertificateGenerator.createSelfSigned({
        ...common,
        name: o.subject ?? `CN=${name}`,
        keys,
        signingAlgorithm: signingAlg(alg),
      });
  return { cert, keys, der: new Uint8Array(cert.rawData), alg, name };
}
