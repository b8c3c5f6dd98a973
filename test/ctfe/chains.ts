// The chains the CTFE tests submit, each with what its leaf must commit to, known
// independently of src/x509: published vectors for the fixture chains (ct-cpp testdata),
// and for generated precertificates the TBS of a twin final certificate that
// @peculiar/x509 issues with the same fields and no poison.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../x509/helpers.js';
import { issue, pemCerts, sha256, unb64, tbsOf, type KnownEntry, type Node } from './harness.js';

export interface TestChain {
  name: string;
  endpoint: 'add-chain' | 'add-pre-chain';
  ders: Uint8Array[];
  entry: KnownEntry;
}

const one = (f: string): Uint8Array => pemCerts(f)[0]!;

interface CtcppVectors {
  vectors: Array<{ name: string; issuer_key_hash_b64?: string; tbs_certificate_b64?: string }>;
}

/** Roots the "wide" shard accepts among the fixtures. */
export function fixtureRoots(): Uint8Array[] {
  return [one('ctcpp-ca-cert.pem'), one('trillian-fake-ca.cert'), one('real-dst-root-ca-x3.pem')];
}

export function fixtureChains(): TestChain[] {
  const ctcpp = JSON.parse(readFileSync(join(FIXTURES, 'ctcpp-sct-vectors.json'), 'utf8')) as CtcppVectors;
  const pre = (vector: string): KnownEntry => {
    const v = ctcpp.vectors.find((x) => x.name.startsWith(vector))!;
    return { type: 'precert', issuerKeyHash: unb64(v.issuer_key_hash_b64!), tbs: unb64(v.tbs_certificate_b64!) };
  };
  const ca = one('ctcpp-ca-cert.pem');
  const trillian = pemCerts('trillian-leaf00.chain');
  return [
    { name: 'ct-cpp test-cert under the test CA', endpoint: 'add-chain', ders: [one('ctcpp-test-cert.pem'), ca], entry: { type: 'x509', cert: one('ctcpp-test-cert.pem') } },
    {
      name: 'ct-cpp cert under an intermediate, root omitted',
      endpoint: 'add-chain',
      ders: [one('ctcpp-test-intermediate-cert.pem'), one('ctcpp-intermediate-cert.pem')],
      entry: { type: 'x509', cert: one('ctcpp-test-intermediate-cert.pem') },
    },
    { name: 'trillian fake PKI leaf00 chain', endpoint: 'add-chain', ders: trillian, entry: { type: 'x509', cert: trillian[0]! } },
    { name: 'ct-cpp precert issued by the CA', endpoint: 'add-pre-chain', ders: [one('ctcpp-test-embedded-pre-cert.pem'), ca], entry: pre('test-embedded (precert issued by the CA)') },
    {
      name: 'ct-cpp precert issued by a Precertificate Signing Certificate',
      endpoint: 'add-pre-chain',
      ders: [one('ctcpp-test-embedded-with-preca-pre-cert.pem'), one('ctcpp-ca-pre-cert.pem'), ca],
      entry: pre('test-embedded-with-preca'),
    },
    {
      name: 'ct-cpp precert issued by a PSC under an intermediate',
      endpoint: 'add-pre-chain',
      ders: [one('ctcpp-test-embedded-with-intermediate-preca-pre-cert.pem'), one('ctcpp-intermediate-pre-cert.pem'), one('ctcpp-intermediate-cert.pem'), ca],
      entry: pre('test-embedded-with-intermediate-preca'),
    },
    {
      name: "Let's Encrypt certificate for cryptography.io with embedded SCTs (real world)",
      endpoint: 'add-chain',
      ders: [one('real-pyca-cryptography-scts.pem'), one('real-lets-encrypt-authority-x3.pem'), one('real-dst-root-ca-x3.pem')],
      entry: { type: 'x509', cert: one('real-pyca-cryptography-scts.pem') },
    },
  ];
}

export interface GeneratedPki {
  root: Node;
  intRsa: Node;
  chains: TestChain[];
  /** A leaf issued under a root no shard accepts. */
  stranger: Node;
  /** A leaf whose notAfter (2027-03-01) is outside the 2026h1 window. */
  late: Node;
  /** Issues a fresh ECDSA leaf under the RSA intermediate. */
  freshLeaf(i: number): Promise<TestChain>;
}

const spki = (n: Node): Uint8Array => new Uint8Array(n.cert.publicKey.rawData);

export async function generatedPki(): Promise<GeneratedPki> {
  const long = { ca: true, notAfter: '2030-01-01T00:00:00Z' } as const;
  const root = await issue('ctfe-root', undefined, { ...long, alg: 'p256' });
  const intRsa = await issue('ctfe-int-rsa', root, { ...long, alg: 'rsa' });
  // RSA like the CA it stands for: the logged TBS keeps the precertificate's own signature
  // field, so a twin signed by the CA has the same TBS only if the algorithms agree.
  const psc = await issue('ctfe-psc', intRsa, { ...long, alg: 'rsa', eku: ['1.3.6.1.4.1.11129.2.4.4'] });
  const leafEc = await issue('ctfe-leaf-ecdsa-issuer', root, { serial: '7001' });
  const leafRsa = await issue('ctfe-leaf-rsa-issuer', intRsa, { serial: '7002', eku: ['1.3.6.1.5.5.7.3.1'] });
  const pre = await issue('ctfe-pre', intRsa, { serial: '7003', poison: 'ok' });
  const preTwin = await issue('ctfe-pre', intRsa, { serial: '7003' });
  const prePsc = await issue('ctfe-pre-psc', psc, { serial: '7004', poison: 'ok' });
  // What the final certificate looks like: issued by the PSC's issuer (RFC 6962 §3.1).
  const prePscTwin = await issue('ctfe-pre-psc', intRsa, { serial: '7004' });
  const strangerRoot = await issue('ctfe-stranger-root', undefined, long);
  const stranger = await issue('ctfe-stranger-leaf', strangerRoot, { serial: '7005' });
  const late = await issue('ctfe-late-leaf', intRsa, { serial: '7006', notAfter: '2027-03-01T00:00:00Z' });
  const ikh = sha256(spki(intRsa));
  return {
    root,
    intRsa,
    stranger,
    late,
    chains: [
      { name: 'generated leaf, ECDSA root issuer', endpoint: 'add-chain', ders: [leafEc.der, root.der], entry: { type: 'x509', cert: leafEc.der } },
      { name: 'generated leaf, RSA intermediate issuer', endpoint: 'add-chain', ders: [leafRsa.der, intRsa.der, root.der], entry: { type: 'x509', cert: leafRsa.der } },
      { name: 'generated precert, RSA intermediate issuer', endpoint: 'add-pre-chain', ders: [pre.der, intRsa.der], entry: { type: 'precert', issuerKeyHash: ikh, tbs: tbsOf(preTwin.der) } },
      {
        name: 'generated precert through a Precertificate Signing Certificate',
        endpoint: 'add-pre-chain',
        ders: [prePsc.der, psc.der, intRsa.der, root.der],
        entry: { type: 'precert', issuerKeyHash: ikh, tbs: tbsOf(prePscTwin.der) },
      },
    ],
    async freshLeaf(i: number) {
      const leaf = await issue(`ctfe-fresh-${i}`, intRsa, { serial: (0x8000 + i).toString(16) });
      return { name: `fresh ${i}`, endpoint: 'add-chain', ders: [leaf.der, intRsa.der], entry: { type: 'x509', cert: leaf.der } };
    },
  };
}
