import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeDigitallySigned,
  decodeMerkleTreeLeaf,
  decodePrecertChainEntry,
  decodeSct,
  decodeTimestampedEntry,
  decodeX509ChainEntry,
  encodeMerkleTreeLeaf,
  encodePrecertChainEntry,
  encodeSct,
  encodeTileLeaf,
  encodeTimestampedEntry,
  encodeX509ChainEntry,
  sthSignatureInput,
  TlsError,
  type TimestampedEntry,
} from '../../src/tls/index.js';
import { fromHex } from '../../src/util/bytes.js';

// A minimal valid x509 MerkleTreeLeaf: v1, timestamped_entry, ts=1, x509_entry, cert=0x30, no extensions.
const LEAF = '0000' + '0000000000000001' + '0000' + '00000130' + '0000';
const PRECERT_TE = '0000000000000001' + '0001' + 'aa'.repeat(32) + '00000130' + '0000';
const SCT = '00' + '11'.repeat(32) + '0000000000000001' + '0000' + '0403' + '0002' + '3000';

describe('decoders reject malformed input, naming the field', () => {
  const cases: Array<[string, (b: Uint8Array) => unknown, string, string]> = [
    ['MerkleTreeLeaf: empty input', decodeMerkleTreeLeaf, '', 'MerkleTreeLeaf.version: need 1 bytes, 0 left'],
    ['MerkleTreeLeaf: version 1', decodeMerkleTreeLeaf, '01' + LEAF.slice(2), 'MerkleTreeLeaf.version: unsupported version 1'],
    ['MerkleTreeLeaf: leaf_type 1', decodeMerkleTreeLeaf, '0001' + LEAF.slice(4), 'MerkleTreeLeaf.leaf_type: unsupported leaf type 1'],
    ['MerkleTreeLeaf: 3 trailing bytes', decodeMerkleTreeLeaf, LEAF + '010203', 'MerkleTreeLeaf: 3 trailing bytes'],
    ['MerkleTreeLeaf: short timestamp', decodeMerkleTreeLeaf, '0000000000', 'TimestampedEntry.timestamp: need 8 bytes, 3 left'],
    ['MerkleTreeLeaf: missing extensions', decodeMerkleTreeLeaf, LEAF.slice(0, -4), 'TimestampedEntry.extensions: need 2 bytes, 0 left'],
    ['TimestampedEntry: unknown entry type', decodeTimestampedEntry, '0000000000000001' + '0002' + '00000130' + '0000', 'TimestampedEntry.entry_type: unknown entry type 2'],
    ['TimestampedEntry: certificate longer than input', decodeTimestampedEntry, '0000000000000001' + '0000' + '00ffff30' + '0000', 'TimestampedEntry.signed_entry.certificate: length 65535 exceeds the 3 bytes left'],
    ['TimestampedEntry: empty certificate', decodeTimestampedEntry, '0000000000000001' + '0000' + '000000' + '0000', 'TimestampedEntry.signed_entry.certificate: length 0 is below the minimum 1'],
    ['TimestampedEntry: short issuer_key_hash', decodeTimestampedEntry, '0000000000000001' + '0001' + 'aa'.repeat(20), 'TimestampedEntry.signed_entry.issuer_key_hash: need 32 bytes, 20 left'],
    ['TimestampedEntry: extensions longer than input', decodeTimestampedEntry, PRECERT_TE.slice(0, -4) + '0005aa', 'TimestampedEntry.extensions: length 5 exceeds the 1 bytes left'],
    ['TimestampedEntry: 1 trailing byte', decodeTimestampedEntry, PRECERT_TE + '00', 'TimestampedEntry: 1 trailing bytes'],
    ['TimestampedEntry: timestamp beyond 2^53-1', decodeTimestampedEntry, '0020000000000000' + PRECERT_TE.slice(16), 'TimestampedEntry.timestamp: value 9007199254740992 exceeds 2^53-1'],
    ['SCT: version 1', decodeSct, '01' + SCT.slice(2), 'SignedCertificateTimestamp.sct_version: unsupported version 1'],
    ['SCT: short log id', decodeSct, '00' + '11'.repeat(10), 'SignedCertificateTimestamp.id: need 32 bytes, 10 left'],
    ['SCT: missing signature', decodeSct, SCT.slice(0, -12), 'DigitallySigned.hash_algorithm: need 1 bytes, 0 left'],
    ['SCT: signature longer than input', decodeSct, SCT.slice(0, -8) + '0009' + '3000', 'DigitallySigned.signature: length 9 exceeds the 2 bytes left'],
    ['SCT: 2 trailing bytes', decodeSct, SCT + 'ffff', 'SignedCertificateTimestamp: 2 trailing bytes'],
    ['DigitallySigned: short', decodeDigitallySigned, '04', 'DigitallySigned.signature_algorithm: need 1 bytes, 0 left'],
    ['X509ChainEntry: chain longer than input', decodeX509ChainEntry, '000010' + '00000130', 'X509ChainEntry.certificate_chain: length 16 exceeds the 4 bytes left'],
    ['X509ChainEntry: cert overruns the chain', decodeX509ChainEntry, '000004' + '00000530', 'X509ChainEntry.certificate_chain[0]: length 5 exceeds the 1 bytes left'],
    ['X509ChainEntry: trailing bytes', decodeX509ChainEntry, '000000' + '00', 'X509ChainEntry: 1 trailing bytes'],
    ['PrecertChainEntry: empty pre_certificate', decodePrecertChainEntry, '000000' + '000000', 'PrecertChainEntry.pre_certificate: length 0 is below the minimum 1'],
    ['PrecertChainEntry: missing chain', decodePrecertChainEntry, '00000130', 'PrecertChainEntry.precertificate_chain: need 3 bytes, 0 left'],
  ];
  for (const [name, decode, input, message] of cases) {
    test(name, () => {
      assert.throws(() => decode(fromHex(input)), (e: unknown) => e instanceof TlsError && e.message === message);
    });
  }

  test('the valid inputs of this table decode', () => {
    decodeMerkleTreeLeaf(fromHex(LEAF));
    decodeTimestampedEntry(fromHex(PRECERT_TE));
    decodeSct(fromHex(SCT));
  });
});

describe('encoders reject values that do not fit, naming the field', () => {
  const te = (over: Partial<TimestampedEntry>): TimestampedEntry => ({
    timestamp: 1, entry: { type: 'x509', certificate: new Uint8Array([0x30]) }, extensions: new Uint8Array(0), ...over,
  });
  const cases: Array<[string, () => unknown, string]> = [
    ['extensions of 70000 bytes', () => encodeTimestampedEntry(te({ extensions: new Uint8Array(70000) })), 'TimestampedEntry.extensions: length 70000 exceeds 65535'],
    ['certificate of 2^24 bytes', () => encodeMerkleTreeLeaf(te({ entry: { type: 'x509', certificate: new Uint8Array(2 ** 24) } })), 'TimestampedEntry.signed_entry.certificate: length 16777216 exceeds 16777215'],
    ['empty certificate', () => encodeMerkleTreeLeaf(te({ entry: { type: 'x509', certificate: new Uint8Array(0) } })), 'TimestampedEntry.signed_entry.certificate: length 0 is below the minimum 1'],
    ['issuer_key_hash of 31 bytes', () => encodeMerkleTreeLeaf(te({ entry: { type: 'precert', issuerKeyHash: new Uint8Array(31), tbsCertificate: new Uint8Array(1) } })), 'TimestampedEntry.signed_entry.issuer_key_hash: length 31, want 32'],
    ['negative timestamp', () => encodeTimestampedEntry(te({ timestamp: -1 })), 'TimestampedEntry.timestamp: -1 is not a uint64'],
    ['fractional timestamp', () => encodeTimestampedEntry(te({ timestamp: 1.5 })), 'TimestampedEntry.timestamp: 1.5 is not a uint64'],
    ['unsafe timestamp', () => encodeTimestampedEntry(te({ timestamp: 2 ** 53 })), 'TimestampedEntry.timestamp: 9007199254740992 is not a uint64'],
    ['root hash of 33 bytes', () => sthSignatureInput({ timestamp: 1, treeSize: 1, rootHash: new Uint8Array(33) }), 'TreeHeadSignature.sha256_root_hash: length 33, want 32'],
    ['chain of more than 2^24-1 bytes', () => encodeX509ChainEntry([new Uint8Array(2 ** 23), new Uint8Array(2 ** 23)]), 'X509ChainEntry.certificate_chain: length 16777222 exceeds 16777215'],
    ['empty chain certificate', () => encodePrecertChainEntry(new Uint8Array(1), [new Uint8Array(0)]), 'PrecertChainEntry.precertificate_chain[0]: length 0 is below the minimum 1'],
    ['SCT with a malformed signature', () => encodeSct({ version: 0, logId: new Uint8Array(32), timestamp: 1, extensions: new Uint8Array(0), signature: new Uint8Array([4, 3, 0]) }), 'DigitallySigned.signature: need 2 bytes, 1 left'],
    ['TileLeaf precert without pre_certificate', () => encodeTileLeaf({ entry: te({ entry: { type: 'precert', issuerKeyHash: new Uint8Array(32), tbsCertificate: new Uint8Array(1) } }), chainFingerprints: [] }), 'TileLeaf.pre_certificate: missing for a precert entry'],
    ['TileLeaf x509 with pre_certificate', () => encodeTileLeaf({ entry: te({}), preCertificate: new Uint8Array(1), chainFingerprints: [] }), 'TileLeaf.pre_certificate: present for an x509 entry'],
    ['TileLeaf fingerprint of 20 bytes', () => encodeTileLeaf({ entry: te({}), chainFingerprints: [new Uint8Array(32), new Uint8Array(20)] }), 'TileLeaf.certificate_chain[1]: length 20, want 32'],
  ];
  for (const [name, encode, message] of cases) {
    test(name, () => {
      assert.throws(encode, (e: unknown) => e instanceof TlsError && e.message === message);
    });
  }
});
