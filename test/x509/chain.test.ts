// validateChain on chains generated with @peculiar/x509: one row per acceptance shape and
// one row per rejection reason, each asserting status 400, the reason label and the message.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CtError } from '../../src/util/errors.js';
import { PublicKeyCache, RootStore, validateChain, parseCertificate, formatName } from '../../src/x509/index.js';
import type { ChainPolicy } from '../../src/x509/index.js';
import { issue, ms, x509, type Node } from './helpers.js';

const PSC_EKU = '1.3.6.1.4.1.11129.2.4.4';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

const WINDOW = { notAfterStart: ms('2026-01-01T00:00:00Z'), notAfterLimit: ms('2026-07-01T00:00:00Z'), now: ms('2026-01-15T00:00:00Z') };

let pki: Record<string, Node>;
let store: RootStore;

before(async () => {
  const p: Record<string, Node> = {};
  p.rootRsa = await issue('Root RSA', undefined, { ca: true, alg: 'rsa' });
  p.rootEc = await issue('Root EC', undefined, { ca: true, alg: 'p384' });
  p.intEc = await issue('Int EC', p.rootRsa, { ca: true, alg: 'p256' });
  p.intRsa = await issue('Int RSA', p.rootEc, { ca: true, alg: 'rsa', key: 'int-rsa' });
  p.leafEc = await issue('leaf-ec.example', p.intEc, { eku: [SERVER_AUTH] });
  p.leafRsa = await issue('leaf-rsa.example', p.intRsa, { alg: 'rsa', key: 'leaf-rsa' });
  p.precert = await issue('pre.example', p.intEc, { poison: 'ok' });
  p.precertNonCritical = await issue('pre-nc.example', p.intEc, { poison: 'noncritical' });
  p.precertBadValue = await issue('pre-bad.example', p.intEc, { poison: 'bad-value' });
  p.psc = await issue('Int EC PSC', p.intEc, { ca: true, eku: [PSC_EKU] });
  p.precertViaPsc = await issue('pre-psc.example', p.psc, { poison: 'ok', serial: '7777' });
  p.pscNoAki = await issue('Int EC PSC without AKI', p.intEc, { ca: true, eku: [PSC_EKU], keyIds: false });
  p.precertViaPscNoAki = await issue('pre-psc-noaki.example', p.pscNoAki, { poison: 'ok' });
  p.precertViaPscNeitherAki = await issue('pre-psc-neither.example', p.pscNoAki, { poison: 'ok', keyIds: false });
  p.pscRsa = await issue('Int RSA PSC', p.intRsa, { ca: true, eku: [PSC_EKU], alg: 'rsa', key: 'psc-rsa' });
  p.precertViaPscRsa = await issue('pre-psc-rsa.example', p.pscRsa, { poison: 'ok' });
  p.intNotCa = await issue('Int not CA', p.rootEc, { ca: false });
  p.leafUnderNotCa = await issue('leaf-notca.example', p.intNotCa);
  p.intNoBc = await issue('Int no basicConstraints', p.rootEc, { noBasicConstraints: true });
  p.leafUnderNoBc = await issue('leaf-nobc.example', p.intNoBc);
  p.impostor = await issue('Int EC', p.rootRsa, { ca: true, key: 'impostor' });
  p.otherRoot = await issue('Other Root', undefined, { ca: true });
  p.intUnderOther = await issue('Int under Other', p.otherRoot, { ca: true });
  p.leafUnderOther = await issue('leaf-other.example', p.intUnderOther);
  p.selfSigned = await issue('self.example', undefined);
  p.rootEcTwin = await issue('Root EC', undefined, { ca: true, alg: 'p384', key: 'twin' });
  p.leafLate = await issue('late.example', p.intEc, { notAfter: '2027-03-01T00:00:00Z' });
  p.leafEarly = await issue('early.example', p.intEc, { notAfter: '2025-12-31T23:59:59Z' });
  p.leafAtLimit = await issue('limit.example', p.intEc, { notAfter: '2026-07-01T00:00:00Z' });
  p.leafExpired = await issue('expired.example', p.intEc, { notBefore: '2025-12-01T00:00:00Z', notAfter: '2026-01-10T00:00:00Z' });
  p.leafClientAuth = await issue('client.example', p.intEc, { eku: [CLIENT_AUTH] });
  p.leafAnyEku = await issue('any.example', p.intEc, { eku: ['2.5.29.37.0'] });
  p.intPss = await issue('Int PSS', p.rootEc, { ca: true, alg: 'rsa-pss', key: 'pss' });
  p.leafPss = await issue('pss.example', p.intPss);
  p.intEd = await issue('Int Ed25519', p.rootEc, { ca: true, alg: 'ed25519' });
  p.leafEd = await issue('ed.example', p.intEd);
  pki = p;
  store = RootStore.fromCerts([p.rootRsa.der, p.rootEc.der]);
});

const keys = new PublicKeyCache();
const d = (...names: string[]) => names.map((n) => pki[n]!.der);
const policy = (o: Partial<ChainPolicy> = {}): ChainPolicy => ({ roots: store, ...WINDOW, ...o });

describe('accepted chains', () => {
  const rows: Array<{ name: string; kind: 'x509' | 'precert'; chain: () => Uint8Array[]; issuers: string[]; policy?: () => Partial<ChainPolicy> }> = [
    { name: 'ECDSA leaf, P-256 intermediate signed by an RSA root, root omitted', kind: 'x509', chain: () => d('leafEc', 'intEc'), issuers: ['intEc', 'rootRsa'] },
    { name: 'ECDSA leaf with the root included', kind: 'x509', chain: () => d('leafEc', 'intEc', 'rootRsa'), issuers: ['intEc', 'rootRsa'] },
    { name: 'RSA leaf, RSA intermediate signed by a P-384 root', kind: 'x509', chain: () => d('leafRsa', 'intRsa'), issuers: ['intRsa', 'rootEc'] },
    { name: 'RSASSA-PSS intermediate', kind: 'x509', chain: () => d('leafPss', 'intPss'), issuers: ['intPss', 'rootEc'] },
    { name: 'Ed25519 intermediate', kind: 'x509', chain: () => d('leafEd', 'intEd'), issuers: ['intEd', 'rootEc'] },
    { name: 'intermediate alone (a CA certificate is a valid leaf)', kind: 'x509', chain: () => d('intEc'), issuers: ['rootRsa'] },
    { name: 'notAfter exactly at the window start', kind: 'x509', chain: () => d('leafExpired', 'intEc'), issuers: ['intEc', 'rootRsa'], policy: () => ({ notAfterStart: ms('2026-01-10T00:00:00Z') }) },
    { name: 'expired leaf accepted when rejectExpired is off', kind: 'x509', chain: () => d('leafExpired', 'intEc'), issuers: ['intEc', 'rootRsa'] },
    { name: 'serverAuth EKU required: leaf with serverAuth', kind: 'x509', chain: () => d('leafEc', 'intEc'), issuers: ['intEc', 'rootRsa'], policy: () => ({ requireServerAuthEku: true }) },
    { name: 'serverAuth EKU required: leaf with anyExtendedKeyUsage', kind: 'x509', chain: () => d('leafAnyEku', 'intEc'), issuers: ['intEc', 'rootRsa'], policy: () => ({ requireServerAuthEku: true }) },
    { name: 'serverAuth EKU required: leaf without EKU', kind: 'x509', chain: () => d('leafRsa', 'intRsa'), issuers: ['intRsa', 'rootEc'], policy: () => ({ requireServerAuthEku: true }) },
    { name: 'chain at exactly maxChainLength', kind: 'x509', chain: () => d('leafEc', 'intEc', 'rootRsa'), issuers: ['intEc', 'rootRsa'], policy: () => ({ maxChainLength: 3 }) },
    { name: 'certificates after the accepted root are dropped', kind: 'x509', chain: () => d('leafEc', 'intEc', 'rootRsa', 'rootEc'), issuers: ['intEc', 'rootRsa'] },
    { name: 'precertificate issued by the CA', kind: 'precert', chain: () => d('precert', 'intEc'), issuers: ['intEc', 'rootRsa'] },
    { name: 'precertificate issued by an ECDSA PSC', kind: 'precert', chain: () => d('precertViaPsc', 'psc', 'intEc'), issuers: ['psc', 'intEc', 'rootRsa'] },
    { name: 'precertificate issued by an RSA PSC under an RSA intermediate, root omitted', kind: 'precert', chain: () => d('precertViaPscRsa', 'pscRsa', 'intRsa'), issuers: ['pscRsa', 'intRsa', 'rootEc'] },
    { name: 'PSC without AKI, precert without AKI', kind: 'precert', chain: () => d('precertViaPscNeitherAki', 'pscNoAki', 'intEc'), issuers: ['pscNoAki', 'intEc', 'rootRsa'] },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const s = validateChain(r.kind, r.chain(), policy(r.policy?.()), keys);
      assert.deepEqual(s.chain.map((c) => formatName(c.subject)), r.issuers.map((n) => formatName(parseCertificate(pki[n]!.der).subject)));
      assert.deepEqual(s.chain.map((c) => Buffer.from(c.der).toString('hex')), r.issuers.map((n) => Buffer.from(pki[n]!.der).toString('hex')));
      assert.equal(s.identity.length, 32);
      if (r.kind === 'x509') assert.deepEqual(s.entry, { type: 'x509', certificate: r.chain()[0] });
    });
  }

  test('PSC precert: the logged TBS equals the TBS of the final certificate the CA would issue (built independently)', async () => {
    const pre = pki.precertViaPsc!;
    const s = validateChain('precert', d('precertViaPsc', 'psc', 'intEc'), policy(), keys);
    assert.equal(s.entry.type, 'precert');
    if (s.entry.type !== 'precert') return;
    // The final certificate: same serial, names, validity, key and extensions (poison dropped),
    // issued directly by Int EC, so its AKI is Int EC's key id — what the PSC's AKI carries.
    const exts = pre.cert.extensions.filter((e) => e.type !== '1.3.6.1.4.1.11129.2.4.3');
    const final = await x509.X509CertificateGenerator.create({
      serialNumber: pre.cert.serialNumber,
      subject: pre.cert.subject,
      issuer: pki.intEc!.cert.subject,
      notBefore: pre.cert.notBefore,
      notAfter: pre.cert.notAfter,
      publicKey: pre.keys.publicKey,
      signingKey: pki.intEc!.keys.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as Algorithm,
      extensions: exts.map((e) => (e.type === '2.5.29.35' ? pki.psc!.cert.getExtension('2.5.29.35')! : e)),
    });
    const finalTbs = parseCertificate(new Uint8Array(final.rawData)).tbs;
    assert.equal(Buffer.from(s.entry.tbsCertificate).toString('hex'), Buffer.from(finalTbs).toString('hex'));
    assert.deepEqual(s.entry.issuerKeyHash, new Uint8Array(createHash('sha256').update(parseCertificate(pki.intEc!.der).spki).digest()));
    // And the final certificate verifies under Int EC.
    assert.ok(await final.verify({ publicKey: pki.intEc!.cert.publicKey, signatureOnly: true }));
  });

  test('precert issued by the CA: issuer unchanged, poison dropped, issuer_key_hash of the CA', () => {
    const s = validateChain('precert', d('precert', 'intEc'), policy(), keys);
    if (s.entry.type !== 'precert') return assert.fail('not a precert entry');
    const pre = parseCertificate(pki.precert!.der);
    const poison = pre.extensions.find((e) => e.oid === '1.3.6.1.4.1.11129.2.4.3')!;
    assert.equal(s.entry.tbsCertificate.length, pre.tbs.length - poison.tlv.length);
    assert.deepEqual(s.entry.issuerKeyHash, new Uint8Array(createHash('sha256').update(parseCertificate(pki.intEc!.der).spki).digest()));
  });

  test('identity differs between the x509 and precert entries, and is stable', () => {
    const a = validateChain('x509', d('leafEc', 'intEc'), policy(), keys).identity;
    const b = validateChain('x509', d('leafEc', 'intEc', 'rootRsa'), policy(), keys).identity;
    const c = validateChain('precert', d('precert', 'intEc'), policy(), keys).identity;
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });
});

describe('rejected chains', () => {
  const rows: Array<{ name: string; kind?: 'x509' | 'precert'; chain: () => Uint8Array[]; policy?: () => Partial<ChainPolicy>; reason: string; message: string | RegExp }> = [
    { name: 'empty chain', chain: () => [], reason: 'empty_chain', message: 'empty chain: submit at least the leaf certificate' },
    { name: 'chain too long (default limit 10)', chain: () => Array(12).fill(pki.leafEc!.der), reason: 'chain_too_long', message: 'chain too long: 12 certificates, at most 10' },
    { name: 'chain longer than maxChainLength', chain: () => d('leafEc', 'intEc', 'rootRsa'), policy: () => ({ maxChainLength: 2 }), reason: 'chain_too_long', message: 'chain too long: 3 certificates, at most 2' },
    { name: 'garbage bytes in chain[1]', chain: () => [pki.leafEc!.der, new TextEncoder().encode('hello world')], reason: 'bad_certificate', message: /^chain\[1\]: not a DER certificate: / },
    { name: 'truncated leaf', chain: () => [pki.leafEc!.der.subarray(0, pki.leafEc!.der.length - 1)], reason: 'bad_certificate', message: /^chain\[0\]: not a DER certificate: truncated/ },
    { name: 'trailing bytes after the leaf', chain: () => [new Uint8Array([...pki.leafEc!.der, 0])], reason: 'bad_certificate', message: 'chain[0]: not a DER certificate: 1 trailing bytes after the certificate' },
    { name: 'same certificate twice (loop)', chain: () => d('leafEc', 'intEc', 'intEc'), reason: 'duplicate_certificate', message: 'chain[2] repeats chain[1]: a chain may not contain a certificate twice' },
    { name: 'add-chain with a precertificate', chain: () => d('precert', 'intEc'), reason: 'unexpected_poison', message: 'chain[0] is a precertificate (it carries the CT poison extension 1.3.6.1.4.1.11129.2.4.3); submit it to add-pre-chain' },
    { name: 'add-pre-chain with an ordinary certificate', kind: 'precert', chain: () => d('leafEc', 'intEc'), reason: 'missing_poison', message: 'chain[0] is not a precertificate (no CT poison extension 1.3.6.1.4.1.11129.2.4.3); submit it to add-chain' },
    { name: 'poison not critical', kind: 'precert', chain: () => d('precertNonCritical', 'intEc'), reason: 'bad_poison', message: 'chain[0]: the CT poison extension must be critical (RFC 6962 §3.1)' },
    { name: 'poison not ASN.1 NULL', kind: 'precert', chain: () => d('precertBadValue', 'intEc'), reason: 'bad_poison', message: 'chain[0]: the CT poison extension must contain ASN.1 NULL (05 00), got 0400 (RFC 6962 §3.1)' },
    { name: 'notAfter after the window', chain: () => d('leafLate', 'intEc'), reason: 'not_after_out_of_window', message: "notAfter 2027-03-01T00:00:00Z is outside this shard's window [2026-01-01T00:00:00Z, 2026-07-01T00:00:00Z)" },
    { name: 'notAfter before the window', chain: () => d('leafEarly', 'intEc'), reason: 'not_after_out_of_window', message: "notAfter 2025-12-31T23:59:59Z is outside this shard's window [2026-01-01T00:00:00Z, 2026-07-01T00:00:00Z)" },
    { name: 'notAfter exactly at the window limit (exclusive)', chain: () => d('leafAtLimit', 'intEc'), reason: 'not_after_out_of_window', message: "notAfter 2026-07-01T00:00:00Z is outside this shard's window [2026-01-01T00:00:00Z, 2026-07-01T00:00:00Z)" },
    { name: 'expired leaf with rejectExpired', chain: () => d('leafExpired', 'intEc'), policy: () => ({ rejectExpired: true }), reason: 'expired', message: 'chain[0] expired at 2026-01-10T00:00:00Z, before now (2026-01-15T00:00:00Z)' },
    { name: 'clientAuth-only leaf with requireServerAuthEku', chain: () => d('leafClientAuth', 'intEc'), policy: () => ({ requireServerAuthEku: true }), reason: 'missing_server_auth_eku', message: 'chain[0] has an extKeyUsage without serverAuth (1.3.6.1.5.5.7.3.1) or anyExtendedKeyUsage: 1.3.6.1.5.5.7.3.2' },
    { name: 'wrong issuer (names differ), ECDSA', chain: () => d('leafEc', 'intRsa'), reason: 'bad_signature', message: 'chain[1] did not sign chain[0]: chain[0] names its issuer CN=Int EC but chain[1] is CN=Int RSA' },
    { name: 'wrong issuer (names differ), RSA', chain: () => d('leafRsa', 'intEc'), reason: 'bad_signature', message: 'chain[1] did not sign chain[0]: chain[0] names its issuer CN=Int RSA but chain[1] is CN=Int EC' },
    { name: 'same issuer name, different key', chain: () => d('leafEc', 'impostor'), reason: 'bad_signature', message: "chain[1] did not sign chain[0]: the signature does not verify with chain[1]'s key (CN=Int EC)" },
    { name: 'tampered signature', chain: () => [tamper(pki.leafRsa!.der), pki.intRsa!.der], reason: 'bad_signature', message: "chain[1] did not sign chain[0]: the signature does not verify with chain[1]'s key (CN=Int RSA)" },
    { name: 'misordered chain', chain: () => d('leafEc', 'rootRsa', 'intEc'), reason: 'bad_signature', message: 'chain[1] did not sign chain[0]: chain[0] names its issuer CN=Int EC but chain[1] is CN=Root RSA' },
    { name: 'intermediate with cA FALSE', chain: () => d('leafUnderNotCa', 'intNotCa'), reason: 'not_ca', message: 'chain[1] (CN=Int not CA) is not a CA certificate (basicConstraints cA is not TRUE) but signed chain[0]' },
    { name: 'intermediate without basicConstraints', chain: () => d('leafUnderNoBc', 'intNoBc'), reason: 'not_ca', message: 'chain[1] (CN=Int no basicConstraints) is not a CA certificate (basicConstraints cA is not TRUE) but signed chain[0]' },
    { name: 'chain ends at an unknown root', chain: () => d('leafUnderOther', 'intUnderOther'), reason: 'unknown_root', message: 'chain ends at an unknown root (issuer CN=Other Root)' },
    { name: 'submitted root is not accepted', chain: () => d('leafUnderOther', 'intUnderOther', 'otherRoot'), reason: 'unknown_root', message: 'chain ends at a self-signed certificate that is not an accepted root: chain[2] (CN=Other Root)' },
    { name: 'self-signed leaf', chain: () => d('selfSigned'), reason: 'unknown_root', message: 'chain ends at a self-signed certificate that is not an accepted root: chain[0] (CN=self.example)' },
    { name: 'accepted root of the same name but another key', chain: () => d('leafRsa', 'intRsa'), policy: () => ({ roots: RootStore.fromCerts([pki.rootEcTwin!.der]) }), reason: 'unknown_root', message: 'chain ends at an unknown root (issuer CN=Root EC): no accepted root of that name signed chain[1]' },
    { name: 'an accepted root submitted as the leaf', chain: () => d('rootEc'), reason: 'root_as_leaf', message: 'chain[0] (CN=Root EC) is an accepted root; submit a certificate issued under it' },
    { name: 'precert AKI but the PSC has none', kind: 'precert', chain: () => d('precertViaPscNoAki', 'pscNoAki', 'intEc'), reason: 'psc_missing_aki', message: 'the precertificate has an authorityKeyIdentifier but its Precertificate Signing Certificate (CN=Int EC PSC without AKI) has none (RFC 6962 §3.2)' },
    { name: 'PSC configured as a root: no final issuer', kind: 'precert', chain: () => d('precertViaPsc', 'psc'), policy: () => ({ roots: RootStore.fromCerts([pki.psc!.der]) }), reason: 'psc_without_issuer', message: 'chain[1] is a Precertificate Signing Certificate and an accepted root; it must be certified by the CA that issues the final certificate' },
  ];
  for (const r of rows) {
    test(r.name, () => {
      let err: unknown;
      try {
        validateChain(r.kind ?? 'x509', r.chain(), policy(r.policy?.()), keys);
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof CtError, `expected a CtError, got ${String(err)}`);
      assert.equal(err.status, 400);
      assert.equal(err.reason, r.reason);
      if (typeof r.message === 'string') assert.equal(err.message, r.message);
      else assert.match(err.message, r.message);
    });
  }
});

/** Flips a bit in the last signature byte (RSA: the signature stays well-formed). */
function tamper(der: Uint8Array): Uint8Array {
  const out = new Uint8Array(der);
  out[out.length - 1] = out[out.length - 1]! ^ 1;
  return out;
}
