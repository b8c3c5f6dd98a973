import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCtExtensions, encodeCtExtensions } from '../../src/tls/index.js';
import { fromHex, hex } from '../../src/util/bytes.js';

describe('CtExtensions (static-ct-api leaf_index)', () => {
  const roundTrips: Array<[string, number | undefined, string]> = [
    ['no leaf index: empty', undefined, ''],
    ['index 0', 0, '00000500' + '00000000'],
    ['index 778', 778, '0000050000' + '00030a'],
    ['index 2^32 + 1 (beyond 32 bits)', 2 ** 32 + 1, '000005' + '0100000001'],
    ['largest uint40', 2 ** 40 - 1, '000005' + 'ffffffffff'],
  ];
  for (const [name, leafIndex, want] of roundTrips) {
    test(name, () => {
      const b = encodeCtExtensions(leafIndex === undefined ? {} : { leafIndex });
      assert.equal(hex(b), want);
      assert.equal(decodeCtExtensions(b).leafIndex, leafIndex);
    });
  }

  test('an unknown extension type is skipped', () => {
    assert.deepEqual(decodeCtExtensions(fromHex('07000201ff' + '00000500000000ff')), { leafIndex: 255 });
  });

  const rejects: Array<[string, string, RegExp]> = [
    ['duplicate leaf_index', '0000050000000001' + '0000050000000002', /CtExtensions.extension_type: duplicate extension 0/],
    ['duplicate unknown type', '090000' + '090000', /duplicate extension 9/],
    ['leaf_index of 4 bytes', '00000400000001', /CtExtensions.leaf_index: length 4, want 5/],
    ['leaf_index of 6 bytes', '000006000000000001', /CtExtensions.leaf_index: length 6, want 5/],
    ['extension_data longer than the input', '000009000000', /CtExtensions.extension_data: length 9 exceeds the 3 bytes left/],
    ['truncated length', '0000', /CtExtensions.extension_data: need 2 bytes, 1 left/],
  ];
  for (const [name, input, want] of rejects) {
    test(`rejects ${name}`, () => assert.throws(() => decodeCtExtensions(fromHex(input)), want));
  }

  test('rejects a leaf index that is not a uint40', () => {
    assert.throws(() => encodeCtExtensions({ leafIndex: 2 ** 40 }), /CtExtensions.leaf_index: 1099511627776 is not a uint40/);
    assert.throws(() => encodeCtExtensions({ leafIndex: -1 }), /CtExtensions.leaf_index/);
  });
});
