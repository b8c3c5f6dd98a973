import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { encodeTimestampedEntry, sctSignatureInput, sthSignatureInput } from '../../src/tls/index.js';
import { hex } from '../../src/util/bytes.js';

// Independent encoding of the §3.5 input with DataView and BigInt, field by field.
function sthReference(timestamp: number, treeSize: number, root: Uint8Array): Uint8Array {
  const b = new Uint8Array(50);
  const v = new DataView(b.buffer);
  v.setUint8(0, 0);
  v.setUint8(1, 1);
  v.setBigUint64(2, BigInt(timestamp));
  v.setBigUint64(10, BigInt(treeSize));
  b.set(root, 18);
  return b;
}

describe('signature inputs', () => {
  const root = new Uint8Array(32).map((_, i) => i);
  const cases: Array<[string, number, number]> = [
    ['empty tree', 0, 0],
    ['Icarus-sized tree', 1508216080417, 129721434],
    ['tree beyond 2^32 leaves', 1508216080417, 2 ** 32 + 5],
    ['largest safe size', Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  ];
  for (const [name, ts, size] of cases) {
    test(`STH input: ${name}`, () => {
      assert.equal(hex(sthSignatureInput({ timestamp: ts, treeSize: size, rootHash: root })), hex(sthReference(ts, size, root)));
    });
  }

  test('SCT input is sct_version 0, signature_type 0, then the TimestampedEntry', () => {
    const entry = { type: 'precert' as const, issuerKeyHash: new Uint8Array(32).fill(9), tbsCertificate: new Uint8Array([0x30, 0]) };
    const ext = new Uint8Array([0, 0, 5, 0, 0, 0, 1, 0]);
    const got = sctSignatureInput(1365181456275, entry, ext);
    assert.equal(hex(got), '0000' + hex(encodeTimestampedEntry({ timestamp: 1365181456275, entry, extensions: ext })));
    assert.equal(hex(got.subarray(0, 14)), '0000' + '0000013ddb27df93' + '0001' + '0909');
  });
});
