// Published vectors and real-world chains through validateChain: the MerkleTreeLeaf built
// from its entry must equal what real CT logs signed (ct-cpp test log, Google Icarus,
// Sectigo Mammoth), including precertificates issued through a PSC.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeMerkleTreeLeaf, type SignedEntry } from '../../src/tls/index.js';
import { PublicKeyCache, RootStore, validateChain, precertTbs, parseCertificate, identityHash } from '../../src/x509/index.js';
import type { ChainPolicy } from '../../src/x509/index.js';
import { FIXTURES, fixture, ms, pemCerts } from './helpers.js';

const b64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const keys = new PublicKeyCache();

/** RFC 6962 §3.4 MerkleTreeLeaf encoded by hand, independent of src/tls. */
function leafByHand(timestamp: number, e: SignedEntry): Uint8Array {
  const u = (n: number, len: number) => {
    const b = Buffer.alloc(len);
    b.writeUIntBE(n, 0, len);
    return b;
  };
  const head = Buffer.concat([Buffer.from([0 /* v1 */, 0 /* timestamped_entry */]), Buffer.from(BigInt(timestamp).toString(16).padStart(16, '0'), 'hex')]);
  const body =
    e.type === 'x509'
      ? Buffer.concat([u(0, 2), u(e.certificate.length, 3), e.certificate])
      : Buffer.concat([u(1, 2), e.issuerKeyHash, u(e.tbsCertificate.length, 3), e.tbsCertificate]);
  return new Uint8Array(Buffer.concat([head, body, u(0, 2) /* no extensions */]));
}

const leafHash = (leaf: Uint8Array) => createHash('sha256').update(Buffer.from([0])).update(leaf).digest();

function policy(roots: RootStore, o: Partial<ChainPolicy> = {}): ChainPolicy {
  return { roots, notAfterStart: ms('2000-01-01T00:00:00Z'), notAfterLimit: ms('2100-01-01T00:00:00Z'), now: ms('2026-01-01T00:00:00Z'), ...o };
}

interface Vector {
  name: string;
  entry_type: 'x509_entry' | 'precert_entry';
  certificate?: string;
  chain: string[];
  precert_signing_certificate?: string | null;
  issuer_key_hash_b64?: string;
  tbs_certificate_b64?: string;
  sct_timestamp: number;
  merkle_tree_leaf_b64: string;
  leaf_hash_b64: string;
}

describe('ct-cpp sct-vectors.json through validateChain', () => {
  const vectors = (JSON.parse(readFileSync(join(FIXTURES, 'ctcpp-sct-vectors.json'), 'utf8')) as { vectors: Vector[] }).vectors;
  const roots = RootStore.fromCerts(pemCerts('ctcpp-ca-cert.pem'));
  const root = roots.certs[0]!;
  for (const v of vectors) {
    const files = v.entry_type === 'x509_entry' ? [v.certificate!, ...v.chain] : v.chain;
    const ders = files.map((f) => pemCerts(`ctcpp-${f}`)[0]!);
    for (const [label, submitted] of [['root included', ders], ['root omitted', ders.slice(0, -1)]] as const) {
      test(`${v.name}, ${label}`, () => {
        const kind = v.entry_type === 'x509_entry' ? 'x509' : 'precert';
        const s = validateChain(kind, [...submitted], policy(roots), keys);
        assert.equal(s.kind, kind);
        assert.deepEqual(s.chain.map((c) => Buffer.from(c.der)), ders.slice(1).map((d) => Buffer.from(d)));
        assert.deepEqual(s.chain.at(-1)!.fingerprint, root.fingerprint);
        if (s.entry.type === 'precert') {
          assert.equal(Buffer.from(s.entry.issuerKeyHash).toString('base64'), v.issuer_key_hash_b64);
          assert.equal(Buffer.from(s.entry.tbsCertificate).toString('base64'), v.tbs_certificate_b64);
        }
        const leaf = leafByHand(v.sct_timestamp, s.entry);
        assert.equal(Buffer.from(leaf).toString('base64'), v.merkle_tree_leaf_b64);
        assert.equal(leafHash(leaf).toString('base64'), v.leaf_hash_b64);
        // src/tls agrees with the hand encoding.
        assert.deepEqual(encodeMerkleTreeLeaf({ timestamp: v.sct_timestamp, entry: s.entry, extensions: new Uint8Array(0) }), leaf);
        assert.deepEqual(s.identity, identityHash(s.entry));
        assert.equal(s.notAfter, ms('2022-06-01T00:00:00Z'));
      });
    }
  }

  test('read path: precertTbs rebuilds the PSC leaf from the precert DER and its stored chain', () => {
    const v = vectors.find((x) => x.precert_signing_certificate === 'intermediate-pre-cert.pem')!;
    const [pre, psc, ca] = v.chain.map((f) => parseCertificate(pemCerts(`ctcpp-${f}`)[0]!));
    const r = precertTbs(pre!, psc!, ca!);
    assert.equal(Buffer.from(r.tbs).toString('base64'), v.tbs_certificate_b64);
    assert.equal(Buffer.from(r.issuerKeyHash).toString('base64'), v.issuer_key_hash_b64);
  });

  test('the logged TBS equals the final certificate TBS minus its SCT list (precert issued by the CA)', () => {
    // Independent path: the final certificate, parsed by node, embeds the SCT; its TBS minus
    // the SCT-list extension is what RFC 6962 §3.2 says the log signed.
    const v = vectors.find((x) => x.name.startsWith('test-embedded (precert issued by the CA)'))!;
    const s = validateChain('precert', v.chain.map((f) => pemCerts(`ctcpp-${f}`)[0]!), policy(roots), keys);
    assert.equal(s.entry.type, 'precert');
    const final = parseCertificate(pemCerts('ctcpp-test-embedded-cert.pem')[0]!);
    assert.ok(final.extensions.some((e) => e.oid === '1.3.6.1.4.1.11129.2.4.2'));
    // Same serial, validity, subject and key: only the poison/SCT extension differs.
    const pre = s.leaf;
    assert.deepEqual(final.serial, pre.serial);
    assert.deepEqual(final.spki, pre.spki);
    assert.equal(s.entry.type === 'precert' && s.entry.tbsCertificate.length, pre.tbs.length - (pre.extensions.find((e) => e.oid === '1.3.6.1.4.1.11129.2.4.3')!.tlv.length));
  });
});

describe('real-world chains', () => {
  const dst = pemCerts('real-dst-root-ca-x3.pem');
  const x3 = pemCerts('real-lets-encrypt-authority-x3.pem')[0]!;

  test("Let's Encrypt leaf with embedded SCTs (cryptography.io, 2018) under DST Root CA X3, root omitted", () => {
    const cert = pemCerts('real-pyca-cryptography-scts.pem')[0]!;
    const s = validateChain('x509', [cert, x3], policy(RootStore.fromCerts(dst), { now: ms('2018-10-01T00:00:00Z'), rejectExpired: true, requireServerAuthEku: true }), keys);
    assert.deepEqual(s.entry, { type: 'x509', certificate: cert });
    assert.equal(s.chain.length, 2);
    assert.deepEqual(s.chain[1]!.der, dst[0]);
  });

  test('the cryptography.io final cert rebuilds the precert TBS the Icarus and Mammoth SCTs signed', () => {
    // embedded-scts.json holds the TBS those logs signed (final TBS minus the SCT list) and the
    // issuer_key_hash of LE X3; our issuer_key_hash of LE X3 must equal it.
    const j = JSON.parse(readFileSync(join(FIXTURES, 'real-embedded-scts.json'), 'utf8')) as {
      issuer_key_hash_b64: string; precert_tbs_b64: string; scts: Array<{ timestamp: number; merkle_tree_leaf_b64: string; leaf_hash_b64: string }>;
    };
    const issuer = parseCertificate(x3);
    assert.equal(createHash('sha256').update(issuer.spki).digest('base64'), j.issuer_key_hash_b64);
    const entry: SignedEntry = { type: 'precert', issuerKeyHash: b64(j.issuer_key_hash_b64), tbsCertificate: b64(j.precert_tbs_b64) };
    for (const sct of j.scts) {
      const leaf = leafByHand(sct.timestamp, entry);
      assert.equal(Buffer.from(leaf).toString('base64'), sct.merkle_tree_leaf_b64);
      assert.equal(leafHash(leaf).toString('base64'), sct.leaf_hash_b64);
    }
  });

  test("Let's Encrypt precertificate (cryptography.io, 2018-07) via add-pre-chain", () => {
    const pre = pemCerts('real-pyca-cryptography.io.precert.pem')[0]!;
    const s = validateChain('precert', [pre, x3], policy(RootStore.fromCerts(dst)), keys);
    assert.equal(s.entry.type, 'precert');
    if (s.entry.type !== 'precert') return;
    assert.deepEqual(s.entry.issuerKeyHash, new Uint8Array(createHash('sha256').update(parseCertificate(x3).spki).digest()));
    const logged = parseLoggedTbs(s.entry.tbsCertificate, s.leaf.der);
    assert.ok(!logged.extensions.some((e) => e.oid === '1.3.6.1.4.1.11129.2.4.3'));
    assert.equal(logged.extensions.length, s.leaf.extensions.length - 1);
    assert.deepEqual(logged.issuer, s.leaf.issuer);
  });

  test('Icarus entry 120000000 leaf under LE X3', () => {
    const cert = pemCerts('real-icarus-entry-120000000-leaf.pem')[0]!;
    const s = validateChain('x509', [cert, x3, dst[0]!], policy(RootStore.fromCerts(dst)), keys);
    assert.equal(s.chain.length, 2);
  });

  test('Google Trust Services precertificate (GTS CA 1D2), intermediate configured as the accepted root', () => {
    const pre = pemCerts('real-ctgo-real-precert-gts.pem')[0]!;
    const issuer = pemCerts('real-ctgo-real-precert-gts-issuer.pem')[0]!;
    const roots = RootStore.fromCerts([issuer]);
    for (const chain of [[pre, issuer], [pre]]) {
      const s = validateChain('precert', chain, policy(roots), keys);
      assert.equal(s.chain.length, 1);
      assert.equal(s.entry.type, 'precert');
    }
    assert.throws(() => validateChain('x509', [pre, issuer], policy(roots), keys), { status: 400, reason: 'unexpected_poison' });
  });

  test('google.com 2017 certificate (sct.rs) parses; its chain is not in the fixtures', () => {
    const c = parseCertificate(fixture('real-sctrs-google-cert.der'));
    assert.ok(c.extensions.length > 0);
  });
});

describe('Trillian fake PKI', () => {
  const roots = RootStore.fromCerts([...pemCerts('trillian-fake-ca.cert'), ...pemCerts('trillian-fake-ca-1.cert')]);
  const p = policy(roots, { now: ms('2024-01-01T00:00:00Z') });
  const rows: Array<{ name: string; file: string; kind: 'x509' | 'precert'; chainLength: number; policy?: Partial<ChainPolicy> }> = [
    { name: 'leaf00 + int-ca (serverAuth EKU, EKU required)', file: 'trillian-leaf00.chain', kind: 'x509', chainLength: 2, policy: { requireServerAuthEku: true } },
    { name: 'leaf01 + int-ca', file: 'trillian-leaf01.chain', kind: 'x509', chainLength: 2 },
    { name: 'leaf02 + int-ca + root', file: 'trillian-leaf02.chain', kind: 'x509', chainLength: 2 },
    { name: 'leaf03 (unknown EKU, EKU not required)', file: 'trillian-leaf03.chain', kind: 'x509', chainLength: 2 },
    { name: 'leaf-1 under fake-ca-1', file: 'trillian-leaf-1.chain', kind: 'x509', chainLength: 1 },
    { name: 'subleaf: two intermediates and the root', file: 'trillian-subleaf.chain', kind: 'x509', chainLength: 3 },
    { name: 'leaf03 (serverAuth plus an unknown EKU, EKU required)', file: 'trillian-leaf03.chain', kind: 'x509', chainLength: 2, policy: { requireServerAuthEku: true } },
    // Its last certificate is a re-issued FakeCertificateAuthority (same name and key, not in
    // the store): accepted because an accepted root signed it, and fake-ca is appended.
    { name: 'subleaf-pre precertificate: chain ends at a certificate an accepted root signed', file: 'trillian-subleaf-pre.chain', kind: 'precert', chainLength: 4 },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const s = validateChain(r.kind, pemCerts(r.file), { ...p, ...r.policy }, keys);
      assert.equal(s.chain.length, r.chainLength);
      assert.ok(roots.has(s.chain.at(-1)!.fingerprint));
    });
  }

  test('subleaf.misordered.chain is refused', () => {
    assert.throws(() => validateChain('x509', pemCerts('trillian-subleaf.misordered.chain'), p, keys), { status: 400, reason: 'bad_signature', message: /^chain\[1\] did not sign chain\[0\]/ });
  });
});

describe('ct-cpp chain edge cases', () => {
  test('two accepted roots with the same name and key: either is accepted (issuer collision)', () => {
    const roots = RootStore.fromCerts(pemCerts('ctcpp-test-colliding-roots.pem'));
    assert.equal(roots.certs.length, 2);
    const s = validateChain('x509', pemCerts('ctcpp-test-issuer-collision-chain.pem'), policy(roots), keys);
    assert.ok(roots.has(s.chain.at(-1)!.fingerprint));
  });

  test('an accepted v1 root without basicConstraints (and MD2 self-signature) still anchors a chain (test-no-bc-cert-chain)', () => {
    const chain = pemCerts('ctcpp-test-no-bc-cert-chain.pem');
    const roots = RootStore.fromCerts(pemCerts('ctcpp-test-no-bc-ca-cert.pem'));
    const s = validateChain('x509', chain, policy(roots), keys);
    assert.equal(s.chain.length, 3);
    assert.equal(s.chain[2]!.isCA, false);
  });

  test('certificate "issued" by a leaf is refused (test-no-ca-cert-chain)', () => {
    const roots = RootStore.fromCerts(pemCerts('ctcpp-ca-cert.pem'));
    assert.throws(() => validateChain('x509', pemCerts('ctcpp-test-no-ca-cert-chain.pem'), policy(roots), keys), {
      status: 400,
      reason: 'not_ca',
      message: /^chain\[1\] \(L=Erw Wen, ST=Wales, O=Certificate Transparency, C=GB\) is not a CA certificate/,
    });
  });

  test('MD2-signed chain is refused with the algorithm named (test-md2-chain)', () => {
    const chain = pemCerts('ctcpp-test-md2-chain.pem');
    const roots = RootStore.fromCerts(pemCerts('ctcpp-test-no-bc-ca-cert.pem'));
    assert.throws(() => validateChain('x509', chain, policy(roots), keys), {
      status: 400,
      reason: 'unsupported_signature_algorithm',
      message: /md2WithRSAEncryption/,
    });
  });
});

/** Parses a bare TBSCertificate by wrapping it in a certificate with a dummy signature. */
function parseLoggedTbs(tbs: Uint8Array, original: Uint8Array) {
  const orig = parseCertificate(original);
  const alg = original.subarray(orig.tbs.byteOffset - original.byteOffset + orig.tbs.length);
  const body = Buffer.concat([tbs, alg]);
  const len = body.length;
  const der = Buffer.concat([Buffer.from([0x30, 0x82, Math.floor(len / 256), len % 256]), body]);
  return parseCertificate(new Uint8Array(der));
}
