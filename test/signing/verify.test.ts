import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSct, encodeDigitallySigned, type SignedEntry } from '../../src/tls/index.js';
import { logIdFromSpki, verifyDigitallySigned, verifySct, verifySth } from '../../src/signing/index.js';

const fixtures = join(import.meta.dirname, '../fixtures');
const b64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const pemBody = (path: string, label: string) => {
  const m = new RegExp(`-----BEGIN ${label}-----([\\s\\S]+?)-----END ${label}-----`).exec(readFileSync(path, 'utf8'));
  assert.ok(m, `no ${label} in ${path}`);
  return b64(m[1]!.replace(/\s/g, ''));
};

interface Vector {
  name: string; entry_type: string; certificate?: string; issuer_key_hash_b64?: string; tbs_certificate_b64?: string;
  sct_file: string; log_public_key: string; sct_timestamp: number;
}
const doc = JSON.parse(readFileSync(join(fixtures, 'tls/ct-cpp/sct-vectors.json'), 'utf8')) as {
  test_log_id_b64: string; rsa_test_log_id_b64: string; vectors: Vector[];
};

describe('SCTs of the ct-cpp test logs (ECDSA and RSA) verify with the test log keys', () => {
  for (const v of doc.vectors) {
    const spki = pemBody(join(fixtures, 'signing', v.log_public_key.replace(/^rsa\//, '')), 'PUBLIC KEY');
    const sct = decodeSct(new Uint8Array(readFileSync(join(fixtures, 'signing', v.sct_file.replace(/^rsa\//, '')))));
    const entry: SignedEntry =
      v.entry_type === 'x509_entry'
        ? { type: 'x509', certificate: pemBody(join(fixtures, 'tls/ct-cpp', v.certificate!), 'CERTIFICATE') }
        : { type: 'precert', issuerKeyHash: b64(v.issuer_key_hash_b64!), tbsCertificate: b64(v.tbs_certificate_b64!) };
    test(`${v.name}: verifies`, () => {
      assert.equal(Buffer.from(logIdFromSpki(spki)).toString('base64'), v.sct_file.startsWith('rsa/') ? doc.rsa_test_log_id_b64 : doc.test_log_id_b64);
      assert.equal(verifySct(spki, sct, entry), true);
      assert.equal(verifySct(createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }), sct, entry), true);
    });
    test(`${v.name}: a changed timestamp fails`, () => assert.equal(verifySct(spki, { ...sct, timestamp: sct.timestamp + 1 }, entry), false));
    test(`${v.name}: added extensions fail`, () => assert.equal(verifySct(spki, { ...sct, extensions: new Uint8Array([0, 0, 0]) }, entry), false));
    test(`${v.name}: another log's key fails on the log ID`, () => {
      const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' });
      assert.equal(verifySct(new Uint8Array(other), sct, entry), false);
    });
  }
});

describe('real STHs verify with their logs\' keys', () => {
  interface Sth { tree_size: number; timestamp: number; sha256_root_hash: string; tree_head_signature: string }
  const icarus = JSON.parse(readFileSync(join(fixtures, 'signing/icarus-2017.json'), 'utf8')) as { log_public_key_der_b64: string; log_id_b64: string; get_sth_1: Sth; get_sth_2: Sth };
  const pilot = JSON.parse(readFileSync(join(fixtures, 'signing/pilot-2014-sth.json'), 'utf8')) as { log_public_key_der_b64: string; log_id_b64: string; get_sth: Sth };
  const cases: Array<[string, string, string, Sth]> = [
    ['Icarus 2017, tree 129596132', icarus.log_public_key_der_b64, icarus.log_id_b64, icarus.get_sth_1],
    ['Icarus 2017, tree 129721434', icarus.log_public_key_der_b64, icarus.log_id_b64, icarus.get_sth_2],
    ['Pilot 2014, tree 3721782', pilot.log_public_key_der_b64, pilot.log_id_b64, pilot.get_sth],
  ];
  for (const [name, key, logId, s] of cases) {
    const spki = b64(key);
    const sth = { timestamp: s.timestamp, treeSize: s.tree_size, rootHash: b64(s.sha256_root_hash) };
    const ds = b64(s.tree_head_signature);
    test(`${name}: verifies`, () => {
      assert.equal(Buffer.from(logIdFromSpki(spki)).toString('base64'), logId);
      assert.equal(verifySth(spki, sth, ds), true);
    });
    test(`${name}: a different tree size fails`, () => assert.equal(verifySth(spki, { ...sth, treeSize: sth.treeSize + 1 }, ds), false));
    test(`${name}: a different root fails`, () => {
      const rootHash = new Uint8Array(sth.rootHash);
      rootHash[31]! ^= 1;
      assert.equal(verifySth(spki, { ...sth, rootHash }, ds), false);
    });
  }
});

describe('verifyDigitallySigned: unsupported versus invalid', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
  const data = new Uint8Array([1, 2, 3]);
  const ds = (h: number, s: number, sig = new Uint8Array([0x30, 0])) => encodeDigitallySigned({ hashAlgorithm: h, signatureAlgorithm: s, signature: sig });
  test('garbage ECDSA signature is false, not an exception', () => assert.equal(verifyDigitallySigned(ec, data, ds(4, 3, new Uint8Array([1, 2, 3]))), false));
  test('empty ECDSA signature is false', () => assert.equal(verifyDigitallySigned(ec, data, ds(4, 3, new Uint8Array(0))), false));
  test('an RSA algorithm with an EC key is false', () => assert.equal(verifyDigitallySigned(ec, data, ds(4, 1)), false));
  test('sha384 throws', () => assert.throws(() => verifyDigitallySigned(ec, data, ds(5, 3)), /hash_algorithm: unsupported 5/));
  test('dsa throws', () => assert.throws(() => verifyDigitallySigned(ec, data, ds(4, 2)), /signature_algorithm: unsupported 2/));
  test('an Ed25519 key throws', () => {
    const ed = generateKeyPairSync('ed25519').publicKey;
    assert.throws(() => verifyDigitallySigned(ed, data, ds(4, 3)), /unsupported key type ed25519/);
  });
  test('a P-521 key throws', () => {
    const k = generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).publicKey;
    assert.throws(() => verifyDigitallySigned(k, data, ds(4, 3)), /unsupported curve secp521r1/);
  });
  test('a malformed DigitallySigned throws naming the field', () => assert.throws(() => verifyDigitallySigned(ec, data, new Uint8Array([4, 3, 0])), /DigitallySigned.signature/));
});
