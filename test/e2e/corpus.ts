// What the end-to-end tests submit: real chains from test/fixtures/certs (old NotAfter, for
// the "old" shard) and generated certificates, precertificates and PSC-issued precertificates
// under an ECDSA hierarchy (the demo root, via src/cli/cert-factory) and an RSA hierarchy
// made here with @peculiar/x509 (an independent certificate encoder), for the "now" shard.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadIssuer, makeChain, makeIntermediate } from '../../src/cli/cert-factory.js';
import { REPO } from './processes.js';
import { expectedPrecert, type ExpectedEntry } from './wire.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export interface Submission {
  name: string;
  endpoint: 'add-chain' | 'add-pre-chain';
  shard: 'old' | 'now';
  chain: Uint8Array[];
  expected: ExpectedEntry;
  /** The leaf's DNS name when generated (certspotter's watchlist matches these). */
  dnsName?: string;
}

/** Domain under which every generated leaf is named. */
export const WATCH_DOMAIN = 'e2e-watch.example';

const FIX = join(REPO, 'test/fixtures/certs');

function pemCerts(file: string): Uint8Array[] {
  const text = readFileSync(join(FIX, file), 'utf8');
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
}

const x509Entry = (chain: Uint8Array[]): ExpectedEntry => ({ type: 'x509', certificate: chain[0]! });

/** Real chains from test/fixtures/certs (their README names the sources). */
export function realSubmissions(): Submission[] {
  const leX3 = pemCerts('real-lets-encrypt-authority-x3.pem')[0]!;
  const ctCa = pemCerts('ctcpp-ca-cert.pem')[0]!;
  const ctPreCa = pemCerts('ctcpp-ca-pre-cert.pem')[0]!;
  const subs: Array<Omit<Submission, 'expected'> & { psc?: boolean }> = [
    { name: 'real LE cert with embedded SCTs (cryptography.io)', endpoint: 'add-chain', shard: 'old', chain: [pemCerts('real-pyca-cryptography-scts.pem')[0]!, leX3] },
    { name: 'real LE cert (Icarus entry 120000000)', endpoint: 'add-chain', shard: 'old', chain: [pemCerts('real-icarus-entry-120000000-leaf.pem')[0]!, leX3] },
    { name: 'real LE precertificate (cryptography.io)', endpoint: 'add-pre-chain', shard: 'old', chain: [pemCerts('real-pyca-cryptography.io.precert.pem')[0]!, leX3] },
    { name: 'trillian leaf01 via intermediate', endpoint: 'add-chain', shard: 'old', chain: pemCerts('trillian-leaf01.chain') },
    { name: 'trillian leaf00 via intermediate (NotAfter 2029)', endpoint: 'add-chain', shard: 'now', chain: pemCerts('trillian-leaf00.chain') },
    { name: 'ct-cpp test cert', endpoint: 'add-chain', shard: 'old', chain: [pemCerts('ctcpp-test-cert.pem')[0]!, ctCa] },
    { name: 'ct-cpp precert issued by the CA', endpoint: 'add-pre-chain', shard: 'old', chain: [pemCerts('ctcpp-test-embedded-pre-cert.pem')[0]!, ctCa] },
    { name: 'ct-cpp precert issued by a PSC', endpoint: 'add-pre-chain', shard: 'old', chain: [pemCerts('ctcpp-test-embedded-with-preca-pre-cert.pem')[0]!, ctPreCa, ctCa], psc: true },
  ];
  return subs.map(({ psc, ...s }) => ({ ...s, expected: s.endpoint === 'add-chain' ? x509Entry(s.chain) : expectedPrecert(s.chain, Boolean(psc)) }));
}

/** PEM files of the roots the real chains need (copied into the test's roots directory). */
export const REAL_ROOT_FILES = ['real-dst-root-ca-x3.pem', 'trillian-fake-ca.cert', 'ctcpp-ca-cert.pem'].map((f) => join(FIX, f));

const ecdsaRoot = () => loadIssuer(readFileSync(join(REPO, 'demo/demo-root.pem'), 'utf8'), readFileSync(join(REPO, 'demo/demo-root-key.pem'), 'utf8'));

/** Generated ECDSA submissions under the demo root, NotAfter = notAfter. */
export function ecdsaSubmissions(counts: { x509: number; precert: number; psc: number }, now: number, notAfter: number): Submission[] {
  const inter = makeIntermediate(ecdsaRoot(), now);
  const out: Submission[] = [];
  const make = (kind: 'x509' | 'precert' | 'psc', i: number) => {
    const dnsName = `ec-${kind}-${i}-${randomBytes(4).toString('hex')}.${WATCH_DOMAIN}`;
    const chain = makeChain(inter, { kind: kind === 'x509' ? 'x509' : 'precert', psc: kind === 'psc', notBefore: now - 3600_000, notAfter, cn: dnsName });
    out.push({
      name: `ECDSA ${kind} ${i}`,
      endpoint: kind === 'x509' ? 'add-chain' : 'add-pre-chain',
      shard: 'now',
      chain,
      expected: kind === 'x509' ? x509Entry(chain) : expectedPrecert(chain, kind === 'psc'),
      dnsName,
    });
  };
  for (let i = 0; i < counts.x509; i++) make('x509', i);
  for (let i = 0; i < counts.precert; i++) make('precert', i);
  for (let i = 0; i < counts.psc; i++) make('psc', i);
  return out;
}

const RSA_ALG = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 } as const;
const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface RsaHierarchy {
  rootPem: string;
  submissions: Submission[];
}

/**
 * An RSA root and RSA intermediate made with @peculiar/x509, and leaves (P-256 keys) signed by
 * the RSA intermediate: certificates, precertificates, and precertificates through a PSC.
 */
export async function rsaSubmissions(counts: { x509: number; precert: number; psc: number }, now: number, notAfter: number): Promise<RsaHierarchy> {
  const subtle = webcrypto.subtle;
  const rootKeys = (await subtle.generateKey(RSA_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const interKeys = (await subtle.generateKey(RSA_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const leafKeys = (await subtle.generateKey(EC_ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const caExts = async (pub: CryptoKey) => [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(pub),
  ];
  const serial = () => '01' + randomBytes(15).toString('hex');
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=ctlog e2e RSA Root, O=ctlog e2e',
    notBefore: new Date(now - 86400_000),
    notAfter: new Date(now + 10 * 365 * 86400_000),
    keys: rootKeys,
    signingAlgorithm: RSA_ALG,
    extensions: await caExts(rootKeys.publicKey),
  });
  const inter = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=ctlog e2e RSA Intermediate, O=ctlog e2e',
    issuer: root.subject,
    notBefore: new Date(now - 86400_000),
    notAfter: new Date(now + 5 * 365 * 86400_000),
    publicKey: interKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: RSA_ALG,
    extensions: [...(await caExts(interKeys.publicKey)), await x509.AuthorityKeyIdentifierExtension.create(root)],
  });
  const psc = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=ctlog e2e RSA Precertificate Signing, O=ctlog e2e',
    issuer: inter.subject,
    notBefore: new Date(now - 86400_000),
    notAfter: new Date(notAfter + 86400_000),
    publicKey: leafKeys.publicKey,
    signingKey: interKeys.privateKey,
    signingAlgorithm: RSA_ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
      new x509.ExtendedKeyUsageExtension(['1.3.6.1.4.1.11129.2.4.4' /* Certificate Transparency precertificate signing */]),
      await x509.AuthorityKeyIdentifierExtension.create(inter),
    ],
  });
  const der = (c: x509.X509Certificate) => new Uint8Array(c.rawData);
  const leaf = async (kind: 'x509' | 'precert' | 'psc', i: number): Promise<Submission> => {
    const dnsName = `rsa-${kind}-${i}-${randomBytes(4).toString('hex')}.${WATCH_DOMAIN}`;
    const issuer = kind === 'psc' ? psc : inter;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${dnsName}`,
      issuer: issuer.subject,
      notBefore: new Date(now - 3600_000),
      notAfter: new Date(notAfter),
      publicKey: leafKeys.publicKey,
      signingKey: kind === 'psc' ? leafKeys.privateKey : interKeys.privateKey,
      signingAlgorithm: kind === 'psc' ? EC_ALG : RSA_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: dnsName }]),
        await x509.AuthorityKeyIdentifierExtension.create(issuer),
        ...(kind === 'x509' ? [] : [new x509.Extension('1.3.6.1.4.1.11129.2.4.3' /* CT poison */, true, new Uint8Array([0x05, 0x00]))]),
      ],
    });
    const chain = kind === 'psc' ? [der(cert), der(psc), der(inter)] : [der(cert), der(inter)];
    return {
      name: `RSA-issued ${kind} ${i}`,
      endpoint: kind === 'x509' ? 'add-chain' : 'add-pre-chain',
      shard: 'now',
      chain,
      expected: kind === 'x509' ? x509Entry(chain) : expectedPrecert(chain, kind === 'psc'),
      dnsName,
    };
  };
  const submissions: Submission[] = [];
  for (let i = 0; i < counts.x509; i++) submissions.push(await leaf('x509', i));
  for (let i = 0; i < counts.precert; i++) submissions.push(await leaf('precert', i));
  for (let i = 0; i < counts.psc; i++) submissions.push(await leaf('psc', i));
  return { rootPem: root.toString('pem'), submissions };
}

/** Writes the roots directory a test shards.yaml points at: demo root, RSA root, real roots. */
export function writeRoots(dir: string, rsaRootPem: string): void {
  writeFileSync(join(dir, 'demo-root.pem'), readFileSync(join(REPO, 'demo/demo-root.pem')));
  writeFileSync(join(dir, 'rsa-root.pem'), rsaRootPem);
  for (const f of REAL_ROOT_FILES) writeFileSync(join(dir, f.split('/').pop()!.replace(/\.cert$/, '.pem')), readFileSync(f));
}
