// `npm run bench -- core`: the pure core on one core. Chain checks per second with issuer
// keys cached (chains generated up front with @peculiar/x509; only validateChain is timed),
// the DER walk alone, and the Merkle proof figures from ./core-proofs.ts when present.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, webcrypto } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createSigner, generateLogKey, verifySct } from '../src/signing/index.js';
import { encodeCtExtensions } from '../src/tls/index.js';
import { PublicKeyCache, RootStore, parseCertificate, validateChain, type ChainPolicy } from '../src/x509/index.js';
import { createPrivateKey } from 'node:crypto';
import { printTable, type Row } from './table.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const PSC_EKU = '1.3.6.1.4.1.11129.2.4.4';
const LEAVES = 200;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1.5);

type Alg = 'p256' | 'rsa';
const GEN: Record<Alg, EcKeyGenParams | RsaHashedKeyGenParams> = {
  p256: { name: 'ECDSA', namedCurve: 'P-256' },
  rsa: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 },
};
const SIGN: Record<Alg, Algorithm> = {
  p256: { name: 'ECDSA', hash: 'SHA-256' } as Algorithm,
  rsa: { name: 'RSASSA-PKCS1-v1_5' },
};

interface Ca { cert: x509.X509Certificate; keys: CryptoKeyPair; alg: Alg }
let serial = 1;

async function make(name: string, alg: Alg, issuer: Ca | undefined, exts: x509.Extension[]): Promise<Ca> {
  const keys = (await webcrypto.subtle.generateKey(GEN[alg], true, ['sign', 'verify'])) as CryptoKeyPair;
  const common = {
    serialNumber: (serial++).toString(16).padStart(8, '0'),
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2026-04-01T00:00:00Z'),
    extensions: [...exts, await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)],
  };
  if (issuer) common.extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey));
  const cert = issuer
    ? await x509.X509CertificateGenerator.create({ ...common, subject: `CN=${name}`, issuer: issuer.cert.subject, publicKey: keys.publicKey, signingKey: issuer.keys.privateKey, signingAlgorithm: SIGN[issuer.alg] })
    : await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: `CN=${name}`, keys, signingAlgorithm: SIGN[alg] });
  return { cert, keys, alg };
}

const ca = (critical = true) => new x509.BasicConstraintsExtension(true, undefined, critical);
const der = (c: Ca) => new Uint8Array(c.cert.rawData);

// Leaves share one key pair per scenario (key generation is not what is measured); every
// leaf is a distinct certificate, so nothing about a leaf is cached between checks.
async function leaves(issuer: Ca, alg: Alg, precert: boolean): Promise<Uint8Array[]> {
  const keys = (await webcrypto.subtle.generateKey(GEN[alg], true, ['sign', 'verify'])) as CryptoKeyPair;
  const aki = await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey);
  const out: Uint8Array[] = [];
  for (let i = 0; i < LEAVES; i++) {
    const exts: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.1'], false),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: `host${i}.example.com` }]),
      aki,
    ];
    if (precert) exts.push(new x509.Extension('1.3.6.1.4.1.11129.2.4.3', true, new Uint8Array([5, 0])));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: (serial++).toString(16).padStart(16, '0'),
      subject: `CN=host${i}.example.com`,
      issuer: issuer.cert.subject,
      notBefore: new Date('2026-01-01T00:00:00Z'),
      notAfter: new Date('2026-04-01T00:00:00Z'),
      publicKey: keys.publicKey,
      signingKey: issuer.keys.privateKey,
      signingAlgorithm: SIGN[issuer.alg],
      extensions: exts,
    });
    out.push(new Uint8Array(cert.rawData));
  }
  return out;
}

const rootRsa = await make('Bench Root RSA', 'rsa', undefined, [ca()]);
const rootEc = await make('Bench Root EC', 'p256', undefined, [ca()]);
const intEc = await make('Bench Int EC', 'p256', rootEc, [ca()]);
const intRsa = await make('Bench Int RSA', 'rsa', rootRsa, [ca()]);
const psc = await make('Bench Int EC PSC', 'p256', intEc, [ca(), new x509.ExtendedKeyUsageExtension([PSC_EKU], true)]);

const roots = RootStore.fromCerts([der(rootRsa), der(rootEc)]);
const policy: ChainPolicy = {
  roots,
  notAfterStart: Date.parse('2026-01-01T00:00:00Z'),
  notAfterLimit: Date.parse('2026-07-01T00:00:00Z'),
  now: Date.parse('2026-02-01T00:00:00Z'),
  rejectExpired: true,
  requireServerAuthEku: true,
};

const scenarios: Array<{ figure: string; kind: 'x509' | 'precert'; chains: Uint8Array[][]; target?: number }> = [
  { figure: 'ECDSA leaf chains (leaf + P-256 intermediate)', kind: 'x509', chains: (await leaves(intEc, 'p256', false)).map((l) => [l, der(intEc)]), target: 5000 },
  { figure: 'RSA leaf chains (leaf + RSA-2048 intermediate)', kind: 'x509', chains: (await leaves(intRsa, 'rsa', false)).map((l) => [l, der(intRsa)]) },
  { figure: 'PSC precert chains (precert + P-256 PSC + intermediate)', kind: 'precert', chains: (await leaves(psc, 'p256', true)).map((l) => [l, der(psc), der(intEc)]) },
];

/** Runs fn over the inputs round-robin for SECONDS; returns operations per second. */
function rate<T>(inputs: T[], fn: (x: T) => unknown): number {
  for (let i = 0; i < Math.min(inputs.length, 50); i++) fn(inputs[i]!); // warm-up (JIT, key cache)
  let n = 0;
  const t0 = performance.now();
  const until = t0 + SECONDS * 1000;
  let now = t0;
  while (now < until) {
    for (let i = 0; i < 50; i++) fn(inputs[(n + i) % inputs.length]!);
    n += 50;
    now = performance.now();
  }
  return (n * 1000) / (now - t0);
}

const rows: Row[] = [];
for (const s of scenarios) {
  const keys = new PublicKeyCache();
  rows.push({ figure: `${s.figure} checks`, value: rate(s.chains, (c) => validateChain(s.kind, c, policy, keys)), unit: 'chains/s', ...(s.target ? { target: s.target, goal: 'min' as const } : {}) });
}
const leafDers = scenarios[0]!.chains.map((c) => c[0]!);
rows.push({ figure: 'parseCertificate (DER walk), ECDSA leaf', value: rate(leafDers, (d) => parseCertificate(d)), unit: 'certs/s', target: 100000, goal: 'min' });
rows.push({ figure: "node X509Certificate parse, same leaf (for scale)", value: rate(leafDers, (d) => new X509Certificate(d).serialNumber), unit: 'certs/s' });

// The CTFE verifies every SCT over its own submission before answering 200 (a queue that
// lost a job must never hand a client another entry's SCT): its cost beside a whole
// ECDSA chain check, the CTFE's main work per submission.
{
  const signer = createSigner(createPrivateKey(generateLogKey().privateKeyPem));
  const precerts = scenarios[2]!.chains.map((c) => validateChain('precert', c, policy, new PublicKeyCache()).entry);
  const scts = await Promise.all(precerts.map(async (entry, i) => ({ entry, sct: await signer.signSct(1_780_000_000_000 + i, entry, encodeCtExtensions({ leafIndex: i })) })));
  const verifyRate = rate(scts, (x) => verifySct(signer.publicKeySpki, x.sct, x.entry));
  const chainRate = rows[0]!.value;
  rows.push({ figure: 'SCT verify over its own precert entry (CTFE answer check)', value: verifyRate, unit: 'SCTs/s' });
  rows.push({ figure: '  its cost beside one ECDSA chain check (same run)', value: (100 * chainRate) / verifyRate, unit: '%' });
}

if (existsSync(join(import.meta.dirname, 'core-proofs.ts'))) {
  const { benchProofs } = (await import('./core-proofs.js')) as { benchProofs: () => Row[] | Promise<Row[]> };
  rows.push(...(await benchProofs()));
}

const ok = printTable('core: pure-core throughput on one core', rows);
if (!ok) process.exitCode = 1;
