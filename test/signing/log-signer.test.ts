import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { p256, p384 } from '@noble/curves/nist.js';
import { decodeDigitallySigned, encodeCtExtensions, encodeDigitallySigned, sctSignatureInput, sthSignatureInput, type SignedEntry } from '../../src/tls/index.js';
import { createSigner, generateLogKey, logIdFromSpki, verifyDigitallySigned, verifySct, verifySth } from '../../src/signing/index.js';

const { privateKeyPem, publicKeySpki } = generateLogKey();
const signer = createSigner(createPrivateKey(privateKeyPem));
// P-256 SPKI is a fixed 26-byte header and the 65-byte uncompressed point.
const rawPoint = (spki: Uint8Array) => spki.subarray(spki.byteLength - 65);
const entries: Array<[string, SignedEntry]> = [
  ['x509 entry', { type: 'x509', certificate: new Uint8Array([0x30, 0x03, 1, 2, 3]) }],
  ['precert entry', { type: 'precert', issuerKeyHash: new Uint8Array(32).fill(7), tbsCertificate: new Uint8Array([0x30, 0]) }],
];

describe('createSigner', () => {
  test('log ID is SHA-256 of the SPKI, and the SPKI is the generated key', () => {
    assert.deepEqual(signer.publicKeySpki, publicKeySpki);
    assert.equal(Buffer.from(signer.logId).toString('hex'), createHash('sha256').update(publicKeySpki).digest('hex'));
    assert.deepEqual(logIdFromSpki(publicKeySpki), signer.logId);
  });

  for (const [name, entry] of entries) {
    test(`SCT over an ${name} verifies with @noble/curves and with verifySct`, async () => {
      const ext = encodeCtExtensions({ leafIndex: 2 ** 33 });
      const sct = await signer.signSct(1_750_000_000_000, entry, ext);
      assert.equal(sct.version, 0);
      assert.deepEqual(sct.logId, signer.logId);
      assert.deepEqual(sct.extensions, ext);
      const ds = decodeDigitallySigned(sct.signature);
      assert.equal(ds.hashAlgorithm, 4);
      assert.equal(ds.signatureAlgorithm, 3);
      const msg = sctSignatureInput(sct.timestamp, entry, ext);
      assert.equal(p256.verify(ds.signature, msg, rawPoint(publicKeySpki), { format: 'der', lowS: false }), true);
      assert.equal(verifySct(publicKeySpki, sct, entry), true);
      assert.equal(verifySct(publicKeySpki, { ...sct, extensions: encodeCtExtensions({ leafIndex: 1 }) }, entry), false);
    });
  }

  test('STH signature verifies with @noble/curves and with verifySth', async () => {
    const sth = { timestamp: 1_750_000_000_001, treeSize: 2 ** 32 + 1, rootHash: new Uint8Array(32).fill(3) };
    const ds = await signer.signSth(sth);
    const sig = decodeDigitallySigned(ds).signature;
    assert.equal(p256.verify(sig, sthSignatureInput(sth), rawPoint(publicKeySpki), { format: 'der', lowS: false }), true);
    assert.equal(verifySth(publicKeySpki, sth, ds), true);
    assert.equal(verifySth(publicKeySpki, { ...sth, timestamp: sth.timestamp + 1 }, ds), false);
  });

  const rejects: Array<[string, () => unknown, RegExp]> = [
    ['a P-384 key', () => createSigner(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey), /want ECDSA P-256, got ec \(secp384r1\)/],
    ['an RSA key', () => createSigner(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey), /want ECDSA P-256, got rsa/],
    ['an Ed25519 key', () => createSigner(generateKeyPairSync('ed25519').privateKey), /want ECDSA P-256, got ed25519/],
    ['a public key', () => createSigner(createPublicKey(privateKeyPem)), /want a private key, got a public key/],
  ];
  for (const [name, make, want] of rejects) test(`rejects ${name}`, () => assert.throws(make, want));
});

describe('verifyDigitallySigned accepts signatures made elsewhere', () => {
  const msg = new TextEncoder().encode('tree head made by another log');
  const ds = (signatureAlgorithm: number, signature: Uint8Array) => encodeDigitallySigned({ hashAlgorithm: 4, signatureAlgorithm, signature });

  test('ECDSA P-256 by @noble/curves (SPKI built by hand)', () => {
    const { secretKey } = p256.keygen();
    const spki = Buffer.concat([Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'), p256.getPublicKey(secretKey, false)]);
    const sig = p256.sign(msg, secretKey, { format: 'der' });
    assert.equal(verifyDigitallySigned(new Uint8Array(spki), msg, ds(3, sig)), true);
    assert.equal(verifyDigitallySigned(new Uint8Array(spki), msg.subarray(1), ds(3, sig)), false);
  });

  test('ECDSA P-384 over SHA-256 by @noble/curves', () => {
    const { secretKey } = p384.keygen();
    const spki = Buffer.concat([Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex'), p384.getPublicKey(secretKey, false)]);
    const digest = createHash('sha256').update(msg).digest();
    const sig = p384.sign(digest, secretKey, { format: 'der', prehash: false });
    assert.equal(verifyDigitallySigned(new Uint8Array(spki), msg, ds(3, sig)), true);
  });

  test('RSA PKCS#1 v1.5 SHA-256 by node', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const sig = sign('sha256', msg, privateKey);
    const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
    assert.equal(verifyDigitallySigned(spki, msg, ds(1, sig)), true);
    assert.equal(verifyDigitallySigned(spki, msg, ds(3, sig)), false);
    sig[10]! ^= 1;
    assert.equal(verifyDigitallySigned(spki, msg, ds(1, sig)), false);
  });
});

describe('generateLogKey', () => {
  test('yields a PKCS#8 P-256 PEM whose public half is the returned SPKI', () => {
    assert.match(privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    const key = createPrivateKey(privateKeyPem);
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.deepEqual(new Uint8Array(createPublicKey(key).export({ type: 'spki', format: 'der' })), publicKeySpki);
    assert.notDeepEqual(generateLogKey().publicKeySpki, publicKeySpki);
  });
});
