import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CtError } from '../../src/util/errors.js';
import { PublicKeyCache, RootStore, parseCertificate, signatureScheme, verifySignedBy } from '../../src/x509/index.js';
import { issue, pemCerts, type Node } from './helpers.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from './helpers.js';

let root: Node, leafs: Record<string, Node>;

before(async () => {
  root = await issue('Keys Root', undefined, { ca: true, alg: 'p256' });
  leafs = {};
  for (const alg of ['p256', 'p384', 'rsa', 'rsa-pss', 'ed25519'] as const) {
    const ca = await issue(`CA ${alg}`, root, { ca: true, alg });
    leafs[alg] = await issue(`leaf ${alg}`, ca, {});
    leafs[`${alg}-ca`] = ca;
  }
});

describe('verifySignedBy', () => {
  for (const alg of ['p256', 'p384', 'rsa', 'rsa-pss', 'ed25519']) {
    test(`${alg} issuer: verifies, and refuses another issuer's key`, () => {
      const keys = new PublicKeyCache();
      const leaf = parseCertificate(leafs[alg]!.der);
      const ca = parseCertificate(leafs[`${alg}-ca`]!.der);
      assert.equal(verifySignedBy(leaf, ca, keys), true);
      assert.equal(verifySignedBy(ca, parseCertificate(root.der), keys), true);
      // Wrong issuer: names differ, so false without touching the key.
      assert.equal(verifySignedBy(leaf, parseCertificate(root.der), keys), false);
      // Same name, key of another type: false, not an exception.
      const other = parseCertificate(leafs[alg === 'rsa' ? 'p256-ca' : 'rsa-ca']!.der);
      assert.equal(verifySignedBy(leaf, { ...other, subject: ca.subject }, keys), false);
    });
  }

  test('signatureScheme names the algorithms it knows', () => {
    assert.equal(signatureScheme(parseCertificate(leafs['rsa-pss']!.der)).name, 'RSASSA-PSS/sha256');
    assert.equal(signatureScheme(parseCertificate(pemCerts('ctcpp-test-cert.pem')[0]!)).name, 'sha1WithRSAEncryption');
    assert.throws(() => signatureScheme(parseCertificate(pemCerts('ctcpp-test-md2-chain.pem')[1]!), 'chain[1]'), {
      reason: 'unsupported_signature_algorithm',
      message: 'chain[1] is signed with an unsupported algorithm 1.2.840.113549.1.1.2 (md2WithRSAEncryption)',
    });
  });
});

describe('PublicKeyCache', () => {
  test('returns the same KeyObject for the same SPKI, evicts the least recently used', () => {
    const keys = new PublicKeyCache(2);
    const [a, b, c] = ['p256', 'p384', 'rsa'].map((x) => parseCertificate(leafs[x]!.der).spki) as [Uint8Array, Uint8Array, Uint8Array];
    const ka = keys.get(a);
    assert.equal(keys.get(new Uint8Array(a)), ka); // equal bytes, another buffer
    keys.get(b);
    keys.get(a); // a is now the most recent
    keys.get(c); // evicts b
    assert.equal(keys.size, 2);
    assert.equal(keys.get(a), ka);
    assert.equal(keys.size, 2);
  });

  test('remembers verified CA-to-CA links by fingerprint, never failed ones', () => {
    const keys = new PublicKeyCache();
    const ca = parseCertificate(leafs['p256-ca']!.der);
    const r = parseCertificate(root.der);
    assert.equal(keys.hasLink(ca, r), false);
    assert.equal(verifySignedBy(ca, r, keys), true);
    assert.equal(keys.hasLink(ca, r), true);
    assert.equal(verifySignedBy(ca, r, keys), true);
    // A forged copy (other bytes, so another fingerprint) is verified afresh and fails.
    const forged = new Uint8Array(leafs['p256-ca']!.der);
    forged[forged.length - 3] = forged[forged.length - 3]! ^ 1;
    const f = parseCertificate(forged);
    assert.equal(verifySignedBy(f, r, keys), false);
    assert.equal(keys.hasLink(f, r), false);
    // Leaves are not memoised: each is seen once.
    const leaf = parseCertificate(leafs.p256!.der);
    assert.equal(verifySignedBy(leaf, ca, keys), true);
    assert.equal(keys.hasLink(leaf, ca), false);
  });

  test('keeps only keys that verified a signature: a flood of junk issuers cannot evict real ones', () => {
    const keys = new PublicKeyCache(2);
    const leaf = parseCertificate(leafs.p256!.der);
    const ca = parseCertificate(leafs['p256-ca']!.der);
    // Impostor issuers: the right name, keys that did not sign the leaf.
    for (const other of ['p384-ca', 'rsa-ca', 'ed25519-ca']) {
      assert.equal(verifySignedBy(leaf, { ...parseCertificate(leafs[other]!.der), subject: ca.subject }, keys), false);
    }
    assert.equal(keys.size, 0);
    assert.equal(verifySignedBy(leaf, ca, keys), true);
    assert.equal(keys.size, 1);
  });

  test('a malformed SPKI is a 400, not a crash', () => {
    assert.throws(() => new PublicKeyCache().get(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00)), (e: unknown) => {
      assert.ok(e instanceof CtError);
      assert.equal(e.status, 400);
      assert.equal(e.reason, 'bad_public_key');
      return true;
    });
  });

  test('rejects a non-positive size', () => {
    assert.throws(() => new PublicKeyCache(0), RangeError);
  });
});

describe('RootStore', () => {
  test('fromPem reads every block, skips text dumps and duplicates', () => {
    const text = readFileSync(join(FIXTURES, 'ctcpp-ca-cert.pem'), 'utf8');
    const s = RootStore.fromPem(text + text + readFileSync(join(FIXTURES, 'trillian-fake-ca.cert'), 'utf8'));
    assert.equal(s.certs.length, 2);
    assert.ok(s.has(s.certs[0]!.fingerprint));
    assert.equal(s.bySubject(s.certs[1]!.subject).length, 1);
    assert.equal(s.bySubject(Uint8Array.of(0x30, 0)).length, 0);
  });

  test('a bad bundle names the root', () => {
    assert.throws(() => RootStore.fromPem('nothing here'), /no "-----BEGIN CERTIFICATE-----" block/);
    assert.throws(() => RootStore.fromPem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'), /^CtError: root\[0\]: not a DER certificate|root\[0\]: not a DER certificate/);
  });
});
