import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeMerkleTreeLeaf,
  decodePrecertChainEntry,
  decodeTimestampedEntry,
  decodeTimestampedEntryPrefix,
  decodeX509ChainEntry,
  encodeMerkleTreeLeaf,
  encodePrecertChainEntry,
  encodeTimestampedEntry,
  encodeX509ChainEntry,
  type SignedEntry,
} from '../../src/tls/index.js';
import { hex } from '../../src/util/bytes.js';

const fixtures = join(import.meta.dirname, '../fixtures');
const fromB64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const leafHash = (leaf: Uint8Array) => createHash('sha256').update(new Uint8Array([0])).update(leaf).digest('base64');
function pemCert(path: string): Uint8Array {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(readFileSync(path, 'utf8'));
  assert.ok(m, `no certificate in ${path}`);
  return fromB64(m[1]!.replace(/\s/g, ''));
}

interface Vector {
  name: string;
  entry_type: 'x509_entry' | 'precert_entry';
  certificate?: string;
  issuer_key_hash_b64?: string;
  tbs_certificate_b64?: string;
  sct_timestamp: number;
  merkle_tree_leaf_b64: string;
  leaf_hash_b64: string;
}
const vectors = (JSON.parse(readFileSync(join(fixtures, 'tls/ct-cpp/sct-vectors.json'), 'utf8')) as { vectors: Vector[] }).vectors;

describe('MerkleTreeLeaf: ct-cpp test log vectors', () => {
  for (const v of vectors) {
    test(v.name, () => {
      const entry: SignedEntry =
        v.entry_type === 'x509_entry'
          ? { type: 'x509', certificate: pemCert(join(fixtures, 'tls/ct-cpp', v.certificate!)) }
          : { type: 'precert', issuerKeyHash: fromB64(v.issuer_key_hash_b64!), tbsCertificate: fromB64(v.tbs_certificate_b64!) };
      const te = { timestamp: v.sct_timestamp, entry, extensions: new Uint8Array(0) };
      const leaf = encodeMerkleTreeLeaf(te);
      assert.equal(Buffer.from(leaf).toString('base64'), v.merkle_tree_leaf_b64);
      assert.equal(leafHash(leaf), v.leaf_hash_b64);
      assert.deepEqual(decodeMerkleTreeLeaf(fromB64(v.merkle_tree_leaf_b64)), te);
      // A MerkleTreeLeaf is version || leaf_type || TimestampedEntry.
      assert.deepEqual(encodeTimestampedEntry(te), leaf.subarray(2));
      assert.deepEqual(decodeTimestampedEntry(leaf.subarray(2)), te);
    });
  }
});

describe('get-entries items from real logs decode and re-encode byte-exact', () => {
  interface Item { leaf_input: string; extra_data: string; derived: { leaf_hash_b64?: string; entry_leaf_hash_b64?: string; timestamp?: number; entry_timestamp?: number; entry_type: string } }
  const ctgo = (JSON.parse(readFileSync(join(fixtures, 'tls/get-entries-items-ctgo.json'), 'utf8')) as { entries: Item[] }).entries;
  const icarus = JSON.parse(readFileSync(join(fixtures, 'signing/icarus-2017.json'), 'utf8')) as {
    get_entry_and_proof: { response: { leaf_input: string; extra_data: string } };
    derived: { entry_leaf_hash_b64: string; entry_timestamp: number; entry_type: string };
  };
  const items: Array<[string, string, string, string, number, string]> = [
    ...ctgo.map((e, i): [string, string, string, string, number, string] => [
      `ct-go item ${i} (${e.derived.entry_type})`, e.leaf_input, e.extra_data, e.derived.leaf_hash_b64!, e.derived.timestamp!, e.derived.entry_type,
    ]),
    ['icarus entry 120000000', icarus.get_entry_and_proof.response.leaf_input, icarus.get_entry_and_proof.response.extra_data,
      icarus.derived.entry_leaf_hash_b64, icarus.derived.entry_timestamp, icarus.derived.entry_type],
  ];
  for (const [name, leafB64, extraB64, hashB64, timestamp, type] of items) {
    test(name, () => {
      const leafInput = fromB64(leafB64);
      const extra = fromB64(extraB64);
      const te = decodeMerkleTreeLeaf(leafInput);
      assert.equal(te.timestamp, timestamp);
      assert.equal(te.entry.type, type === 'x509_entry' ? 'x509' : 'precert');
      assert.deepEqual(encodeMerkleTreeLeaf(te), leafInput);
      assert.equal(leafHash(leafInput), hashB64);
      if (te.entry.type === 'x509') {
        const chain = decodeX509ChainEntry(extra);
        assert.ok(chain.length > 0);
        assert.deepEqual(encodeX509ChainEntry(chain), extra);
      } else {
        const { preCertificate, chain } = decodePrecertChainEntry(extra);
        // RFC 6962 §3.2: issuer_key_hash is the SHA-256 of the issuer's SPKI, the first chain cert here.
        const spki = new X509Certificate(chain[0]!).publicKey.export({ type: 'spki', format: 'der' });
        assert.equal(hex(createHash('sha256').update(spki).digest()), hex(te.entry.issuerKeyHash));
        assert.ok(preCertificate.byteLength > te.entry.tbsCertificate.byteLength);
        assert.deepEqual(encodePrecertChainEntry(preCertificate, chain), extra);
      }
    });
  }
});

describe('TimestampedEntry prefix decoding', () => {
  test('reports the bytes consumed and ignores what follows', () => {
    const te = { timestamp: 1, entry: { type: 'x509' as const, certificate: new Uint8Array([0x30, 0]) }, extensions: new Uint8Array([9]) };
    const b = encodeTimestampedEntry(te);
    const withTail = new Uint8Array([...b, 1, 2, 3]);
    const got = decodeTimestampedEntryPrefix(withTail);
    assert.equal(got.length, b.byteLength);
    assert.deepEqual(got.entry, te);
  });
  test('timestamps beyond 2^32 encode as big-endian uint64', () => {
    const ts = 2 ** 52 + 12345;
    const b = encodeTimestampedEntry({ timestamp: ts, entry: { type: 'x509', certificate: new Uint8Array([1]) }, extensions: new Uint8Array(0) });
    assert.equal(new DataView(b.buffer, b.byteOffset).getBigUint64(0), BigInt(ts));
    assert.equal(decodeTimestampedEntry(b).timestamp, ts);
  });
});
